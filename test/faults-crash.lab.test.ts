import { IpPrefix } from '@wg-dynamic/ip';
import { backendFromEnvironment, classicTopology, Lab, type LabProcess } from '@wg-dynamic/lab';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHURN_CLIENT, type ChurnLog, parseChurnLog } from './support/churn.js';
import {
  allowedIps,
  exchange,
  fields,
  SERVER_BIN,
  startServer,
  stateDirectory,
} from './support/daemons.js';

/**
 * SIGKILL in the middle of a stream of grants. Three clients change
 * addresses as fast as they can in pools small enough that every address
 * changes hands again and again (each asks for a specific random address of
 * each family: a free one is granted and the old one released, a taken one
 * gets errno 3 and the old one released); a fourth holds a lease and stays
 * quiet. The server is killed once about half of the grants are done
 * (journal writes, device writes, compactions in flight), then started
 * again. What each client was told before the kill is then checked against
 * what the restarted server holds, what it answers and what WireGuard holds.
 */
const V4_POOL = IpPrefix.from('192.168.77.0/28');
const V6_POOL = IpPrefix.from('2001:db8:77::/124');
const CHURNERS = ['a', 'b', 'c'] as const;
const QUIET = 'd';
/** Grants planned; the kill comes at 40-60% of them. The kernel lab runs under emulation: fewer. */
const GRANTS = backendFromEnvironment() === 'kernel' ? 1_500 : 10_000;

type Family = 'v4' | 'v6';
type Holding = Record<Family, string | undefined>;

const first = (): Holding => ({ v4: undefined, v6: undefined });

/** What an answer leaves a client holding: the addresses in it, nothing of a family left out. */
function holdingOf(answer: string): Holding {
  const ips = fields(answer).get('ip') ?? [];
  return {
    v4: ips.find((ip) => ip.endsWith('/32')),
    v6: ips.find((ip) => ip.endsWith('/128')),
  };
}

describe('wg-dynamic-server killed (SIGKILL) in the middle of 10,000 grants', () => {
  let lab: Lab;
  let server: LabProcess;
  let state: Awaited<ReturnType<typeof stateDirectory>>;
  const args = () => ['--state-dir', state.path];

  beforeAll(async () => {
    state = await stateDirectory();
    lab = await Lab.create(
      classicTopology({
        clients: [...CHURNERS, QUIET],
        serverRoutes: [V4_POOL.toString(), V6_POOL.toString()],
      }),
    );
    server = await startServer(lab.node('server'), args());
  });

  afterAll(async () => {
    await lab?.destroy();
    await state?.remove();
  });

  it('loses no grant it acknowledged, leases no address twice, and agrees with allowed-ips', async () => {
    const quiet = await exchange(lab.node(QUIET), 'request_ip=1\nip=0.0.0.0/32\nip=::/128\n\n');
    expect(fields(quiet.answer).get('errno')).toEqual(['0']);
    const quietHolds = holdingOf(quiet.answer);

    const perClient = Math.ceil(GRANTS / CHURNERS.length);
    const churns = await Promise.all(
      CHURNERS.map((name) => {
        const node = lab.node(name);
        return node.spawn(
          'node',
          [
            CHURN_CLIENT,
            node.interface,
            node.linkLocal.toString(),
            V4_POOL.address.toString(),
            String(V4_POOL.size - 1n),
            '2001:db8:77::',
            String(V6_POOL.size),
            String(perClient),
          ],
          { maxLines: 4 * perClient + 10 },
        );
      }),
    );
    const killAt = Math.round(GRANTS * (0.4 + 0.2 * Math.random()));
    const granted = () =>
      churns.reduce((sum, churn) => sum + parseChurnLog(churn.stdoutLines).grants, 0);
    const stopped = Promise.all(churns.map((churn) => churn.exited));
    while (granted() < killAt) {
      const done = await Promise.race([
        stopped.then(() => true),
        new Promise((resolve) => setTimeout(() => resolve(false), 20)),
      ]);
      if (done) throw new Error(`the clients stopped after ${granted()} grants, before the kill`);
    }
    server.kill('SIGKILL');
    expect((await server.exited).signal).toBe('SIGKILL');
    await stopped;
    const logs = new Map<string, ChurnLog>(
      CHURNERS.map((name, i) => [name, parseChurnLog((churns[i] as LabProcess).stdoutLines)]),
    );
    const grants = [...logs.values()].reduce((sum, log) => sum + log.grants, 0);
    expect(grants).toBeGreaterThanOrEqual(killAt);

    server = await startServer(lab.node('server'), args());
    const shown = await lab.node('server').exec('node', [SERVER_BIN, 'show', 'wg0', '--json'], {
      check: true,
    });
    const leases = (JSON.parse(shown.stdout) as { leases: { peer: string; address: string }[] })
      .leases;

    // No address leased to two peers.
    const addresses = leases.map((lease) => lease.address);
    expect(new Set(addresses).size).toBe(addresses.length);

    // Each client holds what it was last told, or what its unanswered request could have got.
    const held = (name: string): Holding => {
      const key = lab.node(name).publicKey;
      const mine = leases.filter((lease) => lease.peer === key).map((lease) => lease.address);
      return {
        v4: mine.find((a) => a.endsWith('/32')),
        v6: mine.find((a) => a.endsWith('/128')),
      };
    };
    expect(held(QUIET)).toEqual(quietHolds);
    const told = new Map<string, Holding>([[QUIET, quietHolds]]);
    for (const [name, log] of logs) {
      const last = log.answers.at(-1);
      const acknowledged = last === undefined ? first() : holdingOf(last);
      const now = held(name);
      for (const family of ['v4', 'v6'] as const) {
        const possible = [acknowledged[family]];
        if (log.inFlight) possible.push(log.inFlight[family], undefined);
        expect(possible, `${name}'s ${family} after the restart`).toContain(now[family]);
      }
      // A client whose last request was not acted on holds what it was told.
      if (now.v4 === acknowledged.v4 && now.v6 === acknowledged.v6) told.set(name, acknowledged);
    }

    // WireGuard agrees: a peer's pool addresses in allowed-ips are exactly its leases.
    const device = await allowedIps(lab.node('server'));
    for (const name of [...CHURNERS, QUIET]) {
      const node = lab.node(name);
      const inPools = (device.get(node.publicKey) ?? []).filter((ip) => {
        const prefix = IpPrefix.from(ip);
        return V4_POOL.contains(prefix.address) || V6_POOL.contains(prefix.address);
      });
      const mine = held(name);
      expect(inPools.sort(), `${name}'s allowed-ips`).toEqual(
        [mine.v4, mine.v6].filter((ip) => ip !== undefined).sort(),
      );
    }

    // Every grant a client was told of is honoured on its next renewal.
    expect(told.size).toBeGreaterThanOrEqual(1);
    for (const [name, holding] of told) {
      const ips = [holding.v4, holding.v6].filter((ip) => ip !== undefined);
      const renewal = await exchange(
        lab.node(name),
        `request_ip=1\n${ips.map((ip) => `ip=${ip}\n`).join('')}leasestart=0\nleasetime=0\n\n`,
      );
      expect(fields(renewal.answer).get('errno'), `${name}'s renewal`).toEqual(['0']);
      expect(fields(renewal.answer).get('ip') ?? [], `${name}'s renewal`).toEqual(ips);
    }
  });
});
