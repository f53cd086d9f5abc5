import { IpAddress, IpPrefix } from '@wg-dynamic/ip';
import { serializeRequest } from '@wg-dynamic/protocol';
import { describe, expect, it } from 'vitest';
import { MachineHarness, ofType } from './support/machine-harness.js';

const p = (text: string) => IpPrefix.from(text);
const ip = (text: string) => IpAddress.parse(text) as IpAddress;
const V6_64 = { 6: { kind: 'new', length: 64 } } as const;
const BOTH = { 4: { kind: 'new', length: 28 }, 6: { kind: 'new', length: 64 } } as const;
const bytes = (h: MachineHarness) => serializeRequest(h.request).toString('latin1');
const addresses = (h: MachineHarness, leaseTime = 3600) =>
  `ip=10.0.0.2/32\nip=fd00::2/128\nleasestart=${h.seconds}\nleasetime=${leaseTime}\n`;
const delegated = (h: MachineHarness, prefixes: string[], leaseTime = 3600) =>
  `${addresses(h, leaseTime)}ext=route,prefix\n${prefixes.map((x) => `prefix=${x}\n`).join('')}errno=0\n\n`;

function lastApply(h: MachineHarness) {
  const last = ofType(h.actions, 'apply').at(-1);
  if (!last) throw new Error('nothing was applied');
  return {
    prefixes: [last.desired.prefixes[4], last.desired.prefixes[6]].filter(Boolean).map(String),
    memory: last.memory,
  };
}
const messages = (actions: ReturnType<MachineHarness['handle']>) =>
  ofType(actions, 'log').map((l) => l.message);

