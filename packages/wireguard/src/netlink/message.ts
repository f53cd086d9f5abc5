import { GENL_HDRLEN, NLMSG_HDRLEN, nlmsgAlign } from './align.js';
import { AttributeDecoder } from './attribute-decoder.js';
import { hostLittleEndian, viewOf } from './byte-order.js';
import { NetlinkDecodeError } from './errors.js';

// Message types, <linux/netlink.h>.
export const NLMSG_NOOP = 0x1;
export const NLMSG_ERROR = 0x2;
export const NLMSG_DONE = 0x3;
export const NLMSG_OVERRUN = 0x4;

// Flags, <linux/netlink.h>.
export const NLM_F_REQUEST = 0x01;
export const NLM_F_MULTI = 0x02;
export const NLM_F_ACK = 0x04;
export const NLM_F_ECHO = 0x08;
export const NLM_F_DUMP_INTR = 0x10;
export const NLM_F_ROOT = 0x100;
export const NLM_F_MATCH = 0x200;
export const NLM_F_DUMP = NLM_F_ROOT | NLM_F_MATCH;
// Flags of NLMSG_ERROR and NLMSG_DONE replies, <linux/netlink.h>.
export const NLM_F_CAPPED = 0x100;
export const NLM_F_ACK_TLVS = 0x200;

// Extended-ack attributes after struct nlmsgerr, enum nlmsgerr_attrs, <linux/netlink.h>.
export const NLMSGERR_ATTR_MSG = 1;
export const NLMSGERR_ATTR_OFFS = 2;

/** One netlink message: struct nlmsghdr and its payload. */
export interface NetlinkMessage {
  readonly type: number;
  readonly flags: number;
  readonly seq: number;
  /** nlmsg_pid: the sender's port, 0 for the kernel. */
  readonly port: number;
  readonly payload: Uint8Array;
}

/** Encodes one message: header (nlmsg_len filled in) and payload, padded to NLMSG_ALIGN. */
export function encodeMessage(message: NetlinkMessage): Uint8Array {
  const length = NLMSG_HDRLEN + message.payload.length;
  const out = new Uint8Array(nlmsgAlign(length));
  writeHeader(out, 0, { ...message, length });
  out.set(message.payload, NLMSG_HDRLEN);
  return out;
}

/** Writes struct nlmsghdr at `offset`. */
export function writeHeader(
  target: Uint8Array,
  offset: number,
  header: Omit<NetlinkMessage, 'payload'> & { readonly length: number },
): void {
  const view = viewOf(target);
  view.setUint32(offset, header.length, hostLittleEndian);
  view.setUint16(offset + 4, header.type, hostLittleEndian);
  view.setUint16(offset + 6, header.flags, hostLittleEndian);
  view.setUint32(offset + 8, header.seq, hostLittleEndian);
  view.setUint32(offset + 12, header.port, hostLittleEndian);
}

/**
 * Splits one received datagram into its messages. Bounded: a message whose
 * length is shorter than its header or runs past the datagram is an error,
 * as are trailing bytes too few for a header.
 */
export function parseMessages(datagram: Uint8Array): NetlinkMessage[] {
  const view = viewOf(datagram);
  const messages: NetlinkMessage[] = [];
  let offset = 0;
  while (offset < datagram.length) {
    const remaining = datagram.length - offset;
    const where = `netlink message ${messages.length}`;
    if (remaining < NLMSG_HDRLEN) {
      throw new NetlinkDecodeError(where, `${remaining} trailing byte(s), too few for a header`);
    }
    const length = view.getUint32(offset, hostLittleEndian);
    if (length < NLMSG_HDRLEN || length > remaining) {
      throw new NetlinkDecodeError(
        where,
        `nlmsg_len ${length} is outside the ${NLMSG_HDRLEN}..${remaining} bytes available`,
      );
    }
    messages.push({
      type: view.getUint16(offset + 4, hostLittleEndian),
      flags: view.getUint16(offset + 6, hostLittleEndian),
      seq: view.getUint32(offset + 8, hostLittleEndian),
      port: view.getUint32(offset + 12, hostLittleEndian),
      payload: datagram.subarray(offset + NLMSG_HDRLEN, offset + length),
    });
    offset += Math.min(nlmsgAlign(length), remaining);
  }
  return messages;
}

