import type { IpPrefix } from '@wg-dynamic/ip';
import type { AllowedIpsChange, LeaseRecord, PeerId } from '../leases/lease.js';

/** The WireGuard interface as the server needs it: its peers, and writes to their allowed-ips. */
export interface DevicePort {
  /** Every peer and its allowed-ips, read afresh. */
  peers(): Promise<ReadonlyMap<PeerId, readonly IpPrefix[]>>;
  /**
   * Writes allowed-ips changes, all in one configuration. Never creates a
   * peer: a change for a peer that is gone is dropped.
   */
  apply(changes: readonly AllowedIpsChange[]): Promise<void>;
}

/** Durable storage for lease records. */
export interface JournalPort {
  /**
   * Resolves once the records are on disk. `useReserve`: the records grant
   * nothing new (renewals, releases), so they may use the space kept for
   * when the disk is full.
   */
  append(records: readonly LeaseRecord[], options: { useReserve: boolean }): Promise<void>;
  /**
   * True while the disk is full and only the journal's preallocated reserve
   * is left: new grants are refused, renewals and releases still recorded.
   */
  readonly lowSpace: boolean;
}

/** The interface's addresses and routes (rtnetlink), and their changes. */
export interface NetworkPort {
  /** The interface's own addresses. */
  ownAddresses(): Promise<readonly IpPrefix[]>;
  /** Destinations of the unicast routes through the interface (main table). */
  routes(): Promise<readonly IpPrefix[]>;
  /** Follows changes until the returned function is called. */
  watch(listener: NetworkListener): () => void;
}

export interface NetworkListener {
  addressesChanged(): void;
  routesChanged(): void;
  /** The interface is gone. */
  interfaceRemoved(): void;
  /** The event stream failed (after which the server should re-read everything). */
  failed(error: unknown): void;
}

/**
 * Routes into the interface for the delegation pools (rtnetlink): the
 * server adds `POOL dev <interface>` when no route for the pool exists, and
 * removes at exit only what it added.
 */
/** A route to a delegation pool, as RoutePort.routesTo finds it. */
export interface RouteThrough {
  /** Its output interface (undefined for a route without one). */
  readonly index: number | undefined;
  /** Marked as the server's own (added by this server, in this run or an earlier one). */
  readonly ours: boolean;
}

export interface RoutePort {
  /** The interface's index. */
  readonly index: number;
  /** The main table's routes to exactly `destination`. */
  routesTo(destination: IpPrefix): Promise<readonly RouteThrough[]>;
  /** Adds `destination dev <interface>`, marked as the server's own. */
  add(destination: IpPrefix): Promise<void>;
  /** Removes the route `add` made; nothing when it is gone already. */
  remove(destination: IpPrefix): Promise<void>;
}
