import { spawn } from 'node:child_process';
import { type Logger, silentLogger } from '@wg-dynamic/log';
import { LabError } from '../errors.js';
import { installHint } from '../prerequisites.js';
import { formatCommand } from './command-text.js';

export interface CommandResult {
  /** The command line as text (quoted for a shell). */
  readonly command: string;
  readonly stdout: string;
  /** stdout as bytes, for commands whose output is not text. */
  readonly stdoutBytes: Uint8Array;
  readonly stderr: string;
  /** The exit status; null when a signal ended the command. */
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface RunOptions {
  /** Throw COMMAND_FAILED (with the command and its stderr) unless it exits with 0. */
  readonly check?: boolean;
  /** Written to the command's stdin, which is then closed (default: no stdin). */
  readonly input?: string | Uint8Array;
  /** The complete environment (default: this process's). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly cwd?: string;
  /** Kill the command (SIGKILL) and throw TIMEOUT after this long; default 60 s. */
  readonly timeoutMs?: number;
  /** Text for messages instead of the literal command line (e.g. without a wrapper). */
  readonly displayName?: string;
  readonly logger?: Logger;
}

/** Output beyond this is cut: lab commands print little, a runaway one must not eat memory. */
const MAX_OUTPUT_BYTES = 16 * 1024 * 1024;

/** Runs a command to its end and collects its output. */
export function runCommand(
  argv: readonly string[],
  options: RunOptions = {},
): Promise<CommandResult> {
  const [program, ...args] = argv;
  if (program === undefined) {
    return Promise.reject(new LabError('INVALID_ARGUMENT', 'cannot run an empty command'));
  }
  const command = options.displayName ?? formatCommand(argv);
  (options.logger ?? silentLogger).debug({ command }, `[#] ${command}`);
  const timeoutMs = options.timeoutMs ?? 60_000;

  return new Promise((resolve, reject) => {
    const child = spawn(program, args, {
      env: options.env ?? process.env,
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    const stdout = collect(child.stdout);
    const stderr = collect(child.stderr);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);

    child.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(
        error.code === 'ENOENT'
          ? new LabError('MISSING_PREREQUISITE', installHint(program), { cause: error })
          : new LabError('COMMAND_FAILED', `cannot run ${command}: ${error.message}`, {
              cause: error,
            }),
      );
    });
    if (options.input !== undefined && child.stdin !== null) {
      child.stdin.on('error', () => {}); // the command may exit without reading
      child.stdin.end(options.input);
    }
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const stdoutBytes = stdout();
      const result: CommandResult = {
        command,
        stdout: stdoutBytes.toString('utf8'),
        stdoutBytes,
        stderr: stderr().toString('utf8'),
        code,
        signal,
      };
      if (timedOut) {
        reject(
          new LabError(
            'TIMEOUT',
            `${command} did not finish within ${timeoutMs} ms and was killed${describeOutput(result)}`,
          ),
        );
      } else if (options.check === true && code !== 0) {
        reject(commandFailed(result));
      } else {
        resolve(result);
      }
    });
  });
}

/** The error for a command that did not exit with 0: the command, how it ended, its stderr. */
export function commandFailed(result: CommandResult): LabError {
  const how =
    result.signal !== null ? `was killed by ${result.signal}` : `exited with status ${result.code}`;
  return new LabError('COMMAND_FAILED', `${result.command} ${how}${describeOutput(result)}`);
}

function describeOutput(result: Pick<CommandResult, 'stdout' | 'stderr'>): string {
  const stderr = result.stderr.trimEnd();
  if (stderr !== '') return `:\n${stderr}`;
  const stdout = result.stdout.trimEnd();
  return stdout === '' ? ' (no output)' : `; its output:\n${stdout}`;
}

function collect(stream: NodeJS.ReadableStream | null): () => Buffer {
  const chunks: Buffer[] = [];
  let size = 0;
  stream?.on('data', (chunk: Buffer) => {
    if (size >= MAX_OUTPUT_BYTES) return;
    chunks.push(chunk);
    size += chunk.length;
  });
  return () => Buffer.concat(chunks);
}
