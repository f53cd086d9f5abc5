// iproute2 as the independent witness of the lab tests: it makes the state our
// code must read, and reads the state our code makes.
import { execFileSync } from 'node:child_process';

/** Runs `ip …` and returns its standard output; throws with its stderr on failure. */
export function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Runs `ip -N -j …` (numbers instead of names, JSON) and parses the output. */
export function ipJson<T = unknown>(...args: string[]): T {
  const output = ip('-N', '-j', ...args).trim();
  return (output === '' ? [] : JSON.parse(output)) as T;
}

export interface IpLink {
  ifindex: number;
  ifname: string;
  flags: string[];
  mtu: number;
  linkinfo?: { info_kind?: string };
  inet6_addr_gen_mode?: string;
}

export interface IpAddressInfo {
  family: 'inet' | 'inet6';
  local: string;
  prefixlen: number;
  scope: string;
  nodad?: boolean;
  noprefixroute?: boolean;
}

export interface IpRoute {
  dst: string;
  dev?: string;
  protocol?: string;
  scope?: string;
  metric?: number;
}

export function ipLink(name: string): IpLink {
  const [link] = ipJson<IpLink[]>('-d', 'link', 'show', 'dev', name);
  if (link === undefined) throw new Error(`ip shows no link ${name}`);
  return link;
}

/** The addresses of a device as `address/length` strings with their ip(8) details. */
export function ipAddresses(device: string): IpAddressInfo[] {
  const [entry] = ipJson<{ addr_info: IpAddressInfo[] }[]>('address', 'show', 'dev', device);
  return entry?.addr_info ?? [];
}

/** Routes of one family through a device, as ip(8) lists them (main table). */
export function ipRoutes(family: 4 | 6, device: string): IpRoute[] {
  return ipJson<IpRoute[]>(`-${family}`, 'route', 'show', 'dev', device);
}
