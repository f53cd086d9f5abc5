import type { IpFamily } from '@wg-dynamic/ip';
import { type Logger, silentLogger } from '@wg-dynamic/log';
import type { NetlinkMessage } from 'netlink';
import {
  type Address,
  type AddressSpec,
  decodeAddress,
  encodeAddressDump,
  encodeDeleteAddress,
  encodeNewAddress,
} from './address.js';
import { messageOf } from './attributes.js';
import {
  NLM_F_CREATE,
  NLM_F_EXCL,
  NLM_F_REPLACE,
  RT_TABLE_MAIN,
  RTM_DELADDR,
  RTM_DELROUTE,
  RTM_GETADDR,
  RTM_GETLINK,
  RTM_GETROUTE,
  RTM_NEWADDR,
  RTM_NEWLINK,
  RTM_NEWROUTE,
} from './constants.js';
import { localError, RtnetlinkError, type RtnetlinkOperation, socketError } from './errors.js';
import {
  decodeLink,
  encodeGetLink,
  encodeLinkDump,
  encodeSetLink,
  type Link,
  type LinkChanges,
} from './link.js';
import { type Request, RequestChannel } from './request-channel.js';
import {
  decodeRoute,
  describeRoute,
  encodeRoute,
  encodeRouteDump,
  type Route,
  type RouteSpec,
} from './route.js';
import { type NetlinkTransport, openRouteSocket } from './transport.js';

/** Which addresses to list; an absent field does not filter. */
export interface AddressFilter {
  /** Only the addresses of this interface. */
  readonly index?: number;
  readonly family?: IpFamily;
}

/** Which routes to list; an absent field does not filter, except `table`. */
export interface RouteFilter {
  /** Only the routes whose output interface (RTA_OIF) is this one. */
  readonly index?: number;
  readonly family?: IpFamily;
  /** Default RT_TABLE_MAIN (254); `all` for every table (local, custom…). */
  readonly table?: number | 'all';
  /** Only the routes with this mark (rtm_protocol). */
  readonly protocol?: number;
}

/**
 * Links, addresses and routes through rtnetlink. Errors are RtnetlinkError
 * with the kernel's errno name as `code` (EEXIST, EADDRNOTAVAIL, ENODEV…).
 * Requests on one instance run one after the other.
 */
export interface Rtnetlink {
  listLinks(): Promise<Link[]>;
  /** One link by index or by name; ENODEV when there is none. */
  getLink(link: number | string): Promise<Link>;
  /** Applies `changes` (attributes first, then up/down). */
  setLink(index: number, changes: LinkChanges): Promise<void>;

  listAddresses(filter?: AddressFilter): Promise<Address[]>;
  /** EEXIST when the interface has the address already (with any prefix length, for IPv6). */
  addAddress(address: AddressSpec): Promise<void>;
  /** Adds the address, or updates its flags if it is there. */
  replaceAddress(address: AddressSpec): Promise<void>;
  /** EADDRNOTAVAIL when the interface has no such address with that prefix length. */
  deleteAddress(address: AddressSpec): Promise<void>;

  listRoutes(filter?: RouteFilter): Promise<Route[]>;
  /** EEXIST when the route is there already. */
  addRoute(route: RouteSpec): Promise<void>;
  replaceRoute(route: RouteSpec): Promise<void>;
  /** ESRCH when there is no such route (with that mark, if one is given). */
  deleteRoute(route: RouteSpec): Promise<void>;

  /** Closes the socket; pending and later calls fail with ECLOSED. */
  close(): void;
}

export interface RtnetlinkOptions {
  logger?: Logger;
  /** The socket; by default a new NETLINK_ROUTE socket. */
  transport?: NetlinkTransport;
}

/** Opens an rtnetlink socket for requests. */
export function openRtnetlink(options: RtnetlinkOptions = {}): Rtnetlink {
  let transport = options.transport;
  if (transport === undefined) {
    try {
      transport = openRouteSocket();
    } catch (error) {
      throw socketError(error, 'open');
    }
  }
  return new RtnetlinkClient(new RequestChannel(transport), options.logger ?? silentLogger);
}

class RtnetlinkClient implements Rtnetlink {
  readonly #channel: RequestChannel;
  readonly #logger: Logger;

  constructor(channel: RequestChannel, logger: Logger) {
    this.#channel = channel;
    this.#logger = logger;
  }

