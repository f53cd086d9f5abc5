/**
 * An IPv4 or IPv6 address as bytes, with the exact text forms of the C
 * library: `parse` accepts what glibc's inet_pton(3) accepts and nothing else,
 * and `toString` prints what inet_ntop(3) prints (RFC 5952 for IPv6, with the
 * dotted tail for IPv4-mapped and IPv4-compatible addresses). The reference
 * wg-dynamic daemons use those two functions, so byte-exact interoperability
 * starts here.
 */

export type IpFamily = 4 | 6;

/** Address length in bytes per family. */
export const addressLength = { 4: 4, 6: 16 } as const satisfies Record<IpFamily, number>;

/** Address length in bits per family. */
export const addressBits = { 4: 32, 6: 128 } as const satisfies Record<IpFamily, number>;

export class IpAddress {
  readonly family: IpFamily;
  readonly bytes: Uint8Array;

  private constructor(family: IpFamily, bytes: Uint8Array) {
    this.family = family;
    this.bytes = bytes;
  }

  /** Copies 4 (IPv4) or 16 (IPv6) bytes into an address. */
  static fromBytes(bytes: Uint8Array): IpAddress {
    if (bytes.length === 4) return new IpAddress(4, Uint8Array.from(bytes));
    if (bytes.length === 16) return new IpAddress(6, Uint8Array.from(bytes));
    throw new RangeError(`an IP address has 4 or 16 bytes, not ${bytes.length}`);
  }

  /**
   * The address of `family` whose integer is `value` (0 <= value < 2^32 or
   * 2^128). A 32- or 64-bit word at a time, never a byte at a time in bigint
   * arithmetic: the server's allocator converts on every allocation.
   */
  static fromBigInt(family: IpFamily, value: bigint): IpAddress {
    const bytes = new Uint8Array(addressLength[family]);
    const view = new DataView(bytes.buffer);
    if (family === 4) {
      if (value < 0n || value > 0xffff_ffffn) {
        throw new RangeError(`${value} does not fit an IPv4 address`);
      }
      view.setUint32(0, Number(value));
    } else {
      if (value < 0n || value >> 128n !== 0n) {
        throw new RangeError(`${value} does not fit an IPv6 address`);
      }
      view.setBigUint64(0, value >> 64n);
      view.setBigUint64(8, BigInt.asUintN(64, value));
    }
    return new IpAddress(family, bytes);
  }

  /** The all-zero address of a family (`0.0.0.0` or `::`). */
  static unspecified(family: IpFamily): IpAddress {
    return new IpAddress(family, new Uint8Array(addressLength[family]));
  }

  /** Parses like inet_pton(AF_INET or AF_INET6); undefined when it would return 0. */
  static parse(text: string): IpAddress | undefined {
    const v4 = parseIPv4(text);
    if (v4) return new IpAddress(4, v4);
    const v6 = parseIPv6(text);
    if (v6) return new IpAddress(6, v6);
    return undefined;
  }

  /** Parses one family only, like inet_pton with that family. */
  static parseFamily(family: IpFamily, text: string): IpAddress | undefined {
    const bytes = family === 4 ? parseIPv4(text) : parseIPv6(text);
    return bytes ? new IpAddress(family, bytes) : undefined;
  }

  /** The address as an unsigned integer, 32 bits at a time (a number holds 53 bits exactly). */
  toBigInt(): bigint {
    const b = this.bytes;
    const word = (i: number) =>
      (((b[i] ?? 0) << 24) | ((b[i + 1] ?? 0) << 16) | ((b[i + 2] ?? 0) << 8) | (b[i + 3] ?? 0)) >>>
      0;
    if (this.family === 4) return BigInt(word(0));
    const high = (BigInt(word(0)) << 32n) | BigInt(word(4));
    const low = (BigInt(word(8)) << 32n) | BigInt(word(12));
    return (high << 64n) | low;
  }

  equals(other: IpAddress): boolean {
    if (this.family !== other.family) return false;
    for (let i = 0; i < this.bytes.length; i++) if (this.bytes[i] !== other.bytes[i]) return false;
    return true;
  }

  /** Orders IPv4 before IPv6, then numerically. */
  compare(other: IpAddress): number {
    if (this.family !== other.family) return this.family - other.family;
    for (let i = 0; i < this.bytes.length; i++) {
      const d = (this.bytes[i] ?? 0) - (other.bytes[i] ?? 0);
      if (d !== 0) return d;
    }
    return 0;
  }

  isUnspecified(): boolean {
    for (const byte of this.bytes) if (byte !== 0) return false;
    return true;
  }

  isLoopback(): boolean {
    if (this.family === 4) return this.bytes[0] === 127;
    return this.bytes.subarray(0, 15).every((b) => b === 0) && this.bytes[15] === 1;
  }

  /** 169.254.0.0/16 or fe80::/10. */
  isLinkLocal(): boolean {
    if (this.family === 4) return this.bytes[0] === 169 && this.bytes[1] === 254;
    return this.bytes[0] === 0xfe && ((this.bytes[1] ?? 0) & 0xc0) === 0x80;
  }

