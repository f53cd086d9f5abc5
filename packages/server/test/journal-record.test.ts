import { IpAddress, IpPrefix } from '@wg-dynamic/ip';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type LeaseRecord,
  LeaseRecordType,
  leaseRecordCodec,
  type ReleaseReason,
} from '../src/journal/index.js';

const PEER = Buffer.alloc(32, 0xab).toString('base64');
const prefix = (text: string) => IpPrefix.from(text);

function roundTrip(record: LeaseRecord): LeaseRecord {
  const payload = leaseRecordCodec.encode(record);
  expect(leaseRecordCodec.check(payload)).toBeUndefined();
  return leaseRecordCodec.decode(payload);
}

describe('leaseRecordCodec', () => {
  it.each([
    ['an IPv4 address', '192.168.4.7/32', 47],
    ['an IPv6 address', '2001:db8::7/128', 59],
    ['a delegated IPv6 prefix', '2001:db8:0:100::/56', 59],
    ['an IPv4 prefix with host bits', '10.1.2.3/24', 47],
  ])('round-trips a grant of %s in %d bytes', (_, text, size) => {
    const record: LeaseRecord = {
      type: 'grant',
      peer: PEER,
      prefix: prefix(text),
      start: 1_700_000_000,
      duration: 3600,
    };
    const payload = leaseRecordCodec.encode(record);
    expect(payload.length).toBe(size);
    expect(payload[0]).toBe(LeaseRecordType.GrantV1);
    const back = roundTrip(record);
    expect(back).toEqual(record);
    expect(back.prefix.toString()).toBe(text);
  });

  it.each<ReleaseReason>(['released', 'expired', 'peer-removed', 'revoked'])(
    'round-trips a release (%s)',
    (reason) => {
      for (const text of ['10.0.0.1/32', 'fd00::1/128', 'fd00:1::/48']) {
        const record: LeaseRecord = { type: 'release', peer: PEER, prefix: prefix(text), reason };
        const back = roundTrip(record);
        expect(back).toEqual(record);
        expect(leaseRecordCodec.encode(record)[0]).toBe(LeaseRecordType.ReleaseV1);
      }
    },
  );

  it('round-trips delegated prefixes under their own types, apart from addresses', () => {
    for (const text of ['10.200.0.16/28', '2001:db8:100:5::/64', '10.200.0.7/32']) {
      const grant: LeaseRecord = {
        type: 'grant',
        peer: PEER,
        prefix: prefix(text),
        start: 1_700_000_000,
        duration: 3600,
        delegated: true,
      };
      const release: LeaseRecord = {
        type: 'release',
        peer: PEER,
        prefix: prefix(text),
        reason: 'expired',
        delegated: true,
      };
      expect(leaseRecordCodec.encode(grant)[0]).toBe(LeaseRecordType.GrantPrefixV1);
      expect(leaseRecordCodec.encode(release)[0]).toBe(LeaseRecordType.ReleasePrefixV1);
      expect(roundTrip(grant)).toEqual(grant);
      expect(roundTrip(release)).toEqual(release);
      // The same prefix as an address record decodes without the flag: the type byte tells them apart.
      const { delegated: _, ...address } = grant;
      expect(roundTrip(address)).toEqual(address);
      expect('delegated' in roundTrip(address)).toBe(false);
    }
  });

  it('keeps the extremes of start and duration', () => {
    for (const [start, duration] of [
      [0, 0],
      [0xffff_ffff, 0xffff_ffff],
    ] as const) {
      const record: LeaseRecord = {
        type: 'grant',
        peer: PEER,
        prefix: prefix('::/0'),
        start,
        duration,
      };
      expect(roundTrip(record)).toEqual(record);
    }
  });

  it('round-trips any record (property)', () => {
    const address = fc.oneof(
      fc.uint8Array({ minLength: 4, maxLength: 4 }),
      fc.uint8Array({ minLength: 16, maxLength: 16 }),
    );
    const prefixes = address.chain((bytes) =>
      fc
        .integer({ min: 0, max: bytes.length * 8 })
        .map((length) => new IpPrefix(IpAddress.fromBytes(bytes), length)),
    );
    const peers = fc
      .uint8Array({ minLength: 32, maxLength: 32 })
      .map((bytes) => Buffer.from(bytes).toString('base64'));
    const u32 = fc.integer({ min: 0, max: 0xffff_ffff });
    const records: fc.Arbitrary<LeaseRecord> = fc.oneof(
      fc.record({
        type: fc.constant('grant' as const),
        peer: peers,
        prefix: prefixes,
        start: u32,
        duration: u32,
      }),
      fc.record({
        type: fc.constant('release' as const),
        peer: peers,
        prefix: prefixes,
        reason: fc.constantFrom<ReleaseReason>('released', 'expired', 'peer-removed', 'revoked'),
      }),
    );
    fc.assert(
      fc.property(records, (record) => {
        expect(roundTrip(record)).toEqual(record);
      }),
    );
  });

  it('refuses records it cannot store, with invalid-record and without echoing the key', () => {
    const base = { type: 'grant', prefix: prefix('10.0.0.1/32'), start: 1, duration: 1 } as const;
    const secret = 'not-a-key-at-all-but-maybe-a-secret';
    const cases: unknown[] = [
      { ...base, peer: secret },
      { ...base, peer: `${PEER.slice(0, 42)}B=` }, // 44 characters, non-canonical last digit
      { ...base, peer: PEER, start: -1 },
      { ...base, peer: PEER, start: 2 ** 32 },
      { ...base, peer: PEER, duration: 1.5 },
      { ...base, peer: PEER, prefix: '10.0.0.1/32' },
      { type: 'release', peer: PEER, prefix: prefix('10.0.0.1/32'), reason: 'bored' },
      { type: 'renew', peer: PEER, prefix: prefix('10.0.0.1/32') },
    ];
    for (const record of cases) {
      let error: unknown;
      try {
        leaseRecordCodec.encode(record as LeaseRecord);
      } catch (caught) {
        error = caught;
      }
      expect(error).toMatchObject({ name: 'JournalError', code: 'invalid-record' });
      expect(String((error as Error).message)).not.toContain(secret);
    }
  });

  it('checks payloads: an unknown type is unsupported, a malformed one is a problem', () => {
    const good = leaseRecordCodec.encode({
      type: 'grant',
      peer: PEER,
      prefix: prefix('10.0.0.1/32'),
      start: 5,
      duration: 6,
    });
    const unknown = Buffer.from(good);
    unknown[0] = 0x7f;
    expect(leaseRecordCodec.check(unknown)).toMatchObject({ unsupported: true });

    const malformed = (change: (bytes: Buffer) => Buffer) => {
      const problem = leaseRecordCodec.check(change(Buffer.from(good)));
      expect(problem).toMatchObject({ unsupported: false });
      expect(() => leaseRecordCodec.decode(change(Buffer.from(good)))).toThrow(
        expect.objectContaining({ code: 'corrupt' }),
      );
    };
    malformed((b) => b.subarray(0, b.length - 1)); // short
    malformed((b) => Buffer.concat([b, Buffer.from([0])])); // long
    malformed((b) => {
      b[1] = 5; // family
      return b;
    });
    malformed((b) => {
      b[2] = 33; // prefix length
      return b;
    });
    malformed((b) => b.subarray(0, 2));
    const release = Buffer.from(
      leaseRecordCodec.encode({
        type: 'release',
        peer: PEER,
        prefix: prefix('10.0.0.1/32'),
        reason: 'expired',
      }),
    );
    release[3] = 9;
    expect(leaseRecordCodec.check(release)).toMatchObject({ unsupported: false });
  });
});
