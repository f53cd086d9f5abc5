import { type Logger, silentLogger } from '@wg-dynamic/log';
import { type NetlinkMessage, parseMessages } from 'netlink';
import { type Address, decodeAddress } from './address.js';
import { messageOf } from './attributes.js';
import {
  AF_UNSPEC,
  RTM_DELADDR,
  RTM_DELLINK,
  RTM_DELROUTE,
  RTM_NEWADDR,
  RTM_NEWLINK,
  RTM_NEWROUTE,
  RTNLGRP_IPV4_IFADDR,
  RTNLGRP_IPV4_ROUTE,
  RTNLGRP_IPV6_IFADDR,
  RTNLGRP_IPV6_ROUTE,
  RTNLGRP_LINK,
} from './constants.js';
import { localError, RtnetlinkError } from './errors.js';
import { type EventSource, startEventReader } from './event-reader.js';
import { decodeLink, type Link } from './link.js';
import { decodeRoute, type Route } from './route.js';

/** The notification groups one can follow. */
export type EventGroup = 'link' | 'ipv4-address' | 'ipv6-address' | 'ipv4-route' | 'ipv6-route';

const groupNumbers: Record<EventGroup, number> = {
  link: RTNLGRP_LINK,
  'ipv4-address': RTNLGRP_IPV4_IFADDR,
  'ipv6-address': RTNLGRP_IPV6_IFADDR,
  'ipv4-route': RTNLGRP_IPV4_ROUTE,
  'ipv6-route': RTNLGRP_IPV6_ROUTE,
};

/**
 * One change, as the kernel announced it. NEW and DEL stay apart:
 * - `link-changed` (RTM_NEWLINK): a link appeared or changed (up/down, carrier, MTU, name…);
 * - `link-removed` (RTM_DELLINK): the link is gone;
 * - `address-added` (RTM_NEWADDR): added, or updated (IPv6 sends one as DAD completes);
 * - `address-removed` (RTM_DELADDR);
 * - `route-added` (RTM_NEWROUTE): added or replaced; `route-removed` (RTM_DELROUTE).
 */
export type RtnetlinkEvent =
  | { readonly type: 'link-changed'; readonly link: Link }
  | { readonly type: 'link-removed'; readonly link: Link }
  | { readonly type: 'address-added'; readonly address: Address }
  | { readonly type: 'address-removed'; readonly address: Address }
  | { readonly type: 'route-added'; readonly route: Route }
  | { readonly type: 'route-removed'; readonly route: Route };

/**
 * The event of one rtnetlink message, by its message type; undefined for a
 * message that is not one of these events (another type, or a family other
 * than IP, such as a bridge port's AF_BRIDGE link message, whose RTM_DELLINK
 * means "left the bridge", not "removed"). Throws on a malformed message.
 */
export function classifyMessage(type: number, body: Buffer): RtnetlinkEvent | undefined {
  switch (type) {
    case RTM_NEWLINK:
    case RTM_DELLINK: {
      const { family, ...link } = decodeLink(body);
      if (family !== AF_UNSPEC) return undefined;
      return type === RTM_NEWLINK ? { type: 'link-changed', link } : { type: 'link-removed', link };
    }
    case RTM_NEWADDR:
    case RTM_DELADDR: {
      const address = decodeAddress(body);
      if (address === undefined) return undefined;
      return type === RTM_NEWADDR
        ? { type: 'address-added', address }
        : { type: 'address-removed', address };
    }
    case RTM_NEWROUTE:
    case RTM_DELROUTE: {
      const route = decodeRoute(body);
      if (route === undefined) return undefined;
      return type === RTM_NEWROUTE
        ? { type: 'route-added', route }
        : { type: 'route-removed', route };
    }
    default:
      return undefined;
  }
}

/**
 * A subscription to rtnetlink notifications, read with `for await`. It ends
 * with an RtnetlinkError thrown from the loop when notifications were lost
 * (code ENOBUFS: the kernel dropped some, or more than `maxQueuedEvents`
 * waited unread), when the socket failed, or when a message did not parse
 * (EPROTO). After any error the caller's picture is stale: subscribe anew,
 * then list links, addresses and routes again. Subscribe before listing, so
 * that no change falls between the two.
 *
 * `close()` ends the loop without an error; so does leaving the loop.
 * Only one loop can read a subscription.
 */
export interface RtnetlinkEvents extends AsyncIterable<RtnetlinkEvent> {
  close(): void;
}

export interface RtnetlinkEventsOptions {
  /** What to follow; at least one group. */
  groups: readonly EventGroup[];
  /** The socket's receive buffer (SO_RCVBUF) in bytes; the system default when absent. */
  receiveBufferSize?: number;
  /** How many events may wait unread before the subscription fails with ENOBUFS (default 10,000). */
  maxQueuedEvents?: number;
  logger?: Logger;
  /** Where notifications come from; by default a reader process with a socket of its own. */
  source?: EventSource;
}

