// The relay ("bounce server") topology end to end, with the real daemons over
// real WireGuard: one server runs wg-dynamic-server and forwards between its
// peers; two clients know only the server as their peer (AllowedIPs
// 0.0.0.0/0, ::/0) and get their addresses, and the routes to each other,
// from wg-dynamic-client; a third speaks raw v1, as the reference client
// does. Then the server restarts under the running clients. ip(8), wg(8) and
// ping(8) are the witnesses. One lab and one server for all of it: the
// kernel lab runs under software emulation, where each start is costly.
import { IpPrefix } from '@wg-dynamic/ip';
import { classicTopology, Lab, type LabNode, type LabProcess } from '@wg-dynamic/lab';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KERNEL_LAB, logRecord, startClient, waitForLogs } from './support/client.js';
import {
  allowedIps,
  eventually,
  exchange,
  fields,
  patient,
  startServer,
  stateDirectory,
} from './support/daemons.js';
import { addressesOn, bare, leasedIn, ping, routes } from './support/witness.js';

const POOLS = [IpPrefix.from('192.168.4.0/24'), IpPrefix.from('2001:db8:4::/64')];
/** A network behind the server, pushed with the pools. */
const BEHIND = IpPrefix.from('10.99.0.0/16');
const PUSHED = [...POOLS, BEHIND].map(String);
/** RTPROT_WG_DYNAMIC: the protocol number wg-dynamic-client marks its routes with. */
const CLIENT_ROUTE_PROTOCOL = '87';
/**
 * Long enough that a lease outlives a server restart with room to spare, short
 * enough that the clients renew within the test (at 50-60 % left: 10-12 s);
 * four times that in the kernel lab, where the server takes several seconds
 * to start again.
 */
const LEASE_TIME = KERNEL_LAB ? 80 : 20;
const V1_REQUEST = 'request_ip=1\nip=0.0.0.0/32\nip=::/128\nleasestart=0\nleasetime=0\n\n';
/** What a client logs when an exchange it started has ended. */
const OUTCOME = /^(lease renewed|lease granted|backing off|a step failed)$/;