describe('ClientMachine: asking for a prefix', () => {
  it('without --request-prefix, the request is what it was: no prefix extension, no prefix line', () => {
    const h = new MachineHarness();
    h.start();
    expect(bytes(h)).toBe(
      'request_ip=1\next=route\nip=0.0.0.0/32\nip=::/128\nleasestart=0\nleasetime=0\n\n',
    );
  });

  it('with it, the request lists the extension and asks for the length; the other family is released', () => {
    const h = new MachineHarness({ prefixes: V6_64 });
    h.start();
    expect(bytes(h)).toBe(
      'request_ip=1\next=route,prefix\nip=0.0.0.0/32\nip=::/128\nprefix=::/64\nleasestart=0\nleasetime=0\n\n',
    );
  });

  it('a prefix by name is asked for by name', () => {
    const h = new MachineHarness({
      prefixes: { 4: { kind: 'specific', prefix: p('10.200.0.32/28') }, 6: V6_64[6] },
    });
    h.start();
    expect(bytes(h)).toContain('prefix=10.200.0.32/28\nprefix=::/64\n');
  });

  it('a grant carries the prefixes into the apply and the memory, and renewals ask for them by name', () => {
    const h = new MachineHarness({ prefixes: BOTH });
    h.start();
    const actions = h.answer(delegated(h, ['10.200.0.16/28', '2001:db8:100:5::/64']));
    expect(h.machine.phase).toBe('bound');
    expect(h.machine.failures).toBe(0);
    expect(lastApply(h).prefixes).toEqual(['10.200.0.16/28', '2001:db8:100:5::/64']);
    expect(lastApply(h).memory.prefixes).toEqual({
      4: p('10.200.0.16/28'),
      6: p('2001:db8:100:5::/64'),
    });
    expect(String(lastApply(h).memory.lease?.prefixes[6])).toBe('2001:db8:100:5::/64');
    const granted = ofType(actions, 'log').find((l) => l.message === 'lease granted');
    expect(granted?.fields.prefixes).toEqual(['10.200.0.16/28', '2001:db8:100:5::/64']);
    h.untilSend();
    expect(bytes(h)).toBe(
      'request_ip=1\next=route,prefix\nip=10.0.0.2/32\nip=fd00::2/128\nprefix=10.200.0.16/28\nprefix=2001:db8:100:5::/64\nleasestart=0\nleasetime=0\n\n',
    );
    const renewal = h.answer(delegated(h, ['10.200.0.16/28', '2001:db8:100:5::/64']));
    expect(messages(renewal)).toContain('lease renewed');
  });

  it('a renewal that brings another prefix is a change of the lease', () => {
    const h = new MachineHarness({ prefixes: V6_64 });
    h.start();
    h.answer(delegated(h, ['2001:db8:100:5::/64']));
    h.untilSend();
    const actions = h.answer(delegated(h, ['2001:db8:100:6::/64']));
    expect(messages(actions)).toContain('lease granted');
    expect(lastApply(h).prefixes).toEqual(['2001:db8:100:6::/64']);
  });

  it('a server that does not delegate (a v1 server): said once at info, the addresses are kept, no back-off', () => {
    const h = new MachineHarness({ prefixes: V6_64 });
    h.start();
    const first = h.answer(`${addresses(h)}errno=0\n\n`);
    const told = ofType(first, 'log').filter((l) => /does not delegate/.test(l.message));
    expect(told).toHaveLength(1);
    expect(told[0]?.level).toBe('info');
    expect(told[0]?.fields).toEqual({ asked: ['::/64'] });
    expect(h.machine.phase).toBe('bound');
    expect(h.machine.failures).toBe(0);
    expect(h.machine.lease?.addresses[6]?.toString()).toBe('fd00::2');
    expect(lastApply(h).prefixes).toEqual([]);
    expect(h.dueIn('request')).toBeGreaterThan(3_000_000);
    h.untilSend();
    const second = h.answer(`${addresses(h)}errno=0\n\n`);
    expect(messages(second).some((m) => /does not delegate/.test(m))).toBe(false);
  });

  it('a delegating server that has no prefix to give: the addresses apply, the prefix is asked for again with back-off', () => {
    const h = new MachineHarness({ prefixes: V6_64 });
    h.start();
    const actions = h.answer(
      `${addresses(h)}ext=prefix\nerrno=3\nerrmsg=Chosen IP(s) unavailable\n\n`,
    );
    expect(h.machine.lease?.addresses[4]?.toString()).toBe('10.0.0.2');
    const backoff = ofType(actions, 'log').find((l) => l.message === 'backing off');
    expect(backoff?.fields.reason).toBe('the IPv6 prefix not granted (Chosen IP(s) unavailable)');
    expect(h.dueIn('request')).toBeLessThanOrEqual(1_000);
    h.untilSend();
    expect(bytes(h)).toContain('prefix=::/64\n');
  });

  it('a prefix held and then not granted is lost, and asked for anew', () => {
    const h = new MachineHarness({ prefixes: V6_64 });
    h.start();
    h.answer(delegated(h, ['2001:db8:100:5::/64']));
    h.untilSend();
    expect(bytes(h)).toContain('prefix=2001:db8:100:5::/64\n');
    h.answer(`${addresses(h)}ext=prefix\nerrno=3\nerrmsg=Chosen IP(s) unavailable\n\n`);
    expect(lastApply(h).prefixes).toEqual([]);
    h.untilSend();
    expect(bytes(h)).toContain('prefix=::/64\n');
  });

  it.each([
    ['shorter than asked', '2001:db8:100::/56'],
    ['link-local', 'fe80::/64'],
    ['multicast', 'ff0e::/64'],
    ['holding the tunnel address', 'fd00::/64'],
  ])('a prefix %s is refused like an unsafe address: nothing changes, back-off', (_, prefix) => {
    const h = new MachineHarness({ prefixes: V6_64 });
    h.start();
    h.answer(delegated(h, ['2001:db8:100:5::/64'], 600));
    h.untilSend();
    const before = ofType(h.actions, 'apply').length;
    const actions = h.answer(delegated(h, [prefix], 600), 0);
    expect(ofType(actions, 'apply')).toEqual([]);
    expect(ofType(h.actions, 'apply')).toHaveLength(before);
    expect(String(h.machine.lease?.prefixes[6])).toBe('2001:db8:100:5::/64');
    expect(h.machine.phase).toBe('renewing');
    expect(ofType(actions, 'log').find((l) => l.level === 'warn')?.message).toBe(
      "refused the server's answer; nothing was changed",
    );
    expect(h.dueIn('request')).toBeLessThanOrEqual(1_000);
  });

  it('a prefix of a family not asked for is refused', () => {
    const h = new MachineHarness({ prefixes: V6_64 });
    h.start();
    const actions = h.answer(delegated(h, ['10.200.0.16/28']));
    expect(ofType(actions, 'apply')).toEqual([]);
    expect(h.machine.lease).toBeUndefined();
  });

  it('the end of the lease takes the prefixes with it; stopping removes them but remembers them', () => {
    const h = new MachineHarness({ prefixes: V6_64 });
    h.start();
    h.answer(delegated(h, ['2001:db8:100:5::/64']));
    h.handle({ type: 'stop', reason: 'received SIGTERM' });
    expect(lastApply(h).prefixes).toEqual([]);
    expect(String(lastApply(h).memory.lease?.prefixes[6])).toBe('2001:db8:100:5::/64');

    const g = new MachineHarness({ prefixes: V6_64 });
    g.start();
    g.answer(delegated(g, ['2001:db8:100:5::/64'], 60));
    g.handle({ type: 'link-down' });
    g.advance(120_000);
    expect(lastApply(g).prefixes).toEqual([]);
    expect(g.machine.lease).toBeUndefined();
  });
});

