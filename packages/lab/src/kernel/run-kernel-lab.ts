import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { LabError } from '../errors.js';
import { LabProcess } from '../process/lab-process.js';
import { type AcceleratorChoice, chooseAccelerator, probeAcceleratorFacts } from './accelerator.js';
import { guestEnvironment } from './guest-environment.js';
import { commandScript, parseGuestStatus } from './guest-scripts.js';
import { buildInitramfs } from './initramfs.js';
import { ensureKernelImage } from './kernel-image.js';
import { qemuArguments } from './qemu-arguments.js';

export interface KernelLabOptions {
  /** The command to run in the guest, in `cwd`. */
  readonly command: readonly string[];
  /** Default: this process's working directory (the guest sees the same path). */
  readonly cwd?: string;
  /** The host environment to pass on (filtered by guestEnvironment); default process.env. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Default 2048 (vitest and Node run inside). */
  readonly memoryMb?: number;
  /** Default 2. */
  readonly cpus?: number;
  /** Kill the guest after this long; default 15 minutes. */
  readonly timeoutMs?: number;
  /** Where the command's output goes, byte for byte, as it comes (default: this process's). */
  readonly stdout?: NodeJS.WritableStream;
  readonly stderr?: NodeJS.WritableStream;
  /** kernel-lab's own status lines (default: to stderr). */
  readonly progress?: (line: string) => void;
  /** Aborting kills the guest. */
  readonly signal?: AbortSignal;
  /** Where kernels are cached (default ~/.cache/wg-dynamic/kernel-lab). */
  readonly cacheBase?: string;
  /** Override the KVM decision (tests, experiments). */
  readonly accelerator?: AcceleratorChoice;
}

export interface KernelLabResult {
  /** The command's exit status in the guest. */
  readonly status: number;
  readonly accelerator: AcceleratorChoice['accelerator'];
  readonly kernelVersion: string;
  /** From starting qemu to starting the command. */
  readonly bootMs: number;
  readonly totalMs: number;
}

const CONSOLE_TAIL_LINES = 30;

/** The lines of the guest's console worth showing: the panic or oops headline, then the end. */
export function describeConsole(text: string): string {
  const lines = text.replaceAll('\r', '').trimEnd().split('\n');
  if (lines.length === 1 && lines[0] === '') return '';
  const headline = lines.find((line) =>
    /Kernel panic|BUG:|Oops:|general protection fault/.test(line),
  );
  const tail = lines.slice(-CONSOLE_TAIL_LINES);
  const shown =
    headline !== undefined && !tail.includes(headline) ? [headline, '…', ...tail] : tail;
  return `\nthe guest's console (boot messages, the end):\n  ${shown.join('\n  ')}`;
}

/**
 * Boots Debian's kernel under qemu with the host's root (read-only, with a
 * tmpfs overlay), runs one command there with the kernel WireGuard backend,
 * streams its stdout and stderr back byte for byte, and resolves with its
 * exit status. A guest that cannot boot, crashes, or runs out of time is a
 * LabError (VM_FAILED or TIMEOUT) with the end of the console log.
 */
