import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import {
  type ClientState,
  decodeState,
  EMPTY_STATE,
  encodeState,
  MAX_STATE_BYTES,
  StateFileError,
} from '../core/state-record.js';

/** The default state directory (`--state-dir`). */
export const DEFAULT_STATE_DIRECTORY = '/var/lib/wg-dynamic';

/** `<state-dir>/<interface>/client.json` */
export function stateFilePath(stateDirectory: string, interfaceName: string): string {
  return join(stateDirectory, interfaceName, 'client.json');
}

export interface LoadedState {
  readonly state: ClientState;
  /** Why the file on disk was not used, when it exists but could not be read. */
  readonly problem?: string;
}

/**
 * The client's state file for one interface, written atomically (a temporary
 * file, fsync, rename, fsync of the directory) so that a crash at any moment
 * leaves either the old state or the new one. Writes run one at a time.
 */
export class StateStore {
  readonly path: string;
  readonly #interfaceName: string;
  #state: ClientState = EMPTY_STATE;
  #queue: Promise<void> = Promise.resolve();
  #directoryMade = false;

  constructor(path: string, interfaceName: string) {
    this.path = path;
    this.#interfaceName = interfaceName;
  }

  get state(): ClientState {
    return this.#state;
  }

  /** Reads the file; a missing one is an empty state, an unreadable one too (with `problem`). */
  async load(): Promise<LoadedState> {
    let text: string;
    try {
      const buffer = await readFile(this.path);
      if (buffer.length > MAX_STATE_BYTES) {
        return { state: EMPTY_STATE, problem: `it is larger than ${MAX_STATE_BYTES} bytes` };
      }
      text = buffer.toString('utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { state: EMPTY_STATE };
      return { state: EMPTY_STATE, problem: (error as Error).message };
    }
    try {
      this.#state = decodeState(text, this.#interfaceName);
      return { state: this.#state };
    } catch (error) {
      if (error instanceof StateFileError) return { state: EMPTY_STATE, problem: error.message };
      throw error;
    }
  }

  /** Replaces the state and writes it; resolves once it is durable. */
  save(state: ClientState): Promise<void> {
    this.#state = state;
    const text = encodeState(this.#interfaceName, state);
    const write = this.#queue.then(async () => {
      const makeDirectory = () => mkdir(dirname(this.path), { recursive: true, mode: 0o755 });
      if (!this.#directoryMade) await makeDirectory();
      this.#directoryMade = true;
      try {
        await writeAtomically(this.path, text);
      } catch (error) {
        // Someone removed the directory since: make it again, once.
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
        await makeDirectory();
        await writeAtomically(this.path, text);
      }
    });
    this.#queue = write.catch(() => {});
    return write;
  }
}

async function writeAtomically(path: string, text: string): Promise<void> {
  const directory = dirname(path);
  const temporary = `${path}.tmp-${process.pid}`;
  const file = await open(temporary, 'w', 0o644);
  try {
    await file.writeFile(text);
    await file.sync();
  } finally {
    await file.close();
  }
  try {
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
  const folder = await open(directory, 'r');
  try {
    await folder.sync();
  } finally {
    await folder.close();
  }
}
