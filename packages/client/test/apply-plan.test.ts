import {
  type AddedRecord,
  EMPTY_RECORD,
  type InterfaceSnapshot,
  planApply,
  RTPROT_WG_DYNAMIC,
  recordAfter,
  recordIntent,
} from '@wg-dynamic/client';
import { IpAddress, IpPrefix } from '@wg-dynamic/ip';
import { describe, expect, it } from 'vitest';

const p = (text: string) => IpPrefix.from(text);
const ip = (text: string) => IpAddress.parse(text) as IpAddress;
const OURS = RTPROT_WG_DYNAMIC;
const KERNEL = 2;
const BOOT = 3;

function snapshot(addresses: string[], routes: Array<[string, number]> = []): InterfaceSnapshot {
  return {
    addresses: addresses.map(p),
    routes: routes.map(([destination, protocol]) => ({ destination: p(destination), protocol })),
  };
}

function record(addresses: string[], routes: string[] = []): AddedRecord {
  return { addresses: addresses.map(p), routes: routes.map(p) };
}

const steps = (plan: ReturnType<typeof planApply>) =>
  plan.steps.map((s) => `${s.kind} ${'prefix' in s ? s.prefix : s.destination}`);

describe('planApply', () => {
  it('adds a first lease: addresses, then routes', () => {
    const plan = planApply(
      snapshot(['fe80::1234/128']),
      EMPTY_RECORD,
      { addresses: [ip('10.0.0.2'), ip('fd00::2')], routes: [p('10.0.0.0/8')] },
      OURS,
    );
    expect(steps(plan)).toEqual([
      'add-address 10.0.0.2/32',
      'add-address fd00::2/128',
      'add-route 10.0.0.0/8',
    ]);
    expect(plan.foreign).toEqual([]);
    expect(recordIntent(plan)).toEqual(record(['10.0.0.2/32', 'fd00::2/128'], ['10.0.0.0/8']));
  });

  it('a new address of a family goes on before the old one comes off', () => {
    const plan = planApply(
      snapshot(['fe80::1234/128', '10.0.0.2/32', 'fd00::2/128'], [['10.0.0.0/8', OURS]]),
      record(['10.0.0.2/32', 'fd00::2/128'], ['10.0.0.0/8']),
      { addresses: [ip('10.0.0.3'), ip('fd00::2')], routes: [p('10.1.0.0/16')] },
      OURS,
    );
    expect(steps(plan)).toEqual([
      'add-address 10.0.0.3/32',
      'add-route 10.1.0.0/16',
      'delete-route 10.0.0.0/8',
      'delete-address 10.0.0.2/32',
    ]);
  });

  it('a renewal with the same lease changes nothing', () => {
    const plan = planApply(
      snapshot(
        ['10.0.0.2/32', 'fd00::2/128'],
        [
          ['10.0.0.0/8', OURS],
          ['fd00::2/128', KERNEL],
        ],
      ),
      record(['10.0.0.2/32', 'fd00::2/128'], ['10.0.0.0/8']),
      { addresses: [ip('10.0.0.2'), ip('fd00::2')], routes: [p('10.0.0.0/8')] },
      OURS,
    );
    expect(plan.steps).toEqual([]);
    expect(plan.record).toEqual(record(['10.0.0.2/32', 'fd00::2/128'], ['10.0.0.0/8']));
  });

  it('never removes an address or route it did not add, and never claims one that was there', () => {
    const plan = planApply(
      snapshot(
        ['10.0.0.2/24', '192.168.7.1/32'],
        [
          ['10.0.0.0/24', KERNEL],
          ['172.16.0.0/12', BOOT],
        ],
      ),
      EMPTY_RECORD,
      { addresses: [ip('10.0.0.2')], routes: [p('172.16.0.0/12')] },
      OURS,
    );
    expect(plan.steps).toEqual([]);
    expect(plan.foreign.map(String)).toEqual(['10.0.0.2/24', '172.16.0.0/12']);
    expect(recordIntent(plan)).toEqual(EMPTY_RECORD);
    // Releasing everything touches nothing of the operator's either.
    const release = planApply(
      snapshot(['10.0.0.2/24', '192.168.7.1/32'], [['172.16.0.0/12', BOOT]]),
      EMPTY_RECORD,
      { addresses: [], routes: [] },
      OURS,
    );
    expect(release.steps).toEqual([]);
  });

  it('removing everything removes exactly what it recorded', () => {
    const plan = planApply(
      snapshot(['fe80::1234/128', '10.0.0.2/32', '10.9.9.9/32'], [['10.0.0.0/8', OURS]]),
      record(['10.0.0.2/32', 'fd00::2/128'], ['10.0.0.0/8', 'fd00::/8']),
      { addresses: [], routes: [] },
      OURS,
    );
    // fd00::2 and fd00::/8 are gone already (a link that went down): only forgotten.
    expect(steps(plan)).toEqual(['delete-route 10.0.0.0/8', 'delete-address 10.0.0.2/32']);
    let after = plan.record;
    for (const step of plan.steps) after = recordAfter(after, step);
    expect(after).toEqual(EMPTY_RECORD);
  });

  it('puts back what the kernel removed when the link went down', () => {
    const plan = planApply(
      snapshot(['10.0.0.2/32']),
      record(['10.0.0.2/32', 'fd00::2/128'], ['10.0.0.0/8', 'fd00::/8']),
      { addresses: [ip('10.0.0.2'), ip('fd00::2')], routes: [p('10.0.0.0/8'), p('fd00::/8')] },
      OURS,
    );
    expect(steps(plan)).toEqual([
      'add-address fd00::2/128',
      'add-route 10.0.0.0/8',
      'add-route fd00::/8',
    ]);
  });

  it('a wanted route with its mark is its own even without a record (a lost state file)', () => {
    const plan = planApply(
      snapshot([], [['10.0.0.0/8', OURS]]),
      EMPTY_RECORD,
      { addresses: [], routes: [p('10.0.0.0/8')] },
      OURS,
    );
    expect(plan.steps).toEqual([]);
    expect(plan.record.routes.map(String)).toEqual(['10.0.0.0/8']);
  });

  it('a recorded route someone else replaced since is no longer removed', () => {
    const plan = planApply(
      snapshot([], [['10.0.0.0/8', BOOT]]),
      record([], ['10.0.0.0/8']),
      { addresses: [], routes: [] },
      OURS,
    );
    expect(plan.steps).toEqual([]);
    expect(plan.record).toEqual(EMPTY_RECORD);
  });

  it('the intent recorded before the first step covers every addition', () => {
    const plan = planApply(
      snapshot(['10.0.0.2/32'], [['10.0.0.0/8', OURS]]),
      record(['10.0.0.2/32'], ['10.0.0.0/8']),
      { addresses: [ip('10.0.0.3')], routes: [p('10.1.0.0/16')] },
      OURS,
    );
    // Additions join, removals stay until done.
    expect(recordIntent(plan)).toEqual(
      record(['10.0.0.2/32', '10.0.0.3/32'], ['10.0.0.0/8', '10.1.0.0/16']),
    );
  });

  it('drops duplicates in what it is asked for, and routes given with host bits become networks', () => {
    const plan = planApply(
      snapshot([]),
      EMPTY_RECORD,
      { addresses: [ip('10.0.0.2'), ip('10.0.0.2')], routes: [p('10.1.2.3/16'), p('10.1.0.0/16')] },
      OURS,
    );
    expect(steps(plan)).toEqual(['add-address 10.0.0.2/32', 'add-route 10.1.0.0/16']);
  });
});
