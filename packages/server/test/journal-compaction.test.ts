import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IpAddress, IpPrefix } from '@wg-dynamic/ip';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type CompactionOptions,
  type JournalFile,
  type JournalFileSystem,
  type LeaseRecord,
  leaseRecordCodec,
  nodeFileSystem,
  openJournal,
  segmentName,
  snapshotName,
} from '../src/journal/index.js';

const roots: string[] = [];
afterEach(async () => {
  for (const root of roots.splice(0)) await rm(root, { recursive: true, force: true });
});

async function stateDirectory(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'wgd-compaction-'));
  roots.push(root);
  return join(root, 'state');
}

function peer(i: number): string {
  const bytes = Buffer.alloc(32, 0x22);
  bytes.writeUInt32BE(i, 0);
  return bytes.toString('base64');
}

const address = (i: number) => IpPrefix.host(IpAddress.fromBigInt(4, 0x0a00_0000n + BigInt(i)));

const grant = (i: number, start: number): LeaseRecord => ({
  type: 'grant',
  peer: peer(i),
  prefix: address(i),
  start,
  duration: 600,
});

const release = (i: number): LeaseRecord => ({
  type: 'release',
  peer: peer(i),
  prefix: address(i),
  reason: 'released',
});

/**
 * The live state the way a lease table folds records: the last grant per
 * peer and prefix, gone after its release. Applying a record twice changes
 * nothing, as the compaction contract requires.
 */
class LeaseModel {
  readonly leases = new Map<string, LeaseRecord>();

  apply(record: LeaseRecord): void {
    const key = `${record.peer} ${record.prefix}`;
    if (record.type === 'grant') this.leases.set(key, record);
    else this.leases.delete(key);
  }

  static of(records: Iterable<LeaseRecord>): LeaseModel {
    const model = new LeaseModel();
    for (const record of records) model.apply(record);
    return model;
  }

  /** Comparable: sorted descriptions. */
  view(): string[] {
    return [...this.leases.values()]
      .map((r) => `${r.peer} ${r.prefix} ${r.type === 'grant' ? r.start : ''}`)
      .sort();
  }

  /** A compaction source: a copy of the state, taken when called. */
  compaction(extra: Partial<CompactionOptions<LeaseRecord>> = {}): CompactionOptions<LeaseRecord> {
    return {
      snapshot: () => [...this.leases.values()],
      liveRecords: () => this.leases.size,
      ...extra,
    };
  }
}

/** A deterministic pseudo-random sequence (mulberry32). */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function replayModel(directory: string) {
  const opened = await openJournal({ directory, codec: leaseRecordCodec });
  const model = LeaseModel.of(opened.records);
  await opened.journal.close();
  return { model, report: opened.report };
}

