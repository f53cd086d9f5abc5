#!/usr/bin/env node
// A client that keeps a server busy, for the fault tests (plain JavaScript: it
// runs inside lab nodes unbuilt). One exchange after another, as the
// reference client makes them (bind <local-address>%<interface> and source
// port 970, connect to [fe80::%<interface>]:970, one request, one answer,
// close), each asking for a specific address of each family drawn at random
// from a small range: a free one is granted (and the one held before
// released), a taken one gets errno 3 (and the one held released). In a
// small pool shared by a few such clients, addresses change hands all the
// time.
//
//   node churn-client.mjs <interface> <local-address> <v4-base> <v4-count> <v6-base> <v6-count> <max-exchanges>
//
// Prints one JSON line before each request ({"sent":n,"v4":...,"v6":...}) and
// one after each answer ({"got":n,"answer":"..."}), so that whoever reads
// it knows what was acknowledged and what was in flight. Stops after
// max-exchanges, or at the first exchange that fails (the server went away),
// with {"stopped":...}.
import { connect } from 'node:net';

const [iface, local, v4Base, v4Count, v6Base, v6Count, max] = process.argv.slice(2);
if (!iface || !local || !v4Base || !v4Count || !v6Base || !v6Count || !max) {
  process.stderr.write(
    'usage: churn-client.mjs <interface> <local-address> <v4-base> <v4-count> <v6-base> <v6-count> <max-exchanges>\n',
  );
  process.exit(2);
}

const v4Parts = v4Base.split('.').map(Number);
const v4Of = (k) => {
  const value = ((v4Parts[0] << 24) | (v4Parts[1] << 16) | (v4Parts[2] << 8) | v4Parts[3]) + k;
  return [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255].join('.');
};
// The IPv6 range is at most 65,536 addresses from a base ending in "::".
const v6Of = (k) => `${v6Base}${k.toString(16)}`;
const pick = (count) => 1 + Math.floor(Math.random() * (Number(count) - 1));

const print = (object) => process.stdout.write(`${JSON.stringify(object)}\n`);

function exchange(request) {
  return new Promise((resolve) => {
    let answer = '';
    let done = false;
    const finish = (result) => {
      if (done) return;
      done = true;
      socket.resetAndDestroy();
      resolve(result);
    };
    const socket = connect({
      host: `fe80::%${iface}`,
      port: 970,
      localAddress: `${local}%${iface}`,
      localPort: 970,
    });
    socket.setTimeout(10_000, () => finish({ error: 'timed out' }));
    socket.on('connect', () => socket.write(request));
    socket.on('data', (chunk) => {
      answer += chunk.toString('latin1');
      if (answer.endsWith('\n\n')) finish({ answer });
    });
    socket.on('error', (error) => finish({ error: error.message }));
    socket.on('close', () => finish({ error: `closed after ${JSON.stringify(answer)}` }));
  });
}

for (let n = 0; n < Number(max); n++) {
  const v4 = v4Of(pick(v4Count));
  const v6 = v6Of(pick(v6Count));
  print({ sent: n, v4, v6 });
  const result = await exchange(
    `request_ip=1\nip=${v4}/32\nip=${v6}/128\nleasestart=0\nleasetime=0\n\n`,
  );
  if (result.error !== undefined) {
    print({ stopped: result.error, at: n });
    process.exit(0);
  }
  print({ got: n, answer: result.answer });
}
print({ stopped: 'done', at: Number(max) });
