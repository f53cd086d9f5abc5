import type { IpPrefix } from '@wg-dynamic/ip';
import type { Endpoint } from './device.js';
import type { Key, SecretKey } from './key.js';

/**
 * A change to a device. An absent field leaves that setting as it is;
 * clearing is always explicit (`null`, `0`, `replacePeers`).
 */
export interface DeviceConfig {
  /** The new private key; `null` removes it (the device then has no identity). */
  readonly privateKey?: SecretKey | null;
  /** 0 lets the implementation choose a port. */
  readonly listenPort?: number;
  /** 0 removes the mark. */
  readonly firewallMark?: number;
  /**
   * Remove every existing peer first; the peers of `peers` are then added
   * afresh (counters and handshake state of a peer listed again are lost).
   */
  readonly replacePeers?: boolean;
  /** Peers to add, change or remove, in order. A public key may appear once. */
  readonly peers?: readonly PeerConfig[];
}

export interface PeerConfig {
  readonly publicKey: Key;
  /** Remove this peer. Nothing else may be set with it (but `updateOnly`, which it implies). */
  readonly remove?: boolean;
  /**
   * Change the peer only if it exists; never create it. `configure` then
   * fails with PeerNotFoundError if it did not exist (unless told not to check).
   */
  readonly updateOnly?: boolean;
  /** The new preshared key; `null` removes it. */
  readonly presharedKey?: SecretKey | null;
  readonly endpoint?: Endpoint;
  /** Seconds between keepalives; 0 turns them off. */
  readonly persistentKeepaliveInterval?: number;
  /** Make `allowedIps` the peer's whole list (an empty or absent list clears it). */
  readonly replaceAllowedIps?: boolean;
  /** Allowed-ips to add; with `replaceAllowedIps`, the whole new list. */
  readonly allowedIps?: readonly IpPrefix[];
  /**
   * Allowed-ips to take away from this peer, leaving the others.
   *
   * Neither Debian 12's kernel (6.1) nor Debian's wireguard-go (0.0.20220316)
   * can remove a single allowed-ip, so `configure` reads the device first and
   * replaces this peer's list with what remains (plus `allowedIps`), using
   * WGPEER_F_REPLACE_ALLOWEDIPS / `replace_allowed_ips=true`. That costs a
   * read of the whole device, and a change another process makes to this
   * peer's allowed-ips between the read and the write is overwritten. A
   * caller that keeps its own view of the device should send the remaining
   * list itself with `replaceAllowedIps`.
   *
   * Cannot be combined with `replaceAllowedIps`, nor name a prefix that
   * `allowedIps` adds. A prefix the peer does not have is ignored.
   */
  readonly removeAllowedIps?: readonly IpPrefix[];
}

/** How `configure` works, beyond what it changes. */
export interface ConfigureOptions {
  /**
   * Read the device after applying and fail with PeerNotFoundError when an
   * update-only peer does not exist (default true). Neither the kernel nor
   * wireguard-go reports that: they skip such a peer silently.
   *
   * The check reads the whole device (for the kernel, a dump of every peer),
   * which dominates the cost of a small change on a device with many peers.
   * A caller that knows the peer exists (it keeps its own fresh view of the
   * device, as the wg-dynamic server does for its grants) can pass `false`:
   * the change is then still never applied to a peer that does not exist,
   * it is just not reported. The check also catches a peer that another
   * process removed concurrently; without it such a change vanishes silently.
   */
  readonly verifyUpdateOnlyPeers?: boolean;
}
