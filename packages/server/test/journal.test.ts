import { spawnSync } from 'node:child_process';
import {
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  readlink,
  rm,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { IpAddress, IpPrefix } from '@wg-dynamic/ip';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeFrames, FRAME_HEADER_SIZE } from '../src/journal/frame.js';
import {
  FILE_HEADER_SIZE,
  type GrantRecord,
  type JournalFile,
  type JournalFileSystem,
  type LeaseRecord,
  leaseRecordCodec,
  nodeFileSystem,
  openJournal,
  type Scheduler,
  type SpaceEvent,
  segmentName,
} from '../src/journal/index.js';

// ---- helpers ------------------------------------------------------------------------------------

const roots: string[] = [];
afterEach(async () => {
  for (const root of roots.splice(0)) await rm(root, { recursive: true, force: true });
});

/** A state directory that does not exist yet, inside a fresh temporary directory. */
async function stateDirectory(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'wgd-journal-'));
  roots.push(root);
  return join(root, 'state');
}

function peer(i: number): string {
  const bytes = Buffer.alloc(32, 0x11);
  bytes.writeUInt32BE(i, 0);
  return bytes.toString('base64');
}

function grant(i: number, start = 1_700_000_000): GrantRecord {
  return {
    type: 'grant',
    peer: peer(i),
    prefix: IpPrefix.host(IpAddress.fromBigInt(4, 0x0a00_0000n + BigInt(i))),
    start,
    duration: 3600,
  };
}

/** An IPv4 grant's frame: 8 bytes of frame header, 47 of payload. */
const GRANT_FRAME = FRAME_HEADER_SIZE + 47;

const describeRecord = (r: LeaseRecord) =>
  `${r.type} ${r.peer.slice(0, 6)} ${r.prefix} ${r.type === 'grant' ? r.start : r.reason}`;

async function replay(directory: string, fileSystem: JournalFileSystem = nodeFileSystem) {
  const opened = await openJournal({ directory, codec: leaseRecordCodec, fileSystem });
  const records = [...opened.records].map(describeRecord);
  await opened.journal.close();
  return { records, report: opened.report };
}

function errno(code: string): Error {
  return Object.assign(new Error(`${code}: simulated`), { code });
}

interface Call {
  readonly op: string;
  readonly path: string;
  readonly position?: number;
  readonly length?: number;
}

/**
 * The real file system with a hook before every operation: it sees the call,
 * may throw (a simulated ENOSPC or EIO), wait, or for a write return how many
 * bytes at most reach the file (a short write, as write(2) makes when the
 * disk fills).
 */
function hookedFileSystem(
  hook: (call: Call) => undefined | number | Promise<undefined | number>,
): JournalFileSystem {
  const wrapFile = (path: string, file: JournalFile): JournalFile => ({
    async read(buffer, position) {
      await hook({ op: 'read', path, position, length: buffer.length });
      return file.read(buffer, position);
    },
    async write(buffer, position) {
      const limit = await hook({ op: 'write', path, position, length: buffer.length });
      return file.write(limit === undefined ? buffer : buffer.subarray(0, limit), position);
    },
    async datasync() {
      await hook({ op: 'datasync', path });
      return file.datasync();
    },
    async size() {
      await hook({ op: 'size', path });
      return file.size();
    },
    async close() {
      await hook({ op: 'close', path });
      return file.close();
    },
  });
  const base = nodeFileSystem;
  return {
    async makeDirectory(path, mode) {
      await hook({ op: 'makeDirectory', path });
      return base.makeDirectory(path, mode);
    },
    async list(path) {
      await hook({ op: 'list', path });
      return base.list(path);
    },
    async open(path, mode) {
      await hook({ op: `open-${mode}`, path });
      return wrapFile(path, await base.open(path, mode));
    },
    async readFile(path) {
      await hook({ op: 'readFile', path });
      return base.readFile(path);
    },
    async rename(from, to) {
      await hook({ op: 'rename', path: from });
      return base.rename(from, to);
    },
    async unlink(path) {
      await hook({ op: 'unlink', path });
      return base.unlink(path);
    },
    async symlink(target, path) {
      await hook({ op: 'symlink', path });
      return base.symlink(target, path);
    },
    async readLink(path) {
      await hook({ op: 'readLink', path });
      return base.readLink(path);
    },
    async syncDirectory(path) {
      await hook({ op: 'syncDirectory', path });
      return base.syncDirectory(path);
    },
  };
}

