#!/usr/bin/env node
// One raw wg-dynamic exchange, as the reference client makes it, for the
// end-to-end tests (plain JavaScript: it runs inside lab namespaces unbuilt).
//
//   node exchange.mjs <interface> <local-address> [--source-port N] [--all | --linger MS] [--timeout MS]
//
// Reads the request bytes from standard input, binds [<local-address>%<interface>]
// and the source port (970 unless told), connects to [fe80::%<interface>]:970,
// writes the request and prints what comes back to standard output: up to the
// first blank line (one response); with --all everything until the server
// closes; with --linger everything until the server closes or MS milliseconds
// after the first response, whichever comes first (what a server wrote after
// its answer). Exit status: 0 answered, 3 closed (or reset) without an answer,
// 4 timed out, 5 could not connect.
import { connect } from 'node:net';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    'source-port': { type: 'string', default: '970' },
    all: { type: 'boolean', default: false },
    linger: { type: 'string' },
    timeout: { type: 'string', default: '5000' },
  },
});
const [iface, local] = positionals;
if (!iface || !local) {
  process.stderr.write(
    'usage: exchange.mjs <interface> <local-address> [--source-port N] [--all]\n',
  );
  process.exit(2);
}

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const request = Buffer.concat(chunks);

let received = Buffer.alloc(0);
let answered = false;
let connected = false;
const socket = connect({
  host: `fe80::%${iface}`,
  port: 970,
  localAddress: `${local}%${iface}`,
  localPort: Number(values['source-port']),
});
const timer = setTimeout(() => {
  process.stdout.write(received);
  process.exit(4);
}, Number(values.timeout));
// --linger: everything so far, once (when the time is up or the server closed).
let printed = false;
function lingered() {
  if (printed) return;
  printed = true;
  process.stdout.write(received);
  socket.resetAndDestroy();
  process.exit(0);
}
socket.on('connect', () => {
  connected = true;
  socket.write(request);
});
socket.on('data', (chunk) => {
  received = Buffer.concat([received, chunk]);
  const end = received.indexOf('\n\n');
  if (values.linger !== undefined && end !== -1 && !answered) {
    answered = true;
    clearTimeout(timer);
    setTimeout(lingered, Number(values.linger));
  } else if (!values.all && values.linger === undefined && end !== -1) {
    answered = true;
    process.stdout.write(received.subarray(0, end + 2));
    // A reset leaves no TIME_WAIT, so the next exchange may reuse the same ports at once.
    socket.resetAndDestroy();
    clearTimeout(timer);
  }
});
socket.on('error', (error) => {
  process.stderr.write(`${error.message}\n`);
  // A server that refuses after accepting may reset the connection: that is a close.
  if (!connected) process.exit(5);
});
socket.on('close', () => {
  clearTimeout(timer);
  if (answered && values.linger !== undefined) lingered();
  if (answered) return;
  process.stdout.write(received);
  if (received.length === 0) process.exit(3);
});
