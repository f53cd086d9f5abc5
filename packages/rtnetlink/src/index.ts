export type { Logger } from '@wg-dynamic/log';
export type { Address, AddressFlag, AddressSpec } from './address.js';
export {
  RT_TABLE_LOCAL,
  RT_TABLE_MAIN,
  RTPROT_BOOT,
  RTPROT_KERNEL,
  RTPROT_STATIC,
  RTPROT_WG_DYNAMIC,
} from './constants.js';
export {
  RtnetlinkError,
  type RtnetlinkErrorCode,
  type RtnetlinkOperation,
} from './errors.js';
export type { EventSource } from './event-reader.js';
export {
  type EventGroup,
  openRtnetlinkEvents,
  type RtnetlinkEvent,
  type RtnetlinkEvents,
  type RtnetlinkEventsOptions,
} from './events.js';
export type { AddrGenMode, Link, LinkChanges } from './link.js';
export type { Route, RouteSpec, RouteType } from './route.js';
export {
  type AddressFilter,
  openRtnetlink,
  type RouteFilter,
  type Rtnetlink,
  type RtnetlinkOptions,
} from './rtnetlink.js';
export type { Scope } from './scope.js';
export type { NetlinkTransport, TransportError } from './transport.js';
