/**
 * The one piece of netlink that touches the operating system: a socket that
 * sends and receives whole datagrams. Everything above it (headers, sequence
 * numbers, acknowledgements, dumps, errors) is this package's own code, so a
 * test can put a fake kernel behind this interface and exercise all of it.
 */
export interface NetlinkDatagramSocket {
  /** SO_SNDBUF as getsockopt(2) reports it: the kernel's sk_sndbuf for this socket. */
  sendBufferSize(): number;
  /** Sends one datagram to the kernel (port 0). Rejects with the errno of sendmsg(2). */
  send(datagram: Uint8Array): Promise<void>;
  /** Registers the receivers; called once, before the first send. */
  listen(receivers: NetlinkDatagramReceivers): void;
  /** Keeps the process alive while a request waits for its answer (`true`), or not. */
  setBusy(busy: boolean): void;
  close(): void;
}

export interface NetlinkDatagramReceivers {
  /** One datagram, with the port of its sender (0 for the kernel). */
  datagram(bytes: Uint8Array, senderPort: number): void;
  /** The socket failed (for instance ENOBUFS: the receive buffer overflowed and messages were lost). */
  error(error: Error): void;
}

/** Opens a netlink socket of a protocol (NETLINK_ROUTE, NETLINK_GENERIC, …). */
export type OpenNetlinkSocket = (protocol: number) => Promise<NetlinkDatagramSocket>;

/** NETLINK_ROUTE, <linux/netlink.h>. */
export const NETLINK_ROUTE = 0;
/** NETLINK_GENERIC, <linux/netlink.h>. */
export const NETLINK_GENERIC = 16;
