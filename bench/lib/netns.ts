import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IpAddress } from '@wg-dynamic/ip';
import { requireSandbox, runCommand } from '@wg-dynamic/lab';

/** The interface's name on both ends of the veth pair (each end lives in its own namespace). */
export const BENCH_INTERFACE = 'wgdbench0';
const SERVER_NETNS = 'wgdbench-server';
const CLIENT_NETNS = 'wgdbench-clients';
const SERVER_MAC = '02:77:67:64:00:01';
const CLIENT_MAC = '02:77:67:64:00:02';
/** Client n speaks from fe80::b:0:<n high 16 bits>:<n low 16 bits>. */
const CLIENT_RANGE = 'fe80::b:0:0:0/96';

/** Client n's link-local source address (without scope). */
export function clientAddress(n: number): IpAddress {
  return IpAddress.fromBigInt(6, (0xfe80n << 112n) | (0xbn << 48n) | BigInt(n));
}

/**
 * Two network namespaces joined by a veth pair, as the server benchmark
 * needs them: the server's end holds fe80::/64 (so the server listens on
 * [fe80::%wgdbench0]:970 with its own socket code), and `clients` simulated
 * clients speak from their own link-local /128 each on the other end.
 *
 * Adding tens of thousands of addresses to one interface costs the kernel
 * minutes (each add walks the interface's address list), so the clients'
 * addresses are not added one by one: the clients' namespace binds
 * non-local addresses (net.ipv6.ip_nonlocal_bind) and takes the whole range
 * fe80::b:0:0:0/96 as local (an "AnyIP" local route). The server's end gets a
 * permanent neighbour entry per client: no neighbour discovery, and
 * permanent entries stay out of the kernel's neighbour-table garbage
 * collection, whose limits are shared with the rest of the machine.
 *
 * It needs root and a lab sandbox (packages/lab/bin/lab-sandbox): every
 * namespace and process made here disappears with the sandbox, whatever
 * happens; `destroy` removes them earlier.
 */
export class BenchNetwork {
  readonly serverNetns = SERVER_NETNS;
  readonly clientNetns = CLIENT_NETNS;
  readonly interfaceName = BENCH_INTERFACE;
  readonly clients: number;

  private constructor(clients: number) {
    this.clients = clients;
  }

  static async create(clients: number): Promise<BenchNetwork> {
    requireSandbox('the server benchmark');
    const network = new BenchNetwork(clients);
    try {
      await network.setUp();
    } catch (error) {
      await network.destroy();
      throw error;
    }
    return network;
  }

  /** The argv that runs `argv` in the server's namespace. */
  inServer(argv: readonly string[]): string[] {
    return ['ip', 'netns', 'exec', this.serverNetns, ...argv];
  }

  /** The argv that runs `argv` in the clients' namespace. */
  inClients(argv: readonly string[]): string[] {
    return ['ip', 'netns', 'exec', this.clientNetns, ...argv];
  }

  async destroy(): Promise<void> {
    for (const netns of [this.serverNetns, this.clientNetns]) {
      await runCommand(['ip', 'netns', 'delete', netns]).catch(() => {});
    }
  }

  private async setUp(): Promise<void> {
    const s = this.serverNetns;
    const c = this.clientNetns;
    const i = this.interfaceName;
    const ip = (...args: string[]) => runCommand(['ip', ...args], { check: true });
    await ip('netns', 'add', s);
    await ip('netns', 'add', c);
    await ip(
      'link',
      'add',
      i,
      'netns',
      s,
      'address',
      SERVER_MAC,
      'type',
      'veth',
      'peer',
      'name',
      i,
      'netns',
      c,
      'address',
      CLIENT_MAC,
    );
    for (const netns of [s, c]) {
      await ip('-n', netns, 'link', 'set', 'lo', 'up');
      // No address of the kernel's own making: only the ones below.
      await ip('-n', netns, 'link', 'set', i, 'addrgenmode', 'none');
      await ip('-n', netns, 'link', 'set', i, 'up');
    }
    await ip('-n', s, 'address', 'add', 'fe80::/64', 'dev', i, 'nodad');
    await ip('-n', c, 'route', 'add', 'fe80::/128', 'dev', i);
    await ip('-n', c, 'neigh', 'add', 'fe80::', 'dev', i, 'lladdr', SERVER_MAC, 'nud', 'permanent');
    await runCommand(this.inClients(['sysctl', '-qw', 'net.ipv6.ip_nonlocal_bind=1']), {
      check: true,
    });
    await ip('-n', c, 'route', 'add', 'local', CLIENT_RANGE, 'dev', i, 'table', 'local');

    const directory = await mkdtemp(join(tmpdir(), 'wgd-bench-net-'));
    try {
      const lines: string[] = [];
      for (let n = 0; n < this.clients; n++) {
        lines.push(`neigh add ${clientAddress(n)} dev ${i} lladdr ${CLIENT_MAC} nud permanent`);
      }
      const batch = join(directory, 'neighbours');
      await writeFile(batch, `${lines.join('\n')}\n`);
      await ip('-n', s, '-batch', batch);
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  }
}