/** The outcome an NLMSG_ERROR or NLMSG_DONE carries. */
export interface NetlinkStatus {
  /** 0 for success, else a positive errno number. */
  readonly errno: number;
  /** NLMSGERR_ATTR_MSG: the kernel's explanation, when it gave one (only with NETLINK_EXT_ACK set). */
  readonly extendedAck?: string;
  /** NLMSGERR_ATTR_OFFS: the offset in the request of the attribute it refused. */
  readonly offendingOffset?: number;
}

/** Reads struct nlmsgerr (and the extended ack after it) of an NLMSG_ERROR message. */
export function parseErrorMessage(message: NetlinkMessage): NetlinkStatus {
  const where = 'NLMSG_ERROR';
  const payload = message.payload;
  if (payload.length < 4 + NLMSG_HDRLEN) {
    throw new NetlinkDecodeError(where, `${payload.length} bytes, struct nlmsgerr needs 20`);
  }
  const view = viewOf(payload);
  const error = view.getInt32(0, hostLittleEndian);
  if (error > 0) throw new NetlinkDecodeError(where, `positive error ${error}`);
  let tlvStart = 4 + NLMSG_HDRLEN;
  if ((message.flags & NLM_F_CAPPED) === 0) {
    // The request is echoed whole; its own nlmsg_len says how long it is.
    const echoed = view.getUint32(4, hostLittleEndian);
    if (echoed < NLMSG_HDRLEN || 4 + echoed > payload.length) {
      throw new NetlinkDecodeError(where, `echoed request length ${echoed} does not fit`);
    }
    tlvStart = 4 + nlmsgAlign(echoed);
  }
  return withExtendedAck(
    { errno: -error },
    message.flags,
    payload.subarray(Math.min(tlvStart, payload.length)),
  );
}

/** Reads the status a dump's NLMSG_DONE carries (an int, then maybe an extended ack). */
export function parseDoneMessage(message: NetlinkMessage): NetlinkStatus {
  const payload = message.payload;
  // Some senders end a dump with an empty NLMSG_DONE: success.
  if (payload.length === 0) return { errno: 0 };
  if (payload.length < 4) {
    throw new NetlinkDecodeError('NLMSG_DONE', `${payload.length} bytes, the status needs 4`);
  }
  const error = viewOf(payload).getInt32(0, hostLittleEndian);
  if (error > 0) throw new NetlinkDecodeError('NLMSG_DONE', `positive error ${error}`);
  return withExtendedAck({ errno: -error }, message.flags, payload.subarray(4));
}

function withExtendedAck(status: NetlinkStatus, flags: number, tlvs: Uint8Array): NetlinkStatus {
  if ((flags & NLM_F_ACK_TLVS) === 0 || tlvs.length === 0) return status;
  let extendedAck: string | undefined;
  let offendingOffset: number | undefined;
  for (const attribute of new AttributeDecoder(tlvs, 'extended ack')) {
    if (attribute.type === NLMSGERR_ATTR_MSG) extendedAck = attribute.string();
    else if (attribute.type === NLMSGERR_ATTR_OFFS) offendingOffset = attribute.u32();
  }
  return {
    ...status,
    ...(extendedAck === undefined ? {} : { extendedAck }),
    ...(offendingOffset === undefined ? {} : { offendingOffset }),
  };
}

/** struct genlmsghdr, <linux/genetlink.h>. */
export interface GenericHeader {
  readonly command: number;
  readonly version: number;
}

export function encodeGenericHeader(header: GenericHeader): Uint8Array {
  return Uint8Array.of(header.command, header.version, 0, 0);
}

/** Splits a generic netlink payload into its header and attributes. */
export function parseGenericPayload(payload: Uint8Array): GenericHeader & {
  readonly attributes: Uint8Array;
} {
  if (payload.length < GENL_HDRLEN) {
    throw new NetlinkDecodeError(
      'generic netlink message',
      `${payload.length} bytes, struct genlmsghdr needs ${GENL_HDRLEN}`,
    );
  }
  return {
    command: payload[0] as number,
    version: payload[1] as number,
    attributes: payload.subarray(GENL_HDRLEN),
  };
}
