import { IpPrefix } from '@wg-dynamic/ip';
import type { Device } from './device.js';
import type { DeviceConfig, PeerConfig } from './device-config.js';
import { InvalidArgumentError } from './errors.js';
import { Key, SecretKey } from './key.js';

/**
 * Checks a configuration before anything is sent, so that a mistake fails
 * whole instead of half-applied: ranges, key types, one entry per public key,
 * and combinations that cannot mean anything.
 */
export function validateDeviceConfig(device: string, config: DeviceConfig): void {
  const fail = (problem: string): never => {
    throw new InvalidArgumentError(`invalid configuration for ${device}: ${problem}`, { device });
  };
  if (config.privateKey !== undefined && config.privateKey !== null) {
    if (!(config.privateKey instanceof SecretKey)) fail('privateKey must be a SecretKey or null');
  }
  if (config.listenPort !== undefined && !isInteger(config.listenPort, 0, 0xffff)) {
    fail(`listenPort ${config.listenPort} is not a port (0 to 65535; 0 picks one)`);
  }
  if (config.firewallMark !== undefined && !isInteger(config.firewallMark, 0, 0xffff_ffff)) {
    fail(`firewallMark ${config.firewallMark} is not a 32-bit mark (0 removes it)`);
  }
  const seen = new Set<string>();
  for (const [index, peer] of (config.peers ?? []).entries()) {
    if (!(peer?.publicKey instanceof Key)) fail(`peer ${index} has no publicKey (a Key)`);
    const name = () => `peer ${peer.publicKey.toBase64()}`;
    const hex = peer.publicKey.toHex();
    if (seen.has(hex)) fail(`${name()} appears twice; merge its entries into one`);
    seen.add(hex);
    validatePeer(peer, (problem) => fail(`${name()}: ${problem}`));
  }
}

function validatePeer(peer: PeerConfig, fail: (problem: string) => never): void {
  if (peer.remove) {
    const extra = (
      [
        'presharedKey',
        'endpoint',
        'persistentKeepaliveInterval',
        'replaceAllowedIps',
        'allowedIps',
        'removeAllowedIps',
      ] as const
    ).filter((field) => peer[field] !== undefined);
    if (extra.length > 0) fail(`it is removed, so ${extra.join(', ')} cannot be set too`);
    return;
  }
  if (peer.presharedKey !== undefined && peer.presharedKey !== null) {
    if (!(peer.presharedKey instanceof SecretKey)) fail('presharedKey must be a SecretKey or null');
  }
  if (peer.endpoint !== undefined && !isInteger(peer.endpoint.port, 1, 0xffff)) {
    fail(`endpoint port ${peer.endpoint.port} is not a port (1 to 65535)`);
  }
  if (
    peer.persistentKeepaliveInterval !== undefined &&
    !isInteger(peer.persistentKeepaliveInterval, 0, 0xffff)
  ) {
    fail(
      `persistentKeepaliveInterval ${peer.persistentKeepaliveInterval} is not 0 (off) to 65535 seconds`,
    );
  }
  for (const prefix of [...(peer.allowedIps ?? []), ...(peer.removeAllowedIps ?? [])]) {
    if (!(prefix instanceof IpPrefix)) fail('allowed-ips must be IpPrefix values');
  }
  if (peer.removeAllowedIps !== undefined && peer.removeAllowedIps.length > 0) {
    if (peer.replaceAllowedIps) {
      fail('removeAllowedIps cannot be combined with replaceAllowedIps (list what stays instead)');
    }
    const removed = new Set(peer.removeAllowedIps.map(prefixKey));
    const both = (peer.allowedIps ?? []).filter((prefix) => removed.has(prefixKey(prefix)));
    if (both.length > 0) fail(`${both.join(', ')} is both added and removed`);
  }
}

function isInteger(value: number, min: number, max: number): boolean {
  return Number.isInteger(value) && value >= min && value <= max;
}

/** Allowed-ips compare as the implementations store them: host bits cleared. */
export function prefixKey(prefix: IpPrefix): string {
  return prefix.network().toString();
}

/** True when applying `config` needs the device's current state first. */
export function needsCurrentAllowedIps(config: DeviceConfig): boolean {
  return (config.peers ?? []).some(
    (peer) =>
      !peer.remove && peer.removeAllowedIps !== undefined && peer.removeAllowedIps.length > 0,
  );
}

/**
 * Turns every `removeAllowedIps` into a replacement of that peer's list by
 * what remains of it on `current`, plus `allowedIps`. A peer that does not
 * exist has nothing to remove: it keeps its additions (and is created, unless
 * update-only). Other peers pass through unchanged.
 */
export function resolveAllowedIpRemovals(config: DeviceConfig, current: Device): DeviceConfig {
  if (!needsCurrentAllowedIps(config)) return config;
  const currentPeers = new Map(current.peers.map((peer) => [peer.publicKey.toHex(), peer]));
  const peers = (config.peers ?? []).map((peer): PeerConfig => {
    if (peer.remove || !peer.removeAllowedIps || peer.removeAllowedIps.length === 0) return peer;
    const removed = new Set(peer.removeAllowedIps.map(prefixKey));
    const existing = currentPeers.get(peer.publicKey.toHex())?.allowedIps ?? [];
    const remaining = existing.filter((prefix) => !removed.has(prefixKey(prefix)));
    const { removeAllowedIps: _removed, ...rest } = peer;
    return {
      ...rest,
      replaceAllowedIps: true,
      allowedIps: [...remaining, ...(peer.allowedIps ?? [])],
    };
  });
  return { ...config, peers };
}

/** The public keys of the peers that `config` changes update-only (removals aside). */
export function updateOnlyPeers(config: DeviceConfig): Key[] {
  return (config.peers ?? [])
    .filter((peer) => peer.updateOnly && !peer.remove)
    .map((peer) => peer.publicKey);
}

/** Those of `keys` that `device` has no peer for. */
export function missingPeers(keys: readonly Key[], device: Device): Key[] {
  const present = new Set(device.peers.map((peer) => peer.publicKey.toHex()));
  return keys.filter((key) => !present.has(key.toHex()));
}
