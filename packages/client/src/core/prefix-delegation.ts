import { addressBits, IpAddress, type IpFamily, IpPrefix } from '@wg-dynamic/ip';
import type { PerFamily, PrefixRequest } from '@wg-dynamic/protocol';
import { unsafePrefixReason } from './address-safety.js';

/**
 * A prefix this client is told to ask for (`--request-prefix`): a new one of
 * a length (`::/64`, `0.0.0.0/28`), or a particular one (`2001:db8:100:5::/64`).
 */
export type WantedPrefix = Exclude<PrefixRequest, { readonly kind: 'release' }>;

/** The prefixes to ask for, per family; an absent family is not asked for. */
export type WantedPrefixes = Partial<PerFamily<WantedPrefix>>;

/** Per family, the prefix delegated (or remembered); an absent family has none. */
export type Prefixes = Partial<PerFamily<IpPrefix>>;

/**
 * Reads a `--request-prefix` value: the unspecified address of a family with
 * a length asks for a new prefix of that length; any other network prefix
 * asks for that prefix. Throws a TypeError that says what is wrong.
 */
export function parseWantedPrefix(text: string): {
  readonly family: IpFamily;
  readonly wanted: WantedPrefix;
} {
  const prefix = IpPrefix.parse(text);
  if (prefix === undefined || !text.includes('/')) {
    throw new TypeError(
      `"${text}" is not a prefix: write ::/64 for any IPv6 /64, 0.0.0.0/28 for any IPv4 /28, or a prefix such as 2001:db8:100:5::/64`,
    );
  }
  const family = prefix.family;
  if (prefix.address.isUnspecified()) {
    if (prefix.length === 0) {
      throw new TypeError(`"${text}" asks for a /0; give the length wanted, such as ::/64`);
    }
    return { family, wanted: { kind: 'new', length: prefix.length } };
  }
  if (!prefix.isNetwork()) {
    throw new TypeError(
      `"${text}" has host bits set: the IPv${family} prefix is ${prefix.network().toString()}`,
    );
  }
  const unsafe = unsafePrefixReason(prefix);
  if (unsafe !== undefined) throw new TypeError(`"${text}" cannot be delegated: ${unsafe}`);
  return { family, wanted: { kind: 'specific', prefix } };
}

/** The length a wanted prefix asks for. */
export function wantedLength(wanted: WantedPrefix): number {
  return wanted.kind === 'new' ? wanted.length : wanted.prefix.length;
}

/** `::/64` or `2001:db8:100:5::/64`, as the operator wrote it. */
export function describeWanted(family: IpFamily, wanted: WantedPrefix): string {
  return wanted.kind === 'new'
    ? `${IpAddress.unspecified(family).toString()}/${wanted.length}`
    : wanted.prefix.toString();
}

/**
 * Why `granted` does not answer `wanted`; undefined when it does. A longer
 * prefix than asked is a part of what was asked and will do; a shorter one
 * would route more than this client asked to be responsible for; a
 * particular prefix asked for must be the one granted.
 */
export function mismatchReason(wanted: WantedPrefix, granted: IpPrefix): string | undefined {
  if (wanted.kind === 'specific') {
    return wanted.prefix.equals(granted) ? undefined : `${wanted.prefix.toString()} was asked for`;
  }
  return granted.length < wanted.length
    ? `it is shorter than the /${wanted.length} asked for`
    : undefined;
}

/**
 * The address this client puts on the downstream interface for a delegated
 * prefix, with the prefix's length: for IPv6 the prefix's ::1 (P::1/L; the
 * first address, P::, is the subnet-router anycast address), for IPv4 the
 * first host (the network address plus one). A /31 or /32 (IPv4) and a /128
 * have no network address to skip: their first address.
 */
export function downstreamAddress(prefix: IpPrefix): IpPrefix {
  const network = prefix.network();
  const hostBits = addressBits[network.family] - network.length;
  const family = network.family;
  const skip = family === 4 ? hostBits >= 2 : hostBits >= 1;
  return new IpPrefix(network.at(skip ? 1n : 0n), network.length);
}

