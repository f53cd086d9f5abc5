import { execFile } from 'node:child_process';
import { mkdtemp, open, rm, rmdir, statfs, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { IpAddress, IpPrefix } from '@wg-dynamic/ip';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Journal,
  type LeaseRecord,
  leaseRecordCodec,
  openJournal,
  type SpaceEvent,
} from '../src/journal/index.js';

// The full-disk fault test of issue 7 on a real file system: a 256 KiB tmpfs
// mounted in the lab sandbox's own mount namespace, filled for real.

const run = promisify(execFile);
let mountPoint = '';

beforeAll(async () => {
  mountPoint = await mkdtemp(join(tmpdir(), 'wgd-journal-lab-'));
  await run('mount', ['-t', 'tmpfs', '-o', 'size=256k,mode=0700', 'wgd-journal-lab', mountPoint]);
});

afterAll(async () => {
  if (!mountPoint) return;
  await run('umount', [mountPoint]);
  await rmdir(mountPoint);
});

function peer(i: number): string {
  const bytes = Buffer.alloc(32, 0x33);
  bytes.writeUInt32BE(i, 0);
  return bytes.toString('base64');
}

const grant = (i: number, start: number): LeaseRecord => ({
  type: 'grant',
  peer: peer(i),
  prefix: IpPrefix.host(IpAddress.fromBigInt(4, 0xc0a8_0000n + BigInt(i))),
  start,
  duration: 3600,
});

/** Peer and address → the lease's start: what a replay must give back. */
function fold(records: Iterable<LeaseRecord>): Map<string, number> {
  const leases = new Map<string, number>();
  for (const record of records) {
    const key = `${record.peer} ${record.prefix}`;
    if (record.type === 'grant') leases.set(key, record.start);
    else leases.delete(key);
  }
  return leases;
}

/** Fills the file system with a file, 4 KiB at a time, until write(2) says ENOSPC. */
async function fill(path: string): Promise<void> {
  const file = await open(path, 'w');
  const block = Buffer.alloc(4096, 0xee);
  try {
    for (let position = 0; ; position += block.length) {
      const { bytesWritten } = await file.write(block, 0, block.length, position);
      if (bytesWritten < block.length) continue; // the next one fails
    }
  } catch (error) {
    expect(error).toMatchObject({ code: 'ENOSPC' });
  } finally {
    await file.close();
  }
}

describe('the lease journal on a tmpfs that fills up', () => {
  it('refuses new grants, keeps renewals and releases going, loses nothing, and resumes', async () => {
    const directory = join(mountPoint, 'state');
    const filler = join(mountPoint, 'filler');
    const events: SpaceEvent[] = [];
    const options = {
      directory,
      codec: leaseRecordCodec,
      preallocationBytes: 32 * 1024,
      reserveBytes: 8 * 1024,
      spaceRetryMs: 0, // retried on appends and checkSpace() here
      onSpaceChange: (event: SpaceEvent) => events.push(event),
    };
    const acknowledged: LeaseRecord[] = [];
    const append = async (
      journal: Journal<LeaseRecord>,
      record: LeaseRecord,
      useReserve = false,
    ) => {
      await journal.append([record], { useReserve });
      acknowledged.push(record);
    };

    let { journal } = await openJournal(options);
    for (let i = 0; i < 200; i++) await append(journal, grant(i, 1_700_000_000));

    await fill(filler);
    expect((await statfs(mountPoint)).bavail).toBe(0);

    // New grants go on in the space already claimed, down to the reserve, then are refused.
    let refusal: unknown;
    for (let i = 200; i < 5000 && refusal === undefined; i++) {
      await append(journal, grant(i, 1_700_000_000)).catch((error: unknown) => {
        refusal = error;
      });
    }
    expect(refusal).toMatchObject({ name: 'JournalError', code: 'no-space' });
    expect(journal.lowSpace).toBe(true);
    expect(events).toEqual([
      { lowSpace: true, cause: expect.objectContaining({ code: 'no-space' }) },
    ]);

    // Renewals and releases need no new space: they go into the reserve.
    for (let i = 0; i < 100; i++) await append(journal, grant(i, 1_700_003_600), true);
    for (let i = 100; i < 110; i++) {
      await append(
        journal,
        { type: 'release', peer: peer(i), prefix: grant(i, 0).prefix, reason: 'released' },
        true,
      );
    }
    await expect(journal.append([grant(9000, 1_700_000_000)])).rejects.toMatchObject({
      code: 'no-space',
    });
    expect(await journal.checkSpace()).toBe(false);

    // A restart on the full disk: the lock still works, and every acknowledged record is back.
    await journal.close();
    let opened = await openJournal(options);
    journal = opened.journal;
    expect(opened.report).toMatchObject({ damaged: [], removed: [] });
    expect(opened.report.torn).toBeUndefined();
    expect(fold(opened.records)).toEqual(fold(acknowledged));
    await expect(journal.append([grant(9001, 1_700_000_000)])).rejects.toMatchObject({
      code: 'no-space',
    });
    await append(journal, grant(0, 1_700_007_200), true);

    // Space comes back: grants resume, and the journal says so.
    await unlink(filler);
    await append(journal, grant(9002, 1_700_000_000));
    expect(journal.lowSpace).toBe(false);
    expect(events.at(-1)).toEqual({ lowSpace: false });
    for (let i = 9003; i < 9100; i++) await append(journal, grant(i, 1_700_000_000));
    await journal.close();

    opened = await openJournal(options);
    expect(fold(opened.records)).toEqual(fold(acknowledged));
    expect(opened.records.count).toBe(acknowledged.length);
    await opened.journal.close();
    await rm(directory, { recursive: true });
  });
});
