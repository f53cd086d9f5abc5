import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IpAddress, IpPrefix } from '@wg-dynamic/ip';
import {
  type JournalFile,
  type JournalFileSystem,
  type LeaseRecord,
  leaseRecordCodec,
  nodeFileSystem,
  openJournal,
} from '@wg-dynamic/server/journal';
import { percentile } from './lib/measure.js';
import type { Figure } from './lib/report.js';

/**
 * The lease journal on this machine's disk (os.tmpdir()): durable appends per
 * second with group commit at 1, 64 and 1,024 concurrent appenders, with
 * their latency and the fdatasync latency under them; replay time for 100,000
 * and 1,000,000 grants; bytes per record.
 */
export default async function journal(): Promise<Figure[]> {
  const suite = 'journal';
  const figures: Figure[] = [];
  const note = `on ${tmpdir()}`;
  for (const concurrency of [1, 64, 1024]) {
    const run = await appendRun(concurrency, 2);
    figures.push(
      {
        suite,
        name: `durable appends, ${concurrency} appender(s)`,
        value: run.rate,
        unit: 'appends/s',
        ...(concurrency === 64 ? { target: '>= 12,000 (server, issue 7)' } : {}),
        note: `${run.perBatch.toFixed(1)} appends per fdatasync, ${note}`,
      },
      ...(
        [
          ['append latency', run.latencyP50, run.latencyP99],
          ['fdatasync latency', run.syncP50, run.syncP99],
        ] as const
      ).flatMap(([what, p50, p99]) => [
        { suite, name: `${what} p50, ${concurrency} appender(s)`, value: p50, unit: 'ms' },
        { suite, name: `${what} p99, ${concurrency} appender(s)`, value: p99, unit: 'ms' },
      ]),
    );
  }
  for (const count of [100_000, 1_000_000]) {
    const replay = await replayRun(count);
    figures.push({
      suite,
      name: `replay ${count.toLocaleString('en-US')} grants (open + decode all)`,
      value: replay.ms,
      unit: 'ms',
      ...(count === 100_000 ? { target: '< 2,000 (whole restart, issue 4)' } : {}),
      note: `${(replay.bytes / 2 ** 20).toFixed(1)} MiB, page cache warm`,
    });
  }
  for (const [name, record] of [
    ['IPv4 grant', grant(1, 4)],
    ['IPv6 grant', grant(1, 6)],
    ['IPv4 release', release(1)],
  ] as const) {
    figures.push({
      suite,
      name: `journal bytes per record, ${name}`,
      value: await bytesPerRecord(record),
      unit: 'bytes',
      note: 'frame included',
    });
  }
  return figures;
}

function peer(i: number): string {
  const bytes = Buffer.alloc(32, 0x5c);
  bytes.writeUInt32BE(i, 0);
  return bytes.toString('base64');
}

function grant(i: number, family: 4 | 6 = 4): LeaseRecord {
  const address =
    family === 4
      ? IpAddress.fromBigInt(4, 0x0a00_0000n + BigInt(i))
      : IpAddress.fromBigInt(6, 0x2001_0db8n * 2n ** 96n + BigInt(i));
  return {
    type: 'grant',
    peer: peer(i),
    prefix: IpPrefix.host(address),
    start: 1_700_000_000,
    duration: 3600,
  };
}

function release(i: number): LeaseRecord {
  return { type: 'release', peer: peer(i), prefix: grant(i).prefix, reason: 'expired' };
}

async function scratch<T>(work: (directory: string) => Promise<T>): Promise<T> {
  const root = await mkdtemp(join(tmpdir(), 'wgd-bench-journal-'));
  try {
    return await work(join(root, 'state'));
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

/** The real file system, timing every fdatasync of the journal's files. */
function timingFileSystem(samples: number[]): JournalFileSystem {
  return {
    ...nodeFileSystem,
    async open(path, mode) {
      const file = await nodeFileSystem.open(path, mode);
      const timed: JournalFile = {
        read: (buffer, position) => file.read(buffer, position),
        write: (buffer, position) => file.write(buffer, position),
        size: () => file.size(),
        close: () => file.close(),
        async datasync() {
          const start = process.hrtime.bigint();
          await file.datasync();
          samples.push(Number(process.hrtime.bigint() - start) / 1e6);
        },
      };
      return timed;
    },
  };
}

const elapsedMs = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e6;

async function appendRun(concurrency: number, seconds: number) {
  return scratch(async (directory) => {
    const syncs: number[] = [];
    const { journal } = await openJournal({
      directory,
      codec: leaseRecordCodec,
      fileSystem: timingFileSystem(syncs),
    });
    // Warm up: claim the first space, let the JIT see the path.
    await Promise.all(Array.from({ length: 200 }, (_, i) => journal.append([grant(i)])));
    syncs.length = 0;
    const before = journal.stats;
    const latencies: number[] = [];
    let stop = false;
    const timer = setTimeout(() => {
      stop = true;
    }, seconds * 1000);
    const start = process.hrtime.bigint();
    const appender = async (first: number) => {
      for (let i = first; !stop; i += concurrency) {
        const began = process.hrtime.bigint();
        await journal.append([grant(i)]);
        latencies.push(elapsedMs(began));
      }
    };
    await Promise.all(Array.from({ length: concurrency }, (_, k) => appender(k)));
    const ms = elapsedMs(start);
    clearTimeout(timer);
    const after = journal.stats;
    await journal.close();
    const appends = after.appends - before.appends;
    return {
      rate: (appends / ms) * 1000,
      perBatch: appends / Math.max(1, after.batches - before.batches),
      latencyP50: percentile(latencies, 50),
      latencyP99: percentile(latencies, 99),
      syncP50: percentile(syncs, 50),
      syncP99: percentile(syncs, 99),
    };
  });
}

async function replayRun(count: number) {
  return scratch(async (directory) => {
    const writer = await openJournal({ directory, codec: leaseRecordCodec });
    const batch = 10_000;
    for (let first = 0; first < count; first += batch) {
      const records = Array.from({ length: Math.min(batch, count - first) }, (_, k) =>
        grant(first + k),
      );
      await writer.journal.append(records);
    }
    const bytes = writer.journal.stats.bytes;
    await writer.journal.close();

    const start = process.hrtime.bigint();
    const { journal, records } = await openJournal({ directory, codec: leaseRecordCodec });
    let seen = 0;
    for (const record of records) if (record.type === 'grant') seen++;
    const ms = elapsedMs(start);
    await journal.close();
    if (seen !== count) throw new Error(`replayed ${seen} grants of ${count}`);
    return { ms, bytes };
  });
}

async function bytesPerRecord(record: LeaseRecord): Promise<number> {
  return scratch(async (directory) => {
    const { journal } = await openJournal({ directory, codec: leaseRecordCodec });
    await journal.append(Array.from({ length: 1000 }, () => record));
    const { bytes, records } = journal.stats;
    await journal.close();
    return bytes / records;
  });
}