/** A scheduler whose timers run when the test says so. */
function manualScheduler() {
  const timers = new Map<number, () => void>();
  let next = 0;
  const scheduler: Scheduler = {
    setTimeout(callback) {
      timers.set(++next, callback);
      return next;
    },
    clearTimeout(handle) {
      timers.delete(handle as number);
    },
  };
  return {
    scheduler,
    pending: () => timers.size,
    runAll() {
      const callbacks = [...timers.values()];
      timers.clear();
      for (const callback of callbacks) callback();
    },
  };
}

const settle = (promises: Promise<unknown>[]) => Promise.allSettled(promises);
const codeOf = (result: PromiseSettledResult<unknown>) =>
  result.status === 'fulfilled' ? 'ok' : (result.reason as { code?: string }).code;

// ---- basics -------------------------------------------------------------------------------------

describe('openJournal on an empty directory', () => {
  it('creates the state directory with mode 0700, a segment and the lock', async () => {
    const directory = await stateDirectory();
    const { journal, records, report } = await openJournal({ directory, codec: leaseRecordCodec });
    expect((await stat(directory)).mode & 0o777).toBe(0o700);
    expect(records.count).toBe(0);
    expect(report).toEqual({ records: 0, segments: [], damaged: [], removed: [] });
    expect(await readdir(directory)).toEqual(expect.arrayContaining([segmentName(1), 'lock']));
    expect(await readlink(join(directory, 'lock'))).toBe(String(process.pid));
    await journal.close();
    expect(await readdir(directory)).toEqual([segmentName(1)]);
  });

  it('replays every kind of record in the order appended, across restarts', async () => {
    const directory = await stateDirectory();
    const written: LeaseRecord[] = [
      grant(1),
      {
        type: 'grant',
        peer: peer(2),
        prefix: IpPrefix.from('2001:db8::2/128'),
        start: 1_700_000_100,
        duration: 60,
      },
      {
        type: 'grant',
        peer: peer(2),
        prefix: IpPrefix.from('2001:db8:100::/56'),
        start: 1_700_000_100,
        duration: 60,
      },
      grant(1, 1_700_000_200), // a renewal
      { type: 'release', peer: peer(1), prefix: grant(1).prefix, reason: 'released' },
      {
        type: 'release',
        peer: peer(2),
        prefix: IpPrefix.from('2001:db8::2/128'),
        reason: 'expired',
      },
      {
        type: 'release',
        peer: peer(2),
        prefix: IpPrefix.from('2001:db8:100::/56'),
        reason: 'peer-removed',
      },
      { type: 'release', peer: peer(3), prefix: grant(3).prefix, reason: 'revoked' },
    ];
    let { journal } = await openJournal({ directory, codec: leaseRecordCodec });
    await journal.append(written.slice(0, 3));
    await journal.close();
    ({ journal } = await openJournal({ directory, codec: leaseRecordCodec }));
    await journal.append(written.slice(3, 5));
    await journal.append(written.slice(5));
    await journal.close();
    const {
      journal: again,
      records,
      report,
    } = await openJournal({
      directory,
      codec: leaseRecordCodec,
    });
    expect([...records]).toEqual(written);
    expect(records.count).toBe(written.length);
    expect(report).toMatchObject({ records: written.length, damaged: [], removed: [] });
    expect(report.torn).toBeUndefined();
    await again.close();
  });

  it('rejects appends after close, and records it cannot encode, with typed errors', async () => {
    const directory = await stateDirectory();
    const { journal } = await openJournal({ directory, codec: leaseRecordCodec });
    await expect(journal.append([{ ...grant(1), start: -5 }])).rejects.toMatchObject({
      code: 'invalid-record',
    });
    await journal.append([grant(1)]);
    await journal.close();
    await expect(journal.append([grant(2)])).rejects.toMatchObject({ code: 'closed' });
    expect((await replay(directory)).records).toEqual([describeRecord(grant(1))]);
  });

  it('writes what was pending when close() is called', async () => {
    const directory = await stateDirectory();
    const { journal } = await openJournal({ directory, codec: leaseRecordCodec });
    const appends = Array.from({ length: 20 }, (_, i) => journal.append([grant(i)]));
    await journal.close();
    await Promise.all(appends);
    expect((await replay(directory)).records).toHaveLength(20);
  });
});

