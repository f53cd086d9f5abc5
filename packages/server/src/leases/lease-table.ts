import { type IpAddress, type IpFamily, IpPrefix } from '@wg-dynamic/ip';
import {
  type AddressRequest,
  commonExtensions,
  Errno,
  Extension,
  type PrefixRequest,
  type Request,
  type ResponseFields,
} from '@wg-dynamic/protocol';
import { Allocator, poolEdges, RESERVED_PREFIXES } from '../allocator/allocator.js';
import { type Delegation, PrefixPools } from '../allocator/prefix-pools.js';
import type { RandomSource } from '../random.js';
import { ExpiryQueue } from './expiry-queue.js';
import {
  type AllowedIpsChange,
  addressSlot,
  type Clock,
  grantRecord,
  isPrefixSlot,
  type Lease,
  type LeaseRecord,
  type PeerId,
  prefixSlot,
  type ReleaseReason,
  recordSlot,
  releaseRecord,
  type Slot,
} from './lease.js';
import { PeerLeases } from './peer-leases.js';

export interface LeaseTableOptions {
  /** Lease length in seconds. */
  readonly leaseTime: number;
  readonly clock: Clock;
  readonly random: RandomSource;
  /** Routes pushed to clients that speak the route extension. */
  readonly routes?: readonly IpPrefix[];
  /** Delegation pools (`--delegate`), for clients that speak the prefix extension. */
  readonly delegations?: readonly Delegation[];
}

/** What the server knows of its WireGuard interface. */
export interface DeviceView {
  /** The interface's own addresses: never handed out. */
  readonly ownAddresses: readonly IpPrefix[];
  /** Every peer and its allowed-ips. */
  readonly peers: ReadonlyMap<PeerId, readonly IpPrefix[]>;
  /**
   * The lease table's `changeMark()` taken just before the device was read.
   * The device may or may not show what the server wrote to allowed-ips
   * after it (the read and the writes are not ordered), so setDevice takes
   * the table's word for those prefixes. Absent: the view is current.
   */
  readonly readMark?: number;
}

/** Lease changes decided but not yet applied: journal `records`, write `changes`, then commit. */
export interface Effects {
  readonly records: readonly LeaseRecord[];
  readonly changes: readonly AllowedIpsChange[];
}

/**
 * One peer's change, decided but not yet applied. The server writes its
 * records to the journal and its allowed-ips change to the device, then
 * commits it, or aborts it if either failed. Addresses (and prefixes) it
 * takes are reserved from the moment it is prepared; those it gives up stay
 * the peer's until commit.
 */
export class Transaction implements Effects {
  readonly peer: PeerId;
  /** The answer to send after commit (requests only). */
  readonly response: ResponseFields | undefined;
  readonly records: readonly LeaseRecord[];
  readonly changes: readonly AllowedIpsChange[];
  /** @internal */ readonly grants: readonly Lease[];
  /** @internal */ readonly releases: readonly Lease[];
  /** @internal */ readonly reserved: readonly Reservation[];
  /** @internal */ settled = false;

  /**
   * @internal `fresh`: the grants that are not renewals of what the peer
   * holds (their prefixes enter its allowed-ips).
   */
  constructor(
    peer: PeerId,
    response: ResponseFields | undefined,
    grants: Lease[],
    releases: { lease: Lease; reason: ReleaseReason }[],
    reserved: Reservation[],
    fresh: readonly Lease[] = [],
  ) {
    this.peer = peer;
    this.response = response;
    this.grants = grants;
    this.releases = releases.map((r) => r.lease);
    this.reserved = reserved;
    this.records = [
      ...releases.map(({ lease, reason }) => releaseRecord(lease, reason)),
      ...grants.map(grantRecord),
    ];
    const add = fresh.map((lease) => lease.prefix);
    const remove = releases.map(({ lease }) => lease.prefix);
    this.changes = add.length > 0 || remove.length > 0 ? [{ peer, add, remove }] : [];
  }
}

/** How a restart went, for the log. */
export interface RestoreReport {
  readonly restored: number;
  readonly expired: number;
  readonly peerRemoved: number;
  readonly revoked: number;
  readonly adopted: number;
  readonly reapplied: number;
  /** Released addresses still in their peer's allowed-ips (a write the crash cut short), taken out. */
  readonly cleared: number;
}

/** An address or prefix taken from its allocator by a prepared transaction. */
interface Reservation {
  readonly slot: Slot;
  readonly prefix: IpPrefix;
}

/** A peer's leases, and whether a transaction of it is in flight. */
class PeerState extends PeerLeases {
  busy = false;
  /** Gone from the device while a transaction was in flight: dropped at commit. */
  removed = false;
}

const FAMILIES = [4, 6] as const;
const NO_PREFIXES: readonly IpPrefix[] = Object.freeze([]);

