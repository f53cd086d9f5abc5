import { dirname, join } from 'node:path';
import { type Logger, silentLogger } from '@wg-dynamic/log';
import { errnoName, fileSystemError, JournalError } from './errors.js';
import { encodeHeader, FILE_HEADER_SIZE } from './file-header.js';
import { parseName, segmentName, snapshotName, temporaryName } from './file-names.js';
import {
  type JournalFile,
  type JournalFileSystem,
  nodeFileSystem,
  writeFully,
} from './file-system.js';
import { encodeFrames, frameSize, MAX_PAYLOAD_SIZE, writeFrame } from './frame.js';
import { type DirectoryLock, lockDirectory, processExists } from './lock.js';
import type { RecordCodec } from './record-codec.js';
import { type ReplayedRecords, type ReplayReport, readState } from './replay.js';

export const DEFAULT_PREALLOCATION_BYTES = 1024 * 1024;
export const DEFAULT_RESERVE_BYTES = 64 * 1024;
export const DEFAULT_SPACE_RETRY_MS = 2000;
export const DEFAULT_COMPACTION_RATIO = 2;
export const DEFAULT_COMPACTION_MINIMUM_RECORDS = 10_000;
/** The snapshot is written this many bytes at a time, the event loop free in between. */
export const SNAPSHOT_CHUNK_BYTES = 256 * 1024;

export interface AppendOptions {
  /**
   * May use the reserve: set it for renewals and releases, which must go on
   * when the disk is full. Leave it unset for new grants: when the
   * preallocated space above the reserve is used up and no more can be had,
   * they are refused with `no-space` instead.
   */
  readonly useReserve?: boolean;
}

export interface CompactionOptions<R> {
  /**
   * The live state as records, called once per compaction right after the
   * rotation to a new segment. It must rebuild the state of every record
   * passed to `append` so far, resolved or not: records not yet written land
   * in the new segment and are replayed again on top of it (grants and
   * releases set state, so applying one twice does no harm). A table that
   * applies records only once their append resolved must add the records
   * still in flight, or return an async iterable that first waits for them
   * to be applied and then reads the table (later records in it are
   * harmless, for the same reason). The iterable is read while the server
   * keeps running, so it must not change under the reader: a copy, or an
   * immutable structure.
   */
  snapshot(): Iterable<R> | AsyncIterable<R>;
  /** How many records the live state holds now (the snapshot's size). */
  liveRecords(): number;
  /** Compact when the segments hold `ratio` times the live records... (default 2) */
  readonly ratio?: number;
  /** ...and at least this many (default 10,000). */
  readonly minimumRecords?: number;
}

/** The low-space state changed: `lowSpace` true when new grants must be refused. */
export interface SpaceEvent {
  readonly lowSpace: boolean;
  /** What the failed preallocation said, when space ran out. */
  readonly cause?: JournalError;
}

