import { constants } from 'node:os';
import { LabError } from '../errors.js';
import { KERNEL_LAB_USAGE, parseKernelLabArguments } from './cli-arguments.js';
import { EXIT_LAB_FAILED, EXIT_TIMEOUT } from './guest-scripts.js';
import { runInKernelLab } from './run-kernel-lab.js';

/** `kernel-lab [options] -- <command…>`: see KERNEL_LAB_USAGE. Returns the exit status. */
export async function kernelLabMain(argv: readonly string[]): Promise<number> {
  let parsed: ReturnType<typeof parseKernelLabArguments>;
  try {
    parsed = parseKernelLabArguments(argv);
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    return 2;
  }
  if (parsed === 'help') {
    process.stdout.write(`${KERNEL_LAB_USAGE}\n`);
    return 0;
  }
  const abort = new AbortController();
  let received: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    received ??= signal;
    abort.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const result = await runInKernelLab({
      command: parsed.command,
      memoryMb: parsed.memoryMb,
      cpus: parsed.cpus,
      timeoutMs: parsed.timeoutSeconds * 1000,
      signal: abort.signal,
    });
    process.stderr.write(
      `kernel-lab: the command exited with status ${result.status} after ${(result.totalMs / 1000).toFixed(1)} s ` +
        `(boot ${(result.bootMs / 1000).toFixed(1)} s, ${result.accelerator})\n`,
    );
    return result.status;
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    // Interrupted: the shell convention, 128 + the signal's number.
    if (received !== undefined) return 128 + (constants.signals[received] ?? 0);
    if (error instanceof LabError && error.code === 'TIMEOUT') return EXIT_TIMEOUT;
    return EXIT_LAB_FAILED;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

process.exitCode = await kernelLabMain(process.argv.slice(2));
