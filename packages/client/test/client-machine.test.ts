import { IpAddress, IpPrefix } from '@wg-dynamic/ip';
import { describe, expect, it } from 'vitest';
import { asked, MachineHarness, ofType } from './support/machine-harness.js';

const ip = (text: string) => IpAddress.parse(text) as IpAddress;
const both = (h: MachineHarness, leaseTime = 3600, extra = '') =>
  `ip=10.0.0.2/32\nip=fd00::2/128\nleasestart=${h.seconds}\nleasetime=${leaseTime}\n${extra}errno=0\n\n`;

function lastApply(h: MachineHarness) {
  const applies = ofType(h.actions, 'apply');
  const last = applies.at(-1);
  if (!last) throw new Error('nothing was applied');
  return {
    addresses: last.desired.addresses.map(String),
    routes: last.desired.routes.map(String),
    memory: last.memory,
  };
}

describe('ClientMachine: starting and binding', () => {
  it('first asks for a new address of each family, advertising the route extension', () => {
    const h = new MachineHarness();
    const actions = h.start();
    expect(h.machine.phase).toBe('starting');
    expect(asked(h.request)).toEqual({ 4: 'new', 6: 'new' });
    expect(h.request.extensions).toEqual(['route']);
    // Nothing to resume: the first apply asks for nothing (it clears leftovers of a killed run).
    expect(ofType(actions, 'apply')[0]?.desired).toEqual({
      addresses: [],
      routes: [],
      prefixes: {},
    });
  });

  it('asks only for the families it uses', () => {
    const h = new MachineHarness({ families: { 4: false, 6: true } });
    h.start();
    expect(asked(h.request)).toEqual({ 4: 'release', 6: 'new' });
  });

  it('a grant applies the addresses and routes, and arms renewal before expiry', () => {
    const h = new MachineHarness();
    h.start();
    const actions = h.answer(both(h, 3600, 'ext=route\nroute=10.0.0.0/8\n'));
    expect(h.machine.phase).toBe('bound');
    expect(lastApply(h)).toMatchObject({
      addresses: ['10.0.0.2', 'fd00::2'],
      routes: ['10.0.0.0/8'],
    });
    expect(ofType(actions, 'log').map((l) => l.message)).toContain('lease granted');
    const expire = h.dueIn('expire') ?? 0;
    const renew = h.dueIn('request') ?? 0;
    expect(expire).toBeGreaterThan(3_599_000);
    expect(expire - renew).toBeGreaterThanOrEqual(300_000);
    expect(expire - renew).toBeLessThan(330_000);
  });

  it('renews with the addresses it holds, and a renewal keeps them', () => {
    const h = new MachineHarness();
    h.start();
    h.answer(both(h));
    h.untilSend();
    expect(h.machine.phase).toBe('renewing');
    expect(asked(h.request)).toEqual({ 4: '10.0.0.2', 6: 'fd00::2' });
    const actions = h.answer(both(h));
    expect(ofType(actions, 'log').map((l) => l.message)).toContain('lease renewed');
    expect(lastApply(h).addresses).toEqual(['10.0.0.2', 'fd00::2']);
    expect(h.machine.phase).toBe('bound');
    expect(h.machine.failures).toBe(0);
  });

  it('short leases renew around half-way', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const h = new MachineHarness({ seed });
      h.start();
      h.answer(both(h, 10), 0);
      const waited = h.untilSend();
      expect(waited).toBeGreaterThanOrEqual(4_000);
      expect(waited).toBeLessThanOrEqual(5_000);
    }
  });

  it('errno 3: applies what was granted and backs off for the rest, keeping what it holds in the request', () => {
    const h = new MachineHarness();
    h.start();
    const actions = h.answer(
      `ip=10.0.0.2/32\nleasestart=${h.seconds}\nleasetime=3600\nerrno=3\nerrmsg=Chosen IP(s) unavailable\n\n`,
    );
    expect(lastApply(h).addresses).toEqual(['10.0.0.2']);
    expect(ofType(actions, 'log').find((l) => l.message === 'backing off')?.fields.reason).toMatch(
      /IPv6 not granted/,
    );
    expect(h.dueIn('request')).toBeLessThanOrEqual(1_000);
    h.untilSend();
    expect(asked(h.request)).toEqual({ 4: '10.0.0.2', 6: 'new' });
    h.answer(both(h));
    expect(lastApply(h).addresses).toEqual(['10.0.0.2', 'fd00::2']);
    expect(h.machine.failures).toBe(0);
  });

  it('an address asked for by name and refused is asked for anew next time', () => {
    const h = new MachineHarness();
    h.start({ memory: { lease: undefined, addresses: { 4: ip('10.0.0.9'), 6: ip('fd00::9') } } });
    expect(asked(h.request)).toEqual({ 4: '10.0.0.9', 6: 'fd00::9' });
    h.answer(
      `ip=fd00::9/128\nleasestart=${h.seconds}\nleasetime=3600\nerrno=3\nerrmsg=Chosen IP(s) unavailable\n\n`,
    );
    h.untilSend();
    expect(asked(h.request)).toEqual({ 4: 'new', 6: 'fd00::9' });
  });
});

