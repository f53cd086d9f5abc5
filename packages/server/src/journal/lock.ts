import { join, resolve } from 'node:path';
import type { Logger } from '@wg-dynamic/log';
import { errnoName, fileSystemError, JournalError } from './errors.js';
import { LOCK_NAME } from './file-names.js';
import type { JournalFileSystem } from './file-system.js';

/** True when a process with this pid exists (kill(pid, 0): EPERM means it does). */
export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return errnoName(error) === 'EPERM';
  }
}

/** Lock files this process holds, so a second open in the same process is refused too. */
const heldHere = new Set<string>();

export interface DirectoryLock {
  /** The pid of a dead holder whose lock was taken over, if there was one. */
  readonly stalePid: number | undefined;
  release(): Promise<void>;
}

export interface LockOptions {
  readonly fileSystem: JournalFileSystem;
  readonly directory: string;
  readonly pid: number;
  readonly processExists: (pid: number) => boolean;
  readonly logger: Logger;
}

/**
 * Takes the state directory for this process: `lock` is created as a
 * symbolic link whose target is our pid. symlink(2) is atomic and fails when
 * the name exists, and a link needs no data block, so taking the lock works
 * on a full disk (a restart while the disk is full must still start).
 *
 * A lock naming a pid that no process has is stale (its server died without
 * closing): it is removed, with a warning, and taken. So is one naming our
 * own pid that this process does not hold (a server that is PID 1 in a
 * container meets its own pid again after a restart). Two servers starting
 * at the same instant over the same stale lock could both remove it; run one
 * server per interface (systemd does).
 */
export async function lockDirectory(options: LockOptions): Promise<DirectoryLock> {
  const { fileSystem: fs, directory, pid, logger } = options;
  const path = join(directory, LOCK_NAME);
  const key = resolve(path);
  if (heldHere.has(key)) {
    throw new JournalError(
      'locked',
      `the lease journal in ${directory} is already open in this process; close it first`,
      { file: path },
    );
  }
  let stalePid: number | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      await fs.symlink(String(pid), path);
      heldHere.add(key);
      return { stalePid, release: () => release(fs, path, key) };
    } catch (error) {
      if (errnoName(error) !== 'EEXIST') throw fileSystemError(error, 'create the lock', path);
    }
    let target: string;
    try {
      target = await fs.readLink(path);
    } catch (error) {
      if (errnoName(error) === 'ENOENT') continue; // released meanwhile: try again
      if (errnoName(error) === 'EINVAL') throw foreignLock(path, 'it is not a symbolic link');
      throw fileSystemError(error, 'read the lock', path);
    }
    if (!/^[1-9]\d{0,9}$/.test(target)) throw foreignLock(path, `it points at "${target}"`);
    const holder = Number(target);
    if (holder !== pid && options.processExists(holder)) {
      throw new JournalError(
        'locked',
        `another process (pid ${holder}) holds the lease journal in ${directory}: is a ` +
          `wg-dynamic-server already running for this interface? If pid ${holder} is not a ` +
          `wg-dynamic-server, remove ${path}`,
        { file: path },
      );
    }
    logger.warn(
      { lock: path, pid: holder },
      `removing the stale lock of pid ${holder}, which no longer runs`,
    );
    stalePid = holder;
    try {
      await fs.unlink(path);
    } catch (error) {
      if (errnoName(error) !== 'ENOENT')
        throw fileSystemError(error, 'remove the stale lock', path);
    }
  }
  throw new JournalError(
    'locked',
    `another process keeps taking the lock ${path}; is a second server starting?`,
    { file: path },
  );
}

function foreignLock(path: string, why: string): JournalError {
  return new JournalError(
    'locked',
    `${path} is not a lock wg-dynamic-server made (${why}); remove it if no server runs for this interface`,
    { file: path },
  );
}

async function release(fs: JournalFileSystem, path: string, key: string): Promise<void> {
  if (!heldHere.delete(key)) return;
  try {
    await fs.unlink(path);
  } catch (error) {
    if (errnoName(error) !== 'ENOENT') throw fileSystemError(error, 'remove the lock', path);
  }
}