describe('ClientMachine: prefixes across restarts', () => {
  const memory = (h: MachineHarness, prefix: string, leftMs = 3_000_000) => ({
    lease: {
      addresses: { 4: ip('10.0.0.2'), 6: ip('fd00::2') },
      routes: [],
      prefixes: { 6: p(prefix) },
      leaseStart: h.seconds - 100,
      leaseTime: 3600,
      expiresAtWall: h.now.wall + leftMs,
    },
    addresses: { 4: ip('10.0.0.2'), 6: ip('fd00::2') },
    prefixes: { 6: p(prefix) },
  });

  it('a running lease is resumed with its prefix, which is asked for by name', () => {
    const h = new MachineHarness({ prefixes: V6_64 });
    h.start({ memory: memory(h, '2001:db8:100:5::/64') });
    expect(lastApply(h).prefixes).toEqual(['2001:db8:100:5::/64']);
    expect(bytes(h)).toContain('prefix=2001:db8:100:5::/64\n');
  });

  it("a prefix of another length than today's --request-prefix is not asked for again", () => {
    const h = new MachineHarness({ prefixes: { 6: { kind: 'new', length: 56 } } });
    h.start({ memory: memory(h, '2001:db8:100:5::/64') });
    expect(lastApply(h).prefixes).toEqual([]);
    expect(bytes(h)).toContain('prefix=::/56\n');
  });

  it('released: a client no longer asking for a prefix an earlier run held lists the extension without a prefix line', () => {
    const h = new MachineHarness();
    h.start({ memory: memory(h, '2001:db8:100:5::/64') });
    expect(lastApply(h).prefixes).toEqual([]);
    expect(bytes(h)).toBe(
      'request_ip=1\next=route,prefix\nip=10.0.0.2/32\nip=fd00::2/128\nleasestart=0\nleasetime=0\n\n',
    );
    // A server that delegates confirms the release with an answer without prefix: nothing is missing.
    const actions = h.answer(`${addresses(h)}ext=route,prefix\nerrno=0\n\n`);
    expect(h.machine.failures).toBe(0);
    expect(messages(actions).some((m) => /does not delegate/.test(m))).toBe(false);
  });
});