describe('ClientMachine: refusals and failures change nothing', () => {
  it.each([
    ['a link-local address', 'ip=fe80::1/128\nleasestart=1\nleasetime=60\nerrno=0\n\n'],
    ['a multicast address', 'ip=224.0.0.1/32\nleasestart=1\nleasetime=60\nerrno=0\n\n'],
    [
      'an unsafe route',
      'ip=10.0.0.2/32\nleasestart=1\nleasetime=60\next=route\nroute=127.0.0.0/8\nerrno=0\n\n',
    ],
    ['errno 1', 'errno=1\nerrmsg=Invalid request\n\n'],
    ['errno 2', 'errno=2\nerrmsg=Unsupported protocol\n\n'],
  ])('%s: no apply, the lease held stays, back-off', (_, text) => {
    const h = new MachineHarness();
    h.start();
    h.answer(both(h, 600));
    h.untilSend();
    const appliesBefore = ofType(h.actions, 'apply').length;
    const expireBefore = h.dueIn('expire');
    const actions = h.answer(text, 0);
    expect(ofType(actions, 'apply')).toEqual([]);
    expect(ofType(h.actions, 'apply')).toHaveLength(appliesBefore);
    expect(h.dueIn('expire')).toBe(expireBefore);
    expect(h.machine.lease?.addresses[4]?.toString()).toBe('10.0.0.2');
    expect(h.machine.phase).toBe('renewing');
    expect(ofType(actions, 'log').some((l) => l.message === 'backing off')).toBe(true);
    expect(h.dueIn('request')).toBeLessThanOrEqual(1_000);
  });

  it('backs off exponentially while the server is down, then recovers', () => {
    const h = new MachineHarness({ seed: 11 });
    h.start();
    const ceilings: number[] = [];
    for (let i = 0; i < 9; i++) {
      h.fail();
      const delay = h.dueIn('request') ?? -1;
      ceilings.push(delay);
      h.untilSend();
    }
    expect(h.machine.failures).toBe(9);
    for (const [i, delay] of ceilings.entries()) {
      expect(delay).toBeGreaterThanOrEqual(100);
      expect(delay).toBeLessThanOrEqual(Math.min(60_000, 1000 * 2 ** i));
    }
    h.answer(both(h));
    expect(h.machine.phase).toBe('bound');
    expect(h.machine.failures).toBe(0);
  });

  it('a lease that runs out without renewal takes its addresses and routes away, and the client keeps asking', () => {
    const h = new MachineHarness();
    h.start();
    h.answer(both(h, 10, 'ext=route\nroute=10.0.0.0/8\n'));
    h.untilSend();
    let expired = false;
    for (let i = 0; i < 20 && !expired; i++) {
      const actions = h.fail();
      expired = ofType(actions, 'apply').length > 0;
      if (!expired) {
        const more = h.advance(h.dueIn('request') ?? 0);
        expired = ofType(more, 'apply').length > 0;
        if (expired) break;
      }
    }
    expect(expired).toBe(true);
    expect(lastApply(h)).toMatchObject({ addresses: [], routes: [] });
    expect(h.machine.lease).toBeUndefined();
    expect(h.machine.phase).toBe('starting');
    // It remembers the addresses and asks for them again.
    if (h.dueIn('request') !== undefined) h.untilSend();
    expect(asked(h.request)).toEqual({ 4: '10.0.0.2', 6: 'fd00::2' });
  });

  it('a server that withdraws the lease (errno 3, nothing granted) takes the addresses away', () => {
    const h = new MachineHarness();
    h.start();
    h.answer(both(h));
    h.untilSend();
    const actions = h.answer('errno=3\nerrmsg=Chosen IP(s) unavailable\n\n');
    expect(actions).toContainEqual(
      expect.objectContaining({
        type: 'log',
        message: 'backing off',
        fields: expect.objectContaining({
          reason: 'no address was granted (Chosen IP(s) unavailable)',
        }),
      }),
    );
    expect(lastApply(h).addresses).toEqual([]);
    expect(h.machine.lease).toBeUndefined();
    expect(h.dueIn('expire')).toBeUndefined();
    h.untilSend();
    expect(asked(h.request)).toEqual({ 4: 'new', 6: 'new' });
  });
});