/** Timers, passed in: the retry of a full disk runs on them. */
export interface Scheduler {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const systemScheduler: Scheduler = {
  setTimeout(callback, ms) {
    const timer = setTimeout(callback, ms);
    timer.unref();
    return timer;
  },
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export interface JournalOptions<R> {
  /** The state directory, created with mode 0700 when missing. */
  readonly directory: string;
  /** The records' binary form, e.g. `leaseRecordCodec`. */
  readonly codec: RecordCodec<R>;
  /** Without it the journal never compacts (and `compact()` throws). */
  readonly compaction?: CompactionOptions<R>;
  /** Space is claimed ahead of the writes this many bytes at a time (default 1 MiB). */
  readonly preallocationBytes?: number;
  /** Preallocated bytes kept for `useReserve` appends when the disk is full (default 64 KiB). */
  readonly reserveBytes?: number;
  /** While the disk is full, how often to try for space again (default 2 s; 0: only on appends). */
  readonly spaceRetryMs?: number;
  readonly onSpaceChange?: (event: SpaceEvent) => void;
  /** After each durable batch: how long its write and fdatasync took, and how many records it held. */
  readonly onSync?: (seconds: number, records: number) => void;
  readonly fileSystem?: JournalFileSystem;
  readonly logger?: Logger;
  readonly scheduler?: Scheduler;
  /** The pid written into the lock (default: this process's). */
  readonly pid?: number;
  /** Whether a lock's pid still runs (default: kill(pid, 0)). */
  readonly processExists?: (pid: number) => boolean;
}

export interface OpenedJournal<R> {
  readonly journal: Journal<R>;
  /** Every record on disk, in order: snapshot first, then the segments. Iterate, then drop it. */
  readonly records: ReplayedRecords<R>;
  readonly report: ReplayReport;
}

export interface JournalStats {
  /** Appends made durable. */
  readonly appends: number;
  /** Records made durable. */
  readonly records: number;
  /** Writes of a batch, each followed by one fdatasync. */
  readonly batches: number;
  readonly datasyncs: number;
  /** Frame bytes appended. */
  readonly bytes: number;
  /** Appends refused for lack of space. */
  readonly refused: number;
  /** Appends rejected because a write or fdatasync failed. */
  readonly failed: number;
  readonly compactions: number;
  /** What a replay would read now: the snapshot's records plus the segments'. */
  readonly journalRecords: number;
  /** The active segment's sequence number. */
  readonly segment: number;
}

interface PendingAppend {
  readonly frames: Buffer;
  readonly records: number;
  readonly useReserve: boolean;
  readonly resolve: () => void;
  readonly reject: (error: JournalError) => void;
}

interface ActiveSegment {
  file: JournalFile;
  sequence: number;
  path: string;
  /** After the last durable record: the next batch goes here. */
  writePosition: number;
  /** The file's size: zeros from writePosition to here are claimed space. */
  preallocatedEnd: number;
}

interface Settings<R> {
  readonly directory: string;
  readonly codec: RecordCodec<R>;
  readonly compaction: CompactionOptions<R> | undefined;
  readonly preallocationBytes: number;
  readonly reserveBytes: number;
  readonly spaceRetryMs: number;
  readonly onSpaceChange: ((event: SpaceEvent) => void) | undefined;
  readonly onSync: ((seconds: number, records: number) => void) | undefined;
  readonly fs: JournalFileSystem;
  readonly logger: Logger;
  readonly scheduler: Scheduler;
}

function settingsOf<R>(options: JournalOptions<R>): Settings<R> {
  const preallocationBytes = options.preallocationBytes ?? DEFAULT_PREALLOCATION_BYTES;
  if (!Number.isSafeInteger(preallocationBytes) || preallocationBytes < 512) {
    throw new RangeError(`preallocationBytes must be a whole number of at least 512`);
  }
  const reserveBytes =
    options.reserveBytes ?? Math.min(DEFAULT_RESERVE_BYTES, preallocationBytes / 2);
  if (!Number.isSafeInteger(reserveBytes) || reserveBytes < 0) {
    throw new RangeError(`reserveBytes must be a whole number of at least 0`);
  }
  const spaceRetryMs = options.spaceRetryMs ?? DEFAULT_SPACE_RETRY_MS;
  if (!(spaceRetryMs >= 0)) throw new RangeError('spaceRetryMs must be 0 or more');
  const compaction = options.compaction;
  if (compaction?.ratio !== undefined && !(compaction.ratio > 0)) {
    throw new RangeError('compaction.ratio must be above 0');
  }
  return {
    directory: options.directory,
    codec: options.codec,
    compaction,
    preallocationBytes,
    reserveBytes: Math.floor(reserveBytes),
    spaceRetryMs,
    onSpaceChange: options.onSpaceChange,
    onSync: options.onSync,
    fs: options.fileSystem ?? nodeFileSystem,
    logger: options.logger ?? silentLogger,
    scheduler: options.scheduler ?? systemScheduler,
  };
}

/**
 * Opens (or creates) the journal in `options.directory`: takes the lock,
 * removes what an interrupted compaction left, reads the snapshot and the
 * segments, zeroes a torn last write, and returns the records to replay with
 * a report of what was found. Appends may start at once.
 */
export async function openJournal<R>(options: JournalOptions<R>): Promise<OpenedJournal<R>> {
  const settings = settingsOf(options);
  const { fs, directory, logger } = settings;
  let created: string[];
  try {
    created = await fs.makeDirectory(directory, 0o700);
    for (const dir of created) await fs.syncDirectory(dirname(dir));
  } catch (error) {
    throw fileSystemError(error, 'create the state directory', directory);
  }
  if (created.length > 0) logger.info({ directory }, `created the state directory ${directory}`);
  const lock = await lockDirectory({
    fileSystem: fs,
    directory,
    pid: options.pid ?? process.pid,
    processExists: options.processExists ?? processExists,
    logger,
  });
  try {
    const state = await readState(fs, directory, settings.codec);
    const report: ReplayReport = {
      ...state.report,
      ...(lock.stalePid !== undefined ? { staleLock: lock.stalePid } : {}),
    };
    logReport(logger, report);
    let active: ActiveSegment;
    if (state.last) {
      const { path, sequence, end, torn } = state.last;
      let file: JournalFile;
      try {
        file = await fs.open(path, 'update');
      } catch (error) {
        throw fileSystemError(error, 'open', path);
      }
      try {
        if (torn) {
          // Zero the torn bytes so the next write starts on a clean tail, and no later replay reports them again.
          await writeZeros(file, torn.offset, torn.offset + torn.bytes);
          await file.datasync();
        }
        active = { file, sequence, path, writePosition: end, preallocatedEnd: await file.size() };
      } catch (error) {
        await file.close().catch(() => {});
        throw fileSystemError(error, 'clear the torn end of', path);
      }
    } else {
      active = await createSegment(fs, directory, state.nextSequence);
    }
    const journal = new Journal(settings, lock, active, {
      segments: [
        ...state.segments.map((segment) => ({ ...segment })),
        ...(state.last ? [] : [{ sequence: active.sequence, records: 0 }]),
      ],
      snapshotRecords: state.snapshotRecords,
      compactionDue: report.damaged.length > 0,
    });
    return { journal, records: state.records, report };
  } catch (error) {
    await lock.release().catch(() => {});
    throw error;
  }
}

function logReport(logger: Logger, report: ReplayReport): void {
  for (const file of report.removed) {
    logger.info({ file }, `removed ${file}, left over by an interrupted compaction`);
  }
  if (report.torn) {
    const { file, offset, bytes } = report.torn;
    logger.warn(
      { file, offset, bytes },
      `dropped ${bytes} bytes of a torn record at offset ${offset} of ${file}`,
    );
  }
  for (const { file, offset, bytes, reason } of report.damaged) {
    logger.error(
      { file, offset, bytes, reason },
      bytes === 0
        ? `lease journal damage: ${file}: ${reason}`
        : `skipped ${bytes} damaged bytes at offset ${offset} of ${file} (${reason}); the records ` +
            'after them were replayed, and the next compaction rewrites the journal without them',
    );
  }
  logger.info(
    { records: report.records, segments: report.segments.length },
    `replayed ${report.records} lease journal records`,
  );
}

async function createSegment(
  fs: JournalFileSystem,
  directory: string,
  sequence: number,
): Promise<ActiveSegment> {
  const path = join(directory, segmentName(sequence));
  let file: JournalFile | undefined;
  try {
    file = await fs.open(path, 'create');
    await writeFully(file, encodeHeader({ kind: 'segment', sequence, records: 0 }), 0);
    await file.datasync();
    await fs.syncDirectory(directory);
    return {
      file,
      sequence,
      path,
      writePosition: FILE_HEADER_SIZE,
      preallocatedEnd: FILE_HEADER_SIZE,
    };
  } catch (error) {
    if (file) {
      await file.close().catch(() => {});
      await fs.unlink(path).catch(() => {});
    }
    throw fileSystemError(error, 'create the journal segment', path);
  }
}

const ZEROS = Buffer.alloc(1024 * 1024);

async function writeZeros(file: JournalFile, from: number, to: number): Promise<void> {
  for (let at = from; at < to; ) {
    const piece = ZEROS.subarray(0, Math.min(ZEROS.length, to - at));
    await writeFully(file, piece, at);
    at += piece.length;
  }
}

function isAsyncIterable<T>(value: Iterable<T> | AsyncIterable<T>): value is AsyncIterable<T> {
  return typeof (value as AsyncIterable<T>)[Symbol.asyncIterator] === 'function';
}

/**
 * The append-only lease journal of one state directory (see index.ts for the
 * design). Made by `openJournal`.
 */
export class Journal<R> {
  readonly directory: string;
  private readonly settings: Settings<R>;
  private readonly lock: DirectoryLock;
  private active: ActiveSegment;
  private pending: PendingAppend[] = [];
  private readonly tasks: (() => Promise<void>)[] = [];
  private looping = false;
  private readonly idleWaiters: (() => void)[] = [];
  private state: 'open' | 'closing' | 'closed' = 'open';
  private closing: Promise<void> | undefined;
  /** A failed write's range, zeroed before anything else is written. */
  private failedRange: { from: number; to: number } | undefined;
  private low = false;
  private retryTimer: unknown;
  private compacting: Promise<void> | undefined;
  private compactionDue: boolean;
  /** After a failed compaction: the segment records to reach before trying again. */
  private compactionFloor = 0;
  private abortSnapshot = false;
  /** Segments since the snapshot, the active one last. */
  private segments: { sequence: number; records: number }[];
  private snapshotRecords: number;
  private readonly counters = {
    appends: 0,
    records: 0,
    batches: 0,
    datasyncs: 0,
    bytes: 0,
    refused: 0,
    failed: 0,
    compactions: 0,
  };

