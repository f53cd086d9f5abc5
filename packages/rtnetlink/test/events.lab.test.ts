import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { IpPrefix } from '@wg-dynamic/ip';
import {
  openRtnetlink,
  openRtnetlinkEvents,
  RtnetlinkError,
  type RtnetlinkEvent,
} from '@wg-dynamic/rtnetlink';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ip, ipLink } from './ip-command.js';

const A = 'rtev-a';
const B = 'rtev-b';

let indexA: number;

beforeAll(() => {
  ip('link', 'add', A, 'type', 'veth', 'peer', 'name', B);
  // No IPv6 link-local addresses: their duplicate address detection ends a
  // second later with an RTM_NEWADDR that would land in the middle of a test.
  ip('link', 'set', A, 'addrgenmode', 'none');
  ip('link', 'set', B, 'addrgenmode', 'none');
  ip('link', 'set', A, 'up');
  ip('link', 'set', B, 'up');
  indexA = ipLink(A).ifindex;
});

afterAll(() => {
  ip('link', 'del', A);
});

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

/**
 * The process id of the notification reader (a child of this process) that
 * was started with the given receive buffer size, its last argument.
 */
function readerProcess(receiveBufferSize: number): number {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const status = readFileSync(`/proc/${entry}/status`, 'utf8');
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      const args = cmdline.split('\0').filter((arg) => arg !== '');
      if (
        status.includes(`\nPPid:\t${process.pid}\n`) &&
        args.some((arg) => arg.endsWith('event-reader.cjs')) &&
        args.at(-1) === String(receiveBufferSize)
      ) {
        found.push(Number(entry));
      }
    } catch {
      // the process ended while we looked
    }
  }
  if (found.length !== 1)
    throw new Error(`expected one notification reader, found ${found.length}`);
  return found[0] as number;
}

/** Reads events until one matches, returning it; the test's time limit bounds the wait. */
async function until<T extends RtnetlinkEvent>(
  events: AsyncIterator<RtnetlinkEvent>,
  matches: (event: RtnetlinkEvent) => event is T,
): Promise<T> {
  for (;;) {
    const next = await events.next();
    if (next.done) throw new Error('the subscription ended before the event came');
    if (matches(next.value)) return next.value;
  }
}

async function subscribe(...groups: Parameters<typeof openRtnetlinkEvents>[0]['groups']) {
  const subscription = await openRtnetlinkEvents({ groups });
  cleanups.push(() => subscription.close());
  return { subscription, events: subscription[Symbol.asyncIterator]() };
}

