import type { Lease, PeerId, Slot } from './lease.js';

/**
 * One peer's leases, at most one per slot, as two fields rather than a Map:
 * a small Map costs about a hundred bytes, and a server may hold a million
 * peers. Lists IPv4 first, then IPv6.
 */
export class PeerLeases {
  readonly peer: PeerId;
  ipv4: Lease | undefined = undefined;
  ipv6: Lease | undefined = undefined;

  constructor(peer: PeerId) {
    this.peer = peer;
  }

  get(slot: Slot): Lease | undefined {
    return slot === 'ipv4' ? this.ipv4 : this.ipv6;
  }

  has(slot: Slot): boolean {
    return this.get(slot) !== undefined;
  }

  set(slot: Slot, lease: Lease): void {
    if (slot === 'ipv4') this.ipv4 = lease;
    else this.ipv6 = lease;
  }

  /** Removes the slot's lease; false when there was none. */
  delete(slot: Slot): boolean {
    const had = this.has(slot);
    if (slot === 'ipv4') this.ipv4 = undefined;
    else this.ipv6 = undefined;
    return had;
  }

  get size(): number {
    return (this.ipv4 ? 1 : 0) + (this.ipv6 ? 1 : 0);
  }

  /** The leases held, IPv4 first. */
  list(): Lease[] {
    const leases: Lease[] = [];
    if (this.ipv4) leases.push(this.ipv4);
    if (this.ipv6) leases.push(this.ipv6);
    return leases;
  }

  /** When the first of them runs out (monotonic ms), or undefined when none is held. */
  earliestExpiry(floor?: (lease: Lease) => number): number | undefined {
    let earliest: number | undefined;
    for (const lease of [this.ipv4, this.ipv6]) {
      if (!lease) continue;
      const at = floor ? floor(lease) : lease.expiresAt;
      if (earliest === undefined || at < earliest) earliest = at;
    }
    return earliest;
  }
}