export async function runInKernelLab(options: KernelLabOptions): Promise<KernelLabResult> {
  const started = performance.now();
  const progress = options.progress ?? ((line: string) => process.stderr.write(`${line}\n`));
  const stdout = options.stdout ?? process.stdout;
  const stderr = options.stderr ?? process.stderr;
  if (options.command.length === 0)
    throw new LabError('INVALID_ARGUMENT', 'kernel-lab needs a command to run');
  if (process.getuid?.() !== 0) {
    throw new LabError(
      'MISSING_PREREQUISITE',
      'kernel-lab must run as root (it exports the root file system to the guest)',
    );
  }

  const accelerator = options.accelerator ?? chooseAccelerator(await probeAcceleratorFacts());
  progress(
    `kernel-lab: ${accelerator.accelerator === 'kvm' ? 'KVM' : 'software emulation (TCG)'}: ${accelerator.reason}`,
  );
  const kernel = await ensureKernelImage({
    progress,
    ...(options.cacheBase === undefined ? {} : { cacheBase: options.cacheBase }),
  });

  const runDirectory = await mkdtemp(join(tmpdir(), 'kernel-lab-'));
  const servers: Server[] = [];
  let qemu: LabProcess | undefined;
  try {
    const control = join(runDirectory, 'ctl');
    await mkdir(control);
    const hostEnv = options.env ?? process.env;
    const colors = 'isTTY' in stdout && stdout.isTTY === true;
    await writeFile(
      join(control, 'command.sh'),
      commandScript({
        cwd: options.cwd ?? process.cwd(),
        env: guestEnvironment(hostEnv, { colors }),
        argv: options.command,
      }),
    );
    const initrd = join(runDirectory, 'initramfs.cpio');
    await writeFile(initrd, await buildInitramfs(kernel));

    const stdoutSocket = join(runDirectory, 'stdout.sock');
    const stderrSocket = join(runDirectory, 'stderr.sock');
    const outputs = [
      forward(stdoutSocket, stdout, servers),
      forward(stderrSocket, stderr, servers),
    ];
    await Promise.all(outputs.map((output) => output.listening));

    const consoleLog = join(runDirectory, 'console.log');
    const args = qemuArguments({
      accelerator: accelerator.accelerator,
      memoryMb: options.memoryMb ?? 2048,
      cpus: options.cpus ?? 2,
      kernel: kernel.vmlinux,
      initrd,
      rootDirectory: '/',
      controlDirectory: control,
      stdoutSocket,
      stderrSocket,
      consoleLog,
    });
    const bootStart = performance.now();
    qemu = await LabProcess.start(['qemu-system-x86_64', ...args], {
      displayName: 'qemu-system-x86_64',
    });
    const vm = qemu;

    let timedOut = false;
    let aborted = false;
    const timeoutMs = options.timeoutMs ?? 15 * 60_000;
    const timer = setTimeout(() => {
      timedOut = true;
      vm.kill('SIGKILL');
    }, timeoutMs);
    const onAbort = () => {
      aborted = true;
      vm.kill('SIGKILL');
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    if (options.signal?.aborted === true) onAbort(); // interrupted while preparing

    let bootMs: number | undefined;
    const watchBoot = (async () => {
      while (vm.exitStatus === undefined && bootMs === undefined) {
        if (
          await readFile(join(control, 'started')).then(
            () => true,
            () => false,
          )
        ) {
          bootMs = performance.now() - bootStart;
          progress(
            `kernel-lab: booted Linux ${kernel.version} in ${(bootMs / 1000).toFixed(1)} s; running ${options.command.join(' ')}`,
          );
          return;
        }
        await sleep(50);
      }
    })();

    const exit = await vm.exited;
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', onAbort);
    await watchBoot;
    // qemu has exited: the sockets deliver what is left, then close.
    await Promise.race([
      Promise.all(outputs.map((output) => (output.connected() ? output.closed : undefined))),
      sleep(5_000, undefined, { ref: false }),
    ]);

    const status = parseGuestStatus(
      await readFile(join(control, 'status'), 'utf8').catch(() => undefined),
    );
    const consoleTail = async () =>
      describeConsole(await readFile(consoleLog, 'utf8').catch(() => ''));
    if (timedOut) {
      throw new LabError(
        'TIMEOUT',
        `kernel-lab: the guest did not finish within ${timeoutMs / 1000} s and was killed${await consoleTail()}`,
      );
    }
    if (aborted) throw new LabError('VM_FAILED', 'kernel-lab: interrupted; the guest was killed');
    if (status.kind === 'exit') {
      return {
        status: status.code,
        accelerator: accelerator.accelerator,
        kernelVersion: kernel.version,
        bootMs: bootMs ?? 0,
        totalMs: performance.now() - started,
      };
    }
    const how =
      exit.signal !== null
        ? `qemu was killed by ${exit.signal}`
        : `qemu exited with status ${exit.code}`;
    const reason =
      status.kind === 'boot-failed'
        ? `the guest could not start the command: ${status.reason}`
        : bootMs === undefined
          ? 'the guest did not boot'
          : 'the guest stopped before the command finished (a crash or a kernel panic)';
    const qemuOutput =
      qemu.stderrLines.length + qemu.stdoutLines.length > 0 ? `\n${qemu.outputTail()}` : '';
    throw new LabError(
      'VM_FAILED',
      `kernel-lab: ${reason} (${how})${qemuOutput}${await consoleTail()}`,
    );
  } finally {
    if (qemu !== undefined && qemu.exitStatus === undefined) await qemu.stop(1_000);
    for (const server of servers) server.close();
    await rm(runDirectory, { recursive: true, force: true });
  }
}

/** A unix socket that qemu connects to; everything it sends goes to `sink` unchanged. */
function forward(
  path: string,
  sink: NodeJS.WritableStream,
  servers: Server[],
): { listening: Promise<void>; closed: Promise<void>; connected: () => boolean } {
  let connected = false;
  let closed!: () => void;
  const closedPromise = new Promise<void>((resolve) => {
    closed = resolve;
  });
  const server = createServer((socket: Socket) => {
    connected = true;
    socket.pipe(sink, { end: false });
    socket.on('close', () => closed());
    socket.on('error', () => closed());
  });
  servers.push(server);
  const listening = new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve());
  });
  return { listening, closed: closedPromise, connected: () => connected };
}