describe('ClientMachine: clocks', () => {
  it('a server clock an hour off: the lease counts from the request, and the client says so', () => {
    const h = new MachineHarness();
    h.start();
    const actions = h.answer(
      `ip=10.0.0.2/32\nip=fd00::2/128\nleasestart=${h.seconds - 3600}\nleasetime=600\nerrno=0\n\n`,
      50,
    );
    // Trusting leasestart would have ended the lease at once.
    expect(h.dueIn('expire')).toBe(600_000 - 50);
    expect(ofType(actions, 'log').some((l) => l.level === 'warn' && /clock/.test(l.message))).toBe(
      true,
    );
  });

  it('timers follow the monotonic clock: a wall-clock step does not end the lease', () => {
    const h = new MachineHarness();
    h.start();
    h.answer(both(h, 600));
    const expire = h.dueIn('expire');
    h.stepWallClock(86_400_000);
    expect(h.dueIn('expire')).toBe(expire);
    expect(ofType(h.advance(60_000), 'apply')).toEqual([]);
  });
});

describe('ClientMachine: the link', () => {
  it('link down pauses (the exchange in flight is given up), link up re-applies and asks again', () => {
    const h = new MachineHarness();
    h.start();
    h.answer(both(h, 600));
    h.untilSend();
    const inFlight = h.exchange;
    const down = h.handle({ type: 'link-down' });
    expect(h.machine.phase).toBe('paused');
    expect(ofType(down, 'abort')).toEqual([{ type: 'abort', exchange: inFlight }]);
    expect(h.dueIn('request')).toBeUndefined();
    expect(h.dueIn('expire')).toBeDefined();
    // The answer to the abandoned exchange changes nothing.
    expect(h.answer(both(h, 600))).toEqual([]);
    const up = h.handle({ type: 'link-up' });
    expect(lastApply(h).addresses).toEqual(['10.0.0.2', 'fd00::2']);
    expect(ofType(up, 'send')).toHaveLength(1);
    expect(h.exchange).not.toBe(inFlight);
    expect(asked(h.request)).toEqual({ 4: '10.0.0.2', 6: 'fd00::2' });
    expect(h.machine.phase).toBe('renewing');
  });

  it('a lease that ends while the link is down is removed; nothing is asked until the link is up', () => {
    const h = new MachineHarness();
    h.start();
    h.answer(both(h, 60));
    h.handle({ type: 'link-down' });
    const actions = h.advance(120_000);
    expect(ofType(actions, 'apply')).toHaveLength(1);
    expect(ofType(actions, 'send')).toEqual([]);
    expect(h.machine.phase).toBe('paused');
  });

  it('starts paused when the link is down', () => {
    const h = new MachineHarness();
    const actions = h.start({ linkUp: false });
    expect(h.machine.phase).toBe('paused');
    expect(ofType(actions, 'send')).toEqual([]);
    expect(ofType(h.handle({ type: 'link-up' }), 'send')).toHaveLength(1);
  });

  it('the removal of the interface ends the client with status 0, removing nothing', () => {
    const h = new MachineHarness();
    h.start();
    h.answer(both(h));
    const applies = ofType(h.actions, 'apply').length;
    const actions = h.handle({ type: 'link-removed' });
    expect(ofType(actions, 'exit')).toEqual([
      { type: 'exit', code: 0, reason: 'the interface was removed', interfaceGone: true },
    ]);
    expect(ofType(h.actions, 'apply')).toHaveLength(applies);
    expect(h.machine.phase).toBe('stopped');
    expect(h.handle({ type: 'link-up' })).toEqual([]);
  });
});

