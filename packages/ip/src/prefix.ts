import { addressBits, IpAddress, type IpFamily } from './address.js';

/**
 * An address with a prefix length, as in allowed-ips, routes and pools.
 * `address` keeps whatever host bits it was given (an interface address such
 * as 10.0.0.5/24 is a prefix too); `network()` clears them.
 */
export class IpPrefix {
  readonly address: IpAddress;
  readonly length: number;

  constructor(address: IpAddress, length: number) {
    if (!Number.isInteger(length) || length < 0 || length > addressBits[address.family]) {
      throw new RangeError(`/${length} is not a valid IPv${address.family} prefix length`);
    }
    this.address = address;
    this.length = length;
  }

  get family(): IpFamily {
    return this.address.family;
  }

  /** The single-address prefix (/32 or /128) of an address. */
  static host(address: IpAddress): IpPrefix {
    return new IpPrefix(address, addressBits[address.family]);
  }

  /**
   * Parses `address/length`, or a bare address as its host prefix. The length
   * is plain decimal digits; undefined when anything is malformed.
   */
  static parse(text: string): IpPrefix | undefined {
    const slash = text.indexOf('/');
    const address = IpAddress.parse(slash === -1 ? text : text.slice(0, slash));
    if (!address) return undefined;
    if (slash === -1) return IpPrefix.host(address);
    const length = parseDecimal(text.slice(slash + 1), addressBits[address.family]);
    if (length === undefined) return undefined;
    return new IpPrefix(address, length);
  }

  /** Like `parse`, but throws an error that names the text. */
  static from(text: string): IpPrefix {
    const prefix = IpPrefix.parse(text);
    if (!prefix) throw new TypeError(`"${text}" is not an IP address or prefix (CIDR)`);
    return prefix;
  }

  /** The number of addresses the prefix covers. */
  get size(): bigint {
    return 1n << BigInt(addressBits[this.family] - this.length);
  }

  isHost(): boolean {
    return this.length === addressBits[this.family];
  }

  /** True when no host bits are set (the prefix is its own network). */
  isNetwork(): boolean {
    return (this.address.toBigInt() & this.hostMask()) === 0n;
  }

  /** The prefix with host bits cleared. */
  network(): IpPrefix {
    if (this.isNetwork()) return this;
    return new IpPrefix(this.first(), this.length);
  }

  first(): IpAddress {
    return IpAddress.fromBigInt(this.family, this.address.toBigInt() & ~this.hostMask());
  }

  last(): IpAddress {
    return IpAddress.fromBigInt(this.family, this.address.toBigInt() | this.hostMask());
  }

  /** The address `offset` places after the first one; throws beyond the prefix. */
  at(offset: bigint): IpAddress {
    if (offset < 0n || offset >= this.size) {
      throw new RangeError(`offset ${offset} is outside ${this.toString()}`);
    }
    return IpAddress.fromBigInt(this.family, (this.address.toBigInt() & ~this.hostMask()) + offset);
  }

  contains(address: IpAddress): boolean {
    if (address.family !== this.family) return false;
    const mask = ~this.hostMask();
    return (address.toBigInt() & mask) === (this.address.toBigInt() & mask);
  }

  /** True when `other` lies wholly inside this prefix. */
  covers(other: IpPrefix): boolean {
    return (
      other.family === this.family && other.length >= this.length && this.contains(other.address)
    );
  }

  overlaps(other: IpPrefix): boolean {
    return this.covers(other) || other.covers(this);
  }

  equals(other: IpPrefix): boolean {
    return this.length === other.length && this.address.equals(other.address);
  }

  compare(other: IpPrefix): number {
    return this.address.compare(other.address) || this.length - other.length;
  }

  toString(): string {
    return `${this.address.toString()}/${this.length}`;
  }

  private hostMask(): bigint {
    return (1n << BigInt(addressBits[this.family] - this.length)) - 1n;
  }
}

/** Unsigned decimal digits (no sign, no space) not above `max`. */
function parseDecimal(text: string, max: number): number | undefined {
  if (text.length === 0 || text.length > 10) return undefined;
  let value = 0;
  for (let i = 0; i < text.length; i++) {
    const digit = text.charCodeAt(i) - 0x30;
    if (digit < 0 || digit > 9) return undefined;
    value = value * 10 + digit;
  }
  return value <= max ? value : undefined;
}
