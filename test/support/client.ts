// The client's side of the end-to-end tests: starting wg-dynamic-client in a
// lab node, reading its logs, the interface as ip(8) shows it, and a scripted
// server that answers whatever a test wants.
import { fileURLToPath } from 'node:url';
import { backendFromEnvironment, type LabNode, type LabProcess } from '@wg-dynamic/lab';
import { CLIENT_BIN } from './daemons.js';

/** A wg-dynamic server that answers as the test scripts it (see the file). */
export const RESPONDER = fileURLToPath(new URL('./scripted-responder.mjs', import.meta.url));

/**
 * How long a lab test waits for something before it fails: an upper bound,
 * never what a test asserts, set for the kernel lab's virtual machine, which
 * runs Node under software emulation many times slower than the host.
 */
export const LAB_WAIT_MS = 120_000;

/** Each lab test's own time limit, with room for several waits in a row. */
export const LAB_TEST_TIMEOUT_MS = 600_000;

/**
 * True in the kernel lab. Behaviour that does not depend on the WireGuard
 * implementation (parsing, timing, processes) is proven in the userspace lab
 * only: the kernel lab runs under software emulation, where every test costs
 * seconds (project lab-kernel in vitest.config.ts).
 */
export const KERNEL_LAB = backendFromEnvironment() === 'kernel';

/** Starts wg-dynamic-client in a node (JSON logs on standard error). */
export function startClient(node: LabNode, args: readonly string[]): Promise<LabProcess> {
  return node.spawn(process.execPath, [
    CLIENT_BIN,
    '--log-level',
    'debug',
    ...args,
    node.interface,
  ]);
}

/** One parsed log line of a daemon (pino JSON); undefined for a line that is not one. */
export function logRecord(line: string): Record<string, unknown> | undefined {
  try {
    const record = JSON.parse(line) as unknown;
    return typeof record === 'object' && record !== null
      ? (record as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** The log records of a process whose message is `message`, in order. */
export function logs(child: LabProcess, message: string | RegExp): Record<string, unknown>[] {
  return child.stderrLines.map(logRecord).filter((record): record is Record<string, unknown> => {
    const msg = record?.msg;
    return (
      typeof msg === 'string' && (typeof message === 'string' ? msg === message : message.test(msg))
    );
  });
}

/**
 * Waits until a process has logged `message` at least `count` times in all;
 * a timeout or the process's exit fails with its output.
 */
export async function waitForLogs(
  child: LabProcess,
  message: string | RegExp,
  count = 1,
  timeoutMs = LAB_WAIT_MS,
): Promise<Record<string, unknown>[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = logs(child, message);
    if (found.length >= count) return found;
    if (child.exitStatus !== undefined || Date.now() > deadline) {
      throw new Error(
        `${child.command}: ${found.length} of ${count} log lines "${message}" ${
          child.exitStatus === undefined ? 'in time' : 'before it exited'
        }\n${child.outputTail(40)}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * What the interface carries, read by ip(8) as an independent witness:
 * addresses as `address/length`, routes as `destination proto N` (both
 * families, main table, but not the kernel's own), each list sorted.
 */
export interface InterfaceView {
  readonly addresses: string[];
  readonly routes: string[];
}

export async function interfaceView(node: LabNode): Promise<InterfaceView> {
  const links = JSON.parse(await node.ip('-j', 'address', 'show', 'dev', node.interface)) as Array<{
    addr_info?: Array<{ local: string; prefixlen: number }>;
  }>;
  const addresses = (links[0]?.addr_info ?? []).map((a) => `${a.local}/${a.prefixlen}`).sort();
  const routes: string[] = [];
  for (const family of ['-4', '-6']) {
    const list = JSON.parse(
      await node.ip('-j', family, 'route', 'show', 'dev', node.interface),
    ) as Array<{ dst: string; protocol?: string }>;
    for (const route of list) {
      // The kernel's own routes follow the addresses (compared above), and
      // kernels differ in when they make them (6.1 drops the /128 route of
      // an IPv6 address that 6.18 keeps).
      if (route.protocol === 'kernel') continue;
      routes.push(`${route.dst} proto ${route.protocol ?? 'boot'}`);
    }
  }
  return { addresses, routes: routes.sort() };
}

/** The requests the scripted responder saw, as text. */
export function requestsSeen(responder: LabProcess): string[] {
  return responder.stdoutLines
    .filter((line) => line.startsWith('REQUEST '))
    .map((line) => JSON.parse(line.slice('REQUEST '.length)) as string);
}

/** Tells the scripted responder how to answer from now on. */
export function script(
  responder: LabProcess,
  how:
    | { mode: 'answer'; text: string; close?: boolean }
    | { mode: 'silent' }
    | { mode: 'endless' }
    | { mode: 'close' },
): void {
  responder.stdin?.write(`${JSON.stringify(how)}\n`);
}

/** Starts the scripted responder in a node and waits until it listens. */
export async function startResponder(node: LabNode): Promise<LabProcess> {
  const responder = await node.spawn(process.execPath, [RESPONDER, node.interface], {
    stdin: 'pipe',
  });
  await responder.waitForLine(/^LISTENING$/, LAB_WAIT_MS, 'stdout');
  return responder;
}
