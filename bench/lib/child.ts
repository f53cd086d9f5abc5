import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

/**
 * A helper process of a benchmark that speaks JSON lines: commands go to its
 * stdin, events come back on its stdout, one JSON object a line. Its stderr
 * goes where the caller says (a log file, or nowhere).
 */
export class JsonLineChild {
  readonly argv: readonly string[];
  /** Epoch milliseconds when it was spawned. */
  readonly spawnedAt: number;
  private readonly child: ChildProcess;
  private readonly events: object[] = [];
  private waiting: ((event: object | Error) => void) | undefined;
  private ended: Error | undefined;
  private readonly exited: Promise<number | null>;

  constructor(argv: readonly string[], stderr: number | 'ignore' | 'inherit') {
    const [program, ...args] = argv;
    if (!program) throw new Error('cannot start an empty command');
    this.argv = argv;
    this.spawnedAt = performance.timeOrigin + performance.now();
    this.child = spawn(program, args, { stdio: ['pipe', 'pipe', stderr] });
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
    const lines = createInterface({ input: this.child.stdout as NodeJS.ReadableStream });
    lines.on('line', (line) => {
      let event: object;
      try {
        event = JSON.parse(line) as object;
      } catch {
        return; // not ours: a helper may print other things
      }
      this.deliver(event);
    });
    lines.on('close', () => {
      this.ended = new Error(`${argv.join(' ')} ended`);
      this.deliver(this.ended);
    });
    this.child.once('error', (error) => {
      this.ended = error;
      this.deliver(error);
    });
  }

  /** The next event it prints (those printed already first). */
  next<T extends object>(timeoutMs = 600_000): Promise<T> {
    const queued = this.events.shift();
    if (queued) return Promise.resolve(queued as T);
    if (this.ended) return Promise.reject(this.ended);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting = undefined;
        reject(new Error(`no answer from ${this.argv.join(' ')} in ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting = (event) => {
        clearTimeout(timer);
        if (event instanceof Error) reject(event);
        else resolve(event as T);
      };
    });
  }

  /** Sends one command line and waits for the event it answers with. */
  async ask<T extends object>(command: string | object, timeoutMs?: number): Promise<T> {
    this.send(command);
    return this.next<T>(timeoutMs);
  }

  send(command: string | object): void {
    const line = typeof command === 'string' ? command : JSON.stringify(command);
    this.child.stdin?.write(`${line}\n`);
  }

  /** Closes its stdin (which ends it) and waits for its exit; SIGKILL after `graceMs`. */
  async close(graceMs = 30_000): Promise<number | null> {
    this.child.stdin?.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }

  private deliver(event: object | Error): void {
    const waiting = this.waiting;
    if (waiting) {
      this.waiting = undefined;
      waiting(event);
    } else if (!(event instanceof Error)) {
      this.events.push(event);
    }
  }
}