describe('compaction', () => {
  it('loses nothing under concurrent appends and replays to the same state', async () => {
    const directory = await stateDirectory();
    const model = new LeaseModel();
    const { journal } = await openJournal({
      directory,
      codec: leaseRecordCodec,
      preallocationBytes: 16 * 1024,
      compaction: model.compaction({ minimumRecords: 400, ratio: 1 }),
    });
    const next = random(7);
    let clock = 1_700_000_000;
    // 16 clients, each a stream of grants, renewals and releases over 300 peers.
    const client = async (id: number) => {
      for (let n = 0; n < 150; n++) {
        const i = Math.floor(next() * 300);
        const record = next() < 0.2 ? release(i) : grant(i, clock++);
        model.apply(record); // the table changes first, then the journal (the contract)
        await journal.append([record], { useReserve: record.type === 'release' });
        if (id === 0 && n === 75) await journal.compact(); // a forced one, among automatic ones
      }
    };
    await Promise.all(Array.from({ length: 16 }, (_, id) => client(id)));
    // 2,400 records against a threshold of 400: several ran by themselves, under load.
    expect(journal.stats.compactions).toBeGreaterThanOrEqual(3);
    await journal.compact();
    expect(journal.stats.journalRecords).toBeLessThan(model.leases.size + 400);
    await journal.close();

    const names = (await readdir(directory)).sort();
    const snapshots = names.filter((n) => n.startsWith('snapshot-'));
    expect(snapshots).toHaveLength(1);
    const first = Number(snapshots[0]?.slice(9, 19));
    expect(names.filter((n) => n.startsWith('journal-'))).toEqual([segmentName(first)]);

    const { model: replayed, report } = await replayModel(directory);
    expect(replayed.view()).toEqual(model.view());
    expect(report).toMatchObject({ damaged: [], removed: [] });
    expect(report.snapshot?.file).toBe(join(directory, snapshotName(first)));
  });

  it('does not block appends while the snapshot is written', async () => {
    const directory = await stateDirectory();
    const model = new LeaseModel();
    let resume: () => void = () => {};
    let paused: () => void = () => {};
    const snapshotPaused = new Promise<void>((resolve) => {
      paused = resolve;
    });
    const { journal } = await openJournal({
      directory,
      codec: leaseRecordCodec,
      compaction: {
        // A slow source: it stops halfway until the test lets it go on.
        snapshot: () => {
          const copy = [...model.leases.values()];
          return (async function* () {
            for (const [index, record] of copy.entries()) {
              if (index === 5000) {
                paused();
                await new Promise<void>((resolve) => {
                  resume = resolve;
                });
              }
              yield record;
            }
          })();
        },
        liveRecords: () => model.leases.size,
        minimumRecords: 1_000_000, // only when asked
      },
    });
    for (let i = 0; i < 10_000; i += 500) {
      const batch = Array.from({ length: 500 }, (_, k) => grant(i + k, 1_700_000_000));
      for (const record of batch) model.apply(record);
      await journal.append(batch);
    }
    const compaction = journal.compact();
    await snapshotPaused;
    // Mid-snapshot: appends are durable at once, in the new segment.
    for (let i = 0; i < 50; i++) {
      const record = grant(20_000 + i, 1_700_000_500);
      model.apply(record);
      await journal.append([record]);
    }
    expect(journal.stats.segment).toBe(2);
    expect((await readdir(directory)).sort()).toEqual(
      ['lock', segmentName(1), segmentName(2), `${snapshotName(2)}.tmp`].sort(),
    );
    resume();
    await compaction;
    expect((await readdir(directory)).sort()).toEqual(
      ['lock', segmentName(2), snapshotName(2)].sort(),
    );
    await journal.close();
    const { model: replayed, report } = await replayModel(directory);
    expect(report.snapshot).toEqual({ file: join(directory, snapshotName(2)), records: 10_000 });
    expect(replayed.view()).toEqual(model.view());
  });

  it('rewrites a journal with damage at the first chance, without the damage', async () => {
    const directory = await stateDirectory();
    const model = new LeaseModel();
    const first = await openJournal({ directory, codec: leaseRecordCodec });
    for (let i = 0; i < 10; i++) await first.journal.append([grant(i, 1_700_000_000)]);
    await first.journal.close();
    const file = join(directory, segmentName(1));
    const bytes = await readFile(file);
    bytes[20 + 3 * 55 + 30] = (bytes[20 + 3 * 55 + 30] as number) ^ 1; // inside record 3
    await writeFile(file, bytes);

    let taken: () => void = () => {};
    const snapshotTaken = new Promise<void>((resolve) => {
      taken = resolve;
    });
    const { journal, records, report } = await openJournal({
      directory,
      codec: leaseRecordCodec,
      compaction: {
        snapshot: () => {
          taken();
          return [...model.leases.values()];
        },
        liveRecords: () => model.leases.size,
        minimumRecords: 1_000_000,
      },
    });
    expect(report.damaged).toHaveLength(1);
    for (const record of records) model.apply(record);
    expect(model.leases.size).toBe(9);
    model.apply(grant(10, 1_700_000_000));
    await journal.append([grant(10, 1_700_000_000)]);
    await snapshotTaken; // started by itself, far below the threshold
    await journal.compact();
    expect(journal.stats.compactions).toBe(1);
    await journal.close();
    const again = await replayModel(directory);
    expect(again.report.damaged).toEqual([]);
    expect(again.model.view()).toEqual(model.view());
  });

  it('stops a snapshot in progress on close, and the journal stays whole', async () => {
    const directory = await stateDirectory();
    const model = new LeaseModel();
    let paused: () => void = () => {};
    const snapshotPaused = new Promise<void>((resolve) => {
      paused = resolve;
    });
    const { journal } = await openJournal({
      directory,
      codec: leaseRecordCodec,
      compaction: {
        snapshot: () => {
          const copy = [...model.leases.values()];
          return (async function* () {
            for (const [index, record] of copy.entries()) {
              if (index === 6000) {
                paused();
                await new Promise((resolve) => setImmediate(resolve));
              }
              yield record;
            }
          })();
        },
        liveRecords: () => model.leases.size,
        minimumRecords: 1_000_000,
      },
    });
    const batch = Array.from({ length: 8000 }, (_, k) => grant(k, 1_700_000_000));
    for (const record of batch) model.apply(record);
    await journal.append(batch);
    const compaction = journal.compact();
    await snapshotPaused;
    await journal.close();
    await expect(compaction).rejects.toMatchObject({ code: 'closed' });
    expect((await readdir(directory)).sort()).toEqual([segmentName(1), segmentName(2)]);
    expect((await replayModel(directory)).model.view()).toEqual(model.view());
  });
});

