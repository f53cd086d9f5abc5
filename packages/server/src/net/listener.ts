import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from '@wg-dynamic/log';
import {
  type Request,
  RequestParser,
  type ResponseFields,
  serializeResponse,
} from '@wg-dynamic/protocol';
import type { PeerId } from '../leases/lease.js';
import { RateLimitedLog } from './rate-limited-log.js';

export interface ListenerLimits {
  /** Connections open at once, all peers together. */
  readonly maxConnections: number;
  /** Connections open at once from one peer. */
  readonly maxConnectionsPerPeer: number;
  /** A connection that sends nothing for this long is closed. */
  readonly idleTimeoutMs: number;
  /**
   * A request must be whole this long after the connection opened or the
   * previous answer left, or the connection is closed: a peer that trickles
   * a byte now and then (slow loris) is never idle, but it cannot hold a
   * connection for longer than this either.
   */
  readonly requestTimeoutMs: number;
}

export const DEFAULT_LIMITS: ListenerLimits = {
  maxConnections: 1024,
  maxConnectionsPerPeer: 4,
  idleTimeoutMs: 10_000,
  requestTimeoutMs: 10_000,
};

/** Why a connection was refused, as logged and counted. */
export type Refusal =
  | 'wrong-source-port'
  | 'unknown-source'
  | 'too-many-connections'
  | 'too-many-peer-connections'
  | 'invalid-request'
  | 'request-timeout';

export interface ListenerOptions {
  /** `fe80::%wg0`: the server's address, scoped to its interface. */
  readonly host: string;
  readonly port: number;
  /** Connections from any other source port are refused (970 in production). */
  readonly sourcePort: number | undefined;
  /** The peer that owns a link-local source address (scope stripped), if any. */
  identify(address: string): Promise<PeerId | undefined>;
  handle(peer: PeerId, request: Request): Promise<ResponseFields>;
  readonly logger: Logger;
  readonly limits?: Partial<ListenerLimits>;
  /** Called with each refusal, for the metrics. */
  onRefusal?(reason: Refusal): void;
}

/**
 * The TCP side of the server: one connection per client exchange (the
 * reference client opens one per request), several requests per connection
 * answered in order. A hostile or broken peer is bounded: a connection cap in
 * total and per peer, an idle timeout, the codec's line limit, and
 * backpressure (a peer that does not read its answers gets no more of them
 * parsed). An unparsable request gets the reference's error answer and the
 * connection is closed.
 */
export class Listener {
  private readonly options: ListenerOptions;
  private readonly limits: ListenerLimits;
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private readonly perPeer = new Map<PeerId, number>();
  private readonly busy = new Set<Socket>();
  private readonly refusals: RateLimitedLog;
  private closing = false;

  constructor(options: ListenerOptions) {
    this.options = options;
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.refusals = new RateLimitedLog(options.logger, 20);
    // Half-open: a client may send its request and FIN at once, and still get its answer.
    this.server = createServer({ noDelay: true, allowHalfOpen: true }, (socket) =>
      this.accept(socket),
    );
  }

  async listen(): Promise<void> {
    this.server.listen({
      host: this.options.host,
      port: this.options.port,
      exclusive: true,
      // Room in the kernel's accept queue for as many connections as the server
      // takes: with Node's default (511), a burst of 1,024 clients loses SYNs,
      // and each lost one costs its client a second or more.
      backlog: this.limits.maxConnections,
    });
    await Promise.race([
      once(this.server, 'listening'),
      once(this.server, 'error').then(([error]) => {
        throw error;
      }),
    ]);
  }

  /** The bound port (useful when listening on port 0 in tests). */
  get port(): number {
    const address = this.server.address();
    return typeof address === 'object' && address ? address.port : 0;
  }

  get connectionCount(): number {
    return this.sockets.size;
  }

