/**
 * The server benchmark's load generator: simulated clients in the clients'
 * namespace, each exchange made as the reference client makes it (bind the
 * client's link-local /128 and source port 970, connect to
 * [fe80::%<interface>]:970, send one request, read one answer, close), and
 * closed with a reset so that the 4-tuple can be used again at once (no
 * TIME_WAIT).
 *
 *   node load-generator.js '<json LoadOptions>'
 *
 * Reads commands as JSON lines on stdin, `{"run":"new"}` (each of its clients
 * asks for a new IPv4 and IPv6 address) or `{"run":"renew"}` (each renews
 * what the last "new" run gave it), and answers each with one JSON line
 * (`RunResult`). Exits when stdin ends.
 *
 * Two ways to make the exchanges: "lean" drives Node's TCP handles
 * directly (the internal tcp_wrap binding: no stream, no socket object, a
 * fraction of the CPU per connection, so the machine's two cores go to the
 * server rather than to the load), and "net", the public node:net API, for
 * a Node without those internals.
 */
import { connect } from 'node:net';
import { createInterface } from 'node:readline';
import { clientAddress } from './netns.js';

export type Generator = 'lean' | 'net';

export interface LoadOptions {
  readonly interfaceName: string;
  /** This process's clients: first to first + count - 1. */
  readonly first: number;
  readonly count: number;
  /** Exchanges in flight at once. */
  readonly concurrency: number;
  readonly generator: Generator;
}

export interface RunResult {
  readonly event: 'done';
  readonly generator: Generator;
  /** Epoch milliseconds of the first connect and of the last answer. */
  readonly startedAt: number;
  readonly endedAt: number;
  /** Exchanges answered as they should be (errno=0, the addresses asked for). */
  readonly ok: number;
  /** Exchanges that failed, and the first few reasons. */
  readonly failed: number;
  readonly failures: readonly string[];
  /** Latency of each good exchange in ms, as a base64 Float32Array. */
  readonly latencies: string;
  /** CPU seconds this process used during the run. */
  readonly cpuSeconds: number;
}

type Kind = 'new' | 'renew';

const FIRST_REQUEST = 'request_ip=1\nip=0.0.0.0/32\nip=::/128\nleasestart=0\nleasetime=0\n\n';
const renewal = (ips: string) => `request_ip=1\n${ips}leasestart=0\nleasetime=0\n\n`;
/** An exchange that takes this long has failed (the server dropped it). */
const EXCHANGE_TIMEOUT_MS = 30_000;

/** Makes one exchange; calls back with the whole answer, or an error text. */
type Exchange = (source: string, request: string, done: (answer: string | Error) => void) => void;

/** Node's internal TCP handle, as much of it as the lean generator uses. */
interface TcpHandle {
  bind6(address: string, port: number, flags: number): number;
  connect6(request: object, address: string, port: number): number;
  readStart(): number;
  readStop(): number;
  writeLatin1String(request: object, text: string): number;
  reset(callback: () => void): number;
  close(callback?: () => void): void;
  onread: (buffer: ArrayBuffer | undefined) => void;
}

interface TcpBindings {
  tcp: {
    TCP: new (type: number) => TcpHandle;
    TCPConnectWrap: new () => { oncomplete: (status: number) => void };
    constants: { SOCKET: number };
  };
  stream: {
    WriteWrap: new () => { handle: TcpHandle; oncomplete: () => void; async: boolean };
    streamBaseState: Int32Array;
    kReadBytesOrError: number;
  };
}

function tcpBindings(): TcpBindings | undefined {
  try {
    const binding = (process as unknown as { binding(name: string): unknown }).binding;
    const tcp = binding('tcp_wrap') as TcpBindings['tcp'];
    const stream = binding('stream_wrap') as TcpBindings['stream'];
    const handle = new tcp.TCP(tcp.constants.SOCKET);
    const complete =
      typeof handle.bind6 === 'function' &&
      typeof handle.connect6 === 'function' &&
      typeof handle.reset === 'function' &&
      typeof stream.WriteWrap === 'function' &&
      stream.streamBaseState instanceof Int32Array;
    handle.close();
    return complete ? { tcp, stream } : undefined;
  } catch {
    return undefined;
  }
}

