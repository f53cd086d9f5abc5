import { readFileSync } from 'node:fs';
import { access } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { classicTopology, Lab, LabError, LabProcess, runCommand } from '@wg-dynamic/lab';
import { describe, expect, it } from 'vitest';

async function namespaces(): Promise<string[]> {
  const listed = await runCommand(['ip', 'netns', 'list'], { check: true });
  return listed.stdout.split('\n').filter((line) => line.trim() !== '');
}

/** The pids running in the lab's namespaces (wireguard-go and whatever the test started). */
async function labPids(lab: Lab): Promise<number[]> {
  const pids: number[] = [];
  for (const node of lab.nodes.values()) {
    const listed = await runCommand(['ip', 'netns', 'pids', node.netns], { check: true });
    pids.push(...listed.stdout.split(/\s+/).filter(Boolean).map(Number));
  }
  return pids;
}

/** Alive and not a zombie (an orphan that the sandbox's init has not reaped yet). */
function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** The processes among `pids` still running once those that were killed have had time to exit. */
async function survivors(pids: readonly number[]): Promise<number[]> {
  // A SIGKILLed process leaves its namespaces before it is gone from the process table.
  for (let i = 0; i < 250 && pids.some(isRunning); i++) await sleep(20);
  return pids.filter(isRunning);
}

/** Nothing of the lab is left: namespaces, processes, state directory. */
async function expectGone(lab: Lab, pids: readonly number[]): Promise<void> {
  expect((await namespaces()).filter((name) => name.includes(lab.id))).toEqual([]);
  expect(await survivors(pids)).toEqual([]);
  await expect(access(lab.stateDirectory)).rejects.toThrow();
}

/**
 * One echo request; true when the reply comes. The wait is long because a
 * first packet may have to wait for a handshake, which WireGuard retries
 * after 5 s if its first attempt is lost on a busy machine.
 */
async function ping(lab: Lab, node: string, target: string, waitSeconds = 10): Promise<boolean> {
  const result = await lab.node(node).exec('ping', ['-c', '1', '-W', String(waitSeconds), target]);
  return result.code === 0;
}

