import * as fs from 'node:fs/promises';
import { dirname } from 'node:path';

/** An open journal file: positioned reads and writes, nothing else. */
export interface JournalFile {
  /** Reads up to `buffer.length` bytes at `position`; returns how many were read (0 at the end). */
  read(buffer: Uint8Array, position: number): Promise<number>;
  /** Writes `buffer` at `position` (pwrite); may write fewer bytes, and says how many. */
  write(buffer: Uint8Array, position: number): Promise<number>;
  /** fdatasync(2): the data and the size that reads need are on the disk. */
  datasync(): Promise<void>;
  /** The file's size in bytes (fstat). */
  size(): Promise<number>;
  close(): Promise<void>;
}

/**
 * How a file is opened: `read` (O_RDONLY), `update` (O_RDWR), `create`
 * (O_RDWR|O_CREAT|O_EXCL: fails when it exists), `replace` (O_RDWR|O_CREAT|O_TRUNC).
 */
export type OpenMode = 'read' | 'update' | 'create' | 'replace';

/**
 * Every file-system operation the journal makes. The journal runs on
 * `nodeFileSystem`; tests wrap it to make a chosen operation fail (ENOSPC,
 * EIO) or to count fdatasync calls, which a real disk cannot do on demand.
 */
export interface JournalFileSystem {
  /**
   * Creates the directory and any missing parents with `mode`; returns the
   * directories it created, outermost first (empty when it existed).
   */
  makeDirectory(path: string, mode: number): Promise<string[]>;
  /** The names in a directory. */
  list(directory: string): Promise<string[]>;
  open(path: string, mode: OpenMode): Promise<JournalFile>;
  readFile(path: string): Promise<Buffer>;
  rename(from: string, to: string): Promise<void>;
  /** Removes a file; fails with ENOENT when it does not exist. */
  unlink(path: string): Promise<void>;
  /** symlink(2): creates `path` pointing at `target`, atomically; fails with EEXIST when it exists. */
  symlink(target: string, path: string): Promise<void>;
  readLink(path: string): Promise<string>;
  /** fsync(2) on the directory itself: its entries (creations, renames, removals) are on the disk. */
  syncDirectory(path: string): Promise<void>;
}

const FLAGS: Record<OpenMode, string> = { read: 'r', update: 'r+', create: 'wx+', replace: 'w+' };

class NodeFile implements JournalFile {
  constructor(private readonly handle: fs.FileHandle) {}

  async read(buffer: Uint8Array, position: number): Promise<number> {
    return (await this.handle.read(buffer, 0, buffer.length, position)).bytesRead;
  }

  async write(buffer: Uint8Array, position: number): Promise<number> {
    return (await this.handle.write(buffer, 0, buffer.length, position)).bytesWritten;
  }

  datasync(): Promise<void> {
    return this.handle.datasync();
  }

  async size(): Promise<number> {
    return (await this.handle.stat()).size;
  }

  close(): Promise<void> {
    return this.handle.close();
  }
}

/** The real file system (node:fs/promises). Files are created with mode 0600. */
export const nodeFileSystem: JournalFileSystem = {
  async makeDirectory(path, mode) {
    const first = await fs.mkdir(path, { recursive: true, mode });
    if (first === undefined) return [];
    const created = [path];
    for (let dir = path; dir !== first; ) {
      dir = dirname(dir);
      created.unshift(dir);
    }
    return created;
  },
  list: (directory) => fs.readdir(directory),
  async open(path, mode) {
    return new NodeFile(await fs.open(path, FLAGS[mode], 0o600));
  },
  readFile: (path) => fs.readFile(path),
  rename: (from, to) => fs.rename(from, to),
  unlink: (path) => fs.unlink(path),
  symlink: (target, path) => fs.symlink(target, path),
  readLink: (path) => fs.readlink(path),
  async syncDirectory(path) {
    const handle = await fs.open(path, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  },
};

/** Writes all of `buffer` at `position`, going on after short writes. */
export async function writeFully(
  file: JournalFile,
  buffer: Uint8Array,
  position: number,
): Promise<void> {
  let done = 0;
  while (done < buffer.length) {
    const written = await file.write(buffer.subarray(done), position + done);
    if (written <= 0) {
      throw Object.assign(new Error(`a write at offset ${position + done} wrote nothing`), {
        code: 'EIO',
      });
    }
    done += written;
  }
}
