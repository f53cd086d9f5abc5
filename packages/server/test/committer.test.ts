import { describe, expect, it } from 'vitest';
import type { LeaseRecord } from '../src/leases/lease.js';
import type { Effects, Transaction } from '../src/leases/lease-table.js';
import { Committer, type TransactionSink } from '../src/service/committer.js';
import { FakeDevice, FakeJournal } from './support/fakes.js';

/** A transaction with one opaque record and nothing for the device: all the committer looks at. */
function transaction(name: string): Transaction {
  const record = { type: 'grant', peer: name } as unknown as LeaseRecord;
  return { records: [record], changes: [], grants: [], releases: [] } as unknown as Transaction;
}

/** A lease table that refuses to commit the transactions named in `broken`. */
class Sink implements TransactionSink {
  readonly committed: Transaction[] = [];
  readonly aborted: Transaction[] = [];
  readonly broken = new Set<Transaction>();
  commit(tx: Transaction): Effects {
    if (this.broken.has(tx)) throw new Error('inconsistent table');
    this.committed.push(tx);
    return { records: [], changes: [] };
  }
  abort(tx: Transaction): void {
    this.aborted.push(tx);
  }
}

describe('Committer', () => {
  it('writes a batch once and answers each of its transactions', async () => {
    const sink = new Sink();
    const journal = new FakeJournal();
    const committer = new Committer(sink, journal, new FakeDevice({}));
    const [a, b] = [transaction('a'), transaction('b')];
    await Promise.all([committer.submit(a), committer.submit(b)]);
    expect(journal.appends).toBe(1);
    expect(sink.committed).toEqual([a, b]);
  });

  it('fails only the transaction the table cannot commit, and goes on with later batches', async () => {
    const sink = new Sink();
    const committer = new Committer(sink, new FakeJournal(), new FakeDevice({}));
    const [a, bad, c] = [transaction('a'), transaction('bad'), transaction('c')];
    sink.broken.add(bad);
    const results = await Promise.allSettled([
      committer.submit(a),
      committer.submit(bad),
      committer.submit(c),
    ]);
    expect(results.map((result) => result.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(sink.aborted).toEqual([bad]);
    await committer.settled();
    // The next batch is not stuck behind the failure.
    const later = transaction('later');
    await committer.submit(later);
    expect(sink.committed).toEqual([a, c, later]);
  });

  it('rejects every transaction of a batch the journal refuses, and runs the next batch', async () => {
    const sink = new Sink();
    const journal = new FakeJournal();
    const committer = new Committer(sink, journal, new FakeDevice({}));
    journal.failNext = new Error('ENOSPC');
    const failed = await Promise.allSettled([
      committer.submit(transaction('a')),
      committer.submit(transaction('b')),
    ]);
    expect(failed.map((result) => result.status)).toEqual(['rejected', 'rejected']);
    expect(sink.aborted).toHaveLength(2);
    await committer.submit(transaction('c'));
    expect(sink.committed).toHaveLength(1);
  });
});
