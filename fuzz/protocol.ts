/**
 * The wire codec's fuzz command: `npm run fuzz -- [--inputs N] [--seed S]`.
 *
 * Feeds generated and mutated inputs (default 1,000,000), each cut into random
 * chunks, to the request and the response parser, and checks on every one:
 * no exception but ProtocolError events escapes; an error is the last event;
 * no more than one line limit is ever buffered; the same bytes in one chunk
 * give the same events; whatever parses serializes and parses back to itself.
 * Any failure is a crash: it is printed as hex with the seed, written to
 * fuzz-crashes/, and the command exits 1.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { IpAddress, IpPrefix } from '@wg-dynamic/ip';
import {
  MAX_LINE_SIZE,
  type MessageParser,
  NEW_ADDRESS,
  type ParseEvent,
  RELEASE,
  type Request,
  RequestParser,
  type Response,
  ResponseParser,
  serializeRequest,
  serializeResponse,
  specificAddress,
} from '@wg-dynamic/protocol';

const { values } = parseArgs({
  options: {
    inputs: { type: 'string', default: '1000000' },
    seed: { type: 'string', default: String(Date.now() >>> 0) },
  },
});
const inputs = Number(values.inputs);
const seed = Number(values.seed) >>> 0;

/** mulberry32: small, fast and reproducible from the printed seed. */
function prng(state: number) {
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = prng(seed);
const below = (n: number) => Math.floor(random() * n);
const pick = <T>(list: readonly T[]): T => list[below(list.length)] as T;

const ip = (text: string) => IpAddress.parse(text) as IpAddress;
const corpus: Buffer[] = [
  serializeRequest({ ip: { 4: NEW_ADDRESS, 6: NEW_ADDRESS } }),
  serializeRequest({ ip: { 4: RELEASE, 6: RELEASE } }),
  serializeRequest({
    ip: { 4: specificAddress(ip('192.168.4.3')), 6: specificAddress(ip('2001:db8:1234::7')) },
    extensions: ['route'],
  }),
  serializeResponse({
    errno: 0,
    ip: { 4: ip('192.168.4.3'), 6: ip('2001:db8:1234::7') },
    leaseStart: 1_700_000_000,
    leaseTime: 3600,
    extensions: ['route'],
    routes: [IpPrefix.from('10.0.0.0/8'), IpPrefix.from('::/0')],
  }),
  serializeResponse({ errno: 3 }),
  Buffer.from('request_ip=1\nip=::ffff:1.2.3.4/128\nleasestart=4294967295\nleasetime=00\n\n'),
  Buffer.from('request_ip=1\next=prefix\nprefix=::/56\nprefix=10.200.0.16/28\n\n'),
  serializeResponse({
    errno: 0,
    leaseStart: 1,
    leaseTime: 2,
    extensions: ['prefix'],
    prefix: { 6: IpPrefix.from('2001:db8:100:5::/64') },
  }),
];
const interesting = [0x0a, 0x3d, 0x00, 0x0d, 0x2f, 0x3a, 0x2e, 0x30, 0x31, 0x39, 0xff, 0x20, 0x2c];
const tokens = [
  'request_ip=1\n',
  'ip=',
  'ext=route,prefix',
  'route=',
  'prefix=',
  '/64',
  '/32',
  '/128',
  '::',
  '\n\n',
  'errno=0\n',
  '4294967296',
];

type Mutation = (bytes: Buffer, at: number) => Buffer;

const splice = (bytes: Buffer, at: number, removed: number, inserted: Uint8Array): Buffer =>
  Buffer.concat([bytes.subarray(0, at), inserted, bytes.subarray(at + removed)]);

/** Mutations with their weights. Long runs are slow to feed, so they are rare. */
const mutations: [number, Mutation][] = [
  [
    4,
    (bytes) => {
      // flip a bit
      if (bytes.length > 0) {
        const i = below(bytes.length);
        bytes[i] = (bytes[i] ?? 0) ^ (1 << below(8));
      }
      return bytes;
    },
  ],
  [
    4,
    (bytes) => {
      // an interesting byte
      if (bytes.length > 0) bytes[below(bytes.length)] = pick(interesting);
      return bytes;
    },
  ],
  [4, (bytes, at) => splice(bytes, at, 0, randomBytes(1 + below(8)))],
  [4, (bytes, at) => splice(bytes, at, 1 + below(8), Buffer.alloc(0))],
  [4, (bytes, at) => splice(bytes, at, 0, bytes.subarray(at, at + below(32)))],
  [4, (bytes, at) => Buffer.concat([bytes.subarray(0, at), pick(corpus).subarray(below(40))])],
  [4, (bytes, at) => splice(bytes, at, 0, Buffer.from(pick(tokens)))],
  [4, (bytes, at) => bytes.subarray(0, at)],
  [1, (bytes, at) => splice(bytes, at, 0, Buffer.alloc(MAX_LINE_SIZE - 8 + below(16), 0x61))],
];
const totalWeight = mutations.reduce((sum, [weight]) => sum + weight, 0);

function mutate(input: Buffer): Buffer {
  let bytes: Buffer = Buffer.from(input);
  for (let round = 1 + below(4); round > 0; round--) {
    let roll = below(totalWeight);
    for (const [weight, mutation] of mutations) {
      roll -= weight;
      if (roll < 0) {
        bytes = mutation(bytes, below(bytes.length + 1));
        break;
      }
    }
  }
  return bytes;
}

function randomBytes(length: number): Buffer {
  const bytes = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) bytes[i] = below(256);
  return bytes;
}

