import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { link } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';

/** What the throw-away server does with one request. */
export type UapiResponder = (request: string, socket: Socket) => string | undefined;

/**
 * A throw-away UAPI socket server for one test: it records each request
 * (read until the client half-closes, as this package sends one request per
 * connection) and answers what `respond` returns; `undefined` leaves the
 * connection to the responder (to hang, trickle or close it). A connection
 * that sends nothing is the check that the socket is alive (wg(8) makes it
 * too, and so does the package before each call): it is neither recorded
 * nor answered.
 */
export class UapiTestServer {
  readonly requests: string[] = [];
  respond: UapiResponder;
  readonly #server: Server;
  readonly sockets = new Set<Socket>();

  private constructor(server: Server, respond: UapiResponder) {
    this.#server = server;
    this.respond = respond;
  }

  static async start(path: string, respond: UapiResponder): Promise<UapiTestServer> {
    let instance: UapiTestServer | undefined;
    // Half-open like a Go server: the client's end of request does not close our side.
    const server = createServer({ allowHalfOpen: true }, (socket) => {
      instance?.sockets.add(socket);
      socket.on('close', () => instance?.sockets.delete(socket));
      const chunks: Buffer[] = [];
      socket.on('data', (chunk: Buffer) => chunks.push(chunk));
      socket.on('error', () => {});
      socket.on('end', () => {
        const request = Buffer.concat(chunks).toString('latin1');
        if (request === '') {
          socket.end();
          return;
        }
        instance?.requests.push(request);
        const answer = instance?.respond(request, socket);
        if (answer !== undefined) socket.end(answer, 'latin1');
      });
    });
    instance = new UapiTestServer(server, respond);
    server.listen(path);
    await once(server, 'listening');
    return instance;
  }

  async close(): Promise<void> {
    const closed = once(this.#server, 'close');
    this.#server.close();
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }
}

/** Leaves a stale socket file at `path`: a listener that was killed without cleaning up. */
export async function makeStaleSocket(path: string): Promise<void> {
  const child = spawn(
    process.execPath,
    [
      '-e',
      `require('net').createServer().listen(${JSON.stringify(path)}, () => console.log('up'))`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await once(child.stdout, 'data');
  child.kill('SIGKILL');
  await once(child, 'exit');
}

/**
 * Leaves at `path` a real socket file whose listener is closed, in this
 * process: a second name (a hard link) for a listening socket outlives the
 * listener, since closing it deletes only the name it listened on.
 * Connecting to it gives ECONNREFUSED.
 */
export async function makeClosedSocket(path: string): Promise<void> {
  const listening = `${path}.listening`;
  const server = createServer();
  server.listen(listening);
  await once(server, 'listening');
  await link(listening, path);
  server.close();
  await once(server, 'close');
}
