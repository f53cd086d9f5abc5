import {
  AttributeDecoder,
  AttributeEncoder,
  type AttributeNode,
  DEFAULT_MAX_DEPTH,
  decodeAttributeTree,
  encodeAttributeTree,
  hostLittleEndian,
  NetlinkDecodeError,
  NLA_ALIGNTO,
  NLA_F_NESTED,
  NLA_F_NET_BYTEORDER,
  NLA_HDRLEN,
  nlaAlign,
  nlmsgAlign,
} from '@wg-dynamic/wireguard/netlink';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

const header = (length: number, type: number) => {
  const bytes = new Uint8Array(4);
  const view = new DataView(bytes.buffer);
  view.setUint16(0, length, hostLittleEndian);
  view.setUint16(2, type, hostLittleEndian);
  return bytes;
};
const concat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
};

describe('alignment (NLA_ALIGN, NLMSG_ALIGN)', () => {
  it('rounds up to four bytes', () => {
    expect([0, 1, 2, 3, 4, 5, 8].map(nlaAlign)).toEqual([0, 4, 4, 4, 4, 8, 8]);
    expect([0, 1, 16, 17, 20].map(nlmsgAlign)).toEqual([0, 4, 16, 20, 20]);
    expect(NLA_ALIGNTO).toBe(4);
  });
});

describe('AttributeEncoder', () => {
  it('lays attributes out as the kernel does, in host byte order, padded', () => {
    const encoder = new AttributeEncoder().u8(1, 0xab).u16(2, 0x1234).string(3, 'wg0');
    expect(encoder.length).toBe(8 + 8 + 8);
    const bytes = encoder.encode();
    expect(bytes.length).toBe(encoder.length);
    const view = new DataView(bytes.buffer);
    expect(view.getUint16(0, hostLittleEndian)).toBe(5); // 4 + 1, padding not counted
    expect(view.getUint16(2, hostLittleEndian)).toBe(1);
    expect(Array.from(bytes.subarray(4, 8))).toEqual([0xab, 0, 0, 0]);
    expect(view.getUint16(12, hostLittleEndian)).toBe(0x1234);
    expect(Array.from(bytes.subarray(20, 24))).toEqual([0x77, 0x67, 0x30, 0]);
  });

  it('knows its length before encoding, nested included, and flags nested attributes', () => {
    const inner = new AttributeEncoder().u32(1, 7).bytes(2, new Uint8Array(5));
    const outer = new AttributeEncoder()
      .nested(9, inner)
      .flag(4)
      .u64(5, 2n ** 64n - 1n);
    expect(outer.length).toBe(4 + (8 + 12) + 4 + 12);
    const bytes = outer.encode();
    expect(bytes.length).toBe(outer.length);
    const type = new DataView(bytes.buffer).getUint16(2, hostLittleEndian);
    expect(type).toBe(9 | NLA_F_NESTED);
    const [first, second, third] = [...new AttributeDecoder(bytes)];
    expect(first?.nestedFlag).toBe(true);
    expect([...(first?.nested() ?? [])].map((a) => a.type)).toEqual([1, 2]);
    expect(second?.flag()).toBe(true);
    expect(third?.u64()).toBe(2n ** 64n - 1n);
  });

  it('refuses values that do not fit, where they are written', () => {
    const encoder = new AttributeEncoder();
    expect(() => encoder.u8(1, 256)).toThrow(RangeError);
    expect(() => encoder.u16(1, -1)).toThrow(RangeError);
    expect(() => encoder.u32(1, 2 ** 32)).toThrow(RangeError);
    expect(() => encoder.u32(1, 1.5)).toThrow(RangeError);
    expect(() => encoder.u64(1, 2n ** 64n)).toThrow(RangeError);
    expect(() => encoder.string(1, 'a\0b')).toThrow(RangeError);
    expect(() => encoder.bytes(NLA_F_NESTED | 1, new Uint8Array())).toThrow(RangeError);
    expect(() => encoder.bytes(1, new Uint8Array(0xffff))).toThrow(RangeError);
    expect(() => encoder.bytes(1, new Uint8Array(0xffff - 4))).not.toThrow();
    const big = new AttributeEncoder().bytes(1, new Uint8Array(0xfff0));
    expect(() => new AttributeEncoder().nested(2, (e) => e.nested(3, big).flag(4))).toThrow(
      /at most 65531 bytes/,
    );
    expect(encoder.count).toBe(1);
  });

  it('detects a nested encoder changed after it was attached', () => {
    const inner = new AttributeEncoder().u8(1, 1);
    const outer = new AttributeEncoder().nested(2, inner);
    inner.u8(3, 3);
    expect(() => outer.encode()).toThrow(/changed after/);
  });
});