describe('the relay topology: clients behind one forwarding server', () => {
  let lab: Lab;
  let state: Awaited<ReturnType<typeof stateDirectory>>;
  let server: LabProcess;
  const clients = new Map<string, LabProcess>();
  const serverArgs = () => [
    '--leasetime',
    String(LEASE_TIME),
    ...PUSHED.flatMap((route) => ['--route', route]),
    '--state-dir',
    `${state.path}/server`,
  ];

  beforeAll(async () => {
    state = await stateDirectory();
    // The server's pools are the routes through its interface (and its way
    // back to the clients); pushed to the clients, they are how A reaches B.
    lab = await Lab.create(
      classicTopology({
        clients: ['a', 'b', 'legacy'],
        serverRoutes: POOLS.map(String),
        forwarding: true,
      }),
    );
    server = await startServer(lab.node('server'), serverArgs());
    await Promise.all(
      ['a', 'b'].map(async (name) => {
        const client = await startClient(lab.node(name), ['--state-dir', `${state.path}/${name}`]);
        clients.set(name, client);
        await waitForLogs(client, 'lease applied', 1, patient(30_000));
      }),
    );
  }, patient(120_000));

  afterAll(async () => {
    await lab?.destroy();
    await state?.remove();
  });

  /** Every client's interface addresses, and the server's allowed-ips for it, sorted. */
  const snapshot = async () => {
    const peers = await allowedIps(lab.node('server'));
    const view: Record<string, { interface: string[]; allowedIps: string[] }> = {};
    for (const name of ['a', 'b']) {
      const node: LabNode = lab.node(name);
      view[name] = {
        interface: (await addressesOn(node)).map(String).sort(),
        allowedIps: [...(peers.get(node.publicKey) ?? [])].sort(),
      };
    }
    return view;
  };

  it(
    'leases each client an address of each family, and installs the pushed routes through its interface',
    async () => {
      const server = await allowedIps(lab.node('server'));
      const seen: string[] = [];
      for (const name of ['a', 'b']) {
        const node = lab.node(name);
        // The server is the client's only peer.
        expect((await node.wg('show', 'wg0', 'peers')).trim()).toBe(lab.node('server').publicKey);
        const { v4, v6 } = leasedIn(await addressesOn(node), POOLS);
        expect(v4).toHaveLength(1);
        expect(v6).toHaveLength(1);
        seen.push(...v4, ...v6);
        // The server's entry for the client: its link-local /128 and its leases, nothing else.
        expect(server.get(node.publicKey)?.sort()).toEqual(
          [`${node.linkLocal}/128`, ...v4, ...v6].sort(),
        );
        // The client advertised the route extension: the routes are on its interface, marked as its own.
        const installed = (await routes(node)).filter((route) => PUSHED.includes(route.dst));
        expect(
          installed
            .map(({ dst, dev, protocol }) => ({ dst, dev, protocol }))
            .sort((x, y) => x.dst.localeCompare(y.dst)),
        ).toEqual(
          [...PUSHED].sort().map((dst) => ({ dst, dev: 'wg0', protocol: CLIENT_ROUTE_PROTOCOL })),
        );
      }
      expect(new Set(seen).size).toBe(4);
    },
    patient(120_000),
  );

  it(
    "reaches B's leased addresses from A's, through the server, in both families",
    async () => {
      const a = lab.node('a');
      const b = lab.node('b');
      const fromA = leasedIn(await addressesOn(a), POOLS);
      const fromB = leasedIn(await addressesOn(b), POOLS);
      for (const family of ['v4', 'v6'] as const) {
        const source = bare(fromA[family][0] as string);
        const target = bare(fromB[family][0] as string);
        const there = await ping(a, source, target);
        expect(there.ok, there.output).toBe(true);
        // One router on the way back: B's reply left with 64 and the server forwarded it.
        expect(there.ttl).toBe(63);
        const back = await ping(b, target, source);
        expect(back.ok, back.output).toBe(true);
      }
    },
    patient(120_000),
  );

  it(
    'answers a client that does not speak the extension with exactly the reference bytes',
    async () => {
      // Everything the server writes until it closes or goes quiet, not just up to the blank line.
      const answer = await exchange(lab.node('legacy'), V1_REQUEST, { lingerMs: 1_000 });
      const got = fields(answer.answer);
      const [v4 = '', v6 = ''] = got.get('ip') ?? [];
      expect(POOLS[0]?.contains(IpPrefix.from(v4).address)).toBe(true);
      expect(POOLS[1]?.contains(IpPrefix.from(v6).address)).toBe(true);
      expect(answer.answer).toBe(
        `ip=${v4}\nip=${v6}\nleasestart=${got.get('leasestart')?.[0]}\nleasetime=${LEASE_TIME}\nerrno=0\n\n`,
      );
      expect(answer.answer).not.toMatch(/ext=|route=/);
    },
    patient(120_000),
  );

  it(
    "restarts under the running clients without changing anybody's address; their next renewals succeed",
    async () => {
      const before = await snapshot();
      for (const name of ['a', 'b']) {
        // A leased address of each family, and the link-local one.
        expect(before[name]?.interface.map((p) => IpPrefix.from(p).family).sort()).toEqual([
          4, 6, 6,
        ]);
        expect(before[name]?.allowedIps).toHaveLength(3);
      }

      await server.stop();
      expect(server.exitStatus).toEqual({ code: 0, signal: null });
      // The server does not take its peers' leases away when it stops.
      expect(await snapshot()).toEqual(before);
      server = await startServer(lab.node('server'), serverArgs());
      const listening = logRecord(await server.waitForLine(/"msg":"listening"/))?.time as number;
      expect(await snapshot()).toEqual(before);

      for (const [name, client] of clients) {
        // The first exchange the client started once the server listened again
        // (pino's times: one clock for every process here)...
        const log = () => client.stderrLines.map(logRecord).filter((r) => r !== undefined);
        const askedAt = () =>
          log().findIndex((r) => r.msg === 'renewing the lease' && (r.time as number) > listening);
        const outcome = () =>
          askedAt() === -1
            ? undefined
            : log()
                .slice(askedAt())
                .find((r) => OUTCOME.test(String(r.msg)));
        await eventually(
          `${name} renews after the restart`,
          () => outcome() !== undefined,
          patient(60_000),
        );
        // ...ended in a renewal of the same addresses.
        expect(outcome()?.msg, JSON.stringify(outcome())).toBe('lease renewed');
      }
      expect(await snapshot()).toEqual(before);
    },
    patient(300_000),
  );
});
