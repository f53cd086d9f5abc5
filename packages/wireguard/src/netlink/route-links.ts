import { AttributeDecoder } from './attribute-decoder.js';
import { AttributeEncoder } from './attribute-encoder.js';
import { hostLittleEndian, viewOf } from './byte-order.js';
import type { NetlinkConnection } from './connection.js';
import { NetlinkDecodeError, NetlinkRequestError } from './errors.js';
import type { NetlinkMessage } from './message.js';

// <linux/rtnetlink.h>
export const RTM_NEWLINK = 16;
export const RTM_GETLINK = 18;
// <linux/if_link.h>
export const IFLA_IFNAME = 3;
export const IFLA_LINKINFO = 18;
export const IFLA_INFO_KIND = 1;
/** sizeof(struct ifinfomsg), <linux/rtnetlink.h>. */
export const IFINFOMSG_LENGTH = 16;

const ENODEV = 19;

/** A network interface as rtnetlink lists it: what the WireGuard layer needs of it. */
export interface LinkSummary {
  readonly index: number;
  readonly name: string;
  /** IFLA_INFO_KIND (`wireguard`, `veth`, `tun`, …); undefined for links without one. */
  readonly kind: string | undefined;
}

/**
 * The two link queries the WireGuard layer needs, over rtnetlink in the
 * caller's network namespace: the index of a named interface, and the
 * interfaces of kind "wireguard" (what `wg show` lists for the kernel).
 */
export class RouteLinks {
  readonly #connection: NetlinkConnection;

  constructor(connection: NetlinkConnection) {
    this.#connection = connection;
  }

  /** The ifindex of `name` in this network namespace, undefined when there is no such link. */
  async index(name: string): Promise<number | undefined> {
    const attributes = new AttributeEncoder().string(IFLA_IFNAME, name);
    const payload = new Uint8Array(IFINFOMSG_LENGTH + attributes.length);
    attributes.encodeInto(payload, IFINFOMSG_LENGTH);
    try {
      const replies = await this.#connection.request(RTM_GETLINK, payload, `look up link ${name}`);
      const link = replies.find((reply) => reply.type === RTM_NEWLINK);
      if (!link) {
        throw new NetlinkRequestError('NETLINK_MALFORMED_REPLY', `look up link ${name}`, {
          message: 'the kernel acknowledged without RTM_NEWLINK',
        });
      }
      return parseLink(link).index;
    } catch (error) {
      if (error instanceof NetlinkRequestError && error.errno === ENODEV) return undefined;
      throw error;
    }
  }

  /** Every link of this network namespace. */
  async list(): Promise<LinkSummary[]> {
    const links: LinkSummary[] = [];
    await this.#connection.dump(
      RTM_GETLINK,
      new Uint8Array(IFINFOMSG_LENGTH),
      'list links',
      (m) => {
        if (m.type === RTM_NEWLINK) links.push(parseLink(m));
      },
    );
    return links;
  }
}

/** Reads struct ifinfomsg's index, IFLA_IFNAME and IFLA_LINKINFO > IFLA_INFO_KIND of an RTM_NEWLINK. */
export function parseLink(message: NetlinkMessage): LinkSummary {
  if (message.payload.length < IFINFOMSG_LENGTH) {
    throw new NetlinkDecodeError(
      'RTM_NEWLINK',
      `${message.payload.length} bytes, struct ifinfomsg needs 16`,
    );
  }
  const index = viewOf(message.payload).getInt32(4, hostLittleEndian);
  let name: string | undefined;
  let kind: string | undefined;
  for (const attribute of new AttributeDecoder(
    message.payload.subarray(IFINFOMSG_LENGTH),
    'RTM_NEWLINK',
  )) {
    if (attribute.type === IFLA_IFNAME) name = attribute.string();
    else if (attribute.type === IFLA_LINKINFO) {
      for (const info of attribute.nested('IFLA_LINKINFO')) {
        if (info.type === IFLA_INFO_KIND) kind = info.string();
      }
    }
  }
  if (name === undefined)
    throw new NetlinkDecodeError('RTM_NEWLINK', `link ${index} has no IFLA_IFNAME`);
  return { index, name, kind };
}
