// wg-dynamic-client facing a hostile or broken server: a scripted responder
// in the server's namespace answers with the bytes each case names. Whatever
// it sends, the client changes nothing on its interface and backs off.
import { Lab, type LabNode, type LabProcess } from '@wg-dynamic/lab';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  interfaceView,
  logs,
  requestsSeen,
  script,
  startClient,
  startResponder,
  temporaryDirectory,
  waitForLogs,
} from '../packages/client/test/support/lab-client.js';

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

describe('wg-dynamic-client facing a hostile server', () => {
  let lab: Lab;
  let client: LabNode;
  let responder: LabProcess;
  let state: Awaited<ReturnType<typeof temporaryDirectory>>;

  beforeAll(async () => {
    state = await temporaryDirectory();
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
  });

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

  it.each(REFUSED)('refuses %s, changes nothing and backs off', async (_, answer, args) => {
    const before = await interfaceView(client);
    const seen = requestsSeen(responder).length;
    script(responder, { mode: 'answer', text: answer });
    const child = await refuses(args, 2);
    expect(requestsSeen(responder).length - seen).toBeGreaterThanOrEqual(2);
    expect(logs(child, /^(adding|removing) (address|route)$/)).toEqual([]);
    expect(await interfaceView(client)).toEqual(before);
  });

  it.each([
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
