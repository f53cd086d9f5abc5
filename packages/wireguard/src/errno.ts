import { getSystemErrorMap } from 'node:util';

/**
 * Linux errno numbers that WireGuard's kernel module, the generic netlink
 * controller and wireguard-go answer with (<asm-generic/errno-base.h>,
 * <asm-generic/errno.h>), named as the kernel names them and described as
 * glibc's strerror(3) does. Both backends report failures as errno numbers;
 * this table turns them into words.
 */
const linuxErrno: ReadonlyMap<number, readonly [name: string, description: string]> = new Map([
  [1, ['EPERM', 'Operation not permitted']],
  [2, ['ENOENT', 'No such file or directory']],
  [5, ['EIO', 'Input/output error']],
  [7, ['E2BIG', 'Argument list too long']],
  [12, ['ENOMEM', 'Cannot allocate memory']],
  [13, ['EACCES', 'Permission denied']],
  [16, ['EBUSY', 'Device or resource busy']],
  [17, ['EEXIST', 'File exists']],
  [19, ['ENODEV', 'No such device']],
  [22, ['EINVAL', 'Invalid argument']],
  [28, ['ENOSPC', 'No space left on device']],
  [34, ['ERANGE', 'Numerical result out of range']],
  [53, ['EBADR', 'Invalid request descriptor']],
  [55, ['ENOANO', 'No anode']],
  [71, ['EPROTO', 'Protocol error']],
  [90, ['EMSGSIZE', 'Message too long']],
  [93, ['EPROTONOSUPPORT', 'Protocol not supported']],
  [95, ['EOPNOTSUPP', 'Operation not supported']],
  [96, ['EPFNOSUPPORT', 'Protocol family not supported']],
  [97, ['EAFNOSUPPORT', 'Address family not supported by protocol']],
  [98, ['EADDRINUSE', 'Address already in use']],
  [99, ['EADDRNOTAVAIL', 'Cannot assign requested address']],
  [105, ['ENOBUFS', 'No buffer space available']],
  [110, ['ETIMEDOUT', 'Connection timed out']],
  [111, ['ECONNREFUSED', 'Connection refused']],
]);

/** The symbolic name of a positive errno number (`19` → `ENODEV`); `errno 4242` when unknown. */
export function errnoName(errno: number): string {
  const known = linuxErrno.get(errno);
  if (known) return known[0];
  const system = getSystemErrorMap().get(-errno);
  return system ? system[0] : `errno ${errno}`;
}

/** What a positive errno number means (`19` → `No such device`). */
export function errnoDescription(errno: number): string {
  const known = linuxErrno.get(errno);
  if (known) return known[1];
  const system = getSystemErrorMap().get(-errno);
  return system ? system[1] : 'unknown error';
}

/** The errno numbers the backends translate into typed errors, by name. */
export const Errno = {
  EPERM: 1,
  ENOENT: 2,
  E2BIG: 7,
  ENOMEM: 12,
  EACCES: 13,
  ENODEV: 19,
  EINVAL: 22,
  EBADR: 53,
  EMSGSIZE: 90,
  EOPNOTSUPP: 95,
  EPFNOSUPPORT: 96,
  EADDRINUSE: 98,
} as const;
