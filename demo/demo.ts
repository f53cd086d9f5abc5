/**
 * The demo (the README's first command): the classic "bounce server" set-up
 * in three network namespaces joined by veth pairs, with real WireGuard and
 * the real daemons from dist/. A relay server runs wg-dynamic-server; two
 * clients, which know only the server as their peer, run wg-dynamic-client.
 * It prints what each client leased, what the server wrote into allowed-ips,
 * and a ping from one client's leased address to the other's through the
 * server; then it tears everything down.
 *
 *   scripts/demo.sh          (as root; installs what is missing, builds, runs this)
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { IpPrefix } from '@wg-dynamic/ip';
import { classicTopology, Lab, type LabNode, type LabProcess } from '@wg-dynamic/lab';

const root = fileURLToPath(new URL('../..', import.meta.url));
const SERVER = join(root, 'packages/server/dist/bin/wg-dynamic-server.js');
const CLIENT = join(root, 'packages/client/dist/bin/wg-dynamic-client.js');
const V4_POOL = IpPrefix.from('10.44.0.0/24');
const V6_POOL = IpPrefix.from('fd44::/64');
const CLIENTS = ['alice', 'bob'] as const;

const bold = (text: string) => (process.stdout.isTTY ? `\x1b[1m${text}\x1b[0m` : text);
const say = (text = '') => process.stdout.write(`${text}\n`);
let step = 0;
const heading = (text: string) => say(`\n${bold(`[${++step}/5] ${text}`)}`);

/**
 * Prints a daemon's log lines as they come, tagged with its node, in a
 * readable form, until the returned function is called.
 */
