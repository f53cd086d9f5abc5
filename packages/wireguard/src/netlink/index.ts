/**
 * `@wg-dynamic/wireguard/netlink`: the netlink layer under the kernel
 * backend, public for tests, fixtures and tools: the attribute codec, message
 * framing, a serialized request/dump connection over a datagram socket, and
 * generic netlink family resolution.
 */
export {
  GENL_HDRLEN,
  NLA_ALIGNTO,
  NLA_HDRLEN,
  NLA_MAX_LENGTH,
  NLMSG_ALIGNTO,
  NLMSG_HDRLEN,
  nlaAlign,
  nlmsgAlign,
} from './align.js';
export { Attribute, AttributeDecoder } from './attribute-decoder.js';
export {
  AttributeEncoder,
  NLA_F_NESTED,
  NLA_F_NET_BYTEORDER,
  NLA_TYPE_MASK,
} from './attribute-encoder.js';
export {
  type AttributeBranch,
  type AttributeLeaf,
  type AttributeNode,
  DEFAULT_MAX_DEPTH,
  decodeAttributeTree,
  encodeAttributeTree,
} from './attribute-tree.js';
export { hostLittleEndian } from './byte-order.js';
export {
  type DumpResult,
  NETLINK_SNDBUF_OVERHEAD,
  NetlinkConnection,
  type NetlinkConnectionOptions,
} from './connection.js';
export {
  NETLINK_GENERIC,
  NETLINK_ROUTE,
  type NetlinkDatagramReceivers,
  type NetlinkDatagramSocket,
  type OpenNetlinkSocket,
} from './datagram-socket.js';
export { NetlinkDecodeError, NetlinkRequestError, type NetlinkRequestErrorCode } from './errors.js';
export {
  CTRL_ATTR_FAMILY_ID,
  CTRL_ATTR_FAMILY_NAME,
  CTRL_CMD_GETFAMILY,
  CTRL_CMD_NEWFAMILY,
  GENL_CTRL_VERSION,
  GENL_ID_CTRL,
  type GenericMessage,
  GenericNetlink,
  type GenericNetlinkTransport,
} from './generic-netlink.js';
export {
  encodeGenericHeader,
  encodeMessage,
  type GenericHeader,
  type NetlinkMessage,
  type NetlinkStatus,
  NLM_F_ACK,
  NLM_F_ACK_TLVS,
  NLM_F_CAPPED,
  NLM_F_DUMP,
  NLM_F_DUMP_INTR,
  NLM_F_ECHO,
  NLM_F_MATCH,
  NLM_F_MULTI,
  NLM_F_REQUEST,
  NLM_F_ROOT,
  NLMSG_DONE,
  NLMSG_ERROR,
  NLMSG_NOOP,
  NLMSG_OVERRUN,
  NLMSGERR_ATTR_MSG,
  NLMSGERR_ATTR_OFFS,
  parseDoneMessage,
  parseErrorMessage,
  parseGenericPayload,
  parseMessages,
  writeHeader,
} from './message.js';
export {
  IFINFOMSG_LENGTH,
  IFLA_IFNAME,
  IFLA_INFO_KIND,
  IFLA_LINKINFO,
  type LinkSummary,
  parseLink,
  RouteLinks,
  RTM_GETLINK,
  RTM_NEWLINK,
} from './route-links.js';
export { openSystemNetlinkSocket } from './system-socket.js';
