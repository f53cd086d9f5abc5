// wg-quick with `Address = fe80::…/128, auto`, for real: the project's
// wrapper (wg-quick/wg-quick) ahead of Debian's wg-quick, a client node with
// no WireGuard interface of the lab's, a configuration file like issue 6's
// example, and wg-dynamic-client started and stopped by the wrapper. In the
// userspace lab wg-quick runs wireguard-go; in the kernel lab, the module.
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { IpPrefix } from '@wg-dynamic/ip';
import { Lab, type LabNode, runCommand } from '@wg-dynamic/lab';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  allowedIps,
  CLIENT_BIN,
  eventually,
  patient,
  startServer,
  stateDirectory,
} from './support/daemons.js';
import { addressesOn, bare, leasedIn, ping, routes, rules } from './support/witness.js';

const WRAPPER = fileURLToPath(new URL('../wg-quick/wg-quick', import.meta.url));
const REAL_WG_QUICK = '/usr/bin/wg-quick';
const POOLS = [IpPrefix.from('10.22.1.0/24'), IpPrefix.from('fd22:0:0:1::/64')];
/** Addresses on the server's side of the tunnel, reached through wg-quick's default routes. */
const SERVER_V4 = '10.22.0.1';
const SERVER_V6 = 'fd22::1';

/** The processes running in a node's network namespace, with their command lines. */
async function processesIn(node: LabNode): Promise<string[]> {
  const listed = await runCommand(['ip', 'netns', 'pids', node.netns], { check: true });
  const pids = listed.stdout.split(/\s+/).filter(Boolean);
  const lines: string[] = [];
  for (const pid of pids) {
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmdline !== '') lines.push(`${pid} ${cmdline.split('\0').join(' ').trim()}`);
  }
  return lines;
}

/** What wg-quick may leave behind in a node: links, rules, routes of every table, nftables tables. */
async function footprint(node: LabNode) {
  const links = JSON.parse(await node.ip('-j', 'link', 'show')) as Array<{ ifname: string }>;
  const tables = await node.exec('nft', ['list', 'tables'], { check: true });
  return {
    links: links.map((link) => link.ifname).sort(),
    rules: await rules(node),
    routes: (await routes(node, 'all'))
      .map((r) => `${r.dst} ${r.dev ?? ''} ${r.table ?? 'main'}`)
      .sort(),
    nftables: tables.stdout.trim(),
  };
}