  async listLinks(): Promise<Link[]> {
    const replies = await this.#channel.request({
      type: RTM_GETLINK,
      body: encodeLinkDump(),
      dump: true,
      operation: 'list-links',
    });
    return decodeEach(replies, RTM_NEWLINK, 'list-links', undefined, (body) => {
      const { family: _, ...link } = decodeLink(body);
      return link;
    });
  }

  async getLink(link: number | string): Promise<Link> {
    const subject = interfaceName(link);
    const replies = await this.#channel.request({
      type: RTM_GETLINK,
      body: encodeGetLink(link),
      dump: false,
      operation: 'get-link',
      subject,
    });
    const [found] = decodeEach(replies, RTM_NEWLINK, 'get-link', subject, (body) => {
      const { family: _, ...decoded } = decodeLink(body);
      return decoded;
    });
    if (found === undefined) {
      throw localError('EPROTO', 'get-link', 'the kernel answered without a link', subject);
    }
    return found;
  }

  async setLink(index: number, changes: LinkChanges): Promise<void> {
    const subject = interfaceName(index);
    for (const body of encodeSetLink(index, changes)) {
      this.#logger.debug({ index, changes }, `rtnetlink: set ${subject}`);
      await this.#modify({ type: RTM_NEWLINK, body, dump: false, operation: 'set-link', subject });
    }
  }

  async listAddresses(filter: AddressFilter = {}): Promise<Address[]> {
    const replies = await this.#channel.request({
      type: RTM_GETADDR,
      body: encodeAddressDump(filter.family),
      dump: true,
      operation: 'list-addresses',
    });
    return decodeEach(replies, RTM_NEWADDR, 'list-addresses', undefined, decodeAddress).filter(
      (address): address is Address =>
        address !== undefined &&
        (filter.index === undefined || address.index === filter.index) &&
        (filter.family === undefined || address.prefix.family === filter.family),
    );
  }

  addAddress(address: AddressSpec): Promise<void> {
    return this.#modifyAddress(address, 'add-address', NLM_F_CREATE | NLM_F_EXCL);
  }

  replaceAddress(address: AddressSpec): Promise<void> {
    return this.#modifyAddress(address, 'replace-address', NLM_F_CREATE | NLM_F_REPLACE);
  }

  async deleteAddress(address: AddressSpec): Promise<void> {
    const subject = describeAddress(address);
    this.#logger.debug(
      { index: address.index, address: address.prefix.toString() },
      `rtnetlink: delete ${subject}`,
    );
    await this.#modify({
      type: RTM_DELADDR,
      body: encodeDeleteAddress(address),
      dump: false,
      operation: 'delete-address',
      subject,
    });
  }

  async listRoutes(filter: RouteFilter = {}): Promise<Route[]> {
    const replies = await this.#channel.request({
      type: RTM_GETROUTE,
      body: encodeRouteDump(filter.family),
      dump: true,
      operation: 'list-routes',
    });
    const table = filter.table ?? RT_TABLE_MAIN;
    return decodeEach(replies, RTM_NEWROUTE, 'list-routes', undefined, decodeRoute).filter(
      (route): route is Route =>
        route !== undefined &&
        (table === 'all' || route.table === table) &&
        (filter.index === undefined || route.index === filter.index) &&
        (filter.family === undefined || route.family === filter.family) &&
        (filter.protocol === undefined || route.protocol === filter.protocol),
    );
  }

  addRoute(route: RouteSpec): Promise<void> {
    return this.#modifyRoute(route, 'add-route', RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL);
  }

  replaceRoute(route: RouteSpec): Promise<void> {
    return this.#modifyRoute(route, 'replace-route', RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE);
  }

  deleteRoute(route: RouteSpec): Promise<void> {
    return this.#modifyRoute(route, 'delete-route', RTM_DELROUTE, 0);
  }

  close(): void {
    this.#channel.close();
  }

  async #modifyAddress(
    address: AddressSpec,
    operation: RtnetlinkOperation,
    flags: number,
  ): Promise<void> {
    const subject = describeAddress(address);
    this.#logger.debug(
      { index: address.index, address: address.prefix.toString(), flags: address.flags ?? [] },
      `rtnetlink: ${operation === 'add-address' ? 'add' : 'replace'} ${subject}`,
    );
    await this.#modify({
      type: RTM_NEWADDR,
      flags,
      body: encodeNewAddress(address),
      dump: false,
      operation,
      subject,
    });
  }

  async #modifyRoute(
    route: RouteSpec,
    operation: RtnetlinkOperation,
    type: number,
    flags: number,
  ): Promise<void> {
    const subject = describeRoute(route);
    this.#logger.debug(
      { operation, route: subject },
      `rtnetlink: ${operation.replace('-route', '')} ${subject}`,
    );
    await this.#modify({
      type,
      flags,
      body: encodeRoute(route, type === RTM_DELROUTE),
      dump: false,
      operation,
      subject,
    });
  }

  async #modify(request: Request): Promise<void> {
    await this.#channel.request(request);
  }
}

function interfaceName(link: number | string): string {
  return typeof link === 'number' ? `interface #${link}` : `interface ${link}`;
}

function describeAddress(address: AddressSpec): string {
  return `address ${address.prefix.toString()} on interface #${address.index}`;
}

/** Decodes the replies of one message type, turning a malformed one into EPROTO. */
function decodeEach<T>(
  replies: readonly NetlinkMessage[],
  type: number,
  operation: RtnetlinkOperation,
  subject: string | undefined,
  decode: (body: Buffer) => T,
): T[] {
  const decoded: T[] = [];
  for (const reply of replies) {
    if (reply.type !== type) continue;
    try {
      decoded.push(decode(reply.data));
    } catch (error) {
      if (error instanceof RtnetlinkError) throw error;
      throw localError(
        'EPROTO',
        operation,
        `the kernel's reply does not parse (${messageOf(error)})`,
        subject,
        error,
      );
    }
  }
  return decoded;
}