// ---- crash points -------------------------------------------------------------------------------

/**
 * The real file system until the power goes: from the first call `cutsPower`
 * picks, every operation fails, so nothing after it reaches the disk (what
 * was written before stays, as in the page cache of a crashed process).
 */
function crashingFileSystem(cutsPower: (op: string, path: string) => boolean) {
  let off = false;
  const guarded = async <T>(op: string, path: string, run: () => Promise<T>): Promise<T> => {
    if (!off && cutsPower(op, path)) off = true;
    if (off) throw Object.assign(new Error('simulated crash'), { code: 'EIO' });
    return run();
  };
  const wrapFile = (path: string, file: JournalFile): JournalFile => ({
    read: (buffer, position) => guarded('read', path, () => file.read(buffer, position)),
    write: (buffer, position) => guarded('write', path, () => file.write(buffer, position)),
    datasync: () => guarded('datasync', path, () => file.datasync()),
    size: () => guarded('size', path, () => file.size()),
    // The descriptor goes away with the process either way.
    close: () => file.close(),
  });
  const base = nodeFileSystem;
  const fileSystem: JournalFileSystem = {
    makeDirectory: (path, mode) =>
      guarded('makeDirectory', path, () => base.makeDirectory(path, mode)),
    list: (path) => guarded('list', path, () => base.list(path)),
    open: (path, mode) =>
      guarded(`open-${mode}`, path, async () => wrapFile(path, await base.open(path, mode))),
    readFile: (path) => guarded('readFile', path, () => base.readFile(path)),
    rename: (from, to) => guarded('rename', from, () => base.rename(from, to)),
    unlink: (path) => guarded('unlink', path, () => base.unlink(path)),
    symlink: (target, path) => guarded('symlink', path, () => base.symlink(target, path)),
    readLink: (path) => guarded('readLink', path, () => base.readLink(path)),
    syncDirectory: (path) => guarded('syncDirectory', path, () => base.syncDirectory(path)),
  };
  return { fileSystem, crashed: () => off };
}

