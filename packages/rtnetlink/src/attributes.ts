import { addressBits, addressLength, IpAddress, type IpFamily, IpPrefix } from '@wg-dynamic/ip';
import { getString, getU8, getU32, parseAttributes } from 'netlink';
import { AF_INET, AF_INET6 } from './constants.js';

/**
 * A kernel message that breaks the rtnetlink format. Raised by the decoders;
 * the socket layer turns it into an RtnetlinkError with code EPROTO.
 */
export class MalformedMessageError extends Error {
  override readonly name = 'MalformedMessageError';
}

/**
 * The attributes of a message body by type; where a type repeats, the last
 * one wins (as with the kernel's nla_parse). The TLV walk is the netlink
 * package's, which checks every length against the buffer.
 */
export function attributesByType(data: Buffer): Map<number, Buffer> {
  const attributes = new Map<number, Buffer>();
  try {
    parseAttributes(data, (attribute) => {
      attributes.set(attribute.type, attribute.data);
    });
  } catch (error) {
    throw new MalformedMessageError(`bad attribute list: ${messageOf(error)}`);
  }
  return attributes;
}

/** The family of an rtnetlink `*_family` byte, or undefined for non-IP families. */
export function ipFamily(family: number): IpFamily | undefined {
  if (family === AF_INET) return 4;
  if (family === AF_INET6) return 6;
  return undefined;
}

/** The socket family number of an IP family. */
export function socketFamily(family: IpFamily): number {
  return family === 4 ? AF_INET : AF_INET6;
}

/** An address attribute (4 or 16 raw bytes) of a known family. */
export function addressFromAttribute(family: IpFamily, bytes: Uint8Array, what: string): IpAddress {
  if (bytes.length !== addressLength[family]) {
    throw new MalformedMessageError(
      `${what} has ${bytes.length} bytes, an IPv${family} address has ${addressLength[family]}`,
    );
  }
  return IpAddress.fromBytes(bytes);
}

/**
 * An address attribute with the prefix length from the message header: an
 * interface address such as 10.0.0.5/24 (host bits kept) or a route destination.
 */
export function prefixFromAttribute(
  family: IpFamily,
  bytes: Uint8Array,
  prefixLength: number,
  what: string,
): IpPrefix {
  const address = addressFromAttribute(family, bytes, what);
  if (prefixLength > addressBits[family]) {
    throw new MalformedMessageError(
      `${what} has prefix length ${prefixLength}, more than an IPv${family} address has bits`,
    );
  }
  return new IpPrefix(address, prefixLength);
}

/** Typed getters that report the attribute by name when its length is wrong. */
export function u8Attribute(data: Buffer, what: string): number {
  return guarded(what, () => getU8(data));
}

export function u32Attribute(data: Buffer, what: string): number {
  return guarded(what, () => getU32(data));
}

/** A NUL-terminated string attribute of at most `maxLength` bytes with its NUL. */
export function stringAttribute(data: Buffer, maxLength: number, what: string): string {
  return guarded(what, () => getString(data, { maxLength }));
}

function guarded<T>(what: string, read: () => T): T {
  try {
    return read();
  } catch (error) {
    throw new MalformedMessageError(`${what}: ${messageOf(error)}`);
  }
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