/**
 * The server's lease state: which peer holds which address until when. Pure:
 * no I/O, the clock and the random source passed in. Every change comes out
 * as journal records and allowed-ips changes for the caller to apply.
 *
 * Request semantics per family follow the wg-dynamic v1 table: no `ip=`
 * releases; `0.0.0.0/32` or `::/128` asks for an address the server chooses
 * (the one the peer already holds, if it still may, so a client that lost its
 * state keeps its address); a real address is kept if it is the peer's, taken
 * if free and in a pool, and otherwise refused with errno 3, the peer's old
 * address of that family being released as the reference does.
 *
 * Delegated prefixes (extension "prefix", only for a request that lists it)
 * follow the same table with `prefix=` lines: none releases, `0.0.0.0/L` or
 * `::/L` asks for a prefix of length L or longer, a real prefix is kept or
 * taken. They come from the delegation pools (PrefixPools), which never
 * overlap the address pools: each side excludes the other.
 */
export class LeaseTable {
  private readonly leaseTime: number;
  private readonly clock: Clock;
  private routes: readonly IpPrefix[];
  private readonly allocators: Record<IpFamily, Allocator>;
  private readonly prefixPools: PrefixPools;
  private readonly peers = new Map<PeerId, PeerState>();
  private count = 0;
  /** Each peer with leases, at the earliest end of them. */
  private readonly expiries = new ExpiryQueue<PeerId>();
  private pools: readonly IpPrefix[] = [];
  private view: DeviceView = { ownAddresses: [], peers: new Map() };
  /** Counts the table's own allowed-ips changes (grants, releases, expiries, revocations). */
  private changeCount = 0;
  /**
   * Per prefix (prefixKey), the changeCount of its last allowed-ips change
   * that a device read still under way may have missed: pruned to what
   * follows the read mark of the last view applied.
   */
  private readonly changedAt = new Map<string | number, number>();
  /** The read mark of the last device view applied: an older view is out of date. */
  private appliedMark = 0;
  /** Transactions prepared and not yet committed or aborted: their device write may be under way. */
  private readonly inFlight = new Set<Transaction>();

  constructor(options: LeaseTableOptions) {
    if (!Number.isInteger(options.leaseTime) || options.leaseTime < 1) {
      throw new RangeError(
        `lease time must be a positive number of seconds, not ${options.leaseTime}`,
      );
    }
    this.leaseTime = options.leaseTime;
    this.clock = options.clock;
    this.routes = options.routes ?? [];
    this.allocators = {
      4: Allocator.forAddresses(4, options.random),
      6: Allocator.forAddresses(6, options.random),
    };
    this.prefixPools = new PrefixPools(options.delegations ?? [], options.random);
  }

  // ---- requests -------------------------------------------------------------------------------

  /** True while a transaction of this peer is prepared and not yet committed or aborted. */
  isBusy(peer: PeerId): boolean {
    return this.peers.get(peer)?.busy ?? false;
  }

  /**
   * Decides the answer to a peer's request. The peer must be in the device
   * view and not busy. With `allowNew: false` (the journal is out of disk
   * space) nothing is allocated: renewals and releases still go through,
   * requests for other addresses get errno 3.
   */
  prepareRequest(
    peer: PeerId,
    request: Request,
    options: { allowNew?: boolean } = {},
  ): Transaction {
    const allowNew = options.allowNew ?? true;
    const state = this.claim(peer);
    const grants: Lease[] = [];
    const releases: { lease: Lease; reason: ReleaseReason }[] = [];
    const reserved: Reservation[] = [];
    const fresh: Lease[] = [];
    const ip: { 4?: IpAddress; 6?: IpAddress } = {};
    let unavailable = false;
    const now = this.clock.monotonicMs();
    const start = this.clock.wallSeconds();
    /**
     * The outcome for one slot: the lease held is released unless it is the
     * one chosen; the choice, if any, is granted (fresh when it is new).
     */
    const settle = (slot: Slot, held: Lease | undefined, prefix: IpPrefix | undefined) => {
      if (held && !(prefix && held.prefix.equals(prefix))) {
        releases.push({ lease: held, reason: 'released' });
      }
      if (!prefix) {
        unavailable = true;
        return undefined;
      }
      const lease: Lease = {
        peer: state.peer,
        slot,
        prefix,
        start,
        duration: this.leaseTime,
        expiresAt: whole(now + this.leaseTime * 1000),
      };
      grants.push(lease);
      if (!held?.prefix.equals(prefix)) fresh.push(lease);
      return prefix;
    };

    for (const family of FAMILIES) {
      const slot = addressSlot(family);
      const held = state.get(slot);
      const asked: AddressRequest = request.ip[family];
      if (asked.kind === 'release') {
        if (held) releases.push({ lease: held, reason: 'released' });
        continue;
      }
      const allocator = this.allocators[family];
      let prefix: IpPrefix | undefined;
      if (asked.kind === 'new') {
        if (held && allocator.isAllocated(held.prefix)) {
          prefix = held.prefix;
        } else if (allowNew) {
          prefix = allocator.allocate();
          if (prefix) reserved.push({ slot, prefix });
        }
      } else {
        const wanted = IpPrefix.host(asked.address);
        if (held?.prefix.equals(wanted)) {
          if (allocator.isAllocated(wanted)) prefix = wanted;
        } else if (allowNew && allocator.take(wanted)) {
          prefix = wanted;
          reserved.push({ slot, prefix });
        }
      }
      const granted = settle(slot, held, prefix);
      if (granted) ip[family] = granted.address;
    }

    // The extension "prefix" is applied only when the client lists it and
    // the server delegates: otherwise the peer's prefixes are left as they are.
    const extensions = commonExtensions(request.extensions).filter(
      (name) => name !== Extension.Prefix || this.prefixPools.size > 0,
    );
    const delegated: { 4?: IpPrefix; 6?: IpPrefix } = {};
    if (extensions.includes(Extension.Prefix)) {
      for (const family of FAMILIES) {
        const slot = prefixSlot(family);
        const held = state.get(slot);
        const asked = request.prefix[family];
        if (asked.kind === 'release') {
          if (held) releases.push({ lease: held, reason: 'released' });
          continue;
        }
        const prefix = this.choosePrefix(family, asked, held, allowNew, slot, reserved);
        const granted = settle(slot, held, prefix);
        if (granted) delegated[family] = granted;
      }
    }

    const response: { -readonly [K in keyof ResponseFields]: ResponseFields[K] } = {
      errno: unavailable ? Errno.IpUnavailable : Errno.Success,
      ip,
    };
    if (grants.length > 0) {
      response.leaseStart = start;
      response.leaseTime = this.leaseTime;
      if (extensions.length > 0) response.extensions = extensions;
      if (extensions.includes(Extension.Route)) response.routes = this.routes;
      if (extensions.includes(Extension.Prefix)) response.prefix = delegated;
    }
    return this.track(new Transaction(peer, response, grants, releases, reserved, fresh));
  }

