import { type IpAddress, type IpFamily, IpPrefix } from '@wg-dynamic/ip';
import { AttrStream, putEnum, rt } from 'netlink';
import {
  addressFromAttribute,
  attributesByType,
  ipFamily,
  MalformedMessageError,
  prefixFromAttribute,
  socketFamily,
  u32Attribute,
} from './attributes.js';
import {
  AF_UNSPEC,
  RT_TABLE_MAIN,
  RT_TABLE_UNSPEC,
  RTA_DST,
  RTA_GATEWAY,
  RTA_OIF,
  RTA_PREFSRC,
  RTA_PRIORITY,
  RTA_TABLE,
  RTN_ANYCAST,
  RTN_BLACKHOLE,
  RTN_BROADCAST,
  RTN_LOCAL,
  RTN_MULTICAST,
  RTN_PROHIBIT,
  RTN_THROW,
  RTN_UNICAST,
  RTN_UNREACHABLE,
  RTPROT_BOOT,
} from './constants.js';
import { type Scope, scopeName, scopeNumber } from './scope.js';

/** What a route does with a packet (rtm_type). Routes this package adds are `unicast`. */
export type RouteType =
  | 'unicast'
  | 'local'
  | 'broadcast'
  | 'anycast'
  | 'multicast'
  | 'blackhole'
  | 'unreachable'
  | 'prohibit'
  | 'throw';

const routeTypes: Record<RouteType, number> = {
  unicast: RTN_UNICAST,
  local: RTN_LOCAL,
  broadcast: RTN_BROADCAST,
  anycast: RTN_ANYCAST,
  multicast: RTN_MULTICAST,
  blackhole: RTN_BLACKHOLE,
  unreachable: RTN_UNREACHABLE,
  prohibit: RTN_PROHIBIT,
  throw: RTN_THROW,
};

/** A route, as RTM_NEWROUTE describes it. */
export interface Route {
  readonly family: IpFamily;
  /** `0.0.0.0/0` or `::/0` for a default route. */
  readonly destination: IpPrefix;
  /** The output interface (RTA_OIF); undefined for multipath and interface-less routes. */
  readonly index: number | undefined;
  readonly gateway: IpAddress | undefined;
  /** The preferred source address (RTA_PREFSRC). */
  readonly source: IpAddress | undefined;
  /** The routing table: RT_TABLE_MAIN (254) for the main table. */
  readonly table: number;
  /** Who made the route (rtm_protocol): RTPROT_KERNEL, RTPROT_BOOT, a daemon's own mark… */
  readonly protocol: number;
  readonly scope: Scope | number;
  readonly type: RouteType | number;
  /** RTA_PRIORITY, the metric; IPv6 routes always have one. */
  readonly metric: number | undefined;
}

/** A unicast route to add or replace, or the route to delete. */
export interface RouteSpec {
  /** A network (no host bits): 10.0.0.0/24, 2001:db8::/64, 0.0.0.0/0. */
  readonly destination: IpPrefix;
  /** The output interface. */
  readonly index: number;
  readonly gateway?: IpAddress;
  readonly source?: IpAddress;
  /** Default RT_TABLE_MAIN. */
  readonly table?: number;
  /**
   * The route's mark (rtm_protocol). Adding defaults to RTPROT_BOOT, as `ip
   * route add` does; deleting without one deletes whatever protocol the
   * route has, with one only a route carrying that mark.
   */
  readonly protocol?: number;
  /**
   * IPv4 only (the kernel ignores it for IPv6). Default: `link` without a
   * gateway (a route straight into the interface, such as a point-to-point
   * WireGuard interface), `universe` with one.
   */
  readonly scope?: Scope;
  /** RTA_PRIORITY; the kernel's default when absent (0 for IPv4, 1024 for IPv6). */
  readonly metric?: number;
}

function routeTypeName(value: number): RouteType | number {
  for (const [name, number] of Object.entries(routeTypes)) {
    if (number === value) return name as RouteType;
  }
  return value;
}

/**
 * Decodes the body of an RTM_NEWROUTE or RTM_DELROUTE message; undefined for
 * a family other than IPv4 and IPv6 (multicast routing tables, MPLS).
 */
