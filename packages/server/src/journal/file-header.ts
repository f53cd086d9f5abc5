import { crc32 } from 'node:zlib';

/**
 * Every journal file starts with a 20-byte header:
 *
 *   offset 0  magic     "WGDJ"
 *          4  version   u8, FORMAT_VERSION
 *          5  kind      u8, 1 segment, 2 snapshot
 *          6  reserved  u16, zero
 *          8  sequence  u32 LE, the number in the file's name
 *         12  records   u32 LE, a snapshot's record count (written last); 0 in a segment
 *         16  checksum  u32 LE, CRC-32 of bytes 0..15
 *
 * Frames follow it (frame.ts).
 */
export const FILE_HEADER_SIZE = 20;
export const FORMAT_VERSION = 1;
const MAGIC = Buffer.from('WGDJ', 'latin1');

export type FileKind = 'segment' | 'snapshot';
const KIND_CODES: Readonly<Record<FileKind, number>> = { segment: 1, snapshot: 2 };

export interface FileHeader {
  readonly kind: FileKind;
  readonly sequence: number;
  readonly records: number;
}

export function encodeHeader(header: FileHeader): Buffer {
  const bytes = Buffer.alloc(FILE_HEADER_SIZE);
  MAGIC.copy(bytes, 0);
  bytes[4] = FORMAT_VERSION;
  bytes[5] = KIND_CODES[header.kind];
  bytes.writeUInt32LE(header.sequence, 8);
  bytes.writeUInt32LE(header.records, 12);
  bytes.writeUInt32LE(crc32(bytes.subarray(0, 16)), 16);
  return bytes;
}

export type HeaderCheck =
  | { readonly ok: true; readonly header: FileHeader }
  | { readonly ok: false; readonly unsupported: boolean; readonly reason: string };

/** Reads and checks a header; `unsupported` when it is sound but from a newer version. */
export function decodeHeader(bytes: Buffer, kind: FileKind, sequence: number): HeaderCheck {
  const bad = (reason: string): HeaderCheck => ({ ok: false, unsupported: false, reason });
  if (bytes.length < FILE_HEADER_SIZE) return bad(`it is only ${bytes.length} bytes long`);
  if (bytes.compare(MAGIC, 0, 4, 0, 4) !== 0) return bad('it does not start with "WGDJ"');
  if (crc32(bytes.subarray(0, 16)) !== bytes.readUInt32LE(16)) {
    return bad('its header checksum does not match');
  }
  if (bytes[4] !== FORMAT_VERSION || bytes.readUInt16LE(6) !== 0) {
    return {
      ok: false,
      unsupported: true,
      reason: `it has format version ${bytes[4]}.${bytes.readUInt16LE(6)}; this version reads ${FORMAT_VERSION}.0`,
    };
  }
  if (bytes[5] !== KIND_CODES[kind]) return bad(`its header says it is not a ${kind}`);
  const found = bytes.readUInt32LE(8);
  if (found !== sequence) return bad(`its header names sequence ${found}, its name ${sequence}`);
  return { ok: true, header: { kind, sequence, records: bytes.readUInt32LE(12) } };
}
