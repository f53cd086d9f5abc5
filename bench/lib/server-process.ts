/**
 * The server under benchmark, as its own process in the server's namespace:
 * wg-dynamic-server's own assembly (WgDynamicServer, the durable journal in
 * a real directory, the program's logger writing JSON lines to stderr)
 * against an in-memory device of `clients` peers.
 *
 *   node server-process.js '<json ServerProcessOptions>'
 *
 * Talks JSON lines: on stdout `{"event":"listening",...}` once it serves, and
 * an answer per command read from stdin: `stats` (memory after a full GC
 * when run with --expose-gc, CPU time, leases), `stop` (stops like SIGTERM
 * does and exits).
 */
import { createInterface } from 'node:readline';
import { createProgramLogger } from '@wg-dynamic/cli';
import { systemClock, systemRandom, WgDynamicServer } from '@wg-dynamic/server';
import { leaseRecordCodec, openJournal } from '@wg-dynamic/server/journal';
import { MemoryDevice, memoryNetwork } from './memory-device.js';
import { LEASE_TIME, leasesOf, V4_POOL, V6_POOL } from './population.js';

export interface ServerProcessOptions {
  readonly interfaceName: string;
  readonly stateDirectory: string;
  /** Peers on the in-memory device: clients 0 to clients - 1. */
  readonly clients: number;
  /** Put each client's population leases (`leasesOf`) into its allowed-ips, as a restart finds them. */
  readonly populated: boolean;
  readonly logLevel: 'info' | 'warn';
}

export interface ListeningEvent {
  readonly event: 'listening';
  /** Epoch milliseconds when this module began to run (Node started, modules loaded). */
  readonly mainAt: number;
  /** Epoch milliseconds when the server listened. */
  readonly listeningAt: number;
  /** Building the in-memory device (the benchmark's, not the server's work). */
  readonly deviceMs: number;
  /** Opening the journal (locking, reading the files). */
  readonly journalMs: number;
  /** Replaying the records, reading the device, reconciling, listening. */
  readonly runMs: number;
  readonly leases: number;
}

export interface StatsEvent {
  readonly event: 'stats';
  readonly rssBytes: number;
  readonly heapUsedBytes: number;
  readonly externalBytes: number;
  /** CPU seconds (user + system) used so far. */
  readonly cpuSeconds: number;
  readonly leases: number;
  readonly deviceApplies: number;
}

const now = () => performance.timeOrigin + performance.now();
const mainAt = now();
const options = JSON.parse(process.argv[2] ?? '{}') as ServerProcessOptions;
const send = (event: object) => process.stdout.write(`${JSON.stringify(event)}\n`);

const deviceStart = performance.now();
const device = new MemoryDevice(options.clients, V6_POOL);
if (options.populated) {
  for (let n = 0; n < options.clients; n++) {
    const { v4, v6 } = leasesOf(n);
    device.add(n, v4);
    device.add(n, v6);
  }
}
const deviceMs = performance.now() - deviceStart;

const logger = createProgramLogger('wg-dynamic-server', { level: options.logLevel });
const journalStart = performance.now();
let server: WgDynamicServer | undefined;
const { journal, records } = await openJournal({
  directory: options.stateDirectory,
  codec: leaseRecordCodec,
  logger: logger.child({ layer: 'journal' }),
  compaction: {
    snapshot: () => server?.service.snapshot() ?? [],
    liveRecords: () => server?.leaseCount ?? 0,
  },
});
const journalMs = performance.now() - journalStart;

server = WgDynamicServer.create(
  {
    interfaceName: options.interfaceName,
    leaseTime: LEASE_TIME,
    pools: [V4_POOL, V6_POOL],
    routes: [],
    refreshIntervalMs: 3_600_000,
  },
  {
    device,
    network: memoryNetwork([V4_POOL, V6_POOL]),
    journal,
    records,
    logger,
    clock: systemClock,
    random: systemRandom,
  },
);
const running = server;
const runStart = performance.now();
await running.run();
const runMs = performance.now() - runStart;
send({
  event: 'listening',
  mainAt,
  listeningAt: now(),
  deviceMs,
  journalMs,
  runMs,
  leases: running.leaseCount,
} satisfies ListeningEvent);

for await (const line of createInterface({ input: process.stdin })) {
  if (line === 'stats') {
    (globalThis as { gc?: () => void }).gc?.();
    const memory = process.memoryUsage();
    const cpu = process.cpuUsage();
    send({
      event: 'stats',
      rssBytes: memory.rss,
      heapUsedBytes: memory.heapUsed,
      externalBytes: memory.external,
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      leases: running.leaseCount,
      deviceApplies: device.applies,
    } satisfies StatsEvent);
  } else if (line === 'stop') {
    break;
  }
}
await running.stop('stopped');
await journal.close();
send({ event: 'stopped' });
process.exit(0);
