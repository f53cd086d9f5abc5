import { spawn } from 'node:child_process';
import { closeSync, writeSync } from 'node:fs';

/** Set in the environment of the detached child; its value is the descriptor to report readiness on. */
export const DAEMON_ENV = 'WG_DYNAMIC_CLIENT_READY_FD';

const READY = 'ready\n';

/** True in the process that `--daemon` started. */
export function isDaemonChild(): boolean {
  return process.env[DAEMON_ENV] !== undefined;
}

/**
 * `--daemon`: starts this program again, detached (its own session, no
 * terminal, standard input and output on /dev/null, standard error shared
 * so that its logs go where this process's went), and waits until the child
 * reports that its start-up checks passed. Resolves with this process's exit
 * status: 0 once the child is ready, else the child's own status (its error
 * message is already on standard error).
 */
export function detach(): Promise<number> {
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    detached: true,
    stdio: ['ignore', 'ignore', 'inherit', 'pipe'],
    env: { ...process.env, [DAEMON_ENV]: '3' },
  });
  return new Promise((resolve) => {
    const channel = child.stdio[3];
    let said = '';
    let settled = false;
    const settle = (code: number) => {
      if (settled) return;
      settled = true;
      channel?.destroy();
      child.unref();
      resolve(code);
    };
    channel?.on('data', (chunk: Buffer) => {
      said += chunk.toString('latin1');
      if (said.startsWith(READY)) settle(0);
    });
    channel?.on('error', () => {});
    child.once('error', (error) => {
      process.stderr.write(`cannot start the background process: ${error.message}\n`);
      settle(1);
    });
    child.once('exit', (code, signal) => {
      if (settled) return;
      if (signal !== null) process.stderr.write(`the background process was killed by ${signal}\n`);
      settle(code ?? 1);
    });
  });
}

/** In the detached child: tells the parent that start-up succeeded, so that it exits 0. */
export function notifyReady(): void {
  const value = process.env[DAEMON_ENV];
  if (value === undefined) return;
  delete process.env[DAEMON_ENV];
  const fd = Number(value);
  try {
    writeSync(fd, READY);
    closeSync(fd);
  } catch {
    // The parent is gone already: nobody is waiting.
  }
}
