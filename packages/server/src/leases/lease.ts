import type { IpFamily, IpPrefix } from '@wg-dynamic/ip';

/** A peer, by its WireGuard public key in base64 (as `wg show` prints it). */
export type PeerId = string;

/** The clock, passed in: the monotonic one drives expiry, the wall one is what clients are told. */
export interface Clock {
  /** Monotonic milliseconds (never jumps). */
  monotonicMs(): number;
  /** Wall-clock UNIX seconds. */
  wallSeconds(): number;
}

export const systemClock: Clock = {
  monotonicMs: () => performance.now(),
  wallSeconds: () => Math.floor(Date.now() / 1000),
};

/**
 * What a peer can hold at most one of: an address per family, and a
 * delegated prefix per family (extension "prefix").
 */
export type Slot = 'ipv4' | 'ipv6' | 'prefix4' | 'prefix6';

export const addressSlot = (family: IpFamily): Slot => (family === 4 ? 'ipv4' : 'ipv6');
export const prefixSlot = (family: IpFamily): Slot => (family === 4 ? 'prefix4' : 'prefix6');
/** True for the slots of delegated prefixes. */
export const isPrefixSlot = (slot: Slot): boolean => slot === 'prefix4' || slot === 'prefix6';

/** The slot a journal record speaks of. */
export const recordSlot = (record: LeaseRecord): Slot =>
  record.delegated ? prefixSlot(record.prefix.family) : addressSlot(record.prefix.family);

export interface Lease {
  readonly peer: PeerId;
  readonly slot: Slot;
  /** The leased address as a host prefix (/32 or /128), or the delegated prefix. */
  readonly prefix: IpPrefix;
  /** Wall-clock UNIX seconds at grant or last renewal: the response's leasestart. */
  readonly start: number;
  /** Seconds: the response's leasetime. */
  readonly duration: number;
  /** Monotonic milliseconds at which the lease runs out. */
  readonly expiresAt: number;
}

export type ReleaseReason =
  /** The client asked for it (no ip= of that family, or another address). */
  | 'released'
  /** The lease ran out without renewal. */
  | 'expired'
  /** The peer is gone from the interface. */
  | 'peer-removed'
  /** The address (prefix) left every pool, or an operator's allowed-ips now hold it. */
  | 'revoked';

/**
 * A lease given or renewed: `peer` holds `prefix` from `start` (wall-clock
 * UNIX seconds) for `duration` seconds. A renewal is a grant of the same
 * prefix with a new start.
 */
export interface GrantRecord {
  readonly type: 'grant';
  readonly peer: PeerId;
  readonly prefix: IpPrefix;
  /** True for a delegated prefix (extension "prefix"); absent for an address. */
  readonly delegated?: true;
  readonly start: number;
  readonly duration: number;
}

/** A lease that ended. */
export interface ReleaseRecord {
  readonly type: 'release';
  readonly peer: PeerId;
  readonly prefix: IpPrefix;
  /** True for a delegated prefix (extension "prefix"); absent for an address. */
  readonly delegated?: true;
  readonly reason: ReleaseReason;
}

/** What the journal records: the lease table's changes, replayed on start. */
export type LeaseRecord = GrantRecord | ReleaseRecord;

/** A change to one peer's allowed-ips. */
export interface AllowedIpsChange {
  readonly peer: PeerId;
  readonly add: readonly IpPrefix[];
  readonly remove: readonly IpPrefix[];
}

/** The record of a lease given or renewed. */
export function grantRecord(lease: Lease): GrantRecord {
  const record = {
    type: 'grant',
    peer: lease.peer,
    prefix: lease.prefix,
    start: lease.start,
    duration: lease.duration,
  } as const;
  return isPrefixSlot(lease.slot) ? { ...record, delegated: true } : record;
}

/** The record of a lease that ended. */
export function releaseRecord(lease: Lease, reason: ReleaseReason): ReleaseRecord {
  const record = { type: 'release', peer: lease.peer, prefix: lease.prefix, reason } as const;
  return isPrefixSlot(lease.slot) ? { ...record, delegated: true } : record;
}
