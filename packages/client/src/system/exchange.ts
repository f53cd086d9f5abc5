import { connect, type Socket } from 'node:net';
import type { IpAddress } from '@wg-dynamic/ip';
import {
  type Response,
  ResponseParser,
  WG_DYNAMIC_ADDRESS,
  WG_DYNAMIC_PORT,
} from '@wg-dynamic/protocol';

export type ExchangeErrorCode =
  /** The connection could not be made (refused, unreachable, the address is gone…). */
  | 'CONNECT_FAILED'
  | 'CONNECT_TIMEOUT'
  /** Connected, but no complete answer came in time. */
  | 'ANSWER_TIMEOUT'
  /** The server closed the connection before its answer was complete. */
  | 'CLOSED_EARLY'
  /** The answer broke the wire format. */
  | 'MALFORMED'
  | 'TOO_LARGE'
  | 'SOCKET_ERROR'
  | 'ABORTED';

/** One exchange with the server failed; the message says how, for the log. */
export class ExchangeError extends Error {
  override readonly name = 'ExchangeError';
  readonly code: ExchangeErrorCode;

  constructor(code: ExchangeErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

export interface ExchangeOptions {
  /** The WireGuard interface: the scope of both link-local addresses. */
  readonly interfaceName: string;
  /** This client's link-local address on the interface, the connection's source. */
  readonly localAddress: IpAddress;
  readonly connectTimeoutMs: number;
  /** From the connection to the blank line that ends the answer, whatever trickles in. */
  readonly answerTimeoutMs: number;
  /** An answer that grows past this is refused (a real one is under 16 KiB). */
  readonly maxAnswerBytes: number;
  readonly signal?: AbortSignal;
  /**
   * Called once with a promise that settles when the socket is closed for
   * good. A process about to exit waits for it: a connection whose handshake
   * completed just as it was given up is reset once it reports, and closing
   * it by exiting instead would leave it in TIME_WAIT.
   */
  readonly onSocketClosed?: (closed: Promise<void>) => void;
  /** Default 970 both; tests may pick others. */
  readonly serverPort?: number;
  readonly localPort?: number;
}

export const DEFAULT_EXCHANGE_LIMITS = {
  connectTimeoutMs: 10_000,
  answerTimeoutMs: 5_000,
  maxAnswerBytes: 64 * 1024,
} as const;

/**
 * One request and its answer over TCP inside the tunnel: from
 * `[<link-local>%<interface>]:970` to `[fe80::%<interface>]:970`. Resolves with
 * the first complete response; bytes after its blank line are ignored (the
 * reference server keeps the connection open after a successful answer, so
 * the client must stop reading there).
 *
 * Closing: every exchange uses the same four-tuple (source port 970 to port
 * 970). A connection this side closes first with FIN sits in TIME_WAIT for
 * 60 s, and while it does, connecting the same four-tuple again works only
 * thanks to TCP timestamps (Linux lets an explicitly bound socket take over
 * a TIME_WAIT four-tuple when the old connection used them, tcp_twsk_unique);
 * with `net.ipv4.tcp_timestamps=0` it fails with EADDRNOTAVAIL, and every
 * renewal within a minute of the last exchange would fail. So once the whole
 * answer is in (or the exchange is given up), the connection is closed with
 * a reset (`resetAndDestroy()`: SO_LINGER 0), which leaves no TIME_WAIT on
 * either side whatever the sysctls say. Nothing is lost: the answer is
 * complete and the server has nothing more to say (the reference server
 * keeps the connection open after a successful answer, and treats the reset
 * as the end of it). When the server closes first (after an error answer),
 * the reset also ends its FIN_WAIT_2, so it keeps no TIME_WAIT either.
 * The client's lab test turns timestamps off to hold this to account.
 */
export function exchange(request: Uint8Array, options: ExchangeOptions): Promise<Response> {
  const scope = options.interfaceName;
  return new Promise((resolve, reject) => {
    if (options.signal?.aborted) {
      reject(new ExchangeError('ABORTED', 'the exchange was given up'));
      return;
    }
    const socket: Socket = connect({
      host: `${WG_DYNAMIC_ADDRESS}%${scope}`,
      port: options.serverPort ?? WG_DYNAMIC_PORT,
      localAddress: `${options.localAddress.toString()}%${scope}`,
      localPort: options.localPort ?? WG_DYNAMIC_PORT,
      family: 6,
      noDelay: true,
    });
    options.onSocketClosed?.(
      new Promise((settle) => {
        socket.once('close', () => settle());
      }),
    );
    const parser = new ResponseParser();
    let connected = false;
    let received = 0;
    let done = false;
    let timer = setTimeout(
      () =>
        finish(
          new ExchangeError(
            'CONNECT_TIMEOUT',
            `no connection to [fe80::%${scope}]:970 within ${options.connectTimeoutMs} ms`,
          ),
        ),
      options.connectTimeoutMs,
    );
    const onAbort = () => finish(new ExchangeError('ABORTED', 'the exchange was given up'));
    options.signal?.addEventListener('abort', onAbort, { once: true });

    const finish = (outcome: Response | ExchangeError) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      socket.removeAllListeners('data');
      socket.on('error', () => {});
      close();
      if (outcome instanceof ExchangeError) reject(outcome);
      else resolve(outcome);
    };

    // Never a FIN from this side (see above).
    const close = () => {
      if (socket.destroyed) return;
      if (connected) {
        socket.resetAndDestroy();
        return;
      }
      // Still connecting. A handshake that has completed already is reported
      // in this turn of the event loop: give it that turn and reset it if it
      // came; if not, the socket is still waiting for an answer to its SYN
      // and can simply go (nothing lingers after SYN_SENT). Waiting for the
      // handshake instead would hold the four-tuple for the kernel's two
      // minutes of SYN retries, and every attempt meanwhile would fail with
      // EADDRNOTAVAIL: a server unreachable for a while would stay so.
      setImmediate(() => {
        if (socket.destroyed) return;
        if (connected) socket.resetAndDestroy();
        else socket.destroy();
      });
    };

    socket.once('connect', () => {
      connected = true;
      if (done) return;
      clearTimeout(timer);
      timer = setTimeout(
        () =>
          finish(
            new ExchangeError(
              'ANSWER_TIMEOUT',
              `the server sent no complete answer within ${options.answerTimeoutMs} ms`,
            ),
          ),
        options.answerTimeoutMs,
      );
      socket.write(request);
    });
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received > options.maxAnswerBytes) {
        finish(
          new ExchangeError(
            'TOO_LARGE',
            `the server's answer grew past ${options.maxAnswerBytes} bytes without ending`,
          ),
        );
        return;
      }
      for (const event of parser.push(chunk)) {
        if (event.ok) finish(event.message);
        else
          finish(
            new ExchangeError(
              'MALFORMED',
              `the server's answer is malformed: ${event.error.message}`,
            ),
          );
        return;
      }
    });
    socket.on('end', () => {
      finish(
        new ExchangeError(
          'CLOSED_EARLY',
          received === 0
            ? 'the server closed the connection without answering'
            : 'the server closed the connection before its answer was complete',
        ),
      );
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      const code = connected ? 'SOCKET_ERROR' : 'CONNECT_FAILED';
      const what = connected
        ? 'the connection failed'
        : `cannot connect from [${options.localAddress.toString()}%${scope}]:970 to [fe80::%${scope}]:970`;
      finish(new ExchangeError(code, `${what}: ${error.code ?? error.message}`, { cause: error }));
    });
  });
}
