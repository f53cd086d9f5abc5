import { crc32 } from 'node:zlib';
import type { PayloadProblem } from './record-codec.js';

/**
 * Every record is stored as a frame:
 *
 *   offset 0  length   u32 LE   payload bytes, 1 to MAX_PAYLOAD_SIZE
 *          4  checksum u32 LE   CRC-32 (zlib's, IEEE) of the length field, then the payload
 *          8  payload
 *
 * The checksum covers the length too, so a damaged length cannot pass for a
 * good one. A zero length is never written: it is what the zero-filled,
 * preallocated tail of a segment looks like.
 */
export const FRAME_HEADER_SIZE = 8;

/** The largest payload; a length above it is damage, never a huge allocation. */
export const MAX_PAYLOAD_SIZE = 64 * 1024;

export function frameSize(payloadLength: number): number {
  return FRAME_HEADER_SIZE + payloadLength;
}

/** CRC-32 (reflected, polynomial 0xEDB88320, as zlib) byte table, for the 4 length bytes. */
const CRC_TABLE = Int32Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c;
});

/** zlib's crc32 of bytes[start, start + 4), in JavaScript: cheaper than a native call for four bytes. */
function crcOfLength(bytes: Buffer, start: number): number {
  let c = -1;
  for (let i = start; i < start + 4; i++) {
    c = (CRC_TABLE[(c ^ (bytes[i] as number)) & 0xff] as number) ^ (c >>> 8);
  }
  return (c ^ -1) >>> 0;
}

function checksum(bytes: Buffer, start: number, payload: Buffer): number {
  return crc32(payload, crcOfLength(bytes, start));
}

/** Writes one frame of `payload` into `target` at `offset`; returns the offset after it. */
export function writeFrame(payload: Uint8Array, target: Buffer, offset: number): number {
  if (payload.length === 0 || payload.length > MAX_PAYLOAD_SIZE) {
    throw new RangeError(
      `a journal record has 1 to ${MAX_PAYLOAD_SIZE} bytes, not ${payload.length}`,
    );
  }
  target.writeUInt32LE(payload.length, offset);
  target.set(payload, offset + FRAME_HEADER_SIZE);
  const stored = target.subarray(
    offset + FRAME_HEADER_SIZE,
    offset + FRAME_HEADER_SIZE + payload.length,
  );
  target.writeUInt32LE(checksum(target, offset, stored), offset + 4);
  return offset + frameSize(payload.length);
}

/** The frames of some payloads, back to back. */
export function encodeFrames(payloads: readonly Uint8Array[]): Buffer {
  let total = 0;
  for (const payload of payloads) total += frameSize(payload.length);
  const buffer = Buffer.allocUnsafe(total);
  let offset = 0;
  for (const payload of payloads) offset = writeFrame(payload, buffer, offset);
  return buffer;
}

/**
 * The payload of a sound frame at `start` (length in range, whole frame
 * before `end`, checksum right), or undefined.
 */
export function frameAt(bytes: Buffer, start: number, end: number): Buffer | undefined {
  if (start + FRAME_HEADER_SIZE > end) return undefined;
  const length = bytes.readUInt32LE(start);
  if (length === 0 || length > MAX_PAYLOAD_SIZE) return undefined;
  const payloadStart = start + FRAME_HEADER_SIZE;
  if (payloadStart + length > end) return undefined;
  const payload = bytes.subarray(payloadStart, payloadStart + length);
  return checksum(bytes, start, payload) === bytes.readUInt32LE(start + 4) ? payload : undefined;
}

const ZEROS = Buffer.alloc(64 * 1024);

/** True when bytes [from, to) are all zero (compared 64 KiB at a time, in C). */
export function allZero(bytes: Buffer, from: number, to: number): boolean {
  for (let at = from; at < to; at += ZEROS.length) {
    const n = Math.min(ZEROS.length, to - at);
    if (bytes.compare(ZEROS, 0, n, at, at + n) !== 0) return false;
  }
  return true;
}

/** The index after the last non-zero byte in [from, to), or `from` when there is none. */
function endOfData(bytes: Buffer, from: number, to: number): number {
  let end = to;
  // Skip zero blocks from the end quickly, then bytes.
  while (end - from >= ZEROS.length && allZero(bytes, end - ZEROS.length, end)) {
    end -= ZEROS.length;
  }
  while (end > from && bytes[end - 1] === 0) end--;
  return end;
}

/** The first index in [from, to) whose byte is not zero, or `to`. */
function nextData(bytes: Buffer, from: number, to: number): number {
  let at = from;
  while (to - at >= ZEROS.length && allZero(bytes, at, at + ZEROS.length)) at += ZEROS.length;
  while (at < to && bytes[at] === 0) at++;
  return at;
}

