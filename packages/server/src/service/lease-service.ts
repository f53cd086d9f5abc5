import type { IpPrefix } from '@wg-dynamic/ip';
import type { Logger } from '@wg-dynamic/log';
import { Errno, type Request, type ResponseFields } from '@wg-dynamic/protocol';
import {
  type Clock,
  isPrefixSlot,
  type Lease,
  type LeaseRecord,
  type PeerId,
} from '../leases/lease.js';
import type { LeaseTable, Transaction } from '../leases/lease-table.js';
import { Committer } from './committer.js';
import { PeerGate } from './peer-gate.js';
import type { DevicePort, JournalPort } from './ports.js';

export interface LeaseServiceOptions {
  readonly table: LeaseTable;
  readonly journal: JournalPort;
  readonly device: DevicePort;
  readonly logger: Logger;
  /** The clock the lease table runs on. */
  readonly clock: Clock;
  readonly observer?: ServiceObserver;
  /** Timers, passed in so expiry can be driven by a fake clock in tests. */
  readonly timers?: Timers;
}

export interface Timers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** How long after a failed expiry it is tried again. */
const EXPIRY_RETRY_MS = 1000;

const realTimers: Timers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms).unref(),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** How a request ended: all granted (errno 0), some not (errno 3), or not recorded at all. */
export type RequestOutcome = 'success' | 'unavailable' | 'failed';

/** What happened to one lease. */
export type LeaseEvent =
  | 'granted'
  | 'renewed'
  | 'released'
  | 'expired'
  | 'revoked'
  | 'dropped'
  | 'adopted';

/** Told of every request and lease event: the metrics count them. */
export interface ServiceObserver {
  request?(outcome: RequestOutcome): void;
  /** `delegated`: the lease is a delegated prefix (extension "prefix"), not an address. */
  lease?(event: LeaseEvent, prefix: IpPrefix, delegated: boolean): void;
}

/** How a lease is named in the log: `address` or `prefix`, as text. */
function subject(lease: { prefix: IpPrefix; delegated?: boolean }): Record<string, string> {
  return lease.delegated
    ? { prefix: lease.prefix.toString() }
    : { address: lease.prefix.toString() };
}

const ofLease = (lease: Lease) => ({ prefix: lease.prefix, delegated: isPrefixSlot(lease.slot) });

/**
 * The server's decisions with their I/O: answers requests (one peer at a
 * time, through the lease table, the journal and the device, in that
 * order), and expires leases when they run out.
 */
export class LeaseService {
  readonly table: LeaseTable;
  private readonly journal: JournalPort;
  private readonly logger: Logger;
  private readonly timers: Timers;
  private readonly clock: Clock;
  private readonly committer: Committer;
  private readonly gate = new PeerGate<PeerId>();
  private expiryTimer: unknown;
  private expiryAt: number | undefined;
  private stopped = false;
  private expiring: Promise<void> | undefined;
  /** Peers whose expiry failed, tried again at `retryAt`. */
  private readonly retrying = new Set<PeerId>();
  private retryAt: number | undefined;
  private readonly observer: ServiceObserver;

  constructor(options: LeaseServiceOptions) {
    this.table = options.table;
    this.journal = options.journal;
    this.logger = options.logger;
    this.timers = options.timers ?? realTimers;
    this.clock = options.clock;
    this.observer = options.observer ?? {};
    this.committer = new Committer(options.table, options.journal, options.device);
  }

  /** Answers one request of a peer whose identity the tunnel proved. */
  async handle(peer: PeerId, request: Request): Promise<ResponseFields> {
    return this.gate.run(peer, async () => {
      const tx = this.table.prepareRequest(peer, request, { allowNew: !this.journal.lowSpace });
      try {
        await this.committer.submit(tx);
      } catch (error) {
        this.logger.error(
          { peer, err: error },
          'could not record or apply a lease; the client is told no address is available',
        );
        this.observer.request?.('failed');
        return { errno: Errno.IpUnavailable };
      }
      this.logTransaction(tx);
      this.scheduleExpiry();
      const response = tx.response ?? { errno: Errno.Success };
      this.observer.request?.(response.errno === Errno.Success ? 'success' : 'unavailable');
      return response;
    });
  }

  /**
   * The live state as journal records, for a compaction snapshot: the table's
   * leases, then what the journal holds that the table does not show yet.
   */
  snapshot(): LeaseRecord[] {
    return [...this.table.snapshot(), ...this.committer.entrustedRecords()];
  }