// ---- group commit -------------------------------------------------------------------------------

describe('group commit', () => {
  it('makes appends that arrive together durable with one write and one fdatasync', async () => {
    const directory = await stateDirectory();
    const calls: Call[] = [];
    const fileSystem = hookedFileSystem((call) => {
      calls.push(call);
      return undefined;
    });
    const { journal } = await openJournal({ directory, codec: leaseRecordCodec, fileSystem });
    await journal.append([grant(0)]); // claims the first preallocation step
    calls.length = 0;
    await Promise.all(Array.from({ length: 100 }, (_, i) => journal.append([grant(i + 1)])));
    expect(calls.filter((c) => c.op === 'datasync')).toHaveLength(1);
    const writes = calls.filter((c) => c.op === 'write');
    expect(writes).toHaveLength(1);
    expect(writes[0]).toMatchObject({
      position: FILE_HEADER_SIZE + GRANT_FRAME,
      length: 100 * GRANT_FRAME,
    });
    expect(journal.stats).toMatchObject({ appends: 101, records: 101, batches: 2 });
    await journal.close();
    const { records } = await replay(directory);
    expect(records).toEqual(Array.from({ length: 101 }, (_, i) => describeRecord(grant(i))));
  });

  it('batches the appends that arrive while a write is in flight into the next one, in order', async () => {
    const directory = await stateDirectory();
    let holdNext = false;
    let started: () => void = () => {};
    let release: () => void = () => {};
    const inFlight = new Promise<void>((resolve) => {
      started = resolve;
    });
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let datasyncs = 0;
    const fileSystem = hookedFileSystem(async (call) => {
      if (call.op !== 'datasync') return undefined;
      datasyncs++;
      if (holdNext) {
        holdNext = false;
        started();
        await gate;
      }
      return undefined;
    });
    const { journal } = await openJournal({ directory, codec: leaseRecordCodec, fileSystem });
    await journal.append([grant(0)]);
    datasyncs = 0;
    holdNext = true;
    let firstDone = false;
    const first = journal.append([grant(1)]).then(() => {
      firstDone = true;
    });
    await inFlight;
    const later = Array.from({ length: 10 }, (_, i) =>
      journal.append([grant(i + 2), grant(i + 100)]),
    );
    await new Promise((resolve) => setImmediate(resolve));
    expect(firstDone).toBe(false); // not durable until its fdatasync returns
    release();
    await Promise.all([first, ...later]);
    expect(datasyncs).toBe(2);
    await journal.close();
    const expected = [grant(0), grant(1)];
    for (let i = 0; i < 10; i++) expected.push(grant(i + 2), grant(i + 100));
    expect((await replay(directory)).records).toEqual(expected.map(describeRecord));
  });
});

// ---- replay: torn tails, zero tails, damage -----------------------------------------------------

/** A journal of `count` grants, closed; returns the segment's bytes. */
async function journalOf(
  count: number,
): Promise<{ directory: string; bytes: Buffer; file: string }> {
  const directory = await stateDirectory();
  const { journal } = await openJournal({ directory, codec: leaseRecordCodec });
  for (let i = 0; i < count; i++) await journal.append([grant(i)]);
  await journal.close();
  const file = join(directory, segmentName(1));
  return { directory, bytes: await readFile(file), file };
}

const recordStart = (i: number) => FILE_HEADER_SIZE + i * GRANT_FRAME;

function flip(bytes: Buffer, index: number): void {
  bytes[index] = (bytes[index] as number) ^ 0x40;
}

