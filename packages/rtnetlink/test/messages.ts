// Kernel-like rtnetlink message bodies for unit tests, made with the netlink
// package's encoders independently of the code under test.
import { IpAddress } from '@wg-dynamic/ip';
import { AttrStream, formatMessage, ifla, putU8, rt } from 'netlink';

export const AF_INET = 2;
export const AF_INET6 = 10;
export const AF_BRIDGE = 7;

export function bytes(text: string): Buffer {
  return Buffer.from((IpAddress.parse(text) as IpAddress).bytes);
}

export function concat(parts: Uint8Array[]): Buffer {
  return Buffer.concat(parts);
}

export function addressBody(options: {
  family: number;
  prefixLength: number;
  index: number;
  local?: Buffer;
  address?: Buffer;
  scope?: number;
  headerFlags?: number;
  flags?: number;
  label?: string;
}): Buffer {
  const out = new AttrStream();
  out.emit(
    rt.formatAddress({
      family: options.family,
      prefixlen: options.prefixLength,
      flags: rt.parseAddressFlags(options.headerFlags ?? 0),
      scope: options.scope ?? 0,
      index: options.index,
    }),
  );
  const attributes: rt.AddressAttrs = {};
  if (options.address) attributes.address = options.address;
  if (options.local) attributes.local = options.local;
  if (options.label !== undefined) attributes.label = options.label;
  if (options.flags !== undefined) attributes.flags = rt.parseAddressFlags(options.flags);
  out.emit(rt.formatAddressAttrs(attributes));
  return concat(out.bufs);
}

export function routeBody(options: {
  family: number;
  dstLen: number;
  dst?: Buffer;
  oif?: number;
  gateway?: Buffer;
  table?: number;
  protocol?: number;
  scope?: number;
  type?: number;
  priority?: number;
}): Buffer {
  const out = new AttrStream();
  out.emit(
    rt.formatRoute({
      family: options.family,
      dstLen: options.dstLen,
      table: options.table !== undefined && options.table < 256 ? options.table : 0,
      protocol: options.protocol ?? 0,
      scope: options.scope ?? 0,
      type: options.type ?? 1,
    }),
  );
  const attributes: rt.RouteAttrs = {};
  if (options.dst) attributes.dst = options.dst;
  if (options.oif !== undefined) attributes.oif = options.oif;
  if (options.gateway) attributes.gateway = options.gateway;
  if (options.table !== undefined) attributes.table = options.table;
  if (options.priority !== undefined) attributes.priority = options.priority;
  out.emit(rt.formatRouteAttrs(attributes));
  return concat(out.bufs);
}

export function linkBody(options: {
  family?: number;
  index: number;
  name?: string;
  mtu?: number;
  up?: boolean;
  lowerUp?: boolean;
  kind?: string;
  addrGenMode?: number;
}): Buffer {
  const out = new AttrStream();
  out.emit(
    rt.formatLink({
      family: options.family ?? 0,
      index: options.index,
      flags: {
        ...(options.up ? { up: true, running: true } : {}),
        ...(options.lowerUp ? { lowerUp: true } : {}),
      },
    }),
  );
  const attributes: ifla.LinkAttrs = {};
  if (options.name !== undefined) attributes.ifname = options.name;
  if (options.mtu !== undefined) attributes.mtu = options.mtu;
  if (options.kind !== undefined) {
    const info = new AttrStream();
    info.push(1, Buffer.from(`${options.kind}\0`));
    attributes.linkinfo = concat(info.bufs);
  }
  if (options.addrGenMode !== undefined) {
    const inet6 = new AttrStream();
    inet6.push(8, putU8(options.addrGenMode));
    attributes.afSpec = new Map([[AF_INET6, concat(inet6.bufs)]]);
  }
  out.emit(ifla.formatLinkAttrs(attributes));
  return concat(out.bufs);
}

/** One netlink datagram holding messages of the given types and bodies. */
export function datagram(
  ...messages: { type: number; body: Buffer; seq?: number; flags?: number }[]
): Buffer {
  return Buffer.concat(
    messages.flatMap(({ type, body, seq, flags }) => {
      const parts = formatMessage({ type, flags: flags ?? 0, seq: seq ?? 0, port: 0, data: body });
      const length = parts.reduce((sum, part) => sum + part.length, 0);
      const padding = (4 - (length % 4)) % 4;
      return padding === 0 ? parts : [...parts, Buffer.alloc(padding)];
    }),
  );
}

/** The body of NLMSG_ERROR: a negative errno (0 for an ACK) and the request's header. */
export function errorBody(errno: number, requestHeader: Buffer = Buffer.alloc(16)): Buffer {
  const body = Buffer.alloc(4 + requestHeader.length);
  body.writeInt32LE(-errno, 0);
  requestHeader.copy(body, 4);
  return body;
}