  /** Writes effects the table has already taken on (device refreshes, pool changes). */
  async applyEffects(effects: Parameters<Committer['apply']>[0], why: string): Promise<void> {
    for (const record of effects.records) {
      const delegated = record.delegated ?? false;
      this.observer.lease?.(
        record.type === 'grant' ? 'adopted' : record.reason === 'revoked' ? 'revoked' : 'dropped',
        record.prefix,
        delegated,
      );
      const what = delegated ? 'delegated prefix' : 'lease';
      if (record.type === 'release') {
        this.logger.info(
          { peer: record.peer, ...subject(record), reason: record.reason },
          `${what} ${record.reason === 'revoked' ? 'revoked' : 'dropped'} (${why})`,
        );
      } else {
        this.logger.info(
          { peer: record.peer, ...subject(record) },
          `${what} adopted from allowed-ips (${why})`,
        );
      }
    }
    await this.committer.apply(effects);
    this.scheduleExpiry();
  }

  /** Expires what has run out and arms the timer for the next expiry. */
  expireDue(): Promise<void> {
    const pass = this.expirePass().finally(() => {
      if (this.expiring === pass) this.expiring = undefined;
    });
    this.expiring = pass;
    return pass;
  }

  private async expirePass(): Promise<void> {
    // Peers whose expiry failed last time are tried again (the lease table
    // no longer lists a peer once it handed it out as due).
    const peers = new Set(this.retrying);
    this.retrying.clear();
    this.retryAt = undefined;
    try {
      for (const peer of this.table.duePeers()) peers.add(peer);
      await Promise.all([...peers].map((peer) => this.expirePeer(peer)));
    } finally {
      this.scheduleExpiry();
    }
  }

  /** Expires what of one peer's leases has run out; a failure is logged and retried in a second. */
  private async expirePeer(peer: PeerId): Promise<void> {
    try {
      await this.gate.run(peer, async () => {
        const tx = this.table.prepareExpiry(peer);
        if (!tx) return;
        await this.committer.submit(tx);
        for (const lease of tx.releases) {
          const named = ofLease(lease);
          this.observer.lease?.('expired', lease.prefix, named.delegated);
          this.logger.info(
            { peer, ...subject(named) },
            named.delegated ? 'delegated prefix expired' : 'lease expired',
          );
        }
      });
    } catch (error) {
      this.logger.error({ peer, err: error }, 'could not expire a lease; trying again in a second');
      this.retrying.add(peer);
      this.retryAt ??= this.clock.monotonicMs() + EXPIRY_RETRY_MS;
    }
  }

  /** Arms the expiry timer for the earliest lease end (or in a second if something failed). */
  scheduleExpiry(): void {
    if (this.stopped) return;
    let next = this.table.nextExpiry();
    if (this.retryAt !== undefined) next = Math.min(next ?? this.retryAt, this.retryAt);
    if (next === this.expiryAt) return;
    if (this.expiryTimer !== undefined) this.timers.clearTimeout(this.expiryTimer);
    this.expiryTimer = undefined;
    this.expiryAt = next;
    if (next === undefined) return;
    const delay = Math.max(0, Math.min(next - this.clock.monotonicMs(), 2 ** 31 - 1));
    this.expiryTimer = this.timers.setTimeout(() => {
      this.expiryTimer = undefined;
      this.expiryAt = undefined;
      this.expireDue().catch((error) => this.logger.error({ err: error }, 'expiry failed'));
    }, delay);
  }

  /**
   * Resolves once no expiry pass is running and nothing waits to be written;
   * what a test (or `stop`) waits for after time moved on.
   */
  async settled(): Promise<void> {
    while (this.expiring) await this.expiring;
    await this.committer.settled();
  }

  /** Stops expiring and waits for what is in flight to be written. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.expiryTimer !== undefined) this.timers.clearTimeout(this.expiryTimer);
    this.expiryTimer = undefined;
    await this.settled();
  }

  private logTransaction(tx: Transaction): void {
    const added = tx.changes.flatMap((change) => change.add);
    for (const lease of tx.releases) {
      const named = ofLease(lease);
      this.logger.info(
        { peer: tx.peer, ...subject(named) },
        named.delegated ? 'delegated prefix released' : 'lease released',
      );
      this.observer.lease?.('released', lease.prefix, named.delegated);
    }
    for (const lease of tx.grants) {
      const named = ofLease(lease);
      const fresh = added.some((prefix) => prefix.equals(lease.prefix));
      this.logger.info(
        { peer: tx.peer, ...subject(named), leaseTime: lease.duration },
        named.delegated
          ? fresh
            ? 'prefix delegated'
            : 'delegated prefix renewed'
          : fresh
            ? 'lease granted'
            : 'lease renewed',
      );
      this.observer.lease?.(fresh ? 'granted' : 'renewed', lease.prefix, named.delegated);
    }
    if (tx.response?.errno === Errno.IpUnavailable) {
      this.logger.info(
        { peer: tx.peer, lowSpace: this.journal.lowSpace || undefined },
        'address or prefix unavailable (errno 3)',
      );
    }
  }
}
