/**
 * Netlink headers and attribute values are in the host's byte order (only
 * values flagged NLA_F_NET_BYTEORDER, and fields such as a sockaddr's port,
 * are big-endian). Every DataView access in this package passes this flag.
 */
export const hostLittleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** A DataView over exactly the bytes of `bytes`. */
export function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