  /**
   * The prefix to grant for one family's `prefix=` line, or undefined when
   * none is available. A prefix the peer holds is kept when it answers the
   * request (a new one of length L: held at L or longer; a specific one: the
   * same), or cut again from the unit the peer holds when only the length
   * differs; anything else is taken from the pools (reserved at once).
   */
  private choosePrefix(
    family: IpFamily,
    asked: Exclude<PrefixRequest, { kind: 'release' }>,
    held: Lease | undefined,
    allowNew: boolean,
    slot: Slot,
    reserved: Reservation[],
  ): IpPrefix | undefined {
    const pools = this.prefixPools;
    const holding = held !== undefined && pools.isAllocated(held.prefix);
    if (asked.kind === 'new') {
      if (holding && held.prefix.length >= asked.length) return held.prefix;
      const cut = holding ? pools.within(held.prefix, asked.length) : undefined;
      if (cut) return cut;
      if (!allowNew) return undefined;
      const prefix = pools.allocate(family, asked.length);
      if (prefix) reserved.push({ slot, prefix });
      return prefix;
    }
    const wanted = asked.prefix;
    if (held?.prefix.equals(wanted)) return holding ? wanted : undefined;
    // Another prefix in the unit the peer holds: the unit stays its own.
    if (holding && pools.sameUnit(held.prefix, wanted)) return wanted;
    if (!allowNew || !pools.take(wanted)) return undefined;
    reserved.push({ slot, prefix: wanted });
    return wanted;
  }

  /** Applies a prepared transaction. Returns follow-up effects when its peer vanished meanwhile. */
  commit(tx: Transaction): Effects {
    this.settle(tx);
    const state = this.peers.get(tx.peer);
    if (!state) throw new Error(`no state for peer ${tx.peer}`);
    for (const lease of tx.releases) {
      if (state.get(lease.slot) === lease) this.dropLease(state, lease);
    }
    for (const lease of tx.grants) {
      this.setLease(state, lease);
      // A prefix cut again from the unit the peer held: its unit, released just above, is taken back.
      if (isPrefixSlot(lease.slot)) this.prefixPools.take(lease.prefix);
    }
    this.scheduleExpiry(state);
    if (state.removed) return this.forgetPeer(tx.peer, 'peer-removed');
    return { records: [], changes: [] };
  }

  /**
   * Drops a prepared transaction: its reserved addresses return to the pools,
   * and leases it would have released stay, an expired one being retried in
   * a second.
   */
  abort(tx: Transaction): void {
    this.settle(tx);
    for (const { slot, prefix } of tx.reserved) {
      if (isPrefixSlot(slot)) this.prefixPools.release(prefix);
      else this.allocators[prefix.family].release(prefix);
    }
    const retry = whole(this.clock.monotonicMs() + 1000);
    const state = this.peers.get(tx.peer);
    if (!state) return;
    this.scheduleExpiry(state, (lease) =>
      tx.releases.includes(lease) ? Math.max(lease.expiresAt, retry) : lease.expiresAt,
    );
    if (state.removed) this.forgetPeer(tx.peer, 'peer-removed');
  }