function follow(name: string, child: LabProcess, messages: RegExp): () => void {
  let shown = 0;
  const show = () => {
    child.stderrLines.slice(shown).forEach((line) => {
      shown++;
      let record: Record<string, unknown>;
      try {
        record = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      const message = String(record.msg ?? '');
      if (!messages.test(message)) return;
      const fields = ['address', 'addresses', 'pools', 'routes', 'leaseTime', 'peers']
        .filter((key) => record[key] !== undefined)
        .map(
          (key) =>
            `${key}=${Array.isArray(record[key]) ? (record[key] as unknown[]).join(',') : String(record[key])}`,
        );
      say(`  ${name.padEnd(7)}| ${message}${fields.length > 0 ? `  ${fields.join(' ')}` : ''}`);
    });
  };
  const timer = setInterval(show, 50);
  timer.unref();
  return () => {
    show();
    clearInterval(timer);
  };
}

interface Leased {
  v4: string | undefined;
  v6: string | undefined;
}

/** The leased addresses on a client's interface, read with ip(8). */
async function leased(node: LabNode): Promise<Leased> {
  const links = JSON.parse(await node.ip('-j', 'address', 'show', 'dev', node.interface)) as {
    addr_info?: { local: string; prefixlen: number }[];
  }[];
  const hosts = (links[0]?.addr_info ?? []).map((a) => IpPrefix.from(`${a.local}/${a.prefixlen}`));
  return {
    v4: hosts.find((p) => p.isHost() && V4_POOL.contains(p.address))?.toString(),
    v6: hosts.find((p) => p.isHost() && V6_POOL.contains(p.address))?.toString(),
  };
}

async function until<T>(
  what: string,
  read: () => Promise<T | undefined>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function main(): Promise<void> {
  say(bold('wg-dynamic demo'));
  say('A relay server and two clients, each in its own network namespace, joined by veth');
  say('pairs, with real WireGuard and the real wg-dynamic-server and wg-dynamic-client.');

  const state = await mkdtemp(join(tmpdir(), 'wg-dynamic-demo-'));
  heading('Building the lab');
  await using lab = await Lab.create(
    classicTopology({
      clients: [...CLIENTS],
      serverRoutes: [V4_POOL.toString(), V6_POOL.toString()],
      forwarding: true,
    }),
  );
  try {
    say(
      `  WireGuard: ${lab.backend === 'kernel' ? 'the kernel module' : 'wireguard-go (userspace)'}`,
    );
    for (const node of lab.nodes.values()) {
      const peers = node.peers.map((peer) => peer.peer).join(', ');
      say(
        `  ${node.name.padEnd(7)} wg0 ${node.linkLocalPrefix.toString().padEnd(32)} key ${node.publicKey}  peers: ${peers}`,
      );
    }
    say(
      `  pools: the routes ${V4_POOL} and ${V6_POOL} through the server's wg0; it forwards between peers`,
    );

    heading('Starting wg-dynamic-server on server, then wg-dynamic-client on alice and bob');
    const server = await lab
      .node('server')
      .spawn(process.execPath, [
        SERVER,
        '--state-dir',
        join(state, 'server'),
        '--route',
        V4_POOL.toString(),
        '--route',
        V6_POOL.toString(),
        'wg0',
      ]);
    const quiet = [follow('server', server, /^(listening|address pools|lease granted)$/)];
    await server.waitForLine(/"msg":"listening"/, 30_000).catch((error: unknown) => {
      throw new Error(`wg-dynamic-server did not start:\n${server.outputTail(30)}`, {
        cause: error,
      });
    });
    const clients = new Map<string, LabProcess>();
    for (const name of CLIENTS) {
      const child = await lab
        .node(name)
        .spawn(process.execPath, [CLIENT, '--state-dir', join(state, name), 'wg0']);
      quiet.push(follow(name, child, /^lease granted$/));
      clients.set(name, child);
    }
    const addresses = new Map<string, Leased>();
    for (const name of CLIENTS) {
      const got = await until(`${name}'s leased addresses`, async () => {
        const now = await leased(lab.node(name));
        return now.v4 && now.v6 ? now : undefined;
      }).catch((error: unknown) => {
        throw new Error(`${name} got no lease:\n${clients.get(name)?.outputTail(30)}`, {
          cause: error,
        });
      });
      addresses.set(name, got);
    }
    for (const stop of quiet) stop();

    heading("Leased addresses, read back from each client's wg0 with ip(8)");
    for (const [name, got] of addresses) {
      say(`  ${name.padEnd(7)} IPv4 ${String(got.v4).padEnd(18)} IPv6 ${got.v6}`);
    }

    heading("What the server wrote into its peers' allowed-ips (wg show wg0 allowed-ips)");
    const names = new Map([...lab.nodes.values()].map((node) => [node.publicKey, node.name]));
    const allowed = await lab.node('server').wg('show', 'wg0', 'allowed-ips');
    for (const line of allowed.trim().split('\n')) {
      const [key = '', ...ips] = line.trim().split(/\s+/);
      say(`  ${(names.get(key) ?? key).padEnd(7)} ${ips.join('  ')}`);
    }
    const show = await lab
      .node('server')
      .exec(process.execPath, [SERVER, 'show', 'wg0'], { check: true });
    say(`\n  wg-dynamic-server show wg0:`);
    for (const line of show.stdout.trimEnd().split('\n'))
      say(
        `    ${line.replace(/^peer: (\S+)/, (all, key: string) => `${all} (${names.get(key) ?? '?'})`)}`,
      );

    heading('alice pings bob through the server, from leased address to leased address');
    const alice = addresses.get('alice') as Leased;
    const bob = addresses.get('bob') as Leased;
    let ok = true;
    for (const [from, to] of [
      [alice.v4, bob.v4],
      [alice.v6, bob.v6],
    ] as const) {
      const source = IpPrefix.from(from ?? '').address.toString();
      const target = IpPrefix.from(to ?? '').address.toString();
      const ping = await lab
        .node('alice')
        .exec('ping', ['-c', '3', '-i', '0.2', '-W', '2', '-I', source, target]);
      const summary = ping.stdout.split('\n').find((line) => line.includes('packets transmitted'));
      say(`  ping -I ${source} ${target}: ${summary ?? ping.stderr.trim()}`);
      ok &&= ping.code === 0;
    }

    say(`\n${bold('Tearing down')}: clients stopped with SIGTERM (they remove what they added),`);
    for (const [name, child] of clients) {
      await child.stop();
      const after = await leased(lab.node(name));
      say(
        `  ${name.padEnd(7)} exit ${child.exitStatus?.code}; leased addresses left on wg0: ${[after.v4, after.v6].filter(Boolean).length}`,
      );
    }
    await server.stop();
    say(`  server  exit ${server.exitStatus?.code}; then the namespaces are deleted.`);
    if (!ok) throw new Error('a ping failed');
  } finally {
    await rm(state, { recursive: true, force: true });
  }
  say(`\n${bold('Done.')}`);
}

main().catch((error: unknown) => {
  process.stderr.write(
    `demo failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exitCode = 1;
});
