import { InvalidArgumentError } from './errors.js';

/** IFNAMSIZ, <linux/if.h>: an interface name has at most IFNAMSIZ - 1 bytes. */
export const IFNAMSIZ = 16;

const encoder = new TextEncoder();

/**
 * Checks a name as the kernel's dev_valid_name() (net/core/dev.c) does: 1 to
 * 15 bytes, not "." or "..", no "/", ":" or white space. It also keeps a name
 * from escaping the UAPI socket directory (`<dir>/<name>.sock`).
 */
export function assertInterfaceName(name: string): void {
  const problem = interfaceNameProblem(name);
  if (problem) {
    throw new InvalidArgumentError(`${JSON.stringify(name)} is not an interface name: ${problem}`);
  }
}

function interfaceNameProblem(name: unknown): string | undefined {
  if (typeof name !== 'string') return `a name is a string, not ${typeof name}`;
  if (name.length === 0) return 'it is empty';
  const bytes = encoder.encode(name).length;
  if (bytes > IFNAMSIZ - 1) return `it has ${bytes} bytes, the kernel allows ${IFNAMSIZ - 1}`;
  if (name === '.' || name === '..') return 'the kernel refuses "." and ".."';
  if (/[/:\s\0]/.test(name)) return 'it contains "/", ":", white space or NUL';
  return undefined;
}