  // ---- expiry ---------------------------------------------------------------------------------

  /** Monotonic time of the next expiry, if any lease is held. */
  nextExpiry(): number | undefined {
    return this.expiries.next();
  }

  /** Peers with leases that have run out by now; each is then expired with prepareExpiry. */
  duePeers(): PeerId[] {
    return this.expiries.due(this.clock.monotonicMs());
  }

  /**
   * Decides the expiry of whatever of a peer's leases has run out by now;
   * undefined when nothing has (a renewal came first). Like a request, it
   * makes the peer busy until committed or aborted.
   */
  prepareExpiry(peer: PeerId): Transaction | undefined {
    const now = this.clock.monotonicMs();
    const state = this.peers.get(peer);
    const due = [...(state?.list() ?? [])].filter((lease) => lease.expiresAt <= now);
    if (!state || due.length === 0) return undefined;
    this.claim(peer);
    return this.track(
      new Transaction(
        peer,
        undefined,
        [],
        due.map((lease) => ({ lease, reason: 'expired' as const })),
        [],
      ),
    );
  }

  // ---- the device and the pools ---------------------------------------------------------------

  /** The address pools (the routes into the interface, or --pool). */
  setPools(pools: readonly IpPrefix[]): Effects {
    this.pools = pools;
    return this.reconfigure();
  }

  setRoutes(routes: readonly IpPrefix[]): void {
    this.routes = routes;
  }

  /**
   * The mark to take just before reading the device, for the view's
   * `readMark`: it counts the table's own allowed-ips changes.
   */
  changeMark(): number {
    return this.changeCount;
  }

  /**
   * A fresh view of the interface. Leases of peers that are gone are dropped
   * (no allowed-ips to change: the peer took them along); leases that an
   * operator's allowed-ips now cover are revoked.
   *
   * A device read is not ordered with the server's own writes: a read that
   * began before a lease changed hands may still show the address on its
   * old peer, and taken at its word that entry would look like an
   * operator's and take the address from its new holder. So for every
   * prefix the table changed after the view's `readMark`, and every prefix
   * of a transaction still in flight, the table's word wins: the view's
   * entries for it are ignored (the next read sees them settled). A view
   * read before the last one applied is out of date and ignored whole.
   */
  setDevice(view: DeviceView): Effects {
    const readMark = view.readMark ?? this.changeCount;
    if (readMark < this.appliedMark) return { records: [], changes: [] };
    this.appliedMark = readMark;
    const unsettled = this.unsettledSince(readMark);
    if (unsettled.size > 0) view = withoutPrefixes(view, unsettled);
    this.view = view;
    const records: LeaseRecord[] = [];
    const changes: AllowedIpsChange[] = [];
    for (const [peer, state] of this.peers) {
      if (view.peers.has(peer)) continue;
      if (state.busy) {
        state.removed = true;
        continue;
      }
      const effects = this.forgetPeer(peer, 'peer-removed');
      records.push(...effects.records);
    }
    const reconfigured = this.reconfigure();
    changes.push(...reconfigured.changes, ...this.missingFromDevice(view, unsettled));
    this.view = this.staticView(view);
    return { records: [...records, ...reconfigured.records], changes };
  }

  /**
   * Leases absent from their peer's allowed-ips in `view`: to be written
   * again, but for those the table wrote after the view was read.
   */
  private missingFromDevice(
    view: DeviceView,
    unsettled: ReadonlySet<string | number>,
  ): AllowedIpsChange[] {
    const changes: AllowedIpsChange[] = [];
    for (const [peer, state] of this.peers) {
      if (state.busy) continue;
      const allowedIps = view.peers.get(peer) ?? [];
      const add = [...state.list()]
        .map((lease) => lease.prefix)
        .filter(
          (prefix) =>
            !allowedIps.some((a) => a.equals(prefix)) && !unsettled.has(prefixKey(prefix)),
        );
      if (add.length > 0) changes.push({ peer, add, remove: [] });
    }
    return changes;
  }

  /**
   * The prefixes a view read at `readMark` cannot be trusted on: those the
   * table changed since, and those of transactions in flight. Forgets the
   * changes no later view can miss.
   */
  private unsettledSince(readMark: number): Set<string | number> {
    const unsettled = new Set<string | number>();
    for (const [key, at] of this.changedAt) {
      if (at > readMark) unsettled.add(key);
      else this.changedAt.delete(key);
    }
    for (const tx of this.inFlight) {
      for (const change of tx.changes) {
        for (const prefix of [...change.add, ...change.remove]) unsettled.add(prefixKey(prefix));
      }
    }
    return unsettled;
  }

