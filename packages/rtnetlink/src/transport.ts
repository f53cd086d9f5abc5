import { RawNetlinkSocket } from 'netlink';
import { NETLINK_ROUTE } from './constants.js';

/** A socket error as the native layer reports it (an errno and its name). */
export interface TransportError extends Error {
  readonly errno?: number;
  readonly code?: string;
}

/**
 * The part of a netlink socket this package uses: datagrams in and out. The
 * real one is `openRouteSocket()`; tests can hand in a fake kernel.
 */
export interface NetlinkTransport {
  /** Sends one datagram; `callback` receives the error if it could not be sent. */
  send(
    datagram: readonly Uint8Array[],
    callback: (error: TransportError | undefined) => void,
  ): void;
  /**
   * Installs the receivers, once. `senderPort` is 0 for the kernel; an error
   * from receiving goes to `onError`.
   */
  listen(
    onDatagram: (datagram: Buffer, senderPort: number) => void,
    onError: (error: TransportError) => void,
  ): void;
  /** Whether the socket keeps the process alive. */
  ref(): void;
  unref(): void;
  close(): void;
}

/** A NETLINK_ROUTE socket through the netlink package's native binding. */
export function openRouteSocket(): NetlinkTransport {
  const socket = new RawNetlinkSocket(NETLINK_ROUTE);
  // Once closed, nothing more reaches the receivers. The native close itself
  // waits for the next turn of the event loop: closing from inside one of the
  // binding's callbacks (a receive error) would free what that callback uses.
  let closed = false;
  return {
    send(datagram, callback) {
      socket.send([...datagram], undefined, (error) => callback(error));
    },
    listen(onDatagram, onError) {
      socket.on('message', (datagram, info) => {
        if (!closed) onDatagram(datagram, info.port);
      });
      // The binding peeks at each datagram's size, so this should not happen; if
      // it does, part of a message is lost, which the receiver must know.
      socket.on('truncatedMessage', () => {
        if (closed) return;
        const error: TransportError = Object.assign(new Error('a datagram was truncated'), {
          errno: 90,
          code: 'EMSGSIZE',
        });
        onError(error);
      });
      socket.on('error', (error) => {
        if (!closed) onError(error);
      });
    },
    ref() {
      if (!closed) guard(() => socket.ref());
    },
    unref() {
      if (!closed) guard(() => socket.unref());
    },
    close() {
      if (closed) return;
      closed = true;
      guard(() => socket.unref());
      setImmediate(() => socket.close());
    },
  };
}

/** ref/unref throw once the binding closed the socket by itself (after a poll error). */
function guard(action: () => void): void {
  try {
    action();
  } catch {
    // The socket is closed already; there is nothing left to hold the loop.
  }
}
