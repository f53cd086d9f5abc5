import type { IpAddress, IpPrefix } from '@wg-dynamic/ip';
import type { PerFamily } from '@wg-dynamic/protocol';

/** A lease the client holds: what the server granted and when it ends. */
export interface HeldLease {
  readonly addresses: Partial<PerFamily<IpAddress>>;
  readonly routes: readonly IpPrefix[];
  /** Prefixes delegated to this client for the network behind it (extension "prefix"). */
  readonly prefixes: Partial<PerFamily<IpPrefix>>;
  /** As the server sent them (seconds). */
  readonly leaseStart: number;
  readonly leaseTime: number;
  /** The end of the lease on the monotonic clock (ms). */
  readonly expiresAt: number;
  /** The same moment on the wall clock (ms), for the state file. */
  readonly expiresAtWall: number;
}

/** A lease as remembered on disk: no monotonic time survives a restart. */
export type RememberedLease = Omit<HeldLease, 'expiresAt'>;

/** What the interface should carry, of what this client manages. */
export interface DesiredConfig {
  /** Host addresses: each goes on the interface as a /32 or /128. */
  readonly addresses: readonly IpAddress[];
  /** Routes through the interface. */
  readonly routes: readonly IpPrefix[];
  /**
   * Delegated prefixes held now: what `--prefix-interface` puts downstream
   * and what `--prefix-hook` is told about.
   */
  readonly prefixes: Partial<PerFamily<IpPrefix>>;
}

export const NOTHING: DesiredConfig = Object.freeze({ addresses: [], routes: [], prefixes: {} });

export function desiredOf(lease: HeldLease | RememberedLease | undefined): DesiredConfig {
  if (lease === undefined) return NOTHING;
  const addresses: IpAddress[] = [];
  if (lease.addresses[4]) addresses.push(lease.addresses[4]);
  if (lease.addresses[6]) addresses.push(lease.addresses[6]);
  return { addresses, routes: lease.routes, prefixes: lease.prefixes };
}

export function sameAddresses(
  a: Partial<PerFamily<IpAddress>>,
  b: Partial<PerFamily<IpAddress>>,
): boolean {
  const same = (x: IpAddress | undefined, y: IpAddress | undefined) =>
    x === undefined ? y === undefined : y !== undefined && x.equals(y);
  return same(a[4], b[4]) && same(a[6], b[6]);
}

/** `10.0.0.2, fd00::2` for logs. */
export function describeAddresses(addresses: Partial<PerFamily<IpAddress>>): string[] {
  const out: string[] = [];
  if (addresses[4]) out.push(addresses[4].toString());
  if (addresses[6]) out.push(addresses[6].toString());
  return out;
}
