import { type Logger, silentLogger } from '@wg-dynamic/log';
import type { NetlinkDatagramSocket } from './datagram-socket.js';
import { NetlinkDecodeError, NetlinkRequestError } from './errors.js';
import {
  encodeMessage,
  type NetlinkMessage,
  type NetlinkStatus,
  NLM_F_ACK,
  NLM_F_DUMP,
  NLM_F_DUMP_INTR,
  NLM_F_REQUEST,
  NLMSG_DONE,
  NLMSG_ERROR,
  NLMSG_NOOP,
  NLMSG_OVERRUN,
  parseDoneMessage,
  parseErrorMessage,
  parseMessages,
} from './message.js';

/**
 * The kernel refuses a netlink message longer than the socket's send buffer
 * minus 32 bytes with EMSGSIZE (netlink_sendmsg(), net/netlink/af_netlink.c:
 * `if (len > sk->sk_sndbuf - 32)`).
 */
export const NETLINK_SNDBUF_OVERHEAD = 32;

export interface NetlinkConnectionOptions {
  /** What the socket talks to, for messages ("generic netlink", "rtnetlink"). */
  readonly name?: string;
  /**
   * How long a request may go without any answer before it fails with
   * NETLINK_NO_REPLY (default 30 s). The clock restarts with every datagram,
   * so a long dump never times out while data flows.
   */
  readonly timeoutMs?: number;
  /** Upper bound on the bytes of one request's answer (default 1 GiB). */
  readonly maxReplyBytes?: number;
  readonly logger?: Logger;
}

/** The outcome of a dump. */
export interface DumpResult {
  /**
   * A message carried NLM_F_DUMP_INTR: the object changed while it was being
   * dumped and the messages may not be consistent. Dump again.
   */
  readonly interrupted: boolean;
}

interface Pending {
  readonly seq: number;
  readonly operation: string;
  readonly dump: boolean;
  readonly onMessage: (message: NetlinkMessage) => void;
  readonly resolve: (interrupted: boolean) => void;
  readonly reject: (error: Error) => void;
  interrupted: boolean;
  bytes: number;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/**
 * Requests and dumps over one netlink socket, one at a time: a second
 * request waits until the first has its full answer (two dumps at once on
 * one socket would interleave). Handles sequence numbers, acknowledgements,
 * multi-part answers, NLMSG_DONE with an error, and the extended ack when a
 * kernel sends one (only to a socket with NETLINK_EXT_ACK set, which the
 * production socket cannot set: see system-socket.ts).
 */
export class NetlinkConnection {
  readonly #socket: NetlinkDatagramSocket;
  readonly #name: string;
  readonly #timeoutMs: number;
  readonly #maxReplyBytes: number;
  readonly #logger: Logger;
  #queue: Promise<unknown> = Promise.resolve();
  #seq = 0;
  #pending: Pending | undefined;
  #closed = false;