/** The lean exchange over Node's TCP handles; undefined when this Node does not have them. */
function leanExchange(interfaceName: string): Exchange | undefined {
  const bindings = tcpBindings();
  if (!bindings) return undefined;
  const { TCP, TCPConnectWrap, constants } = bindings.tcp;
  const { WriteWrap, streamBaseState, kReadBytesOrError } = bindings.stream;
  const server = `fe80::%${interfaceName}`;
  return (source, request, done) => {
    const handle = new TCP(constants.SOCKET);
    let finished = false;
    const finish = (answer: string | Error, reset: boolean) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      handle.readStop();
      if (reset) handle.reset(() => {});
      else handle.close();
      done(answer);
    };
    const timer = setTimeout(() => finish(new Error('timed out'), true), EXCHANGE_TIMEOUT_MS);
    const bound = handle.bind6(source, 970, 0);
    if (bound !== 0) return finish(new Error(`bind ${source}: error ${bound}`), false);
    const connecting = new TCPConnectWrap();
    connecting.oncomplete = (status) => {
      if (status < 0) return finish(new Error(`connect: error ${status}`), false);
      let answer = '';
      handle.onread = (buffer) => {
        const length = streamBaseState[kReadBytesOrError] ?? -1;
        if (length < 0 || !buffer) {
          return finish(new Error(`closed after ${JSON.stringify(answer)}`), false);
        }
        answer += Buffer.from(buffer, 0, length).toString('latin1');
        if (answer.endsWith('\n\n')) finish(answer, true);
      };
      handle.readStart();
      const writing = new WriteWrap();
      writing.handle = handle;
      writing.oncomplete = () => {};
      writing.async = false;
      handle.writeLatin1String(writing, request);
    };
    const connected = handle.connect6(connecting, server, 970);
    if (connected !== 0) finish(new Error(`connect: error ${connected}`), false);
  };
}

/** The same exchange through node:net. */
function netExchange(interfaceName: string): Exchange {
  const host = `fe80::%${interfaceName}`;
  return (source, request, done) => {
    const socket = connect({
      host,
      port: 970,
      localAddress: source,
      localPort: 970,
      noDelay: true,
    });
    let answer = '';
    let finished = false;
    const finish = (result: string | Error) => {
      if (finished) return;
      finished = true;
      socket.resetAndDestroy();
      done(result);
    };
    socket.setTimeout(EXCHANGE_TIMEOUT_MS, () => finish(new Error('timed out')));
    socket.on('connect', () => socket.write(request));
    socket.on('data', (chunk: Buffer) => {
      answer += chunk.toString('latin1');
      if (answer.endsWith('\n\n')) finish(answer);
    });
    socket.on('error', (error) => finish(error));
    socket.on('close', () => finish(new Error(`closed after ${JSON.stringify(answer)}`)));
  };
}

/** The `ip=` lines of a good answer, or why it is not good. */
function check(kind: Kind, answer: string, asked: string | undefined): string | Error {
  if (!answer.endsWith('errno=0\n\n')) return new Error(`answered ${JSON.stringify(answer)}`);
  const ips = answer
    .split('\n')
    .filter((line) => line.startsWith('ip='))
    .map((line) => `${line}\n`)
    .join('');
  if (kind === 'new' && ips.split('\n').length !== 3) {
    return new Error(`answered ${JSON.stringify(answer)}`);
  }
  if (kind === 'renew' && ips !== asked) {
    return new Error(`renewal of ${JSON.stringify(asked)} answered ${JSON.stringify(answer)}`);
  }
  return ips;
}

async function main(): Promise<void> {
  const options = JSON.parse(process.argv[2] ?? '{}') as LoadOptions;
  const lean = options.generator === 'lean' ? leanExchange(options.interfaceName) : undefined;
  if (options.generator === 'lean' && !lean) {
    throw new Error('this Node has no usable tcp_wrap binding: use the "net" generator');
  }
  const exchange = lean ?? netExchange(options.interfaceName);
  const sources = Array.from(
    { length: options.count },
    (_, k) => `${clientAddress(options.first + k)}%${options.interfaceName}`,
  );
  // What each client holds after a "new" run: its ip= lines, for its renewal.
  const held: (string | undefined)[] = new Array(options.count);

  const run = (kind: Kind) =>
    new Promise<RunResult>((resolve) => {
      const latencies = new Float32Array(options.count);
      let ok = 0;
      let failed = 0;
      const failures: string[] = [];
      let next = 0;
      let active = 0;
      const cpuBefore = process.cpuUsage();
      const startedAt = performance.timeOrigin + performance.now();
      const end = () => {
        const cpu = process.cpuUsage(cpuBefore);
        resolve({
          event: 'done',
          generator: options.generator,
          startedAt,
          endedAt: performance.timeOrigin + performance.now(),
          ok,
          failed,
          failures,
          latencies: Buffer.from(latencies.buffer, 0, ok * 4).toString('base64'),
          cpuSeconds: (cpu.user + cpu.system) / 1e6,
        });
      };
      const launch = () => {
        if (next >= options.count) {
          if (active === 0) end();
          return;
        }
        const k = next++;
        active++;
        const asked = kind === 'renew' ? held[k] : undefined;
        const request = kind === 'new' ? FIRST_REQUEST : renewal(asked ?? '');
        const began = performance.now();
        exchange(sources[k] as string, request, (answer) => {
          const elapsed = performance.now() - began;
          const result = answer instanceof Error ? answer : check(kind, answer, asked);
          if (result instanceof Error) {
            failed++;
            if (failures.length < 5) failures.push(result.message);
          } else {
            latencies[ok++] = elapsed;
            if (kind === 'new') held[k] = result;
          }
          active--;
          launch();
        });
      };
      for (let i = 0; i < options.concurrency; i++) launch();
    });

  for await (const line of createInterface({ input: process.stdin })) {
    const command = JSON.parse(line) as { run: Kind };
    const result = await run(command.run);
    process.stdout.write(`${JSON.stringify(result)}\n`);
  }
}

await main();
