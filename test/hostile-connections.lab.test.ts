import { readFile } from 'node:fs/promises';
import { IpPrefix } from '@wg-dynamic/ip';
import { backendFromEnvironment, classicTopology, Lab, type LabProcess } from '@wg-dynamic/lab';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  allowedIps,
  EXCHANGE,
  eventually,
  exchange,
  fields,
  SERVER_BIN,
  startServer,
  stateDirectory,
} from './support/daemons.js';
import { serverLog } from './support/server-log.js';

/**
 * Peers that do not play by the rules, against the real server over real
 * WireGuard: a flood of idle connections and a slow loris from one peer,
 * sources that no peer owns, wrong source ports. Other peers must be served
 * all along, nothing may be leased to a refused connection, and the
 * server's memory must stay bounded.
 */
const V4_POOL = IpPrefix.from('192.168.80.0/24');
const V6_POOL = IpPrefix.from('2001:db8:80::/64');
const FIRST = 'request_ip=1\nip=0.0.0.0/32\nip=::/128\nleasestart=0\nleasetime=0\n\n';
const FLOOD = 1_000;
/** Sources of the flood: fe80::f:0:0:<n>, each a /128 of peer a. */
const FLOOD_RANGE = 'fe80::f:0:0:0/96';
/** Sources that pass WireGuard (peer a's allowed-ips cover them) but that no peer holds as a /128. */
const STRAY_RANGE = 'fe80::ffff:0:0:0/96';
const SLOW = backendFromEnvironment() === 'kernel' ? 10 : 1;
const FLOOD_CLIENT = EXCHANGE.replace(/exchange\.mjs$/, 'flood-client.mjs');

