import { LabError } from '../errors.js';

export interface KernelLabArguments {
  readonly memoryMb: number;
  readonly cpus: number;
  readonly timeoutSeconds: number;
  readonly command: readonly string[];
}

export const KERNEL_LAB_USAGE = `usage: kernel-lab [--memory MB] [--cpus N] [--timeout SECONDS] -- <command> [arguments...]

Boots Debian's kernel (with the WireGuard module) under qemu, with this
machine's root file system read-only and a throw-away overlay, and runs the
command there in the same working directory, with WG_DYNAMIC_LAB_SANDBOX=1
and WG_DYNAMIC_LAB_BACKEND=kernel. Exits with the command's status; 124 when
it times out, 125 when the guest cannot boot or crashes, 128+N on signal N.
Run as root.

  --memory MB         guest memory (default 2048)
  --cpus N            virtual CPUs (default 2)
  --timeout SECONDS   kill the guest after this long (default 900)`;

function usageError(message: string): LabError {
  return new LabError('INVALID_ARGUMENT', `kernel-lab: ${message}\n\n${KERNEL_LAB_USAGE}`);
}

function positiveInteger(name: string, text: string | undefined, max: number): number {
  if (text === undefined || !/^\d+$/.test(text) || Number(text) < 1 || Number(text) > max) {
    throw usageError(
      `${name} needs a whole number from 1 to ${max}, not ${JSON.stringify(text ?? '')}`,
    );
  }
  return Number(text);
}

/** Parses kernel-lab's arguments; the command comes after `--`. */
export function parseKernelLabArguments(argv: readonly string[]): KernelLabArguments | 'help' {
  let memoryMb = 2048;
  let cpus = 2;
  let timeoutSeconds = 900;
  let i = 0;
  for (; i < argv.length; i++) {
    const argument = argv[i] as string;
    if (argument === '--') {
      i++;
      break;
    }
    if (argument === '-h' || argument === '--help') return 'help';
    const [name, inline] =
      argument.startsWith('--') && argument.includes('=')
        ? [argument.slice(0, argument.indexOf('=')), argument.slice(argument.indexOf('=') + 1)]
        : [argument, undefined];
    const take = () => (inline !== undefined ? inline : argv[++i]);
    switch (name) {
      case '--memory':
        memoryMb = positiveInteger('--memory', take(), 1_048_576);
        if (memoryMb < 256) throw usageError('--memory below 256 MB cannot run Node in the guest');
        break;
      case '--cpus':
        cpus = positiveInteger('--cpus', take(), 64);
        break;
      case '--timeout':
        timeoutSeconds = positiveInteger('--timeout', take(), 86_400);
        break;
      default:
        throw usageError(
          `unknown option ${JSON.stringify(argument)} (the command goes after "--")`,
        );
    }
  }
  const command = argv.slice(i);
  if (command.length === 0) throw usageError('no command given');
  return { memoryMb, cpus, timeoutSeconds, command };
}
