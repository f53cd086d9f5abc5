import type { Stats } from 'node:fs';
import { readdir, stat, unlink } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { type Logger, silentLogger } from '@wg-dynamic/log';
import { errnoDescription, errnoName } from '../errno.js';
import { DeviceNotFoundError, PermissionDeniedError, WireGuardError } from '../errors.js';
import {
  DEFAULT_UAPI_LIMITS,
  UapiAnswerReader,
  type UapiLimits,
  UapiProtocolError,
} from './answer-reader.js';

/** wireguard-go's socket directory (ipc/uapi_linux.go; /var/run is /run on Debian). */
export const DEFAULT_UAPI_DIRECTORY = '/var/run/wireguard';
const SOCKET_SUFFIX = '.sock';

export interface UapiClientOptions {
  readonly limits?: Partial<UapiLimits>;
  /** How long a request may go without a byte of answer before it fails (default 30 s). */
  readonly timeoutMs?: number;
  readonly logger?: Logger;
}

/**
 * Talks to wireguard-go's control sockets, `<directory>/<name>.sock`, one
 * request per connection: wireguard-go reads through a read-ahead buffer,
 * so a second request on the same connection could be swallowed.
 */
export class UapiClient {
  readonly directory: string;
  readonly #limits: UapiLimits;
  readonly #timeoutMs: number;
  readonly #logger: Logger;

  constructor(directory: string = DEFAULT_UAPI_DIRECTORY, options: UapiClientOptions = {}) {
    this.directory = directory;
    this.#limits = { ...DEFAULT_UAPI_LIMITS, ...options.limits };
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#logger = options.logger ?? silentLogger;
  }

  socketPath(name: string): string {
    return join(this.directory, `${name}${SOCKET_SUFFIX}`);
  }

  /**
   * True when `<directory>/<name>.sock` exists and is a socket. Whether it
   * takes connections is asked only when a request was refused
   * (removeIfStale): a check before every request would cost a connection each.
   */
  async has(name: string): Promise<boolean> {
    return (await this.#socketStats(name)) !== undefined;
  }

  /**
   * Deletes `<name>.sock` when it is stale, and says whether it was: a socket
   * that refuses connections (ECONNREFUSED: its wireguard-go was killed
   * without cleaning up), which wg(8) deletes too before turning to the
   * kernel (userspace_has_wireguard_interface, wireguard-tools
   * src/ipc-uapi-unix.h). A socket gone meanwhile counts as stale. Any other
   * failure to connect (EACCES for a user other than root, EAGAIN for a full
   * backlog) means a live socket, whose error the request reports.
   */
  async removeIfStale(name: string): Promise<boolean> {
    const found = await this.#socketStats(name);
    if (found === undefined) return true;
    const path = this.socketPath(name);
    if ((await connectProbe(path)) !== 'ECONNREFUSED') return false;
    await this.#removeStale(name, path, found);
    return true;
  }

  /** The stats of `<name>.sock` when it exists and is a socket. */
  async #socketStats(name: string): Promise<Stats | undefined> {
    const path = this.socketPath(name);
    try {
      const found = await stat(path);
      return found.isSocket() ? found : undefined;
    } catch (error) {
      if (codeOf(error) === 'ENOENT' || codeOf(error) === 'ENOTDIR') return undefined;
      throw unavailable(`cannot look for ${path}`, error);
    }
  }

  /** The names of the interfaces with a live socket in the directory (stale ones are deleted, as wg(8) does). */
  async names(): Promise<string[]> {
    let entries: string[];
    try {
      entries = await readdir(this.directory);
    } catch (error) {
      if (codeOf(error) === 'ENOENT') return [];
      throw unavailable(`cannot list ${this.directory}`, error);
    }
    const names: string[] = [];
    for (const entry of entries) {
      if (!entry.endsWith(SOCKET_SUFFIX) || entry.length === SOCKET_SUFFIX.length) continue;
      const name = entry.slice(0, -SOCKET_SUFFIX.length);
      if ((await this.has(name)) && !(await this.removeIfStale(name))) names.push(name);
    }
    return names;
  }

