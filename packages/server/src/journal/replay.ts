import { join } from 'node:path';
import { errnoName, fileSystemError, JournalError } from './errors.js';
import { decodeHeader, FILE_HEADER_SIZE, type FileKind } from './file-header.js';
import { parseName, segmentName, snapshotName } from './file-names.js';
import type { JournalFileSystem } from './file-system.js';
import {
  allZero,
  FRAME_HEADER_SIZE,
  type FrameRun,
  type ScanResult,
  scanFrames,
  UnsupportedRecordError,
} from './frame.js';
import type { RecordCodec } from './record-codec.js';

/** Bytes replay skipped in the middle of a file (or a file it could not read at all). */
export interface Damage {
  readonly file: string;
  readonly offset: number;
  readonly bytes: number;
  readonly reason: string;
}

/**
 * The torn last write found at the end of the last segment: dropped, and
 * zeroed on open. `bytes` runs to its last non-zero byte (zeros after it
 * cannot be told from the preallocated tail).
 */
export interface TornTail {
  readonly file: string;
  readonly offset: number;
  readonly bytes: number;
}

/** What `openJournal` found. Clean when `torn` is absent and `damaged` is empty. */
export interface ReplayReport {
  /** Records replayed, those of the snapshot included. */
  readonly records: number;
  readonly snapshot?: { readonly file: string; readonly records: number };
  /** The segments replayed after the snapshot, in order. */
  readonly segments: readonly string[];
  readonly torn?: TornTail;
  /** Ranges skipped because good records follow them, and unreadable or missing files. */
  readonly damaged: readonly Damage[];
  /** Leftovers removed: an unfinished snapshot, files a newer snapshot replaced, an empty segment. */
  readonly removed: readonly string[];
  /** The pid of a dead server whose lock was taken over. */
  readonly staleLock?: number;
}

/**
 * What a replay can vouch for: `none`, the journal never held a record (no
 * snapshot, no complete record: a new state directory, or a first start cut
 * short); `damaged`, replay skipped damage, so acknowledged records may be
 * lost; `whole`, every acknowledged record is there. A torn last write is no
 * loss: nothing in it was acknowledged.
 */
export type JournalHistory = 'none' | 'damaged' | 'whole';

/** The records of a replay, decoded one at a time as they are iterated (any number of times). */
export interface ReplayedRecords<R> extends Iterable<R> {
  readonly count: number;
  readonly history: JournalHistory;
}

interface Source {
  readonly bytes: Buffer;
  readonly runs: readonly FrameRun[];
}

class LazyRecords<R> implements ReplayedRecords<R> {
  constructor(
    private readonly sources: readonly Source[],
    private readonly codec: RecordCodec<R>,
    readonly count: number,
    readonly history: JournalHistory,
  ) {}

  *[Symbol.iterator](): Iterator<R> {
    for (const { bytes, runs } of this.sources) {
      for (const run of runs) {
        for (let at = run.from; at < run.to; ) {
          const length = bytes.readUInt32LE(at);
          const start = at + FRAME_HEADER_SIZE;
          yield this.codec.decode(bytes.subarray(start, start + length));
          at = start + length;
        }
      }
    }
  }
}

/** The segment appends go on in, as replay left it. */
export interface LastSegment {
  readonly sequence: number;
  readonly path: string;
  /** After its last good record. */
  readonly end: number;
  readonly records: number;
  /** A torn write after `end`, to be zeroed before anything is appended. */
  readonly torn?: { readonly offset: number; readonly bytes: number };
}

export interface ReplayState<R> {
  readonly records: ReplayedRecords<R>;
  readonly report: Omit<ReplayReport, 'staleLock'>;
  readonly last: LastSegment | undefined;
  /** The sequence of the next new segment. */
  readonly nextSequence: number;
  /** Segments kept for replay (the last one included), oldest first. */
  readonly segments: readonly { readonly sequence: number; readonly records: number }[];
  readonly snapshotRecords: number;
}

/**
 * Reads a state directory: removes an unfinished snapshot and the files a
 * complete snapshot replaced, then checks the newest snapshot and every
 * segment after it, frame by frame. Nothing but leftovers is changed here.
 */
