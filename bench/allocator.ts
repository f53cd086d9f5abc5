/**
 * The address allocator (one family's pools, a uniform random draw among the
 * free addresses): the cost of an allocation and of a release at 1%, 50%,
 * 99% and 99.99% pool fill, for an IPv4 /16 and an IPv6 /64, and its memory
 * per lease.
 *
 * The IPv4 /16 is filled with real allocations (65,534 addresses at most).
 * A /64 cannot be filled that way (2^64 leases), so its fill is reached the
 * way a real server's pool fills up: operators' allowed-ips (the
 * allocator's exclusions) cover most of it, here the first part of each of
 * 256 equal blocks, as a set of aligned prefixes; 100,000 leases are
 * allocated in what is left. The fill is then (excluded + allocated) /
 * 2^64, and every draw still has to find its way around the exclusions and
 * the leases.
 *
 * The draws use the system's random source, as the server does.
 */

import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { IpAddress, IpPrefix } from '@wg-dynamic/ip';
import { Allocator, seededRandom, systemRandom } from '@wg-dynamic/server';
import type { Figure } from './lib/report.js';

const SUITE = 'allocator';
const FILLS = [0.01, 0.5, 0.99, 0.9999] as const;
const V4_POOL = IpPrefix.from('10.20.0.0/16');
const V6_POOL = IpPrefix.from('2001:db8:77::/64');
const V6_LEASES = 100_000;
const V6_BLOCKS = 256;
/** Operations timed per fill level (in batches that keep the fill where it is). */
const OPERATIONS = 50_000;

export default function allocator(): Figure[] {
  const figures: Figure[] = [];
  for (const family of [4, 6] as const) {
    const costs = FILLS.map((fill) => ({ fill, ...cost(family, fill) }));
    const base = costs[0] as (typeof costs)[number];
    for (const { fill, allocateNs, releaseNs, note } of costs) {
      const pool = family === 4 ? 'IPv4 /16' : 'IPv6 /64';
      const percent = `${(fill * 100).toFixed(fill < 0.99 || fill === 0.99 ? 0 : 2)}%`;
      figures.push(
        {
          suite: SUITE,
          name: `allocate, ${pool} ${percent} full`,
          value: allocateNs,
          unit: 'ns',
          ...(fill === 0.9999
            ? {
                target: `<= 2 x 1% (${(allocateNs / base.allocateNs).toFixed(2)} x)`,
              }
            : {}),
          note,
        },
        {
          suite: SUITE,
          name: `release, ${pool} ${percent} full`,
          value: releaseNs,
          unit: 'ns',
          ...(fill === 0.9999
            ? { target: `<= 2 x 1% (${(releaseNs / base.releaseNs).toFixed(2)} x)` }
            : {}),
        },
      );
    }
  }
  figures.push(...memoryFigures());
  return figures;
}

/** The /64's exclusions: in each of 256 blocks, its first `fraction` as aligned prefixes. */
function v6Exclusions(fraction: number): IpPrefix[] {
  const blockBits = 64n - 8n;
  const blockSize = 1n << blockBits;
  const excluded = BigInt(Math.round(fraction * 2 ** 30)) * (blockSize >> 30n);
  const base = V6_POOL.address.toBigInt();
  const prefixes: IpPrefix[] = [];
  for (let block = 0n; block < BigInt(V6_BLOCKS); block++) {
    let at = base + block * blockSize;
    // The binary decomposition of `excluded`, largest piece first: aligned prefixes.
    for (let bit = blockBits; bit >= 0n; bit--) {
      const piece = 1n << bit;
      if ((excluded & piece) === 0n) continue;
      prefixes.push(new IpPrefix(IpAddress.fromBigInt(6, at), 128 - Number(bit)));
      at += piece;
    }
  }
  return prefixes;
}

function filled(family: 4 | 6, fill: number): { allocator: Allocator; note: string } {
  const allocator = Allocator.forAddresses(family, systemRandom);
  if (family === 4) {
    const edges = [IpPrefix.host(V4_POOL.first()), IpPrefix.host(V4_POOL.last())];
    allocator.configure([V4_POOL], edges);
    const leases = Math.round(Number(allocator.capacity) * fill);
    for (let i = 0; i < leases; i++) allocator.allocate();
    return {
      allocator,
      note: `${leases.toLocaleString('en-US')} leases of ${allocator.capacity.toLocaleString('en-US')}`,
    };
  }
  const exclusions = v6Exclusions(fill);
  allocator.configure([V6_POOL], [IpPrefix.host(V6_POOL.first()), ...exclusions]);
  for (let i = 0; i < V6_LEASES; i++) allocator.allocate();
  return {
    allocator,
    note: `${V6_LEASES.toLocaleString('en-US')} leases; ${exclusions.length.toLocaleString('en-US')} excluded prefixes (operators' allowed-ips) cover the rest`,
  };
}

function cost(family: 4 | 6, fill: number) {
  const { allocator, note } = filled(family, fill);
  // Allocate a batch, then release it: the fill stays where it is. The batch
  // is smaller than what is free (7 addresses at 99.99% of a /16).
  const batch = Math.max(1, Math.min(1000, Number(allocator.free) - 1));
  const taken: IpPrefix[] = new Array(batch);
  let allocateTime = 0n;
  let releaseTime = 0n;
  let operations = 0;
  const round = () => {
    let start = process.hrtime.bigint();
    for (let i = 0; i < batch; i++) taken[i] = allocator.allocate() as IpPrefix;
    allocateTime += process.hrtime.bigint() - start;
    start = process.hrtime.bigint();
    for (let i = 0; i < batch; i++) allocator.release(taken[i] as IpPrefix);
    releaseTime += process.hrtime.bigint() - start;
    operations += batch;
  };
  for (let i = 0; i < 20_000 / batch; i++) round(); // warm-up
  allocateTime = 0n;
  releaseTime = 0n;
  operations = 0;
  while (operations < OPERATIONS) round();
  return {
    allocateNs: Number(allocateTime) / operations,
    releaseNs: Number(releaseTime) / operations,
    note,
  };
}

/** Heap bytes per allocated address, after a full collection. */
function memoryFigures(): Figure[] {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const measure = (family: 4 | 6, pool: IpPrefix, leases: number) => {
    const allocator = Allocator.forAddresses(family, seededRandom(family));
    allocator.configure([pool], []);
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < leases; i++) allocator.allocate();
    gc();
    const bytes = (process.memoryUsage().heapUsed - before) / leases;
    if (allocator.allocatedCount !== leases) throw new Error('the allocator lost leases');
    return bytes;
  };
  return [
    {
      suite: SUITE,
      name: 'allocator memory per lease, IPv4 /16 full',
      value: measure(4, V4_POOL, 65_534),
      unit: 'bytes',
      target: '<= 150',
      note: 'heap after a full GC, 65,534 leases',
    },
    {
      suite: SUITE,
      name: 'allocator memory per lease, IPv6 /64',
      value: measure(6, V6_POOL, 1_000_000),
      unit: 'bytes',
      target: '<= 150',
      note: 'heap after a full GC, 1,000,000 leases',
    },
  ];
}
