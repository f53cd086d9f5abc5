import { type ChildProcess, spawn } from 'node:child_process';
import { type Logger, silentLogger } from '@wg-dynamic/log';
import { LabError } from '../errors.js';
import { installHint } from '../prerequisites.js';
import { formatCommand } from './command-text.js';
import { LineBuffer } from './line-buffer.js';

/** How a process ended: an exit code, or the signal that killed it. */
export interface ProcessExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface StartOptions {
  /** The complete environment (default: this process's). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly cwd?: string;
  /** `pipe` keeps `stdin` open for writing; default `ignore`. */
  readonly stdin?: 'ignore' | 'pipe';
  /** How many lines of each stream to keep (default 10,000). */
  readonly maxLines?: number;
  /** Text for messages instead of the literal command line (e.g. without a wrapper). */
  readonly displayName?: string;
  readonly logger?: Logger;
}

export type OutputStream = 'stdout' | 'stderr' | 'any';

type LineListener = (stream: 'stdout' | 'stderr', line: string) => void;

/** After `exit`, how long to wait for the output pipes to close (a grandchild may hold them). */
const CLOSE_GRACE_MS = 200;

/**
 * A process the lab started: its output captured line by line, a way to
 * wait for a line, to signal it, and a promise of how it ended. It never
 * rejects: a crash is a `ProcessExit` like any other.
 */
export class LabProcess {
  readonly command: string;
  readonly exited: Promise<ProcessExit>;
  readonly #child: ChildProcess;
  readonly #stdout: LineBuffer;
  readonly #stderr: LineBuffer;
  readonly #listeners = new Set<LineListener>();
  #exit: ProcessExit | undefined;
  #closed = false;

  private constructor(child: ChildProcess, command: string, maxLines: number) {
    this.#child = child;
    this.command = command;
    this.#stdout = new LineBuffer(maxLines);
    this.#stderr = new LineBuffer(maxLines);
    this.#capture('stdout', this.#stdout);
    this.#capture('stderr', this.#stderr);
    this.exited = new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const finish = () => {
        if (timer !== undefined) clearTimeout(timer);
        this.#emitRest('stdout', this.#stdout);
        this.#emitRest('stderr', this.#stderr);
        this.#closed = true;
        resolve(this.#exit ?? { code: child.exitCode, signal: child.signalCode });
      };
      child.once('exit', (code, signal) => {
        this.#exit = { code, signal };
        timer = setTimeout(() => {
          child.stdout?.destroy();
          child.stderr?.destroy();
          finish();
        }, CLOSE_GRACE_MS);
      });
      child.once('close', finish);
    });
  }

  /**
   * Starts `argv` and resolves once the process exists. A program that is not
   * installed rejects with MISSING_PREREQUISITE and how to install it.
   */
  static start(argv: readonly string[], options: StartOptions = {}): Promise<LabProcess> {
    const [program, ...args] = argv;
    if (program === undefined) {
      return Promise.reject(new LabError('INVALID_ARGUMENT', 'cannot start an empty command'));
    }
    const command = options.displayName ?? formatCommand(argv);
    (options.logger ?? silentLogger).debug({ command }, `[#] ${command}`);
    const child = spawn(program, args, {
      env: options.env ?? process.env,
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
      stdio: [options.stdin ?? 'ignore', 'pipe', 'pipe'],
    });
    return new Promise((resolve, reject) => {
      child.once('error', (error: NodeJS.ErrnoException) => {
        reject(
          error.code === 'ENOENT'
            ? new LabError('MISSING_PREREQUISITE', installHint(program), { cause: error })
            : new LabError('COMMAND_FAILED', `cannot start ${command}: ${error.message}`, {
                cause: error,
              }),
        );
      });
      child.once('spawn', () =>
        resolve(new LabProcess(child, command, options.maxLines ?? 10_000)),
      );
    });
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  /** Writable when started with `stdin: 'pipe'`. */
  get stdin(): NodeJS.WritableStream | null {
    return this.#child.stdin;
  }

  /** Set once the process has exited. */
  get exitStatus(): ProcessExit | undefined {
    return this.#exit;
  }

  get stdoutLines(): readonly string[] {
    return this.#stdout.lines;
  }

  get stderrLines(): readonly string[] {
    return this.#stderr.lines;
  }

  /** The last lines of both streams, for error messages. */
  outputTail(count = 20): string {
    const stderr = this.#stderr.lines.slice(-count);
    const stdout = this.#stdout.lines.slice(-count);
    const parts: string[] = [];
    if (stdout.length > 0) parts.push(`stdout:\n  ${stdout.join('\n  ')}`);
    if (stderr.length > 0) parts.push(`stderr:\n  ${stderr.join('\n  ')}`);
    return parts.length > 0 ? parts.join('\n') : '(no output)';
  }

  /**
   * Resolves with the first line (already captured or still to come) that
   * matches; rejects when the process exits first or the time is up.
   */
  waitForLine(pattern: RegExp, timeoutMs = 10_000, stream: OutputStream = 'any'): Promise<string> {
    const matches = (line: string) => {
      pattern.lastIndex = 0;
      return pattern.test(line);
    };
    const seen = [
      ...(stream === 'stderr' ? [] : this.#stdout.lines),
      ...(stream === 'stdout' ? [] : this.#stderr.lines),
    ].find(matches);
    if (seen !== undefined) return Promise.resolve(seen);
    if (this.#closed) {
      return Promise.reject(this.#exitedBefore(`a line matching ${pattern}`));
    }
    return new Promise((resolve, reject) => {
      const listener: LineListener = (from, line) => {
        if ((stream === 'any' || stream === from) && matches(line)) {
          cleanup();
          resolve(line);
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(
          new LabError(
            'TIMEOUT',
            `${this.command} printed no line matching ${pattern} within ${timeoutMs} ms\n${this.outputTail()}`,
          ),
        );
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.#listeners.delete(listener);
      };
      this.#listeners.add(listener);
      void this.exited.then(() => {
        if (!this.#listeners.has(listener)) return;
        cleanup();
        reject(this.#exitedBefore(`a line matching ${pattern}`));
      });
    });
  }

  /** Sends a signal; false when the process has already exited. */
  kill(signal: NodeJS.Signals = 'SIGTERM'): boolean {
    if (this.#exit !== undefined || this.#child.exitCode !== null) return false;
    return this.#child.kill(signal);
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
  async stop(graceMs = 2_000): Promise<ProcessExit> {
    if (this.kill('SIGTERM')) {
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), graceMs);
      });
      const first = await Promise.race([this.exited, timedOut]);
      clearTimeout(timer);
      if (first === 'timeout') this.kill('SIGKILL');
    }
    return this.exited;
  }

  #exitedBefore(what: string): LabError {
    const exit = this.#exit;
    const how =
      exit === undefined
        ? 'ended'
        : exit.signal !== null
          ? `was killed by ${exit.signal}`
          : `exited with status ${exit.code}`;
    return new LabError(
      'PROCESS_EXITED',
      `${this.command} ${how} before ${what}\n${this.outputTail()}`,
    );
  }

  #capture(name: 'stdout' | 'stderr', buffer: LineBuffer): void {
    const stream = this.#child[name];
    if (stream === null) return;
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      for (const line of buffer.push(chunk)) this.#emit(name, line);
    });
    stream.on('error', () => {});
  }

  #emitRest(name: 'stdout' | 'stderr', buffer: LineBuffer): void {
    for (const line of buffer.flush()) this.#emit(name, line);
  }

  #emit(name: 'stdout' | 'stderr', line: string): void {
    for (const listener of this.#listeners) listener(name, line);
  }
}