  /** @internal Use openJournal. */
  constructor(
    settings: Settings<R>,
    lock: DirectoryLock,
    active: ActiveSegment,
    history: {
      segments: { sequence: number; records: number }[];
      snapshotRecords: number;
      compactionDue: boolean;
    },
  ) {
    this.settings = settings;
    this.directory = settings.directory;
    this.lock = lock;
    this.active = active;
    this.segments = history.segments;
    this.snapshotRecords = history.snapshotRecords;
    this.compactionDue = history.compactionDue;
  }

  /**
   * Writes records and resolves once they are on disk (written and
   * fdatasync'ed). Appends that arrive while a write is in flight share the
   * next write and fdatasync; their order is kept. Rejects with a
   * JournalError: `no-space` when the disk is full (see AppendOptions), `io`
   * when the write failed (the journal stays usable), `invalid-record`,
   * `closed`.
   */
  append(records: readonly R[], options: AppendOptions = {}): Promise<void> {
    if (this.state !== 'open') return Promise.reject(this.closedError());
    let frames: Buffer;
    try {
      frames = encodeFrames(records.map((record) => this.settings.codec.encode(record)));
    } catch (error) {
      return Promise.reject(
        error instanceof JournalError
          ? error
          : new JournalError('invalid-record', `cannot journal a record: ${String(error)}`, {
              cause: error,
            }),
      );
    }
    return new Promise<void>((resolve, reject) => {
      this.pending.push({
        frames,
        records: records.length,
        useReserve: options.useReserve === true,
        resolve,
        reject,
      });
      this.wake();
    });
  }