  /**
   * Stops accepting, lets requests in flight finish and be answered, closes
   * idle connections at once and everything else after `graceMs`.
   */
  async close(graceMs = 5000): Promise<void> {
    this.closing = true;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.sockets) if (!this.busy.has(socket)) socket.end();
    const deadline = setTimeout(() => {
      for (const socket of this.sockets) socket.destroy();
    }, graceMs);
    await closed;
    clearTimeout(deadline);
  }

  private refuse(socket: Socket, reason: Refusal, fields: object, message: string): void {
    this.options.onRefusal?.(reason);
    this.refusals.warn({ reason, ...fields }, message);
    socket.destroy();
  }

  private accept(socket: Socket): void {
    const remote = (socket.remoteAddress ?? '').replace(/%.*$/, '');
    const source = { address: remote, port: socket.remotePort };
    if (this.closing) {
      socket.destroy();
      return;
    }
    if (this.sockets.size >= this.limits.maxConnections) {
      this.refuse(
        socket,
        'too-many-connections',
        source,
        'connection refused: too many connections',
      );
      return;
    }
    if (this.options.sourcePort !== undefined && socket.remotePort !== this.options.sourcePort) {
      this.refuse(
        socket,
        'wrong-source-port',
        source,
        `connection refused: source port ${socket.remotePort} is not ${this.options.sourcePort} (clients must bind it)`,
      );
      return;
    }
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => {}); // a reset by the peer ends up in 'close'
    socket.pause();
    socket.setTimeout(this.limits.idleTimeoutMs, () => socket.destroy());
    this.options
      .identify(remote)
      .then((peer) => {
        if (socket.destroyed) return;
        if (!peer) {
          this.refuse(
            socket,
            'unknown-source',
            source,
            `connection refused: no peer has ${remote}/128 in its allowed-ips`,
          );
          return;
        }
        const open = this.perPeer.get(peer) ?? 0;
        if (open >= this.limits.maxConnectionsPerPeer) {
          this.refuse(
            socket,
            'too-many-peer-connections',
            { ...source, peer },
            `connection refused: peer already has ${open} connections open`,
          );
          return;
        }
        this.perPeer.set(peer, open + 1);
        socket.once('close', () => {
          const left = (this.perPeer.get(peer) ?? 1) - 1;
          if (left > 0) this.perPeer.set(peer, left);
          else this.perPeer.delete(peer);
        });
        this.serve(socket, peer);
      })
      .catch((error: unknown) => {
        this.options.logger.error({ ...source, err: error }, 'could not identify a client');
        socket.destroy();
      });
  }

  private serve(socket: Socket, peer: PeerId): void {
    const parser = new RequestParser();
    const queue: ReturnType<RequestParser['push']> = [];
    let working = false;
    let broken = false; // a protocol error was parsed: nothing after it counts
    let ended = false; // the client sent FIN: answer what is queued, then close

    // The whole-request deadline: running while the server waits for a
    // request, stopped while it works on one.
    let deadline: NodeJS.Timeout | undefined;
    const awaitRequest = () => {
      clearTimeout(deadline);
      deadline = setTimeout(() => {
        this.options.onRefusal?.('request-timeout');
        this.refusals.warn(
          { peer, reason: 'request-timeout', timeoutMs: this.limits.requestTimeoutMs },
          'request not complete in time; connection closed',
        );
        socket.destroy();
      }, this.limits.requestTimeoutMs);
    };
    socket.once('close', () => clearTimeout(deadline));

    const finish = () => {
      if (this.closing || ended || broken) socket.end();
      else {
        awaitRequest();
        socket.resume();
      }
    };

    const work = async () => {
      working = true;
      clearTimeout(deadline);
      this.busy.add(socket);
      socket.pause();
      try {
        for (let event = queue.shift(); event; event = queue.shift()) {
          if (socket.destroyed) return;
          if (!event.ok) {
            this.options.onRefusal?.('invalid-request');
            this.refusals.warn(
              { peer, reason: 'invalid-request', error: event.error.message },
              'invalid request; answered with errno and closed',
            );
            socket.end(serializeResponse({ errno: event.error.errno }));
            return;
          }
          const response = await this.options.handle(peer, event.message);
          if (socket.destroyed) return;
          // Answers to requests that came together leave together (one packet
          // for many, not one each): held back while more requests wait.
          if (queue.length > 0 && socket.writableCorked === 0) socket.cork();
          const written = socket.write(serializeResponse(response));
          if (queue.length === 0 || !written) uncork(socket);
          if (!written) await Promise.race([once(socket, 'drain'), once(socket, 'close')]);
        }
        finish();
      } catch (error) {
        this.options.logger.error({ peer, err: error }, 'request failed');
        socket.destroy();
      } finally {
        uncork(socket);
        working = false;
        this.busy.delete(socket);
      }
    };

    socket.on('data', (chunk: Buffer) => {
      // Once closing, idle connections are ended: what arrives on them is not served.
      if (broken || this.closing) return;
      const events = parser.push(chunk);
      if (events.some((event) => !event.ok)) broken = true;
      queue.push(...events);
      if (!working && queue.length > 0) void work();
    });
    socket.on('end', () => {
      ended = true;
      clearTimeout(deadline);
      if (!working) socket.end();
    });
    awaitRequest();
    socket.resume();
  }
}

function uncork(socket: Socket): void {
  while (socket.writableCorked > 0) socket.uncork();
}
