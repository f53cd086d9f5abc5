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
 * when run with --expose-gc, CPU time, leases), `settle` (the same after
 * idling a while), `stop` (stops like SIGTERM does and exits).
 */
import { readFileSync } from 'node:fs';
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
  /** The most the process was resident at any point (VmHWM): the start's peak. */
  readonly peakRssBytes: number;
  readonly heapUsedBytes: number;
  readonly externalBytes: number;
  /** CPU seconds (user + system) used so far. */
  readonly cpuSeconds: number;
  readonly leases: number;
  readonly deviceApplies: number;
}

/** How long `settle` lets the server idle (with a full collection every second). */
const SETTLE_SECONDS = 15;

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

/**
 * Opens the journal and starts the server. A function of its own so that
 * nothing but the server keeps the replayed records (and the journal bytes
 * they are read from): the server drops them once restored.
 */
async function start() {
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
  const runStart = performance.now();
  await server.run();
  return { server, journal, journalMs, runMs: performance.now() - runStart };
}

const { server: running, journal, journalMs, runMs } = await start();
send({
  event: 'listening',
  mainAt,
  listeningAt: now(),
  deviceMs,
  journalMs,
  runMs,
  leases: running.leaseCount,
} satisfies ListeningEvent);

const gc = () => (globalThis as { gc?: () => void }).gc?.();

/** VmHWM from /proc/self/status, in bytes (0 where there is no such file). */
function peakRss(): number {
  try {
    const match = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

for await (const line of createInterface({ input: process.stdin })) {
  if (line === 'stats' || line === 'settle') {
    // "settle": what a server that has run a while holds: V8 gives pages back
    // to the system over some seconds after a collection, not at once.
    for (let i = 0; line === 'settle' && i < SETTLE_SECONDS; i++) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      gc();
    }
    gc();
    const memory = process.memoryUsage();
    const cpu = process.cpuUsage();
    send({
      event: 'stats',
      rssBytes: memory.rss,
      peakRssBytes: peakRss(),
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