describe('Lab', () => {
  it('brings up two hosts whose tunnel carries link-local traffic both ways', async () => {
    await using lab = await Lab.create({
      nodes: { server: { linkLocal: 'fe80::/64' }, client: {} },
      links: [['server', 'client']],
    });
    const server = lab.node('server');
    const client = lab.node('client');

    // The classic wg-dynamic addresses, checked with ip(8) and wg(8) as witnesses.
    expect(await server.ip('-6', '-o', 'address', 'show', 'dev', 'wg0')).toContain(
      'inet6 fe80::/64',
    );
    expect(client.linkLocalPrefix.length).toBe(128);
    expect(client.linkLocal.isLinkLocal()).toBe(true);
    expect(await client.ip('-6', '-o', 'address', 'show', 'dev', 'wg0')).toContain(
      `inet6 ${client.linkLocal}/128`,
    );
    expect((await server.wg('show', 'wg0', 'allowed-ips')).trim()).toBe(
      `${client.publicKey}\t${client.linkLocal}/128`,
    );
    expect((await client.wg('show', 'wg0', 'allowed-ips')).trim()).toBe(
      `${server.publicKey}\tfe80::/128`,
    );
    expect((await client.wg('show', 'wg0', 'public-key')).trim()).toBe(client.publicKey);
    expect((await client.wg('show', 'wg0', 'private-key')).trim()).toBe(
      client.privateKey.toBase64(),
    );
    expect((await client.wg('show', 'wg0', 'endpoints')).trim()).toBe(
      `${server.publicKey}\t${server.underlayAddress('client')}:51820`,
    );

    expect(await ping(lab, 'client', 'fe80::%wg0')).toBe(true);
    expect(await ping(lab, 'server', `${client.linkLocal}%wg0`)).toBe(true);
    expect(await client.wg('show', 'wg0', 'latest-handshakes')).not.toMatch(/\t0$/m);
  });

  it('routes client to client through a forwarding server, and only through it', async () => {
    await using lab = await Lab.create({
      nodes: {
        server: { linkLocal: 'fe80::/64', routes: ['10.200.0.0/24', 'fd99::/64'] },
        a: { addresses: ['10.200.0.2/32', 'fd99::2/128'], routes: ['10.200.0.0/24', 'fd99::/64'] },
        b: { addresses: ['10.200.0.3/32', 'fd99::3/128'], routes: ['10.200.0.0/24', 'fd99::/64'] },
      },
      links: [
        ['server', 'a'],
        ['server', 'b'],
      ],
      peers: [
        { node: 'server', peer: 'a' },
        { node: 'server', peer: 'b' },
        { node: 'a', peer: 'server', allowedIps: ['::/0', '0.0.0.0/0'] },
        { node: 'b', peer: 'server', allowedIps: ['::/0', '0.0.0.0/0'] },
      ],
    });
    const server = lab.node('server');
    // The server's entry for a client lists the client's link-local and addresses.
    expect((await server.wg('show', 'wg0', 'allowed-ips')).split('\n')).toContain(
      `${lab.node('a').publicKey}\t${lab.node('a').linkLocal}/128 10.200.0.2/32 fd99::2/128`,
    );
    expect(await ping(lab, 'a', 'fe80::%wg0')).toBe(true);
    expect(await ping(lab, 'b', 'fe80::%wg0')).toBe(true);

    // a and b share no link: without forwarding on the server, nothing gets across.
    expect(await ping(lab, 'a', '10.200.0.3', 1)).toBe(false);
    await server.exec(
      'sysctl',
      ['-qw', 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1'],
      {
        check: true,
      },
    );
    expect(await ping(lab, 'a', '10.200.0.3')).toBe(true);
    expect(await ping(lab, 'a', 'fd99::3')).toBe(true);
    expect(await ping(lab, 'b', 'fd99::2')).toBe(true);
  });

  it('gives each node its own /run/wireguard', async () => {
    await using lab = await Lab.create(classicTopology({ clients: ['a'] }));
    for (const node of lab.nodes.values()) {
      const listed = await node.exec('ls', ['/run/wireguard'], { check: true });
      expect(listed.stdout.trim()).toBe(lab.backend === 'userspace' ? 'wg0.sock' : '');
      await access(node.uapiSocket).then(
        () => expect(lab.backend).toBe('userspace'),
        () => expect(lab.backend).toBe('kernel'),
      );
    }
  });

  it('leaves a node without WireGuard bare, for a test to bring its own interface up there', async () => {
    await using lab = await Lab.create({
      nodes: { server: { linkLocal: 'fe80::/64' }, bare: { wireguard: false } },
      links: [['server', 'bare']],
    });
    const bare = lab.node('bare');
    expect(bare.wireguard).toBe(false);
    const links = JSON.parse(await bare.ip('-j', 'link', 'show')) as Array<{ ifname: string }>;
    expect(links.map((link) => link.ifname).sort()).toEqual(['lo', 'v-server']);
    expect((await runCommand(['ip', 'netns', 'pids', bare.netns], { check: true })).stdout).toBe(
      '',
    );
    // The server lists it; over the underlay the node answers.
    expect(await lab.node('server').wg('show', 'wg0', 'peers')).toContain(bare.publicKey);
    const far = bare.underlayAddress('server').toString();
    expect((await lab.node('server').exec('ping', ['-c', '1', '-W', '5', far])).code).toBe(0);
  });

  it('runs processes in a node, captures their lines, and stops them on destroy', async () => {
    const lab = await Lab.create(classicTopology({ clients: ['a'] }));
    let pids: number[] = [];
    try {
      const client = lab.node('a');
      const child = await client.spawn('sh', [
        '-c',
        'ip -br link show dev wg0; echo ready >&2; exec sleep 60',
      ]);
      expect(await child.waitForLine(/^ready$/, 10_000, 'stderr')).toBe('ready');
      expect(child.stdoutLines.join('\n')).toMatch(/^wg0\s/);
      await expect(child.waitForLine(/never/, 50)).rejects.toMatchObject({ code: 'TIMEOUT' });

      const failed = client.exec('ip', ['link', 'show', 'dev', 'nonexistent0'], { check: true });
      await expect(failed).rejects.toMatchObject({
        code: 'COMMAND_FAILED',
        message: expect.stringMatching(
          /\[a\] ip link show dev nonexistent0 exited with status 1:\n.*does not exist/,
        ),
      });
      pids = await labPids(lab);
      expect(pids).toContain(child.pid);

      await lab.destroy();
      expect(await child.exited).toEqual({ code: null, signal: 'SIGTERM' });
      await expectGone(lab, pids);
      await lab.destroy(); // idempotent
      await expect(client.exec('true')).rejects.toMatchObject({ code: 'DESTROYED' });
    } finally {
      await lab.destroy();
    }
  });

  it('leaves nothing behind when the code using it throws', async () => {
    let lab: Lab | undefined;
    let pids: number[] = [];
    const failing = async () => {
      await using inner = await Lab.create(
        classicTopology({ clients: ['a', 'b'], forwarding: true }),
      );
      lab = inner;
      await inner.node('b').spawn('sleep', ['60']);
      pids = await labPids(inner);
      throw new Error('the test failed here');
    };
    await expect(failing()).rejects.toThrow('the test failed here');
    expect(lab).toBeDefined();
    expect(pids.length).toBeGreaterThanOrEqual(1);
    await expectGone(lab as Lab, pids);
  });

  it('rolls back a set-up that fails half-way, and says which command failed', async () => {
    const before = await namespaces();
    // The kernel refuses a loopback address on any other interface (EADDRNOTAVAIL); by then
    // the namespaces, veths and wireguard-go processes exist.
    const attempt = Lab.create({
      nodes: { server: { linkLocal: 'fe80::/64' }, a: { addresses: ['::1/128'] } },
      links: [['server', 'a']],
    });
    await expect(attempt).rejects.toBeInstanceOf(LabError);
    await expect(attempt).rejects.toMatchObject({
      code: 'COMMAND_FAILED',
      message: expect.stringContaining('address add ::1/128 dev wg0'),
    });
    expect(await namespaces()).toEqual(before);
  });

  it('cleans up after a run that was killed, and leaves live labs alone', async () => {
    await using live = await Lab.create(classicTopology({ clients: ['a'] }));
    // A separate Node process makes a lab and is killed with SIGKILL: no teardown runs.
    const script = `
      import { Lab, classicTopology } from '@wg-dynamic/lab';
      const lab = await Lab.create(classicTopology({ clients: ['a'] }));
      console.log('lab ' + lab.id);
      setInterval(() => {}, 1000);
    `;
    const killed = await LabProcess.start(['node', '--input-type=module', '-e', script]);
    const line = await killed.waitForLine(/^lab [0-9a-f]{8}$/, 30_000, 'stdout');
    const id = line.slice(4);
    killed.kill('SIGKILL');
    await killed.exited;
    const left = (await namespaces()).filter((name) => name.includes(id));
    expect(left).toHaveLength(2);
    const orphans: number[] = [];
    for (const netns of left) {
      const listed = await runCommand(['ip', 'netns', 'pids', netns], { check: true });
      orphans.push(...listed.stdout.split(/\s+/).filter(Boolean).map(Number));
    }
    // wireguard-go outlives its parent; the kernel backend has no processes.
    expect(orphans).toHaveLength(live.backend === 'userspace' ? 2 : 0);

    expect(await Lab.cleanupStale()).toEqual([id]);
    expect((await namespaces()).filter((name) => name.includes(id))).toEqual([]);
    expect(await survivors(orphans)).toEqual([]);
    // The live lab of this process still works.
    expect(await ping(live, 'a', 'fe80::%wg0')).toBe(true);
  });
});
