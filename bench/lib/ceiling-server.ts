/**
 * The machine's ceiling for the server benchmark: a trivial server on the
 * same address, port and socket options as wg-dynamic-server's listener,
 * that answers every request (whatever it holds, up to its blank line) with
 * a fixed answer of the size wg-dynamic-server gives: no parsing, no lease,
 * no journal, no device. Whatever rate it reaches through the same path and
 * the same load generator, no lease server can beat.
 *
 *   node ceiling-server.js <interface>
 *
 * Prints `{"event":"listening"}` on stdout; answers `stats` on stdin with its
 * CPU time; exits on `stop` or when stdin ends.
 */
import { once } from 'node:events';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { DEFAULT_LIMITS } from '@wg-dynamic/server';

/** The size and shape of wg-dynamic-server's answer to a first request. */
export const CEILING_ANSWER = Buffer.from(
  'ip=10.123.45.67/32\nip=2001:db8:1234:0:1234:5678:9abc:def0/128\n' +
    'leasestart=1700000000\nleasetime=3600\nerrno=0\n\n',
  'latin1',
);
const NEWLINE = 0x0a;

const interfaceName = process.argv[2] ?? 'wgdbench0';
const server = createServer({ noDelay: true, allowHalfOpen: true }, (socket) => {
  socket.on('error', () => {});
  // Whether the last byte seen was a newline: a request ends with two in a row.
  let afterNewline = false;
  socket.on('data', (chunk: Buffer) => {
    for (let i = 0; i < chunk.length; i++) {
      const newline = chunk[i] === NEWLINE;
      if (newline && afterNewline) socket.write(CEILING_ANSWER);
      afterNewline = newline && !afterNewline;
    }
  });
  socket.on('end', () => socket.end());
});
// The listen options of wg-dynamic-server's listener (net/listener.ts), backlog included.
server.listen({
  host: `fe80::%${interfaceName}`,
  port: 970,
  exclusive: true,
  backlog: DEFAULT_LIMITS.maxConnections,
});
await once(server, 'listening');
process.stdout.write(`${JSON.stringify({ event: 'listening' })}\n`);
for await (const line of createInterface({ input: process.stdin })) {
  if (line === 'stats') {
    const cpu = process.cpuUsage();
    process.stdout.write(
      `${JSON.stringify({ event: 'stats', cpuSeconds: (cpu.user + cpu.system) / 1e6 })}\n`,
    );
  } else if (line === 'stop') {
    break;
  }
}
server.close();
process.exit(0);
