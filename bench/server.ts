/**
 * wg-dynamic-server under load, over real TCP between two network namespaces
 * joined by a veth pair (lib/netns.ts), against an in-memory device
 * (lib/memory-device.ts) with the durable journal on in a real directory:
 *
 * - durable new leases per second and renewals per second, with p50/p99
 *   latency, at 1, 64 and 1,024 concurrent clients; each figure next to the
 *   machine's ceiling measured in the same run (a trivial server answering
 *   the same bytes over the same path to the same load generator,
 *   lib/ceiling-server.ts) and the ratio between them;
 * - the server's memory with 100,000 and 1,000,000 leases;
 * - the restart time with 100,000 leases (journal replay and restore, until
 *   listening).
 *
 * A client here is what the reference client is: one peer asking for an
 * IPv4 and an IPv6 address in one exchange, so one "new lease" exchange
 * leases two addresses and writes two journal records, and 100,000 leases
 * are 50,000 such clients.
 *
 * For work on the server, two environment variables narrow it down:
 * WG_DYNAMIC_BENCH_SERVER=throughput (or memory) runs only that part,
 * WG_DYNAMIC_BENCH_CLIENTS=64 (or 1, or 1024) only that many clients, and
 * WG_DYNAMIC_BENCH_PROFILE=<dir> writes a CPU profile of each server
 * process there (node --cpu-prof).
 *
 * It needs root and network namespaces: `npm run bench` runs itself inside a
 * lab sandbox when it can (bench/run.ts), and everything made here goes
 * with the sandbox.
 */
import { closeSync, openSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isInSandbox, runCommand } from '@wg-dynamic/lab';
import { JsonLineChild } from './lib/child.js';
import type { Generator, LoadOptions, RunResult } from './lib/load-generator.js';
import { percentile } from './lib/measure.js';
import { BenchNetwork } from './lib/netns.js';
import { writePopulationJournal } from './lib/population.js';
import { type Figure, notRun } from './lib/report.js';
import type { ListeningEvent, ServerProcessOptions, StatsEvent } from './lib/server-process.js';

const SUITE = 'server';
const LEVELS = [
  { concurrency: 1, exchanges: 5_000, processes: 1 },
  { concurrency: 64, exchanges: 20_000, processes: 2 },
  { concurrency: 1024, exchanges: 20_000, processes: 2 },
] as const;
/** Leases held for the memory figures (two a client), and for the restart time. */
const MEMORY_LEASES = [100_000, 1_000_000] as const;
const RESTART_LEASES = 100_000;

const script = (name: string) => fileURLToPath(new URL(`./lib/${name}`, import.meta.url));

interface RunSummary {
  readonly rate: number;
  readonly p50: number;
  readonly p99: number;
  readonly ok: number;
  readonly failed: number;
  readonly failures: readonly string[];
  /** Cores the target used during the run, and the load generators. */
  readonly targetCores: number;
  readonly loadCores: number;
}

type Target = 'server' | 'ceiling';

export default async function server(): Promise<Figure[]> {
  if (!isInSandbox()) {
    return notRun(
      SUITE,
      'needs root and network namespaces: run `npm run bench` as root (it runs itself in a lab sandbox)',
    );
  }
  const generator: Generator = 'lean';
  const scratch = await mkdtemp(join(tmpdir(), 'wgd-bench-server-'));
  const fileSystem = await fileSystemOf(scratch);
  const network = await BenchNetwork.create(Math.max(...LEVELS.map((level) => level.exchanges)));
  const figures: Figure[] = [];
  try {
    const part = process.env.WG_DYNAMIC_BENCH_SERVER;
    const only = process.env.WG_DYNAMIC_BENCH_CLIENTS;
    const levels = LEVELS.filter((level) => !only || String(level.concurrency) === only);
    for (const level of part === 'memory' ? [] : levels) {
      const ceiling = await throughput(network, 'ceiling', level, generator, scratch);
      const measured = await throughput(network, 'server', level, generator, scratch);
      figures.push(...throughputFigures(level, measured, ceiling, generator, fileSystem));
    }
    if (part === 'throughput') return figures;
    const baseline = await startServer(network, scratch, 'baseline', 0);
    const idle = await baseline.child.ask<StatsEvent>('settle');
    await stopServer(baseline.child);
    for (const leases of MEMORY_LEASES) {
      figures.push(...(await memoryFigures(network, scratch, leases, idle)));
    }
  } finally {
    await network.destroy();
    await rm(scratch, { recursive: true, force: true });
  }
  return figures;
}

