import { addressBits, IpAddress, IpPrefix } from '@wg-dynamic/ip';
import { MAX_NUMBER } from './constants.js';
import { invalid } from './errors.js';

/** An unsigned decimal number up to 2^32-1: digits only, no sign, no space. */
export function parseNumber(key: string, value: string): number {
  if (value.length === 0) throw invalid(`${key}= has no number`);
  let n = 0;
  for (let i = 0; i < value.length; i++) {
    const digit = value.charCodeAt(i) - 0x30;
    if (digit < 0 || digit > 9) throw invalid(`${key}= is not an unsigned decimal number`);
    n = n * 10 + digit;
    if (n > MAX_NUMBER) throw invalid(`${key}= is larger than ${MAX_NUMBER}`);
  }
  return n;
}

/**
 * The value of an `ip=` line: an IPv4 or IPv6 address, bare or with its host
 * prefix length (/32 or /128). Any other length is an error.
 */
export function parseHostAddress(value: string): IpAddress {
  const slash = value.indexOf('/');
  const address = IpAddress.parse(slash === -1 ? value : value.slice(0, slash));
  if (!address) throw invalid('ip= is not an IPv4 or IPv6 address');
  if (slash !== -1) {
    const length = parseNumber('ip= prefix length', value.slice(slash + 1));
    if (length !== addressBits[address.family]) {
      throw invalid(
        `ip= has prefix length /${length}; only /${addressBits[address.family]} is allowed`,
      );
    }
  }
  return address;
}

/** A prefix in canonical network form (no host bits set), as routes and delegations are. */
export function parseNetworkPrefix(key: string, value: string): IpPrefix {
  const slash = value.indexOf('/');
  if (slash === -1) throw invalid(`${key}= needs a prefix length (address/length)`);
  const address = IpAddress.parse(value.slice(0, slash));
  if (!address) throw invalid(`${key}= is not an IPv4 or IPv6 prefix`);
  const length = parseNumber(`${key}= prefix length`, value.slice(slash + 1));
  if (length > addressBits[address.family]) {
    throw invalid(
      `${key}= has prefix length /${length}, longer than an IPv${address.family} address`,
    );
  }
  const prefix = new IpPrefix(address, length);
  if (!prefix.isNetwork()) throw invalid(`${key}= ${value} has host bits set`);
  return prefix;
}

/** A delegated prefix, or a request for one: a network prefix no shorter than /1. */
export function parseDelegatedPrefix(value: string): IpPrefix {
  const prefix = parseNetworkPrefix('prefix', value);
  if (prefix.length === 0) throw invalid('prefix= has length /0');
  return prefix;
}

/** Extension names a message may list; more are ignored (no peer needs that many). */
export const MAX_EXTENSION_NAMES = 32;

/** An extension name: lower-case letters, digits and dashes, starting with a letter or digit. */
export const EXTENSION_NAME = /^[a-z0-9][a-z0-9-]{0,31}$/;

/**
 * Adds the names of a comma-separated list to those already seen, dropping
 * duplicates and items that are not extension names (a later version may
 * give them a meaning), and ignoring any beyond MAX_EXTENSION_NAMES.
 */
export function addNames(seen: readonly string[], value: string): string[] {
  const names = new Set(seen);
  for (const item of value.split(',', 4 * MAX_EXTENSION_NAMES)) {
    if (names.size >= MAX_EXTENSION_NAMES) break;
    if (EXTENSION_NAME.test(item)) names.add(item);
  }
  return [...names];
}