describe('events', () => {
  it('tells link down, link up and link removal apart', async () => {
    const { events } = await subscribe('link');

    ip('link', 'set', A, 'down');
    const down = await until(
      events,
      (e): e is Extract<RtnetlinkEvent, { type: 'link-changed' }> =>
        e.type === 'link-changed' && e.link.name === A && !e.link.up,
    );
    expect(down.link.index).toBe(indexA);
    expect(down.link.kind).toBe('veth');

    ip('link', 'set', A, 'up');
    const up = await until(
      events,
      (e): e is Extract<RtnetlinkEvent, { type: 'link-changed' }> =>
        e.type === 'link-changed' && e.link.name === A && e.link.up,
    );
    expect(up.link.index).toBe(indexA);

    ip('link', 'add', 'rtev-t0', 'type', 'veth', 'peer', 'name', 'rtev-t1');
    const added = await until(
      events,
      (e): e is Extract<RtnetlinkEvent, { type: 'link-changed' }> =>
        e.type === 'link-changed' && e.link.name === 'rtev-t0',
    );
    ip('link', 'del', 'rtev-t0');
    const removed = await until(
      events,
      (e): e is Extract<RtnetlinkEvent, { type: 'link-removed' }> =>
        e.type === 'link-removed' && e.link.name === 'rtev-t0',
    );
    expect(removed.link.index).toBe(added.link.index);
  });

  it('reports addresses added and removed, IPv4 and IPv6', async () => {
    const { events } = await subscribe('ipv4-address', 'ipv6-address');

    ip('address', 'add', '10.90.0.1/24', 'dev', A);
    const added = await until(
      events,
      (e): e is Extract<RtnetlinkEvent, { type: 'address-added' }> =>
        e.type === 'address-added' && e.address.prefix.toString() === '10.90.0.1/24',
    );
    expect(added.address.index).toBe(indexA);

    ip('address', 'add', 'fd90::1/128', 'dev', A, 'nodad');
    const addedV6 = await until(
      events,
      (e): e is Extract<RtnetlinkEvent, { type: 'address-added' }> =>
        e.type === 'address-added' && e.address.prefix.toString() === 'fd90::1/128',
    );
    expect(addedV6.address.flags).toContain('nodad');

    ip('address', 'del', '10.90.0.1/24', 'dev', A);
    await until(
      events,
      (e): e is Extract<RtnetlinkEvent, { type: 'address-removed' }> =>
        e.type === 'address-removed' && e.address.prefix.toString() === '10.90.0.1/24',
    );
    ip('address', 'del', 'fd90::1/128', 'dev', A);
    const removedV6 = await until(
      events,
      (e): e is Extract<RtnetlinkEvent, { type: 'address-removed' }> =>
        e.type === 'address-removed' && e.address.prefix.toString() === 'fd90::1/128',
    );
    expect(removedV6.address.index).toBe(indexA);
  });

  it('reports routes added and removed, IPv4 and IPv6', async () => {
    const { events } = await subscribe('ipv4-route', 'ipv6-route');

    ip('route', 'add', '10.91.0.0/24', 'dev', A, 'proto', '157');
    const added = await until(
      events,
      (e): e is Extract<RtnetlinkEvent, { type: 'route-added' }> =>
        e.type === 'route-added' && e.route.destination.toString() === '10.91.0.0/24',
    );
    expect(added.route).toMatchObject({ index: indexA, protocol: 157, scope: 'link' });

    ip('-6', 'route', 'add', 'fd91::/64', 'dev', A);
    await until(
      events,
      (e): e is Extract<RtnetlinkEvent, { type: 'route-added' }> =>
        e.type === 'route-added' && e.route.destination.toString() === 'fd91::/64',
    );

    ip('route', 'del', '10.91.0.0/24', 'dev', A);
    await until(
      events,
      (e): e is Extract<RtnetlinkEvent, { type: 'route-removed' }> =>
        e.type === 'route-removed' && e.route.destination.toString() === '10.91.0.0/24',
    );
    ip('-6', 'route', 'del', 'fd91::/64', 'dev', A);
    await until(
      events,
      (e): e is Extract<RtnetlinkEvent, { type: 'route-removed' }> =>
        e.type === 'route-removed' && e.route.destination.toString() === 'fd91::/64',
    );
  });

  it('delivers only the groups asked for', async () => {
    const { events } = await subscribe('ipv6-address');
    ip('address', 'add', '10.92.0.1/24', 'dev', A);
    ip('route', 'add', '10.93.0.0/24', 'dev', A);
    ip('address', 'add', 'fd92::1/128', 'dev', A, 'nodad');
    const first = await events.next();
    expect(first.value).toMatchObject({ type: 'address-added' });
    expect(
      (first.value as Extract<RtnetlinkEvent, { type: 'address-added' }>).address.prefix,
    ).toEqual(IpPrefix.from('fd92::1/128'));
    ip('address', 'del', '10.92.0.1/24', 'dev', A);
    ip('address', 'del', 'fd92::1/128', 'dev', A);
  });

  it('sees its own changes: what openRtnetlink does arrives as events', async () => {
    const { events } = await subscribe('ipv4-address', 'ipv4-route');
    const rtnl = openRtnetlink();
    cleanups.push(() => rtnl.close());
    await rtnl.addAddress({ index: indexA, prefix: IpPrefix.from('10.94.0.2/32') });
    await rtnl.addRoute({
      destination: IpPrefix.from('10.95.0.0/24'),
      index: indexA,
      protocol: 157,
    });
    await until(
      events,
      (e): e is Extract<RtnetlinkEvent, { type: 'address-added' }> =>
        e.type === 'address-added' && e.address.prefix.toString() === '10.94.0.2/32',
    );
    await until(
      events,
      (e): e is Extract<RtnetlinkEvent, { type: 'route-added' }> =>
        e.type === 'route-added' && e.route.protocol === 157,
    );
    await rtnl.deleteRoute({
      destination: IpPrefix.from('10.95.0.0/24'),
      index: indexA,
      protocol: 157,
    });
    await rtnl.deleteAddress({ index: indexA, prefix: IpPrefix.from('10.94.0.2/32') });
    await until(
      events,
      (e): e is Extract<RtnetlinkEvent, { type: 'route-removed' }> =>
        e.type === 'route-removed' && e.route.protocol === 157,
    );
    await until(
      events,
      (e): e is Extract<RtnetlinkEvent, { type: 'address-removed' }> =>
        e.type === 'address-removed' && e.address.prefix.toString() === '10.94.0.2/32',
    );
  });

  it('throws ENOBUFS from the loop when the kernel drops notifications', async () => {
    // The smallest receive buffer, and a reader that cannot read while `ip`
    // makes many changes: the kernel cannot queue them all and says so.
    const subscription = await openRtnetlinkEvents({
      groups: ['ipv4-address'],
      receiveBufferSize: 1,
    });
    cleanups.push(() => subscription.close());
    const reader = readerProcess(1);
    process.kill(reader, 'SIGSTOP');
    const batch = Array.from({ length: 200 }, (_, i) => `address add 10.96.0.${i + 1}/32 dev ${A}`);
    const result = spawnSync('ip', ['-batch', '-'], { input: `${batch.join('\n')}\n` });
    process.kill(reader, 'SIGCONT');
    expect(result.status).toBe(0);

    let failure: unknown;
    try {
      for await (const _ of subscription) {
        // the notifications that made it before the overrun
      }
    } catch (error) {
      failure = error;
    }
    expect(failure).toBeInstanceOf(RtnetlinkError);
    expect((failure as RtnetlinkError).code).toBe('ENOBUFS');
    expect((failure as RtnetlinkError).operation).toBe('events');
    expect((failure as RtnetlinkError).message).toMatch(/subscribe anew/);
    ip('address', 'flush', 'dev', A, 'to', '10.96.0.0/16');
  });

  it('ends the loop without an error on close()', async () => {
    const subscription = await openRtnetlinkEvents({ groups: ['link'] });
    const seen: RtnetlinkEvent[] = [];
    const loop = (async () => {
      for await (const event of subscription) seen.push(event);
    })();
    ip('link', 'set', B, 'mtu', '1400');
    // The loop is waiting (or has seen the change); close ends it either way.
    await new Promise((resolve) => setImmediate(resolve));
    subscription.close();
    await expect(loop).resolves.toBeUndefined();
    // A second loop over a closed subscription is refused, not silently empty.
    expect(() => subscription[Symbol.asyncIterator]()).toThrow(TypeError);
  });
});