function throughputFigures(
  level: (typeof LEVELS)[number],
  measured: Record<'new' | 'renew', RunSummary>,
  ceiling: Record<'new' | 'renew', RunSummary>,
  generator: Generator,
  fileSystem: string,
): Figure[] {
  const clients = `${level.concurrency.toLocaleString('en-US')} client${level.concurrency === 1 ? '' : 's'}`;
  const load = `${level.processes} ${generator} load generator${level.processes === 1 ? '' : 's'}`;
  const figures: Figure[] = [];
  for (const kind of ['new', 'renew'] as const) {
    const m = measured[kind];
    const c = ceiling[kind];
    const what = kind === 'new' ? 'durable new leases' : 'renewals';
    const target =
      level.concurrency === 64
        ? kind === 'new'
          ? '>= 12,000/s, ratio >= 0.8'
          : '>= 25,000/s, ratio >= 0.8'
        : undefined;
    const failures =
      m.failed + c.failed > 0
        ? `; FAILED ${m.failed} (ceiling ${c.failed}): ${[...m.failures, ...c.failures][0] ?? ''}`
        : '';
    figures.push(
      {
        suite: SUITE,
        name: `${what}, ${clients}`,
        value: m.rate,
        unit: 'exchanges/s',
        ceiling: c.rate,
        ...(target ? { target } : {}),
        note:
          `${m.ok.toLocaleString('en-US')} exchanges (IPv4+IPv6 each), server ${m.targetCores.toFixed(2)} cores, ` +
          `load ${m.loadCores.toFixed(2)} cores (${load}), journal on ${fileSystem}${failures}`,
      },
      {
        suite: SUITE,
        name: `${what} latency p50, ${clients}`,
        value: m.p50,
        unit: 'ms',
        ceiling: c.p50,
        lowerIsBetter: true,
      },
      {
        suite: SUITE,
        name: `${what} latency p99, ${clients}`,
        value: m.p99,
        unit: 'ms',
        ceiling: c.p99,
        lowerIsBetter: true,
      },
    );
  }
  return figures;
}

async function throughput(
  network: BenchNetwork,
  target: Target,
  level: (typeof LEVELS)[number],
  generator: Generator,
  scratch: string,
): Promise<Record<'new' | 'renew', RunSummary>> {
  const started =
    target === 'server'
      ? (await startServer(network, scratch, `c${level.concurrency}`, level.exchanges)).child
      : await startCeiling(network);
  const perProcess = Math.ceil(level.exchanges / level.processes);
  const loads = Array.from({ length: level.processes }, (_, p) => {
    const options: LoadOptions = {
      interfaceName: network.interfaceName,
      first: p * perProcess,
      count: Math.min(perProcess, level.exchanges - p * perProcess),
      concurrency: Math.ceil(level.concurrency / level.processes),
      generator,
    };
    return new JsonLineChild(
      network.inClients([process.execPath, script('load-generator.js'), JSON.stringify(options)]),
      'inherit',
    );
  });
  try {
    const summaries = {} as Record<'new' | 'renew', RunSummary>;
    for (const kind of ['new', 'renew'] as const) {
      const before = await started.ask<{ cpuSeconds: number }>('stats');
      const results = await Promise.all(loads.map((load) => load.ask<RunResult>({ run: kind })));
      const after = await started.ask<{ cpuSeconds: number }>('stats');
      summaries[kind] = summarize(results, after.cpuSeconds - before.cpuSeconds);
    }
    return summaries;
  } finally {
    await Promise.all(loads.map((load) => load.close()));
    await stopServer(started);
  }
}

function summarize(results: readonly RunResult[], targetCpuSeconds: number): RunSummary {
  const startedAt = Math.min(...results.map((r) => r.startedAt));
  const endedAt = Math.max(...results.map((r) => r.endedAt));
  const seconds = (endedAt - startedAt) / 1000;
  const latencies: number[] = [];
  for (const result of results) {
    const bytes = Buffer.from(result.latencies, 'base64');
    const values = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
    for (const value of values) latencies.push(value);
  }
  const ok = results.reduce((sum, r) => sum + r.ok, 0);
  return {
    rate: ok / seconds,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    ok,
    failed: results.reduce((sum, r) => sum + r.failed, 0),
    failures: results.flatMap((r) => r.failures),
    targetCores: targetCpuSeconds / seconds,
    loadCores: results.reduce((sum, r) => sum + r.cpuSeconds, 0) / seconds,
  };
}

async function startCeiling(network: BenchNetwork): Promise<JsonLineChild> {
  const child = new JsonLineChild(
    network.inServer([process.execPath, script('ceiling-server.js'), network.interfaceName]),
    'inherit',
  );
  await child.next();
  return child;
}