export function decodeRoute(body: Buffer): Route | undefined {
  if (body.length < rt.__LENGTH_Route) {
    throw new MalformedMessageError(
      `a route message has ${body.length} bytes, fewer than its header`,
    );
  }
  const header = rt.parseRoute(body.subarray(0, rt.__LENGTH_Route));
  const family = ipFamily(header.family ?? AF_UNSPEC);
  if (family === undefined) return undefined;
  const attributes = attributesByType(body.subarray(rt.__LENGTH_Route));
  const dstLen = header.dstLen ?? 0;
  const dst = attributes.get(RTA_DST);
  let destination: IpPrefix;
  if (dst !== undefined) {
    destination = prefixFromAttribute(family, dst, dstLen, 'the route destination');
  } else if (dstLen === 0) {
    destination = IpPrefix.parse(family === 4 ? '0.0.0.0/0' : '::/0') as IpPrefix;
  } else {
    throw new MalformedMessageError(`a route message has a /${dstLen} destination but no RTA_DST`);
  }
  const oif = attributes.get(RTA_OIF);
  const gateway = attributes.get(RTA_GATEWAY);
  const source = attributes.get(RTA_PREFSRC);
  const table = attributes.get(RTA_TABLE);
  const priority = attributes.get(RTA_PRIORITY);
  return {
    family,
    destination,
    index: oif === undefined ? undefined : u32Attribute(oif, 'RTA_OIF'),
    gateway:
      gateway === undefined ? undefined : addressFromAttribute(family, gateway, 'RTA_GATEWAY'),
    source: source === undefined ? undefined : addressFromAttribute(family, source, 'RTA_PREFSRC'),
    table:
      table === undefined ? (header.table ?? RT_TABLE_UNSPEC) : u32Attribute(table, 'RTA_TABLE'),
    protocol: putEnum(rt.RouteProtocol, header.protocol ?? 0),
    scope: scopeName(putEnum(rt.RouteScope, header.scope ?? 0)),
    type: routeTypeName(putEnum(rt.RouteType, header.type ?? 0)),
    metric: priority === undefined ? undefined : u32Attribute(priority, 'RTA_PRIORITY'),
  };
}

/** The body of an RTM_GETROUTE dump request for one family or both. */
export function encodeRouteDump(family: IpFamily | undefined): Uint8Array[] {
  return [rt.formatRoute({ family: family === undefined ? AF_UNSPEC : socketFamily(family) })];
}

/**
 * The body of an RTM_NEWROUTE request (add, replace) or of an RTM_DELROUTE
 * request (`forDelete`): deleting leaves the scope open (RT_SCOPE_NOWHERE,
 * without which the kernel answers ESRCH for IPv4) and the protocol too,
 * unless the spec names one.
 */
export function encodeRoute(spec: RouteSpec, forDelete: boolean): Uint8Array[] {
  const family = spec.destination.family;
  const table = spec.table ?? RT_TABLE_MAIN;
  let scope: Scope;
  if (forDelete) scope = 'nowhere';
  else if (spec.scope !== undefined) scope = spec.scope;
  else scope = spec.gateway === undefined && family === 4 ? 'link' : 'universe';
  const protocol = spec.protocol ?? (forDelete ? 0 : RTPROT_BOOT);

  const attributes: rt.RouteAttrs = {
    table,
    oif: spec.index,
  };
  if (spec.destination.length > 0) attributes.dst = Buffer.from(spec.destination.address.bytes);
  if (spec.gateway !== undefined) attributes.gateway = Buffer.from(spec.gateway.bytes);
  if (spec.source !== undefined) attributes.prefsrc = Buffer.from(spec.source.bytes);
  if (spec.metric !== undefined) attributes.priority = spec.metric;

  const out = new AttrStream();
  out.emit(
    rt.formatRoute({
      family: socketFamily(family),
      dstLen: spec.destination.length,
      table: table < 256 ? table : RT_TABLE_UNSPEC,
      protocol,
      scope: scopeNumber(scope),
      type: RTN_UNICAST,
    }),
  );
  out.emit(rt.formatRouteAttrs(attributes));
  return out.bufs;
}

/** How a route reads in a message: "10.0.0.0/24 dev #7 table 254 proto 3". */
export function describeRoute(spec: RouteSpec): string {
  let text = `route ${spec.destination.toString()}`;
  if (spec.gateway !== undefined) text += ` via ${spec.gateway.toString()}`;
  text += ` dev #${spec.index}`;
  if (spec.table !== undefined && spec.table !== RT_TABLE_MAIN) text += ` table ${spec.table}`;
  if (spec.protocol !== undefined) text += ` proto ${spec.protocol}`;
  return text;
}
