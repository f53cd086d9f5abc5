#!/usr/bin/env node
// A hostile peer for the lab tests (plain JavaScript: it runs inside lab
// nodes unbuilt): many connections at once, each from its own source address
// <prefix><n> (n in hex, from --first on) and source port 970 (or --port),
// that either stay silent (idle) or send --request; and optionally, first, a
// slow loris from --loris: a request that never ends, one byte every 200 ms.
//
//   node flood-client.mjs <interface> --prefix fe80::f:0:0: --first 1 --count 1000
//        [--loris <address>] [--request TEXT] [--port N]
//
// Prints JSON lines: {"opened":n} once every connection got through the
// handshake or failed, then {"closed":...} once every connection is closed
// (by the server) or a minute has passed: for each connection that opened,
// how many ms after it opened it was closed (null: still open) and how many
// bytes the server sent on it.
import { connect } from 'node:net';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    prefix: { type: 'string' },
    first: { type: 'string', default: '1' },
    count: { type: 'string', default: '1' },
    loris: { type: 'string' },
    request: { type: 'string' },
    port: { type: 'string', default: '970' },
  },
});
const [iface] = positionals;
if (!iface || !values.prefix) {
  process.stderr.write(
    'usage: flood-client.mjs <interface> --prefix P --first N --count N [--loris A] [--request T] [--port N]\n',
  );
  process.exit(2);
}
const print = (object) => process.stdout.write(`${JSON.stringify(object)}\n`);

/** Opens a connection; resolves once connected (or failed); `closed` resolves when it closes. */
function open(localAddress) {
  return new Promise((resolve) => {
    const socket = connect({
      host: `fe80::%${iface}`,
      port: 970,
      localAddress: `${localAddress}%${iface}`,
      localPort: Number(values.port),
    });
    const result = { socket, openedAt: 0, closedAfter: null, received: 0, connected: false };
    result.closed = new Promise((done) => {
      socket.on('close', () => {
        if (result.connected) result.closedAfter = Math.round(performance.now() - result.openedAt);
        done();
        resolve(result);
      });
    });
    socket.on('error', () => {});
    socket.on('data', (chunk) => {
      result.received += chunk.length;
    });
    socket.on('connect', () => {
      result.connected = true;
      result.openedAt = performance.now();
      if (values.request !== undefined) socket.write(values.request.replaceAll('\\n', '\n'));
      resolve(result);
    });
  });
}

let loris;
let trickle;
let lorisBytes = 0;
if (values.loris) {
  loris = await open(values.loris);
  const line = `request_ip=1\nx-slow=${'z'.repeat(4000)}`;
  trickle = setInterval(() => {
    if (loris.socket.destroyed) return;
    loris.socket.write(line[lorisBytes % line.length]);
    lorisBytes++;
  }, 200);
}

const first = Number.parseInt(values.first, 16);
const flood = await Promise.all(
  Array.from({ length: Number(values.count) }, (_, k) =>
    open(`${values.prefix}${(first + k).toString(16)}`),
  ),
);
print({ opened: flood.filter((c) => c.connected).length, loris: loris?.connected ?? null });

const all = [...(loris ? [loris] : []), ...flood];
await Promise.race([
  Promise.all(all.map((c) => c.closed)),
  new Promise((resolve) => setTimeout(resolve, 60_000)),
]);
clearInterval(trickle);
const opened = flood.filter((c) => c.connected);
print({
  closed: {
    loris: loris ? loris.closedAfter : null,
    lorisBytes,
    flood: opened.map((c) => c.closedAfter),
    received: opened.map((c) => c.received),
  },
});
for (const c of all) c.socket.destroy();