/** A range of consecutive good frames. */
export interface FrameRun {
  readonly from: number;
  readonly to: number;
}

/** Bytes skipped between good frames: damage, not a torn tail (good frames follow). */
export interface SkippedRange {
  readonly offset: number;
  readonly bytes: number;
  readonly reason: string;
}

export interface ScanResult {
  /** The good frames, in order. */
  readonly runs: readonly FrameRun[];
  readonly records: number;
  readonly skipped: readonly SkippedRange[];
  /** The offset after the last good frame (`start` when there is none): where appends go on. */
  readonly end: number;
  /**
   * Non-zero bytes after `end` that hold no good frame: a torn write (or, in
   * a file that should end cleanly, damage). Absent when the rest is zeros.
   */
  readonly tail?: { readonly offset: number; readonly bytes: number; readonly reason: string };
}

/**
 * Thrown by `scanFrames` for a sound frame whose record this version cannot
 * read (written by a newer one).
 */
export class UnsupportedRecordError extends Error {
  constructor(
    readonly offset: number,
    readonly reason: string,
  ) {
    super(reason);
  }
}

function whyNot(bytes: Buffer, start: number, end: number): string {
  if (start + FRAME_HEADER_SIZE > end) return 'a frame header cut short';
  const length = bytes.readUInt32LE(start);
  if (length === 0) return 'zero bytes where a record should start';
  if (length > MAX_PAYLOAD_SIZE) return `an impossible record length (${length})`;
  if (start + FRAME_HEADER_SIZE + length > end) return 'a record cut short';
  return 'a checksum mismatch';
}

/**
 * Reads the frames of `bytes[start, end)`. A bad frame is not the end: the
 * scan looks for the next sound frame after it. If one follows, the bytes in
 * between are skipped and reported (damage in the middle of a file); if none
 * does, what is left is the tail: zeros (the clean end of a preallocated
 * segment) or a torn write. `check` vets each sound frame's payload; a
 * malformed one is skipped like damage, an unsupported one stops the scan
 * with UnsupportedRecordError.
 */
export function scanFrames(
  bytes: Buffer,
  start: number,
  end: number,
  check: (payload: Buffer) => PayloadProblem | undefined,
): ScanResult {
  const runs: FrameRun[] = [];
  const skipped: SkippedRange[] = [];
  let records = 0;
  let runStart = start;
  let at = start;
  const closeRun = () => {
    if (at > runStart) runs.push({ from: runStart, to: at });
  };
  while (at < end) {
    const payload = frameAt(bytes, at, end);
    if (payload) {
      const trouble = check(payload);
      if (!trouble) {
        records++;
        at += FRAME_HEADER_SIZE + payload.length;
        continue;
      }
      if (trouble.unsupported) throw new UnsupportedRecordError(at, trouble.reason);
      closeRun();
      skipped.push({
        offset: at,
        bytes: FRAME_HEADER_SIZE + payload.length,
        reason: `a record that cannot be decoded: ${trouble.reason}`,
      });
      at += FRAME_HEADER_SIZE + payload.length;
      runStart = at;
      continue;
    }
    // Not a sound frame: the clean end, a torn tail, or damage with good frames after it.
    closeRun();
    const reason = whyNot(bytes, at, end);
    const next = nextSoundFrame(bytes, at + 1, end, check);
    if (next < 0) {
      const dataEnd = endOfData(bytes, at, end);
      if (dataEnd > at)
        return {
          runs,
          records,
          skipped,
          end: at,
          tail: { offset: at, bytes: dataEnd - at, reason },
        };
      return { runs, records, skipped, end: at };
    }
    skipped.push({ offset: at, bytes: next - at, reason });
    at = next;
    runStart = at;
  }
  closeRun();
  return { runs, records, skipped, end: at };
}

/** The start of the next sound frame with a decodable (or unsupported) payload at or after `from`, or -1. */
function nextSoundFrame(
  bytes: Buffer,
  from: number,
  end: number,
  check: (payload: Buffer) => PayloadProblem | undefined,
): number {
  let at = from;
  while (at + FRAME_HEADER_SIZE < end) {
    // A frame's length is non-zero, so one of its four bytes is: skip runs of zeros.
    const data = nextData(bytes, at, end);
    if (data >= end) return -1;
    if (data - 3 > at) at = data - 3;
    const payload = frameAt(bytes, at, end);
    if (payload) {
      const trouble = check(payload);
      if (!trouble || trouble.unsupported) return at;
    }
    at++;
  }
  return -1;
}