describe('AttributeDecoder on hostile input', () => {
  const decodeAll = (bytes: Uint8Array) => [...new AttributeDecoder(bytes, 'test')];

  it('refuses a length shorter than the header', () => {
    expect(() => decodeAll(header(3, 1))).toThrow(/shorter than its 4-byte header/);
  });

  it('refuses a length past the end', () => {
    expect(() => decodeAll(concat(header(12, 1), new Uint8Array(4)))).toThrow(/past the end/);
  });

  it('refuses a truncated header', () => {
    expect(() => decodeAll(concat(header(8, 1), new Uint8Array(4), new Uint8Array(2)))).toThrow(
      /trailing/,
    );
  });

  it('accepts a last attribute without its padding, as the kernel does', () => {
    const [only] = decodeAll(concat(header(5, 1), Uint8Array.of(9)));
    expect(only?.u8()).toBe(9);
  });

  it('checks every typed getter against the payload length', () => {
    const [attribute] = decodeAll(concat(header(6, 1), Uint8Array.of(1, 2), new Uint8Array(2)));
    expect(() => attribute?.u8()).toThrow(NetlinkDecodeError);
    expect(attribute?.u16()).toBe(hostLittleEndian ? 0x0201 : 0x0102);
    expect(() => attribute?.u32()).toThrow(/u32 needs 4 byte/);
    expect(() => attribute?.u64()).toThrow(NetlinkDecodeError);
    expect(() => attribute?.flag()).toThrow(NetlinkDecodeError);
    expect(() => attribute?.bytes(32)).toThrow(NetlinkDecodeError);
    expect(() => attribute?.string()).toThrow(/without its NUL/);
  });

  it('reads NLA_F_NET_BYTEORDER values big-endian', () => {
    const [attribute] = decodeAll(
      concat(header(6, 1 | NLA_F_NET_BYTEORDER), Uint8Array.of(1, 2, 0, 0)),
    );
    expect(attribute?.u16()).toBe(0x0102);
    expect(attribute?.type).toBe(1);
  });

  it('names where the problem is', () => {
    const bad = new AttributeEncoder().nested(8, (peers) => peers.bytes(0, header(40, 1))).encode();
    const [peers] = decodeAll(bad);
    try {
      for (const entry of peers?.nested('WGDEVICE_A_PEERS') ?? []) [...entry.nested('peer')];
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(NetlinkDecodeError);
      expect((error as NetlinkDecodeError).where).toBe('test > 8 (WGDEVICE_A_PEERS) > 0 (peer)');
    }
  });

  it('refuses nesting deeper than the limit, without recursing further', () => {
    let bytes: Uint8Array = new AttributeEncoder().u8(1, 1).encode();
    for (let depth = 0; depth < 10_000; depth++) {
      const wrapped = new Uint8Array(bytes.length + 4);
      wrapped.set(header(Math.min(bytes.length + 4, 0xffff), 1 | NLA_F_NESTED));
      wrapped.set(bytes, 4);
      bytes = wrapped;
      if (bytes.length > 0xfff0) break;
    }
    expect(() => decodeAttributeTree(bytes)).toThrow(
      new RegExp(`deeper than ${DEFAULT_MAX_DEPTH} levels`),
    );
  });
});

// Trees whose leaves and branches encode within the 16-bit length limit.
const leaf = fc.record({
  type: fc.integer({ min: 0, max: 0x3fff }),
  netByteOrder: fc.boolean(),
  payload: fc.uint8Array({ maxLength: 40 }),
});
const { tree } = fc.letrec<{ tree: AttributeNode[]; node: AttributeNode }>((self) => ({
  tree: fc.array(self('node'), { maxLength: 5 }),
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc.record({
      type: fc.integer({ min: 0, max: 0x3fff }),
      netByteOrder: fc.boolean(),
      children: self('tree'),
    }),
  ),
}));

describe('round trips (property tests)', () => {
  it('decode(encode(tree)) is the tree', () => {
    fc.assert(
      fc.property(tree, (nodes) => {
        const encoder = encodeAttributeTree(nodes);
        const bytes = encoder.encode();
        expect(bytes.length).toBe(encoder.length);
        expect(bytes.length % 4).toBe(0);
        expect(decodeAttributeTree(bytes, 64)).toEqual(nodes);
      }),
      { numRuns: 500 },
    );
  });

  it('arbitrary bytes either decode, and then survive encode and decode, or fail cleanly', () => {
    const bytesish = fc.oneof(
      fc.uint8Array({ maxLength: 200 }),
      // Mostly well-formed input with a few bytes corrupted.
      fc
        .tuple(
          tree,
          fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 3 }),
        )
        .map(([nodes, flips]) => {
          const bytes = encodeAttributeTree(nodes).encode();
          for (const [at, value] of flips) if (bytes.length > 0) bytes[at % bytes.length] = value;
          return bytes;
        }),
    );
    fc.assert(
      fc.property(bytesish, (bytes) => {
        let decoded: AttributeNode[];
        try {
          decoded = decodeAttributeTree(bytes);
        } catch (error) {
          expect(error).toBeInstanceOf(NetlinkDecodeError);
          return;
        }
        const again = decodeAttributeTree(encodeAttributeTree(decoded).encode());
        expect(again).toEqual(decoded);
      }),
      { numRuns: 2000 },
    );
  });

  it('typed values come back as written', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 255 }),
        fc.integer({ min: 0, max: 0xffff }),
        fc.integer({ min: 0, max: 0xffff_ffff }),
        fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
        fc.string({ maxLength: 30 }).filter((s) => !s.includes('\0')),
        (a, b, c, d, e) => {
          const bytes = new AttributeEncoder()
            .u8(1, a)
            .u16(2, b)
            .u32(3, c)
            .u64(4, d)
            .string(5, e)
            .encode();
          const [u8, u16, u32, u64, string] = [...new AttributeDecoder(bytes)];
          expect([u8?.u8(), u16?.u16(), u32?.u32(), u64?.u64(), string?.string()]).toEqual([
            a,
            b,
            c,
            d,
            e,
          ]);
        },
      ),
    );
  });
});

it('NLA_HDRLEN is the aligned struct nlattr', () => {
  expect(NLA_HDRLEN).toBe(4);
});