/** The server's resident memory, from /proc (the test runs in the same PID namespace). */
async function rssBytes(server: LabProcess): Promise<number> {
  const status = await readFile(`/proc/${server.pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  if (!match) throw new Error(`no VmRSS in /proc/${server.pid}/status`);
  return Number(match[1]) * 1024;
}

/** The leases `show --json` lists, as "peer address" lines. */
async function shownLeases(lab: Lab): Promise<string[]> {
  const shown = await lab.node('server').exec('node', [SERVER_BIN, 'show', 'wg0', '--json'], {
    check: true,
  });
  const status = JSON.parse(shown.stdout) as { leases: { peer: string; address: string }[] };
  return status.leases.map((lease) => `${lease.peer} ${lease.address}`).sort();
}

describe('wg-dynamic-server against hostile connections', () => {
  let lab: Lab;
  let server: LabProcess;
  let state: Awaited<ReturnType<typeof stateDirectory>>;

  beforeAll(async () => {
    state = await stateDirectory();
    lab = await Lab.create(
      classicTopology({
        clients: ['a', 'b'],
        serverRoutes: [V4_POOL.toString(), V6_POOL.toString()],
      }),
    );
    const a = lab.node('a');
    // Peer a owns its link-local /128 and a thousand more, and passes a range nobody owns.
    const flood = Array.from(
      { length: FLOOD },
      (_, k) => `fe80::f:0:0:${(k + 1).toString(16)}/128`,
    );
    await lab
      .node('server')
      .wg(
        'set',
        'wg0',
        'peer',
        a.publicKey,
        'allowed-ips',
        [`${a.linkLocal}/128`, STRAY_RANGE, ...flood].join(','),
      );
    // Node a speaks from any address of those ranges without adding each one:
    // non-local binds, and the ranges taken as local ("AnyIP").
    await a.exec('sysctl', ['-qw', 'net.ipv6.ip_nonlocal_bind=1'], { check: true });
    for (const range of [FLOOD_RANGE, STRAY_RANGE]) {
      await a.ip('route', 'add', 'local', range, 'dev', 'wg0', 'table', 'local');
    }
    server = await startServer(lab.node('server'), ['--state-dir', state.path]);
  });

  afterAll(async () => {
    await lab?.destroy();
    await state?.remove();
  });

  it('serves other peers through a flood of 1,000 idle connections and a slow loris from one peer, in bounded memory', async () => {
    const a = lab.node('a');
    const b = lab.node('b');
    // Warm up: the first answers load code; the memory to compare starts after.
    expect((await exchange(b, FIRST)).code).toBe(0);
    const before = await rssBytes(server);

    const flood = await a.spawn('node', [
      FLOOD_CLIENT,
      a.interface,
      '--prefix',
      'fe80::f:0:0:',
      '--count',
      String(FLOOD),
      '--loris',
      a.linkLocal.toString(),
    ]);
    await flood.waitForLine(/"opened"/, 60_000 * SLOW);
    // While the flood holds what the server let it keep, b is served again and again.
    const held = fields((await exchange(b, FIRST)).answer).get('ip') ?? [];
    expect(held).toHaveLength(2);
    for (let i = 0; i < 5; i++) {
      const renewal = await exchange(
        b,
        `request_ip=1\n${held.map((ip) => `ip=${ip}\n`).join('')}leasestart=0\nleasetime=0\n\n`,
      );
      expect(fields(renewal.answer).get('ip')).toEqual(held);
    }

    const closed = JSON.parse(await flood.waitForLine(/"closed"/, 120_000 * SLOW)) as {
      closed: { loris: number | null; flood: (number | null)[]; received: number[] };
    };
    // The slow loris is cut off (a request must be whole in 10 s), though it was never idle.
    expect(closed.closed.loris).not.toBeNull();
    // Every flood connection was closed by the server: all but the peer's
    // allowance (4 connections, one of them the loris's) at once, the rest
    // when idle for too long.
    expect(closed.closed.flood.every((ms) => ms !== null)).toBe(true);
    const kept = closed.closed.flood.filter((ms) => (ms ?? 0) >= 5_000);
    expect(kept.length).toBeLessThanOrEqual(3);
    expect(closed.closed.received.every((bytes) => bytes === 0)).toBe(true);
    const log = serverLog(server);
    expect(log.some((line) => line.reason === 'too-many-peer-connections')).toBe(true);
    expect(log.some((line) => line.reason === 'request-timeout')).toBe(true);

    expect((await exchange(b, FIRST)).code).toBe(0);
    const after = await rssBytes(server);
    // A refused connection costs nothing once closed: the server holds what it held.
    expect(after - before).toBeLessThan(32 * 2 ** 20);
    // Nothing was leased to peer a.
    expect((await shownLeases(lab)).filter((lease) => lease.startsWith(a.publicKey))).toEqual([]);
  });

  it('refuses sources no peer owns, and logs them without flooding the log, leasing nothing', async () => {
    const a = lab.node('a');
    const leases = await shownLeases(lab);
    const device = await allowedIps(lab.node('server'));
    const strays = await a.spawn('node', [
      FLOOD_CLIENT,
      a.interface,
      '--prefix',
      'fe80::ffff:0:0:',
      '--count',
      '200',
      '--request',
      FIRST.replaceAll('\n', '\\n'),
    ]);
    const result = JSON.parse(await strays.waitForLine(/"closed"/, 120_000 * SLOW)) as {
      closed: { flood: (number | null)[]; received: number[] };
    };
    // Every one closed without a byte of answer.
    expect(result.closed.flood.every((ms) => ms !== null)).toBe(true);
    expect(result.closed.received.every((bytes) => bytes === 0)).toBe(true);
    // One more, a second later, makes the server sum up what it did not log.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    await exchange(a, FIRST, { from: 'fe80::ffff:0:0:ffff' });
    await eventually(
      'the server sums up the refusals it did not log one by one',
      async () =>
        serverLog(server).some((line) => /more refusals in the last second/.test(line.msg)),
      10_000 * SLOW,
    );
    const logged = serverLog(server).filter((line) => line.reason === 'unknown-source');
    expect(logged.length).toBeGreaterThan(0);
    expect(logged.length).toBeLessThan(200);
    expect(await shownLeases(lab)).toEqual(leases);
    expect(await allowedIps(lab.node('server'))).toEqual(device);
  });

  it('refuses a wrong source port however good the request, leasing nothing', async () => {
    const a = lab.node('a');
    const leases = await shownLeases(lab);
    for (const port of [971, 1024, 40_000]) {
      const answer = await exchange(a, FIRST, { sourcePort: port });
      expect(answer).toMatchObject({ code: 3, answer: '' });
    }
    expect(await shownLeases(lab)).toEqual(leases);
    expect(
      serverLog(server).filter((line) => line.reason === 'wrong-source-port').length,
    ).toBeGreaterThanOrEqual(1);
  });
});
