import { IpAddress, IpPrefix } from '@wg-dynamic/ip';
import type { LeaseRecord } from '@wg-dynamic/server';
import { leaseRecordCodec, openJournal } from '@wg-dynamic/server/journal';
import { peerId } from './memory-device.js';

/** The server benchmark's pools: room for millions of clients in each family. */
export const V4_POOL = IpPrefix.from('10.0.0.0/8');
export const V6_POOL = IpPrefix.from('2001:db8:1234::/64');
export const LEASE_TIME = 3600;

const V4_BASE = V4_POOL.address.toBigInt();
/** Addresses of the /8 between its first and last (which a pool never hands out). */
const V4_SPAN = (1n << 24n) - 2n;
const V6_BASE = V6_POOL.address.toBigInt();
const MASK_64 = (1n << 64n) - 1n;

/**
 * The addresses client n holds in a population made up for the memory and
 * restart measurements: scattered over the pools as random draws would be
 * (a multiplication by a constant prime to the range, so no two clients
 * share one), never a pool's first or last address.
 */
export function leasesOf(n: number): { v4: IpPrefix; v6: IpPrefix } {
  const v4 = V4_BASE + 1n + ((BigInt(n) * 40_503n) % V4_SPAN);
  const v6 = V6_BASE + ((BigInt(n + 1) * 0x9e37_79b9_7f4a_7c15n) & MASK_64);
  return {
    v4: IpPrefix.host(IpAddress.fromBigInt(4, v4)),
    v6: IpPrefix.host(IpAddress.fromBigInt(6, v6)),
  };
}

/**
 * Writes the journal a server leaves behind after granting `clients` clients
 * an IPv4 and an IPv6 address each, `start` seconds into the UNIX epoch.
 */
export async function writePopulationJournal(
  directory: string,
  clients: number,
  start: number,
): Promise<void> {
  const { journal } = await openJournal({ directory, codec: leaseRecordCodec });
  const batch = 20_000;
  for (let first = 0; first < clients; first += batch) {
    const records: LeaseRecord[] = [];
    for (let n = first; n < Math.min(clients, first + batch); n++) {
      const peer = peerId(n);
      const { v4, v6 } = leasesOf(n);
      records.push({ type: 'grant', peer, prefix: v4, start, duration: LEASE_TIME });
      records.push({ type: 'grant', peer, prefix: v6, start, duration: LEASE_TIME });
    }
    await journal.append(records);
  }
  await journal.close();
}