function chunks(bytes: Buffer): Buffer[] {
  const parts: Buffer[] = [];
  let start = 0;
  while (start < bytes.length) {
    const length = 1 + below(Math.max(1, Math.min(bytes.length - start, below(2) ? 8 : 600)));
    parts.push(bytes.subarray(start, start + length));
    start += length;
  }
  return parts;
}

class Crash extends Error {}

function run<T>(parser: MessageParser<T>, parts: readonly Buffer[]): ParseEvent<T>[] {
  const all: ParseEvent<T>[] = [];
  for (const part of parts) {
    const events = parser.push(part);
    if (parser.bufferedBytes >= MAX_LINE_SIZE)
      throw new Crash(`buffered ${parser.bufferedBytes} bytes`);
    const failure = events.findIndex((e) => !e.ok);
    if (failure !== -1 && failure !== events.length - 1)
      throw new Crash('an event follows an error');
    all.push(...events);
    if (failure !== -1) break;
  }
  return all;
}

function shape<T>(events: ParseEvent<T>[], show: (message: T) => string): string {
  return events
    .map((e) => (e.ok ? show(e.message) : `error ${e.error.errno}: ${e.error.message}`))
    .join('|');
}

const showRequest = (r: Request) => serializeRequest(r).toString('latin1');
const showResponse = (r: Response) => serializeResponse(r).toString('latin1');

function check(bytes: Buffer, stats: Stats): void {
  const parts = chunks(bytes);
  const requests = run(new RequestParser(), parts);
  const responses = run(new ResponseParser(), parts);
  for (const e of requests) stats.count(e.ok ? 'request' : `request errno ${e.error.errno}`);
  for (const e of responses) stats.count(e.ok ? 'response' : 'response refused');
  if (stats.total % 16 === 0) {
    if (shape(run(new RequestParser(), [bytes]), showRequest) !== shape(requests, showRequest)) {
      throw new Crash('chunking changed the request events');
    }
    if (
      shape(run(new ResponseParser(), [bytes]), showResponse) !== shape(responses, showResponse)
    ) {
      throw new Crash('chunking changed the response events');
    }
  }
  for (const e of requests) {
    if (!e.ok) continue;
    const again = run(new RequestParser(), [serializeRequest(e.message)]);
    if (shape(again, showRequest) !== showRequest(e.message))
      throw new Crash('request did not round-trip');
  }
  for (const e of responses) {
    if (!e.ok) continue;
    const again = run(new ResponseParser(), [serializeResponse(e.message)]);
    if (shape(again, showResponse) !== showResponse(e.message))
      throw new Crash('response did not round-trip');
  }
}

class Stats {
  total = 0;
  readonly outcomes = new Map<string, number>();
  count(outcome: string) {
    this.outcomes.set(outcome, (this.outcomes.get(outcome) ?? 0) + 1);
  }
}

const stats = new Stats();
const crashes: { input: Buffer; error: unknown }[] = [];
const started = process.hrtime.bigint();
for (let i = 0; i < inputs; i++) {
  stats.total = i;
  const input = below(10) === 0 ? randomBytes(below(200)) : mutate(pick(corpus));
  try {
    check(input, stats);
  } catch (error) {
    crashes.push({ input, error });
    if (crashes.length >= 10) break;
  }
}
const seconds = Number(process.hrtime.bigint() - started) / 1e9;

console.log(
  `fuzzed ${stats.total + 1} inputs in ${seconds.toFixed(1)} s (${Math.round((stats.total + 1) / seconds).toLocaleString('en-US')} inputs/s), seed ${seed}`,
);
for (const [outcome, n] of [...stats.outcomes].sort((a, b) => b[1] - a[1])) {
  console.log(`  ${outcome}: ${n}`);
}
console.log(`crashes: ${crashes.length}`);
if (crashes.length > 0) {
  mkdirSync('fuzz-crashes', { recursive: true });
  for (const [n, crash] of crashes.entries()) {
    const file = `fuzz-crashes/protocol-${seed}-${n}.bin`;
    writeFileSync(file, crash.input);
    console.log(
      `\n${crash.error instanceof Error ? crash.error.stack : String(crash.error)}\ninput (${file}, first 256 bytes): ${crash.input.subarray(0, 256).toString('hex')}`,
    );
  }
  process.exit(1);
}