describe('the file format', () => {
  it('is a 20-byte header, then frames of [length][CRC-32 of length and payload][payload]', async () => {
    const { bytes } = await journalOf(2);
    const header = bytes.subarray(0, FILE_HEADER_SIZE);
    expect(header.subarray(0, 4).toString('latin1')).toBe('WGDJ');
    expect([...header.subarray(4, 8)]).toEqual([1, 1, 0, 0]); // version, kind (segment), reserved
    expect(header.readUInt32LE(8)).toBe(1); // sequence
    expect(header.readUInt32LE(12)).toBe(0); // records (snapshots only)
    expect(header.readUInt32LE(16)).toBe(crc32(header.subarray(0, 16)));
    for (const i of [0, 1]) {
      const payload = Buffer.from(leaseRecordCodec.encode(grant(i)));
      const frame = bytes.subarray(recordStart(i), recordStart(i) + GRANT_FRAME);
      expect(frame.readUInt32LE(0)).toBe(payload.length);
      expect(frame.readUInt32LE(4)).toBe(crc32(Buffer.concat([frame.subarray(0, 4), payload])));
      expect(frame.subarray(FRAME_HEADER_SIZE)).toEqual(payload);
    }
  });
});

describe('replay', () => {
  it('reads the zero-filled preallocated tail as the clean end', async () => {
    const { directory, bytes } = await journalOf(5);
    expect(bytes.length).toBeGreaterThan(recordStart(5) + 1000); // preallocated
    expect(bytes.subarray(recordStart(5)).every((b) => b === 0)).toBe(true);
    const { records, report } = await replay(directory);
    expect(records).toHaveLength(5);
    expect(report.torn).toBeUndefined();
    expect(report.damaged).toEqual([]);
  });

  it('keeps every complete record when the last one is torn at any byte, and says what it dropped', async () => {
    const { bytes } = await journalOf(5);
    const last = recordStart(4);
    const expected = Array.from({ length: 4 }, (_, i) => describeRecord(grant(i)));
    for (let cut = 1; cut < GRANT_FRAME; cut++) {
      const kept = bytes.subarray(last, last + cut);
      let nonZero = kept.length;
      while (nonZero > 0 && kept[nonZero - 1] === 0) nonZero--;
      // The record ends in zero bytes (its duration's high bytes): cut there, zeros complete it.
      const completedByZeros = bytes.subarray(last + cut, last + GRANT_FRAME).every((b) => b === 0);
      // Both shapes of a torn write: the file cut short, and the rest of the frame still zeros.
      const variants = {
        truncated: bytes.subarray(0, last + cut),
        preallocated: Buffer.concat([
          bytes.subarray(0, last + cut),
          Buffer.alloc(bytes.length - last - cut),
        ]),
      };
      for (const [shape, content] of Object.entries(variants)) {
        const directory = await stateDirectory();
        await mkdir(directory);
        const file = join(directory, segmentName(1));
        await writeFile(file, content);
        const whole = shape === 'preallocated' && completedByZeros;
        const survivors = whole ? [...expected, describeRecord(grant(4))] : expected;
        const first = await replay(directory);
        expect(first.records, `cut ${cut} ${shape}`).toEqual(survivors);
        expect(first.report.damaged).toEqual([]);
        expect(first.report.torn, `cut ${cut} ${shape}`).toEqual(
          whole || nonZero === 0 ? undefined : { file, offset: last, bytes: nonZero },
        );
        // Zeroed on open: the next open is clean, and appends go on after the last good record.
        const { journal, report } = await openJournal({ directory, codec: leaseRecordCodec });
        expect(report.torn).toBeUndefined();
        await journal.append([grant(99)]);
        await journal.close();
        expect((await replay(directory)).records).toEqual([
          ...survivors,
          describeRecord(grant(99)),
        ]);
      }
    }
  });

  it('skips a record with a bad checksum in the middle, replays the rest and reports it', async () => {
    const { directory, bytes, file } = await journalOf(5);
    flip(bytes, recordStart(2) + FRAME_HEADER_SIZE + 10); // a bit of record 2's key
    await writeFile(file, bytes);
    const { records, report } = await replay(directory);
    expect(records).toEqual([0, 1, 3, 4].map((i) => describeRecord(grant(i))));
    expect(report.torn).toBeUndefined();
    expect(report.damaged).toEqual([
      { file, offset: recordStart(2), bytes: GRANT_FRAME, reason: 'a checksum mismatch' },
    ]);
  });

  it('finds the next good record after a damaged length field or zeroed bytes', async () => {
    for (const damage of [
      (b: Buffer) => b.writeUInt32LE(0x00ff_ffff, recordStart(1)),
      (b: Buffer) => b.writeUInt32LE(20, recordStart(1)),
      (b: Buffer) => b.fill(0, recordStart(1), recordStart(3)),
      (b: Buffer) => b.fill(0x5a, recordStart(1) + 3, recordStart(2) + 7),
    ]) {
      const { directory, bytes, file } = await journalOf(5);
      damage(bytes);
      await writeFile(file, bytes);
      const { records, report } = await replay(directory);
      const lost = report.damaged.reduce((n, d) => n + d.bytes, 0);
      expect(records).toEqual(
        [0, 1, 2, 3, 4]
          .filter(
            (i) =>
              recordStart(i) + GRANT_FRAME <= recordStart(1) ||
              recordStart(i) >= recordStart(1) + lost,
          )
          .map((i) => describeRecord(grant(i))),
      );
      expect(records.at(-1)).toBe(describeRecord(grant(4)));
      expect(report.damaged).toHaveLength(1);
      expect(report.damaged[0]).toMatchObject({ file, offset: recordStart(1) });
      expect(report.torn).toBeUndefined();
    }
  });

  it('reports a bad checksum in the last record as a torn tail, not as damage', async () => {
    const { directory, bytes, file } = await journalOf(3);
    flip(bytes, recordStart(2) + 20);
    await writeFile(file, bytes);
    const { records, report } = await replay(directory);
    expect(records).toHaveLength(2);
    expect(report.damaged).toEqual([]);
    // Its last two bytes are zeros (the duration's high bytes): the report counts up to the last non-zero byte.
    expect(bytes.subarray(recordStart(2) + GRANT_FRAME - 2, recordStart(2) + GRANT_FRAME)).toEqual(
      Buffer.alloc(2),
    );
    expect(report.torn).toEqual({ file, offset: recordStart(2), bytes: GRANT_FRAME - 2 });
  });

  it('says what the records can vouch for: nothing yet, all of it, or not what damage took', async () => {
    const history = async (directory: string, compaction?: { snapshot: () => LeaseRecord[] }) => {
      const opened = await openJournal({
        directory,
        codec: leaseRecordCodec,
        ...(compaction ? { compaction: { ...compaction, liveRecords: () => 0 } } : {}),
      });
      return { history: opened.records.history, journal: opened.journal };
    };
    const directory = await stateDirectory();
    const first = await history(directory);
    expect(first.history).toBe('none');
    await first.journal.close();
    // Opened again without a record written: still nothing to vouch for.
    const second = await history(directory, { snapshot: () => [] });
    expect(second.history).toBe('none');
    await second.journal.append([grant(1)]);
    // Compacted down to no lease at all: the journal still knows the device.
    await second.journal.compact();
    await second.journal.close();
    expect((await readdir(directory)).filter((name) => name.startsWith('snapshot-'))).toHaveLength(
      1,
    );
    expect((await replay(directory)).records).toEqual([]);
    const third = await history(directory);
    expect(third.history).toBe('whole');
    await third.journal.close();

    const { directory: torn, bytes, file } = await journalOf(3);
    await writeFile(file, bytes.subarray(0, recordStart(2) + 10));
    const tornOpen = await history(torn);
    // A torn last write was never acknowledged: nothing is lost.
    expect(tornOpen.history).toBe('whole');
    await tornOpen.journal.close();

    const { directory: damaged, bytes: damagedBytes, file: damagedFile } = await journalOf(3);
    flip(damagedBytes, recordStart(1) + FRAME_HEADER_SIZE + 10);
    await writeFile(damagedFile, damagedBytes);
    const damagedOpen = await history(damaged);
    expect(damagedOpen.history).toBe('damaged');
    await damagedOpen.journal.close();
  });

  it('refuses a record type it does not know (a newer version wrote it) instead of dropping it', async () => {
    const { directory, bytes, file } = await journalOf(2);
    const payload = Buffer.from(leaseRecordCodec.encode(grant(7)));
    payload[0] = 0x42;
    encodeFrames([payload]).copy(bytes, recordStart(1));
    await writeFile(file, bytes);
    await expect(openJournal({ directory, codec: leaseRecordCodec })).rejects.toMatchObject({
      code: 'unsupported',
      message: expect.stringContaining('newer'),
    });
    // The lock was given back.
    await expect(lstat(join(directory, 'lock'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('refuses a file of a newer format version', async () => {
    const { directory, bytes, file } = await journalOf(1);
    bytes[4] = 2;
    bytes.writeUInt32LE(crc32(bytes.subarray(0, 16)), 16);
    await writeFile(file, bytes);
    await expect(openJournal({ directory, codec: leaseRecordCodec })).rejects.toMatchObject({
      code: 'unsupported',
    });
  });

  it('starts again a last segment whose creation was cut short, and reports a missing one', async () => {
    const { directory } = await journalOf(3);
    await writeFile(join(directory, segmentName(2)), Buffer.alloc(7));
    const first = await replay(directory);
    expect(first.records).toHaveLength(3);
    expect(first.report.removed).toEqual([join(directory, segmentName(2))]);
    expect(first.report.damaged).toEqual([]);

    await writeFile(join(directory, segmentName(4)), Buffer.alloc(0));
    const second = await replay(directory);
    expect(second.report.damaged).toEqual([
      expect.objectContaining({
        file: join(directory, segmentName(3)),
        reason: 'this segment is missing',
      }),
    ]);
    expect(second.records).toHaveLength(3);
  });
});

// ---- failures -----------------------------------------------------------------------------------

describe('a failed write', () => {
  it('rejects every append of its batch with io, leaves no trace on replay, and the journal goes on', async () => {
    const directory = await stateDirectory();
    let failDatasyncs = 0;
    const fileSystem = hookedFileSystem((call) => {
      if (call.op === 'datasync' && failDatasyncs > 0) {
        failDatasyncs--;
        throw errno('EIO');
      }
      return undefined;
    });
    const { journal } = await openJournal({ directory, codec: leaseRecordCodec, fileSystem });
    await journal.append([grant(1)]);
    failDatasyncs = 1; // the data reaches the file, then fdatasync fails
    const failed = await settle([journal.append([grant(2)]), journal.append([grant(3), grant(4)])]);
    expect(failed.map(codeOf)).toEqual(['io', 'io']);
    expect((failed[0] as PromiseRejectedResult).reason).toMatchObject({
      name: 'JournalError',
      message: expect.stringContaining('check the disk'),
    });
    await journal.append([grant(5)]);
    expect(journal.stats).toMatchObject({ failed: 2, appends: 2 });
    await journal.close();
    expect((await replay(directory)).records).toEqual([grant(1), grant(5)].map(describeRecord));
  });

  it('keeps refusing while the failed range cannot be cleared, and recovers when it can', async () => {
    const directory = await stateDirectory();
    let broken = false;
    const fileSystem = hookedFileSystem((call) => {
      if (broken && (call.op === 'datasync' || call.op === 'write')) throw errno('EIO');
      return undefined;
    });
    const { journal } = await openJournal({ directory, codec: leaseRecordCodec, fileSystem });
    await journal.append([grant(1)]);
    broken = true;
    await expect(journal.append([grant(2)])).rejects.toMatchObject({ code: 'io' });
    await expect(journal.append([grant(3)])).rejects.toMatchObject({ code: 'io' });
    broken = false;
    await journal.append([grant(4)]);
    await journal.close();
    expect((await replay(directory)).records).toEqual([grant(1), grant(4)].map(describeRecord));
  });

  it('does not let a short write followed by an error pass for records', async () => {
    const directory = await stateDirectory();
    let failing = false;
    const fileSystem = hookedFileSystem((call) => {
      if (failing && call.op === 'write' && (call.length ?? 0) > 20) {
        failing = false;
        return 30; // 30 bytes reach the file; the next write call fails
      }
      if (call.op === 'write' && call.length === GRANT_FRAME * 2 - 30) throw errno('EIO');
      return undefined;
    });
    const { journal } = await openJournal({ directory, codec: leaseRecordCodec, fileSystem });
    await journal.append([grant(1)]);
    failing = true;
    await expect(journal.append([grant(2), grant(3)])).rejects.toMatchObject({ code: 'io' });
    await journal.append([grant(4)]);
    await journal.close();
    const { records, report } = await replay(directory);
    expect(records).toEqual([grant(1), grant(4)].map(describeRecord));
    expect(report.damaged).toEqual([]);
  });
});

// ---- a full disk (simulated; journal.lab.test.ts does it on a real tmpfs) -----------------------

describe('a full disk', () => {
  /** The segment may not grow past `quota` bytes: writes beyond it are cut short, then fail with ENOSPC. */
  function quotaFileSystem() {
    const state = { quota: Number.POSITIVE_INFINITY };
    const fileSystem = hookedFileSystem((call) => {
      if (call.op !== 'write' || !call.path.endsWith('.log')) return undefined;
      const end = (call.position ?? 0) + (call.length ?? 0);
      if (end <= state.quota) return undefined;
      const room = state.quota - (call.position ?? 0);
      if (room <= 0) throw errno('ENOSPC');
      return room;
    });
    return { state, fileSystem };
  }

  it('refuses new grants, writes renewals into the reserve, loses nothing, and resumes', async () => {
    const directory = await stateDirectory();
    const { state, fileSystem } = quotaFileSystem();
    const events: SpaceEvent[] = [];
    const timers = manualScheduler();
    const { journal } = await openJournal({
      directory,
      codec: leaseRecordCodec,
      fileSystem,
      preallocationBytes: 4096,
      reserveBytes: 1024,
      scheduler: timers.scheduler,
      onSpaceChange: (event) => events.push(event),
    });
    state.quota = 8192;
    const acknowledged: LeaseRecord[] = [];
    let refused: unknown;
    for (let i = 0; i < 1000 && refused === undefined; i++) {
      try {
        await journal.append([grant(i)]);
        acknowledged.push(grant(i));
      } catch (error) {
        refused = error;
      }
    }
    expect(refused).toMatchObject({ name: 'JournalError', code: 'no-space' });
    expect(journal.lowSpace).toBe(true);
    expect(events).toEqual([
      { lowSpace: true, cause: expect.objectContaining({ code: 'no-space' }) },
    ]);
    // The reserve was left whole: at least 1024 bytes of renewals fit.
    const renewals: LeaseRecord[] = [];
    for (let i = 0; i < Math.floor(1024 / GRANT_FRAME); i++) {
      const renewal = grant(i, 1_700_100_000);
      await journal.append([renewal], { useReserve: true });
      renewals.push(renewal);
    }
    await expect(journal.append([grant(5000)])).rejects.toMatchObject({ code: 'no-space' });
    // Once the reserve is spent too, even renewals are refused, but nothing else breaks.
    const more = await settle(
      Array.from({ length: 40 }, (_, i) =>
        journal.append([grant(i, 1_700_200_000)], { useReserve: true }),
      ),
    );
    const kept = more.flatMap((r, i) =>
      r.status === 'fulfilled' ? [grant(i, 1_700_200_000)] : [],
    );
    expect(more.map(codeOf)).toContain('no-space');
    expect(journal.stats.refused).toBeGreaterThan(0);

    // The timer retries: still full, it tries again later.
    expect(timers.pending()).toBe(1);
    timers.runAll();
    // Checks run one after the other: when this one is done, so is the timer's.
    expect(await journal.checkSpace()).toBe(false);
    expect(timers.pending()).toBe(1);
    // With space back, the timer's retry ends low space (close() waits for it).
    state.quota = Number.POSITIVE_INFINITY;
    timers.runAll();
    await journal.close();
    expect(journal.lowSpace).toBe(false);
    expect(events).toHaveLength(2);
    expect(events[1]).toEqual({ lowSpace: false });

    const reopened = await openJournal({ directory, codec: leaseRecordCodec });
    await reopened.journal.append([grant(6000)]);
    await reopened.journal.close();
    const expected = [...acknowledged, ...renewals, ...kept, grant(6000)].map(describeRecord);
    expect((await replay(directory)).records).toEqual(expected);
  });

  it('recovers on the next append when space is back, without the timer', async () => {
    const directory = await stateDirectory();
    const { state, fileSystem } = quotaFileSystem();
    const { journal } = await openJournal({
      directory,
      codec: leaseRecordCodec,
      fileSystem,
      preallocationBytes: 4096,
      reserveBytes: 512,
      spaceRetryMs: 0,
    });
    state.quota = 4096;
    let i = 0;
    await expect(
      (async () => {
        for (;;) await journal.append([grant(i++)]);
      })(),
    ).rejects.toMatchObject({ code: 'no-space' });
    expect(journal.lowSpace).toBe(true);
    state.quota = Number.POSITIVE_INFINITY;
    await journal.append([grant(i)]);
    expect(journal.lowSpace).toBe(false);
    await journal.close();
    expect((await replay(directory)).records).toHaveLength(i);
  });
});

// ---- the lock -----------------------------------------------------------------------------------

describe('the lock', () => {
  it('refuses a second open of the same directory in this process', async () => {
    const directory = await stateDirectory();
    const { journal } = await openJournal({ directory, codec: leaseRecordCodec });
    await expect(openJournal({ directory, codec: leaseRecordCodec })).rejects.toMatchObject({
      name: 'JournalError',
      code: 'locked',
    });
    await journal.close();
    const again = await openJournal({ directory, codec: leaseRecordCodec });
    await again.journal.close();
  });

  it('refuses a lock held by a live process, naming its pid', async () => {
    const directory = await stateDirectory();
    await mkdir(directory);
    await symlink(String(process.ppid), join(directory, 'lock'));
    await expect(openJournal({ directory, codec: leaseRecordCodec })).rejects.toMatchObject({
      code: 'locked',
      message: expect.stringContaining(`pid ${process.ppid}`),
    });
    expect(await readlink(join(directory, 'lock'))).toBe(String(process.ppid));
  });

  it('takes over the lock of a process that is gone, and says so', async () => {
    const directory = await stateDirectory();
    await mkdir(directory);
    const dead = spawnSync('true').pid as number;
    await symlink(String(dead), join(directory, 'lock'));
    const warnings: string[] = [];
    const logger = {
      debug() {},
      info() {},
      warn: (_: object, message?: string) => warnings.push(message ?? ''),
      error() {},
    };
    const { journal, report } = await openJournal({ directory, codec: leaseRecordCodec, logger });
    expect(report.staleLock).toBe(dead);
    expect(warnings.join('\n')).toContain(`stale lock of pid ${dead}`);
    expect(await readlink(join(directory, 'lock'))).toBe(String(process.pid));
    await journal.close();
  });

  it('takes over a lock with its own pid that it does not hold (a restarted PID 1)', async () => {
    const directory = await stateDirectory();
    await mkdir(directory);
    await symlink(String(process.pid), join(directory, 'lock'));
    const { journal, report } = await openJournal({ directory, codec: leaseRecordCodec });
    expect(report.staleLock).toBe(process.pid);
    await journal.close();
  });

  it('refuses a lock it did not make', async () => {
    const directory = await stateDirectory();
    await mkdir(directory);
    await writeFile(join(directory, 'lock'), 'hello');
    await expect(openJournal({ directory, codec: leaseRecordCodec })).rejects.toMatchObject({
      code: 'locked',
      message: expect.stringContaining('remove it'),
    });
  });

  it('asks whether the holder runs through the injected check', async () => {
    const directory = await stateDirectory();
    await mkdir(directory);
    await symlink('424242', join(directory, 'lock'));
    const asked: number[] = [];
    await expect(
      openJournal({
        directory,
        codec: leaseRecordCodec,
        processExists: (pid) => {
          asked.push(pid);
          return true;
        },
      }),
    ).rejects.toMatchObject({ code: 'locked' });
    expect(asked).toEqual([424242]);
  });
});
