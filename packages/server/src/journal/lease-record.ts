import { addressBits, addressLength, IpAddress, type IpFamily, IpPrefix } from '@wg-dynamic/ip';
import type { LeaseRecord, ReleaseReason } from '../leases/lease.js';
import { JournalError } from './errors.js';
import type { PayloadProblem, RecordCodec } from './record-codec.js';

export type { GrantRecord, LeaseRecord, ReleaseReason, ReleaseRecord } from '../leases/lease.js';

/**
 * The first byte of every payload names the record's type and layout
 * version together: a changed layout of a known record gets a new number,
 * so old files stay readable and a newer file is refused, never misread.
 * 0x00 is never used (it is what a zero-filled tail looks like).
 */
export const LeaseRecordType = {
  /** type, family, prefix length, peer[32], address[4|16], start u32, duration u32 */
  GrantV1: 0x01,
  /** type, family, prefix length, reason, peer[32], address[4|16] */
  ReleaseV1: 0x02,
  /** A delegated prefix's grant (extension "prefix"): GrantV1's layout. */
  GrantPrefixV1: 0x03,
  /** A delegated prefix's release: ReleaseV1's layout. */
  ReleasePrefixV1: 0x04,
} as const;

/** WG_KEY_LEN, <linux/wireguard.h>. */
const WG_KEY_LEN = 32;
const GRANT_FIXED = 3 + WG_KEY_LEN + 8;
const RELEASE_FIXED = 4 + WG_KEY_LEN;
const U32_MAX = 0xffff_ffff;

const REASON_CODES: Readonly<Record<ReleaseReason, number>> = {
  released: 1,
  expired: 2,
  'peer-removed': 3,
  revoked: 4,
};
const REASONS: readonly (ReleaseReason | undefined)[] = [
  undefined,
  'released',
  'expired',
  'peer-removed',
  'revoked',
];

function invalid(message: string): JournalError {
  return new JournalError('invalid-record', `cannot journal this lease record: ${message}`);
}

function encodePeer(peer: unknown, target: Buffer, offset: number): void {
  if (typeof peer !== 'string' || peer.length !== 44) {
    throw invalid(
      `its peer must be a WireGuard public key in base64 (44 characters), not ${describe(peer)}`,
    );
  }
  const written = target.write(peer, offset, WG_KEY_LEN, 'base64');
  // Buffer's base64 decoder skips what it does not understand: only the canonical form round-trips.
  if (written !== WG_KEY_LEN || target.toString('base64', offset, offset + WG_KEY_LEN) !== peer) {
    throw invalid(`its peer is not the canonical base64 of a 32-byte key (${describe(peer)})`);
  }
}

/** Names a value without echoing it (a mistaken private key must not reach a log). */
function describe(value: unknown): string {
  return typeof value === 'string' ? `a text of ${value.length} character(s)` : `a ${typeof value}`;
}

function checkU32(value: number, what: string): void {
  if (!Number.isInteger(value) || value < 0 || value > U32_MAX) {
    throw invalid(`${what} must be a whole number from 0 to ${U32_MAX}, not ${value}`);
  }
}

function encode(record: LeaseRecord): Uint8Array {
  if (!(record.prefix instanceof IpPrefix)) throw invalid('its prefix is not an IpPrefix');
  const family = record.prefix.family;
  const size = addressLength[family];
  if (record.type === 'grant') {
    checkU32(record.start, 'its start (UNIX seconds)');
    checkU32(record.duration, 'its duration (seconds)');
    const payload = Buffer.allocUnsafe(GRANT_FIXED + size);
    payload[0] = record.delegated ? LeaseRecordType.GrantPrefixV1 : LeaseRecordType.GrantV1;
    payload[1] = family;
    payload[2] = record.prefix.length;
    encodePeer(record.peer, payload, 3);
    payload.set(record.prefix.address.bytes, 3 + WG_KEY_LEN);
    payload.writeUInt32LE(record.start, 3 + WG_KEY_LEN + size);
    payload.writeUInt32LE(record.duration, 7 + WG_KEY_LEN + size);
    return payload;
  }
  if (record.type === 'release') {
    const code = REASON_CODES[record.reason];
    if (code === undefined) throw invalid(`"${String(record.reason)}" is not a release reason`);
    const payload = Buffer.allocUnsafe(RELEASE_FIXED + size);
    payload[0] = record.delegated ? LeaseRecordType.ReleasePrefixV1 : LeaseRecordType.ReleaseV1;
    payload[1] = family;
    payload[2] = record.prefix.length;
    payload[3] = code;
    encodePeer(record.peer, payload, 4);
    payload.set(record.prefix.address.bytes, 4 + WG_KEY_LEN);
    return payload;
  }
  throw invalid(`"${String((record as { type: unknown }).type)}" is not a record type`);
}

