// What a lab node's kernel shows, read with ip(8) and ping(8): independent
// witnesses of what the daemons did, for the end-to-end tests.
import { IpPrefix } from '@wg-dynamic/ip';
import type { LabNode } from '@wg-dynamic/lab';

/** The addresses on an interface (`ip -j address show dev …`); empty when it does not exist. */
export async function addressesOn(node: LabNode, device = node.interface): Promise<IpPrefix[]> {
  const result = await node.exec('ip', ['-j', 'address', 'show', 'dev', device]);
  if (result.code !== 0) return [];
  const links = JSON.parse(result.stdout) as Array<{
    addr_info?: Array<{ local: string; prefixlen: number }>;
  }>;
  return (links[0]?.addr_info ?? []).map((a) => IpPrefix.from(`${a.local}/${a.prefixlen}`));
}

/** A leased address of each family: the host prefixes on the interface that lie in a pool. */
export interface Leased {
  readonly v4: string[];
  readonly v6: string[];
}

export function leasedIn(addresses: readonly IpPrefix[], pools: readonly IpPrefix[]): Leased {
  const inPool = (prefix: IpPrefix) =>
    prefix.isHost() && pools.some((pool) => pool.contains(prefix.address));
  const hosts = addresses.filter(inPool);
  return {
    v4: hosts.filter((p) => p.family === 4).map(String),
    v6: hosts.filter((p) => p.family === 6).map(String),
  };
}

/** The address without its prefix length: `10.0.0.1/32` → `10.0.0.1`. */
export function bare(prefix: string): string {
  return IpPrefix.from(prefix).address.toString();
}

export interface RouteEntry {
  readonly dst: string;
  readonly dev?: string;
  readonly protocol?: string;
  readonly table?: string;
}

/**
 * Routes of both families (`ip -j route show …`), of the main table unless
 * `table` says otherwise (`all` for every table). A route of one host is
 * shown with its prefix length (`fe80::/128`), as ip(8) writes it in a
 * command.
 */
export async function routes(node: LabNode, table = 'main'): Promise<RouteEntry[]> {
  const all: RouteEntry[] = [];
  for (const family of ['-4', '-6']) {
    const list = JSON.parse(
      await node.ip('-j', family, 'route', 'show', 'table', table),
    ) as RouteEntry[];
    for (const route of list) {
      const dst = route.dst === 'default' ? (family === '-4' ? '0.0.0.0/0' : '::/0') : route.dst;
      all.push({ ...route, dst: dst.includes('/') ? dst : `${dst}/${family === '-4' ? 32 : 128}` });
    }
  }
  return all;
}

/** Policy routing rules of both families, as `ip rule show` prints them. */
export async function rules(node: LabNode): Promise<string[]> {
  const v4 = await node.ip('-4', 'rule', 'show');
  const v6 = await node.ip('-6', 'rule', 'show');
  return [...v4.trim().split('\n'), ...v6.trim().split('\n')].map((line) => line.trim());
}

export interface Ping {
  readonly ok: boolean;
  /** The reply's TTL (IPv4) or hop limit (IPv6), when a reply came. */
  readonly ttl: number | undefined;
  readonly output: string;
}

/**
 * One echo request from `from` (an address of the node) to `to`. The wait is
 * long: a first packet may wait for a WireGuard handshake, which is retried
 * after 5 s when the first attempt is lost on a busy machine.
 */
export async function ping(node: LabNode, from: string, to: string): Promise<Ping> {
  const result = await node.exec('ping', ['-n', '-c', '1', '-W', '10', '-I', from, to]);
  const ttl = /(?:ttl|hlim)=(\d+)/.exec(result.stdout)?.[1];
  return {
    ok: result.code === 0,
    ttl: ttl === undefined ? undefined : Number(ttl),
    output: `${result.stdout}${result.stderr}`,
  };
}
