import { link, mkdir, open, readFile, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { FatalError } from '@wg-dynamic/cli';

/**
 * Writes this process's id to `path` (atomically) for wg-quick and init
 * scripts (`kill $(cat /run/wg-dynamic/wg0.pid)`), or as a lock. Refuses,
 * with `conflict(pid)` as the message, when the file names another
 * wg-dynamic-client that is still running. Returns the function that
 * removes the file again (only while it still holds this process's id).
 */
export async function claimPidFile(
  path: string,
  conflict: (pid: number) => string = (pid) =>
    `another wg-dynamic-client (pid ${pid}) already runs with the pid file ${path}: ` +
    `stop it first (\`kill ${pid}\`), or give this one another --pid-file`,
): Promise<() => Promise<void>> {
  const temporary = `${path}.tmp-${process.pid}`;
  try {
    await mkdir(dirname(path), { recursive: true, mode: 0o755 });
    const file = await open(temporary, 'w', 0o644);
    try {
      await file.writeFile(`${process.pid}\n`);
    } finally {
      await file.close();
    }
    // link() creates the name only if nothing holds it: of two clients
    // starting at once, one gets it. A file left by a process that is gone
    // is removed (only while it still names that process) and tried again.
    for (let attempt = 0; ; attempt++) {
      try {
        await link(temporary, path);
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt === 3) throw error;
      }
      const holder = await readPid(path);
      if (holder === process.pid) break;
      const other = await runningClient(holder);
      if (other !== undefined) throw new FatalError(conflict(other));
      if ((await readPid(path)) === holder) await rm(path, { force: true });
    }
  } catch (error) {
    if (error instanceof FatalError) throw error;
    throw new FatalError(`cannot write the pid file ${path}: ${(error as Error).message}`, {
      cause: error,
    });
  } finally {
    await rm(temporary, { force: true });
  }
  return async () => {
    if ((await readPid(path)) === process.pid) await rm(path, { force: true });
  };
}

async function readPid(path: string): Promise<number | undefined> {
  const text = await readFile(path, 'utf8').catch(() => '');
  const match = /^\s*(\d{1,10})\s*$/.exec(text.slice(0, 64));
  return match ? Number(match[1]) : undefined;
}

/** `pid` (read from the pid file), if that process is alive and is a wg-dynamic-client. */
async function runningClient(pid: number | undefined): Promise<number | undefined> {
  if (pid === undefined) return undefined;
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  return cmdline.includes('wg-dynamic-client') ? pid : undefined;
}