  constructor(socket: NetlinkDatagramSocket, options: NetlinkConnectionOptions = {}) {
    this.#socket = socket;
    this.#name = options.name ?? 'netlink';
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#maxReplyBytes = options.maxReplyBytes ?? 1 << 30;
    this.#logger = options.logger ?? silentLogger;
    socket.listen({
      datagram: (bytes, senderPort) => this.#receive(bytes, senderPort),
      error: (error) =>
        this.#fail(
          new NetlinkRequestError('NETLINK_CLOSED', this.#operation(), {
            message: `the ${this.#name} socket failed: ${error.message}`,
            cause: error,
          }),
        ),
    });
  }

  /** The largest message (header included) the kernel accepts on this socket: SO_SNDBUF − 32. */
  maxMessageSize(): number {
    return this.#socket.sendBufferSize() - NETLINK_SNDBUF_OVERHEAD;
  }

  /**
   * Sends one request with NLM_F_REQUEST | NLM_F_ACK (plus `flags`) and
   * resolves with the messages answered before the acknowledgement.
   */
  request(
    type: number,
    payload: Uint8Array,
    operation: string,
    flags = 0,
  ): Promise<NetlinkMessage[]> {
    const replies: NetlinkMessage[] = [];
    return this.#enqueue(type, NLM_F_REQUEST | NLM_F_ACK | flags, payload, operation, false, (m) =>
      replies.push(m),
    ).then(() => replies);
  }

  /**
   * Sends a dump request (NLM_F_REQUEST | NLM_F_DUMP) and hands each answer
   * message to `onMessage` as it arrives, so a large dump is never held whole.
   * An exception from `onMessage` ends the dump with that exception.
   */
  dump(
    type: number,
    payload: Uint8Array,
    operation: string,
    onMessage: (message: NetlinkMessage) => void,
  ): Promise<DumpResult> {
    return this.#enqueue(
      type,
      NLM_F_REQUEST | NLM_F_DUMP,
      payload,
      operation,
      true,
      onMessage,
    ).then((interrupted) => ({ interrupted }));
  }

  /** Closes the socket; a pending request fails with NETLINK_CLOSED. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#fail(
      new NetlinkRequestError('NETLINK_CLOSED', this.#operation(), {
        message: `the ${this.#name} socket was closed`,
      }),
    );
    this.#socket.close();
  }

  #enqueue(
    type: number,
    flags: number,
    payload: Uint8Array,
    operation: string,
    dump: boolean,
    onMessage: (message: NetlinkMessage) => void,
  ): Promise<boolean> {
    const run = () => this.#run(type, flags, payload, operation, dump, onMessage);
    const result = this.#queue.then(run, run);
    this.#queue = result.catch(() => {});
    return result;
  }

  #run(
    type: number,
    flags: number,
    payload: Uint8Array,
    operation: string,
    dump: boolean,
    onMessage: (message: NetlinkMessage) => void,
  ): Promise<boolean> {
    if (this.#closed) {
      return Promise.reject(
        new NetlinkRequestError('NETLINK_CLOSED', operation, {
          message: `the ${this.#name} socket is closed`,
        }),
      );
    }
    this.#seq = (this.#seq % 0xffff_ffff) + 1;
    const seq = this.#seq;
    const datagram = encodeMessage({ type, flags, seq, port: 0, payload });
    return new Promise<boolean>((resolve, reject) => {
      const pending: Pending = {
        seq,
        operation,
        dump,
        onMessage,
        resolve,
        reject,
        interrupted: false,
        bytes: 0,
        timer: undefined,
      };
      this.#pending = pending;
      this.#socket.setBusy(true);
      // The clock starts once the datagram is sent: the kernel runs a generic
      // netlink request inside sendmsg(2), which blocks this thread for as
      // long as the kernel works (seconds for thousands of peers removed), and
      // a timer armed before it would fire before the answer is read.
      this.#socket.send(datagram).then(
        () => {
          if (this.#pending === pending) this.#armTimer(pending);
        },
        (error: unknown) => {
          if (this.#pending !== pending) return;
          const errno = errnoOf(error);
          this.#settle(pending);
          reject(
            new NetlinkRequestError('NETLINK_SEND_FAILED', operation, {
              ...(errno === undefined ? {} : { errno }),
              message: `sending ${datagram.length} bytes failed: ${error instanceof Error ? error.message : String(error)}`,
              cause: error,
            }),
          );
        },
      );
    });
  }

  #armTimer(pending: Pending): void {
    if (pending.timer !== undefined) clearTimeout(pending.timer);
    pending.timer = setTimeout(() => {
      if (this.#pending !== pending) return;
      this.#settle(pending);
      pending.reject(
        new NetlinkRequestError('NETLINK_NO_REPLY', pending.operation, {
          message: `the kernel sent nothing for ${this.#timeoutMs} ms`,
        }),
      );
    }, this.#timeoutMs);
  }

  /** Ends the pending request's bookkeeping (the caller resolves or rejects it). */
  #settle(pending: Pending): void {
    if (pending.timer !== undefined) clearTimeout(pending.timer);
    pending.timer = undefined;
    if (this.#pending === pending) this.#pending = undefined;
    this.#socket.setBusy(false);
  }

  #fail(error: NetlinkRequestError): void {
    const pending = this.#pending;
    if (!pending) return;
    this.#settle(pending);
    pending.reject(error);
  }

  #operation(): string {
    return this.#pending?.operation ?? this.#name;
  }

  #receive(bytes: Uint8Array, senderPort: number): void {
    const pending = this.#pending;
    if (senderPort !== 0) {
      this.#logger.debug({ senderPort }, `ignored a ${this.#name} datagram not sent by the kernel`);
      return;
    }
    if (!pending) {
      this.#logger.debug({ bytes: bytes.length }, `ignored a late ${this.#name} datagram`);
      return;
    }
    this.#armTimer(pending);
    pending.bytes += bytes.length;
    if (pending.bytes > this.#maxReplyBytes) {
      this.#settle(pending);
      pending.reject(
        new NetlinkRequestError('NETLINK_MALFORMED_REPLY', pending.operation, {
          message: `the answer exceeds ${this.#maxReplyBytes} bytes`,
        }),
      );
      return;
    }
    try {
      for (const message of parseMessages(bytes)) {
        if (message.seq !== pending.seq) continue;
        if (this.#handle(pending, message)) return;
      }
    } catch (error) {
      if (this.#pending !== pending) return;
      this.#settle(pending);
      pending.reject(
        error instanceof NetlinkDecodeError
          ? new NetlinkRequestError('NETLINK_MALFORMED_REPLY', pending.operation, {
              message: error.message,
              cause: error,
            })
          : (error as Error),
      );
    }
  }

  /** Handles one message of the pending request; true when the request is finished. */
  #handle(pending: Pending, message: NetlinkMessage): boolean {
    switch (message.type) {
      case NLMSG_NOOP:
        return false;
      case NLMSG_OVERRUN:
        throw new NetlinkDecodeError('the answer', 'the kernel reported NLMSG_OVERRUN (data lost)');
      case NLMSG_ERROR: {
        const status = parseErrorMessage(message);
        // A dump's only NLMSG_ERROR is a refusal to start; an ack of 0 there changes nothing.
        if (status.errno === 0 && pending.dump) return false;
        return this.#finish(pending, status);
      }
      case NLMSG_DONE:
        if (!pending.dump) return false;
        return this.#finish(pending, parseDoneMessage(message));
      default:
        if (message.flags & NLM_F_DUMP_INTR) pending.interrupted = true;
        pending.onMessage(message);
        return false;
    }
  }

  #finish(pending: Pending, status: NetlinkStatus): true {
    this.#settle(pending);
    if (status.errno === 0) {
      pending.resolve(pending.interrupted);
    } else {
      pending.reject(
        new NetlinkRequestError('NETLINK_REFUSED', pending.operation, {
          errno: status.errno,
          ...(status.extendedAck === undefined ? {} : { extendedAck: status.extendedAck }),
        }),
      );
    }
    return true;
  }
}

function errnoOf(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null || !('errno' in error)) return undefined;
  const errno = (error as { errno: unknown }).errno;
  if (typeof errno !== 'number') return undefined;
  return Math.abs(errno);
}
