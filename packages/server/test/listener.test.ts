import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { Errno, type Request, type ResponseFields } from '@wg-dynamic/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { Listener, type ListenerOptions, type Refusal } from '../src/net/listener.js';
import { silent } from './support/fakes.js';

const PEER = `${'P'.repeat(43)}=`;
const listeners: Listener[] = [];

afterEach(async () => {
  await Promise.all(listeners.splice(0).map((l) => l.close(100)));
});

async function start(overrides: Partial<ListenerOptions> = {}) {
  const handled: Request[] = [];
  const refusals: Refusal[] = [];
  const listener = new Listener({
    host: '::1',
    port: 0,
    sourcePort: undefined,
    identify: async () => PEER,
    handle: async (_peer, request): Promise<ResponseFields> => {
      handled.push(request);
      return { errno: Errno.Success };
    },
    logger: silent,
    onRefusal: (reason) => refusals.push(reason),
    ...overrides,
  });
  await listener.listen();
  listeners.push(listener);
  return { listener, handled, refusals };
}

async function open(port: number, localPort?: number): Promise<Socket> {
  const socket = connect({ host: '::1', port, ...(localPort ? { localPort } : {}) });
  await once(socket, 'connect');
  return socket;
}

/** Everything the server sends until it closes the connection. */
async function readAll(socket: Socket): Promise<string> {
  let text = '';
  socket.on('data', (chunk: Buffer) => {
    text += chunk.toString('latin1');
  });
  await once(socket, 'close');
  return text;
}

/** Reads until `count` answers (blank-line-terminated messages) arrived. */
function answers(socket: Socket, count: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    let text = '';
    const onData = (chunk: Buffer) => {
      text += chunk.toString('latin1');
      const messages = text.split('\n\n').slice(0, -1);
      if (messages.length < count) return;
      socket.off('data', onData);
      socket.off('close', onClose);
      resolve(messages.map((m) => `${m}\n\n`));
    };
    const onClose = () => reject(new Error(`connection closed after ${text.length} bytes`));
    socket.on('data', onData);
    socket.once('close', onClose);
  });
}

describe('Listener', () => {
  it('answers two requests sent in one write, in order, and keeps the connection', async () => {
    const { listener, handled } = await start();
    const socket = await open(listener.port);
    socket.write('request_ip=1\nip=::/128\n\nrequest_ip=1\n\n');
    expect(await answers(socket, 2)).toEqual(['errno=0\n\n', 'errno=0\n\n']);
    expect(handled.map((r) => r.ip[6].kind)).toEqual(['new', 'release']);
    expect(socket.destroyed).toBe(false);
    socket.destroy();
  });

  it('answers a request that arrives one byte at a time', async () => {
    const { listener } = await start();
    const socket = await open(listener.port);
    const pending = answers(socket, 1);
    for (const byte of Buffer.from('request_ip=1\nip=0.0.0.0/32\n\n')) {
      socket.write(Uint8Array.of(byte));
      await new Promise((r) => setImmediate(r));
    }
    expect(await pending).toEqual(['errno=0\n\n']);
    socket.destroy();
  });

  it.each([
    [
      'an invalid request',
      'request_ip=1\nip=300.1.1.1/32\n\n',
      'errno=1\nerrmsg=Invalid request\n\n',
    ],
    ['another version', 'request_ip=2\n\n', 'errno=2\nerrmsg=Unsupported protocol\n\n'],
    ['a NUL byte', 'request_ip=1\n\0', 'errno=1\nerrmsg=Invalid request\n\n'],
    [
      'an overlong line',
      `request_ip=1\nx=${'y'.repeat(5000)}\n\n`,
      'errno=1\nerrmsg=Invalid request\n\n',
    ],
  ])('answers %s with the reference error and closes', async (_, input, answer) => {
    const { listener, handled, refusals } = await start();
    const socket = await open(listener.port);
    socket.write(input);
    expect(await readAll(socket)).toBe(answer);
    expect(handled).toEqual([]);
    expect(refusals).toEqual(['invalid-request']);
  });

  it('answers a request followed by FIN', async () => {
    const { listener } = await start();
    const socket = await open(listener.port);
    socket.end('request_ip=1\n\n');
    expect(await readAll(socket)).toBe('errno=0\n\n');
  });

  it('refuses a source port other than the one required, with silence', async () => {
    const { listener, refusals } = await start({ sourcePort: 1 });
    const socket = await open(listener.port);
    socket.write('request_ip=1\n\n');
    expect(await readAll(socket)).toBe('');
    expect(refusals).toEqual(['wrong-source-port']);
  });

  it('refuses a source that no peer owns', async () => {
    const { listener, handled, refusals } = await start({ identify: async () => undefined });
    const socket = await open(listener.port);
    socket.write('request_ip=1\n\n');
    expect(await readAll(socket)).toBe('');
    expect(handled).toEqual([]);
    expect(refusals).toEqual(['unknown-source']);
  });

  it('caps connections per peer', async () => {
    const { listener, refusals } = await start({
      limits: { maxConnectionsPerPeer: 2, maxConnections: 3 },
    });
    const held = [await open(listener.port), await open(listener.port)];
    await new Promise((r) => setTimeout(r, 50));
    const third = await open(listener.port);
    expect(await readAll(third)).toBe('');
    expect(refusals).toEqual(['too-many-peer-connections']);
    for (const socket of held) socket.destroy();
  });

  it('caps connections in total, whoever opens them', async () => {
    const { listener, refusals } = await start({
      limits: { maxConnectionsPerPeer: 4, maxConnections: 2 },
    });
    const held = [await open(listener.port), await open(listener.port)];
    await new Promise((r) => setTimeout(r, 50));
    const third = await open(listener.port);
    expect(await readAll(third)).toBe('');
    expect(refusals).toEqual(['too-many-connections']);
    expect(listener.connectionCount).toBe(2);
    // A place that comes free is taken again.
    const closed = once(held[0] as Socket, 'close');
    held[0]?.destroy();
    await closed;
    await new Promise((r) => setTimeout(r, 50));
    const fourth = await open(listener.port);
    const answer = answers(fourth, 1);
    fourth.write('request_ip=1\n\n');
    expect(await answer).toEqual(['errno=0\n\n']);
    expect(refusals).toEqual(['too-many-connections']);
    for (const socket of [...held, fourth]) socket.destroy();
  });

  it('closes a connection that stays silent', async () => {
    const { listener } = await start({ limits: { idleTimeoutMs: 100 } });
    const socket = await open(listener.port);
    expect(await readAll(socket)).toBe('');
  });

  it('serves nothing that arrives on an idle connection once closing began', async () => {
    const { listener, handled } = await start();
    const socket = await open(listener.port);
    const all = readAll(socket);
    socket.write('request_ip=1\n\n');
    await new Promise((r) => setTimeout(r, 50));
    const closing = listener.close(1000);
    socket.write('request_ip=1\nip=::/128\n\n');
    await closing;
    expect(await all).toBe('errno=0\n\n');
    expect(handled).toHaveLength(1);
  });

  it('finishes a request in flight when closing, then closes', async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const { listener } = await start({
      handle: async () => {
        await gate;
        return { errno: Errno.Success };
      },
    });
    const socket = await open(listener.port);
    const all = readAll(socket);
    socket.write('request_ip=1\n\n');
    await new Promise((r) => setTimeout(r, 50));
    const closing = listener.close();
    release();
    await closing;
    expect(await all).toBe('errno=0\n\n');
  });
});