  /** Notes that the table changed these prefixes in allowed-ips (or is about to). */
  private changed(prefixes: Iterable<IpPrefix>): void {
    const at = ++this.changeCount;
    for (const prefix of prefixes) this.changedAt.set(prefixKey(prefix), at);
  }

  /**
   * Rebuilds the leases at start-up from the journal's records and the
   * device: drops what ran out while the server was down, what belongs to
   * peers that are gone, and what an operator's allowed-ips now hold; puts
   * back into allowed-ips the leases that are missing there. Call once,
   * after setPools, before serving.
   *
   * In-pool host addresses in allowed-ips that the journal never granted
   * are adopted as leases (as the reference server does) only when
   * `adoptUnjournaled` says the journal cannot know them; otherwise they are
   * an operator's entries, kept and never handed out. See the rule below.
   * By default they are adopted when `records` is empty.
   */
  restore(
    records: Iterable<LeaseRecord>,
    view: DeviceView,
    options: { adoptUnjournaled?: boolean } = {},
  ): Effects & { report: RestoreReport } {
    const nowWall = this.clock.wallSeconds();
    const nowMono = this.clock.monotonicMs();
    let recordCount = 0;
    // The journal's last word per peer and slot. (What else it named is read
    // again below, and only for the rare address that might be adopted.) One
    // string per peer, shared by its leases and its table entry.
    const journaled = new Map<PeerId, { peer: PeerId } & Partial<Record<Slot, Lease>>>();
    for (const record of records) {
      recordCount++;
      const slot = recordSlot(record);
      let slots = journaled.get(record.peer);
      if (record.type === 'grant') {
        if (!slots) {
          slots = { peer: record.peer };
          journaled.set(record.peer, slots);
        }
        slots[slot] = {
          peer: slots.peer,
          slot,
          prefix: record.prefix,
          start: record.start,
          duration: record.duration,
          expiresAt: whole(nowMono + (record.start + record.duration - nowWall) * 1000),
        };
      } else if (slots?.[slot]?.prefix.equals(record.prefix)) {
        delete slots[slot];
      }
    }

    const out: LeaseRecord[] = [];
    const removals = new Map<PeerId, IpPrefix[]>();
    const remove = (lease: Lease, reason: ReleaseReason) => {
      out.push(releaseRecord(lease, reason));
      // A peer that is gone took its allowed-ips along.
      if (reason !== 'peer-removed') {
        removals.set(lease.peer, [...(removals.get(lease.peer) ?? []), lease.prefix]);
      }
    };
    const report = {
      restored: 0,
      expired: 0,
      peerRemoved: 0,
      revoked: 0,
      adopted: 0,
      reapplied: 0,
      cleared: 0,
    };
    // One holder per prefix: the latest grant wins, should a damaged journal name two.
    const holders = new Map<string | number, Lease>();
    for (const slots of journaled.values()) {
      for (const lease of [slots.ipv4, slots.ipv6, slots.prefix4, slots.prefix6]) {
        if (!lease) continue;
        if (!view.peers.has(lease.peer)) {
          report.peerRemoved++;
          remove(lease, 'peer-removed');
          continue;
        }
        if (lease.expiresAt <= nowMono) {
          report.expired++;
          remove(lease, 'expired');
          continue;
        }
        const key = prefixKey(lease.prefix);
        const other = holders.get(key);
        if (other) {
          report.revoked++;
          remove(other, 'revoked');
          this.deleteLease(this.stateOf(other.peer), other);
        }
        holders.set(key, lease);
        this.setLease(this.stateOf(lease.peer), lease);
      }
    }
    journaled.clear();

    // In-pool host addresses in a peer's allowed-ips that are not its lease
    // (the link-local /128 and the leases, the usual allowed-ips, are skipped
    // at once) and that nobody holds: candidates, if inside a pool and outside
    // the fixed exclusions (the reserved ranges, link-local included). Rare,
    // so only they pay for a second read of the records.
    this.view = view;
    const fixed = { 4: this.fixedExclusions(4), 6: this.fixedExclusions(6) };
    // Prefixes in a delegation pool are candidates too, but only ever to be
    // cleared (a release the crash kept from the device): one the journal does
    // not know is an operator's entry.
    const candidates: { peer: PeerId; prefix: IpPrefix; delegated: boolean }[] = [];
    const delegating = this.prefixPools.size > 0;
    for (const [peer, allowedIps] of view.peers) {
      const held = this.peers.get(peer);
      for (const prefix of allowedIps) {
        if (prefix.address.isLinkLocal()) continue;
        if (held?.holds(prefix)) continue;
        if (holders.has(prefixKey(prefix))) continue;
        if (delegating && this.prefixPools.overlaps(prefix)) {
          candidates.push({ peer, prefix, delegated: true });
          continue;
        }
        if (!prefix.isHost()) continue;
        if (!this.pools.some((pool) => pool.contains(prefix.address))) continue;
        if (fixed[prefix.family].some((x) => x.overlaps(prefix))) continue;
        candidates.push({ peer, prefix, delegated: false });
      }
    }
    // A candidate whose last record in the journal is its release by that very
    // peer is what a crash between the journal write and the device write
    // leaves behind (the journal is written first): it leaves the peer's
    // allowed-ips.
    //
    // Any other candidate the server did not put there: every grant is on
    // disk before its address enters allowed-ips (the committer appends and
    // syncs the journal, then writes the device), so a crash never leaves an
    // unjournaled grant in allowed-ips, and a torn last record was never
    // written to the device. So a candidate is an operator's entry, kept
    // and never handed out, exactly as it is while the server runs, unless
    // the journal cannot know: it is new (a first start beside a configured
    // device, or the move from the reference server, whose leases are found
    // only in allowed-ips) or its replay skipped damage (lost grants). Then
    // one the journal never named for that peer is adopted, as the reference
    // does, when the peer holds nothing of its family.
    const adopting = options.adoptUnjournaled ?? recordCount === 0;
    let leftovers: Map<PeerId, IpPrefix[]> | undefined;
    if (candidates.length > 0) {
      const named = new Set<string>();
      const lastWord = new Map<string | number, LeaseRecord>();
      for (const record of records) {
        named.add(`${record.peer} ${record.prefix}`);
        lastWord.set(prefixKey(record.prefix), record);
      }
      for (const { peer, prefix, delegated } of candidates) {
        const slot = addressSlot(prefix.family);
        const key = prefixKey(prefix);
        const last = lastWord.get(key);
        if (
          last?.type === 'release' &&
          last.peer === peer &&
          last.prefix.equals(prefix) &&
          (last.delegated ?? false) === delegated
        ) {
          leftovers ??= new Map();
          leftovers.set(peer, [...(leftovers.get(peer) ?? []), prefix]);
          removals.set(peer, [...(removals.get(peer) ?? []), prefix]);
          report.cleared++;
          continue;
        }
        if (!adopting || delegated || holders.has(key) || named.has(`${peer} ${prefix}`)) {
          continue;
        }
        const state = this.stateOf(peer);
        if (state.has(slot)) continue;
        const lease: Lease = {
          peer: state.peer,
          slot,
          prefix,
          start: nowWall,
          duration: this.leaseTime,
          expiresAt: whole(nowMono + this.leaseTime * 1000),
        };
        this.setLease(state, lease);
        holders.set(key, lease);
        out.push(grantRecord(lease));
        report.adopted++;
      }
    }
    // The view the table goes on with: without the leftovers it takes out.
    if (leftovers) {
      const peers = new Map(view.peers);
      for (const [peer, gone] of leftovers) {
        peers.set(
          peer,
          (view.peers.get(peer) ?? []).filter((prefix) => !gone.some((g) => g.equals(prefix))),
        );
      }
      view = { ownAddresses: view.ownAddresses, peers };
    }
    this.view = view;
    holders.clear();

    const reconfigured = this.reconfigure();
    report.revoked += reconfigured.records.length;
    out.push(...reconfigured.records);

    const changes: AllowedIpsChange[] = [];
    for (const [peer, state] of this.peers) {
      const allowedIps = view.peers.get(peer) ?? [];
      const add: IpPrefix[] = [];
      for (const lease of state.list()) {
        report.restored++;
        if (!allowedIps.some((prefix) => prefix.equals(lease.prefix))) add.push(lease.prefix);
      }
      this.scheduleExpiry(state);
      report.reapplied += add.length;
      const gone = removals.get(peer) ?? [];
      removals.delete(peer);
      if (add.length > 0 || gone.length > 0) changes.push({ peer, add, remove: gone });
    }
    for (const [peer, gone] of removals) changes.push({ peer, add: [], remove: gone });
    changes.push(...reconfigured.changes);
    report.restored -= report.adopted;
    this.view = this.staticView(view);
    return { records: out, changes, report };
  }

