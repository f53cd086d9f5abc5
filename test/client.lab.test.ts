// wg-dynamic-client end to end: the real client against the real server,
// through real WireGuard, with ip(8) as the witness of what the interface
// carries. Leases are 6 s long so that renewals and expiry happen quickly.
import { readFile } from 'node:fs/promises';
import { IpPrefix } from '@wg-dynamic/ip';
import { Lab, type LabNode, type LabProcess } from '@wg-dynamic/lab';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  type InterfaceView,
  interfaceView,
  KERNEL_LAB,
  LAB_TEST_TIMEOUT_MS,
  LAB_WAIT_MS,
  logs,
  startClient,
  waitForLogs,
} from './support/client.js';
import { CLIENT_BIN, eventually, SERVER_BIN, stateDirectory } from './support/daemons.js';

const V4_POOL = IpPrefix.from('10.77.1.0/24');
const V6_POOL = IpPrefix.from('fd77:0:0:1::/64');
const PUSHED = ['10.77.0.0/16', 'fd77::/48'];
/** Pushed too, but holds the server's endpoint (the lab's veth underlay): never installed. */
const OVER_ENDPOINT = '10.254.0.0/16';
const SERVER_V4 = '10.77.0.1';
const SERVER_V6 = 'fd77::1';
const OUR_MARK = 'proto 87';
/** A lease is held and applied: granted, or confirmed after a restart. */
const BOUND = /^lease (granted|renewed)$/;

/** The leased addresses on the client's interface, as ip(8) shows them. */
function leased(view: InterfaceView): { v4: string[]; v6: string[] } {
  const hosts = view.addresses.map((text) => IpPrefix.from(text));
  return {
    v4: hosts.filter((p) => V4_POOL.contains(p.address) && p.length === 32).map(String),
    v6: hosts.filter((p) => V6_POOL.contains(p.address) && p.length === 128).map(String),
  };
}

function pushedRoutes(view: InterfaceView): string[] {
  return view.routes
    .filter((route) => route.endsWith(OUR_MARK))
    .map((r) => r.split(' ')[0] as string);
}

async function ping(node: LabNode, from: string, to: string): Promise<boolean> {
  const result = await node.exec('ping', ['-c', '1', '-W', '2', '-I', from, to]);
  return result.code === 0;
}

