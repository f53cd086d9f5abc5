import { NLA_HDRLEN, NLA_MAX_LENGTH, nlaAlign } from './align.js';
import { hostLittleEndian, viewOf } from './byte-order.js';

/** NLA_F_NESTED, <linux/netlink.h>: the attribute's payload is itself attributes. */
export const NLA_F_NESTED = 1 << 15;
/** NLA_F_NET_BYTEORDER, <linux/netlink.h>: the attribute's value is big-endian. */
export const NLA_F_NET_BYTEORDER = 1 << 14;
/** NLA_TYPE_MASK, <linux/netlink.h>: the type without the two flags above. */
export const NLA_TYPE_MASK = ~(NLA_F_NESTED | NLA_F_NET_BYTEORDER) & 0xffff;

type Item =
  | { readonly type: number; readonly payload: Uint8Array }
  | { readonly type: number; readonly nested: AttributeEncoder; readonly length: number };

const textEncoder = new TextEncoder();

/**
 * Builds a list of netlink attributes with typed methods, and knows its
 * encoded length (padding included) at every step, before encoding: a caller
 * that must fit a message into a buffer measures first and encodes once.
 *
 * Values are checked when added (range, and the 65,535-byte limit of an
 * attribute's 16-bit length), so a bad value fails where it is written.
 */
export class AttributeEncoder {
  readonly #items: Item[] = [];
  #length = 0;

  /** The encoded size in bytes of everything added so far, padding included. */
  get length(): number {
    return this.#length;
  }

  /** The number of attributes added at this level. */
  get count(): number {
    return this.#items.length;
  }

  /** The encoded size of one attribute with a payload of `payloadLength` bytes. */
  static sizeOf(payloadLength: number): number {
    return nlaAlign(NLA_HDRLEN + payloadLength);
  }

  u8(type: number, value: number): this {
    checkInteger(value, 0xff, 'u8');
    return this.#push(type, Uint8Array.of(value));
  }

  u16(type: number, value: number): this {
    checkInteger(value, 0xffff, 'u16');
    const payload = hostLittleEndian
      ? Uint8Array.of(value & 0xff, value >>> 8)
      : Uint8Array.of(value >>> 8, value & 0xff);
    return this.#push(type, payload);
  }

  u32(type: number, value: number): this {
    checkInteger(value, 0xffff_ffff, 'u32');
    const payload = new Uint8Array(4);
    viewOf(payload).setUint32(0, value, hostLittleEndian);
    return this.#push(type, payload);
  }

  u64(type: number, value: bigint): this {
    if (value < 0n || value > 0xffff_ffff_ffff_ffffn) {
      throw new RangeError(`${value} does not fit a u64 netlink attribute`);
    }
    const payload = new Uint8Array(8);
    viewOf(payload).setBigUint64(0, value, hostLittleEndian);
    return this.#push(type, payload);
  }

  /** A NUL-terminated UTF-8 string (NLA_NUL_STRING / NLA_STRING as the kernel sends them). */
  string(type: number, text: string): this {
    const encoded = textEncoder.encode(text);
    if (encoded.includes(0)) throw new RangeError('a netlink string attribute cannot contain NUL');
    const payload = new Uint8Array(encoded.length + 1);
    payload.set(encoded);
    return this.#push(type, payload);
  }

  /** A zero-length attribute whose presence is the value (NLA_FLAG). */
  flag(type: number): this {
    return this.bytes(type, new Uint8Array(0));
  }

  /** Raw bytes (copied). `type` may carry NLA_F_NET_BYTEORDER, never NLA_F_NESTED. */
  bytes(type: number, data: Uint8Array): this {
    return this.#push(type, Uint8Array.from(data));
  }

  /** Adds a payload this encoder owns from now on. */
  #push(type: number, payload: Uint8Array): this {
    checkType(type);
    if (NLA_HDRLEN + payload.length > NLA_MAX_LENGTH) {
      throw new RangeError(
        `a netlink attribute holds at most ${NLA_MAX_LENGTH - NLA_HDRLEN} bytes, not ${payload.length}`,
      );
    }
    this.#items.push({ type, payload });
    this.#length += AttributeEncoder.sizeOf(payload.length);
    return this;
  }

  /**
   * A nested attribute (NLA_F_NESTED set, which the kernel requires of nested
   * attributes it validates strictly). `content` is an encoder to attach, which
   * must not change afterwards, or a function that fills a new one.
   */
  nested(type: number, content: AttributeEncoder | ((nested: AttributeEncoder) => void)): this {
    checkType(type);
    let nested: AttributeEncoder;
    if (content instanceof AttributeEncoder) {
      nested = content;
    } else {
      nested = new AttributeEncoder();
      content(nested);
    }
    if (nested === this) throw new RangeError('an attribute encoder cannot nest itself');
    const length = nested.length;
    if (NLA_HDRLEN + length > NLA_MAX_LENGTH) {
      throw new RangeError(
        `a nested netlink attribute holds at most ${NLA_MAX_LENGTH - NLA_HDRLEN} bytes, not ${length}`,
      );
    }
    this.#items.push({ type: type | NLA_F_NESTED, nested, length });
    this.#length += NLA_HDRLEN + length;
    return this;
  }

  /** The attributes as bytes. */
  encode(): Uint8Array {
    const out = new Uint8Array(this.#length);
    const end = this.encodeInto(out, 0);
    if (end !== out.length) throw new Error('attribute encoder length mismatch');
    return out;
  }

  /** Writes the attributes into `target` at `offset` and returns the offset after them. */
  encodeInto(target: Uint8Array, offset: number): number {
    if (offset + this.#length > target.length) {
      throw new RangeError(`${this.#length} bytes of attributes do not fit at offset ${offset}`);
    }
    let at = offset;
    for (const item of this.#items) {
      if ('payload' in item) {
        writeHeader(target, at, NLA_HDRLEN + item.payload.length, item.type);
        target.set(item.payload, at + NLA_HDRLEN);
        const next = at + AttributeEncoder.sizeOf(item.payload.length);
        target.fill(0, at + NLA_HDRLEN + item.payload.length, next);
        at = next;
      } else {
        if (item.nested.length !== item.length) {
          throw new Error('a nested attribute encoder changed after it was attached');
        }
        writeHeader(target, at, NLA_HDRLEN + item.length, item.type);
        at = item.nested.encodeInto(target, at + NLA_HDRLEN);
      }
    }
    return at;
  }
}

/** struct nlattr: nla_len and nla_type, u16 each in host byte order. */
function writeHeader(target: Uint8Array, at: number, length: number, type: number): void {
  if (hostLittleEndian) {
    target[at] = length & 0xff;
    target[at + 1] = length >>> 8;
    target[at + 2] = type & 0xff;
    target[at + 3] = type >>> 8;
  } else {
    target[at] = length >>> 8;
    target[at + 1] = length & 0xff;
    target[at + 2] = type >>> 8;
    target[at + 3] = type & 0xff;
  }
}

function checkType(type: number): void {
  if (!Number.isInteger(type) || type < 0 || type > (NLA_TYPE_MASK | NLA_F_NET_BYTEORDER)) {
    throw new RangeError(`${type} is not a netlink attribute type (0 to ${NLA_TYPE_MASK})`);
  }
}

function checkInteger(value: number, max: number, kind: string): void {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new RangeError(`${value} does not fit a ${kind} netlink attribute`);
  }
}
