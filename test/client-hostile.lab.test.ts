// wg-dynamic-client facing a hostile or broken server: a scripted responder
// in the server's namespace answers with the bytes each case names. Whatever
// it sends, the client changes nothing on its interface and backs off.
import { Lab, type LabNode, type LabProcess } from '@wg-dynamic/lab';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  interfaceView,
  KERNEL_LAB,
  LAB_TEST_TIMEOUT_MS,
  logs,
  requestsSeen,
  script,
  startClient,
  startResponder,
  waitForLogs,
} from './support/client.js';
import { stateDirectory } from './support/daemons.js';

const LEASE = 'leasestart={{NOW}}\nleasetime=8\n';
const GOOD = `ip=10.77.1.5/32\nip=fd77:0:0:1::5/128\n${LEASE}errno=0\n\n`;

/** Answers that must be refused as a whole: [case, the bytes, the client's extra arguments]. */
const REFUSED: ReadonlyArray<readonly [string, string, readonly string[]]> = [
  ['a prefix that is not /32', `ip=10.77.1.5/24\n${LEASE}errno=0\n\n`, []],
  ['a prefix that is not /128', `ip=fd77:0:0:1::5/64\n${LEASE}errno=0\n\n`, []],
  ['a link-local address', `ip=10.77.1.5/32\nip=fe80::5/128\n${LEASE}errno=0\n\n`, []],
  ['a multicast address', `ip=224.0.0.5/32\nip=fd77:0:0:1::5/128\n${LEASE}errno=0\n\n`, []],
  ['an IPv6 multicast address', `ip=ff02::1/128\n${LEASE}errno=0\n\n`, []],
  ['a loopback address', `ip=127.0.0.2/32\n${LEASE}errno=0\n\n`, []],
  ['the unspecified address', `ip=0.0.0.0/32\n${LEASE}errno=0\n\n`, []],
  ['an address of a family not asked for', GOOD, ['--no-ipv4']],
  ['a link-local route', `ip=10.77.1.5/32\n${LEASE}ext=route\nroute=fe80::/64\nerrno=0\n\n`, []],
  ['a lease without times', 'ip=10.77.1.5/32\nerrno=0\n\n', []],
  ['a NUL byte', `ip=10.77.1.5/32\n${LEASE}errno=0\0\n\n`, []],
  ['a line over 4096 bytes', `ip=10.77.1.5/32\n${LEASE}x=${'y'.repeat(5000)}\nerrno=0\n\n`, []],
  ['a message over 64 KiB', `ip=10.77.1.5/32\n${LEASE}${'x=y\n'.repeat(20_000)}errno=0\n\n`, []],
  ['errno 1', 'errno=1\nerrmsg=Invalid request\n\n', []],
];

