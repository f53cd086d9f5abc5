import { addressBits, IpAddress, type IpFamily, IpPrefix } from '@wg-dynamic/ip';

/** A run of allocatable units, [first, first + count), and where it starts on the position line. */
interface Segment {
  readonly first: bigint;
  readonly count: bigint;
  readonly position: bigint;
}

/**
 * The allocatable part of one family's address space, cut into units of one
 * prefix length (a /32 or /128 unit is one address; a /64 unit is one
 * delegated prefix), with the units of all pools minus the excluded ones laid
 * end to end on a "position line" [0, capacity). A uniform draw of a position
 * is a uniform draw among all allocatable units of every pool.
 *
 * A unit is allocatable when it lies wholly inside a pool and overlaps no
 * exclusion. Immutable: a change of pools or exclusions builds a new space.
 */
export class UnitSpace {
  readonly family: IpFamily;
  readonly unitLength: number;
  readonly capacity: bigint;
  private readonly segments: readonly Segment[];
  private readonly shift: bigint;
  /** The bits below a unit: zero in a unit-length prefix that is its own network. */
  private readonly unitMask: bigint;

  constructor(
    family: IpFamily,
    unitLength: number,
    pools: readonly IpPrefix[],
    exclusions: readonly IpPrefix[],
  ) {
    if (!Number.isInteger(unitLength) || unitLength < 0 || unitLength > addressBits[family]) {
      throw new RangeError(`/${unitLength} is not an IPv${family} prefix length`);
    }
    this.family = family;
    this.unitLength = unitLength;
    this.shift = BigInt(addressBits[family] - unitLength);
    this.unitMask = (1n << this.shift) - 1n;

    // Units are [first, last] ranges in unit numbers (address >> shift).
    const poolRanges = pools
      .filter((pool) => pool.family === family && pool.length <= unitLength)
      .map((pool) => this.unitRange(pool));
    const excludedRanges = exclusions
      .filter((prefix) => prefix.family === family)
      .map((prefix) => this.unitRange(prefix));

    const segments: Segment[] = [];
    let position = 0n;
    const excluded = mergeRanges(excludedRanges);
    for (const [first, last] of mergeRanges(poolRanges)) {
      let from = first;
      for (const [exFirst, exLast] of excluded) {
        if (exLast < from) continue;
        if (exFirst > last) break;
        if (exFirst > from) {
          segments.push({ first: from, count: exFirst - from, position });
          position += exFirst - from;
        }
        from = exLast + 1n;
        if (from > last) break;
      }
      if (from <= last) {
        segments.push({ first: from, count: last - from + 1n, position });
        position += last - from + 1n;
      }
    }
    this.segments = segments;
    this.capacity = position;
  }

  /** The position of a unit-length prefix, or undefined when it is not allocatable here. */
  positionOf(prefix: IpPrefix): bigint | undefined {
    if (prefix.family !== this.family || prefix.length !== this.unitLength) return undefined;
    const value = prefix.address.toBigInt();
    if ((value & this.unitMask) !== 0n) return undefined; // host bits set: not a unit
    const unit = value >> this.shift;
    const segment = this.segmentHolding(unit);
    return segment ? segment.position + (unit - segment.first) : undefined;
  }

  /** The unit-length prefix at a position in [0, capacity). */
  prefixAt(position: bigint): IpPrefix {
    if (position < 0n || position >= this.capacity) {
      throw new RangeError(`position ${position} is outside [0, ${this.capacity})`);
    }
    let low = 0;
    let high = this.segments.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      if ((this.segments[middle] as Segment).position <= position) low = middle;
      else high = middle - 1;
    }
    const segment = this.segments[low] as Segment;
    const unit = segment.first + (position - segment.position);
    return new IpPrefix(IpAddress.fromBigInt(this.family, unit << this.shift), this.unitLength);
  }

  /** Allocatable units inside `prefix` and, within those, the positions they occupy: [from, to). */
  positionsWithin(prefix: IpPrefix): { from: bigint; to: bigint } {
    const [first, last] = this.unitRange(prefix);
    return { from: this.firstPositionAtOrAfter(first), to: this.firstPositionAtOrAfter(last + 1n) };
  }

  private firstPositionAtOrAfter(unit: bigint): bigint {
    for (const segment of this.segments) {
      if (unit < segment.first) return segment.position;
      if (unit < segment.first + segment.count) return segment.position + (unit - segment.first);
    }
    return this.capacity;
  }

  private segmentHolding(unit: bigint): Segment | undefined {
    let low = 0;
    let high = this.segments.length - 1;
    while (low <= high) {
      const middle = (low + high) >> 1;
      const segment = this.segments[middle] as Segment;
      if (unit < segment.first) high = middle - 1;
      else if (unit >= segment.first + segment.count) low = middle + 1;
      else return segment;
    }
    return undefined;
  }

  /** The units a prefix touches: for a prefix shorter than a unit, the units inside it; else its one unit. */
  private unitRange(prefix: IpPrefix): [bigint, bigint] {
    const hostMask = (1n << BigInt(addressBits[prefix.family] - prefix.length)) - 1n;
    const first = prefix.address.toBigInt() & ~hostMask;
    return [first >> this.shift, (first | hostMask) >> this.shift];
  }
}

/** Sorts [first, last] ranges and merges the ones that overlap or touch. */
function mergeRanges(ranges: [bigint, bigint][]): [bigint, bigint][] {
  const sorted = [...ranges].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const merged: [bigint, bigint][] = [];
  for (const [first, last] of sorted) {
    const previous = merged.at(-1);
    if (previous && first <= previous[1] + 1n) {
      if (last > previous[1]) previous[1] = last;
    } else {
      merged.push([first, last]);
    }
  }
  return merged;
}