  // ---- reading --------------------------------------------------------------------------------

  /**
   * The table's own string for a peer's key, when it has one: callers that
   * keep peers (the interface view) share it rather than keep a copy of
   * every key each device read makes.
   */
  canonicalPeer(peer: PeerId): PeerId {
    return this.peers.get(peer)?.peer ?? peer;
  }

  /** Every lease held, peer by peer. */
  *leases(): IterableIterator<Lease> {
    for (const state of this.peers.values()) yield* state.list();
  }

  get leaseCount(): number {
    return this.count;
  }

  /** Address leases held per family (delegated prefixes: prefixCounts). */
  leaseCounts(): Record<IpFamily, number> {
    const counts = { 4: 0, 6: 0 };
    for (const lease of this.leases()) {
      if (!isPrefixSlot(lease.slot)) counts[lease.prefix.family]++;
    }
    return counts;
  }

  /** Delegated prefixes held per family. */
  prefixCounts(): Record<IpFamily, number> {
    const counts = { 4: 0, 6: 0 };
    for (const lease of this.leases()) {
      if (isPrefixSlot(lease.slot)) counts[lease.prefix.family]++;
    }
    return counts;
  }

  /** The delegation pools. */
  get delegations(): readonly Delegation[] {
    return this.prefixPools.delegations;
  }

