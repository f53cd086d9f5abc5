import { IpAddress, IpPrefix } from '@wg-dynamic/ip';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Allocator, poolEdges, RESERVED_PREFIXES } from '../src/allocator/allocator.js';
import { UnitSpace } from '../src/allocator/unit-space.js';
import { seededRandom } from '../src/random.js';

const p = (text: string) => IpPrefix.from(text);
const hosts = (list: Iterable<IpPrefix>) => [...list].map((x) => x.address.toString());

function addressAllocator(
  family: 4 | 6,
  pools: string[],
  exclusions: string[] = [],
  seed = 1,
): Allocator {
  const allocator = Allocator.forAddresses(family, seededRandom(seed));
  const prefixes = pools.map(p);
  allocator.configure(prefixes, [
    ...exclusions.map(p),
    ...prefixes.flatMap(poolEdges),
    ...RESERVED_PREFIXES,
  ]);
  return allocator;
}

describe('UnitSpace', () => {
  it('lays the units of all pools minus exclusions end to end', () => {
    const space = new UnitSpace(4, 32, [p('10.0.0.0/29'), p('10.0.1.0/30')], [p('10.0.0.2/31')]);
    expect(space.capacity).toBe(10n);
    const all = Array.from({ length: 10 }, (_, i) => space.prefixAt(BigInt(i)).address.toString());
    expect(all).toEqual([
      '10.0.0.0',
      '10.0.0.1',
      '10.0.0.4',
      '10.0.0.5',
      '10.0.0.6',
      '10.0.0.7',
      '10.0.1.0',
      '10.0.1.1',
      '10.0.1.2',
      '10.0.1.3',
    ]);
    for (let i = 0n; i < 10n; i++) expect(space.positionOf(space.prefixAt(i))).toBe(i);
    expect(space.positionOf(p('10.0.0.2/32'))).toBeUndefined();
    expect(space.positionOf(p('10.0.2.0/32'))).toBeUndefined();
    expect(space.positionOf(p('10.0.0.0/31'))).toBeUndefined();
    expect(space.positionOf(p('::/128'))).toBeUndefined();
  });

  it('merges overlapping pools and cuts prefix units', () => {
    const space = new UnitSpace(
      6,
      64,
      [p('2001:db8::/62'), p('2001:db8::/63')],
      [p('2001:db8:0:1::5/128')],
    );
    expect(space.capacity).toBe(3n);
    expect(space.prefixAt(1n).toString()).toBe('2001:db8:0:2::/64');
    expect(space.positionOf(p('2001:db8:0:1::/64'))).toBeUndefined();
  });
});