describe('wg-quick with Address = …, auto', () => {
  let lab: Lab;
  let state: Awaited<ReturnType<typeof stateDirectory>>;
  let dir: string;
  let client: LabNode;

  beforeAll(async () => {
    state = await stateDirectory();
    lab = await Lab.create({
      nodes: {
        server: {
          linkLocal: 'fe80::/64',
          addresses: [`${SERVER_V4}/32`, `${SERVER_V6}/128`],
          // The pools, and the way back to the client's leased addresses.
          routes: POOLS.map(String),
        },
        // wg-quick makes this node's interface.
        client: { wireguard: false },
      },
      links: [['server', 'client']],
      // The client makes contact: the server learns its endpoint from the handshake.
      peers: [{ node: 'server', peer: 'client', endpoint: false }],
    });
    client = lab.node('client');
    // The footprint compared before and after must not change on its own: the
    // veth's link-local address comes once both ends are up, and its local
    // route once its duplicate address detection is done.
    await eventually("the client node's veth has its link-local address", async () => {
      const shown = await client.ip(
        '-6',
        '-o',
        'address',
        'show',
        'dev',
        'v-server',
        'scope',
        'link',
      );
      return shown.includes('inet6 fe80:') && !shown.includes('tentative');
    });
    await startServer(lab.node('server'), ['--state-dir', `${state.path}/server`]);
  }, patient(120_000));

  afterAll(async () => {
    await lab?.destroy();
    await state?.remove();
  });

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wg-quick-lab-'));
  }, patient(120_000));

  afterEach(async () => {
    // A failed test may leave the interface up: take it down with the real wg-quick.
    if ((await client.exec('ip', ['link', 'show', 'dev', 'wg0'])).code === 0) {
      await client.exec(REAL_WG_QUICK, ['down', join(dir, 'run/quick/wg0.conf')], { env: env() });
      await client.exec('ip', ['link', 'del', 'wg0']);
    }
    await rm(dir, { recursive: true, force: true });
  }, patient(120_000));

  /** wg-quick's environment: the client through a launcher, state and pid files in the test's directory. */
  const env = (): NodeJS.ProcessEnv => {
    const { LOG_LEVEL: _, ...rest } = process.env;
    return {
      ...rest,
      WG_DYNAMIC_CLIENT: join(dir, 'wg-dynamic-client'),
      WG_DYNAMIC_RUN_DIRECTORY: join(dir, 'run'),
      ...(lab.backend === 'userspace' ? { WG_QUICK_USERSPACE_IMPLEMENTATION: 'wireguard-go' } : {}),
    };
  };

  /** A configuration file for the client node, named for its interface, private to root. */
  async function configuration(address: string, more = ''): Promise<string> {
    const server = lab.node('server');
    const path = join(dir, 'wg0.conf');
    await writeFile(
      path,
      `[Interface]
PrivateKey = ${client.privateKey.toBase64()}
Address = ${address}
${more}
[Peer]
PublicKey = ${server.publicKey}
AllowedIPs = 0.0.0.0/0, ::/0
Endpoint = ${server.underlayAddress('client')}:${server.listenPort}
`,
      { mode: 0o600 },
    );
    // The client, as the wrapper starts it: its logs in a file (a daemon must not hold wg-quick's pipes).
    const launcher = join(dir, 'wg-dynamic-client');
    await writeFile(
      launcher,
      `#!/bin/sh\nexec '${process.execPath}' '${CLIENT_BIN}' --log-level debug --state-dir '${dir}/state' "$@" >>'${dir}/client.log' 2>&1\n`,
    );
    await chmod(launcher, 0o755);
    return path;
  }

  const wgQuick = async (program: string, command: 'up' | 'down', file: string) => {
    const result = await client.exec(program, [command, file], {
      env: env(),
      timeoutMs: patient(60_000),
    });
    const log = await readFile(join(dir, 'client.log'), 'utf8').catch(() => '(no client log)');
    expect(result.code, `${program} ${command}:\n${result.stderr}\nclient log:\n${log}`).toBe(0);
    return result.stderr;
  };

  it(
    'comes up with leased addresses, carries traffic, and goes down leaving nothing behind',
    async () => {
      const before = await footprint(client);
      expect(before.links).not.toContain('wg0');
      const file = await configuration(`${client.linkLocal}/128, auto`);

      await wgQuick(WRAPPER, 'up', file);
      const pidFile = join(dir, 'run/wg0.pid');
      const pid = Number((await readFile(pidFile, 'utf8')).trim());
      expect((await processesIn(client)).find((line) => line.startsWith(`${pid} `))).toContain(
        'wg-dynamic-client',
      );

      let leased = leasedIn(await addressesOn(client), POOLS);
      await eventually('the interface carries a leased address of each family', async () => {
        leased = leasedIn(await addressesOn(client), POOLS);
        return leased.v4.length === 1 && leased.v6.length === 1;
      });
      // The configured link-local address, the leases, and no other address.
      expect((await addressesOn(client)).map(String).sort()).toEqual(
        [`${client.linkLocal}/128`, ...leased.v4, ...leased.v6].sort(),
      );
      expect((await allowedIps(lab.node('server'))).get(client.publicKey)?.sort()).toEqual(
        [`${client.linkLocal}/128`, ...leased.v4, ...leased.v6].sort(),
      );
      // Through wg-quick's default routes, from the leased addresses.
      for (const [from, to] of [
        [bare(leased.v4[0] as string), SERVER_V4],
        [bare(leased.v6[0] as string), SERVER_V6],
      ] as const) {
        const result = await ping(client, from, to);
        expect(result.ok, result.output).toBe(true);
      }

      const down = await wgQuick(WRAPPER, 'down', file);
      expect(down).toContain(`[#] kill -TERM ${pid}`);
      await eventually(
        'no process is left in the node',
        async () => (await processesIn(client)).length === 0,
      );
      await expect(readFile(pidFile)).rejects.toMatchObject({ code: 'ENOENT' });
      await expect(readFile(join(dir, 'run/quick/wg0.conf'))).rejects.toMatchObject({
        code: 'ENOENT',
      });
      expect(await footprint(client)).toEqual(before);
      // The client took its leases away before it exited.
      const log = await readFile(join(dir, 'client.log'), 'utf8');
      expect(log).toContain('"msg":"lease removed from the interface"');
    },
    patient(120_000),
  );

  it(
    'with SaveConfig = true, down saves the interface into the configuration, auto kept and no lease',
    async () => {
      const file = await configuration(`${client.linkLocal}/128, auto`, 'SaveConfig = true\n');
      await wgQuick(WRAPPER, 'up', file);
      await eventually('the interface carries a leased address of each family', async () => {
        const leased = leasedIn(await addressesOn(client), POOLS);
        return leased.v4.length === 1 && leased.v6.length === 1;
      });
      // What the interface holds now, to be saved: a port chosen at random.
      await client.wg('set', 'wg0', 'listen-port', '51999');
      await wgQuick(WRAPPER, 'down', file);

      const saved = await readFile(file, 'utf8');
      const addressLines = saved.split('\n').filter((line) => /^Address\s*=/.test(line));
      expect(addressLines).toEqual([`Address = ${client.linkLocal}/128, auto`]);
      expect(saved).toMatch(/^SaveConfig = true$/m);
      expect(saved).toMatch(/^ListenPort = 51999$/m);
      expect(saved).toContain(`PublicKey = ${lab.node('server').publicKey}`);
      await expect(readFile(join(dir, 'run/quick/wg0.conf'))).rejects.toMatchObject({
        code: 'ENOENT',
      });
    },
    patient(120_000),
  );

  it(
    'hands a configuration without auto to the real wg-quick unchanged',
    async () => {
      const file = await configuration(`${client.linkLocal}/128, 10.22.9.9/32`);
      const observe = async (program: string) => {
        const up = await wgQuick(program, 'up', file);
        // The link-local address the kernel gives a TUN device is random: leave it and its route out.
        const all = (await addressesOn(client)).map(String);
        const random = all.filter((a) => /^fe80:.*\/64$/.test(a)).map((a) => `${bare(a)}/128 `);
        const before = await footprint(client);
        const seen = {
          addresses: all.filter((a) => !/^fe80:.*\/64$/.test(a)),
          footprint: {
            ...before,
            routes: before.routes.filter((r) => !random.some((prefix) => r.startsWith(prefix))),
          },
          commands: up.split('\n').filter((line) => line.startsWith('[#] ')),
          processes: (await processesIn(client)).map((line) => line.replace(/^\d+ /, '')),
        };
        const down = await wgQuick(program, 'down', file);
        return { ...seen, down: down.split('\n').filter((line) => line.startsWith('[#] ')) };
      };
      const wrapped = await observe(WRAPPER);
      const real = await observe(REAL_WG_QUICK);
      expect(wrapped).toEqual(real);
      expect(wrapped.addresses.sort()).toEqual([`${client.linkLocal}/128`, '10.22.9.9/32'].sort());
      expect(wrapped.processes.join('\n')).not.toContain('wg-dynamic-client');
      expect(wrapped.commands).toContain(`[#] ip -4 address add 10.22.9.9/32 dev wg0`);
      await expect(readFile(join(dir, 'client.log'))).rejects.toMatchObject({ code: 'ENOENT' });
    },
    patient(120_000),
  );
});
