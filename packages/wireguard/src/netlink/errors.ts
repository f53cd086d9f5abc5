import { errnoDescription, errnoName } from '../errno.js';

/**
 * Bytes that are not well-formed netlink: an attribute or message whose
 * length runs past its container, a value of the wrong size, nesting deeper
 * than allowed. `where` names the place in the structure ("WGDEVICE_A_PEERS >
 * entry 3 > WGPEER_A_ALLOWEDIPS").
 */
export class NetlinkDecodeError extends Error {
  override readonly name = 'NetlinkDecodeError';
  readonly code = 'NETLINK_MALFORMED';
  readonly where: string;

  constructor(where: string, problem: string) {
    super(`malformed netlink data in ${where}: ${problem}`);
    this.where = where;
  }
}

/** Why a netlink request failed. */
export type NetlinkRequestErrorCode =
  /** The kernel answered with a negative errno (in NLMSG_ERROR or NLMSG_DONE). */
  | 'NETLINK_REFUSED'
  /** Nothing arrived for the request within the time limit. */
  | 'NETLINK_NO_REPLY'
  /** sendmsg(2) failed (for instance EMSGSIZE: a message larger than the socket's send buffer). */
  | 'NETLINK_SEND_FAILED'
  /** The socket was closed, or failed, while the request was pending. */
  | 'NETLINK_CLOSED'
  /** The dump was interrupted by a concurrent change (NLM_F_DUMP_INTR) too many times in a row. */
  | 'NETLINK_DUMP_INTERRUPTED'
  /** The reply broke the netlink format or its size limit. */
  | 'NETLINK_MALFORMED_REPLY';

/**
 * A netlink request that failed, with the operation it was, the errno (name
 * and number) when the kernel gave one, and the kernel's extended-ack text
 * when that arrived too: the kernel sends it only to a socket that set
 * NETLINK_EXT_ACK, which the production socket cannot (system-socket.ts).
 */
export class NetlinkRequestError extends Error {
  override readonly name = 'NetlinkRequestError';
  readonly code: NetlinkRequestErrorCode;
  readonly operation: string;
  /** The positive errno number, when there is one. */
  readonly errno: number | undefined;
  /** `ENODEV`, `EINVAL`, …, when there is an errno. */
  readonly errnoName: string | undefined;
  /** NLMSGERR_ATTR_MSG, when the kernel explained itself (only to a socket with NETLINK_EXT_ACK set). */
  readonly extendedAck: string | undefined;

  constructor(
    code: NetlinkRequestErrorCode,
    operation: string,
    details: {
      readonly errno?: number;
      readonly extendedAck?: string;
      readonly message?: string;
      readonly cause?: unknown;
    } = {},
  ) {
    const errno = details.errno;
    const what =
      details.message ??
      (errno === undefined
        ? code
        : `${errnoName(errno)} (${errnoDescription(errno)})${details.extendedAck ? `: ${details.extendedAck}` : ''}`);
    super(`${operation}: ${what}`, details.cause === undefined ? {} : { cause: details.cause });
    this.code = code;
    this.operation = operation;
    this.errno = errno;
    this.errnoName = errno === undefined ? undefined : errnoName(errno);
    this.extendedAck = details.extendedAck;
  }
}
