import { FatalError } from '@wg-dynamic/cli';
import { IpPrefix } from '@wg-dynamic/ip';
import { WG_DYNAMIC_ADDRESS } from '@wg-dynamic/protocol';
import {
  type Device,
  DeviceNotFoundError,
  NotWireGuardDeviceError,
  PermissionDeniedError,
} from '@wg-dynamic/wireguard';

/** The address the server must hold: fe80::/64. */
export const SERVER_ADDRESS = IpPrefix.from(`${WG_DYNAMIC_ADDRESS}/64`);

/** Turns the WireGuard layer's refusal to read the interface into what the operator must do. */
export function explainDeviceError(name: string, error: unknown): never {
  if (error instanceof DeviceNotFoundError) {
    throw new FatalError(
      `there is no WireGuard interface named ${name}: create it first ` +
        `(\`ip link add ${name} type wireguard\`, or \`wg-quick up ${name}\`)`,
      { cause: error },
    );
  }
  if (error instanceof NotWireGuardDeviceError) {
    throw new FatalError(`${name} is not a WireGuard interface: give the name of one`, {
      cause: error,
    });
  }
  if (error instanceof PermissionDeniedError) {
    throw new FatalError(
      `not allowed to read ${name}: run wg-dynamic-server as root (it needs CAP_NET_ADMIN and CAP_NET_BIND_SERVICE)`,
      { cause: error },
    );
  }
  throw error;
}

/**
 * The reference server's checks, each failure a message that names the fix:
 * the interface holds exactly fe80::/64, and at least one peer has a
 * link-local /128 in its allowed-ips (clients speak from those addresses).
 */
export function checkServerInterface(device: Device, addresses: readonly IpPrefix[]): void {
  const name = device.name;
  if (!addresses.some((address) => address.equals(SERVER_ADDRESS))) {
    const linkLocal = addresses.filter((a) => a.family === 6 && a.address.isLinkLocal());
    const found = linkLocal.length > 0 ? ` (it has ${linkLocal.map(String).join(', ')})` : '';
    throw new FatalError(
      `${name} has no address fe80::/64${found}: clients reach the server at fe80:: — ` +
        `add it with \`ip address add fe80::/64 dev ${name}\``,
    );
  }
  const speaking = device.peers.filter((peer) =>
    peer.allowedIps.some(
      (prefix) => prefix.family === 6 && prefix.isHost() && prefix.address.isLinkLocal(),
    ),
  );
  if (speaking.length === 0) {
    throw new FatalError(
      `no peer of ${name} has a link-local /128 in its allowed-ips, so no client can reach the server: ` +
        `give each client peer one (wg-quick: \`AllowedIPs = fe80::1234/128\` in its [Peer] section; ` +
        `wg: \`wg set ${name} peer <public key> allowed-ips fe80::1234/128,<its other allowed-ips>\`), ` +
        `and the same address on the client's interface`,
    );
  }
}
