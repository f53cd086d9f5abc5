#!/usr/bin/env node
// Random messages for a wg-dynamic server, for the lab tests (plain
// JavaScript: it runs inside lab nodes unbuilt). Over --parallel
// connections at a time, each bound like the reference client (source port
// 970) from the next of --addresses source addresses <prefix><n> (n in hex
// from 1: a fresh 4-tuple each time, so that no connection waits for the
// last one with the same addresses and ports to finish closing), it sends
// batches of requests in random pieces: each batch is a run of requests that
// are well-formed but odd (unknown keys, extension lists, numbers at their
// limits, releases), and ends with one mutated request (bytes flipped,
// inserted or dropped, NUL and CR bytes, overlong lines and numbers, other
// commands and versions), which may or may not still be valid. It reads what comes back
// and checks every answer: key=value lines, an errno the protocol knows with
// its errmsg, an answer per request until the first errno 1 or 2, after which
// the server must close; never anything else, never a hang.
//
//   node fuzz-client.mjs <interface> <prefix> <messages> [--addresses N] [--parallel N] [--seed N]
//
// Prints one JSON line at the end: messages sent, answers by errno, closes,
// and the first problems found (an empty list when all was well).
import { connect } from 'node:net';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    seed: { type: 'string' },
    addresses: { type: 'string', default: '1000' },
    parallel: { type: 'string', default: '3' },
  },
});
const [iface, prefix, total] = positionals;
if (!iface || !prefix || !total) {
  process.stderr.write(
    'usage: fuzz-client.mjs <interface> <prefix> <messages> [--addresses N] [--parallel N] [--seed N]\n',
  );
  process.exit(2);
}

// A small seeded generator (mulberry32), so that a failure can be replayed.
let state = Number(values.seed ?? Math.floor(Math.random() * 2 ** 31)) >>> 0;
const seed = state;
const random = () => {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
};
const below = (n) => Math.floor(random() * n);
const pick = (list) => list[below(list.length)];

const ODD_LINES = [
  'x-unknown=1',
  'leasestart=0',
  'leasetime=4294967295',
  'ext=route',
  'ext=route,prefix,nonsense',
  'ext=',
  'ip=10.255.0.1/32',
  'ip=2001:db8:ffff::1/128',
  'ip=10.255.0.2',
  'ip=::ffff:10.0.0.1/128',
  'a=b=c',
  'k=',
];
/**
 * A well-formed request that changes nothing for a client that holds
 * nothing. (None asks for an address: a lease and its release would write
 * the peer's allowed-ips, which wireguard-go replaces as a whole, and a
 * peer with the thousands of /128s these clients speak from would lose
 * packets in the meantime. Grants are the other tests' business.)
 */
function oddRequest() {
  const lines = ['request_ip=1'];
  const count = below(5);
  for (let i = 0; i < count; i++) lines.push(pick(ODD_LINES));
  // Ask for addresses out of every pool only in pairs: one family alone would release the other.
  return `${lines.filter((l) => !l.startsWith('ip=')).join('\n')}\n\n`;
}

const MUTATIONS = [
  (m) => flip(m),
  (m) => insert(m, pick(['\0', '\r', '=', '\n', '\n\n', 'é', '\xff'])),
  (m) => drop(m),
  (m) =>
    m.replace(
      'request_ip=1',
      pick([
        'request_ip=2',
        'request_ip=',
        'request_ip',
        'hello=1',
        'request_ip=01',
        'request_ip=1 ',
      ]),
    ),
  (m) => m.replace('\n\n', `\n${pick(['x', '=', 'k'])}=${'v'.repeat(below(6000))}\n\n`),
  (m) =>
    m.replace(
      '\n\n',
      `\nleasestart=${pick(['4294967296', '-1', '1e3', '99999999999999999999', ' 1'])}\n\n`,
    ),
  (m) =>
    m.replace(
      '\n\n',
      `\nip=${pick(['10.0.0.1/24', '300.1.1.1/32', '::/64', 'fe80::1/128', '1.2.3.4/33', 'garbage', ''])}\n\n`,
    ),
  (m) => m.replaceAll('\n', '\r\n'),
  (m) => m.slice(0, below(m.length)) + m,
];
function flip(m) {
  const at = below(m.length);
  return m.slice(0, at) + String.fromCharCode(below(256)) + m.slice(at + 1);
}
function insert(m, text) {
  const at = below(m.length);
  return m.slice(0, at) + text + m.slice(at);
}
function drop(m) {
  const at = below(m.length);
  return m.slice(0, at) + m.slice(at + 1);
}

let lastFailure = '';
const ERRMSG = { 1: 'Invalid request', 2: 'Unsupported protocol', 3: 'Chosen IP(s) unavailable' };
const result = {
  seed,
  sent: 0,
  answers: { 0: 0, 1: 0, 2: 0, 3: 0 },
  closedAfterError: 0,
  /** Connections the server closed before answering anything (its connection limits): sent again. */
  refused: 0,
  /** Connections that could not be made (the last one from the same address still closing): again. */
  notConnected: 0,
  problems: [],
};
const problem = (text) => {
  if (result.problems.length < 10) result.problems.push(text);
};

/**
 * Checks one answer (without its blank line): key=value lines ending with
 * errno=N, or errno=N then its errmsg when N is not 0. Returns the errno, or
 * undefined when malformed.
 */