  /**
   * True while the disk is full: new grants are refused, appends with
   * `useReserve` go on in the reserve. Changes are also told to `onSpaceChange`.
   */
  get lowSpace(): boolean {
    return this.low;
  }

  /** Tries for space now (the timer does it too); resolves to true when there is enough. */
  checkSpace(): Promise<boolean> {
    if (this.state !== 'open' || !this.low) return Promise.resolve(!this.low);
    return this.inLoop(async () => {
      if (this.low) {
        const { writePosition } = this.active;
        await this.extend(
          writePosition + this.settings.reserveBytes + this.settings.preallocationBytes,
        );
      }
      return !this.low;
    });
  }

  /**
   * Rotates to a new segment, writes the snapshot the compaction options
   * give, and removes the segments and snapshot it replaces. Appends go on
   * meanwhile. Runs by itself when the segments outgrow the live state; this
   * is for forcing one. Resolves when the old files are gone.
   */
  compact(): Promise<void> {
    if (this.state !== 'open') return Promise.reject(this.closedError());
    if (!this.settings.compaction) {
      return Promise.reject(new Error('compact() needs the compaction option of openJournal'));
    }
    this.compacting ??= this.runCompaction(this.settings.compaction).finally(() => {
      this.compacting = undefined;
    });
    return this.compacting;
  }

