import { formatMessage, type NetlinkMessage, parseMessages, readS32 } from 'netlink';
import { messageOf } from './attributes.js';
import {
  NLM_F_ACK,
  NLM_F_DUMP,
  NLM_F_DUMP_INTR,
  NLM_F_REQUEST,
  NLMSG_DONE,
  NLMSG_ERROR,
  NLMSG_NOOP,
  NLMSG_OVERRUN,
} from './constants.js';
import {
  kernelError,
  localError,
  type RtnetlinkError,
  type RtnetlinkOperation,
  socketError,
} from './errors.js';
import type { NetlinkTransport, TransportError } from './transport.js';

/** One request: a message type, its flags beyond REQUEST/ACK/DUMP, and its body. */
export interface Request {
  readonly type: number;
  readonly flags?: number;
  readonly body: readonly Uint8Array[];
  /** A dump (NLM_F_DUMP) answers with many messages and NLMSG_DONE. */
  readonly dump: boolean;
  readonly operation: RtnetlinkOperation;
  /** What the request is about, for error messages ("address 10.0.0.2/32 on interface 7"). */
  readonly subject?: string;
}

/** The kernel's replies, the final ACK or DONE left out. */
export type Reply = readonly NetlinkMessage[];

/** A dump the kernel marks as interrupted (NLM_F_DUMP_INTR) is read again, this many times at most. */
const DUMP_ATTEMPTS = 3;

interface Pending {
  readonly seq: number;
  readonly request: Request;
  readonly messages: NetlinkMessage[];
  interrupted: boolean;
  readonly resolve: (messages: NetlinkMessage[]) => void;
  readonly reject: (error: RtnetlinkError) => void;
}

/**
 * Requests and their replies over one socket, one at a time: the kernel
 * interleaves the parts of two dumps on one socket, so a second request waits
 * for the first to finish. Only datagrams from the kernel (port 0) and with
 * the pending request's sequence number count; anything else is dropped.
 */
export class RequestChannel {
  readonly #transport: NetlinkTransport;
  #tail: Promise<unknown> = Promise.resolve();
  #seq = 0;
  #pending: Pending | undefined;
  #closed = false;

  constructor(transport: NetlinkTransport) {
    this.#transport = transport;
    transport.listen(
      (datagram, senderPort) => this.#receive(datagram, senderPort),
      (error) => this.#transportFailed(error),
    );
    transport.unref();
  }

  /** Sends a request after those before it have finished; resolves with the kernel's replies. */
  request(request: Request): Promise<Reply> {
    const run = () => this.#exchange(request);
    const result = this.#tail.then(run, run);
    this.#tail = result.catch(() => {});
    return result;
  }

  /** Fails the pending and queued requests with ECLOSED and closes the socket. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const pending = this.#pending;
    if (pending) this.#settle(localError('ECLOSED', pending.request.operation, undefined));
    this.#transport.close();
  }

  async #exchange(request: Request): Promise<Reply> {
    for (let attempt = 1; ; attempt++) {
      const { messages, interrupted } = await this.#once(request);
      if (!interrupted) return messages;
      if (attempt === DUMP_ATTEMPTS) {
        throw localError(
          'EINTR',
          request.operation,
          `the kernel interrupted the dump ${DUMP_ATTEMPTS} times because the state kept changing; try again`,
          request.subject,
        );
      }
    }
  }

  #once(request: Request): Promise<{ messages: NetlinkMessage[]; interrupted: boolean }> {
    if (this.#closed) {
      return Promise.reject(localError('ECLOSED', request.operation, undefined, request.subject));
    }
    return new Promise((resolve, reject) => {
      this.#seq = (this.#seq % 0xffff_ffff) + 1;
      const pending: Pending = {
        seq: this.#seq,
        request,
        messages: [],
        interrupted: false,
        resolve: (messages) => resolve({ messages, interrupted: pending.interrupted }),
        reject,
      };
      this.#pending = pending;
      this.#transport.ref();
      const flags = NLM_F_REQUEST | (request.dump ? NLM_F_DUMP : NLM_F_ACK) | (request.flags ?? 0);
      try {
        this.#transport.send(
          formatMessage({
            type: request.type,
            flags,
            seq: pending.seq,
            port: 0,
            data: [...request.body],
          }),
          (error) => {
            if (error !== undefined && this.#pending === pending) {
              this.#settle(socketError(error, request.operation, request.subject));
            }
          },
        );
      } catch (error) {
        this.#settle(
          localError('ECLOSED', request.operation, messageOf(error), request.subject, error),
        );
      }
    });
  }

  #receive(datagram: Buffer, senderPort: number): void {
    const pending = this.#pending;
    if (pending === undefined || senderPort !== 0) return;
    const { request } = pending;
    let messages: NetlinkMessage[];
    try {
      messages = parseMessages(datagram);
    } catch (error) {
      this.#settle(malformed(request, messageOf(error), error));
      return;
    }
    for (const message of messages) {
      if (message.seq !== pending.seq) continue;
      // The kernel marks the part of a dump (NLMSG_DONE included) during which the state changed.
      if ((message.flags & NLM_F_DUMP_INTR) !== 0) pending.interrupted = true;
      switch (message.type) {
        case NLMSG_NOOP:
          continue;
        case NLMSG_ERROR:
        case NLMSG_DONE: {
          // NLMSG_ERROR carries a negative errno, or 0 for an ACK; NLMSG_DONE
          // may carry the dump's error the same way.
          if (message.type === NLMSG_ERROR && message.data.length < 4) {
            this.#settle(malformed(request, `NLMSG_ERROR has ${message.data.length} bytes`));
            return;
          }
          const status = message.data.length >= 4 ? readS32.call(message.data, 0) : 0;
          if (status < 0) this.#settle(kernelError(-status, request.operation, request.subject));
          else this.#settle(undefined);
          return;
        }
        case NLMSG_OVERRUN:
          this.#settle(
            localError(
              'ENOBUFS',
              request.operation,
              'the kernel reported an overrun',
              request.subject,
            ),
          );
          return;
        default:
          pending.messages.push(message);
      }
    }
  }

  #transportFailed(error: TransportError): void {
    const pending = this.#pending;
    if (pending !== undefined)
      this.#settle(socketError(error, pending.request.operation, pending.request.subject));
  }

  /** Ends the pending request with its replies, or with `error`. */
  #settle(error: RtnetlinkError | undefined): void {
    const pending = this.#pending;
    if (pending === undefined) return;
    this.#pending = undefined;
    this.#transport.unref();
    if (error === undefined) pending.resolve(pending.messages);
    else pending.reject(error);
  }
}

function malformed(request: Request, detail: string, cause?: unknown): RtnetlinkError {
  return localError(
    'EPROTO',
    request.operation,
    `the kernel's reply does not parse (${detail})`,
    request.subject,
    cause,
  );
}
