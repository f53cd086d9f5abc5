/**
 * The errno values rtnetlink answers with, by their Linux names and numbers
 * (asm-generic/errno-base.h and asm-generic/errno.h), each with the words an
 * operator reads when nothing more specific applies.
 */
const errnos = {
  EPERM: [1, 'operation not permitted'],
  ENOENT: [2, 'no such entry'],
  ESRCH: [3, 'no such entry'],
  EINTR: [4, 'interrupted'],
  ENXIO: [6, 'no such device or address'],
  ENOMEM: [12, 'the kernel is out of memory'],
  EACCES: [13, 'permission denied'],
  EBUSY: [16, 'the resource is busy'],
  EEXIST: [17, 'it already exists'],
  ENODEV: [19, 'no such network interface'],
  EINVAL: [22, 'invalid argument'],
  ENOSPC: [28, 'no space left'],
  ERANGE: [34, 'a value is out of range'],
  EMSGSIZE: [90, 'the message is too long'],
  EPROTO: [71, 'protocol error'],
  EOPNOTSUPP: [95, 'the operation is not supported'],
  EAFNOSUPPORT: [97, 'the address family is not supported'],
  EADDRINUSE: [98, 'the address is already in use'],
  EADDRNOTAVAIL: [99, 'no such address'],
  ENETDOWN: [100, 'the network interface is down'],
  ENETUNREACH: [101, 'the network is unreachable'],
  ENOBUFS: [105, 'out of buffer space'],
  EHOSTUNREACH: [113, 'the host is unreachable'],
} as const satisfies Record<string, readonly [number, string]>;

/**
 * What went wrong: the kernel's errno name, or one of two of our own:
 * `ECLOSED` (the object was used after `close()`) and `EUNKNOWN` (an errno
 * outside this list; `errno` has the number).
 */
export type RtnetlinkErrorCode = keyof typeof errnos | 'ECLOSED' | 'EUNKNOWN';

/** What the caller was doing when it failed. */
export type RtnetlinkOperation =
  | 'open'
  | 'list-links'
  | 'get-link'
  | 'set-link'
  | 'list-addresses'
  | 'add-address'
  | 'replace-address'
  | 'delete-address'
  | 'list-routes'
  | 'add-route'
  | 'replace-route'
  | 'delete-route'
  | 'events';

const errnoNames = new Map<number, keyof typeof errnos>(
  Object.entries(errnos).map(([name, [errno]]) => [errno, name as keyof typeof errnos]),
);

/** The Linux name of a positive errno value, or `EUNKNOWN`. */
export function errnoName(errno: number): RtnetlinkErrorCode {
  return errnoNames.get(errno) ?? 'EUNKNOWN';
}

/** The errno number of a name, where it is a kernel errno. */
export function errnoNumber(code: RtnetlinkErrorCode): number | undefined {
  return code === 'ECLOSED' || code === 'EUNKNOWN' ? undefined : errnos[code][0];
}

export class RtnetlinkError extends Error {
  override readonly name = 'RtnetlinkError';
  readonly code: RtnetlinkErrorCode;
  readonly operation: RtnetlinkOperation;
  /** The kernel's errno (positive), when the kernel or the socket reported one. */
  readonly errno: number | undefined;

  constructor(
    code: RtnetlinkErrorCode,
    operation: RtnetlinkOperation,
    message: string,
    options?: { errno?: number; cause?: unknown },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.operation = operation;
    this.errno = options?.errno;
  }
}

const verbs: Record<RtnetlinkOperation, string> = {
  open: 'cannot open an rtnetlink socket',
  'list-links': 'cannot list the network interfaces',
  'get-link': 'cannot look up',
  'set-link': 'cannot change',
  'list-addresses': 'cannot list the addresses',
  'add-address': 'cannot add',
  'replace-address': 'cannot replace',
  'delete-address': 'cannot delete',
  'list-routes': 'cannot list the routes',
  'add-route': 'cannot add',
  'replace-route': 'cannot replace',
  'delete-route': 'cannot delete',
  events: 'the rtnetlink event stream failed',
};

/** Words for an errno that depend on what was being done. */
function reason(code: RtnetlinkErrorCode, operation: RtnetlinkOperation): string {
  switch (code) {
    case 'EEXIST':
      if (operation === 'add-address') return 'the interface already has this address';
      if (operation === 'add-route') return 'the route already exists';
      break;
    case 'EADDRNOTAVAIL':
      if (operation === 'delete-address') return 'the interface has no such address';
      if (operation === 'add-route' || operation === 'replace-route') {
        return 'the source address is not an address of this host';
      }
      break;
    case 'ESRCH':
      if (operation === 'delete-route') return 'there is no such route';
      break;
    case 'ENODEV':
      return 'there is no such network interface (it may have been removed)';
    case 'ENETDOWN':
      return 'the interface is down; bring it up first';
    case 'EPERM':
    case 'EACCES':
      return 'permission denied: changing the network configuration needs CAP_NET_ADMIN (run as root)';
    case 'ENOBUFS':
      if (operation === 'events') {
        return (
          'the kernel dropped notifications because they arrived faster than they were read; ' +
          'read the state again (list) and subscribe anew'
        );
      }
      break;
    case 'ECLOSED':
      return 'the rtnetlink socket is closed';
    case 'EUNKNOWN':
      return 'the kernel refused with an unexpected error';
  }
  return errnos[code][1];
}

/**
 * The error for an errno the kernel answered `operation` with. `subject` names
 * what was operated on ("address 10.0.0.2/32 on interface 7"), if anything.
 */
export function kernelError(
  errno: number,
  operation: RtnetlinkOperation,
  subject?: string,
  cause?: unknown,
): RtnetlinkError {
  const code = errnoName(errno);
  const label = code === 'EUNKNOWN' ? `errno ${errno}` : code;
  const message = describe(operation, subject, reason(code, operation), label);
  return new RtnetlinkError(code, operation, message, { errno, cause });
}

/**
 * The error for a failure of the socket itself (creating it, sending,
 * receiving): the errno it carries when there is one.
 */
export function socketError(
  error: unknown,
  operation: RtnetlinkOperation,
  subject?: string,
): RtnetlinkError {
  const errno =
    typeof error === 'object' && error !== null && 'errno' in error ? error.errno : undefined;
  if (typeof errno === 'number' && errno > 0) return kernelError(errno, operation, subject, error);
  const detail = error instanceof Error ? error.message : String(error);
  return localError('EPROTO', operation, `the netlink socket failed: ${detail}`, subject, error);
}

/** An error raised on our side (a closed socket, a reply that does not parse). */
export function localError(
  code: 'ECLOSED' | 'EPROTO' | 'ENOBUFS' | 'EINTR' | 'EINVAL',
  operation: RtnetlinkOperation,
  detail: string | undefined,
  subject?: string,
  cause?: unknown,
): RtnetlinkError {
  const why = detail === undefined ? reason(code, operation) : detail;
  return new RtnetlinkError(code, operation, describe(operation, subject, why, code), { cause });
}

function describe(
  operation: RtnetlinkOperation,
  subject: string | undefined,
  why: string,
  label: string,
): string {
  const what = subject === undefined ? verbs[operation] : `${verbs[operation]} ${subject}`;
  return `${what}: ${why} (${label})`;
}
