import type { IpFamily } from '@wg-dynamic/ip';
import type { Lease } from '../leases/lease.js';

/** What `wg-dynamic-server show` prints: plain data, as JSON on the control socket. */
export interface ServerStatus {
  readonly interface: string;
  readonly leaseTime: number;
  /** Wall-clock UNIX seconds when the status was taken. */
  readonly now: number;
  readonly pools: readonly {
    readonly family: IpFamily;
    readonly pool: string;
    /** Addresses that can be handed out (decimal string: a /64 does not fit a JSON number). */
    readonly capacity: string;
    readonly leased: number;
  }[];
  readonly routes: readonly string[];
  readonly leases: readonly {
    readonly peer: string;
    readonly address: string;
    readonly start: number;
    readonly duration: number;
    /** Seconds until it runs out (monotonic clock). */
    readonly secondsLeft: number;
  }[];
  /** The delegation pools (`--delegate`); absent from a server that predates them. */
  readonly delegations?: readonly {
    readonly family: IpFamily;
    readonly pool: string;
    /** The length of the prefixes the pool is cut into. */
    readonly length: number;
    /** Prefixes that can be delegated (decimal string, as for pools). */
    readonly capacity: string;
    readonly delegated: number;
  }[];
  /** The delegated prefixes held now. */
  readonly prefixes?: readonly {
    readonly peer: string;
    readonly prefix: string;
    readonly start: number;
    readonly duration: number;
    readonly secondsLeft: number;
  }[];
}

export function leaseStatus(lease: Lease, nowMs: number): ServerStatus['leases'][number] {
  return {
    peer: lease.peer,
    address: lease.prefix.toString(),
    start: lease.start,
    duration: lease.duration,
    secondsLeft: Math.max(0, Math.round((lease.expiresAt - nowMs) / 1000)),
  };
}

export function prefixStatus(
  lease: Lease,
  nowMs: number,
): NonNullable<ServerStatus['prefixes']>[number] {
  const { address, ...rest } = leaseStatus(lease, nowMs);
  return { ...rest, prefix: address };
}

function duration(seconds: number): string {
  if (seconds <= 0) return 'now';
  const units: [number, string][] = [
    [86400, 'day'],
    [3600, 'hour'],
    [60, 'minute'],
    [1, 'second'],
  ];
  const parts: string[] = [];
  let rest = seconds;
  for (const [size, name] of units) {
    const count = Math.floor(rest / size);
    if (count > 0) parts.push(`${count} ${name}${count === 1 ? '' : 's'}`);
    rest -= count * size;
  }
  return parts.slice(0, 2).join(', ');
}

/** A count as a person reads it: exact up to a trillion, then with three figures (1.84e19). */
function count(decimal: string): string {
  return decimal.length <= 12 ? decimal : Number(decimal).toPrecision(3);
}

/** The status as a person reads it, in the manner of `wg show`. */
export function formatStatus(status: ServerStatus): string {
  const lines = [`interface: ${status.interface}`, `  lease time: ${duration(status.leaseTime)}`];
  for (const pool of status.pools) {
    lines.push(`  pool: ${pool.pool} (${pool.leased} of ${count(pool.capacity)} leased)`);
  }
  if (status.pools.length === 0) lines.push('  pools: none (every request gets errno 3)');
  if (status.routes.length > 0) lines.push(`  pushed routes: ${status.routes.join(', ')}`);
  for (const pool of status.delegations ?? []) {
    lines.push(
      `  delegation: ${pool.pool} in /${pool.length}s (${pool.delegated} of ${count(pool.capacity)} delegated)`,
    );
  }
  type Entry = { peer: string; text: string; start: number; secondsLeft: number; verb: string };
  const byPeer = new Map<string, Entry[]>();
  const entries: Entry[] = [
    ...status.leases.map((l) => ({ ...l, text: l.address, verb: 'leased' })),
    ...(status.prefixes ?? []).map((l) => ({ ...l, text: l.prefix, verb: 'delegated' })),
  ];
  for (const entry of entries) byPeer.set(entry.peer, [...(byPeer.get(entry.peer) ?? []), entry]);
  for (const [peer, leases] of [...byPeer].sort(([a], [b]) => a.localeCompare(b))) {
    lines.push('', `peer: ${peer}`);
    for (const lease of leases) {
      const since = new Date(lease.start * 1000).toISOString().replace('T', ' ').slice(0, 19);
      lines.push(
        `  ${lease.text}: ${lease.verb} since ${since} UTC, ${duration(lease.secondsLeft)} left`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}