  /** 224.0.0.0/4 or ff00::/8. */
  isMulticast(): boolean {
    if (this.family === 4) return ((this.bytes[0] ?? 0) & 0xf0) === 0xe0;
    return this.bytes[0] === 0xff;
  }

  /** 255.255.255.255 (IPv6 has no broadcast). */
  isBroadcast(): boolean {
    return this.family === 4 && this.bytes.every((b) => b === 0xff);
  }

  toString(): string {
    return this.family === 4 ? formatIPv4(this.bytes) : formatIPv6(this.bytes);
  }
}

function formatIPv4(bytes: Uint8Array): string {
  return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
}

/** glibc inet_ntop6: longest run (first on a tie) of two or more zero words becomes "::". */
function formatIPv6(bytes: Uint8Array): string {
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push(((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0));
  let bestBase = -1;
  let bestLength = 0;
  let runBase = -1;
  for (let i = 0; i <= 8; i++) {
    if (i < 8 && words[i] === 0) {
      if (runBase === -1) runBase = i;
      continue;
    }
    if (runBase !== -1) {
      const runLength = i - runBase;
      if (runLength > bestLength) {
        bestBase = runBase;
        bestLength = runLength;
      }
      runBase = -1;
    }
  }
  if (bestLength < 2) bestBase = -1;

  let text = '';
  for (let i = 0; i < 8; i++) {
    if (bestBase !== -1 && i >= bestBase && i < bestBase + bestLength) {
      if (i === bestBase) text += ':';
      continue;
    }
    if (i !== 0) text += ':';
    // An encapsulated IPv4 address: ::a.b.c.d (compatible) or ::ffff:a.b.c.d (mapped).
    if (
      i === 6 &&
      bestBase === 0 &&
      (bestLength === 6 || (bestLength === 5 && words[5] === 0xffff))
    ) {
      text += formatIPv4(bytes.subarray(12));
      return text;
    }
    text += (words[i] ?? 0).toString(16);
  }
  if (bestBase !== -1 && bestBase + bestLength === 8) text += ':';
  return text;
}

/** glibc inet_pton4: exactly four decimal octets, no leading zeros, each at most 255. */
function parseIPv4(text: string): Uint8Array | undefined {
  const bytes = new Uint8Array(4);
  let octets = 0;
  let value = 0;
  let sawDigit = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x30 && c <= 0x39) {
      if (sawDigit && value === 0) return undefined; // leading zero
      value = value * 10 + (c - 0x30);
      if (value > 255) return undefined;
      if (!sawDigit) {
        if (++octets > 4) return undefined;
        sawDigit = true;
      }
    } else if (c === 0x2e && sawDigit) {
      if (octets === 4) return undefined;
      bytes[octets - 1] = value;
      value = 0;
      sawDigit = false;
    } else {
      return undefined;
    }
  }
  if (octets < 4 || !sawDigit) return undefined;
  bytes[3] = value;
  return bytes;
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return -1;
}

/**
 * glibc inet_pton6: hex words of one to four digits, at most one "::", an
 * optional dotted IPv4 tail in place of the last two words, no zone.
 */
function parseIPv6(text: string): Uint8Array | undefined {
  const bytes = new Uint8Array(16);
  let position = 0; // next byte to write
  let gap = -1; // byte index where "::" stands
  let i = 0;
  const n = text.length;
  if (n === 0) return undefined;
  if (text.charCodeAt(0) === 0x3a) {
    if (n < 2 || text.charCodeAt(1) !== 0x3a) return undefined;
    i = 1; // the first ':' of a leading "::"
  }
  let wordStart = i;
  let digits = 0;
  let value = 0;
  for (; i < n; i++) {
    const c = text.charCodeAt(i);
    const h = hexValue(c);
    if (h >= 0) {
      if (++digits > 4) return undefined;
      value = (value << 4) | h;
      continue;
    }
    if (c === 0x3a) {
      wordStart = i + 1;
      if (digits === 0) {
        if (gap !== -1) return undefined;
        gap = position;
        continue;
      }
      if (i + 1 >= n) return undefined; // trailing single ':'
      if (position + 2 > 16) return undefined;
      bytes[position++] = value >> 8;
      bytes[position++] = value & 0xff;
      digits = 0;
      value = 0;
      continue;
    }
    if (c === 0x2e && position + 4 <= 16) {
      const tail = parseIPv4(text.slice(wordStart));
      if (!tail) return undefined;
      bytes.set(tail, position);
      position += 4;
      digits = 0;
      break;
    }
    return undefined;
  }
  if (digits > 0) {
    if (position + 2 > 16) return undefined;
    bytes[position++] = value >> 8;
    bytes[position++] = value & 0xff;
  }
  if (gap !== -1) {
    if (position === 16) return undefined; // "::" must stand for at least one word
    const moved = position - gap;
    bytes.copyWithin(16 - moved, gap, position);
    bytes.fill(0, gap, 16 - moved);
    position = 16;
  }
  if (position !== 16) return undefined;
  return bytes;
}
