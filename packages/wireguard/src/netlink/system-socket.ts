import type { NetlinkDatagramSocket, OpenNetlinkSocket } from './datagram-socket.js';

/**
 * A real netlink socket, through the `netlink` npm package's RawNetlinkSocket
 * (its native part: socket, bind, sendmsg, recvmsg with message peeking, so a
 * datagram of any size arrives whole). Only that layer of the package is
 * used. The package is loaded on first use, so a program that only ever
 * talks to wireguard-go never loads the native module.
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
