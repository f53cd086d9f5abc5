import type { IpAddress, IpPrefix } from '@wg-dynamic/ip';
import type { Key, SecretKey } from './key.js';

/** Which implementation serves a device: the kernel module (generic netlink) or wireguard-go (UAPI socket). */
export type BackendKind = 'kernel' | 'userspace';

/** A UDP endpoint: where a peer's packets go. */
export interface Endpoint {
  readonly address: IpAddress;
  readonly port: number;
}

/** A WireGuard interface as read from the kernel or wireguard-go: plain data, no I/O. */
export interface Device {
  readonly name: string;
  /**
   * The interface index in the caller's network namespace. 0 when a UAPI
   * socket answers for a name that has no link in this namespace (its
   * wireguard-go runs in another one).
   */
  readonly index: number;
  readonly backend: BackendKind;
  /** Undefined when the device has no private key yet. */
  readonly privateKey: SecretKey | undefined;
  /** Derived from the private key; undefined without one. */
  readonly publicKey: Key | undefined;
  /** The UDP port it listens on; 0 when it has none yet (down, or never set). */
  readonly listenPort: number;
  /** The firewall mark of its outgoing packets; 0 for none. */
  readonly firewallMark: number;
  readonly peers: readonly Peer[];
}

export interface Peer {
  readonly publicKey: Key;
  /** True when the peer has a (non-zero) preshared key; the key itself is never read back. */
  readonly hasPresharedKey: boolean;
  /** Undefined until the peer has an endpoint (configured, or learnt from a handshake). */
  readonly endpoint: Endpoint | undefined;
  /** Seconds between keepalives; 0 when off. */
  readonly persistentKeepaliveInterval: number;
  /** Undefined when there has never been a handshake. */
  readonly lastHandshake: Date | undefined;
  readonly receiveBytes: bigint;
  readonly transmitBytes: bigint;
  /** In the order the implementation lists them, host bits cleared. */
  readonly allowedIps: readonly IpPrefix[];
  readonly protocolVersion: number;
}
