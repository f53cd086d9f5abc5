import { LabError } from '../errors.js';

/** linux/if.h: interface names are at most IFNAMSIZ - 1 bytes long. */
export const IFNAMSIZ = 16;

/** Throws unless the kernel would accept `name` as an interface name (net/core/dev.c, dev_valid_name). */
export function assertInterfaceName(name: string): void {
  const problem = interfaceNameProblem(name);
  if (problem !== undefined) {
    throw new LabError(
      'INVALID_ARGUMENT',
      `${JSON.stringify(name)} is not a valid interface name: ${problem}`,
    );
  }
}

function interfaceNameProblem(name: string): string | undefined {
  if (name === '') return 'it is empty';
  if (Buffer.byteLength(name) >= IFNAMSIZ) return `it is longer than ${IFNAMSIZ - 1} bytes`;
  if (name === '.' || name === '..') return 'it is "." or ".."';
  if (/[/:\s]/.test(name)) return 'it contains "/", ":" or white space';
  return undefined;
}