const DEFAULT_MAX_QUEUED_EVENTS = 10_000;

/**
 * Subscribes to the given groups on a socket of its own. Resolves once the
 * subscription is in place: every change from then on arrives.
 *
 * The socket lives in a small child process (worker/event-reader.cjs): the
 * netlink package's native binding aborts its process when the kernel
 * reports an overrun, and that must end the subscription with ENOBUFS, not
 * the daemon. The process ends with `close()`, or with its parent.
 */
export async function openRtnetlinkEvents(
  options: RtnetlinkEventsOptions,
): Promise<RtnetlinkEvents> {
  if (options.groups.length === 0) {
    throw localError('EINVAL', 'open', 'no notification group was asked for');
  }
  const source =
    options.source ??
    (await startEventReader(
      [...new Set(options.groups)].map((group) => groupNumbers[group]),
      options.receiveBufferSize,
    ));
  return new EventSubscription(
    source,
    options.maxQueuedEvents ?? DEFAULT_MAX_QUEUED_EVENTS,
    options.logger ?? silentLogger,
  );
}

interface Waiter {
  resolve(result: IteratorResult<RtnetlinkEvent>): void;
  reject(error: RtnetlinkError): void;
}

class EventSubscription implements RtnetlinkEvents {
  readonly #source: EventSource;
  readonly #maxQueued: number;
  readonly #logger: Logger;
  #queue: RtnetlinkEvent[] = [];
  #error: RtnetlinkError | undefined;
  #waiter: Waiter | undefined;
  #ended = false;
  #iterating = false;

  constructor(source: EventSource, maxQueued: number, logger: Logger) {
    this.#source = source;
    this.#maxQueued = maxQueued;
    this.#logger = logger;
    source.listen(
      (datagram, senderPort) => this.#receive(datagram, senderPort),
      (error) => this.#fail(error),
    );
  }

  [Symbol.asyncIterator](): AsyncIterator<RtnetlinkEvent> {
    if (this.#iterating) {
      throw new TypeError('an rtnetlink subscription can be read by one loop only');
    }
    this.#iterating = true;
    return {
      next: () => this.#next(),
      return: async () => {
        this.close();
        return { done: true, value: undefined };
      },
    };
  }

  close(): void {
    if (this.#ended) return;
    this.#end();
    this.#queue = [];
    this.#error = undefined;
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.resolve({ done: true, value: undefined });
  }

  #next(): Promise<IteratorResult<RtnetlinkEvent>> {
    // An error goes first: after it, the queued events describe a stale picture.
    const error = this.#error;
    if (error !== undefined) {
      this.#error = undefined;
      this.#queue = [];
      return Promise.reject(error);
    }
    const event = this.#queue.shift();
    if (event !== undefined) return Promise.resolve({ done: false, value: event });
    if (this.#ended) return Promise.resolve({ done: true, value: undefined });
    return new Promise((resolve, reject) => {
      this.#waiter = { resolve, reject };
    });
  }

  #receive(datagram: Buffer, senderPort: number): void {
    if (this.#ended || senderPort !== 0) return;
    let messages: NetlinkMessage[];
    try {
      messages = parseMessages(datagram);
    } catch (error) {
      this.#fail(malformedEvent(error));
      return;
    }
    for (const message of messages) {
      let event: RtnetlinkEvent | undefined;
      try {
        event = classifyMessage(message.type, message.data);
      } catch (error) {
        this.#fail(malformedEvent(error));
        return;
      }
      if (event === undefined) continue;
      this.#deliver(event);
      if (this.#ended) return;
    }
  }

  #deliver(event: RtnetlinkEvent): void {
    const waiter = this.#waiter;
    if (waiter !== undefined) {
      this.#waiter = undefined;
      waiter.resolve({ done: false, value: event });
      return;
    }
    if (this.#queue.length >= this.#maxQueued) {
      this.#fail(
        localError(
          'ENOBUFS',
          'events',
          `more than ${this.#maxQueued} notifications waited unread; read the state again (list) and subscribe anew`,
        ),
      );
      return;
    }
    this.#queue.push(event);
  }

  /** Ends the subscription with `error`, which the reader gets at its next step. */
  #fail(error: RtnetlinkError): void {
    if (this.#ended) return;
    this.#logger.warn({ code: error.code, err: error }, 'rtnetlink: event subscription failed');
    this.#end();
    const waiter = this.#waiter;
    if (waiter !== undefined) {
      this.#waiter = undefined;
      this.#queue = [];
      waiter.reject(error);
    } else {
      this.#error = error;
    }
  }

  #end(): void {
    this.#ended = true;
    this.#source.close();
  }
}

function malformedEvent(error: unknown): RtnetlinkError {
  if (error instanceof RtnetlinkError) return error;
  return localError(
    'EPROTO',
    'events',
    `a notification does not parse (${messageOf(error)})`,
    undefined,
    error,
  );
}
