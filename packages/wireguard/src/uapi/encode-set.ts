import type { Endpoint } from '../device.js';
import type { DeviceConfig } from '../device-config.js';

const ZERO_KEY_HEX = '0'.repeat(64);

/**
 * The text of a UAPI `set=1` request for a configuration (validated, without
 * `removeAllowedIps`), ending with the blank line that closes it. Keys are
 * hex. `update_only=true` comes right after `public_key=`: wireguard-go
 * drops a peer it just created when it reads that line.
 */
export function encodeUapiSet(config: DeviceConfig): string {
  const lines = ['set=1'];
  if (config.privateKey !== undefined) {
    lines.push(
      `private_key=${config.privateKey === null ? ZERO_KEY_HEX : config.privateKey.toHex()}`,
    );
  }
  if (config.listenPort !== undefined) lines.push(`listen_port=${config.listenPort}`);
  if (config.firewallMark !== undefined) lines.push(`fwmark=${config.firewallMark}`);
  if (config.replacePeers) lines.push('replace_peers=true');
  for (const peer of config.peers ?? []) {
    lines.push(`public_key=${peer.publicKey.toHex()}`);
    if (peer.updateOnly) lines.push('update_only=true');
    if (peer.remove) {
      lines.push('remove=true');
      continue;
    }
    if (peer.presharedKey !== undefined) {
      lines.push(
        `preshared_key=${peer.presharedKey === null ? ZERO_KEY_HEX : peer.presharedKey.toHex()}`,
      );
    }
    if (peer.endpoint !== undefined) lines.push(`endpoint=${formatEndpoint(peer.endpoint)}`);
    if (peer.persistentKeepaliveInterval !== undefined) {
      lines.push(`persistent_keepalive_interval=${peer.persistentKeepaliveInterval}`);
    }
    if (peer.replaceAllowedIps) lines.push('replace_allowed_ips=true');
    for (const prefix of peer.allowedIps ?? []) lines.push(`allowed_ip=${prefix.toString()}`);
  }
  return `${lines.join('\n')}\n\n`;
}

/** `192.0.2.1:51820` or `[2001:db8::1]:51820`, as Go's netip.ParseAddrPort takes them. */
export function formatEndpoint(endpoint: Endpoint): string {
  const address = endpoint.address.toString();
  return endpoint.address.family === 6
    ? `[${address}]:${endpoint.port}`
    : `${address}:${endpoint.port}`;
}

/** The UAPI `get=1` request. */
export const UAPI_GET = 'get=1\n\n';