/** What a prefix hook is told about one family. */
export type PrefixEvent =
  | { readonly event: 'grant'; readonly family: IpFamily; readonly prefix: IpPrefix }
  | {
      readonly event: 'change';
      readonly family: IpFamily;
      readonly prefix: IpPrefix;
      readonly oldPrefix: IpPrefix;
    }
  | { readonly event: 'loss'; readonly family: IpFamily; readonly oldPrefix: IpPrefix };

/**
 * The events that bring a hook from what it was last told (`announced`) to
 * what the client holds now (`current`), IPv4 first.
 */
export function prefixEvents(announced: Prefixes, current: Prefixes): PrefixEvent[] {
  const events: PrefixEvent[] = [];
  for (const family of [4, 6] as const) {
    const before = announced[family];
    const now = current[family];
    if (before === undefined && now !== undefined) {
      events.push({ event: 'grant', family, prefix: now });
    } else if (before !== undefined && now === undefined) {
      events.push({ event: 'loss', family, oldPrefix: before });
    } else if (before !== undefined && now !== undefined && !before.equals(now)) {
      events.push({ event: 'change', family, prefix: now, oldPrefix: before });
    }
  }
  return events;
}

export function samePrefixes(a: Prefixes, b: Prefixes): boolean {
  const same = (x: IpPrefix | undefined, y: IpPrefix | undefined) =>
    x === undefined ? y === undefined : y !== undefined && x.equals(y);
  return same(a[4], b[4]) && same(a[6], b[6]);
}

/** `10.200.0.16/28, 2001:db8:100:5::/64` for logs. */
export function describePrefixes(prefixes: Prefixes): string[] {
  const out: string[] = [];
  if (prefixes[4]) out.push(prefixes[4].toString());
  if (prefixes[6]) out.push(prefixes[6].toString());
  return out;
}

/** Every variable a prefix hook may find; the client removes any others of this name from its environment. */
export const HOOK_VARIABLES = [
  'WG_DYNAMIC_EVENT',
  'WG_DYNAMIC_INTERFACE',
  'WG_DYNAMIC_FAMILY',
  'WG_DYNAMIC_PREFIX',
  'WG_DYNAMIC_OLD_PREFIX',
  'WG_DYNAMIC_PREFIX_INTERFACE',
  'WG_DYNAMIC_PREFIX_ADDRESS',
] as const;

/**
 * The variables `--prefix-hook` runs with for one event:
 * - WG_DYNAMIC_EVENT: `grant`, `change` or `loss`;
 * - WG_DYNAMIC_INTERFACE: the WireGuard interface;
 * - WG_DYNAMIC_FAMILY: `4` or `6`;
 * - WG_DYNAMIC_PREFIX: the prefix held now (grant, change);
 * - WG_DYNAMIC_OLD_PREFIX: the prefix held before (change, loss);
 * - WG_DYNAMIC_PREFIX_INTERFACE and WG_DYNAMIC_PREFIX_ADDRESS: with
 *   `--prefix-interface`, that interface, and the address the client puts
 *   there for the prefix held now (grant, change).
 */
export function hookEnvironment(
  event: PrefixEvent,
  context: { readonly interfaceName: string; readonly prefixInterface?: string | undefined },
): Record<(typeof HOOK_VARIABLES)[number], string | undefined> {
  const now = event.event === 'loss' ? undefined : event.prefix;
  return {
    WG_DYNAMIC_EVENT: event.event,
    WG_DYNAMIC_INTERFACE: context.interfaceName,
    WG_DYNAMIC_FAMILY: String(event.family),
    WG_DYNAMIC_PREFIX: now?.toString(),
    WG_DYNAMIC_OLD_PREFIX: event.event === 'grant' ? undefined : event.oldPrefix.toString(),
    WG_DYNAMIC_PREFIX_INTERFACE: context.prefixInterface,
    WG_DYNAMIC_PREFIX_ADDRESS:
      context.prefixInterface === undefined || now === undefined
        ? undefined
        : downstreamAddress(now).toString(),
  };
}