/** Starts the server process with a state directory of its own under `scratch/name`. */
async function startServer(
  network: BenchNetwork,
  scratch: string,
  name: string,
  clients: number,
  populated = false,
): Promise<{ child: JsonLineChild; listening: ListeningEvent }> {
  const directory = join(scratch, name);
  await mkdir(directory, { recursive: true });
  const options: ServerProcessOptions = {
    interfaceName: network.interfaceName,
    stateDirectory: join(directory, 'state'),
    clients,
    populated,
    logLevel: 'info',
  };
  // The log goes to a file, as it would to journald: its cost is the server's.
  const log = openSync(join(directory, 'server.log'), 'a');
  try {
    const child = new JsonLineChild(
      network.inServer([
        process.execPath,
        '--expose-gc',
        ...(process.env.WG_DYNAMIC_BENCH_PROFILE
          ? ['--cpu-prof', '--cpu-prof-dir', process.env.WG_DYNAMIC_BENCH_PROFILE]
          : []),
        script('server-process.js'),
        JSON.stringify(options),
      ]),
      log,
    );
    const listening = await child.next<ListeningEvent>();
    return { child, listening };
  } finally {
    closeSync(log);
  }
}

async function stopServer(child: JsonLineChild): Promise<void> {
  child.send('stop');
  await child.close();
}

async function memoryFigures(
  network: BenchNetwork,
  scratch: string,
  leases: number,
  idle: StatsEvent,
): Promise<Figure[]> {
  const clients = leases / 2;
  const name = `m${leases}`;
  const start = Math.floor(Date.now() / 1000);
  await writePopulationJournal(join(scratch, name, 'state'), clients, start);
  const who = `${leases.toLocaleString('en-US')} leases (${clients.toLocaleString('en-US')} clients)`;
  const first = await startServer(network, scratch, name, clients, true);
  const stats = await first.child.ask<StatsEvent>('settle');
  await stopServer(first.child);
  if (stats.leases !== leases) {
    throw new Error(`the server restored ${stats.leases} leases of ${leases}`);
  }
  const mib = (bytes: number) => bytes / 2 ** 20;
  const figures: Figure[] = [
    {
      suite: SUITE,
      name: `server RSS, ${who}`,
      value: mib(stats.rssBytes),
      unit: 'MiB',
      ...(leases === 100_000 ? { target: '< 150 MB (143 MiB)' } : {}),
      note:
        `settled (15 s idle with full GCs; ${mib(stats.peakRssBytes).toFixed(0)} MiB at the start's peak); ` +
        `includes Node with an idle server (${mib(idle.rssBytes).toFixed(0)} MiB) and the in-memory device (13 bytes a client)`,
    },
    {
      suite: SUITE,
      name: `server heap used, ${who}`,
      value: mib(stats.heapUsedBytes),
      unit: 'MiB',
      note: `${((stats.heapUsedBytes - idle.heapUsedBytes) / leases).toFixed(0)} bytes a lease above an idle server's ${mib(idle.heapUsedBytes).toFixed(1)} MiB`,
    },
  ];
  // The first start replays a journal it did not write; the restart measured for
  // RESTART_LEASES is a second one, on the state the first left behind.
  let timed = first;
  if (leases === RESTART_LEASES) {
    timed = await startServer(network, scratch, name, clients, true);
    await stopServer(timed.child);
  }
  const { listening } = timed;
  const bootMs = listening.mainAt - timed.child.spawnedAt;
  figures.push({
    suite: SUITE,
    name: `${leases === RESTART_LEASES ? 'restart' : 'first start'}, ${who}`,
    value: listening.listeningAt - timed.child.spawnedAt - listening.deviceMs,
    unit: 'ms',
    ...(leases === RESTART_LEASES ? { target: '< 2,000' } : {}),
    note:
      `until listening: Node start ${bootMs.toFixed(0)} ms, journal open ${listening.journalMs.toFixed(0)} ms, ` +
      `replay + device read + reconcile + listen ${listening.runMs.toFixed(0)} ms (building the in-memory device excluded)`,
  });
  return figures;
}

/** The file system a path lives on, as findmnt names it (e.g. "ext4 /dev/vda"). */
async function fileSystemOf(path: string): Promise<string> {
  const result = await runCommand(['findmnt', '-n', '-o', 'FSTYPE,SOURCE', '-T', path]);
  const found = result.stdout.trim().replace(/\s+/, ' ');
  return found === '' ? 'an unknown file system' : `${found} (${tmpdir()})`;
}
