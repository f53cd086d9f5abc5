import type { IpPrefix } from '@wg-dynamic/ip';
import {
  type AllowedIpsChange,
  grantRecord,
  type LeaseRecord,
  type PeerId,
  releaseRecord,
} from '../leases/lease.js';
import type { Effects, Transaction } from '../leases/lease-table.js';
import type { DevicePort, JournalPort } from './ports.js';

/** What the committer asks of the lease table. */
export interface TransactionSink {
  commit(tx: Transaction): Effects;
  abort(tx: Transaction): void;
}

/**
 * Applies prepared transactions in batches: every transaction submitted
 * while a batch is in flight goes into the next one, whose records reach
 * the journal in one durable append and whose allowed-ips changes reach the
 * device in one configuration. Only then are the transactions committed and
 * their promises resolved, so an answer never leaves before its lease is on
 * disk and in allowed-ips.
 *
 * The journal is written first. If it refuses the batch, or the device
 * write then fails, the batch's transactions are aborted and compensating
 * records (a release for each grant, a grant for each release) follow, so a
 * restart brings back neither a lease nobody was told about nor loses one
 * that stayed.
 *
 * Records handed to the journal and not yet settled are "entrusted": the
 * journal's compaction snapshot must include them (they may already sit in
 * the segment it is about to delete while the table does not show them yet).
 */
interface Item {
  readonly records: readonly LeaseRecord[];
  readonly changes: readonly AllowedIpsChange[];
  /** Records that cancel this item's grants, should the device refuse them. */
  readonly undo: readonly LeaseRecord[];
  applied(): void;
  failed(error: unknown): void;
}

export class Committer {
  private readonly table: TransactionSink;
  private readonly journal: JournalPort;
  private readonly device: DevicePort;
  private pending: Item[] = [];
  private entrusted: readonly LeaseRecord[] = [];
  private running = false;
  private idle: Promise<void> = Promise.resolve();
  private finishIdle: () => void = () => {};

  constructor(table: TransactionSink, journal: JournalPort, device: DevicePort) {
    this.table = table;
    this.journal = journal;
    this.device = device;
  }

  /** Resolves once the transaction is durable, applied and committed; rejects once aborted. */
  submit(tx: Transaction): Promise<void> {
    if (tx.records.length === 0 && tx.changes.length === 0) {
      // Nothing to write (a release of nothing, nothing available while holding
      // nothing): committed at once, without waiting for a batch.
      const followUp = this.table.commit(tx);
      if (followUp.records.length > 0) void this.apply(followUp).catch(() => {});
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      this.enqueue({
        records: tx.records,
        changes: tx.changes,
        undo: undoRecords(tx),
        applied: () => {
          const followUp = this.table.commit(tx);
          if (followUp.records.length > 0) void this.apply(followUp).catch(() => {});
          resolve();
        },
        failed: (error) => {
          this.table.abort(tx);
          reject(error);
        },
      });
    });
  }

  /**
   * Writes effects the lease table has already taken on (leases revoked or
   * dropped, allowed-ips to put back) with the next batch.
   */
  apply(effects: Effects): Promise<void> {
    if (effects.records.length === 0 && effects.changes.length === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.enqueue({ ...effects, undo: [], applied: resolve, failed: reject });
    });
  }

  /** Records handed to the journal whose batch is not settled yet, for the compaction snapshot. */
  entrustedRecords(): readonly LeaseRecord[] {
    return this.entrusted;
  }

  /** Resolves when no batch is in flight or waiting. */
  settled(): Promise<void> {
    return this.running ? this.idle : Promise.resolve();
  }

  private enqueue(item: Item): void {
    this.pending.push(item);
    if (this.running) return;
    this.running = true;
    this.idle = new Promise((done) => {
      this.finishIdle = done;
    });
    // Let what is prepared in this turn of the event loop join the batch.
    setImmediate(() => void this.drain());
  }

  private async drain(): Promise<void> {
    while (this.pending.length > 0) {
      const batch = this.pending;
      this.pending = [];
      await this.run(batch);
    }
    this.running = false;
    this.finishIdle();
  }

  private async run(batch: Item[]): Promise<void> {
    const records = batch.flatMap((item) => item.records);
    // A batch that grants nothing new may use the journal's reserve for a full disk.
    const useReserve = batch.every((item) =>
      item.changes.every((change) => change.add.length === 0),
    );
    this.entrusted = records;
    try {
      await this.journal.append(records, { useReserve });
      await this.device.apply(mergeChanges(batch.flatMap((item) => item.changes)));
    } catch (error) {
      for (const item of batch) settle(() => item.failed(error));
      this.entrusted = [];
      // Best effort: if this fails too, the restart reconciles with the device.
      await this.journal
        .append(
          batch.flatMap((item) => item.undo),
          { useReserve: true },
        )
        .catch(() => {});
      return;
    }
    // One transaction the table cannot commit fails alone: the others in
    // its batch are answered, and the batches after it still run.
    for (const item of batch) {
      settle(
        () => item.applied(),
        (error) => item.failed(error),
      );
    }
    this.entrusted = [];
  }
}

/**
 * Runs `step`; should it throw, runs `otherwise` with the error. A throw
 * from `otherwise` is dropped: the promise it settles was settled already,
 * or the table's state is what a restart reconciles with the device.
 */
function settle(step: () => void, otherwise: (error: unknown) => void = () => {}): void {
  try {
    step();
  } catch (error) {
    try {
      otherwise(error);
    } catch {
      // See above.
    }
  }
}

/**
 * Records that cancel an aborted transaction: a release for each address or
 * prefix it granted anew, and the lease as it was for each one it released.
 */
function undoRecords(tx: Transaction): LeaseRecord[] {
  const added = tx.changes.flatMap((change) => change.add);
  const released: LeaseRecord[] = tx.releases.map(grantRecord);
  const granted: LeaseRecord[] = tx.grants
    .filter((lease) => added.some((prefix) => prefix.equals(lease.prefix)))
    .map((lease) => releaseRecord(lease, 'released'));
  return [...granted, ...released];
}

/** One change per peer, in the order peers first appear. */
export function mergeChanges(changes: readonly AllowedIpsChange[]): AllowedIpsChange[] {
  const byPeer = new Map<PeerId, { add: IpPrefix[]; remove: IpPrefix[] }>();
  for (const change of changes) {
    const merged = byPeer.get(change.peer) ?? { add: [], remove: [] };
    byPeer.set(change.peer, merged);
    for (const prefix of change.remove) {
      const added = merged.add.findIndex((p) => p.equals(prefix));
      if (added === -1) merged.remove.push(prefix);
      else merged.add.splice(added, 1);
    }
    for (const prefix of change.add) {
      const removed = merged.remove.findIndex((p) => p.equals(prefix));
      if (removed !== -1) merged.remove.splice(removed, 1);
      merged.add.push(prefix);
    }
  }
  return [...byPeer]
    .filter(([, m]) => m.add.length > 0 || m.remove.length > 0)
    .map(([peer, m]) => ({ peer, add: m.add, remove: m.remove }));
}
