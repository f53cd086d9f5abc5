import { IpAddress, type IpPrefix } from '@wg-dynamic/ip';
import type { PeerId } from '../leases/lease.js';
import type { DeviceView } from '../leases/lease-table.js';

export interface InterfaceViewOptions {
  /** A miss re-reads the device at most this often (default 1000 ms). */
  readonly missRefreshMs?: number;
  readonly now?: () => number;
  /**
   * The string to keep for a peer's key (the lease table's own, so that a
   * hundred thousand peers are not kept twice); by default the one read.
   */
  readonly canonicalPeer?: (peer: PeerId) => PeerId;
  /**
   * Taken just before each read and handed on as the view's `readMark`
   * (the lease table's `changeMark`), so that what the server writes while
   * the read is under way is not undone by it.
   */
  readonly readMark?: () => number;
}

/** Reads what the view is made of. */
export interface ViewSource {
  peers(): Promise<ReadonlyMap<PeerId, readonly IpPrefix[]>>;
  ownAddresses(): Promise<readonly IpPrefix[]>;
}

/**
 * The server's picture of its interface, and who is asking: WireGuard's
 * cryptokey routing guarantees that a packet from fe80::X came from the peer
 * whose allowed-ips hold fe80::X/128, so that peer is the client.
 *
 * A miss re-reads the device once (peers are added at any time), but at most
 * once per `missRefreshMs`, so a flood of unknown sources cannot turn into a
 * flood of device reads. Concurrent refreshes share one read.
 */
export class InterfaceView {
  private readonly source: ViewSource;
  private readonly missRefreshMs: number;
  private readonly now: () => number;
  private readonly canonicalPeer: (peer: PeerId) => PeerId;
  private readonly readMark: (() => number) | undefined;
  private owners = new Map<string, PeerId>();
  private inFlight: Promise<DeviceView> | undefined;
  private lastRefresh = Number.NEGATIVE_INFINITY;
  /** Called with every fresh view (the server hands it to the lease table). */
  onRefresh: (view: DeviceView) => void | Promise<void> = () => {};

  constructor(source: ViewSource, options: InterfaceViewOptions = {}) {
    this.source = source;
    this.missRefreshMs = options.missRefreshMs ?? 1000;
    this.now = options.now ?? (() => performance.now());
    this.canonicalPeer = options.canonicalPeer ?? ((peer) => peer);
    this.readMark = options.readMark;
  }

  /** Reads the device and the interface's addresses again. */
  refresh(): Promise<DeviceView> {
    this.inFlight ??= this.read().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  /** The peer that owns a link-local address (without scope), if any. */
  async identify(address: string): Promise<PeerId | undefined> {
    const key = canonical(address);
    if (key === undefined) return undefined;
    const known = this.owners.get(key);
    if (known !== undefined) return known;
    if (this.now() - this.lastRefresh < this.missRefreshMs) {
      // A read is under way or just happened: its answer is as fresh as it gets.
      if (this.inFlight) await this.inFlight;
      return this.owners.get(key);
    }
    await this.refresh();
    return this.owners.get(key);
  }

  /** Peers that hold a link-local /128: the ones that can speak to the server. */
  linkLocalPeers(): number {
    return new Set(this.owners.values()).size;
  }

  private async read(): Promise<DeviceView> {
    this.lastRefresh = this.now();
    const readMark = this.readMark?.();
    const [peers, ownAddresses] = await Promise.all([
      this.source.peers(),
      this.source.ownAddresses(),
    ]);
    const owners = new Map<string, PeerId>();
    for (const [peer, allowedIps] of peers) {
      for (const prefix of allowedIps) {
        if (prefix.family === 6 && prefix.isHost() && prefix.address.isLinkLocal()) {
          owners.set(addressKey(prefix.address), this.canonicalPeer(peer));
        }
      }
    }
    // Not kept: what the lease table needs of it, it keeps (a copy of every
    // peer's allowed-ips costs hundreds of bytes a peer).
    const view: DeviceView =
      readMark === undefined ? { ownAddresses, peers } : { ownAddresses, peers, readMark };
    this.owners = owners;
    await this.onRefresh(view);
    return view;
  }
}

/** The address parsed, so that any spelling of it matches; undefined if not link-local IPv6. */
function canonical(address: string): string | undefined {
  const parsed = IpAddress.parseFamily(6, address.replace(/%.*$/, ''));
  return parsed?.isLinkLocal() ? addressKey(parsed) : undefined;
}

/** An address's bytes as a short flat string: a Map key of 32 bytes, not a printed address's ~70. */
function addressKey(address: IpAddress): string {
  return String.fromCharCode(...address.bytes);
}
