import { AttrStream, ifla, putU8, rt } from 'netlink';
import {
  attributesByType,
  MalformedMessageError,
  stringAttribute,
  u8Attribute,
  u32Attribute,
} from './attributes.js';
import {
  AF_INET6,
  AF_UNSPEC,
  IFLA_AF_SPEC,
  IFLA_IFNAME,
  IFLA_INET6_ADDR_GEN_MODE,
  IFLA_INFO_KIND,
  IFLA_LINKINFO,
  IFLA_MTU,
  IFNAMSIZ,
  IN6_ADDR_GEN_MODE_EUI64,
  IN6_ADDR_GEN_MODE_NONE,
  IN6_ADDR_GEN_MODE_RANDOM,
  IN6_ADDR_GEN_MODE_STABLE_PRIVACY,
} from './constants.js';

/**
 * How the kernel makes the IPv6 link-local address of an interface when it
 * comes up (`ip link set … addrgenmode`); `none` makes none, which a
 * WireGuard interface needs (its peers would drop packets from an address
 * outside their allowed-ips).
 */
export type AddrGenMode = 'eui64' | 'none' | 'stable-privacy' | 'random';

const addrGenModes: Record<AddrGenMode, number> = {
  eui64: IN6_ADDR_GEN_MODE_EUI64,
  none: IN6_ADDR_GEN_MODE_NONE,
  'stable-privacy': IN6_ADDR_GEN_MODE_STABLE_PRIVACY,
  random: IN6_ADDR_GEN_MODE_RANDOM,
};

/** A network interface, as RTM_NEWLINK describes it. */
export interface Link {
  readonly index: number;
  readonly name: string;
  /**
   * The driver kind (IFLA_INFO_KIND): `wireguard` for the kernel module, `tun`
   * for wireguard-go, `veth`…; undefined for devices without one (loopback,
   * physical NICs).
   */
  readonly kind: string | undefined;
  readonly mtu: number;
  /** Administratively up (IFF_UP). */
  readonly up: boolean;
  /** Operationally up (IFF_RUNNING). */
  readonly running: boolean;
  /** The driver signals its lower layer up (IFF_LOWER_UP, "carrier"). */
  readonly lowerUp: boolean;
  readonly pointToPoint: boolean;
  readonly loopback: boolean;
  /**
   * Undefined when the interface has no IPv6 (disabled, or not loaded); a
   * number for a mode newer than this code.
   */
  readonly addrGenMode: AddrGenMode | number | undefined;
}

/** Changes to a link; an absent field stays as it is. */
export interface LinkChanges {
  readonly up?: boolean;
  readonly mtu?: number;
  readonly addrGenMode?: AddrGenMode;
}

/** Decodes the body of an RTM_NEWLINK or RTM_DELLINK message. */
export function decodeLink(body: Buffer): Link & { readonly family: number } {
  if (body.length < rt.__LENGTH_Link) {
    throw new MalformedMessageError(
      `a link message has ${body.length} bytes, fewer than its header`,
    );
  }
  const {
    family = AF_UNSPEC,
    index = 0,
    flags = {},
  } = rt.parseLink(body.subarray(0, rt.__LENGTH_Link));
  const attributes = attributesByType(body.subarray(rt.__LENGTH_Link));

  const nameAttribute = attributes.get(IFLA_IFNAME);
  const mtuAttribute = attributes.get(IFLA_MTU);
  if (nameAttribute === undefined) {
    throw new MalformedMessageError(`the link message for interface ${index} has no IFLA_IFNAME`);
  }
  const name = stringAttribute(nameAttribute, IFNAMSIZ, 'IFLA_IFNAME');
  if (mtuAttribute === undefined) {
    throw new MalformedMessageError(`the link message for ${name} has no IFLA_MTU`);
  }
  const linkInfo = attributes.get(IFLA_LINKINFO);
  const kindAttribute =
    linkInfo === undefined ? undefined : attributesByType(linkInfo).get(IFLA_INFO_KIND);
  const inet6 = attributes.get(IFLA_AF_SPEC);
  const inet6Attributes = inet6 === undefined ? undefined : attributesByType(inet6).get(AF_INET6);
  const modeAttribute =
    inet6Attributes === undefined
      ? undefined
      : attributesByType(inet6Attributes).get(IFLA_INET6_ADDR_GEN_MODE);

  return {
    family,
    index,
    name,
    kind:
      kindAttribute === undefined
        ? undefined
        : stringAttribute(kindAttribute, 64, 'IFLA_INFO_KIND'),
    mtu: u32Attribute(mtuAttribute, 'IFLA_MTU'),
    up: flags.up === true,
    running: flags.running === true,
    lowerUp: flags.lowerUp === true,
    pointToPoint: flags.pointopoint === true,
    loopback: flags.loopback === true,
    addrGenMode:
      modeAttribute === undefined
        ? undefined
        : addrGenModeName(u8Attribute(modeAttribute, 'IFLA_INET6_ADDR_GEN_MODE')),
  };
}

function addrGenModeName(value: number): AddrGenMode | number {
  for (const [name, number] of Object.entries(addrGenModes)) {
    if (number === value) return name as AddrGenMode;
  }
  return value;
}

/** The body of an RTM_GETLINK request for one link, by index or by name. */
export function encodeGetLink(link: number | string): Uint8Array[] {
  const out = new AttrStream();
  if (typeof link === 'number') {
    out.emit(rt.formatLink({ family: AF_UNSPEC, index: link }));
  } else {
    out.emit(rt.formatLink({ family: AF_UNSPEC }));
    out.emit(ifla.formatLinkAttrs({ ifname: link }));
  }
  return out.bufs;
}

/** The body of an RTM_GETLINK dump request. */
export function encodeLinkDump(): Uint8Array[] {
  return [rt.formatLink({ family: AF_UNSPEC })];
}

/**
 * The bodies of the RTM_NEWLINK requests that apply `changes`: attributes
 * first, then the up/down flag, so that `addrGenMode: 'none'` is in force
 * before the link comes up.
 */
export function encodeSetLink(index: number, changes: LinkChanges): Uint8Array[][] {
  const requests: Uint8Array[][] = [];
  if (changes.mtu !== undefined || changes.addrGenMode !== undefined) {
    const attributes: ifla.LinkAttrs = {};
    if (changes.mtu !== undefined) attributes.mtu = changes.mtu;
    if (changes.addrGenMode !== undefined) {
      const inet6 = new AttrStream();
      inet6.push(IFLA_INET6_ADDR_GEN_MODE, putU8(addrGenModes[changes.addrGenMode]));
      attributes.afSpec = new Map([[AF_INET6, Buffer.concat(inet6.bufs)]]);
    }
    const out = new AttrStream();
    out.emit(rt.formatLink({ family: AF_UNSPEC, index }));
    out.emit(ifla.formatLinkAttrs(attributes));
    requests.push(out.bufs);
  }
  if (changes.up !== undefined) {
    requests.push([
      rt.formatLink({
        family: AF_UNSPEC,
        index,
        flags: changes.up ? { up: true } : {},
        change: { up: true },
      }),
    ]);
  }
  return requests;
}
