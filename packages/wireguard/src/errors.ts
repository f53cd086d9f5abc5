import type { Key } from './key.js';

/** What went wrong, for code that branches on it. */
export type WireGuardErrorCode =
  | 'DEVICE_NOT_FOUND'
  | 'NOT_A_WIREGUARD_DEVICE'
  | 'PERMISSION_DENIED'
  | 'PEER_NOT_FOUND'
  | 'INVALID_ARGUMENT'
  | 'INVALID_KEY'
  | 'REFUSED'
  | 'MALFORMED_REPLY'
  | 'NO_REPLY'
  | 'BUSY'
  | 'UNAVAILABLE'
  | 'CLOSED';

export interface WireGuardErrorDetails {
  /** The interface the operation was about. */
  readonly device?: string;
  /** `ENODEV`, `EINVAL`, …: the errno the kernel or wireguard-go answered with. */
  readonly errno?: string;
  /**
   * The kernel's extended-ack text, when one arrived. The real netlink socket
   * cannot set NETLINK_EXT_ACK, so from the real kernel it never does
   * (netlink/system-socket.ts).
   */
  readonly extendedAck?: string;
  readonly cause?: unknown;
}

/**
 * Every failure of this package. `code` says what kind; `errno` carries
 * what the kernel or wireguard-go said, and `extendedAck` the kernel's text
 * when one arrived (never from the real kernel: see WireGuardErrorDetails);
 * the message says it in words, with what to do about it.
 */
export class WireGuardError extends Error {
  override readonly name: string = 'WireGuardError';
  readonly code: WireGuardErrorCode;
  readonly device: string | undefined;
  readonly errno: string | undefined;
  readonly extendedAck: string | undefined;

  constructor(code: WireGuardErrorCode, message: string, details: WireGuardErrorDetails = {}) {
    super(message, details.cause === undefined ? {} : { cause: details.cause });
    this.code = code;
    this.device = details.device;
    this.errno = details.errno;
    this.extendedAck = details.extendedAck;
  }
}

/** There is no WireGuard interface by that name (neither a kernel one nor a UAPI socket). */
export class DeviceNotFoundError extends WireGuardError {
  override readonly name = 'DeviceNotFoundError';
  constructor(device: string, reason: string, details: Omit<WireGuardErrorDetails, 'device'> = {}) {
    super(
      'DEVICE_NOT_FOUND',
      `no WireGuard interface named ${device}${reason ? `: ${reason}` : ''}`,
      {
        ...details,
        device,
      },
    );
  }
}

/** An interface by that name exists, but it is not a WireGuard interface. */
export class NotWireGuardDeviceError extends WireGuardError {
  override readonly name = 'NotWireGuardDeviceError';
  constructor(device: string, details: Omit<WireGuardErrorDetails, 'device'> = {}) {
    super(
      'NOT_A_WIREGUARD_DEVICE',
      `${device} exists but is not a WireGuard interface (see \`ip -d link show ${device}\`)`,
      { ...details, device },
    );
  }
}

/** The process lacks the privilege: WireGuard configuration needs CAP_NET_ADMIN, the UAPI socket root. */
export class PermissionDeniedError extends WireGuardError {
  override readonly name = 'PermissionDeniedError';
  constructor(message: string, details: WireGuardErrorDetails = {}) {
    super('PERMISSION_DENIED', message, details);
  }
}

/**
 * Peers configured update-only (never created) did not exist. Everything
 * else in the configuration was applied.
 */
export class PeerNotFoundError extends WireGuardError {
  override readonly name = 'PeerNotFoundError';
  readonly publicKeys: readonly Key[];
  constructor(device: string, publicKeys: readonly Key[]) {
    const listed = publicKeys.slice(0, 5).map(String).join(', ');
    const more = publicKeys.length > 5 ? ` and ${publicKeys.length - 5} more` : '';
    super(
      'PEER_NOT_FOUND',
      `${device} has no peer ${listed}${more}: ${publicKeys.length === 1 ? 'it was' : 'they were'} configured update-only, so nothing was created for ${publicKeys.length === 1 ? 'it' : 'them'} (add the peer first, or drop updateOnly)`,
      { device },
    );
    this.publicKeys = publicKeys;
  }
}

/** A configuration or an interface name that cannot be right, found before anything was sent. */
export class InvalidArgumentError extends WireGuardError {
  override readonly name = 'InvalidArgumentError';
  constructor(message: string, details: WireGuardErrorDetails = {}) {
    super('INVALID_ARGUMENT', message, details);
  }
}

/** Text or bytes that are not a WireGuard key. */
export class InvalidKeyError extends WireGuardError {
  override readonly name = 'InvalidKeyError';
  constructor(message: string) {
    super('INVALID_KEY', message);
  }
}
