#!/usr/bin/env node
// A scripted wg-dynamic server for the client's end-to-end tests: it speaks
// the v1 bytes it is told to, including the hostile ones a real server never
// sends (plain JavaScript: it runs inside lab namespaces unbuilt).
//
//   node scripted-responder.mjs <interface>
//
// Listens on [fe80::%<interface>]:970. Standard output, one line each:
//   LISTENING                       ready
//   REQUEST <JSON string>           a complete request arrived (its text)
// Standard input, one JSON object per line, sets how every later request is
// answered (the last one counts):
//   {"mode":"answer","text":"ip=…\n…errno=0\n\n","close":false}
//        writes `text` (every "{{NOW}}" replaced by the time in UNIX seconds),
//        then keeps the connection open as the reference server does (or
//        closes it with "close":true);
//   {"mode":"silent"}   reads the request and never answers nor closes;
//   {"mode":"endless"}  answers with key=value lines that never end;
//   {"mode":"close"}    closes the connection without answering.
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';

const iface = process.argv[2];
if (!iface) {
  process.stderr.write('usage: scripted-responder.mjs <interface>\n');
  process.exit(2);
}

let script = { mode: 'silent' };
createInterface({ input: process.stdin }).on('line', (line) => {
  if (line.trim() !== '') script = JSON.parse(line);
});

const sockets = new Set();
const server = createServer((socket) => {
  sockets.add(socket);
  socket.on('close', () => sockets.delete(socket));
  socket.on('error', () => {});
  let buffered = '';
  socket.on('data', (chunk) => {
    buffered += chunk.toString('latin1');
    if (buffered.length > 65_536) {
      socket.destroy();
      return;
    }
    for (let end = buffered.indexOf('\n\n'); end !== -1; end = buffered.indexOf('\n\n')) {
      const request = buffered.slice(0, end + 2);
      buffered = buffered.slice(end + 2);
      process.stdout.write(`REQUEST ${JSON.stringify(request)}\n`);
      respond(socket, script);
    }
  });
});

function respond(socket, current) {
  switch (current.mode) {
    case 'answer': {
      const now = String(Math.floor(Date.now() / 1000));
      const text = current.text.replaceAll('{{NOW}}', now);
      if (current.close) socket.end(text, 'latin1');
      else socket.write(text, 'latin1');
      return;
    }
    case 'endless': {
      const line = Buffer.from('x=y\n'.repeat(1024), 'latin1');
      const pump = () => {
        while (!socket.destroyed && socket.write(line)) {}
        if (!socket.destroyed) socket.once('drain', pump);
      };
      pump();
      return;
    }
    case 'close':
      socket.end();
      return;
    default:
      return; // silent
  }
}

server.listen({ host: `fe80::%${iface}`, port: 970 }, () => {
  process.stdout.write('LISTENING\n');
});
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    for (const socket of sockets) socket.destroy();
    server.close(() => process.exit(0));
  });
}