describe('a crash during compaction', () => {
  /**
   * Two compactions' worth of history (a snapshot and segments), then a
   * third compaction that crashes where `cutsPower` says; then a restart.
   */
  async function crashAt(cutsPower: (op: string, path: string) => boolean) {
    const directory = await stateDirectory();
    const model = new LeaseModel();
    let armed = false; // only the third compaction may crash
    const { fileSystem, crashed } = crashingFileSystem((op, path) => armed && cutsPower(op, path));
    const { journal } = await openJournal({
      directory,
      codec: leaseRecordCodec,
      fileSystem,
      compaction: model.compaction({ minimumRecords: 1_000_000 }),
    });
    let clock = 1_700_000_000;
    const round = async (count: number) => {
      for (let i = 0; i < count; i++) {
        const record = i % 7 === 3 ? release(i - 1) : grant(i % 3000, clock++);
        model.apply(record);
        await journal.append([record]);
      }
    };
    await round(300);
    await journal.compact(); // snapshot-2
    await round(300);
    await journal.compact(); // snapshot-3
    await round(300);
    const before = (await readdir(directory)).sort();
    armed = true;
    await expect(journal.compact()).rejects.toMatchObject({ code: 'io' });
    expect(crashed()).toBe(true);
    const left = (await readdir(directory)).sort();
    // The crashed process is gone: its lock is stale (it names our pid, which no longer holds it).
    await journal.close().catch(() => {});
    const { model: replayed, report } = await replayModel(directory);
    expect(replayed.view()).toEqual(model.view());
    expect(report.damaged).toEqual([]);
    expect(report.torn).toBeUndefined();
    return { directory, before, left, report };
  }

  it('before the new segment has its header: the empty segment is started again', async () => {
    const { directory, left, report } = await crashAt((op) => op === 'write');
    expect(left).toContain(segmentName(4));
    expect(report.removed).toEqual([join(directory, segmentName(4))]);
    expect(report.snapshot?.file).toBe(join(directory, snapshotName(3)));
  });

  it('after the rotation, before the snapshot file: old snapshot plus both segments', async () => {
    const { left, report } = await crashAt(
      (op, path) => op === 'open-replace' && path.endsWith('.tmp'),
    );
    expect(left).toEqual(['lock', segmentName(3), segmentName(4), snapshotName(3)].sort());
    expect(report.segments.map((s) => s.slice(-22))).toEqual([segmentName(3), segmentName(4)]);
  });

  it('halfway through the snapshot: the temporary file is removed on open', async () => {
    const { directory, left, report } = await crashAt(
      (op, path) => op === 'datasync' && path.endsWith('.tmp'),
    );
    expect(left).toContain(`${snapshotName(4)}.tmp`);
    expect(report.removed).toEqual([join(directory, `${snapshotName(4)}.tmp`)]);
    expect(report.snapshot?.file).toBe(join(directory, snapshotName(3)));
  });

  it('at the rename: the complete temporary file is still only a leftover', async () => {
    const { directory, report } = await crashAt((op) => op === 'rename');
    expect(report.removed).toEqual([join(directory, `${snapshotName(4)}.tmp`)]);
    expect(report.snapshot?.file).toBe(join(directory, snapshotName(3)));
  });

  it('after the rename, before the old files are removed: the new snapshot wins, the old files go', async () => {
    const { directory, left, report } = await crashAt((op) => op === 'unlink');
    expect(left).toEqual(
      ['lock', segmentName(3), segmentName(4), snapshotName(3), snapshotName(4)].sort(),
    );
    expect(report.snapshot?.file).toBe(join(directory, snapshotName(4)));
    expect([...report.removed].sort()).toEqual(
      [join(directory, segmentName(3)), join(directory, snapshotName(3))].sort(),
    );
  });

  it('with some old files removed: the rest go on open', async () => {
    let unlinks = 0;
    const { directory, left, report } = await crashAt((op) => op === 'unlink' && ++unlinks === 2);
    expect(left.filter((n) => n !== 'lock')).toHaveLength(3);
    expect(report.snapshot?.file).toBe(join(directory, snapshotName(4)));
    expect(report.removed).toHaveLength(1);
  });

  it('removes a stray temporary snapshot it finds', async () => {
    const directory = await stateDirectory();
    const model = new LeaseModel();
    const first = await openJournal({ directory, codec: leaseRecordCodec });
    for (let i = 0; i < 10; i++) {
      model.apply(grant(i, 1));
      await first.journal.append([grant(i, 1)]);
    }
    await first.journal.close();
    await writeFile(join(directory, `${snapshotName(2)}.tmp`), Buffer.from('half a snapshot'));
    const { model: replayed, report } = await replayModel(directory);
    expect(report.removed).toEqual([join(directory, `${snapshotName(2)}.tmp`)]);
    expect(replayed.view()).toEqual(model.view());
  });
});
