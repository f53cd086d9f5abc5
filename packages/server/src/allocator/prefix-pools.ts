import { type IpFamily, IpPrefix } from '@wg-dynamic/ip';
import type { RandomSource } from '../random.js';
import { Allocator } from './allocator.js';

/**
 * A delegation pool (`--delegate POOL/LENGTH`): `pool` is cut into prefixes
 * of `length`, each delegated whole to one peer.
 */
export interface Delegation {
  readonly pool: IpPrefix;
  readonly length: number;
}

/** Where a delegated prefix sits: its pool's allocator and the unit (a /length of the pool) it takes. */
interface Placement {
  readonly allocator: Allocator;
  readonly unit: IpPrefix;
}

/**
 * The delegation pools, one Allocator per family and prefix length: a unit
 * is one prefix of the pool's length, so a fresh prefix is drawn uniformly
 * from all free prefixes of the pools of that length, in O(log n) like an
 * address.
 *
 * A prefix longer than its pool's length (a client asking for a /72 from a
 * pool of /64s) takes the whole unit that holds it: the rest of that unit
 * stays unused while the lease lasts. Nothing is ever delegated shorter than
 * its pool's length.
 */
export class PrefixPools {
  readonly delegations: readonly Delegation[];
  private readonly allocators = new Map<string, Allocator>();

  constructor(delegations: readonly Delegation[], random: RandomSource) {
    this.delegations = delegations;
    for (const { pool, length } of delegations) {
      const key = groupKey(pool.family, length);
      if (!this.allocators.has(key)) {
        this.allocators.set(key, new Allocator(pool.family, length, random));
      }
    }
  }

  get size(): number {
    return this.delegations.length;
  }

  /** True when a delegation pool overlaps `prefix`. */
  overlaps(prefix: IpPrefix): boolean {
    return this.delegations.some(({ pool }) => pool.overlaps(prefix));
  }

  /** The delegation pools of a family. */
  pools(family: IpFamily): IpPrefix[] {
    return this.delegations.filter(({ pool }) => pool.family === family).map(({ pool }) => pool);
  }

  /**
   * A fresh prefix of `length` or longer, drawn uniformly from the free
   * prefixes of the best-fitting pools: those whose length is `length` or
   * shorter (the closest first; the prefix is then cut from one of theirs),
   * else those whose length is longer (the closest first: the client gets a
   * longer prefix than it asked, never a shorter one). Undefined when all are
   * taken.
   */
  allocate(family: IpFamily, length: number): IpPrefix | undefined {
    const lengths = [
      ...new Set(this.delegations.filter((d) => d.pool.family === family).map((d) => d.length)),
    ];
    const fitting = lengths.filter((l) => l <= length).sort((a, b) => b - a);
    const longer = lengths.filter((l) => l > length).sort((a, b) => a - b);
    for (const unitLength of [...fitting, ...longer]) {
      const unit = this.allocators.get(groupKey(family, unitLength))?.allocate();
      if (unit) return new IpPrefix(unit.address, Math.max(length, unitLength));
    }
    return undefined;
  }

  /** Takes the unit of exactly `prefix`; false when it is outside every pool, excluded, or taken. */
  take(prefix: IpPrefix): boolean {
    const placed = this.place(prefix);
    return placed?.allocator.take(placed.unit) ?? false;
  }

  /** Returns the unit of `prefix` to its pool; false when it was not taken. */
  release(prefix: IpPrefix): boolean {
    const placed = this.place(prefix);
    return placed?.allocator.release(placed.unit) ?? false;
  }

  isAllocated(prefix: IpPrefix): boolean {
    const placed = this.place(prefix);
    return placed?.allocator.isAllocated(placed.unit) ?? false;
  }

  /** True when `a` and `b` lie in the same unit of a pool. */
  sameUnit(a: IpPrefix, b: IpPrefix): boolean {
    const first = this.place(a);
    const second = this.place(b);
    return (
      first !== undefined &&
      second !== undefined &&
      first.allocator === second.allocator &&
      first.unit.equals(second.unit)
    );
  }

  /**
   * `prefix`'s unit cut down to `length`: the first prefix of that length in
   * the unit that holds `prefix` (undefined when `length` is shorter than
   * the unit, or `prefix` is in no pool).
   */
  within(prefix: IpPrefix, length: number): IpPrefix | undefined {
    const placed = this.place(prefix);
    if (!placed || length < placed.unit.length) return undefined;
    return new IpPrefix(placed.unit.address, length);
  }

  /** Rebuilds one family's allocators, with exclusions (a unit that overlaps one is never delegated). */
  configure(family: IpFamily, exclusions: readonly IpPrefix[]): void {
    for (const [key, allocator] of this.allocators) {
      if (allocator.family !== family) continue;
      const pools = this.delegations
        .filter((d) => groupKey(d.pool.family, d.length) === key)
        .map((d) => d.pool);
      allocator.configure(pools, exclusions);
    }
  }

  /** Per delegation pool: its prefixes that can be delegated, and how many are. */
  usage(): {
    family: IpFamily;
    pool: IpPrefix;
    length: number;
    capacity: bigint;
    allocated: number;
  }[] {
    return this.delegations.map(({ pool, length }) => {
      const allocator = this.allocators.get(groupKey(pool.family, length)) as Allocator;
      const usage = allocator.usage().find((u) => u.pool.equals(pool));
      return {
        family: pool.family,
        pool,
        length,
        capacity: usage?.capacity ?? 0n,
        allocated: usage?.allocated ?? 0,
      };
    });
  }

  /** The pool that holds `prefix` and the unit it takes; undefined when none can hold it. */
  private place(prefix: IpPrefix): Placement | undefined {
    for (const { pool, length } of this.delegations) {
      if (pool.family !== prefix.family || prefix.length < length || !pool.covers(prefix)) continue;
      const allocator = this.allocators.get(groupKey(pool.family, length)) as Allocator;
      return { allocator, unit: new IpPrefix(prefix.address, length).network() };
    }
    return undefined;
  }
}

const groupKey = (family: IpFamily, length: number) => `${family}/${length}`;
