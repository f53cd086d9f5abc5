// Prefix delegation end to end, with the real daemons over real WireGuard: the
// server delegates an IPv6 /64 and an IPv4 /28 to a client that routes for a
// network behind it; a host on that network (a namespace on the client's
// downstream veth) numbers itself from the prefixes and reaches the server
// through the tunnel; when the client's lease runs out, the prefixes leave the
// server's allowed-ips and the downstream addresses go. ip(8), wg(8) and
// ping(8) are the witnesses.
import { readFile } from 'node:fs/promises';
import { IpAddress, IpPrefix } from '@wg-dynamic/ip';
import { classicTopology, Lab, type LabProcess } from '@wg-dynamic/lab';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KERNEL_LAB, startClient, waitForLogs } from './support/client.js';
import { allowedIps, eventually, patient, startServer, stateDirectory } from './support/daemons.js';
import { addressesOn, bare, ping } from './support/witness.js';

const POOLS = [IpPrefix.from('192.168.4.0/28'), IpPrefix.from('2001:db8:4::/64')];
/** The server's own addresses on its interface, which the host behind the client pings. */
const SERVER_ADDRESSES = ['192.168.4.1/32', '2001:db8:4::1/128'];
const DELEGATIONS = [IpPrefix.from('10.200.0.0/16'), IpPrefix.from('2001:db8:100::/48')];
/**
 * Long enough for the client to renew while the test works; short enough
 * that the test watches the lease run out. In the kernel lab, under software
 * emulation, one exchange can take seconds.
 */
const LEASE_TIME = KERNEL_LAB ? 30 : 10;
/** The downstream veth on the client's side, toward the host "lan". */
const DOWNSTREAM = 'v-lan';

/** The address `n` after a prefix's network address. */
const nth = (prefix: IpPrefix, n: bigint) =>
  IpAddress.fromBigInt(prefix.family, prefix.address.toBigInt() + n);

/** The prefixes of a list that lie inside a delegation pool. */
const delegated = (prefixes: readonly IpPrefix[]) =>
  prefixes.filter((p) => DELEGATIONS.some((pool) => pool.contains(p.address)));

describe('prefix delegation: a routed network behind a client', () => {
  let lab: Lab;
  let state: Awaited<ReturnType<typeof stateDirectory>>;
  let client: LabProcess;
  const hookLog = () => `${state.path}/hook.log`;

  beforeAll(async () => {
    state = await stateDirectory();
    const classic = classicTopology({ clients: ['a'], serverRoutes: POOLS.map(String) });
    lab = await Lab.create({
      ...classic,
      nodes: {
        ...classic.nodes,
        server: { ...classic.nodes.server, addresses: SERVER_ADDRESSES },
        // The client is a router for the host behind it.
        a: { forwarding: true },
        lan: { wireguard: false },
      },
      links: [...(classic.links ?? []), ['a', 'lan']],
    });
    await startServer(lab.node('server'), [
      '--leasetime',
      String(LEASE_TIME),
      ...POOLS.flatMap((pool) => ['--route', String(pool)]),
      '--delegate',
      `${DELEGATIONS[0]}/28`,
      '--delegate',
      `${DELEGATIONS[1]}/64`,
      '--state-dir',
      `${state.path}/server`,
    ]);
    client = await startClient(lab.node('a'), [
      '--state-dir',
      `${state.path}/a`,
      '--request-prefix',
      '0.0.0.0/28',
      '--request-prefix',
      '::/64',
      '--prefix-interface',
      DOWNSTREAM,
      '--prefix-hook',
      `echo "$WG_DYNAMIC_EVENT $WG_DYNAMIC_FAMILY \${WG_DYNAMIC_PREFIX:--} \${WG_DYNAMIC_OLD_PREFIX:--}" >> ${hookLog()}`,
    ]);
    await waitForLogs(client, 'lease applied', 1, patient(30_000));
  }, patient(120_000));

  afterAll(async () => {
    await lab?.destroy();
    await state?.remove();
  });

  /** The prefixes delegated to a, as the server's WireGuard allowed-ips show them. */
  const serverSide = async () =>
    delegated(
      ((await allowedIps(lab.node('server'))).get(lab.node('a').publicKey) ?? []).map((text) =>
        IpPrefix.from(text),
      ),
    );

  let prefixes: IpPrefix[] = [];

  it('delegates a /28 and a /64 into the peer, and puts their first addresses downstream', async () => {
    // The hook ran after the downstream change: once it has told both grants, all is in place.
    await eventually(
      'the hook tells both grants',
      async () => (await readFile(hookLog(), 'utf8').catch(() => '')).split('\n').length > 2,
      patient(30_000),
    );
    prefixes = await serverSide();
    expect(prefixes.map((p) => [p.family, p.length]).sort()).toEqual([
      [4, 28],
      [6, 64],
    ]);
    for (const prefix of prefixes) expect(prefix.isNetwork()).toBe(true);

    const first = (prefix: IpPrefix) => `${nth(prefix, 1n)}/${prefix.length}`;
    expect(
      delegated(await addressesOn(lab.node('a'), DOWNSTREAM))
        .map(String)
        .sort(),
    ).toEqual(prefixes.map(first).sort());
    const told = (await readFile(hookLog(), 'utf8')).trim().split('\n').sort();
    expect(told).toEqual(prefixes.map((p) => `grant ${p.family} ${p} -`).sort());
  });

  it('carries traffic from a host numbered from the prefixes to the server, both families', async () => {
    const lan = lab.node('lan');
    for (const prefix of prefixes) {
      const gateway = nth(prefix, 1n);
      const host = nth(prefix, 2n);
      await lan.ip('address', 'add', `${host}/${prefix.length}`, 'dev', 'v-a', 'nodad');
      await lan.ip(`-${prefix.family}`, 'route', 'add', 'default', 'via', String(gateway));
      const to = bare(SERVER_ADDRESSES[prefix.family === 4 ? 0 : 1] as string);
      const answer = await ping(lan, String(host), to);
      expect(answer.ok, answer.output).toBe(true);
    }
  });

  it(
    'takes the prefixes out of allowed-ips and off the downstream interface when the lease runs out',
    async () => {
      // The tunnel's underlay goes down: the client can no longer renew.
      await lab.node('server').ip('link', 'set', 'v-a', 'down');
      await eventually(
        'the prefixes leave the server’s allowed-ips',
        async () => (await serverSide()).length === 0,
        patient(60_000),
      );
      await eventually(
        'the downstream addresses go',
        async () => delegated(await addressesOn(lab.node('a'), DOWNSTREAM)).length === 0,
        patient(60_000),
      );
      await eventually(
        'the hook tells both losses',
        async () =>
          (await readFile(hookLog(), 'utf8')).split('\n').filter((l) => l.startsWith('loss '))
            .length === 2,
        patient(30_000),
      );
      const losses = (await readFile(hookLog(), 'utf8'))
        .trim()
        .split('\n')
        .filter((line) => line.startsWith('loss '))
        .sort();
      expect(losses).toEqual(prefixes.map((p) => `loss ${p.family} - ${p}`).sort());
    },
    patient(180_000),
  );
});
