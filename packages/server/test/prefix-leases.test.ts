import { IpPrefix } from '@wg-dynamic/ip';
import {
  type AddressRequest,
  Errno,
  NEW_ADDRESS,
  type PrefixRequest,
  prefixRequest,
  RELEASE,
  RELEASE_PREFIX,
  type Request,
} from '@wg-dynamic/protocol';
import { beforeEach, describe, expect, it } from 'vitest';
import type { Delegation } from '../src/allocator/prefix-pools.js';
import type { Clock, LeaseRecord, PeerId } from '../src/leases/lease.js';
import { type DeviceView, LeaseTable, type Transaction } from '../src/leases/lease-table.js';
import { seededRandom } from '../src/random.js';

const p = (text: string) => IpPrefix.from(text);

class FakeClock implements Clock {
  mono = 1_000;
  wall = 1_700_000_000;
  monotonicMs = () => this.mono;
  wallSeconds = () => this.wall;
  advance(seconds: number) {
    this.mono += seconds * 1000;
    this.wall += seconds;
  }
}

const A: PeerId = `${'A'.repeat(43)}=`;
const B: PeerId = `${'B'.repeat(43)}=`;
const C: PeerId = `${'C'.repeat(43)}=`;

const NEW4 = (length: number) => prefixRequest(p(`0.0.0.0/${length}`));
const NEW6 = (length: number) => prefixRequest(p(`::/${length}`));
const SPECIFIC = (text: string) => prefixRequest(p(text));

function request(
  prefixes: { 4?: PrefixRequest; 6?: PrefixRequest },
  ip: { 4?: AddressRequest; 6?: AddressRequest } = {},
  extensions = ['prefix'],
): Request {
  return {
    ip: { 4: ip[4] ?? RELEASE, 6: ip[6] ?? RELEASE },
    prefix: { 4: prefixes[4] ?? RELEASE_PREFIX, 6: prefixes[6] ?? RELEASE_PREFIX },
    extensions,
  };
}

function view(peers: Record<PeerId, string[]>, own: string[] = ['fe80::/64']): DeviceView {
  return {
    ownAddresses: own.map(p),
    peers: new Map(Object.entries(peers).map(([k, v]) => [k, v.map(p)])),
  };
}

function ask(table: LeaseTable, peer: PeerId, req: Request): Transaction {
  const tx = table.prepareRequest(peer, req);
  table.commit(tx);
  return tx;
}

const DELEGATIONS: Delegation[] = [
  { pool: p('10.200.0.0/26'), length: 28 },
  { pool: p('2001:db8:100::/62'), length: 64 },
];
const POOLS = ['192.168.4.0/29', '2001:db8::/126'].map(p);
const PEERS = { [A]: ['fe80::a/128'], [B]: ['fe80::b/128'], [C]: ['fe80::c/128'] };

function newTable(clock: Clock, seed = 7, delegations = DELEGATIONS): LeaseTable {
  const table = new LeaseTable({ leaseTime: 3600, clock, random: seededRandom(seed), delegations });
  table.setPools(POOLS);
  table.setDevice(view(PEERS));
  return table;
}

