import type { IpPrefix } from '@wg-dynamic/ip';
import type { Lease, PeerId, Slot } from './lease.js';

/**
 * One peer's leases, at most one per slot, as four fields rather than a Map:
 * a small Map costs about a hundred bytes, and a server may hold a million
 * peers. Lists the addresses (IPv4 first), then the delegated prefixes.
 */
export class PeerLeases {
  readonly peer: PeerId;
  ipv4: Lease | undefined = undefined;
  ipv6: Lease | undefined = undefined;
  prefix4: Lease | undefined = undefined;
  prefix6: Lease | undefined = undefined;

  constructor(peer: PeerId) {
    this.peer = peer;
  }

  get(slot: Slot): Lease | undefined {
    return this[slot];
  }

  has(slot: Slot): boolean {
    return this.get(slot) !== undefined;
  }

  set(slot: Slot, lease: Lease): void {
    this[slot] = lease;
  }

  /** Removes the slot's lease; false when there was none. */
  delete(slot: Slot): boolean {
    const had = this.has(slot);
    this[slot] = undefined;
    return had;
  }

  get size(): number {
    return this.list().length;
  }

  /** True when one of the leases is exactly `prefix`. */
  holds(prefix: IpPrefix): boolean {
    return (
      (this.ipv4?.prefix.equals(prefix) ||
        this.ipv6?.prefix.equals(prefix) ||
        this.prefix4?.prefix.equals(prefix) ||
        this.prefix6?.prefix.equals(prefix)) ??
      false
    );
  }

  /** The leases held: addresses (IPv4 first), then prefixes (IPv4 first). */
  list(): Lease[] {
    const leases: Lease[] = [];
    if (this.ipv4) leases.push(this.ipv4);
    if (this.ipv6) leases.push(this.ipv6);
    if (this.prefix4) leases.push(this.prefix4);
    if (this.prefix6) leases.push(this.prefix6);
    return leases;
  }

  /** When the first of them runs out (monotonic ms), or undefined when none is held. */
  earliestExpiry(floor?: (lease: Lease) => number): number | undefined {
    let earliest: number | undefined;
    for (const lease of [this.ipv4, this.ipv6, this.prefix4, this.prefix6]) {
      if (!lease) continue;
      const at = floor ? floor(lease) : lease.expiresAt;
      if (earliest === undefined || at < earliest) earliest = at;
    }
    return earliest;
  }
}
