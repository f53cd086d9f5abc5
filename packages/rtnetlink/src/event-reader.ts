import { type ChildProcess, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { messageOf } from './attributes.js';
import {
  errnoNumber,
  kernelError,
  localError,
  RtnetlinkError,
  type RtnetlinkOperation,
  socketError,
} from './errors.js';
import { type Frame, FrameReader } from './frame-reader.js';

/** Where notifications come from: datagrams, then at most one error. */
export interface EventSource {
  /** Installs the receivers, once; datagrams that came before are delivered then. */
  listen(
    onDatagram: (datagram: Buffer, senderPort: number) => void,
    onError: (error: RtnetlinkError) => void,
  ): void;
  close(): void;
}

/** The exit status with which the reader says it could not pass notifications on fast enough. */
const EX_TEMPFAIL = 75;
const STDERR_LIMIT = 4096;

// From src/ (tests) and from dist/ alike, the reader is one level up.
const workerPath = fileURLToPath(new URL('../worker/event-reader.cjs', import.meta.url));

/**
 * Starts the process that reads notifications of the given groups
 * (worker/event-reader.cjs says why it is a process); resolves once it has
 * subscribed, so that every change from then on arrives.
 */
export function startEventReader(
  groups: readonly number[],
  receiveBufferSize: number | undefined,
): Promise<EventSource> {
  let netlinkPath: string;
  try {
    netlinkPath = createRequire(import.meta.url).resolve('netlink');
  } catch (error) {
    return Promise.reject(socketError(error, 'open'));
  }
  const child = spawn(
    process.execPath,
    [workerPath, netlinkPath, groups.join(','), String(receiveBufferSize ?? 0)],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  return new Promise((resolve, reject) => {
    const reader = new ReaderProcess(child, resolve, reject);
    reader.start();
  });
}

class ReaderProcess implements EventSource {
  readonly #child: ChildProcess;
  readonly #frames = new FrameReader();
  #ready: ((source: EventSource) => void) | undefined;
  #notReady: ((error: RtnetlinkError) => void) | undefined;
  #onDatagram: ((datagram: Buffer, senderPort: number) => void) | undefined;
  #onError: ((error: RtnetlinkError) => void) | undefined;
  /** What arrived between `ready` and `listen()`. */
  #early: Frame[] = [];
  #earlyError: RtnetlinkError | undefined;
  #stderr = '';
  #finished = false;

  constructor(
    child: ChildProcess,
    ready: (source: EventSource) => void,
    notReady: (error: RtnetlinkError) => void,
  ) {
    this.#child = child;
    this.#ready = ready;
    this.#notReady = notReady;
  }

  start(): void {
    const child = this.#child;
    child.stdout?.on('data', (chunk: Buffer) => this.#receive(chunk));
    child.stderr?.on('data', (chunk: Buffer) => {
      if (this.#stderr.length < STDERR_LIMIT) this.#stderr += chunk.toString('utf8');
    });
    // The pipes fail with EPIPE once the reader is gone; its exit says why.
    child.stdin?.on('error', () => {});
    child.on('error', (error) => this.#fail(socketError(error, this.#operation())));
    child.on('exit', (code, signal) =>
      this.#fail(readerExitError(code, signal, this.#stderr, this.#operation())),
    );
  }

  listen(
    onDatagram: (datagram: Buffer, senderPort: number) => void,
    onError: (error: RtnetlinkError) => void,
  ): void {
    this.#onDatagram = onDatagram;
    this.#onError = onError;
    const early = this.#early;
    this.#early = [];
    for (const frame of early) this.#handle(frame);
    const error = this.#earlyError;
    this.#earlyError = undefined;
    if (error !== undefined) onError(error);
  }

  close(): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#child.stdout?.destroy();
    this.#child.stdin?.end();
    this.#child.kill('SIGTERM');
  }

  #operation(): RtnetlinkOperation {
    return this.#ready === undefined ? 'events' : 'open';
  }

  #receive(chunk: Buffer): void {
    if (this.#finished) return;
    let frames: Frame[];
    try {
      frames = this.#frames.push(chunk);
    } catch (error) {
      this.#fail(
        localError(
          'EPROTO',
          this.#operation(),
          `the notification reader's output does not parse (${messageOf(error)})`,
          undefined,
          error,
        ),
      );
      return;
    }
    for (const frame of frames) {
      if (this.#finished) return;
      this.#handle(frame);
    }
  }

  #handle(frame: Frame): void {
    if (frame.kind === 'ready') {
      const ready = this.#ready;
      this.#ready = undefined;
      this.#notReady = undefined;
      ready?.(this);
      return;
    }
    if (frame.kind === 'error') {
      const cause = new Error(frame.message);
      const error =
        frame.errno > 0
          ? kernelError(frame.errno, this.#operation(), undefined, cause)
          : socketError(cause, this.#operation());
      this.#fail(error);
      return;
    }
    if (this.#ready !== undefined) {
      this.#fail(
        localError(
          'EPROTO',
          'open',
          'the notification reader sent a notification before it was ready',
        ),
      );
      return;
    }
    if (this.#onDatagram === undefined) this.#early.push(frame);
    else this.#onDatagram(frame.datagram, frame.senderPort);
  }

  /** Ends the reader with `error`: before ready, opening fails; after, the listener hears it. */
  #fail(error: RtnetlinkError): void {
    if (this.#finished) return;
    this.close();
    const notReady = this.#notReady;
    if (notReady !== undefined) {
      this.#ready = undefined;
      this.#notReady = undefined;
      notReady(error);
      return;
    }
    if (this.#onError === undefined) this.#earlyError = error;
    else this.#onError(error);
  }
}

/**
 * Why the reader process ended on its own. The netlink binding aborts the
 * process (SIGABRT, a Napi::Error on stderr) when its socket reports POLLERR,
 * and a notification socket only does that when the kernel dropped
 * notifications for a full receive buffer: ENOBUFS.
 */
export function readerExitError(
  code: number | null,
  signal: NodeJS.Signals | null,
  stderr: string,
  operation: RtnetlinkOperation,
): RtnetlinkError {
  const diagnostics = stderr.trim();
  if (signal === 'SIGABRT' && diagnostics.includes('Napi::Error')) {
    return kernelError(
      errnoNumber('ENOBUFS') ?? 105,
      operation,
      undefined,
      new Error(`the notification reader aborted on its socket's error: ${diagnostics}`),
    );
  }
  if (code === EX_TEMPFAIL) {
    return localError(
      'ENOBUFS',
      operation,
      'notifications arrived faster than they could be passed on; read the state again (list) and subscribe anew',
    );
  }
  const how = signal === null ? `with status ${code}` : `on signal ${signal}`;
  return new RtnetlinkError(
    'EUNKNOWN',
    operation,
    `the rtnetlink event stream failed: the process reading notifications exited ${how}` +
      `${diagnostics === '' ? '' : ` (${diagnostics})`}; subscribe anew`,
  );
}