  get stats(): JournalStats {
    return {
      ...this.counters,
      journalRecords: this.snapshotRecords + this.segmentRecords(),
      segment: this.active.sequence,
    };
  }

  /**
   * Writes what is pending, stops a compaction in progress (its temporary
   * file is removed; the journal is whole without it), closes the segment
   * and releases the lock. Appends after close() are rejected with `closed`.
   */
  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    this.state = 'closing';
    await this.idle();
    this.abortSnapshot = true;
    await this.compacting?.catch(() => {});
    await this.idle();
    if (this.retryTimer !== undefined) this.settings.scheduler.clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    let failure: unknown;
    try {
      await this.active.file.close();
    } catch (error) {
      failure = fileSystemError(error, 'close', this.active.path);
    }
    try {
      await this.lock.release();
    } catch (error) {
      failure ??= error;
    }
    this.state = 'closed';
    if (failure) throw failure;
  }

  // ---- the writer loop: the only code that touches the active segment --------------------------

  private wake(): void {
    if (this.looping) return;
    this.looping = true;
    // After the current I/O phase: requests that arrived together join one batch.
    setImmediate(() => void this.loop());
  }

  private async loop(): Promise<void> {
    try {
      for (;;) {
        if (this.pending.length > 0) {
          const batch = this.pending;
          this.pending = [];
          await this.commit(batch);
          this.considerCompaction();
        }
        // Between two batches, whatever waits (a rotation, a space check): appends never starve it.
        for (let task = this.tasks.shift(); task; task = this.tasks.shift()) await task();
        if (this.pending.length === 0) break;
      }
    } finally {
      this.looping = false;
      for (const resolve of this.idleWaiters.splice(0)) resolve();
    }
  }

  private idle(): Promise<void> {
    if (!this.looping && this.pending.length === 0 && this.tasks.length === 0) {
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.idleWaiters.push(resolve);
      this.wake();
    });
  }