  /** Per delegation pool: prefixes that can be delegated and how many are. */
  delegationUsage(): ReturnType<PrefixPools['usage']> {
    return this.prefixPools.usage();
  }

  leasesOf(peer: PeerId): Lease[] {
    return [...(this.peers.get(peer)?.list() ?? [])];
  }

  /** The grants that rebuild the current state: what a journal snapshot holds. */
  *snapshot(): IterableIterator<LeaseRecord> {
    for (const lease of this.leases()) yield grantRecord(lease);
  }

  /** Per family and pool: allocatable addresses and how many are leased. */
  usage(): { family: IpFamily; pool: IpPrefix; capacity: bigint; allocated: number }[] {
    return FAMILIES.flatMap((family) =>
      this.allocators[family].usage().map((u) => ({ family, ...u })),
    );
  }

  // ---- internals ------------------------------------------------------------------------------

  /**
   * What the table keeps of a device view once it has acted on it: every
   * peer, and of its allowed-ips only those that matter later, the ones that
   * are neither link-local nor its lease (an operator's entries). A server
   * with a hundred thousand peers would otherwise keep three prefixes per
   * peer (~800 bytes) it never reads again; most peers keep none.
   */
  private staticView(view: DeviceView): DeviceView {
    const peers = new Map<PeerId, readonly IpPrefix[]>();
    for (const [peer, allowedIps] of view.peers) {
      const leases = this.peers.get(peer);
      let kept: IpPrefix[] | undefined;
      for (const prefix of allowedIps) {
        if (prefix.address.isLinkLocal()) continue;
        if (leases?.holds(prefix)) continue;
        kept ??= [];
        kept.push(prefix);
      }
      peers.set(leases?.peer ?? peer, kept ?? NO_PREFIXES);
    }
    return { ownAddresses: view.ownAddresses, peers };
  }

  private claim(peer: PeerId): PeerState {
    if (!this.view.peers.has(peer)) throw new Error(`peer ${peer} is not on the interface`);
    const state = this.stateOf(peer);
    if (state.busy) throw new Error(`peer ${peer} already has a transaction in flight`);
    state.busy = true;
    return state;
  }

  private track(tx: Transaction): Transaction {
    this.inFlight.add(tx);
    return tx;
  }

  private settle(tx: Transaction): void {
    if (tx.settled) throw new Error('transaction committed or aborted twice');
    tx.settled = true;
    this.inFlight.delete(tx);
    // Committed or aborted, its device write may have landed either way.
    for (const change of tx.changes) this.changed([...change.add, ...change.remove]);
    const state = this.peers.get(tx.peer);
    if (state) state.busy = false;
  }

  private stateOf(peer: PeerId): PeerState {
    let state = this.peers.get(peer);
    if (!state) {
      state = new PeerState(peer);
      this.peers.set(peer, state);
    }
    return state;
  }

  private setLease(state: PeerState, lease: Lease): void {
    if (!state.has(lease.slot)) this.count++;
    state.set(lease.slot, lease);
  }

  private deleteLease(state: PeerState, lease: Lease): void {
    if (state.delete(lease.slot)) this.count--;
  }

  private dropLease(state: PeerState, lease: Lease): void {
    this.deleteLease(state, lease);
    if (isPrefixSlot(lease.slot)) this.prefixPools.release(lease.prefix);
    else this.allocators[lease.prefix.family].release(lease.prefix);
  }

  private forgetPeer(peer: PeerId, reason: ReleaseReason): Effects {
    const state = this.peers.get(peer);
    if (!state) return { records: [], changes: [] };
    const records = [...state.list()].map((lease) => {
      this.dropLease(state, lease);
      return releaseRecord(lease, reason);
    });
    this.peers.delete(peer);
    this.expiries.cancel(state.peer);
    return { records, changes: [] };
  }

  /**
   * Puts the peer in the expiry queue at the earliest end of its leases
   * (`at` may move a lease's end later), or takes it out when it holds none.
   */
  private scheduleExpiry(state: PeerState, at?: (lease: Lease) => number): void {
    const earliest = state.earliestExpiry(at);
    if (earliest === undefined) this.expiries.cancel(state.peer);
    else this.expiries.schedule(state.peer, earliest);
  }

  /** Never allocatable whatever the peers hold: reserved ranges, pool edges, our own addresses. */
  private fixedExclusions(family: IpFamily): IpPrefix[] {
    return [
      ...RESERVED_PREFIXES,
      ...this.pools.flatMap(poolEdges),
      ...this.view.ownAddresses.map((a) => IpPrefix.host(a.address)),
    ].filter((prefix) => prefix.family === family);
  }

