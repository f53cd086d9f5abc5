import { once } from 'node:events';
import { chmod, mkdir, unlink } from 'node:fs/promises';
import { connect, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { FatalError } from '@wg-dynamic/cli';
import type { ServerStatus } from './status.js';

/** Where running servers answer `show`: one unix socket per interface, root only. */
export const DEFAULT_RUN_DIRECTORY = '/run/wg-dynamic';

export const controlSocketPath = (runDirectory: string, interfaceName: string) =>
  join(runDirectory, `${interfaceName}.sock`);

/** The request a client writes: one line. */
const SHOW = 'show\n';
/** A status of even a million leases is far below this; anything longer is not ours. */
const MAX_ANSWER_BYTES = 512 * 1024 * 1024;

/**
 * The running server's control socket: a client sends `show` and gets the
 * status as one JSON document. Mode 0600: leases say which peer holds which
 * address, which is root's business, like `wg show`.
 */
export async function serveControlSocket(
  path: string,
  status: () => ServerStatus,
): Promise<Server> {
  await mkdir(join(path, '..'), { recursive: true, mode: 0o755 });
  await unlink(path).catch(() => {}); // a socket left by a killed server
  const server = createServer((socket) => {
    socket.setTimeout(5000, () => socket.destroy());
    let request = '';
    socket.on('data', (chunk: Buffer) => {
      request += chunk.toString('latin1');
      if (request.length > SHOW.length) {
        socket.destroy();
      } else if (request === SHOW) {
        socket.end(JSON.stringify(status()));
      }
    });
    socket.on('error', () => {});
  });
  server.listen(path);
  await once(server, 'listening');
  await chmod(path, 0o600);
  return server;
}

export async function closeControlSocket(server: Server, path: string): Promise<void> {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await unlink(path).catch(() => {});
}

/** Asks a running server for its status. */
export async function readStatus(path: string, interfaceName: string): Promise<ServerStatus> {
  const socket = connect(path);
  try {
    await Promise.race([
      once(socket, 'connect'),
      once(socket, 'error').then(([error]) => {
        throw error;
      }),
    ]);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ECONNREFUSED') {
      throw new FatalError(
        `wg-dynamic-server is not running for ${interfaceName} (nothing answers at ${path})`,
      );
    }
    if (code === 'EACCES') throw new FatalError(`not allowed to open ${path}: run as root`);
    throw error;
  }
  socket.setTimeout(10_000, () => socket.destroy(new Error(`no answer from ${path}`)));
  socket.end(SHOW);
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of socket) {
    length += (chunk as Buffer).length;
    if (length > MAX_ANSWER_BYTES) throw new Error(`the answer from ${path} is too long`);
    chunks.push(chunk as Buffer);
  }
  return JSON.parse(Buffer.concat(chunks).toString('utf8')) as ServerStatus;
}