function problem(reason: string): PayloadProblem {
  return { unsupported: false, reason };
}

function checkPrefix(payload: Uint8Array, fixed: number): PayloadProblem | undefined {
  const family = payload[1];
  if (family !== 4 && family !== 6) return problem(`address family ${family} is neither 4 nor 6`);
  const length = payload[2] ?? 0;
  if (length > addressBits[family]) return problem(`/${length} is too long for IPv${family}`);
  const expected = fixed + addressLength[family];
  if (payload.length !== expected) {
    return problem(`${payload.length} bytes where this record has ${expected}`);
  }
  return undefined;
}

function check(payload: Uint8Array): PayloadProblem | undefined {
  if (payload.length < 3) return problem(`${payload.length} bytes is too short for a record`);
  switch (payload[0]) {
    case LeaseRecordType.GrantV1:
    case LeaseRecordType.GrantPrefixV1:
      return checkPrefix(payload, GRANT_FIXED);
    case LeaseRecordType.ReleaseV1:
    case LeaseRecordType.ReleasePrefixV1:
      return (
        checkPrefix(payload, RELEASE_FIXED) ??
        (REASONS[payload[3] ?? 0] === undefined
          ? problem(`release reason ${payload[3]} is unknown`)
          : undefined)
      );
    default:
      return {
        unsupported: true,
        reason: `record type 0x${(payload[0] ?? 0).toString(16).padStart(2, '0')} is unknown to this version`,
      };
  }
}

function view(payload: Uint8Array): Buffer {
  return Buffer.isBuffer(payload)
    ? payload
    : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
}

function decode(payload: Uint8Array): LeaseRecord {
  const trouble = check(payload);
  if (trouble) throw new JournalError('corrupt', `cannot decode a lease record: ${trouble.reason}`);
  const bytes = view(payload);
  const family = bytes[1] as IpFamily;
  const length = bytes[2] as number;
  const size = addressLength[family];
  const type = bytes[0];
  if (type === LeaseRecordType.GrantV1 || type === LeaseRecordType.GrantPrefixV1) {
    const at = 3 + WG_KEY_LEN;
    const grant = {
      type: 'grant',
      peer: bytes.toString('base64', 3, at),
      prefix: new IpPrefix(IpAddress.fromBytes(bytes.subarray(at, at + size)), length),
      start: bytes.readUInt32LE(at + size),
      duration: bytes.readUInt32LE(at + size + 4),
    } as const;
    return type === LeaseRecordType.GrantPrefixV1 ? { ...grant, delegated: true } : grant;
  }
  const at = 4 + WG_KEY_LEN;
  const release = {
    type: 'release',
    peer: bytes.toString('base64', 4, at),
    prefix: new IpPrefix(IpAddress.fromBytes(bytes.subarray(at, at + size)), length),
    reason: REASONS[bytes[3] as number] as ReleaseReason,
  } as const;
  return type === LeaseRecordType.ReleasePrefixV1 ? { ...release, delegated: true } : release;
}

/**
 * The lease table's records in binary: a grant of an IPv4 address takes 47
 * bytes (IPv6: 59), a release 40 (52); integers little-endian. A delegated
 * prefix's records have the same layout under their own type byte (0x03,
 * 0x04), so a server that predates delegation refuses such a journal
 * instead of reading a prefix as an address. The start is
 * u32 UNIX seconds (good until 2106; a later layout would be a new type).
 */
export const leaseRecordCodec: RecordCodec<LeaseRecord> = { encode, check, decode };
