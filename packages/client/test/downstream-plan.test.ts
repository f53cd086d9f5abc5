import {
  type DownstreamAddress,
  downstreamIntent,
  downstreamRecordAfter,
  planDownstream,
} from '@wg-dynamic/client';
import { IpPrefix } from '@wg-dynamic/ip';
import { describe, expect, it } from 'vitest';

const p = (text: string) => IpPrefix.from(text);
const on = (interfaceName: string, prefix: string): DownstreamAddress => ({
  interfaceName,
  prefix: p(prefix),
});
const text = (entries: readonly DownstreamAddress[]) =>
  entries.map((e) => `${e.interfaceName} ${e.prefix.toString()}`);
const steps = (plan: ReturnType<typeof planDownstream>) =>
  plan.steps.map((s) => `${s.kind} ${s.entry.interfaceName} ${s.entry.prefix.toString()}`);

describe('planDownstream', () => {
  it('adds a wanted address that is missing, and records it once added', () => {
    const present = new Map([['lan0', [p('192.168.1.1/24')]]]);
    const plan = planDownstream(present, [], [on('lan0', '2001:db8:0:5::1/64')]);
    expect(steps(plan)).toEqual(['add-downstream lan0 2001:db8:0:5::1/64']);
    expect(plan.record).toEqual([]);
    expect(text(downstreamIntent(plan))).toEqual(['lan0 2001:db8:0:5::1/64']);
  });

  it('a change adds the new address before removing the old one it added', () => {
    const present = new Map([['lan0', [p('2001:db8:0:5::1/64')]]]);
    const plan = planDownstream(
      present,
      [on('lan0', '2001:db8:0:5::1/64')],
      [on('lan0', '2001:db8:0:6::1/64')],
    );
    expect(steps(plan)).toEqual([
      'add-downstream lan0 2001:db8:0:6::1/64',
      'delete-downstream lan0 2001:db8:0:5::1/64',
    ]);
  });

  it('keeps what it added and is still there; nothing to do', () => {
    const present = new Map([['lan0', [p('10.200.0.17/28')]]]);
    const plan = planDownstream(
      present,
      [on('lan0', '10.200.0.17/28')],
      [on('lan0', '10.200.0.17/28')],
    );
    expect(plan.steps).toEqual([]);
    expect(text(plan.record)).toEqual(['lan0 10.200.0.17/28']);
  });

  it("never removes an address it did not add, even the one it wants (an operator's)", () => {
    const present = new Map([['lan0', [p('2001:db8:0:5::1/64'), p('2001:db8:0:9::1/64')]]]);
    const plan = planDownstream(present, [], [on('lan0', '2001:db8:0:5::1/64')]);
    expect(plan.steps).toEqual([]);
    expect(text(plan.foreign)).toEqual(['lan0 2001:db8:0:5::1/64']);
    expect(plan.record).toEqual([]);
    // Losing the prefix: the operator's address stays.
    expect(planDownstream(present, [], []).steps).toEqual([]);
  });

  it('the same address with another length is not ours', () => {
    const present = new Map([['lan0', [p('10.200.0.17/24')]]]);
    const plan = planDownstream(
      present,
      [on('lan0', '10.200.0.17/28')],
      [on('lan0', '10.200.0.17/28')],
    );
    expect(plan.steps).toEqual([]);
    expect(text(plan.foreign)).toEqual(['lan0 10.200.0.17/24']);
    expect(plan.record).toEqual([]);
    // Nor is it removed when the prefix goes.
    expect(planDownstream(present, [on('lan0', '10.200.0.17/28')], []).steps).toEqual([]);
  });

  it('removes what it added on an interface no longer named (--prefix-interface changed)', () => {
    const present = new Map([
      ['lan0', [p('2001:db8:0:5::1/64')]],
      ['lan1', []],
    ]);
    const plan = planDownstream(
      present,
      [on('lan0', '2001:db8:0:5::1/64')],
      [on('lan1', '2001:db8:0:5::1/64')],
    );
    expect(steps(plan)).toEqual([
      'add-downstream lan1 2001:db8:0:5::1/64',
      'delete-downstream lan0 2001:db8:0:5::1/64',
    ]);
  });

  it('an interface that is gone: nothing to add there, and its recorded addresses are forgotten', () => {
    const plan = planDownstream(
      new Map(),
      [on('lan0', '10.200.0.17/28')],
      [on('lan0', '10.200.0.33/28')],
    );
    expect(plan.steps).toEqual([]);
    expect(text(plan.missing)).toEqual(['lan0 10.200.0.33/28']);
    expect(plan.record).toEqual([]);
  });

  it('a recorded address someone removed since is forgotten, not removed', () => {
    const plan = planDownstream(new Map([['lan0', []]]), [on('lan0', '10.200.0.17/28')], []);
    expect(plan.steps).toEqual([]);
    expect(plan.record).toEqual([]);
  });

  it('downstreamRecordAfter follows each step', () => {
    const a = on('lan0', '10.200.0.17/28');
    const b = on('lan0', '2001:db8:0:5::1/64');
    const added = downstreamRecordAfter([a], { kind: 'add-downstream', entry: b });
    expect(text(added)).toEqual(['lan0 10.200.0.17/28', 'lan0 2001:db8:0:5::1/64']);
    expect(text(downstreamRecordAfter(added, { kind: 'delete-downstream', entry: a }))).toEqual([
      'lan0 2001:db8:0:5::1/64',
    ]);
  });
});
