import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { backendFromEnvironment, type LabNode, type LabProcess } from '@wg-dynamic/lab';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** The built programs and tools the end-to-end tests run inside lab nodes. */
export const SERVER_BIN = join(root, 'packages/server/dist/bin/wg-dynamic-server.js');
export const CLIENT_BIN = join(root, 'packages/client/dist/bin/wg-dynamic-client.js');
export const EXCHANGE = join(root, 'test/support/exchange.mjs');

/**
 * How long to wait for what takes a daemon a moment on the host: in the
 * kernel lab, which runs under software emulation, Node needs seconds to
 * start and a daemon can need a minute. A guard against hanging, never a
 * measure of speed: tests make no assertion on it.
 */
export function patient(ms: number): number {
  return backendFromEnvironment() === 'kernel' ? ms * 10 : ms;
}

/** A state directory of the test's own, removed by the returned function. */
export async function stateDirectory(): Promise<{ path: string; remove: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), 'wg-dynamic-test-'));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

/** Starts wg-dynamic-server in a node and waits until it listens. */
export async function startServer(node: LabNode, args: readonly string[]): Promise<LabProcess> {
  const server = await node.spawn('node', [SERVER_BIN, ...args, node.interface]);
  try {
    await server.waitForLine(/"msg":"listening"|listening/, patient(30_000));
  } catch (error) {
    throw new Error(`wg-dynamic-server did not start:\n${server.outputTail(40)}`, { cause: error });
  }
  return server;
}

export interface Exchange {
  /** 0 answered, 3 closed without an answer, 4 timed out, 5 could not connect. */
  readonly code: number;
  readonly answer: string;
  /** What the exchange tool said went wrong, if anything. */
  readonly error: string;
}

/** One raw wg-dynamic exchange from a node, as the reference client makes it. */
export async function exchange(
  node: LabNode,
  request: string,
  options: {
    from?: string;
    sourcePort?: number;
    /** Everything until the server closes, not just the first answer. */
    all?: boolean;
    /** Everything the server writes until it closes or this long after its first answer. */
    lingerMs?: number;
    /** How long to wait for an answer (default 5 s, longer in the kernel lab). */
    timeoutMs?: number;
  } = {},
): Promise<Exchange> {
  const args = [
    EXCHANGE,
    node.interface,
    options.from ?? node.linkLocal.toString(),
    '--source-port',
    String(options.sourcePort ?? 970),
    ...(options.all ? ['--all'] : []),
    ...(options.lingerMs === undefined ? [] : ['--linger', String(options.lingerMs)]),
    '--timeout',
    String(options.timeoutMs ?? patient(5_000)),
  ];
  const result = await node.exec('node', args, { input: request, timeoutMs: patient(60_000) });
  return { code: result.code ?? -1, answer: result.stdout, error: result.stderr.trim() };
}

/** The `key=value` lines of one answer, as a map from key to every value it had. */
export function fields(answer: string): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const line of answer.split('\n')) {
    const equals = line.indexOf('=');
    if (equals <= 0) continue;
    const key = line.slice(0, equals);
    map.set(key, [...(map.get(key) ?? []), line.slice(equals + 1)]);
  }
  return map;
}

/** `wg show <interface> allowed-ips` of one node: public key → its allowed-ips. */
export async function allowedIps(node: LabNode): Promise<Map<string, string[]>> {
  const text = await node.wg('show', node.interface, 'allowed-ips');
  const map = new Map<string, string[]>();
  for (const line of text.trim().split('\n')) {
    const [key, ...ips] = line.trim().split(/\s+/);
    if (key)
      map.set(
        key,
        ips.filter((ip) => ip !== '(none)'),
      );
  }
  return map;
}

/** Polls `check` until it holds; a timeout is a failure with `what` in the message. */
export async function eventually(
  what: string,
  check: () => Promise<boolean> | boolean,
  timeoutMs = patient(30_000),
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`gave up waiting: ${what}`);
}
