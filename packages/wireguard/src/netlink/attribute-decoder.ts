import { NLA_HDRLEN, nlaAlign } from './align.js';
import { NLA_F_NESTED, NLA_F_NET_BYTEORDER, NLA_TYPE_MASK } from './attribute-encoder.js';
import { hostLittleEndian, viewOf } from './byte-order.js';
import { NetlinkDecodeError } from './errors.js';

const textDecoder = new TextDecoder('utf-8', { fatal: true });

/**
 * Reads a list of netlink attributes as an iterator:
 *
 *     for (const attribute of new AttributeDecoder(bytes, 'WGDEVICE_A_PEERS')) {
 *       switch (attribute.type) { case WGPEER_A_PUBLIC_KEY: key = attribute.bytes(); … }
 *     }
 *
 * Every header is checked as the iteration reaches it, and every typed getter
 * checks the payload's length: malformed input throws a NetlinkDecodeError
 * at the spot, naming where it was. There is no error state to forget to
 * check and no zero returned in place of a value.
 */
export class AttributeDecoder implements Iterable<Attribute> {
  readonly #bytes: Uint8Array;
  readonly #where: string | (() => string);

  /** `where` names the list in error messages; a function is called only when one is needed. */
  constructor(bytes: Uint8Array, where: string | (() => string) = 'attributes') {
    this.#bytes = bytes;
    this.#where = where;
  }

  /** Where the list is, for error messages. */
  get where(): string {
    return typeof this.#where === 'string' ? this.#where : this.#where();
  }

  *[Symbol.iterator](): Iterator<Attribute> {
    const bytes = this.#bytes;
    let offset = 0;
    let index = 0;
    while (offset < bytes.length) {
      const remaining = bytes.length - offset;
      if (remaining < NLA_HDRLEN) {
        throw new NetlinkDecodeError(
          this.where,
          `${remaining} trailing byte(s) after attribute ${index}, too few for an attribute header`,
        );
      }
      const length = readU16(bytes, offset, hostLittleEndian);
      const rawType = readU16(bytes, offset + 2, hostLittleEndian);
      if (length < NLA_HDRLEN) {
        throw new NetlinkDecodeError(
          this.where,
          `attribute ${index} (type ${rawType & NLA_TYPE_MASK}) has length ${length}, shorter than its ${NLA_HDRLEN}-byte header`,
        );
      }
      if (length > remaining) {
        throw new NetlinkDecodeError(
          this.where,
          `attribute ${index} (type ${rawType & NLA_TYPE_MASK}) has length ${length}, past the end (${remaining} bytes left)`,
        );
      }
      yield new Attribute(rawType, bytes.subarray(offset + NLA_HDRLEN, offset + length), this);
      // The last attribute's padding may be missing (the kernel's nla_next() allows it).
      offset += Math.min(nlaAlign(length), remaining);
      index++;
    }
  }
}

/** One attribute: its type, flags and payload, with getters that check the payload's size. */
export class Attribute {
  /** The type without NLA_F_NESTED and NLA_F_NET_BYTEORDER. */
  readonly type: number;
  /** NLA_F_NESTED was set. */
  readonly nestedFlag: boolean;
  /** NLA_F_NET_BYTEORDER was set. */
  readonly netByteOrder: boolean;
  /** The payload, without header or padding (a view into the decoded bytes). */
  readonly payload: Uint8Array;
  readonly #parent: { readonly where: string };

  constructor(rawType: number, payload: Uint8Array, parent: { readonly where: string }) {
    this.type = rawType & NLA_TYPE_MASK;
    this.nestedFlag = (rawType & NLA_F_NESTED) !== 0;
    this.netByteOrder = (rawType & NLA_F_NET_BYTEORDER) !== 0;
    this.payload = payload;
    this.#parent = parent;
  }

  /** Where the attribute is, for error messages ("WG_CMD_GET_DEVICE > 8 (WGDEVICE_A_PEERS) > 0"). */
  get where(): string {
    return `${this.#parent.where} > ${this.type}`;
  }

  u8(): number {
    this.expectLength(1, 'u8');
    return this.payload[0] as number;
  }

  u16(): number {
    this.expectLength(2, 'u16');
    return readU16(this.payload, 0, !this.netByteOrder && hostLittleEndian);
  }

  u32(): number {
    this.expectLength(4, 'u32');
    return viewOf(this.payload).getUint32(0, !this.netByteOrder && hostLittleEndian);
  }

  u64(): bigint {
    this.expectLength(8, 'u64');
    return viewOf(this.payload).getBigUint64(0, !this.netByteOrder && hostLittleEndian);
  }

  s64(): bigint {
    this.expectLength(8, 's64');
    return viewOf(this.payload).getBigInt64(0, !this.netByteOrder && hostLittleEndian);
  }

  /** A NUL-terminated UTF-8 string; the NUL is required and not returned. */
  string(): string {
    const end = this.payload.indexOf(0);
    if (end === -1) throw new NetlinkDecodeError(this.where, 'string attribute without its NUL');
    try {
      return textDecoder.decode(this.payload.subarray(0, end));
    } catch (cause) {
      throw new NetlinkDecodeError(this.where, `string attribute is not UTF-8 (${String(cause)})`);
    }
  }

  /** A copy of the payload, checked to be exactly `length` bytes when given. */
  bytes(length?: number): Uint8Array {
    if (length !== undefined) this.expectLength(length, `${length}-byte value`);
    return Uint8Array.from(this.payload);
  }

  /** A zero-length attribute (NLA_FLAG). */
  flag(): true {
    this.expectLength(0, 'flag');
    return true;
  }

  /** The payload as attributes. `name` labels errors inside it. */
  nested(name?: string): AttributeDecoder {
    return new AttributeDecoder(this.payload, () =>
      name === undefined ? this.where : `${this.where} (${name})`,
    );
  }

  private expectLength(length: number, kind: string): void {
    if (this.payload.length !== length) {
      throw new NetlinkDecodeError(
        this.where,
        `a ${kind} needs ${length} byte(s), the attribute has ${this.payload.length}`,
      );
    }
  }
}

function readU16(bytes: Uint8Array, at: number, littleEndian: boolean): number {
  const a = bytes[at] as number;
  const b = bytes[at + 1] as number;
  return littleEndian ? a | (b << 8) : (a << 8) | b;
}