function check(answer) {
  const lines = answer.split('\n');
  for (const line of lines) {
    if (!/^[a-z_]+=[^\0]*$/.test(line)) {
      problem(`malformed line ${JSON.stringify(line)} in ${JSON.stringify(answer)}`);
      return undefined;
    }
  }
  const at = lines.findIndex((line) => line.startsWith('errno='));
  const errno = at === -1 ? Number.NaN : Number(lines[at].slice('errno='.length));
  if (!(errno in result.answers)) {
    problem(`no errno the protocol knows in ${JSON.stringify(answer)}`);
    return undefined;
  }
  const rest = lines.slice(at + 1);
  const expected = errno === 0 ? [] : [`errmsg=${ERRMSG[errno]}`];
  if (rest.length !== expected.length || rest[0] !== expected[0]) {
    problem(`errno ${errno} followed by ${JSON.stringify(rest)} in ${JSON.stringify(answer)}`);
  }
  return errno;
}

/** How long to wait for the last (mutated) request's answer once the others are in. */
const LAST_ANSWER_GRACE_MS = 50;

/** Sends one batch on one connection; resolves to false when the server refused the connection. */
function batch(local, messages) {
  return new Promise((resolve) => {
    const text = messages.join('');
    const socket = connect({
      host: `fe80::%${iface}`,
      port: 970,
      localAddress: `${local}%${iface}`,
      localPort: 970,
      // Each piece goes out as it is written: no waiting for the server's
      // delayed acknowledgement (tens of milliseconds) between pieces.
      noDelay: true,
    });
    let received = '';
    let answers = 0;
    let failed = false;
    let finished = false;
    let connected = false;
    let grace;
    const finish = () => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      clearTimeout(grace);
      // A reset, not a FIN: no TIME_WAIT, so the next connection may use the same 4-tuple at once.
      socket.resetAndDestroy();
      resolve(true);
    };
    const timer = setTimeout(() => {
      problem(
        `no answer or close within 20 s after ${answers} answers, from ${local} (connected ${connected}, ${messages.length} requests)`,
      );
      finish();
    }, 20_000);
    socket.on('connect', () => {
      connected = true;
      // In random pieces: the server must put requests together across reads.
      for (let at = 0; at < text.length && !socket.destroyed; ) {
        const size = 1 + below(below(4) === 0 ? 16 : 4096);
        socket.write(text.slice(at, at + size), 'latin1');
        at += size;
      }
      // A lone mutated request may get nothing (cut off): do not wait for the server's deadline.
      if (messages.length === 1) grace = setTimeout(finish, LAST_ANSWER_GRACE_MS);
    });
    socket.on('data', (chunk) => {
      received += chunk.toString('latin1');
      for (let end = received.indexOf('\n\n'); end !== -1; end = received.indexOf('\n\n')) {
        const answer = received.slice(0, end);
        received = received.slice(end + 2);
        if (failed) problem(`an answer after errno 1 or 2: ${JSON.stringify(answer)}`);
        const errno = check(answer);
        if (errno === undefined) continue;
        answers++;
        result.answers[errno]++;
        if (errno === 1 || errno === 2) failed = true;
        else if (errno !== 0 && answers < messages.length) {
          problem(
            `errno ${errno} for a harmless request: ${JSON.stringify(messages[answers - 1])}`,
          );
        }
      }
      // The well-formed requests are answered: the mutated last one may get an
      // answer, an error and a close, or nothing (it may be cut off).
      if (!failed && answers >= messages.length - 1 && grace === undefined) {
        grace = setTimeout(finish, answers >= messages.length ? 0 : LAST_ANSWER_GRACE_MS);
      }
    });
    let failure = '';
    socket.on('error', (error) => {
      failure = error.message;
    });
    socket.on('close', () => {
      if (finished) return;
      if (!connected || (answers === 0 && !failed && received.length === 0)) {
        // Not through yet: the previous connection from this address and port
        // still closing here (EADDRNOTAVAIL), or there (refused at once by the
        // server's per-peer limit). Again, in a moment.
        finished = true;
        clearTimeout(timer);
        if (connected) result.refused++;
        else result.notConnected++;
        lastFailure = failure;
        resolve(false);
        return;
      }
      if (received.length > 0) {
        problem(`a partial answer at the close: ${JSON.stringify(received)}`);
      }
      if (failed) result.closedAfterError++;
      // Every well-formed request before the mutated last one is answered.
      if (connected && answers < messages.length - 1) {
        problem(`closed after ${answers} answers to ${messages.length} requests`);
      }
      finish();
    });
  });
}

let nextAddress = 0;
const address = () => `${prefix}${((nextAddress++ % Number(values.addresses)) + 1).toString(16)}`;

async function worker() {
  while (result.sent < Number(total)) {
    const count = Math.min(Number(total) - result.sent, 1 + below(256));
    const messages = Array.from({ length: count - 1 }, oddRequest);
    messages.push(pick(MUTATIONS)(oddRequest()));
    result.sent += count;
    // A refused connection is tried again for up to 15 s: longer than the
    // server's idle timeout, after which whatever it still counts is gone.
    const giveUp = performance.now() + 15_000;
    while (!(await batch(address(), messages))) {
      if (performance.now() > giveUp) {
        problem(`no connection for 15 s: ${lastFailure || 'refused'}`);
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

await Promise.all(Array.from({ length: Number(values.parallel) }, worker));
process.stdout.write(`${JSON.stringify(result)}\n`);
