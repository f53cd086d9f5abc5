import { Errno, errnoDescription, errnoName } from '../errno.js';
import {
  DeviceNotFoundError,
  NotWireGuardDeviceError,
  PermissionDeniedError,
  WireGuardError,
} from '../errors.js';
import { NetlinkDecodeError, NetlinkRequestError } from '../netlink/errors.js';

/**
 * Translates what the netlink layer threw while `action` ran on `device`
 * into this package's errors, so nothing above knows netlink exists.
 * `action` completes "cannot …" ("read wg0", "configure wg0").
 */
export function translateKernelError(error: unknown, device: string, action: string): unknown {
  if (error instanceof WireGuardError) return error;
  if (error instanceof NetlinkDecodeError) {
    return new WireGuardError(
      'MALFORMED_REPLY',
      `cannot ${action}: the kernel's answer does not parse (${error.message})`,
      { device, cause: error },
    );
  }
  if (!(error instanceof NetlinkRequestError)) return error;
  const details = {
    device,
    cause: error,
    ...(error.errnoName === undefined ? {} : { errno: error.errnoName }),
    ...(error.extendedAck === undefined ? {} : { extendedAck: error.extendedAck }),
  };
  switch (error.code) {
    case 'NETLINK_REFUSED':
      return refused(error.errno ?? 0, error.extendedAck, device, action, details);
    case 'NETLINK_SEND_FAILED':
      return new WireGuardError(
        'REFUSED',
        `cannot ${action}: the kernel did not take the request (${error.message})`,
        details,
      );
    case 'NETLINK_NO_REPLY':
      return new WireGuardError('NO_REPLY', `cannot ${action}: ${error.message}`, details);
    case 'NETLINK_CLOSED':
      return new WireGuardError('CLOSED', `cannot ${action}: ${error.message}`, details);
    case 'NETLINK_DUMP_INTERRUPTED':
      return new WireGuardError('BUSY', `cannot ${action}: ${error.message}`, details);
    case 'NETLINK_MALFORMED_REPLY':
      return new WireGuardError(
        'MALFORMED_REPLY',
        `cannot ${action}: the kernel's answer does not parse (${error.message})`,
        details,
      );
  }
}

function refused(
  errno: number,
  extendedAck: string | undefined,
  device: string,
  action: string,
  details: { readonly device: string; readonly cause: unknown; readonly errno?: string },
): WireGuardError {
  const { device: _ignored, ...rest } = details;
  const said = `${errnoName(errno)}${extendedAck ? `: ${extendedAck}` : ''}`;
  switch (errno) {
    case Errno.ENODEV:
      return new DeviceNotFoundError(
        device,
        `neither the kernel nor wireguard-go has one in this network namespace (create it with \`ip link add ${device} type wireguard\` or \`wireguard-go ${device}\`)`,
        rest,
      );
    case Errno.EOPNOTSUPP:
      return new NotWireGuardDeviceError(device, rest);
    case Errno.EPERM:
    case Errno.EACCES:
      return new PermissionDeniedError(
        `cannot ${action}: it needs CAP_NET_ADMIN in the device's network namespace; run as root (${said})`,
        details,
      );
    case Errno.EADDRINUSE:
      return new WireGuardError(
        'REFUSED',
        `cannot ${action}: the listen port is already in use by another socket; pick another port (${said})`,
        details,
      );
    case Errno.E2BIG:
      return new WireGuardError(
        'REFUSED',
        `cannot ${action}: the device has the most peers the kernel allows (2^20) (${said})`,
        details,
      );
    case Errno.ENOMEM:
      return new WireGuardError(
        'REFUSED',
        `cannot ${action}: the kernel ran out of memory (${said})`,
        details,
      );
    case Errno.EPFNOSUPPORT:
      return new WireGuardError(
        'REFUSED',
        `cannot ${action}: the kernel does not speak that WireGuard protocol version (${said})`,
        details,
      );
    default:
      return new WireGuardError(
        'REFUSED',
        `cannot ${action}: the kernel refused it with ${said} (${errnoDescription(errno)})`,
        details,
      );
  }
}
