import { unlink } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Logger, silentLogger } from '@wg-dynamic/log';
import { type Backend, backendFromEnvironment, requireSandbox } from '../environment.js';
import { LabError } from '../errors.js';
import { LabProcess } from '../process/lab-process.js';
import { runCommand } from '../process/run-command.js';
import { assertInterfaceName } from './interface-name.js';
import { probeUapiSocket } from './uapi-probe.js';

/** wireguard-go's control socket directory (ipc/uapi_linux.go, compiled in; /var/run is /run). */
export const WIREGUARD_GO_SOCKET_DIRECTORY = '/var/run/wireguard';

/** A bare WireGuard interface (no keys, no peers, no addresses, down) for a lab test. */
export interface WireGuardInterface extends AsyncDisposable {
  readonly name: string;
  readonly backend: Backend;
  /** Removes the interface (stops wireguard-go, or `ip link del`). Idempotent. */
  destroy(): Promise<void>;
}

export interface CreateWireGuardInterfaceOptions {
  /** Default: WG_DYNAMIC_LAB_BACKEND, else userspace. */
  readonly backend?: Backend;
  /** The wireguard-go program to run (default: `wireguard-go` on PATH). */
  readonly wireguardGo?: string;
  /** How long wireguard-go may take to answer on its socket (default 10 s). */
  readonly readyTimeoutMs?: number;
  readonly logger?: Logger;
}

/**
 * Makes a WireGuard interface in the current network namespace: a
 * `wireguard-go -f <name>` child (userspace) answering on
 * /run/wireguard/<name>.sock, or `ip link add <name> type wireguard` (kernel).
 * Works only inside a lab sandbox; a missing prerequisite is an error that
 * says how to install it.
 */
export async function createWireGuardInterface(
  name: string,
  options: CreateWireGuardInterfaceOptions = {},
): Promise<WireGuardInterface> {
  requireSandbox('createWireGuardInterface');
  assertInterfaceName(name);
  const backend = options.backend ?? backendFromEnvironment();
  const logger = options.logger ?? silentLogger;
  const existing = await runCommand(['ip', 'link', 'show', 'dev', name]);
  if (existing.code === 0) {
    throw new LabError(
      'INVALID_ARGUMENT',
      `an interface named ${name} already exists in this network namespace; pick another name or delete it (ip link del ${name})`,
    );
  }
  return backend === 'kernel'
    ? createKernelInterface(name, logger)
    : createUserspaceInterface(name, options, logger);
}

async function createKernelInterface(name: string, logger: Logger): Promise<WireGuardInterface> {
  const added = await runCommand(['ip', 'link', 'add', name, 'type', 'wireguard'], { logger });
  if (added.code !== 0) {
    if (/unknown device type|not supported/i.test(added.stderr)) {
      throw new LabError(
        'MISSING_PREREQUISITE',
        `this kernel has no WireGuard module (${added.command}: ${added.stderr.trim()}): load it ` +
          "with `modprobe wireguard` (Debian's linux-image-amd64 ships it), run the test in the kernel " +
          'lab (packages/lab/bin/kernel-lab), or use the userspace backend (WG_DYNAMIC_LAB_BACKEND=userspace)',
      );
    }
    throw new LabError('COMMAND_FAILED', `${added.command} failed: ${added.stderr.trim()}`);
  }
  let destroyed: Promise<void> | undefined;
  const destroy = () => {
    destroyed ??= (async () => {
      const deleted = await runCommand(['ip', 'link', 'del', 'dev', name], { logger });
      if (deleted.code !== 0 && !/does not exist|cannot find device/i.test(deleted.stderr)) {
        throw new LabError('COMMAND_FAILED', `${deleted.command} failed: ${deleted.stderr.trim()}`);
      }
    })();
    return destroyed;
  };
  return { name, backend: 'kernel', destroy, [Symbol.asyncDispose]: destroy };
}

async function createUserspaceInterface(
  name: string,
  options: CreateWireGuardInterfaceOptions,
  logger: Logger,
): Promise<WireGuardInterface> {
  const socket = `${WIREGUARD_GO_SOCKET_DIRECTORY}/${name}.sock`;
  const program = options.wireguardGo ?? 'wireguard-go';
  const child = await LabProcess.start([program, '-f', name], {
    // Foreground mode: no daemon warning, no fork; errors only.
    env: { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'error' },
    logger,
  });
  let destroyed: Promise<void> | undefined;
  const destroy = () => {
    destroyed ??= (async () => {
      const exit = await child.stop();
      // SIGKILL leaves the socket file behind; SIGTERM removes it.
      if (exit.signal === 'SIGKILL') await unlink(socket).catch(() => {});
    })();
    return destroyed;
  };
  try {
    await waitForSocket(child, socket, options.readyTimeoutMs ?? 10_000);
  } catch (error) {
    await destroy();
    throw error;
  }
  return { name, backend: 'userspace', destroy, [Symbol.asyncDispose]: destroy };
}

/** Polls the UAPI socket until it answers, the process exits, or the time is up. */
export async function waitForSocket(
  child: LabProcess,
  socket: string,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitStatus !== undefined) {
      await child.exited;
      throw new LabError(
        'PROCESS_EXITED',
        `${child.command} exited (${describeExit(child)}) before its control socket ${socket} answered\n${child.outputTail()}`,
      );
    }
    if (await probeUapiSocket(socket, 500)) return;
    if (Date.now() >= deadline) {
      throw new LabError(
        'TIMEOUT',
        `${child.command} did not answer on ${socket} within ${timeoutMs} ms\n${child.outputTail()}`,
      );
    }
    await sleep(5);
  }
}

function describeExit(child: LabProcess): string {
  const exit = child.exitStatus;
  if (exit === undefined) return 'still running';
  return exit.signal !== null ? `killed by ${exit.signal}` : `status ${exit.code}`;
}