describe('LeaseTable: delegated prefixes', () => {
  let clock: FakeClock;
  let table: LeaseTable;

  beforeEach(() => {
    clock = new FakeClock();
    table = newTable(clock);
  });

  it('grants a prefix of each family with the lease, into allowed-ips, journaled as delegated', () => {
    const tx = ask(table, A, request({ 4: NEW4(28), 6: NEW6(64) }, { 4: NEW_ADDRESS }));
    const response = tx.response;
    expect(response?.errno).toBe(Errno.Success);
    expect(response?.extensions).toEqual(['prefix']);
    const v4 = response?.prefix?.[4] as IpPrefix;
    const v6 = response?.prefix?.[6] as IpPrefix;
    expect(v4.length).toBe(28);
    expect(p('10.200.0.0/26').covers(v4)).toBe(true);
    expect(v6.length).toBe(64);
    expect(p('2001:db8:100::/62').covers(v6)).toBe(true);
    expect(response?.leaseStart).toBe(clock.wall);
    expect(response?.leaseTime).toBe(3600);
    const address = IpPrefix.host(response?.ip?.[4] ?? p('0.0.0.0/32').address);
    expect(tx.changes).toEqual([{ peer: A, add: [address, v4, v6], remove: [] }]);
    expect(tx.records).toEqual([
      { type: 'grant', peer: A, prefix: address, start: clock.wall, duration: 3600 },
      { type: 'grant', peer: A, prefix: v4, start: clock.wall, duration: 3600, delegated: true },
      { type: 'grant', peer: A, prefix: v6, start: clock.wall, duration: 3600, delegated: true },
    ]);
    expect(table.prefixCounts()).toEqual({ 4: 1, 6: 1 });
    expect(table.leaseCounts()).toEqual({ 4: 1, 6: 0 });
    expect(table.delegationUsage().map((u) => u.allocated)).toEqual([1, 1]);
  });

  it('a prefix alone is a lease: it comes with the lease times', () => {
    const tx = ask(table, A, request({ 6: NEW6(64) }));
    expect(tx.response).toMatchObject({ errno: 0, leaseTime: 3600, extensions: ['prefix'] });
    expect(tx.response?.ip).toEqual({});
  });

  it('renews the prefix held, whether asked anew or by name', () => {
    const first = ask(table, A, request({ 6: NEW6(64) })).response?.prefix?.[6] as IpPrefix;
    clock.advance(1800);
    const again = ask(table, A, request({ 6: NEW6(64) }));
    expect(again.response?.prefix?.[6]).toEqual(first);
    expect(again.changes).toEqual([]); // already in allowed-ips
    expect(again.records).toEqual([
      { type: 'grant', peer: A, prefix: first, start: clock.wall, duration: 3600, delegated: true },
    ]);
    clock.advance(1800);
    const byName = ask(table, A, request({ 6: SPECIFIC(first.toString()) }));
    expect(byName.response?.prefix?.[6]).toEqual(first);
    expect(byName.changes).toEqual([]);
    // The renewal moved the end: nothing has run out an hour after the first grant.
    clock.advance(1800);
    expect(table.duePeers()).toEqual([]);
  });

  it('a longer length is cut from a unit of the pool; a shorter one gets the pool length', () => {
    const longer = ask(table, A, request({ 4: NEW4(30) })).response?.prefix?.[4] as IpPrefix;
    expect(longer.length).toBe(30);
    expect(p('10.200.0.0/26').covers(longer)).toBe(true);
    const shorter = ask(table, B, request({ 4: NEW4(24) })).response?.prefix?.[4] as IpPrefix;
    expect(shorter.length).toBe(28);
    expect(shorter.overlaps(longer)).toBe(false);
    // "/28 or longer": the /30 held answers it.
    expect(ask(table, A, request({ 4: NEW4(28) })).response?.prefix?.[4]).toEqual(longer);
    // The whole unit by name: the unit stays A's, the prefix grows.
    const unit = new IpPrefix(longer.address, 28).network();
    const grown = ask(table, A, request({ 4: SPECIFIC(unit.toString()) }));
    expect(grown.response?.prefix?.[4]).toEqual(unit);
    expect(grown.changes).toEqual([{ peer: A, add: [unit], remove: [longer] }]);
    // And back to a /29: cut from the same unit.
    const cut = ask(table, A, request({ 4: NEW4(29) }));
    expect(cut.response?.prefix?.[4]).toEqual(new IpPrefix(unit.address, 29));
    expect(table.delegationUsage()[0]?.allocated).toBe(2);
    expect(table.prefixCounts()).toEqual({ 4: 2, 6: 0 });
  });

  it('grants a specific prefix when free and inside a pool, else errno 3', () => {
    const ok = ask(table, A, request({ 6: SPECIFIC('2001:db8:100:2::/64') }));
    expect(ok.response?.prefix?.[6]?.toString()).toBe('2001:db8:100:2::/64');
    for (const [peer, text] of [
      [B, '2001:db8:100:2::/64'], // A's
      [B, '2001:db8:100:2:8000::/65'], // inside A's unit
      [B, '2001:db8:200::/64'], // outside every pool
      [B, '2001:db8:100::/56'], // shorter than the pool's length
    ] as const) {
      const tx = ask(table, peer, request({ 6: SPECIFIC(text) }));
      expect(tx.response?.errno, text).toBe(Errno.IpUnavailable);
      expect(tx.response?.prefix, text).toBeUndefined();
      expect(tx.changes, text).toEqual([]);
    }
  });

  it('on exhaustion answers errno 3 with what it could grant, as for addresses', () => {
    for (const peer of [A, B, C]) {
      expect(ask(table, peer, request({ 4: NEW4(28) })).response?.errno).toBe(Errno.Success);
    }
    // Three of four /28s are held; the fourth goes to a client that asks for a /29.
    expect(ask(table, A, request({ 4: NEW4(28) })).response?.errno).toBe(Errno.Success);
    const D: PeerId = `${'D'.repeat(43)}=`;
    table.setDevice(view({ ...PEERS, [D]: ['fe80::d/128'] }));
    expect(ask(table, D, request({ 4: NEW4(29) })).response?.prefix?.[4]?.length).toBe(29);
    const E: PeerId = `${'E'.repeat(43)}=`;
    table.setDevice(view({ ...PEERS, [D]: ['fe80::d/128'], [E]: ['fe80::e/128'] }));
    const tx = ask(table, E, request({ 4: NEW4(28), 6: NEW6(64) }, { 4: NEW_ADDRESS }));
    expect(tx.response?.errno).toBe(Errno.IpUnavailable);
    expect(tx.response?.ip?.[4]).toBeDefined();
    expect(tx.response?.prefix?.[4]).toBeUndefined();
    expect(tx.response?.prefix?.[6]?.length).toBe(64);
    expect(tx.response?.extensions).toEqual(['prefix']);
  });

  it('releases a prefix the request no longer names; without ext=prefix leaves it alone', () => {
    const held = ask(table, A, request({ 6: NEW6(64) }, { 4: NEW_ADDRESS })).response?.prefix?.[6];
    // A v1 request (no ext=prefix): the prefix is neither renewed nor released, nor mentioned.
    const v1 = ask(table, A, request({}, { 4: NEW_ADDRESS }, []));
    expect(v1.response?.prefix).toBeUndefined();
    expect(v1.response?.extensions).toBeUndefined();
    expect(v1.records.every((r) => !r.delegated)).toBe(true);
    expect(table.leasesOf(A).map((l) => l.prefix)).toContainEqual(held);
    // With ext=prefix and no prefix= line: released.
    const release = ask(table, A, request({}, { 4: NEW_ADDRESS }));
    expect(release.response?.prefix).toEqual({});
    expect(release.response?.extensions).toEqual(['prefix']);
    expect(release.records[0]).toEqual({
      type: 'release',
      peer: A,
      prefix: held,
      reason: 'released',
      delegated: true,
    });
    expect(release.changes).toEqual([{ peer: A, add: [], remove: [held] }]);
    expect(table.prefixCounts()).toEqual({ 4: 0, 6: 0 });
  });

  it('a server without --delegate does not apply the extension', () => {
    const plain = newTable(clock, 7, []);
    const tx = ask(plain, A, request({ 6: NEW6(64) }, { 4: NEW_ADDRESS }, ['route', 'prefix']));
    expect(tx.response?.errno).toBe(Errno.Success);
    expect(tx.response?.extensions).toEqual(['route']);
    expect(tx.response?.prefix).toBeUndefined();
  });

  it('expires a prefix that is not renewed: it leaves allowed-ips and returns to the pool', () => {
    const held = ask(table, A, request({ 4: NEW4(28) })).response?.prefix?.[4] as IpPrefix;
    clock.advance(3600);
    expect(table.duePeers()).toEqual([A]);
    const tx = table.prepareExpiry(A) as Transaction;
    expect(tx.records).toEqual([
      { type: 'release', peer: A, prefix: held, reason: 'expired', delegated: true },
    ]);
    expect(tx.changes).toEqual([{ peer: A, add: [], remove: [held] }]);
    table.commit(tx);
    expect(table.delegationUsage()[0]?.allocated).toBe(0);
    expect(ask(table, B, request({ 4: SPECIFIC(held.toString()) })).response?.errno).toBe(0);
  });

  it('an aborted grant returns the prefix to the pool', () => {
    const tx = table.prepareRequest(A, request({ 4: NEW4(28) }));
    expect(table.delegationUsage()[0]?.allocated).toBe(1);
    table.abort(tx);
    expect(table.delegationUsage()[0]?.allocated).toBe(0);
    expect(table.leasesOf(A)).toEqual([]);
  });

  it('never overlaps addresses, other prefixes, own addresses or operator allowed-ips', () => {
    // The address pools are the routes: one covers the IPv4 delegation pool.
    const clock2 = new FakeClock();
    const wide = new LeaseTable({
      leaseTime: 3600,
      clock: clock2,
      random: seededRandom(11),
      delegations: [{ pool: p('10.200.0.0/24'), length: 28 }],
    });
    wide.setPools([p('10.200.0.0/23')]);
    const peers: Record<PeerId, string[]> = {};
    const names = Array.from({ length: 40 }, (_, i) => `${String(i).padStart(43, 'P')}=`);
    names.forEach((name, i) => {
      peers[name] = [`fe80::${i + 1}/128`];
    });
    peers[names[0] as PeerId]?.push('10.200.0.32/27'); // an operator's entry in the delegation pool
    wide.setDevice(view(peers, ['fe80::/64', '10.200.0.200/24'])); // our own address in it too
    const held: IpPrefix[] = [p('10.200.0.32/27'), p('10.200.0.200/32')];
    for (const name of names) {
      const tx = ask(wide, name, request({ 4: NEW4(28) }, { 4: NEW_ADDRESS }));
      for (const prefix of tx.changes.flatMap((c) => c.add)) held.push(prefix);
    }
    const prefixes = held.filter((x) => x.length === 28);
    const addresses = held.filter((x) => x.length === 32).slice(1);
    // 16 /28s, less the two the operator's /27 covers and the one with our address.
    expect(prefixes).toHaveLength(13);
    expect(addresses).toHaveLength(40);
    for (const address of addresses) {
      expect(p('10.201.0.0/24').contains(address.address)).toBe(false);
      expect(p('10.200.1.0/24').contains(address.address)).toBe(true);
    }
    for (let i = 0; i < held.length; i++) {
      for (let j = i + 1; j < held.length; j++) {
        expect(held[i]?.overlaps(held[j] as IpPrefix), `${held[i]} ${held[j]}`).toBe(false);
      }
    }
    expect(wide.usage()).toEqual([
      { family: 4, pool: p('10.200.0.0/23'), capacity: 256n - 1n, allocated: 40 },
    ]);
  });

  it('revokes a prefix an operator now holds in allowed-ips', () => {
    const held = ask(table, A, request({ 4: NEW4(28) })).response?.prefix?.[4] as IpPrefix;
    const effects = table.setDevice(view({ ...PEERS, [B]: ['fe80::b/128', held.toString()] }));
    expect(effects.records).toEqual([
      { type: 'release', peer: A, prefix: held, reason: 'revoked', delegated: true },
    ]);
    expect(effects.changes).toContainEqual({ peer: A, add: [], remove: [held] });
  });

  describe('restart', () => {
    function grantsOf(tx: Transaction): LeaseRecord[] {
      return [...tx.records];
    }

    it('replays the journal: same prefixes, put back into allowed-ips, expired ones dropped', () => {
      const a = ask(table, A, request({ 4: NEW4(28), 6: NEW6(64) }, { 4: NEW_ADDRESS }));
      clock.advance(1000);
      const b = ask(table, B, request({ 6: NEW6(64) }));
      const records = [...grantsOf(a), ...grantsOf(b)];
      const aPrefix4 = a.response?.prefix?.[4] as IpPrefix;
      const aPrefix6 = a.response?.prefix?.[6] as IpPrefix;
      const bPrefix6 = b.response?.prefix?.[6] as IpPrefix;
      const aAddress = IpPrefix.host(a.response?.ip?.[4] ?? p('0.0.0.0/32').address);

      // Restart 2,700 s later: A's leases ran out (granted at 0, an hour), B's did not.
      clock.advance(2700);
      const restarted = new LeaseTable({
        leaseTime: 3600,
        clock,
        random: seededRandom(99),
        delegations: DELEGATIONS,
      });
      restarted.setPools(POOLS);
      const device = view({
        [A]: ['fe80::a/128', aAddress.toString(), aPrefix4.toString(), aPrefix6.toString()],
        [B]: ['fe80::b/128'], // B's prefix is missing from allowed-ips: written again
        [C]: ['fe80::c/128'],
      });
      const restored = restarted.restore(records, device);
      expect(restored.report).toMatchObject({ restored: 1, expired: 3, reapplied: 1 });
      expect(restarted.leasesOf(B).map((l) => l.prefix)).toEqual([bPrefix6]);
      expect(restored.changes).toContainEqual({ peer: B, add: [bPrefix6], remove: [] });
      expect(restored.changes).toContainEqual({
        peer: A,
        add: [],
        remove: [aAddress, aPrefix4, aPrefix6],
      });
      expect(restored.records).toContainEqual({
        type: 'release',
        peer: A,
        prefix: aPrefix6,
        reason: 'expired',
        delegated: true,
      });
      // B renews the same prefix after the restart; nobody else can take it.
      expect(ask(restarted, C, request({ 6: SPECIFIC(bPrefix6.toString()) })).response?.errno).toBe(
        Errno.IpUnavailable,
      );
      expect(ask(restarted, B, request({ 6: NEW6(64) })).response?.prefix?.[6]).toEqual(bPrefix6);
    });

    it('clears a released prefix a crash left in allowed-ips, leaves unknown ones alone', () => {
      const a = ask(table, A, request({ 6: NEW6(64) }));
      const held = a.response?.prefix?.[6] as IpPrefix;
      const release = ask(table, A, request({}));
      const records = [...a.records, ...release.records];
      const restarted2 = new LeaseTable({
        leaseTime: 3600,
        clock,
        random: seededRandom(3),
        delegations: DELEGATIONS,
      });
      restarted2.setPools(POOLS);
      // The journal says released; the device still lists it (the crash came before the device write).
      // B's /64 in the pool was never journaled: an operator's entry.
      const operator = held.equals(p('2001:db8:100:3::/64'))
        ? p('2001:db8:100:2::/64')
        : p('2001:db8:100:3::/64');
      const restored = restarted2.restore(
        records,
        view({
          [A]: ['fe80::a/128', held.toString()],
          [B]: ['fe80::b/128', operator.toString()],
          [C]: ['fe80::c/128'],
        }),
      );
      expect(restored.report).toMatchObject({ cleared: 1, adopted: 0, restored: 0 });
      expect(restored.changes).toEqual([{ peer: A, add: [], remove: [held] }]);
      expect(restarted2.leasesOf(B)).toEqual([]);
      // The operator's prefix is never delegated.
      expect(
        ask(restarted2, C, request({ 6: SPECIFIC(operator.toString()) })).response?.errno,
      ).toBe(Errno.IpUnavailable);
    });
  });
});
