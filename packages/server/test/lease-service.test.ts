import { type IpAddress, IpPrefix } from '@wg-dynamic/ip';
import {
  Errno,
  NEW_ADDRESS,
  RELEASE,
  RELEASE_PREFIX,
  type Request,
  specificAddress,
} from '@wg-dynamic/protocol';
import pino from 'pino';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { LeaseTable } from '../src/leases/lease-table.js';
import { seededRandom } from '../src/random.js';
import { mergeChanges } from '../src/service/committer.js';
import { LeaseService } from '../src/service/lease-service.js';
import { FakeClock, FakeDevice, FakeJournal, FakeTimers, silent } from './support/fakes.js';

const p = (text: string) => IpPrefix.from(text);
const peers = Array.from({ length: 8 }, (_, i) => `${String.fromCharCode(0x41 + i).repeat(43)}=`);
const [A = '', B = ''] = peers;
const noPrefix = { 4: RELEASE_PREFIX, 6: RELEASE_PREFIX };
const both: Request = { ip: { 4: NEW_ADDRESS, 6: NEW_ADDRESS }, prefix: noPrefix, extensions: [] };
const none: Request = { ip: { 4: RELEASE, 6: RELEASE }, prefix: noPrefix, extensions: [] };

describe('LeaseService', () => {
  let clock: FakeClock;
  let timers: FakeTimers;
  let device: FakeDevice;
  let journal: FakeJournal;
  let service: LeaseService;

  beforeEach(() => {
    clock = new FakeClock();
    timers = new FakeTimers(clock);
    device = new FakeDevice(
      Object.fromEntries(
        peers.map((peer, i) => [peer, [p(`fe80::${i + 1}/128`), p('10.99.0.0/24')]]),
      ),
    );
    journal = new FakeJournal();
    const table = new LeaseTable({ leaseTime: 60, clock, random: seededRandom(1) });
    table.setPools([p('192.168.4.0/24'), p('2001:db8::/64')]);
    service = new LeaseService({ table, journal, device, logger: silent, clock, timers });
  });

  async function ready() {
    service.table.setDevice({ ownAddresses: [], peers: await device.peers() });
  }

  it('writes the journal and allowed-ips before answering, keeping operator entries', async () => {
    await ready();
    const response = await service.handle(A, both);
    expect(response.errno).toBe(Errno.Success);
    const v4 = `${response.ip?.[4]}/32`;
    const v6 = `${response.ip?.[6]}/128`;
    expect(device.of(A)).toEqual(['fe80::1/128', '10.99.0.0/24', v4, v6]);
    expect(journal.records.map((r) => `${r.type} ${r.prefix}`)).toEqual([
      `grant ${v4}`,
      `grant ${v6}`,
    ]);
  });

  it('batches requests that arrive together into one journal append and one device write', async () => {
    await ready();
    const answers = await Promise.all(peers.map((peer) => service.handle(peer, both)));
    expect(answers.every((a) => a.errno === Errno.Success)).toBe(true);
    expect(journal.appends).toBe(1);
    expect(device.applies).toHaveLength(1);
    expect(device.applies[0]).toHaveLength(peers.length);
  });

  it('answers errno 3 and keeps nothing when the journal fails', async () => {
    await ready();
    journal.failNext = Object.assign(new Error('no space'), { code: 'no-space' });
    expect(await service.handle(A, both)).toEqual({ errno: Errno.IpUnavailable });
    expect(device.applies).toEqual([]);
    expect([...service.table.leases()]).toEqual([]);
  });

  it('records the grants as released again when the device refuses them', async () => {
    await ready();
    device.failNext = new Error('EPERM');
    expect(await service.handle(A, both)).toEqual({ errno: Errno.IpUnavailable });
    expect(journal.records.map((r) => r.type)).toEqual(['grant', 'grant', 'release', 'release']);
    expect([...service.table.leases()]).toEqual([]);
    expect((await service.handle(A, both)).errno).toBe(Errno.Success);
  });

  it('records a refused release as granted again, and the lease stays', async () => {
    await ready();
    await service.handle(A, both);
    device.failNext = new Error('EIO');
    expect(await service.handle(A, none)).toEqual({ errno: Errno.IpUnavailable });
    expect(journal.records.slice(2).map((r) => r.type)).toEqual([
      'release',
      'release',
      'grant',
      'grant',
    ]);
    expect(service.table.leasesOf(A)).toHaveLength(2);
  });

  it('puts the records of a batch in flight into the compaction snapshot', async () => {
    await ready();
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const apply = device.apply.bind(device);
    device.apply = async (changes) => {
      await gate;
      return apply(changes);
    };
    const answer = service.handle(A, both);
    await new Promise((r) => setTimeout(r, 20));
    // The grants are on disk, the table does not hold them yet: the snapshot must.
    expect(service.table.leaseCount).toBe(0);
    expect(service.snapshot().map((r) => r.type)).toEqual(['grant', 'grant']);
    release();
    await answer;
    expect(service.snapshot().map((r) => r.type)).toEqual(['grant', 'grant']);
  });

  it('refuses new addresses while the journal is low on space, but renews', async () => {
    await ready();
    const first = await service.handle(A, both);
    journal.lowSpace = true;
    const held = first.ip?.[4] as IpAddress;
    const renewal = await service.handle(A, {
      ip: { 4: specificAddress(held), 6: RELEASE },
      prefix: noPrefix,
      extensions: [],
    });
    expect(renewal.errno).toBe(Errno.Success);
    expect((await service.handle(B, both)).errno).toBe(Errno.IpUnavailable);
  });

  it('expires leases on its timer: out of allowed-ips and back to the pool', async () => {
    await ready();
    await service.handle(A, both);
    expect(device.of(A)).toHaveLength(4);
    timers.advance(59);
    await service.settled();
    expect(device.of(A)).toHaveLength(4);
    timers.advance(1);
    await service.settled();
    expect(device.of(A)).toEqual(['fe80::1/128', '10.99.0.0/24']);
    expect(
      journal.records
        .filter((r) => r.type === 'release')
        .map((r) => r.type === 'release' && r.reason),
    ).toEqual(['expired', 'expired']);
    expect(timers.pending.size).toBe(0);
  });

  it('keeps expiring when one peer fails: logs it, retries in a second, the others on time', async () => {
    const lines: { level: number; msg: string; peer?: string }[] = [];
    const logger = pino(
      { level: 'info' },
      { write: (line: string) => lines.push(JSON.parse(line)) },
    );
    service = new LeaseService({ table: service.table, journal, device, logger, clock, timers });
    await ready();
    await service.handle(A, both);
    timers.advance(10);
    await service.handle(B, both);
    // A left the interface just as its lease ran out: its expiry step throws.
    vi.spyOn(service.table, 'prepareExpiry').mockImplementationOnce(() => {
      throw new Error(`peer ${A} is not on the interface`);
    });
    timers.advance(50);
    await service.settled();
    expect(lines.filter((l) => l.level === 50).map((l) => [l.peer, l.msg])).toEqual([
      [A, 'could not expire a lease; trying again in a second'],
    ]);
    expect(device.of(A)).toHaveLength(4);
    expect([...timers.pending.values()].map((t) => t.at)).toEqual([clock.mono + 1000]);

    timers.advance(1);
    await service.settled();
    expect(device.of(A)).toEqual(['fe80::1/128', '10.99.0.0/24']);
    expect(device.of(B)).toHaveLength(4);
    timers.advance(9);
    await service.settled();
    expect(device.of(B)).toEqual(['fe80::2/128', '10.99.0.0/24']);
    expect(timers.pending.size).toBe(0);
  });

  it("serializes one peer's requests from concurrent connections", async () => {
    await ready();
    const [first, second, third] = await Promise.all([
      service.handle(A, both),
      service.handle(A, none),
      service.handle(A, both),
    ]);
    expect(first?.errno).toBe(0);
    expect(second).toEqual({ errno: 0, ip: {} });
    expect(third?.errno).toBe(0);
    expect(device.of(A)).toHaveLength(4);
  });
});

describe('mergeChanges', () => {
  it('merges per peer and cancels an add against a remove', () => {
    const merged = mergeChanges([
      { peer: A, add: [p('10.0.0.1/32')], remove: [] },
      { peer: B, add: [], remove: [p('10.0.0.2/32')] },
      { peer: A, add: [p('10.0.0.3/32')], remove: [p('10.0.0.1/32')] },
    ]);
    expect(merged).toEqual([
      { peer: A, add: [p('10.0.0.3/32')], remove: [] },
      { peer: B, add: [], remove: [p('10.0.0.2/32')] },
    ]);
  });
});
