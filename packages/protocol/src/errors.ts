/** The error numbers a response carries in `errno=`. */
export const Errno = {
  Success: 0,
  InvalidRequest: 1,
  UnsupportedProtocol: 2,
  IpUnavailable: 3,
} as const;
export type Errno = (typeof Errno)[keyof typeof Errno];

/** The `errmsg=` text the reference server sends with each errno. */
export const errorMessages: Readonly<Record<Errno, string>> = {
  [Errno.Success]: 'Success',
  [Errno.InvalidRequest]: 'Invalid request',
  [Errno.UnsupportedProtocol]: 'Unsupported protocol',
  [Errno.IpUnavailable]: 'Chosen IP(s) unavailable',
};

/**
 * Input that breaks the wire format. `errno` is what a server answers with
 * (1 or 2) before closing; `message` says what was wrong, for the log.
 */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
  readonly errno: typeof Errno.InvalidRequest | typeof Errno.UnsupportedProtocol;

  constructor(
    errno: typeof Errno.InvalidRequest | typeof Errno.UnsupportedProtocol,
    message: string,
  ) {
    super(message);
    this.errno = errno;
  }
}

export function invalid(message: string): ProtocolError {
  return new ProtocolError(Errno.InvalidRequest, message);
}
