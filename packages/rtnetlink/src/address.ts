import type { IpFamily, IpPrefix } from '@wg-dynamic/ip';
import { AttrStream, rt } from 'netlink';
import {
  attributesByType,
  ipFamily,
  MalformedMessageError,
  prefixFromAttribute,
  socketFamily,
  stringAttribute,
  u32Attribute,
} from './attributes.js';
import {
  AF_UNSPEC,
  IFA_ADDRESS,
  IFA_F_DADFAILED,
  IFA_F_DEPRECATED,
  IFA_F_HOMEADDRESS,
  IFA_F_MANAGETEMPADDR,
  IFA_F_MCAUTOJOIN,
  IFA_F_NODAD,
  IFA_F_NOPREFIXROUTE,
  IFA_F_OPTIMISTIC,
  IFA_F_PERMANENT,
  IFA_F_SECONDARY,
  IFA_F_STABLE_PRIVACY,
  IFA_F_TENTATIVE,
  IFA_FLAGS,
  IFA_LABEL,
  IFA_LOCAL,
  IFNAMSIZ,
} from './constants.js';
import { type Scope, scopeName, scopeNumber } from './scope.js';

/**
 * Address flags (IFA_F_*, linux/if_addr.h) by the names `ip address` prints.
 * The ones a caller sets: `nodad` (usable at once, no duplicate address
 * detection), `noprefixroute` (no route for the prefix), `managetempaddr`,
 * `mcautojoin`, `homeaddress`; the others are state the kernel reports.
 */
export type AddressFlag =
  | 'secondary'
  | 'nodad'
  | 'optimistic'
  | 'dadfailed'
  | 'homeaddress'
  | 'deprecated'
  | 'tentative'
  | 'permanent'
  | 'managetempaddr'
  | 'noprefixroute'
  | 'mcautojoin'
  | 'stable-privacy';

const addressFlags: ReadonlyArray<readonly [AddressFlag, number]> = [
  ['secondary', IFA_F_SECONDARY],
  ['nodad', IFA_F_NODAD],
  ['optimistic', IFA_F_OPTIMISTIC],
  ['dadfailed', IFA_F_DADFAILED],
  ['homeaddress', IFA_F_HOMEADDRESS],
  ['deprecated', IFA_F_DEPRECATED],
  ['tentative', IFA_F_TENTATIVE],
  ['permanent', IFA_F_PERMANENT],
  ['managetempaddr', IFA_F_MANAGETEMPADDR],
  ['noprefixroute', IFA_F_NOPREFIXROUTE],
  ['mcautojoin', IFA_F_MCAUTOJOIN],
  ['stable-privacy', IFA_F_STABLE_PRIVACY],
];

/** An address of an interface, as RTM_NEWADDR describes it. */
export interface Address {
  /** The interface's index. */
  readonly index: number;
  /**
   * The interface's own address with its prefix length (10.0.0.5/24 keeps its
   * host bits; fe80::/64 is the server's link-local address).
   */
  readonly prefix: IpPrefix;
  /** `link` for fe80::/10; `host` for loopback; `universe` otherwise, unless set. */
  readonly scope: Scope | number;
  /** In bit order (the order of the type). */
  readonly flags: readonly AddressFlag[];
  /** The IPv4 label (`eth0:1`); undefined for IPv6. */
  readonly label: string | undefined;
}

/** An address to add, replace or delete. */
export interface AddressSpec {
  readonly index: number;
  /** The address with its prefix length: 10.0.0.2/32, fd00::2/128, fe80::/64. */
  readonly prefix: IpPrefix;
  /** Flags to set: typically `nodad` for IPv6 and `noprefixroute`. */
  readonly flags?: readonly AddressFlag[];
  /** IPv4 only (the kernel derives an IPv6 address's scope); default `universe`. */
  readonly scope?: Scope;
}

export function addressFlagBits(flags: readonly AddressFlag[]): number {
  let bits = 0;
  for (const [name, bit] of addressFlags) if (flags.includes(name)) bits |= bit;
  return bits;
}

export function addressFlagNames(bits: number): AddressFlag[] {
  return addressFlags.filter(([, bit]) => (bits & bit) !== 0).map(([name]) => name);
}

/**
 * Decodes the body of an RTM_NEWADDR or RTM_DELADDR message; undefined for a
 * family other than IPv4 and IPv6.
 */
export function decodeAddress(body: Buffer): Address | undefined {
  if (body.length < rt.__LENGTH_Address) {
    throw new MalformedMessageError(
      `an address message has ${body.length} bytes, fewer than its header`,
    );
  }
  const header = rt.parseAddress(body.subarray(0, rt.__LENGTH_Address));
  const family = ipFamily(header.family ?? AF_UNSPEC);
  if (family === undefined) return undefined;
  const attributes = attributesByType(body.subarray(rt.__LENGTH_Address));
  // IFA_LOCAL is the interface's own address; IFA_ADDRESS is the same, or
  // the peer's on a point-to-point link. IPv6 often sends IFA_ADDRESS alone.
  const local = attributes.get(IFA_LOCAL) ?? attributes.get(IFA_ADDRESS);
  if (local === undefined) {
    throw new MalformedMessageError(
      `the address message for interface ${header.index} has neither IFA_LOCAL nor IFA_ADDRESS`,
    );
  }
  const flagsAttribute = attributes.get(IFA_FLAGS);
  const bits =
    flagsAttribute === undefined
      ? rt.formatAddressFlags(header.flags ?? {})
      : u32Attribute(flagsAttribute, 'IFA_FLAGS');
  const label = attributes.get(IFA_LABEL);
  return {
    index: header.index ?? 0,
    prefix: prefixFromAttribute(family, local, header.prefixlen ?? 0, 'the interface address'),
    scope: scopeName(header.scope ?? 0),
    flags: addressFlagNames(bits),
    label: label === undefined ? undefined : stringAttribute(label, IFNAMSIZ, 'IFA_LABEL'),
  };
}

/** The body of an RTM_GETADDR dump request for one family or both. */
export function encodeAddressDump(family: IpFamily | undefined): Uint8Array[] {
  return [rt.formatAddress({ family: family === undefined ? AF_UNSPEC : socketFamily(family) })];
}

/** The body of an RTM_NEWADDR request (add or replace). */
export function encodeNewAddress(spec: AddressSpec): Uint8Array[] {
  const bits = addressFlagBits(spec.flags ?? []);
  const bytes = Buffer.from(spec.prefix.address.bytes);
  const out = new AttrStream();
  out.emit(
    rt.formatAddress({
      family: socketFamily(spec.prefix.family),
      prefixlen: spec.prefix.length,
      flags: rt.parseAddressFlags(bits & 0xff),
      scope: scopeNumber(spec.scope ?? 'universe'),
      index: spec.index,
    }),
  );
  out.emit(
    rt.formatAddressAttrs({
      local: bytes,
      address: bytes,
      flags: rt.parseAddressFlags(bits),
    }),
  );
  return out.bufs;
}

/**
 * The body of an RTM_DELADDR request. The kernel finds the address by its
 * local address and prefix length; IFA_ADDRESS is left out, because on a
 * point-to-point address it holds the peer and would not match.
 */
export function encodeDeleteAddress(spec: Pick<AddressSpec, 'index' | 'prefix'>): Uint8Array[] {
  const out = new AttrStream();
  out.emit(
    rt.formatAddress({
      family: socketFamily(spec.prefix.family),
      prefixlen: spec.prefix.length,
      index: spec.index,
    }),
  );
  out.emit(rt.formatAddressAttrs({ local: Buffer.from(spec.prefix.address.bytes) }));
  return out.bufs;
}