describe('wg-dynamic-client facing a hostile server', { timeout: LAB_TEST_TIMEOUT_MS }, () => {
  let lab: Lab;
  let client: LabNode;
  let responder: LabProcess;
  let state: Awaited<ReturnType<typeof stateDirectory>>;

  beforeAll(async () => {
    state = await stateDirectory();
    lab = await Lab.create({
      nodes: { server: { linkLocal: 'fe80::/64' }, client: {} },
      links: [['server', 'client']],
      peers: [
        { node: 'server', peer: 'client' },
        { node: 'client', peer: 'server', allowedIps: ['0.0.0.0/0', '::/0'] },
      ],
    });
    client = lab.node('client');
    responder = await startResponder(lab.node('server'));
  }, LAB_TEST_TIMEOUT_MS);

  afterAll(async () => {
    await lab?.destroy();
    await state?.remove();
  });

  /** Runs a client until it has refused `attempts` answers and backed off; returns it, stopped. */
  async function refuses(args: readonly string[], attempts: number): Promise<LabProcess> {
    const child = await startClient(client, ['--state-dir', state.path, ...args]);
    try {
      const backoffs = await waitForLogs(child, 'backing off', attempts);
      expect(backoffs.map((record) => record.failures)).toEqual(
        Array.from({ length: attempts }, (_, i) => i + 1),
      );
    } finally {
      child.kill('SIGTERM');
    }
    expect((await child.exited).code).toBe(0);
    return child;
  }

  // What the client makes of the bytes does not depend on the WireGuard
  // implementation: the kernel lab runs one case of each kind.
  const refused = KERNEL_LAB
    ? REFUSED.filter(([name]) => ['a link-local address', 'a line over 4096 bytes'].includes(name))
    : REFUSED;
  it.each(refused)('refuses %s, changes nothing and backs off', async (_, answer, args) => {
    const before = await interfaceView(client);
    const seen = requestsSeen(responder).length;
    script(responder, { mode: 'answer', text: answer });
    const child = await refuses(args, 2);
    expect(requestsSeen(responder).length - seen).toBeGreaterThanOrEqual(2);
    expect(logs(child, /^(adding|removing) (address|route)$/)).toEqual([]);
    expect(await interfaceView(client)).toEqual(before);
  });

  it.skipIf(KERNEL_LAB).each([
    ['never answers', { mode: 'silent' } as const, 1],
    ['answers without end', { mode: 'endless' } as const, 2],
    ['closes without answering', { mode: 'close' } as const, 2],
  ])('a server that %s: nothing changes, the client backs off', async (_, how, attempts) => {
    const before = await interfaceView(client);
    script(responder, how);
    const child = await refuses([], attempts);
    expect(logs(child, /^(adding|removing) (address|route)$/)).toEqual([]);
    expect(await interfaceView(client)).toEqual(before);
  });

  it('gives up on a server the tunnel cannot reach, and connects as soon as it can', async () => {
    // The server forgets the client's peer: the client's packets, its SYN
    // included, go nowhere (no handshake), as with a server that is offline.
    const server = lab.node('server');
    script(responder, { mode: 'answer', text: GOOD });
    await server.wg('set', 'wg0', 'peer', client.publicKey, 'remove');
    const child = await startClient(client, ['--state-dir', state.path]);
    try {
      // Each attempt times out on its own. An attempt given up that kept its
      // socket (SYN_SENT, retried by the kernel for two minutes) would make
      // the next one fail at once with EADDRNOTAVAIL: same four-tuple.
      const timedOut = await waitForLogs(child, 'backing off', 2);
      for (const record of timedOut) {
        expect(record.reason).toMatch(/no connection to \[fe80::%wg0\]:970 within/);
      }
      await server.wg(
        'set',
        'wg0',
        'peer',
        client.publicKey,
        'allowed-ips',
        `${client.linkLocal}/128`,
        'endpoint',
        `${client.underlayAddress('server')}:${client.listenPort}`,
      );
      await waitForLogs(child, 'lease applied');
      expect(logs(child, 'backing off').map((r) => String(r.reason))).not.toContainEqual(
        expect.stringContaining('EADDRNOTAVAIL'),
      );
    } finally {
      child.kill('SIGTERM');
    }
    expect((await child.exited).code).toBe(0);
  });

  it('keeps a lease it holds when the renewal is answered with garbage', async () => {
    const before = await interfaceView(client);
    script(responder, { mode: 'answer', text: GOOD });
    const child = await startClient(client, ['--state-dir', state.path]);
    try {
      await waitForLogs(child, 'lease applied');
      const bound = await interfaceView(client);
      expect(bound.addresses).toContain('10.77.1.5/32');
      expect(bound.addresses).toContain('fd77:0:0:1::5/128');
      script(responder, {
        mode: 'answer',
        text: `ip=10.77.1.9/32\nip=ff05::9/128\n${LEASE}errno=0\n\n`,
      });
      await waitForLogs(child, "refused the server's answer; nothing was changed");
      // Refused at renewal: the lease held (still running) stays as it was.
      expect(await interfaceView(client)).toEqual(bound);
    } finally {
      child.kill('SIGTERM');
    }
    expect((await child.exited).code).toBe(0);
    expect(await interfaceView(client)).toEqual(before);
  });
});