export async function readState<R>(
  fs: JournalFileSystem,
  directory: string,
  codec: RecordCodec<R>,
): Promise<ReplayState<R>> {
  let names: string[];
  try {
    names = await fs.list(directory);
  } catch (error) {
    throw fileSystemError(error, 'list the state directory', directory);
  }
  const removed: string[] = [];
  const damaged: Damage[] = [];
  const sources: Source[] = [];
  const remove = async (path: string) => {
    try {
      await fs.unlink(path);
    } catch (error) {
      if (errnoName(error) !== 'ENOENT') throw fileSystemError(error, 'remove', path);
    }
    removed.push(path);
  };

  const segmentNumbers: number[] = [];
  const snapshotNumbers: number[] = [];
  for (const name of names) {
    const parsed = parseName(name);
    if (parsed.kind === 'segment') segmentNumbers.push(parsed.sequence);
    else if (parsed.kind === 'snapshot') snapshotNumbers.push(parsed.sequence);
    else if (parsed.kind === 'temporary') await remove(join(directory, name));
  }
  segmentNumbers.sort((a, b) => a - b);
  snapshotNumbers.sort((a, b) => a - b);

  // The newest snapshot replaces everything before its sequence.
  let snapshot: { file: string; records: number } | undefined;
  let snapshotRecords = 0;
  const snapshotSequence = snapshotNumbers.at(-1);
  if (snapshotSequence !== undefined) {
    const file = join(directory, snapshotName(snapshotSequence));
    const bytes = await read(fs, file);
    const found = checkFile(bytes, 'snapshot', snapshotSequence, file, codec);
    let intact = false;
    if (found.ok) {
      const { scan, header } = found;
      const before = damaged.length;
      damaged.push(...scan.skipped.map((s) => ({ file, ...s })));
      if (scan.tail) {
        damaged.push({
          file,
          ...scan.tail,
          reason: `${scan.tail.reason} at the end of a snapshot`,
        });
      }
      if (scan.records !== header.records) {
        damaged.push({
          file,
          offset: FILE_HEADER_SIZE,
          bytes: 0,
          reason: `it holds ${scan.records} records where its header promises ${header.records}`,
        });
      }
      intact = damaged.length === before;
      sources.push({ bytes, runs: scan.runs });
      snapshotRecords = scan.records;
    } else {
      damaged.push({ file, offset: 0, bytes: bytes.length, reason: found.reason });
    }
    snapshot = { file, records: snapshotRecords };
    if (intact) {
      for (const sequence of snapshotNumbers.slice(0, -1)) {
        await remove(join(directory, snapshotName(sequence)));
      }
      for (const sequence of segmentNumbers) {
        if (sequence < snapshotSequence) await remove(join(directory, segmentName(sequence)));
      }
    }
  }

  const first = snapshotSequence ?? 1;
  const replayed = segmentNumbers.filter((sequence) => sequence >= first);
  const segments: { sequence: number; records: number }[] = [];
  const segmentFiles: string[] = [];
  let last: LastSegment | undefined;
  let expected = first;
  let nextSequence = Math.max(first, (segmentNumbers.at(-1) ?? 0) + 1);
  for (const [index, sequence] of replayed.entries()) {
    const file = join(directory, segmentName(sequence));
    if (sequence > expected) {
      damaged.push({
        file: join(directory, segmentName(expected)),
        offset: 0,
        bytes: 0,
        reason:
          sequence - 1 === expected
            ? 'this segment is missing'
            : `segments ${expected} to ${sequence - 1} are missing`,
      });
    }
    expected = sequence + 1;
    const isLast = index === replayed.length - 1;
    const bytes = await read(fs, file);
    const found = checkFile(bytes, 'segment', sequence, file, codec);
    if (!found.ok) {
      if (isLast && allZero(bytes, 0, bytes.length)) {
        // Its creation was cut short: it never held a record. Start it again.
        await remove(file);
        nextSequence = sequence;
        continue;
      }
      damaged.push({ file, offset: 0, bytes: bytes.length, reason: found.reason });
      continue;
    }
    const { scan } = found;
    damaged.push(...scan.skipped.map((s) => ({ file, ...s })));
    sources.push({ bytes, runs: scan.runs });
    segments.push({ sequence, records: scan.records });
    segmentFiles.push(file);
    if (isLast) {
      last = {
        sequence,
        path: file,
        end: scan.end,
        records: scan.records,
        ...(scan.tail ? { torn: { offset: scan.tail.offset, bytes: scan.tail.bytes } } : {}),
      };
    } else if (scan.tail) {
      damaged.push({
        file,
        ...scan.tail,
        reason: `${scan.tail.reason} after the last record of a closed segment`,
      });
    }
  }

  const count = snapshotRecords + segments.reduce((sum, s) => sum + s.records, 0);
  const torn = last?.torn ? { file: last.path, ...last.torn } : undefined;
  const history: JournalHistory =
    damaged.length > 0 ? 'damaged' : count === 0 && !snapshot ? 'none' : 'whole';
  return {
    records: new LazyRecords(sources, codec, count, history),
    report: {
      records: count,
      ...(snapshot ? { snapshot } : {}),
      segments: segmentFiles,
      ...(torn ? { torn } : {}),
      damaged,
      removed,
    },
    last,
    nextSequence,
    segments,
    snapshotRecords,
  };
}

async function read(fs: JournalFileSystem, file: string): Promise<Buffer> {
  try {
    return await fs.readFile(file);
  } catch (error) {
    throw fileSystemError(error, 'read', file);
  }
}

type FileCheck =
  | { ok: true; header: { records: number }; scan: ScanResult }
  | { ok: false; reason: string };

function checkFile<R>(
  bytes: Buffer,
  kind: FileKind,
  sequence: number,
  file: string,
  codec: RecordCodec<R>,
): FileCheck {
  const header = decodeHeader(bytes, kind, sequence);
  if (!header.ok) {
    if (header.unsupported) {
      throw new JournalError(
        'unsupported',
        `${file} was written by a newer wg-dynamic-server (${header.reason}); run that version, ` +
          'or move the state directory away to start without leases',
        { file },
      );
    }
    return { ok: false, reason: `an unreadable ${kind}: ${header.reason}` };
  }
  try {
    const scan = scanFrames(bytes, FILE_HEADER_SIZE, bytes.length, (payload) =>
      codec.check(payload),
    );
    return { ok: true, header: header.header, scan };
  } catch (error) {
    if (!(error instanceof UnsupportedRecordError)) throw error;
    throw new JournalError(
      'unsupported',
      `${file} holds a record at offset ${error.offset} that this version cannot read ` +
        `(${error.reason}): it was written by a newer wg-dynamic-server; run that version`,
      { file },
    );
  }
}
