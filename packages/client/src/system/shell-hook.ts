import { spawn } from 'node:child_process';

/** How a hook run ended. */
export interface HookOutcome {
  /** The exit status; null when the command was killed by a signal or never ran. */
  readonly status: number | null;
  /** The signal that ended it, if one did. */
  readonly signal: NodeJS.Signals | null;
  /** The run exceeded its time and was killed. */
  readonly timedOut: boolean;
  /** Standard output and standard error, interleaved, cut at `maxOutputBytes`. */
  readonly output: string;
  readonly truncated: boolean;
  /** Why it could not be started (no /bin/sh…). */
  readonly error?: string;
}

export interface HookRunOptions {
  /** The variables to set; `undefined` ones are removed from the inherited environment. */
  readonly environment: Readonly<Record<string, string | undefined>>;
  /** After this, the command's process group gets SIGTERM, and SIGKILL 2 seconds later. */
  readonly timeoutMs: number;
  readonly maxOutputBytes?: number;
}

/** Runs an operator's command: the port behind which `--prefix-hook` runs, faked in tests. */
export type HookRunner = (command: string, options: HookRunOptions) => Promise<HookOutcome>;

export const DEFAULT_HOOK_TIMEOUT_MS = 30_000;
export const DEFAULT_HOOK_OUTPUT_BYTES = 16 * 1024;
const KILL_GRACE_MS = 2_000;
/** After the shell exits, how long a background child may keep its output open. */
const OUTPUT_GRACE_MS = 500;

/**
 * Runs `command` with `/bin/sh -c`, as wg-quick runs PostUp, in its own
 * process group (so that a timeout ends everything it started), with the
 * client's environment plus `environment`, standard input from /dev/null.
 * Never rejects: every ending is an outcome.
 */
export const runShellHook: HookRunner = (command, options) => {
  const limit = options.maxOutputBytes ?? DEFAULT_HOOK_OUTPUT_BYTES;
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const [name, value] of Object.entries(options.environment)) {
    if (value === undefined) delete env[name];
    else env[name] = value;
  }
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let truncated = false;
    let timedOut = false;
    let exited: { status: number | null; signal: NodeJS.Signals | null } | undefined;
    const timers: NodeJS.Timeout[] = [];
    let done = false;

    const child = spawn('/bin/sh', ['-c', command], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const finish = (error?: string) => {
      if (done) return;
      done = true;
      for (const timer of timers) clearTimeout(timer);
      child.stdout?.destroy();
      child.stderr?.destroy();
      resolve({
        status: exited?.status ?? null,
        signal: exited?.signal ?? null,
        timedOut,
        output: Buffer.concat(chunks).toString('utf8'),
        truncated,
        ...(error === undefined ? {} : { error }),
      });
    };
    const collect = (chunk: Buffer) => {
      const room = limit - size;
      if (chunk.length > room) truncated = true;
      if (room <= 0) return;
      const kept = chunk.length > room ? chunk.subarray(0, room) : chunk;
      chunks.push(kept);
      size += kept.length;
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    const signalGroup = (signal: NodeJS.Signals) => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, signal);
      } catch {
        // The group is gone already.
      }
    };
    timers.push(
      setTimeout(() => {
        timedOut = true;
        signalGroup('SIGTERM');
        timers.push(
          setTimeout(() => {
            signalGroup('SIGKILL');
            // Whatever still holds the output open is not waited for.
            timers.push(setTimeout(() => finish(), OUTPUT_GRACE_MS));
          }, KILL_GRACE_MS),
        );
      }, options.timeoutMs),
    );
    child.on('error', (error) => finish(error.message));
    child.on('exit', (status, signal) => {
      exited = { status, signal };
      // A child the command left in the background may hold the pipes open.
      timers.push(setTimeout(() => finish(), OUTPUT_GRACE_MS));
    });
    child.on('close', () => finish());
  });
};
