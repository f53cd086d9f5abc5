import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { IpFamily } from '@wg-dynamic/ip';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { Refusal } from '../net/listener.js';
import type { ServerObserver } from '../server.js';
import type { LeaseEvent, RequestOutcome } from '../service/lease-service.js';

/** What the gauges read when Prometheus scrapes. */
export interface MetricsSource {
  leaseCounts(): Readonly<Record<IpFamily, number>>;
  usage(): Iterable<{
    family: IpFamily;
    pool: { toString(): string };
    capacity: bigint;
    allocated: number;
  }>;
  connections(): number;
  /** Per delegation pool (`--delegate`): prefixes that can be delegated and how many are. */
  delegationUsage?(): Iterable<{
    family: IpFamily;
    pool: { toString(): string };
    length: number;
    capacity: bigint;
    allocated: number;
  }>;
}

/**
 * The server's Prometheus metrics, in a registry of their own (a library
 * never touches prom-client's global one). Counters are fed through the
 * ServerObserver; gauges are read from the server at each scrape.
 */
export class ServerMetrics {
  readonly registry = new Registry();
  readonly observer: ServerObserver;
  readonly journalSync: Histogram;

  constructor(source: MetricsSource) {
    const registers = [this.registry];
    const requests = new Counter({
      name: 'wg_dynamic_requests_total',
      help: 'Requests answered, by outcome: success (errno 0), unavailable (errno 3), failed (not recorded; answered errno 3)',
      labelNames: ['outcome'],
      registers,
    });
    const leaseEvents = new Counter({
      name: 'wg_dynamic_lease_events_total',
      help: 'Lease events by kind (granted, renewed, released, expired, revoked, dropped, adopted) and family',
      labelNames: ['event', 'family'],
      registers,
    });
    const prefixEvents = new Counter({
      name: 'wg_dynamic_prefix_events_total',
      help: 'Delegated-prefix events by kind (granted, renewed, released, expired, revoked, dropped) and family',
      labelNames: ['event', 'family'],
      registers,
    });
    const expiries = new Counter({
      name: 'wg_dynamic_expiries_total',
      help: 'Leases that ran out without renewal, by family',
      labelNames: ['family'],
      registers,
    });
    const refusals = new Counter({
      name: 'wg_dynamic_refusals_total',
      help: 'Connections refused or requests rejected, by reason',
      labelNames: ['reason'],
      registers,
    });
    this.journalSync = new Histogram({
      name: 'wg_dynamic_journal_sync_seconds',
      help: 'Time to write and fdatasync one batch of lease records',
      buckets: [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers,
    });
    new Gauge({
      name: 'wg_dynamic_leases',
      help: 'Leases held now, by family',
      labelNames: ['family'],
      registers,
      collect() {
        const counts = source.leaseCounts();
        this.set({ family: 'ipv4' }, counts[4]);
        this.set({ family: 'ipv6' }, counts[6]);
      },
    });
    new Gauge({
      name: 'wg_dynamic_pool_addresses',
      help: 'Addresses of each pool that can be handed out, by state (leased or free)',
      labelNames: ['pool', 'family', 'state'],
      registers,
      collect() {
        this.reset();
        for (const u of source.usage()) {
          const labels = { pool: u.pool.toString(), family: familyLabel(u.family) };
          this.set({ ...labels, state: 'leased' }, u.allocated);
          // A /64 holds more than a float counts exactly; Prometheus values are floats anyway.
          this.set({ ...labels, state: 'free' }, Number(u.capacity - BigInt(u.allocated)));
        }
      },
    });
    new Gauge({
      name: 'wg_dynamic_delegated_prefixes',
      help: 'Prefixes of each delegation pool (--delegate) that can be delegated, by state (delegated or free)',
      labelNames: ['pool', 'family', 'length', 'state'],
      registers,
      collect() {
        this.reset();
        for (const u of source.delegationUsage?.() ?? []) {
          const labels = {
            pool: u.pool.toString(),
            family: familyLabel(u.family),
            length: String(u.length),
          };
          this.set({ ...labels, state: 'delegated' }, u.allocated);
          this.set({ ...labels, state: 'free' }, Number(u.capacity - BigInt(u.allocated)));
        }
      },
    });
    new Gauge({
      name: 'wg_dynamic_connections',
      help: 'Client connections open now',
      registers,
      collect() {
        this.set(source.connections());
      },
    });
    collectDefaultMetrics({ register: this.registry });

    this.observer = {
      request: (outcome: RequestOutcome) => requests.inc({ outcome }),
      lease: (event: LeaseEvent, prefix, delegated) => {
        if (delegated) {
          prefixEvents.inc({ event, family: familyLabel(prefix.family) });
          return;
        }
        leaseEvents.inc({ event, family: familyLabel(prefix.family) });
        if (event === 'expired') expiries.inc({ family: familyLabel(prefix.family) });
      },
      refusal: (reason: Refusal) => refusals.inc({ reason }),
    };
  }
}

const familyLabel = (family: IpFamily) => (family === 4 ? 'ipv4' : 'ipv6');

/** Serves the registry on http://host:port/metrics; everything else is 404. */
export async function serveMetrics(
  registry: Registry,
  host: string,
  port: number,
): Promise<Server> {
  const server = createServer((request, response) => {
    if (request.method !== 'GET' || request.url?.split('?')[0] !== '/metrics') {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics\n');
      return;
    }
    registry
      .metrics()
      .then((text) => response.writeHead(200, { 'content-type': registry.contentType }).end(text))
      .catch((error: unknown) =>
        response.writeHead(500, { 'content-type': 'text/plain' }).end(`${String(error)}\n`),
      );
  });
  server.listen({ host, port });
  await Promise.race([
    once(server, 'listening'),
    once(server, 'error').then(([error]) => {
      throw error;
    }),
  ]);
  return server;
}