describe('ClientMachine: stopping', () => {
  it('removes what it added, remembers the lease, then exits 0', () => {
    const h = new MachineHarness();
    h.start();
    h.answer(both(h));
    const actions = h.handle({ type: 'stop', reason: 'received SIGTERM' });
    expect(h.machine.phase).toBe('stopping');
    expect(ofType(actions, 'exit')).toEqual([]);
    expect(lastApply(h).addresses).toEqual([]);
    expect(lastApply(h).memory.lease?.addresses[4]?.toString()).toBe('10.0.0.2');
    expect(h.dueIn('request')).toBeUndefined();
    expect(h.dueIn('expire')).toBeUndefined();
    const done = h.handle({ type: 'applied' });
    expect(ofType(done, 'exit')).toEqual([
      { type: 'exit', code: 0, reason: 'stopped', interfaceGone: false },
    ]);
  });

  it('exits 1 when what it added cannot be removed', () => {
    const h = new MachineHarness();
    h.start();
    h.answer(both(h));
    h.handle({ type: 'stop', reason: 'received SIGINT' });
    const done = h.handle({ type: 'apply-failed', reason: 'EPERM' });
    expect(ofType(done, 'exit')[0]?.code).toBe(1);
  });

  it('a stop before the start exits at once', () => {
    const h = new MachineHarness();
    const actions = h.handle({ type: 'stop', reason: 'received SIGTERM' });
    expect(ofType(actions, 'exit')[0]?.code).toBe(0);
    expect(h.start()).toEqual([]);
  });
});

describe('ClientMachine: restarting', () => {
  const remembered = (h: MachineHarness, leftMs: number) => ({
    lease: {
      addresses: { 4: ip('10.0.0.2'), 6: ip('fd00::2') },
      routes: [IpPrefix.from('10.0.0.0/8'), IpPrefix.from('0.0.0.0/0')],
      prefixes: {},
      leaseStart: h.seconds - 100,
      leaseTime: 3600,
      expiresAtWall: h.now.wall + leftMs,
    },
    addresses: { 4: ip('10.0.0.2'), 6: ip('fd00::2') },
  });

  it('resumes a lease that is still running and asks for the same addresses', () => {
    const h = new MachineHarness();
    h.start({ memory: remembered(h, 3_000_000) });
    expect(lastApply(h).addresses).toEqual(['10.0.0.2', 'fd00::2']);
    // The default route is left out without --accept-default-route.
    expect(lastApply(h).routes).toEqual(['10.0.0.0/8']);
    expect(h.dueIn('expire')).toBe(3_000_000);
    expect(asked(h.request)).toEqual({ 4: '10.0.0.2', 6: 'fd00::2' });
    expect(h.machine.phase).toBe('renewing');
  });

  it('an ended lease is not resumed (its leftovers go), but its addresses are asked for', () => {
    const h = new MachineHarness();
    h.start({ memory: remembered(h, -1000) });
    expect(lastApply(h).addresses).toEqual([]);
    expect(h.dueIn('expire')).toBeUndefined();
    expect(asked(h.request)).toEqual({ 4: '10.0.0.2', 6: 'fd00::2' });
  });

  it('a lease that would end further away than its length (a clock that jumped) is not resumed', () => {
    const h = new MachineHarness();
    h.start({ memory: remembered(h, 10 * 3_600_000) });
    expect(lastApply(h).addresses).toEqual([]);
  });

  it('a family no longer used is neither resumed nor asked for', () => {
    const h = new MachineHarness({ families: { 4: true, 6: false } });
    h.start({ memory: remembered(h, 3_000_000) });
    expect(lastApply(h).addresses).toEqual(['10.0.0.2']);
    expect(asked(h.request)).toEqual({ 4: '10.0.0.2', 6: 'release' });
  });
});
