import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { Errno, type ResponseFields } from '@wg-dynamic/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { Listener, type ListenerOptions, type Refusal } from '../src/net/listener.js';
import { silent } from './support/fakes.js';

/**
 * The listener against peers that do not play by the rules, over real
 * sockets on the loopback (the lab tests do the same over WireGuard, with
 * the whole server).
 */
const PEER = `${'H'.repeat(43)}=`;
const listeners: Listener[] = [];

afterEach(async () => {
  await Promise.all(listeners.splice(0).map((l) => l.close(100)));
});

async function start(overrides: Partial<ListenerOptions> = {}) {
  const refusals: Refusal[] = [];
  let handled = 0;
  const listener = new Listener({
    host: '::1',
    port: 0,
    sourcePort: undefined,
    identify: async () => PEER,
    handle: async (): Promise<ResponseFields> => {
      handled++;
      return { errno: Errno.Success };
    },
    logger: silent,
    onRefusal: (reason) => refusals.push(reason),
    ...overrides,
  });
  await listener.listen();
  listeners.push(listener);
  return { listener, refusals, handled: () => handled };
}

async function open(port: number): Promise<Socket> {
  const socket = connect({ host: '::1', port });
  await once(socket, 'connect');
  socket.on('error', () => {});
  return socket;
}

describe('Listener against hostile peers', () => {
  it('closes a slow-loris connection that keeps sending a byte but never finishes its request', async () => {
    // Each byte comes well within the idle timeout, so only a deadline for the
    // whole request can end it.
    const { listener, handled } = await start({
      limits: { idleTimeoutMs: 400, requestTimeoutMs: 400 },
    });
    const socket = await open(listener.port);
    const line = `request_ip=1\nx=${'y'.repeat(4000)}`;
    let sent = 0;
    const trickle = setInterval(() => {
      if (!socket.destroyed) socket.write(line[sent++ % line.length] as string);
    }, 40);
    // Closed, by a FIN or a reset: events.once would reject on the reset's 'error'.
    const closed = new Promise((resolve) => socket.once('close', resolve));
    // Only a guard against hanging, far beyond the deadline.
    const guard = new Promise((resolve) => setTimeout(() => resolve('still open'), 20_000));
    const outcome = await Promise.race([closed.then(() => 'closed'), guard]);
    clearInterval(trickle);
    socket.destroy();
    expect(outcome).toBe('closed');
    expect(handled()).toBe(0);
  });

  it('gives each request of a kept connection its own deadline', async () => {
    const { listener } = await start({ limits: { idleTimeoutMs: 2_000, requestTimeoutMs: 300 } });
    const socket = await open(listener.port);
    let text = '';
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
    });
    // Three requests, each sent whole a little under the deadline after the
    // previous answer: every one is answered, the connection stays.
    for (let i = 1; i <= 3; i++) {
      await new Promise((resolve) => setTimeout(resolve, 150));
      socket.write('request_ip=1\n\n');
      while (text.split('\n\n').length - 1 < i) await once(socket, 'data');
    }
    expect(text).toBe('errno=0\n\n'.repeat(3));
    expect(socket.destroyed).toBe(false);
    socket.destroy();
  });
});

describe('Listener after an invalid request', () => {
  it('lets go of the connection as soon as the client closes, not at the idle timeout', async () => {
    // A peer that sends junk, reads the error and closes must not keep
    // holding one of its few connections for the idle timeout.
    const { listener } = await start({ limits: { idleTimeoutMs: 60_000 } });
    for (const ending of ['end', 'reset'] as const) {
      const socket = await open(listener.port);
      let text = '';
      socket.on('data', (chunk: Buffer) => {
        text += chunk.toString('latin1');
      });
      socket.write('request_ip=1\nnonsense\n\n');
      while (!text.endsWith('\n\n')) await once(socket, 'data');
      expect(text).toBe('errno=1\nerrmsg=Invalid request\n\n');
      if (ending === 'end') socket.end();
      else socket.resetAndDestroy();
      const deadline = Date.now() + 3_000;
      while (listener.connectionCount > 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(listener.connectionCount, `after the client's ${ending}`).toBe(0);
      socket.destroy();
    }
  });
});
