import { addressBits, type IpFamily, IpPrefix } from '@wg-dynamic/ip';
import type { RandomSource } from '../random.js';
import { RankSet } from './rank-set.js';
import { UnitSpace } from './unit-space.js';

/**
 * Hands out units of one family and one prefix length (single addresses, or
 * delegated prefixes) from a set of pools, never one that overlaps an
 * exclusion, and draws each fresh unit uniformly at random from all free
 * units of all pools.
 *
 * Allocated units are positions on the UnitSpace's line, kept in a RankSet:
 * a draw picks r uniformly in [0, free) and takes the r-th free position,
 * one O(log n) descent whatever the pools' size (a /64 included) or fill.
 * Nothing enumerates addresses.
 */
export class Allocator {
  readonly family: IpFamily;
  readonly unitLength: number;
  private readonly random: RandomSource;
  private space: UnitSpace;
  private pools: readonly IpPrefix[] = [];
  private readonly allocated = new RankSet();

  constructor(family: IpFamily, unitLength: number, random: RandomSource) {
    this.family = family;
    this.unitLength = unitLength;
    this.random = random;
    this.space = new UnitSpace(family, unitLength, [], []);
  }

  /** An allocator of single addresses (/32 or /128 units). */
  static forAddresses(family: IpFamily, random: RandomSource): Allocator {
    return new Allocator(family, addressBits[family], random);
  }

  /** Allocatable units in all. */
  get capacity(): bigint {
    return this.space.capacity;
  }

  /** The height of the tree of allocated units: what one allocation, release or lookup walks. */
  get depth(): number {
    return this.allocated.height;
  }

  get allocatedCount(): number {
    return this.allocated.size;
  }

  get free(): bigint {
    return this.space.capacity - BigInt(this.allocated.size);
  }

  /**
   * Replaces the pools and the exclusions. Allocated units that are no longer
   * allocatable (outside every pool, or now excluded) are dropped from the
   * allocator and returned: the caller decides what becomes of their leases.
   */
  configure(pools: readonly IpPrefix[], exclusions: readonly IpPrefix[]): IpPrefix[] {
    const held = [...this.allocated].map((position) => this.space.prefixAt(position));
    this.space = new UnitSpace(this.family, this.unitLength, pools, exclusions);
    this.pools = pools.filter((pool) => pool.family === this.family);
    this.allocated.clear();
    const dropped: IpPrefix[] = [];
    for (const prefix of held) {
      const position = this.space.positionOf(prefix);
      if (position === undefined) dropped.push(prefix);
      else this.allocated.add(position);
    }
    return dropped;
  }

  /** A fresh unit drawn uniformly from the free ones, now allocated; undefined when none is free. */
  allocate(): IpPrefix | undefined {
    const free = this.free;
    if (free <= 0n) return undefined;
    const position = this.allocated.nthAbsent(this.random.below(free));
    this.allocated.add(position);
    return this.space.prefixAt(position);
  }

  /** Allocates exactly `prefix`; false when it is not allocatable here or already allocated. */
  take(prefix: IpPrefix): boolean {
    const position = this.space.positionOf(prefix);
    return position !== undefined && this.allocated.add(position);
  }

  /** Returns `prefix` to the free units; false when it was not allocated. */
  release(prefix: IpPrefix): boolean {
    const position = this.space.positionOf(prefix);
    return position !== undefined && this.allocated.delete(position);
  }

  isAllocated(prefix: IpPrefix): boolean {
    const position = this.space.positionOf(prefix);
    return position !== undefined && this.allocated.has(position);
  }

  /** True when `prefix` is a unit inside a pool that overlaps no exclusion (free or not). */
  isAllocatable(prefix: IpPrefix): boolean {
    return this.space.positionOf(prefix) !== undefined;
  }

  /** Per pool: allocatable units and how many of them are allocated. */
  usage(): { pool: IpPrefix; capacity: bigint; allocated: number }[] {
    return this.pools.map((pool) => {
      const { from, to } = this.space.positionsWithin(pool);
      return {
        pool,
        capacity: to - from,
        allocated: this.allocated.countBelow(to) - this.allocated.countBelow(from),
      };
    });
  }

  /** Every allocated unit, in address order. */
  *[Symbol.iterator](): IterableIterator<IpPrefix> {
    for (const position of this.allocated) yield this.space.prefixAt(position);
  }
}

/**
 * What a pool never hands out: the first and last IPv4 address of a pool
 * shorter than /31 (network and broadcast), and the first address of an IPv6
 * pool shorter than /127 (the subnet-router anycast address, RFC 4291 2.6.1).
 */
export function poolEdges(pool: IpPrefix): IpPrefix[] {
  if (pool.family === 4 && pool.length < 31) {
    return [IpPrefix.host(pool.first()), IpPrefix.host(pool.last())];
  }
  if (pool.family === 6 && pool.length < 127) return [IpPrefix.host(pool.first())];
  return [];
}

/**
 * Addresses no client may hold (the client refuses them): unspecified, loopback,
 * link-local, multicast and broadcast, plus IPv4's "this network" 0.0.0.0/8.
 */
export const RESERVED_PREFIXES: readonly IpPrefix[] = [
  '0.0.0.0/8',
  '127.0.0.0/8',
  '169.254.0.0/16',
  '224.0.0.0/4',
  '255.255.255.255/32',
  '::/128',
  '::1/128',
  'fe80::/10',
  'ff00::/8',
].map((text) => IpPrefix.from(text));