  /**
   * Deletes a socket that refused a connection, unless another one took its
   * place meanwhile (a wireguard-go started again replaces the file): wg(8)
   * unlinks without that check. A failure to delete is logged, not thrown:
   * the socket is stale either way.
   */
  async #removeStale(name: string, path: string, refused: Stats): Promise<void> {
    try {
      const now = await stat(path);
      if (now.ino !== refused.ino || now.dev !== refused.dev) return;
      await unlink(path);
      this.#logger.info(
        { device: name, path },
        'deleted a stale UAPI socket (it refused connections: its wireguard-go is gone)',
      );
    } catch (error) {
      if (codeOf(error) === 'ENOENT') return;
      this.#logger.warn(
        { device: name, path, errno: codeOf(error) },
        'cannot delete a stale UAPI socket; the kernel serves the name all the same',
      );
    }
  }

  /**
   * Sends one request and hands each line of the answer before `errno=` to
   * `onLine`; resolves with the answer's errno (0 or negative).
   */
  request(
    name: string,
    request: string,
    onLine: (key: string, value: string, line: number) => void,
  ): Promise<number> {
    const path = this.socketPath(name);
    const reader = new UapiAnswerReader(onLine, this.#limits);
    return new Promise<number>((resolve, reject) => {
      let settled = false;
      const socket = createConnection({ path });
      const finish = (error: unknown, errno?: number) => {
        if (settled) return;
        settled = true;
        socket.destroy();
        if (error === undefined) resolve(errno as number);
        else reject(error);
      };
      socket.setTimeout(this.#timeoutMs, () =>
        finish(
          new WireGuardError(
            'NO_REPLY',
            `wireguard-go for ${name} sent nothing on ${path} for ${this.#timeoutMs} ms`,
            { device: name },
          ),
        ),
      );
      socket.on('connect', () => {
        this.#logger.debug({ device: name, bytes: request.length }, 'UAPI request');
        socket.end(request, 'latin1');
      });
      socket.on('data', (chunk: Buffer) => {
        try {
          if (reader.push(chunk)) finish(undefined, reader.errno);
        } catch (error) {
          finish(malformed(name, path, error));
        }
      });
      socket.on('end', () => {
        try {
          reader.end();
          finish(undefined, reader.errno);
        } catch (error) {
          finish(malformed(name, path, error));
        }
      });
      socket.on('error', (error) => finish(connectionError(name, path, error)));
      socket.on('close', () =>
        finish(
          new WireGuardError(
            'MALFORMED_REPLY',
            `wireguard-go for ${name} closed ${path} before it answered`,
            { device: name },
          ),
        ),
      );
    });
  }
}

/**
 * Connects to `path` and hangs up at once without sending anything (as wg(8)
 * does; wireguard-go reads an empty request and closes). Resolves with the
 * connect error's code, or undefined when the connection was taken.
 */
function connectProbe(path: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = createConnection({ path });
    socket.on('connect', () => {
      socket.destroy();
      resolve(undefined);
    });
    socket.on('error', (error) => {
      socket.destroy();
      resolve(codeOf(error) ?? 'EIO');
    });
  });
}

function malformed(name: string, path: string, error: unknown): unknown {
  if (!(error instanceof UapiProtocolError)) return error;
  return new WireGuardError(
    'MALFORMED_REPLY',
    `the answer of ${path} for ${name} does not follow the UAPI protocol: ${error.message}`,
    { device: name, cause: error },
  );
}

function connectionError(name: string, path: string, error: Error): WireGuardError {
  const code = codeOf(error);
  const details = { ...(code === undefined ? {} : { errno: code }), cause: error };
  switch (code) {
    case 'ENOENT':
      return new DeviceNotFoundError(
        name,
        `its socket ${path} has gone (wireguard-go stopped)`,
        details,
      );
    case 'ECONNREFUSED':
      return new DeviceNotFoundError(
        name,
        `${path} refuses connections: the wireguard-go that made it is gone (a stale socket, deleted when found so; or start \`wireguard-go ${name}\` again)`,
        details,
      );
    case 'EACCES':
    case 'EPERM':
      return new PermissionDeniedError(
        `cannot open ${path}: wireguard-go's socket is for root only; run as root (${code})`,
        { ...details, device: name },
      );
    case 'EPIPE':
    case 'ECONNRESET':
      return new WireGuardError(
        'REFUSED',
        `wireguard-go for ${name} closed ${path} while the request was being sent: it stopped reading, usually at a line it refused (its log says which)`,
        { ...details, device: name },
      );
    default:
      return new WireGuardError('UNAVAILABLE', `cannot talk to ${path}: ${error.message}`, {
        ...details,
        device: name,
      });
  }
}

function unavailable(what: string, error: unknown): WireGuardError {
  const code = codeOf(error);
  return new WireGuardError(
    'UNAVAILABLE',
    `${what}: ${error instanceof Error ? error.message : String(error)}`,
    {
      ...(code === undefined ? {} : { errno: code }),
      cause: error,
    },
  );
}

function codeOf(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error) {
    const code = (error as { code: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

/** Words for a negative errno answered by wireguard-go (`-22` → `EINVAL (Invalid argument)`). */
export function describeUapiErrno(errno: number): string {
  return `${errnoName(-errno)} (${errnoDescription(-errno)}, errno=${errno})`;
}