describe('Allocator', () => {
  it('never hands out the network and broadcast address of an IPv4 pool', () => {
    const allocator = addressAllocator(4, ['192.168.4.0/28']);
    expect(allocator.capacity).toBe(14n);
    const got = new Set<string>();
    for (let i = 0; i < 14; i++) got.add((allocator.allocate() as IpPrefix).address.toString());
    expect(got.size).toBe(14);
    expect(got.has('192.168.4.0')).toBe(false);
    expect(got.has('192.168.4.15')).toBe(false);
    expect(allocator.allocate()).toBeUndefined();
    expect(allocator.free).toBe(0n);
  });

  it('hands out every address of a /31 and a /32 pool', () => {
    const allocator = addressAllocator(4, ['10.9.0.0/31', '10.9.1.1/32']);
    expect(allocator.capacity).toBe(3n);
  });

  it('never hands out the subnet-router anycast address of an IPv6 pool', () => {
    const allocator = addressAllocator(6, ['2001:db8::/126']);
    expect(
      hosts([
        allocator.allocate(),
        allocator.allocate(),
        allocator.allocate(),
      ] as IpPrefix[]).sort(),
    ).toEqual(['2001:db8::1', '2001:db8::2', '2001:db8::3']);
    expect(allocator.allocate()).toBeUndefined();
  });

  it('never hands out reserved or excluded addresses, nor one twice', () => {
    fc.assert(
      fc.property(fc.integer(), fc.integer({ min: 1, max: 300 }), (seed, draws) => {
        const allocator = addressAllocator(
          4,
          ['169.254.0.0/23', '10.0.0.0/24'],
          ['10.0.0.64/26'],
          seed,
        );
        const excluded = [p('10.0.0.64/26'), p('169.254.0.0/16')];
        const seen = new Set<string>();
        for (let i = 0; i < draws; i++) {
          const got = allocator.allocate();
          if (!got) {
            expect(allocator.free).toBe(0n);
            break;
          }
          expect(excluded.some((x) => x.contains(got.address))).toBe(false);
          expect(p('10.0.0.0/24').contains(got.address)).toBe(true);
          expect(seen.has(got.toString())).toBe(false);
          seen.add(got.toString());
        }
        expect(allocator.capacity).toBe(254n - 64n);
      }),
    );
  });

  it('draws uniformly from the free addresses of all pools', () => {
    // Two pools of 6 and 2 usable addresses, 3 of the 8 taken: each draw should
    // pick each of the 5 free ones with probability 1/5.
    const counts = new Map<string, number>();
    const rounds = 20_000;
    for (let i = 0; i < rounds; i++) {
      const allocator = addressAllocator(4, ['10.0.0.0/29', '10.0.1.0/31'], [], i);
      for (const taken of ['10.0.0.1', '10.0.0.4', '10.0.1.0'])
        allocator.take(IpPrefix.host(IpAddress.parse(taken) as IpAddress));
      const got = (allocator.allocate() as IpPrefix).address.toString();
      counts.set(got, (counts.get(got) ?? 0) + 1);
    }
    expect([...counts.keys()].sort()).toEqual([
      '10.0.0.2',
      '10.0.0.3',
      '10.0.0.5',
      '10.0.0.6',
      '10.0.1.1',
    ]);
    // Chi-squared with 4 degrees of freedom; 18.47 is the 0.001 critical value.
    // The seeds are fixed, so this is deterministic, not a flaky statistical test.
    const expected = rounds / 5;
    const chi = [...counts.values()].reduce((sum, n) => sum + (n - expected) ** 2 / expected, 0);
    expect(chi).toBeLessThan(18.47);
  });

  it('takes a specific address only when it is free and allocatable', () => {
    const allocator = addressAllocator(6, ['2001:db8::/64']);
    const a = p('2001:db8::7/128');
    expect(allocator.take(a)).toBe(true);
    expect(allocator.take(a)).toBe(false);
    expect(allocator.isAllocated(a)).toBe(true);
    expect(allocator.take(p('2001:db8::/128'))).toBe(false);
    expect(allocator.take(p('2001:db9::1/128'))).toBe(false);
    expect(allocator.release(a)).toBe(true);
    expect(allocator.release(a)).toBe(false);
    expect(allocator.take(a)).toBe(true);
  });

  it('allocates from a /64 without enumerating it', () => {
    const allocator = addressAllocator(6, ['2001:db8:1234::/64']);
    expect(allocator.capacity).toBe((1n << 64n) - 1n);
    const got = allocator.allocate() as IpPrefix;
    expect(p('2001:db8:1234::/64').contains(got.address)).toBe(true);
    expect(allocator.allocatedCount).toBe(1);
  });

  it('drops allocations that leave the pools when they change, and keeps the rest', () => {
    const allocator = addressAllocator(4, ['10.0.0.0/24', '10.0.1.0/24']);
    for (const a of ['10.0.0.5', '10.0.1.5']) allocator.take(p(`${a}/32`));
    const dropped = allocator.configure([p('10.0.1.0/24')], poolEdges(p('10.0.1.0/24')));
    expect(hosts(dropped)).toEqual(['10.0.0.5']);
    expect(hosts(allocator)).toEqual(['10.0.1.5']);
    expect(allocator.capacity).toBe(254n - 1n + 1n);
  });

  it('reports usage per pool', () => {
    const allocator = addressAllocator(4, ['10.0.0.0/28', '10.0.1.0/28']);
    allocator.take(p('10.0.1.3/32'));
    allocator.take(p('10.0.1.4/32'));
    expect(allocator.usage().map((u) => [u.pool.toString(), u.capacity, u.allocated])).toEqual([
      ['10.0.0.0/28', 14n, 0],
      ['10.0.1.0/28', 14n, 2],
    ]);
  });

  it('allocates delegated prefixes as units', () => {
    const allocator = new Allocator(6, 64, seededRandom(3));
    allocator.configure([p('2001:db8:100::/62')], [p('2001:db8:100:2::1/128')]);
    expect(allocator.capacity).toBe(3n);
    const got = [allocator.allocate(), allocator.allocate(), allocator.allocate()]
      .map(String)
      .sort();
    expect(got).toEqual(['2001:db8:100:1::/64', '2001:db8:100:3::/64', '2001:db8:100::/64']);
  });
});