  /** Runs `work` in the writer loop, between batches. */
  private inLoop<T>(work: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.tasks.push(() => work().then(resolve, reject));
      this.wake();
    });
  }

  private async commit(batch: PendingAppend[]): Promise<void> {
    const segment = this.active;
    if (this.failedRange) {
      const error = await this.clearFailedWrite();
      if (error) {
        this.counters.failed += batch.length;
        for (const append of batch) append.reject(error);
        return;
      }
    }
    let total = 0;
    for (const append of batch) total += append.frames.length;
    let spaceError: JournalError | undefined;
    const wanted = segment.writePosition + total + this.settings.reserveBytes;
    if (wanted > segment.preallocatedEnd) spaceError = await this.extend(wanted);

    // New grants must leave the reserve whole; renewals and releases may use it.
    let position = segment.writePosition;
    const accepted: PendingAppend[] = [];
    for (const append of batch) {
      const limit = append.useReserve
        ? segment.preallocatedEnd
        : segment.preallocatedEnd - this.settings.reserveBytes;
      if (position + append.frames.length <= limit) {
        accepted.push(append);
        position += append.frames.length;
      } else {
        this.counters.refused++;
        append.reject(spaceError ?? this.noSpace());
      }
    }
    if (accepted.length === 0) return;
    const from = segment.writePosition;
    if (position > from) {
      const bytes =
        accepted.length === 1
          ? (accepted[0] as PendingAppend).frames
          : Buffer.concat(
              accepted.map((append) => append.frames),
              position - from,
            );
      try {
        const started = performance.now();
        await writeFully(segment.file, bytes, from);
        this.counters.batches++;
        this.counters.datasyncs++;
        await segment.file.datasync();
        this.settings.onSync?.(
          (performance.now() - started) / 1000,
          accepted.reduce((sum, append) => sum + append.records, 0),
        );
      } catch (error) {
        const failure = fileSystemError(error, 'write the lease journal', segment.path);
        this.settings.logger.error(
          { file: segment.path, offset: from, bytes: position - from, err: failure },
          `a write to the lease journal failed (${failure.message}); the ${accepted.length} ` +
            'appends in it were refused, and the journal goes on after its last good record',
        );
        this.failedRange = { from, to: position };
        // Now, before the refusals go out: a crash must not replay what was refused.
        await this.clearFailedWrite();
        this.counters.failed += accepted.length;
        for (const append of accepted) append.reject(failure);
        return;
      }
    }
    segment.writePosition = position;
    this.counters.bytes += position - from;
    const current = this.segments.at(-1);
    for (const append of accepted) {
      this.counters.appends++;
      this.counters.records += append.records;
      if (current) current.records += append.records;
      append.resolve();
    }
  }

  /** Zeroes the range of a failed write (and syncs it); the error if that fails too. */
  private async clearFailedWrite(): Promise<JournalError | undefined> {
    const range = this.failedRange;
    if (!range) return undefined;
    const { file, path } = this.active;
    try {
      await writeZeros(file, range.from, range.to);
      this.counters.datasyncs++;
      await file.datasync();
      this.failedRange = undefined;
      return undefined;
    } catch (error) {
      return fileSystemError(error, 'clear a failed write from', path);
    }
  }

  /**
   * Claims space up to `target` (rounded up to whole preallocation steps) by
   * writing zeros past the end of the segment. The next batch's fdatasync
   * makes them durable with it. Returns the error when space ran out.
   */
  private async extend(target: number): Promise<JournalError | undefined> {
    const segment = this.active;
    const step = this.settings.preallocationBytes;
    const goal = Math.ceil(target / step) * step;
    try {
      while (segment.preallocatedEnd < goal) {
        const piece = ZEROS.subarray(0, Math.min(ZEROS.length, goal - segment.preallocatedEnd));
        const written = await segment.file.write(piece, segment.preallocatedEnd);
        if (written <= 0)
          throw Object.assign(new Error('a write of zeros wrote nothing'), { code: 'EIO' });
        segment.preallocatedEnd += written;
      }
    } catch (error) {
      const failure = fileSystemError(error, 'claim space for the lease journal in', segment.path);
      if (failure.code === 'no-space') this.enterLowSpace(failure);
      else {
        this.settings.logger.error(
          { file: segment.path, err: failure },
          `cannot claim space for the lease journal: ${failure.message}`,
        );
      }
      return failure;
    }
    if (this.low) this.leaveLowSpace();
    return undefined;
  }

  private noSpace(): JournalError {
    return new JournalError(
      'no-space',
      `the lease journal's file system is full (${this.directory}): new leases are refused until ` +
        'space is freed; renewals and releases go on in the reserve',
      { file: this.active.path },
    );
  }

  private enterLowSpace(cause: JournalError): void {
    if (this.low) return;
    this.low = true;
    const { writePosition, preallocatedEnd } = this.active;
    this.settings.logger.warn(
      { directory: this.directory, reserveBytes: preallocatedEnd - writePosition },
      `the lease journal's file system is full (${this.directory}): new leases are refused; ` +
        `renewals and releases go on in the ${preallocatedEnd - writePosition} bytes reserved; ` +
        'free space there to resume',
    );
    this.settings.onSpaceChange?.({ lowSpace: true, cause });
    this.armRetry();
  }

  private leaveLowSpace(): void {
    this.low = false;
    if (this.retryTimer !== undefined) this.settings.scheduler.clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.settings.logger.info(
      { directory: this.directory },
      `the lease journal has space again (${this.directory}): new leases are granted again`,
    );
    this.settings.onSpaceChange?.({ lowSpace: false });
  }

  private armRetry(): void {
    if (this.settings.spaceRetryMs <= 0 || this.retryTimer !== undefined) return;
    this.retryTimer = this.settings.scheduler.setTimeout(() => {
      this.retryTimer = undefined;
      if (this.state !== 'open') return;
      void this.checkSpace().then((ok) => {
        if (!ok && this.state === 'open') this.armRetry();
      });
    }, this.settings.spaceRetryMs);
  }

  private closedError(): JournalError {
    return new JournalError(
      'closed',
      `the lease journal in ${this.directory} is closed (the server is shutting down)`,
    );
  }

  // ---- compaction -------------------------------------------------------------------------------

  private segmentRecords(): number {
    let sum = 0;
    for (const segment of this.segments) sum += segment.records;
    return sum;
  }

  private considerCompaction(): void {
    const options = this.settings.compaction;
    if (!options || this.compacting || this.low || this.state !== 'open') return;
    const records = this.segmentRecords();
    if (records < this.compactionFloor) return;
    const threshold = Math.max(
      options.minimumRecords ?? DEFAULT_COMPACTION_MINIMUM_RECORDS,
      (options.ratio ?? DEFAULT_COMPACTION_RATIO) * options.liveRecords(),
    );
    if (records < threshold && !this.compactionDue) return;
    this.compactionDue = false;
    // Failures are logged in runCompaction and retried later.
    this.compact().catch(() => {});
  }

  private async runCompaction(options: CompactionOptions<R>): Promise<void> {
    const { logger } = this.settings;
    const backOff = () => {
      this.compactionFloor =
        this.segmentRecords() + (options.minimumRecords ?? DEFAULT_COMPACTION_MINIMUM_RECORDS);
    };
    let rotation: { sequence: number; source: Iterable<R> | AsyncIterable<R> };
    try {
      rotation = await this.inLoop(() => this.rotate(options));
    } catch (error) {
      backOff();
      logger.error({ err: error }, `cannot start a lease journal compaction: ${String(error)}`);
      throw error;
    }
    try {
      const records = await this.writeSnapshot(rotation.sequence, rotation.source);
      const removed = await this.removeBefore(rotation.sequence);
      this.snapshotRecords = records;
      this.segments = this.segments.filter((s) => s.sequence >= rotation.sequence);
      this.compactionFloor = 0;
      this.counters.compactions++;
      logger.info(
        { snapshot: snapshotName(rotation.sequence), records, removed: removed.length },
        `compacted the lease journal: a snapshot of ${records} records replaces ${removed.length} files`,
      );
    } catch (error) {
      backOff();
      if (!(error instanceof JournalError && error.code === 'closed')) {
        logger.error({ err: error }, `lease journal compaction failed: ${String(error)}`);
      }
      throw error;
    }
  }

  /** In the writer loop: closes the active segment and starts the next; takes the snapshot source. */
  private async rotate(
    options: CompactionOptions<R>,
  ): Promise<{ sequence: number; source: Iterable<R> | AsyncIterable<R> }> {
    if (this.state !== 'open') throw this.closedError();
    if (this.failedRange) {
      // The old segment must not keep a refused write that a replay would read.
      const error = await this.clearFailedWrite();
      if (error) throw error;
    }
    const old = this.active;
    const next = await createSegment(this.settings.fs, this.directory, old.sequence + 1);
    this.active = next;
    this.segments.push({ sequence: next.sequence, records: 0 });
    try {
      // Right at the rotation: the state of every record appended so far.
      return { sequence: next.sequence, source: options.snapshot() };
    } finally {
      await old.file.close().catch((error: unknown) => {
        this.settings.logger.warn({ file: old.path, err: error }, `cannot close ${old.path}`);
      });
    }
  }

  /** Writes snapshot-<sequence>.snap through a temporary file; returns its record count. */
  private async writeSnapshot(
    sequence: number,
    source: Iterable<R> | AsyncIterable<R>,
  ): Promise<number> {
    const { fs, codec } = this.settings;
    const temporary = join(this.directory, temporaryName(sequence));
    const final = join(this.directory, snapshotName(sequence));
    let file: JournalFile;
    try {
      file = await fs.open(temporary, 'replace');
    } catch (error) {
      throw fileSystemError(error, 'create the snapshot', temporary);
    }
    const chunk = Buffer.allocUnsafe(SNAPSHOT_CHUNK_BYTES);
    let used = 0;
    let position = FILE_HEADER_SIZE;
    let records = 0;
    const flush = async () => {
      if (this.abortSnapshot) throw this.closedError();
      await writeFully(file, chunk.subarray(0, used), position);
      position += used;
      used = 0;
    };
    const add = (record: R) => {
      const payload = codec.encode(record);
      if (payload.length > MAX_PAYLOAD_SIZE) {
        throw new JournalError(
          'invalid-record',
          `a snapshot record of ${payload.length} bytes is too large`,
        );
      }
      used = writeFrame(payload, chunk, used);
      records++;
    };
    const room = frameSize(MAX_PAYLOAD_SIZE);
    try {
      if (isAsyncIterable(source)) {
        for await (const record of source) {
          if (used + room > chunk.length) await flush();
          add(record);
        }
      } else {
        for (const record of source) {
          if (used + room > chunk.length) await flush();
          add(record);
        }
      }
      await flush();
      await writeFully(file, encodeHeader({ kind: 'snapshot', sequence, records }), 0);
      await file.datasync();
      await file.close();
    } catch (error) {
      await file.close().catch(() => {});
      await fs.unlink(temporary).catch(() => {});
      throw fileSystemError(error, 'write the snapshot', temporary);
    }
    try {
      await fs.rename(temporary, final);
      await fs.syncDirectory(this.directory);
    } catch (error) {
      await fs.unlink(temporary).catch(() => {});
      throw fileSystemError(error, 'put the snapshot in place as', final);
    }
    return records;
  }

  /** Removes the segments and snapshots before `sequence`, which the new snapshot replaces. */
  private async removeBefore(sequence: number): Promise<string[]> {
    const { fs } = this.settings;
    const removed: string[] = [];
    let names: string[];
    try {
      names = await fs.list(this.directory);
    } catch (error) {
      throw fileSystemError(error, 'list the state directory', this.directory);
    }
    for (const name of names) {
      const parsed = parseName(name);
      if ((parsed.kind === 'segment' || parsed.kind === 'snapshot') && parsed.sequence < sequence) {
        const path = join(this.directory, name);
        try {
          await fs.unlink(path);
          removed.push(path);
        } catch (error) {
          if (errnoName(error) !== 'ENOENT') throw fileSystemError(error, 'remove', path);
        }
      }
    }
    if (removed.length > 0) {
      try {
        await fs.syncDirectory(this.directory);
      } catch (error) {
        throw fileSystemError(error, 'sync the state directory', this.directory);
      }
    }
    return removed;
  }
}
