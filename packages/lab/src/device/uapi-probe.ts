import { connect } from 'node:net';

/** A `get` reply larger than this is not what a device being probed sends. */
const MAX_REPLY_BYTES = 1024 * 1024;

/**
 * Asks a userspace WireGuard control socket (`get=1`) and resolves true when
 * it answers with `errno=0`; false when nothing listens, it answers
 * otherwise, or does not answer within `timeoutMs`. Never rejects.
 */
export function probeUapiSocket(path: string, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ path });
    let reply = '';
    let done = false;
    const finish = (answer: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(answer);
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write('get=1\n\n'));
    socket.on('data', (chunk: string) => {
      reply += chunk;
      if (reply.length > MAX_REPLY_BYTES) finish(false);
      // The reply ends with its errno line and an empty line.
      else if (reply.startsWith('errno=') || reply.includes('\nerrno=')) {
        if (reply.endsWith('\n\n')) finish(/(^|\n)errno=0\n\n$/.test(reply));
      }
    });
    socket.on('error', () => finish(false));
    socket.on('close', () => finish(false));
  });
}