  /**
   * Rebuilds both allocators from the pools, the fixed exclusions and every
   * peer's static allowed-ips (those that are not its leases). A lease that an
   * operator's allowed-ips now cover is revoked and leaves its peer's
   * allowed-ips; a lease outside every pool is kept until it runs out (it
   * cannot be renewed), and comes back under the allocator's watch if its
   * pool does.
   */
  private reconfigure(): Effects {
    const records: LeaseRecord[] = [];
    const changes: AllowedIpsChange[] = [];
    const revoke = (peer: PeerId, state: PeerState, lease: Lease) => {
      this.changed([lease.prefix]);
      this.dropLease(state, lease);
      this.scheduleExpiry(state);
      records.push(releaseRecord(lease, 'revoked'));
      changes.push({ peer, add: [], remove: [lease.prefix] });
    };
    const delegating = this.prefixPools.size > 0;
    for (const family of FAMILIES) {
      const operator: IpPrefix[] = [];
      // Delegated prefixes outside every delegation pool (the pool was dropped
      // from the command line): no address is handed out inside them until they run out.
      const strayPrefixes: IpPrefix[] = [];
      for (const [peer, allowedIps] of this.view.peers) {
        const leased = this.peers.get(peer);
        for (const prefix of allowedIps) {
          if (prefix.family !== family) continue;
          const ours = leased?.holds(prefix) ?? false;
          if (!ours && !prefix.address.isLinkLocal()) operator.push(prefix.network());
        }
        const delegated = leased?.get(prefixSlot(family));
        if (delegated && !this.prefixPools.overlaps(delegated.prefix)) {
          strayPrefixes.push(delegated.prefix.network());
        }
      }
      const pools = this.pools.filter((pool) => pool.family === family);
      const delegationPools = this.prefixPools.pools(family);
      const allocator = this.allocators[family];
      allocator.configure(pools, [
        ...this.fixedExclusions(family),
        ...operator,
        ...delegationPools,
        ...strayPrefixes,
      ]);
      for (const [peer, state] of this.peers) {
        const lease = state.get(addressSlot(family));
        if (!lease || allocator.take(lease.prefix) || allocator.isAllocated(lease.prefix)) continue;
        // Not allocatable: outside every pool (kept until it runs out), or
        // excluded or inside a delegation pool (revoked).
        const inPool =
          pools.some((pool) => pool.contains(lease.prefix.address)) ||
          delegationPools.some((pool) => pool.contains(lease.prefix.address));
        if (inPool && !state.busy) revoke(peer, state, lease);
      }
      if (!delegating) continue;
      this.prefixPools.configure(family, [...this.prefixExclusions(family), ...operator]);
      for (const [peer, state] of this.peers) {
        const lease = state.get(prefixSlot(family));
        if (!lease) continue;
        if (this.prefixPools.take(lease.prefix) || this.prefixPools.isAllocated(lease.prefix)) {
          continue;
        }
        // Inside a delegation pool but not delegable (an operator's entry
        // overlaps it, or the pool's length grew past it): revoked. Outside
        // every pool: kept until it runs out.
        if (this.prefixPools.overlaps(lease.prefix) && !state.busy) revoke(peer, state, lease);
      }
    }
    return { records, changes };
  }

  /** Never delegated whatever the peers hold: reserved ranges and our own addresses. */
  private prefixExclusions(family: IpFamily): IpPrefix[] {
    return [
      ...RESERVED_PREFIXES,
      ...this.view.ownAddresses.map((a) => IpPrefix.host(a.address)),
    ].filter((prefix) => prefix.family === family);
  }
}

/**
 * A lease's end rounded up to a whole millisecond: a small integer is stored
 * inline where a fraction takes a 16-byte heap number, three per peer.
 */
const whole = Math.ceil;

/** `view` without the allowed-ips whose prefixKey is in `keys` (link-local ones are never). */
function withoutPrefixes(view: DeviceView, keys: ReadonlySet<string | number>): DeviceView {
  const peers = new Map<PeerId, readonly IpPrefix[]>();
  for (const [peer, allowedIps] of view.peers) {
    const kept = allowedIps.filter(
      (prefix) => prefix.address.isLinkLocal() || !keys.has(prefixKey(prefix)),
    );
    peers.set(peer, kept.length === allowedIps.length ? allowedIps : kept);
  }
  return { ownAddresses: view.ownAddresses, peers };
}

/** A cheap Map key for a prefix: its IPv4 host address as a number, else its bytes and length as text. */
function prefixKey(prefix: IpPrefix): string | number {
  const b = prefix.address.bytes;
  if (prefix.family === 4 && prefix.length === 32) {
    return (((b[0] ?? 0) << 24) | ((b[1] ?? 0) << 16) | ((b[2] ?? 0) << 8) | (b[3] ?? 0)) >>> 0;
  }
  return String.fromCharCode(prefix.length, ...b);
}
