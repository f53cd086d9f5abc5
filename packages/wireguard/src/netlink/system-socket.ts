import type { NetlinkDatagramSocket, OpenNetlinkSocket } from './datagram-socket.js';

/**
 * A real netlink socket, through the `netlink` npm package's RawNetlinkSocket
 * (its native part: socket, bind, sendmsg, recvmsg with message peeking, so a
 * datagram of any size arrives whole). Only that layer of the package is
 * used. The package is loaded on first use, so a program that only ever
 * talks to wireguard-go never loads the native module.
 *
 * This socket cannot ask for the kernel's extended-ack text. The kernel sends
 * NLMSGERR_ATTR_MSG only to a socket that set NETLINK_EXT_ACK (SOL_NETLINK
 * 270, option 11, <linux/netlink.h>), and RawNetlinkSocket (netlink 0.3.0)
 * offers no setsockopt(2) beyond SO_RCVBUF, SO_SNDBUF and group membership,
 * nor its file descriptor; setting it would take a native addon of our own.
 * So errors from this socket carry the errno alone. The connection still
 * reads the text whenever a kernel sends it (NLM_F_ACK_TLVS).
 */
export const openSystemNetlinkSocket: OpenNetlinkSocket = async (protocol) => {
  const { RawNetlinkSocket } = await import('netlink');
  const raw = new RawNetlinkSocket(protocol);
  // Idle sockets must not keep the process alive; setBusy refs it per request.
  raw.unref();
  const socket: NetlinkDatagramSocket = {
    sendBufferSize: () => raw.getSendBufferSize(),
    send: (datagram) =>
      new Promise((resolve, reject) => {
        raw.send(datagram, {}, (error) => (error ? reject(error) : resolve()));
      }),
    listen: (receivers) => {
      raw.on('message', (bytes, info) => receivers.datagram(bytes, info.port));
      raw.on('truncatedMessage', (_bytes, info) =>
        receivers.error(
          new Error(`a netlink datagram was truncated (it had ${info.truncated ?? '?'} bytes)`),
        ),
      );
      raw.on('error', (error) => receivers.error(error));
    },
    setBusy: (busy) => (busy ? raw.ref() : raw.unref()),
    close: () => raw.close(),
  };
  return socket;
};
