import { IpPrefix } from '@wg-dynamic/ip';
import { Errno, NEW_ADDRESS, prefixRequest, RELEASE, type Request } from '@wg-dynamic/protocol';
import { beforeEach, describe, expect, it } from 'vitest';
import { LeaseTable } from '../src/leases/lease-table.js';
import { seededRandom } from '../src/random.js';
import type { LeaseEvent } from '../src/service/lease-service.js';
import { LeaseService } from '../src/service/lease-service.js';
import { FakeClock, FakeDevice, FakeJournal, FakeTimers, silent } from './support/fakes.js';

const p = (text: string) => IpPrefix.from(text);
const A = `${'A'.repeat(43)}=`;
const B = `${'B'.repeat(43)}=`;

const asking = (prefixes: { 4?: string; 6?: string }, extensions = ['prefix']): Request => ({
  ip: { 4: NEW_ADDRESS, 6: RELEASE },
  prefix: {
    4: prefixes[4] ? prefixRequest(p(prefixes[4])) : { kind: 'release' },
    6: prefixes[6] ? prefixRequest(p(prefixes[6])) : { kind: 'release' },
  },
  extensions,
});

describe('LeaseService: delegated prefixes with the fakes', () => {
  let clock: FakeClock;
  let timers: FakeTimers;
  let device: FakeDevice;
  let journal: FakeJournal;
  let service: LeaseService;
  let events: string[];

  beforeEach(async () => {
    clock = new FakeClock();
    timers = new FakeTimers(clock);
    device = new FakeDevice({ [A]: [p('fe80::1/128')], [B]: [p('fe80::2/128')] });
    journal = new FakeJournal();
    events = [];
    const table = new LeaseTable({
      leaseTime: 60,
      clock,
      random: seededRandom(1),
      delegations: [
        { pool: p('10.200.0.0/27'), length: 28 },
        { pool: p('2001:db8:100::/48'), length: 64 },
      ],
    });
    table.setPools([p('192.168.4.0/24')]);
    service = new LeaseService({
      table,
      journal,
      device,
      logger: silent,
      clock,
      timers,
      observer: {
        lease: (event: LeaseEvent, prefix, delegated) =>
          events.push(`${event} ${prefix} ${delegated ? 'prefix' : 'address'}`),
      },
    });
    service.table.setDevice({ ownAddresses: [], peers: await device.peers() });
  });

  it('journals the prefix, writes it into allowed-ips, then answers', async () => {
    const response = await service.handle(A, asking({ 4: '0.0.0.0/28', 6: '::/64' }));
    expect(response.errno).toBe(Errno.Success);
    const v4 = response.prefix?.[4]?.toString();
    const v6 = response.prefix?.[6]?.toString();
    expect(device.of(A)).toEqual(['fe80::1/128', `${response.ip?.[4]}/32`, v4, v6]);
    expect(journal.records.filter((r) => r.delegated).map((r) => `${r.type} ${r.prefix}`)).toEqual([
      `grant ${v4}`,
      `grant ${v6}`,
    ]);
    expect(events).toContain(`granted ${v4} prefix`);
  });

  it('the prefix leaves allowed-ips when the lease runs out', async () => {
    const response = await service.handle(A, asking({ 6: '::/64' }));
    const v6 = response.prefix?.[6]?.toString();
    timers.advance(60);
    await service.settled();
    expect(device.of(A)).toEqual(['fe80::1/128']);
    expect(events).toContain(`expired ${v6} prefix`);
    expect(journal.records.at(-1)).toMatchObject({
      type: 'release',
      reason: 'expired',
      delegated: true,
    });
  });

  it('a device that refuses the write: errno 3, the prefix back in the pool, undone in the journal', async () => {
    device.failNext = new Error('EIO');
    const response = await service.handle(A, asking({ 4: '0.0.0.0/28' }));
    expect(response).toEqual({ errno: Errno.IpUnavailable });
    expect(service.table.delegationUsage()[0]?.allocated).toBe(0);
    const granted = journal.records.find((r) => r.type === 'grant' && r.delegated);
    expect(journal.records.at(-1)).toEqual({
      type: 'release',
      peer: A,
      prefix: granted?.prefix,
      reason: 'released',
      delegated: true,
    });
    // Both /28s are still there for the next clients.
    expect((await service.handle(A, asking({ 4: '0.0.0.0/28' }))).errno).toBe(Errno.Success);
    expect((await service.handle(B, asking({ 4: '0.0.0.0/28' }))).errno).toBe(Errno.Success);
  });

  it('exhaustion: errno 3 with the address still granted', async () => {
    await service.handle(A, asking({ 4: '0.0.0.0/28' }));
    await service.handle(B, asking({ 4: '0.0.0.0/28' }));
    device.allowed.set(`${'C'.repeat(43)}=`, [p('fe80::3/128')]);
    service.table.setDevice({ ownAddresses: [], peers: await device.peers() });
    const response = await service.handle(`${'C'.repeat(43)}=`, asking({ 4: '0.0.0.0/28' }));
    expect(response.errno).toBe(Errno.IpUnavailable);
    expect(response.ip?.[4]).toBeDefined();
    expect(response.prefix).toEqual({});
  });
});
