/**
 * The lease journal: every grant, renewal and release on disk before its
 * answer leaves, replayed on start so a restart changes nobody's address.
 *
 * ## Files (in the state directory, mode 0700, e.g. /var/lib/wg-dynamic/wg0/)
 *
 *   journal-0000000003.log     segments: appended to, never rewritten
 *   snapshot-0000000003.snap   the live state just before segment 3
 *   lock -> 1234               a symbolic link to the holder's pid
 *
 * Every file starts with a 20-byte header (magic "WGDJ", format version,
 * kind, sequence, a snapshot's record count, CRC-32: file-header.ts), then
 * frames [length u32][CRC-32 of length and payload u32][payload] (frame.ts).
 * The payload's first byte names the record type and its layout version
 * together (lease-record.ts): an IPv4 grant is 47 bytes, 55 with its frame.
 * A replay is: the newest snapshot, then every segment from its number on.
 *
 * ## Why it is built this way
 *
 * - One writer, group commit. `append` queues; one loop writes everything
 *   queued with a single pwrite and a single fdatasync, then resolves those
 *   appends, while the next batch gathers. The first append of an idle
 *   journal waits for setImmediate, so the requests of one event-loop turn
 *   share a write. The durable rate is then (fdatasync per second) × (batch
 *   size), and the batch grows with the load by itself.
 * - Preallocation. Node has no fallocate, so the segment is grown ahead of
 *   the writes by writing zeros, a step at a time (1 MiB). This claims the
 *   blocks while there is space, makes each fdatasync cheaper (the file size
 *   rarely changes), and keeps a reserve (64 KiB, ~1,100 renewals). When
 *   claiming more fails with ENOSPC the journal is in low space (the
 *   `lowSpace` property and `onSpaceChange`): appends without `useReserve`
 *   (new grants) are refused with `no-space`, appends with it (renewals,
 *   releases) are written into the claimed space; every append and a timer
 *   try for space again, and the first success ends low space. Overwriting
 *   claimed blocks needs no new space on ext4, xfs and tmpfs; copy-on-write
 *   file systems (btrfs, zfs) give no such promise.
 * - Zeros are the end. A zero length is never written, so replay reads the
 *   zero-filled preallocated tail as the end of the log, not as damage.
 * - A torn last write is expected: after a crash the last batch may be on
 *   disk in part (pages land in any order). Replay keeps every complete
 *   record before it, reports "dropped N bytes of a torn record at offset X
 *   of <file>", and zeroes those bytes before appending after the last good
 *   record. Nothing in a torn batch had been acknowledged.
 * - Damage in the middle (a bad checksum with good records after it) is
 *   skipped, not the end: replay looks for the next sound frame, reports the
 *   skipped range (`damaged`), replays what follows, and compacts soon after
 *   so the damage leaves the journal. Stopping there would drop every later
 *   lease, and refusing to start would take the service down for one bad
 *   sector; a record is a whole fact (a grant or a release, not a delta), so
 *   losing one costs at most that lease, and the server's reconciliation
 *   with the device (allowed-ips) adopts an address the journal lost (the
 *   records' `history` says `damaged`; from a whole journal an address it
 *   never granted is an operator's, left alone). The
 *   server may still refuse to start on a report with damage if it prefers.
 *   Only a sound record of an unknown type (a newer version wrote it) stops
 *   replay, with `unsupported`: dropping it would lose a newer server's data.
 * - A failed write (EIO, or ENOSPC on a file system that needs space to
 *   overwrite) rejects every append of its batch with a JournalError and is
 *   zeroed (and synced) before anything else is written, so a refused record
 *   can never come back on replay after records written later; the next
 *   batch starts at the end of the last good record.
 * - Compaction never blocks appends: between two batches the writer closes
 *   the segment and starts the next (appends go on there at once), takes the
 *   caller's snapshot source, then writes it in 256 KiB chunks to
 *   snapshot-N.snap.tmp, fdatasyncs, renames it into place, fsyncs the
 *   directory, and only then removes the older segments and snapshot. A
 *   crash at any point replays correctly: a .tmp is removed on open; an old
 *   segment next to a newer complete snapshot is removed on open; a snapshot
 *   not yet renamed leaves the old snapshot and all segments in place.
 * - The lock is a symbolic link to the pid: atomic to create, readable, and
 *   it needs no data block, so a restart works on a full disk. A lock whose
 *   pid is gone is stale: it is removed with a warning and taken.
 * - The journal stores records; it does not interpret them. The lease
 *   vocabulary lives in a codec (`leaseRecordCodec`), so new record types
 *   (delegated prefixes, routes) are a new type byte, not a new format.
 */

export type { Logger } from '@wg-dynamic/log';
export { JournalError, type JournalErrorCode } from './errors.js';
export { FILE_HEADER_SIZE, FORMAT_VERSION } from './file-header.js';
export { segmentName, snapshotName } from './file-names.js';
export {
  type JournalFile,
  type JournalFileSystem,
  nodeFileSystem,
  type OpenMode,
} from './file-system.js';
export { FRAME_HEADER_SIZE, MAX_PAYLOAD_SIZE } from './frame.js';
export {
  type AppendOptions,
  type CompactionOptions,
  DEFAULT_COMPACTION_MINIMUM_RECORDS,
  DEFAULT_COMPACTION_RATIO,
  DEFAULT_PREALLOCATION_BYTES,
  DEFAULT_RESERVE_BYTES,
  DEFAULT_SPACE_RETRY_MS,
  Journal,
  type JournalOptions,
  type JournalStats,
  type OpenedJournal,
  openJournal,
  type Scheduler,
  type SpaceEvent,
} from './journal.js';
export {
  type GrantRecord,
  type LeaseRecord,
  LeaseRecordType,
  leaseRecordCodec,
  type ReleaseReason,
  type ReleaseRecord,
} from './lease-record.js';
export type { PayloadProblem, RecordCodec } from './record-codec.js';
export type {
  Damage,
  JournalHistory,
  ReplayedRecords,
  ReplayReport,
  TornTail,
} from './replay.js';
