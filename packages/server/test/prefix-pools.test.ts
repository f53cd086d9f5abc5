import { IpPrefix } from '@wg-dynamic/ip';
import { describe, expect, it } from 'vitest';
import { Allocator } from '../src/allocator/allocator.js';
import { type Delegation, PrefixPools } from '../src/allocator/prefix-pools.js';
import { type RandomSource, seededRandom } from '../src/random.js';

const p = (text: string) => IpPrefix.from(text);
const d = (pool: string, length: number): Delegation => ({ pool: p(pool), length });

/** A seeded source that counts its draws. */
function countingRandom(seed: number): RandomSource & { draws: number } {
  const inner = seededRandom(seed);
  const source = {
    draws: 0,
    below(limit: bigint) {
      source.draws++;
      return inner.below(limit);
    },
  };
  return source;
}

describe('PrefixPools', () => {
  it('draws uniformly from the free prefixes of the pool (chi-square, fixed seed)', () => {
    const pools = new PrefixPools([d('10.200.0.0/24', 28)], seededRandom(42));
    pools.configure(4, []);
    // Hold 4 of the 16 /28s; draw from the 12 others, returning each draw at once.
    const held = ['10.200.0.0/28', '10.200.0.64/28', '10.200.0.128/28', '10.200.0.240/28'];
    for (const prefix of held) expect(pools.take(p(prefix))).toBe(true);
    const counts = new Map<string, number>();
    const draws = 24_000;
    for (let i = 0; i < draws; i++) {
      const prefix = pools.allocate(4, 28) as IpPrefix;
      expect(held).not.toContain(prefix.toString());
      counts.set(prefix.toString(), (counts.get(prefix.toString()) ?? 0) + 1);
      pools.release(prefix);
    }
    expect(counts.size).toBe(12);
    const expected = draws / 12;
    const chi = [...counts.values()].reduce((sum, n) => sum + (n - expected) ** 2 / expected, 0);
    // 11 degrees of freedom: 31.26 is the 0.999 quantile.
    expect(chi).toBeLessThan(31.26);
  });

  it('hands out every prefix once, then nothing (exhaustion)', () => {
    const pools = new PrefixPools(
      [d('10.200.0.0/26', 28), d('2001:db8:100::/62', 64)],
      seededRandom(1),
    );
    pools.configure(4, []);
    pools.configure(6, []);
    const v4 = Array.from({ length: 4 }, () => pools.allocate(4, 28)?.toString()).sort();
    expect(v4).toEqual(['10.200.0.0/28', '10.200.0.16/28', '10.200.0.32/28', '10.200.0.48/28']);
    expect(pools.allocate(4, 28)).toBeUndefined();
    const v6 = Array.from({ length: 4 }, () => pools.allocate(6, 64)?.toString()).sort();
    expect(v6).toEqual([
      '2001:db8:100:1::/64',
      '2001:db8:100:2::/64',
      '2001:db8:100:3::/64',
      '2001:db8:100::/64',
    ]);
    expect(pools.allocate(6, 64)).toBeUndefined();
    expect(pools.release(p('10.200.0.16/28'))).toBe(true);
    expect(pools.allocate(4, 28)?.toString()).toBe('10.200.0.16/28');
  });

  it('cuts a longer prefix from one whole unit, and never a shorter one', () => {
    const pools = new PrefixPools([d('10.200.0.0/27', 28)], seededRandom(3));
    pools.configure(4, []);
    const longer = pools.allocate(4, 30) as IpPrefix;
    expect(longer.length).toBe(30);
    expect(longer.isNetwork()).toBe(true);
    // The /28 that holds it is taken: one unit left, and it is whole.
    const shorter = pools.allocate(4, 24) as IpPrefix;
    expect(shorter.length).toBe(28);
    expect(shorter.overlaps(longer)).toBe(false);
    expect(pools.allocate(4, 28)).toBeUndefined();
    expect(pools.usage()).toEqual([
      { family: 4, pool: p('10.200.0.0/27'), length: 28, capacity: 2n, allocated: 2 },
    ]);
  });

  it('takes a specific prefix only inside a pool, at its length or longer, when free', () => {
    const pools = new PrefixPools([d('2001:db8:100::/48', 64)], seededRandom(1));
    pools.configure(6, [p('2001:db8:100:7::/64')]);
    expect(pools.take(p('2001:db8:100:5::/64'))).toBe(true);
    expect(pools.take(p('2001:db8:100:5::/64'))).toBe(false); // taken
    expect(pools.take(p('2001:db8:100:5:8000::/65'))).toBe(false); // its unit is taken
    expect(pools.take(p('2001:db8:100:6:8000::/65'))).toBe(true); // longer: allowed
    expect(pools.isAllocated(p('2001:db8:100:6::/64'))).toBe(true);
    expect(pools.take(p('2001:db8:100::/56'))).toBe(false); // shorter than the pool's length
    expect(pools.take(p('2001:db8:100:7::/64'))).toBe(false); // excluded
    expect(pools.take(p('2001:db8:200::/64'))).toBe(false); // outside every pool
    expect(pools.take(p('10.0.0.0/28'))).toBe(false); // no IPv4 pool
  });

  it('prefers the pools whose length fits the request best', () => {
    const pools = new PrefixPools(
      [d('2001:db8:100::/48', 64), d('2001:db8:200::/48', 56)],
      seededRandom(5),
    );
    pools.configure(6, []);
    expect(p('2001:db8:100::/48').covers(pools.allocate(6, 64) as IpPrefix)).toBe(true);
    expect(p('2001:db8:200::/48').covers(pools.allocate(6, 56) as IpPrefix)).toBe(true);
    expect(p('2001:db8:200::/48').covers(pools.allocate(6, 60) as IpPrefix)).toBe(true);
    const short = pools.allocate(6, 48) as IpPrefix; // shorter than both: the closest, /56
    expect(short.length).toBe(56);
    expect(pools.allocate(6, 72)?.length).toBe(72);
  });

  it('an allocation is one draw and one walk down a balanced tree, however full (O(log n))', () => {
    // The same Allocator as for addresses, with /64 units: 65,536 of them in a /48.
    const random = countingRandom(9);
    const allocator = new Allocator(6, 64, random);
    allocator.configure([p('2001:db8:100::/48')], []);
    const n = 20_000;
    for (let i = 1; i <= n; i++) {
      const before = random.draws;
      expect(allocator.allocate()).toBeDefined();
      expect(random.draws - before).toBe(1); // no retries, no scan
      if ((i & (i - 1)) === 0 || i === n) {
        // AVL: height < 1.4405 log2(size + 2).
        expect(allocator.depth).toBeLessThan(1.4405 * Math.log2(i + 2));
      }
    }
    expect(allocator.allocatedCount).toBe(n);
    expect(allocator.free).toBe(65_536n - BigInt(n));
  });
});