describe('wg-dynamic-client against wg-dynamic-server', { timeout: LAB_TEST_TIMEOUT_MS }, () => {
  let lab: Lab;
  let client: LabNode;
  let server: LabProcess | undefined;
  let serverState: Awaited<ReturnType<typeof stateDirectory>>;
  let clientState: Awaited<ReturnType<typeof stateDirectory>>;

  const startServer = async () => {
    const node = lab.node('server');
    const child = await node.spawn(process.execPath, [
      SERVER_BIN,
      '--leasetime',
      '6',
      '--pool',
      V4_POOL.toString(),
      '--pool',
      V6_POOL.toString(),
      ...[...PUSHED, OVER_ENDPOINT].flatMap((route) => ['--route', route]),
      '--state-dir',
      serverState.path,
      node.interface,
    ]);
    await child.waitForLine(/"msg":"listening"/, LAB_WAIT_MS);
    server = child;
  };
  const start = (...args: string[]) =>
    startClient(client, ['--state-dir', clientState.path, ...args]);

  beforeAll(async () => {
    serverState = await stateDirectory();
    clientState = await stateDirectory();
    lab = await Lab.create({
      nodes: {
        server: {
          linkLocal: 'fe80::/64',
          addresses: [`${SERVER_V4}/32`, `${SERVER_V6}/128`],
          // The way back to the clients' leased addresses.
          routes: [V4_POOL.toString(), V6_POOL.toString()],
        },
        client: {},
      },
      links: [['server', 'client']],
      peers: [
        { node: 'server', peer: 'client' },
        { node: 'client', peer: 'server', allowedIps: ['0.0.0.0/0', '::/0'] },
      ],
    });
    client = lab.node('client');
    // Without TCP timestamps, a connection this client closed first would
    // block the same four-tuple for 60 s (TIME_WAIT): renewals prove it does not.
    await client.exec('sysctl', ['-qw', 'net.ipv4.tcp_timestamps=0'], { check: true });
    await startServer();
  }, LAB_TEST_TIMEOUT_MS);

  // A test that failed while the server was stopped must not fail the next ones.
  beforeEach(async () => {
    if (server?.exitStatus !== undefined) await startServer();
  }, LAB_TEST_TIMEOUT_MS);

  afterAll(async () => {
    await lab?.destroy();
    await serverState?.remove();
    await clientState?.remove();
  });

  it('applies a lease, reaches the server from it, renews it, and SIGTERM leaves the interface as it was', async () => {
    // An operator's address, and no route to fe80::/128: the client adds one and removes only that.
    await client.ip('address', 'add', '10.99.0.1/32', 'dev', 'wg0');
    await client.ip('-6', 'route', 'del', 'fe80::/128', 'dev', 'wg0');
    const before = await interfaceView(client);

    const child = await start();
    const [granted] = await waitForLogs(child, 'lease granted');
    await waitForLogs(child, 'lease applied');
    const view = await interfaceView(client);
    const { v4, v6 } = leased(view);
    expect(v4).toHaveLength(1);
    expect(v6).toHaveLength(1);
    expect(granted?.addresses).toEqual([v4[0]?.split('/')[0], v6[0]?.split('/')[0]]);
    expect(pushedRoutes(view).sort()).toEqual(['10.77.0.0/16', 'fd77::/48', 'fe80::']);
    expect(view.addresses).toContain('10.99.0.1/32');
    // The route over the tunnel's own endpoint is left out, and said so.
    const [skipped] = logs(child, /^skipping a pushed route that contains a peer's endpoint/);
    expect(skipped).toMatchObject({
      route: OVER_ENDPOINT,
      endpoint: lab.node('server').underlayAddress('client').toString(),
    });

    // Through the pushed routes, from the leased addresses, to the server's side.
    expect(await ping(client, v4[0]?.split('/')[0] as string, SERVER_V4)).toBe(true);
    expect(await ping(client, v6[0]?.split('/')[0] as string, SERVER_V6)).toBe(true);

    // Renewals keep the addresses, and none fails (same four-tuple each time).
    await waitForLogs(child, 'lease renewed', 2);
    expect(leased(await interfaceView(client))).toEqual({ v4, v6 });
    expect(logs(child, 'backing off')).toEqual([]);

    child.kill('SIGTERM');
    expect(await child.exited).toEqual({ code: 0, signal: null });
    expect(await interfaceView(client)).toEqual(before);

    await client.ip('address', 'del', '10.99.0.1/32', 'dev', 'wg0');
    await client.ip('-6', 'route', 'add', 'fe80::/128', 'dev', 'wg0');
  });

  it('asks a restarted client for the same addresses, and still knows its own after SIGKILL', async () => {
    const before = await interfaceView(client);
    const first = await start();
    await waitForLogs(first, 'lease applied');
    const held = leased(await interfaceView(client));
    first.kill('SIGTERM');
    await first.exited;

    const state = JSON.parse(await readFile(`${clientState.path}/wg0/client.json`, 'utf8')) as {
      ask: Record<string, string>;
    };
    expect(state.ask).toEqual({
      ipv4: held.v4[0]?.split('/')[0],
      ipv6: held.v6[0]?.split('/')[0],
    });

    const second = await start();
    const [asked] = await waitForLogs(second, /^(requesting a lease|renewing the lease)$/);
    expect(asked).toMatchObject({
      ipv4: held.v4[0]?.split('/')[0],
      ipv6: held.v6[0]?.split('/')[0],
    });
    await waitForLogs(second, /^lease (granted|renewed)$/);
    expect(leased(await interfaceView(client))).toEqual(held);
    second.kill('SIGKILL');
    await second.exited;

    // Killed: its addresses stay. The next run recognises them as its own.
    expect(leased(await interfaceView(client))).toEqual(held);
    const third = await start();
    await waitForLogs(third, /^lease (granted|renewed)$/);
    expect(leased(await interfaceView(client))).toEqual(held);
    third.kill('SIGTERM');
    expect((await third.exited).code).toBe(0);
    expect(await interfaceView(client)).toEqual(before);
  });

  it('backs off while the server is down, drops the lease when it runs out, and recovers when the server returns', async () => {
    const child = await start();
    await waitForLogs(child, 'lease applied');
    expect(pushedRoutes(await interfaceView(client))).toHaveLength(2);

    server?.kill('SIGTERM');
    await server?.exited;
    const failures = await waitForLogs(child, 'backing off', 2);
    expect(failures.map((record) => record.failures)).toEqual([1, 2]);
    for (const record of failures) expect(record.delayMs).toBeLessThanOrEqual(60_000);

    await waitForLogs(child, /^the lease ran out/);
    await waitForLogs(child, 'lease removed from the interface');
    const expired = await interfaceView(client);
    expect(leased(expired)).toEqual({ v4: [], v6: [] });
    expect(pushedRoutes(expired)).toEqual([]);

    const appliedBefore = logs(child, 'lease applied').length;
    await startServer();
    await waitForLogs(child, 'lease applied', appliedBefore + 1);
    const back = await interfaceView(client);
    expect(leased(back).v4).toHaveLength(1);
    expect(pushedRoutes(back).sort()).toEqual(['10.77.0.0/16', 'fd77::/48']);
    child.kill('SIGTERM');
    expect((await child.exited).code).toBe(0);
  });

  it('pauses while the link is down and asks again when it comes back up', async () => {
    const child = await start();
    await waitForLogs(child, 'lease applied');
    const held = leased(await interfaceView(client));
    // Down wipes the IPv6 addresses, the link-local one too; an operator (or
    // wg-quick) puts that back when bringing the link up again.
    await client.exec('ip', ['link', 'set', 'wg0', 'down'], { check: true });
    await waitForLogs(child, /^the link went down/);
    const requests = logs(child, /^(requesting a lease|renewing the lease)$/).length;
    await client.exec('ip', ['link', 'set', 'wg0', 'up'], { check: true });
    await client.ip('address', 'add', `${client.linkLocal}/128`, 'dev', 'wg0', 'nodad');
    await waitForLogs(child, /^the link came up/);
    await waitForLogs(child, /^(requesting a lease|renewing the lease)$/, requests + 1);
    await eventually('the lease is back on the interface', async () => {
      const view = await interfaceView(client);
      return (
        JSON.stringify(leased(view)) === JSON.stringify(held) && pushedRoutes(view).length === 3
      );
    });
    child.kill('SIGTERM');
    expect((await child.exited).code).toBe(0);
  });

  it.skipIf(KERNEL_LAB)(
    'detaches with --daemon once its checks pass, and stops through its pid file',
    async () => {
      const pidFile = `${clientState.path}/client.pid`;
      const daemon = (name: string) =>
        client.spawn(process.execPath, [
          CLIENT_BIN,
          '--daemon',
          '--pid-file',
          pidFile,
          '--state-dir',
          clientState.path,
          name,
        ]);
      // The parent returns once the child passed its checks; the child keeps
      // the parent's standard error for its logs.
      const parent = await daemon('wg0');
      expect((await parent.exited).code).toBe(0);
      const pid = Number((await readFile(pidFile, 'utf8')).trim());
      expect(pid).toBeGreaterThan(1);
      expect(pid).not.toBe(parent.pid);
      await eventually(
        'the daemon applied its lease',
        async () => leased(await interfaceView(client)).v4.length === 1,
      );
      process.kill(pid, 'SIGTERM');
      await eventually('the daemon removed its lease and its pid file', async () => {
        const gone = await readFile(pidFile, 'utf8').then(
          () => false,
          () => true,
        );
        return gone && leased(await interfaceView(client)).v4.length === 0;
      });

      // A start that fails: the parent reports the child's failure and status.
      const failed = await daemon('nope0');
      expect((await failed.exited).code).toBe(1);
      expect(failed.stderrLines.join('\n')).toContain('no WireGuard interface named nope0');
    },
  );

  it.skipIf(KERNEL_LAB)('refuses to run a second client for the same interface', async () => {
    const first = await start();
    await waitForLogs(first, 'lease applied');
    const held = leased(await interfaceView(client));
    const second = await client.exec(process.execPath, [
      CLIENT_BIN,
      '--state-dir',
      clientState.path,
      'wg0',
    ]);
    expect(second.code).toBe(1);
    expect(second.stderr).toContain(
      `another wg-dynamic-client (pid ${first.pid}) already runs for wg0`,
    );
    expect(leased(await interfaceView(client))).toEqual(held);
    first.kill('SIGTERM');
    expect((await first.exited).code).toBe(0);
  });

  it.skipIf(KERNEL_LAB)(
    'refuses to start on an interface with two link-local addresses, naming the fix',
    async () => {
      await client.ip('address', 'add', 'fe80::99/64', 'dev', 'wg0');
      const result = await client.exec(process.execPath, [
        CLIENT_BIN,
        '--state-dir',
        clientState.path,
        'wg0',
      ]);
      await client.ip('address', 'del', 'fe80::99/64', 'dev', 'wg0');
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('ip address del fe80::99/64 dev wg0');
    },
  );

  it('ends with status 0 when the interface is removed', async () => {
    const child = await start();
    await waitForLogs(child, BOUND);
    await client.ip('link', 'del', 'wg0');
    expect(await child.exited).toEqual({ code: 0, signal: null });
    expect(logs(child, 'exiting')[0]?.reason).toBe('the interface was removed');
  });
});
