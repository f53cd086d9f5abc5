import { access } from 'node:fs/promises';
import { IpPrefix } from '@wg-dynamic/ip';
import {
  backendFromEnvironment,
  classicTopology,
  Lab,
  type LabProcess,
  nodeScript,
  nodeSetupSteps,
  runCommand,
  setupScript,
} from '@wg-dynamic/lab';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHURN_CLIENT, parseChurnLog } from './support/churn.js';
import {
  allowedIps,
  eventually,
  exchange,
  fields,
  startServer,
  stateDirectory,
} from './support/daemons.js';
import { logLine } from './support/server-log.js';

const V4_POOL = IpPrefix.from('192.168.79.0/28');
const V6_POOL = IpPrefix.from('2001:db8:79::/124');
const FIRST = 'request_ip=1\nip=0.0.0.0/32\nip=::/128\nleasestart=0\nleasetime=0\n\n';
/** The kernel lab runs under emulation: what takes a second here takes ten there. */
const SLOW = backendFromEnvironment() === 'kernel' ? 10 : 1;

/** Makes the server node's WireGuard interface again, as the lab first made it: same key, peers, addresses. */
async function recreateInterface(lab: Lab): Promise<void> {
  const node = lab.node('server');
  const plan = lab.plan.nodes.find((candidate) => candidate.name === 'server');
  if (!plan) throw new Error('the lab has no server node');
  if (lab.backend === 'kernel') {
    await node.ip('link', 'add', node.interface, 'type', 'wireguard');
  } else {
    await node.spawn('wireguard-go', ['-f', node.interface], {
      env: { ...process.env, LOG_LEVEL: 'error' },
    });
    await eventually(
      "wireguard-go's control socket",
      () =>
        access(node.uapiSocket).then(
          () => true,
          () => false,
        ),
      10_000 * SLOW,
    );
  }
  const steps = nodeSetupSteps(
    lab.plan,
    plan,
    `${lab.stateDirectory}/server/private.key`,
    (name) => lab.node(name).publicKey,
  );
  await runCommand(nodeScript(node.netns, node.uapiDirectory, setupScript(steps.wireguard)), {
    check: true,
  });
  // The clients still hold sessions with the interface that is gone: a ping
  // from the new one makes it shake hands with each of them now, not when
  // their old sessions time out.
  for (const peer of plan.peers) {
    const linkLocal = lab.node(peer.peer).linkLocal;
    await node.exec(
      'ping',
      ['-c', '1', '-w', String(10 * SLOW), `${linkLocal}%${node.interface}`],
      {
        check: true,
      },
    );
  }
}

describe('wg-dynamic-server when its WireGuard interface vanishes', () => {
  let lab: Lab;
  let state: Awaited<ReturnType<typeof stateDirectory>>;

  beforeAll(async () => {
    state = await stateDirectory();
    lab = await Lab.create(
      classicTopology({
        clients: ['a', 'b'],
        serverRoutes: [V4_POOL.toString(), V6_POOL.toString()],
      }),
    );
  });

  afterAll(async () => {
    await lab?.destroy();
    await state?.remove();
  });

  it('exits with a clear message in the middle of traffic, and its journal replays cleanly on a new interface', async () => {
    let server: LabProcess = await startServer(lab.node('server'), ['--state-dir', state.path]);
    const quiet = fields((await exchange(lab.node('b'), FIRST)).answer).get('ip') ?? [];
    expect(quiet).toHaveLength(2);

    const a = lab.node('a');
    const churn = await a.spawn('node', [
      CHURN_CLIENT,
      a.interface,
      a.linkLocal.toString(),
      V4_POOL.address.toString(),
      String(V4_POOL.size - 1n),
      '2001:db8:79::',
      String(V6_POOL.size),
      '100000',
    ]);
    await eventually(
      'a few dozen grants',
      async () => parseChurnLog(churn.stdoutLines).grants >= 40,
      30_000 * SLOW,
    );

    await lab.node('server').ip('link', 'del', 'wg0');
    const exit = await Promise.race([
      server.exited,
      new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 30_000 * SLOW)),
    ]);
    expect(exit, `the server did not exit:\n${server.outputTail(20)}`).toEqual({
      code: 1,
      signal: null,
    });
    expect(logLine(server, /^exiting: /)?.msg).toBe('exiting: wg0 was removed');
    await churn.stop();

    await recreateInterface(lab);
    server = await startServer(lab.node('server'), ['--state-dir', state.path]);
    const read = logLine(server, /^lease journal read$/);
    expect(read).toMatchObject({ damaged: [] });
    expect(read).not.toHaveProperty('torn');
    const restored = logLine(server, /^leases restored/);
    // The new interface holds none of the leases: they all go back into allowed-ips.
    expect(restored).toMatchObject({ expired: 0, peerRemoved: 0, revoked: 0, cleared: 0 });
    expect(restored?.reapplied).toBe(restored?.restored);
    expect(restored?.restored).toBeGreaterThanOrEqual(2);

    const renewed = await exchange(
      lab.node('b'),
      `request_ip=1\n${quiet.map((ip) => `ip=${ip}\n`).join('')}leasestart=0\nleasetime=0\n\n`,
    );
    expect(fields(renewed.answer).get('ip')).toEqual(quiet);
    expect((await allowedIps(lab.node('server'))).get(lab.node('b').publicKey)).toEqual(
      expect.arrayContaining(quiet),
    );
  });
});
