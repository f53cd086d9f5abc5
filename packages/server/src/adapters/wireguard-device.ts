import type { IpPrefix } from '@wg-dynamic/ip';
import { Key, type PeerConfig, type WireGuard } from '@wg-dynamic/wireguard';
import type { AllowedIpsChange, PeerId } from '../leases/lease.js';
import type { DevicePort } from '../service/ports.js';

/**
 * The server's device port over the WireGuard layer (kernel or userspace,
 * whichever serves the interface). Every write is update-only, so a lease
 * never re-creates a peer the operator removed, and it skips the read-back
 * check: the server keeps its own view and notices removed peers on refresh.
 * Removals go through the layer's read-modify-replace, which keeps whatever
 * else the peer holds (the operator's entries) as it is at that moment.
 */
export function wireguardDevice(wireguard: WireGuard, name: string): DevicePort {
  return {
    async peers(): Promise<ReadonlyMap<PeerId, readonly IpPrefix[]>> {
      const device = await wireguard.device(name);
      return new Map(device.peers.map((peer) => [peer.publicKey.toBase64(), peer.allowedIps]));
    },
    async apply(changes: readonly AllowedIpsChange[]): Promise<void> {
      if (changes.length === 0) return;
      const peers = changes.map(
        (change): PeerConfig => ({
          publicKey: Key.parse(change.peer),
          updateOnly: true,
          ...(change.add.length > 0 ? { allowedIps: change.add } : {}),
          ...(change.remove.length > 0 ? { removeAllowedIps: change.remove } : {}),
        }),
      );
      await wireguard.configure(name, { peers }, { verifyUpdateOnlyPeers: false });
    },
  };
}
