import { IpAddress, IpPrefix } from '@wg-dynamic/ip';
import {
  type AddressRequest,
  Errno,
  NEW_ADDRESS,
  RELEASE,
  RELEASE_PREFIX,
  type Request,
  specificAddress,
} from '@wg-dynamic/protocol';
import { beforeEach, describe, expect, it } from 'vitest';
import type { Clock, LeaseRecord, PeerId } from '../src/leases/lease.js';
import { type DeviceView, LeaseTable, type Transaction } from '../src/leases/lease-table.js';
import { seededRandom } from '../src/random.js';

const p = (text: string) => IpPrefix.from(text);
const ip = (text: string) => IpAddress.parse(text) as IpAddress;

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
const C: PeerId = `${'C/'.repeat(21)}C=`;

function request(v4: AddressRequest, v6: AddressRequest, extensions: string[] = []): Request {
  return { ip: { 4: v4, 6: v6 }, prefix: { 4: RELEASE_PREFIX, 6: RELEASE_PREFIX }, extensions };
}

function view(peers: Record<PeerId, string[]>, own: string[] = ['fe80::/64']): DeviceView {
  return {
    ownAddresses: own.map(p),
    peers: new Map(Object.entries(peers).map(([k, v]) => [k, v.map(p)])),
  };
}

/** Prepares and commits, as the server does when the journal and the device accept the effects. */
function ask(table: LeaseTable, peer: PeerId, req: Request): Transaction {
  const tx = table.prepareRequest(peer, req);
  table.commit(tx);
  return tx;
}

const addresses = (tx: Transaction) => ({
  4: tx.response?.ip?.[4]?.toString(),
  6: tx.response?.ip?.[6]?.toString(),
});

describe('LeaseTable', () => {
  let clock: FakeClock;
  let table: LeaseTable;
  const pools = ['192.168.4.0/29', '2001:db8::/126'];

  beforeEach(() => {
    clock = new FakeClock();
    table = new LeaseTable({ leaseTime: 3600, clock, random: seededRandom(7) });
    table.setPools(pools.map(p));
    table.setDevice(
      view({ [A]: ['fe80::a/128'], [B]: ['fe80::b/128'], [C]: ['fe80::c/128', '10.9.9.0/24'] }),
    );
  });

  describe('the request table', () => {
    it('a new address of each family', () => {
      const tx = ask(table, A, request(NEW_ADDRESS, NEW_ADDRESS));
      expect(tx.response?.errno).toBe(Errno.Success);
      expect(p('192.168.4.0/29').contains(tx.response?.ip?.[4] as IpAddress)).toBe(true);
      expect(p('2001:db8::/126').contains(tx.response?.ip?.[6] as IpAddress)).toBe(true);
      expect(tx.response?.leaseStart).toBe(clock.wall);
      expect(tx.response?.leaseTime).toBe(3600);
      expect(tx.changes).toEqual([
        { peer: A, add: [tx.grants[0]?.prefix, tx.grants[1]?.prefix], remove: [] },
      ]);
      expect(tx.records.map((r) => r.type)).toEqual(['grant', 'grant']);
    });

    it('no ip= of a family releases that family', () => {
      const first = ask(table, A, request(NEW_ADDRESS, NEW_ADDRESS));
      const tx = ask(
        table,
        A,
        request(specificAddress(first.response?.ip?.[4] as IpAddress), RELEASE),
      );
      expect(addresses(tx)).toEqual({ 4: addresses(first)[4], 6: undefined });
      expect(tx.changes).toEqual([{ peer: A, add: [], remove: [first.grants[1]?.prefix] }]);
      expect(tx.records.map((r) => r.type)).toEqual(['release', 'grant']);
      expect(table.leasesOf(A).map((l) => l.slot)).toEqual(['ipv4']);
    });

    it('a release of everything answers errno 0 and no lease times', () => {
      ask(table, A, request(NEW_ADDRESS, NEW_ADDRESS));
      expect(table.leaseCount).toBe(2);
      const tx = ask(table, A, request(RELEASE, RELEASE));
      expect(tx.response).toEqual({ errno: 0, ip: {} });
      expect(table.leasesOf(A)).toEqual([]);
      expect(table.leaseCount).toBe(0);
      expect(tx.changes[0]?.remove).toHaveLength(2);
    });

    it('a renewal keeps the address and moves the lease start', () => {
      const first = ask(table, A, request(NEW_ADDRESS, NEW_ADDRESS));
      clock.advance(1800);
      const held = first.response?.ip as { 4: IpAddress; 6: IpAddress };
      const tx = ask(table, A, request(specificAddress(held[4]), specificAddress(held[6])));
      expect(addresses(tx)).toEqual(addresses(first));
      expect(tx.response?.leaseStart).toBe(clock.wall);
      expect(tx.changes).toEqual([]);
      expect(tx.records.map((r) => r.type)).toEqual(['grant', 'grant']);
    });

    it('asking for a new address while holding one keeps the one held', () => {
      const first = ask(table, A, request(NEW_ADDRESS, NEW_ADDRESS));
      const tx = ask(table, A, request(NEW_ADDRESS, NEW_ADDRESS));
      expect(addresses(tx)).toEqual(addresses(first));
      expect(tx.changes).toEqual([]);
    });

    it('a specific free address inside a pool is taken, and the old one returns to the pool', () => {
      const first = ask(table, A, request(NEW_ADDRESS, RELEASE));
      const old = first.response?.ip?.[4] as IpAddress;
      const wanted = old.toString() === '192.168.4.3' ? '192.168.4.4' : '192.168.4.3';
      const tx = ask(table, A, request(specificAddress(ip(wanted)), RELEASE));
      expect(addresses(tx)[4]).toBe(wanted);
      expect(tx.changes).toEqual([{ peer: A, add: [p(`${wanted}/32`)], remove: [p(`${old}/32`)] }]);
      // The old address is free again: B can take it.
      expect(addresses(ask(table, B, request(specificAddress(old), RELEASE)))[4]).toBe(
        old.toString(),
      );
    });

    it('a taken or out-of-pool address gets errno 3, the rest is granted, the old one is released', () => {
      const b = ask(table, B, request(NEW_ADDRESS, RELEASE));
      const first = ask(table, A, request(NEW_ADDRESS, NEW_ADDRESS));
      const tx = ask(
        table,
        A,
        request(
          specificAddress(b.response?.ip?.[4] as IpAddress),
          specificAddress(ip('2001:db8::9')),
        ),
      );
      expect(tx.response?.errno).toBe(Errno.IpUnavailable);
      expect(tx.response?.ip).toEqual({});
      expect(tx.changes).toEqual([
        { peer: A, add: [], remove: [first.grants[0]?.prefix, first.grants[1]?.prefix] },
      ]);
      const mixed = ask(table, A, request(specificAddress(ip('10.0.0.1')), NEW_ADDRESS));
      expect(mixed.response?.errno).toBe(Errno.IpUnavailable);
      expect(mixed.response?.ip?.[6]).toBeDefined();
      expect(mixed.response?.leaseTime).toBe(3600);
    });

    it('never hands out the network, broadcast, own or operator addresses', () => {
      const peers = Array.from(
        { length: 5 },
        (_, i) => `${String.fromCharCode(0x61 + i).repeat(43)}=`,
      );
      const device: Record<PeerId, string[]> = { [B]: ['fe80::b/128', '192.168.4.2/32'] };
      for (const peer of peers) device[peer] = [];
      table.setDevice(view(device, ['fe80::/64', '192.168.4.1/29']));
      const answers = peers.map((peer) => ask(table, peer, request(NEW_ADDRESS, RELEASE)).response);
      // A /29 has 8 addresses: minus network, broadcast, .1 (ours) and .2 (B's) leaves 4.
      expect(
        answers
          .map((r) => r?.ip?.[4]?.toString())
          .slice(0, 4)
          .sort(),
      ).toEqual(['192.168.4.3', '192.168.4.4', '192.168.4.5', '192.168.4.6']);
      expect(answers[4]?.errno).toBe(Errno.IpUnavailable);
    });

    it('an exhausted pool answers errno 3 until an address is free again', () => {
      // A /126 has 3 usable IPv6 addresses.
      const peers = Array.from(
        { length: 4 },
        (_, i) => `${String.fromCharCode(0x61 + i).repeat(43)}=`,
      );
      table.setDevice(view(Object.fromEntries(peers.map((k) => [k, []]))));
      const answers = peers.map(
        (peer) => ask(table, peer, request(RELEASE, NEW_ADDRESS)).response?.errno,
      );
      expect(answers).toEqual([0, 0, 0, Errno.IpUnavailable]);
      ask(table, peers[0] as PeerId, request(RELEASE, RELEASE));
      expect(ask(table, peers[3] as PeerId, request(RELEASE, NEW_ADDRESS)).response?.errno).toBe(0);
    });

    it('sends routes only to a client that speaks the route extension', () => {
      table.setRoutes([p('10.0.0.0/8')]);
      const plain = ask(table, A, request(NEW_ADDRESS, RELEASE, ['x-other']));
      expect(plain.response?.extensions).toBeUndefined();
      expect(plain.response?.routes).toBeUndefined();
      const withRoutes = ask(table, B, request(NEW_ADDRESS, RELEASE, ['route', 'x-other']));
      expect(withRoutes.response?.extensions).toEqual(['route']);
      expect(withRoutes.response?.routes).toEqual([p('10.0.0.0/8')]);
    });
  });

  describe('transactions', () => {
    it('reserves new addresses until commit or abort, and keeps old ones until commit', () => {
      table.setPools([p('192.168.4.0/30')]); // two usable addresses
      const held = ask(table, A, request(NEW_ADDRESS, RELEASE));
      const tx = table.prepareRequest(B, request(NEW_ADDRESS, RELEASE));
      expect(() => table.prepareRequest(B, request(NEW_ADDRESS, RELEASE))).toThrow(/in flight/);
      expect(ask(table, C, request(NEW_ADDRESS, RELEASE)).response?.errno).toBe(
        Errno.IpUnavailable,
      );
      table.abort(tx);
      expect(ask(table, C, request(NEW_ADDRESS, RELEASE)).response?.errno).toBe(Errno.Success);
      // A moves away from its address: it stays A's until the commit.
      const other =
        held.response?.ip?.[4]?.toString() === '192.168.4.1' ? '192.168.4.2' : '192.168.4.1';
      ask(table, C, request(RELEASE, RELEASE));
      const move = table.prepareRequest(A, request(specificAddress(ip(other)), RELEASE));
      expect(ask(table, B, request(NEW_ADDRESS, RELEASE)).response?.errno).toBe(
        Errno.IpUnavailable,
      );
      table.commit(move);
      expect(addresses(ask(table, B, request(NEW_ADDRESS, RELEASE)))[4]).toBe(
        held.response?.ip?.[4]?.toString(),
      );
    });

    it('refuses a peer that is not on the interface', () => {
      expect(() =>
        table.prepareRequest(`${'Z'.repeat(43)}=`, request(NEW_ADDRESS, RELEASE)),
      ).toThrow(/not on the interface/);
    });
  });

  describe('expiry', () => {
    it('returns addresses to the pool and takes them out of allowed-ips on the monotonic clock', () => {
      const tx = ask(table, A, request(NEW_ADDRESS, NEW_ADDRESS));
      expect(table.nextExpiry()).toBe(clock.mono + 3600_000);
      clock.mono += 3599_999;
      expect(table.duePeers()).toEqual([]);
      clock.mono += 1;
      expect(table.duePeers()).toEqual([A]);
      const expiry = table.prepareExpiry(A);
      expect(expiry?.changes).toEqual([
        { peer: A, add: [], remove: [tx.grants[0]?.prefix, tx.grants[1]?.prefix] },
      ]);
      expect(expiry?.records.map((r) => r.type === 'release' && r.reason)).toEqual([
        'expired',
        'expired',
      ]);
      table.commit(expiry as Transaction);
      expect(table.leasesOf(A)).toEqual([]);
      expect(table.nextExpiry()).toBeUndefined();
    });

    it('a renewal pushes the expiry back', () => {
      const tx = ask(table, A, request(NEW_ADDRESS, RELEASE));
      clock.advance(3000);
      ask(table, A, request(specificAddress(tx.response?.ip?.[4] as IpAddress), RELEASE));
      clock.advance(1000);
      expect(table.duePeers()).toEqual([]);
      expect(table.prepareExpiry(A)).toBeUndefined();
      clock.advance(2600);
      expect(table.duePeers()).toEqual([A]);
    });

    it('the wall clock jumping does not expire anything', () => {
      ask(table, A, request(NEW_ADDRESS, RELEASE));
      clock.wall += 10 * 3600;
      expect(table.duePeers()).toEqual([]);
    });

    it('retries an expiry whose writes failed a second later', () => {
      ask(table, A, request(NEW_ADDRESS, RELEASE));
      clock.advance(3600);
      expect(table.duePeers()).toEqual([A]);
      table.abort(table.prepareExpiry(A) as Transaction);
      expect(table.leasesOf(A)).toHaveLength(1);
      expect(table.nextExpiry()).toBe(clock.mono + 1000);
    });

    it('finds nothing to expire once a renewal came first', () => {
      const tx = ask(table, A, request(NEW_ADDRESS, RELEASE));
      clock.advance(3600);
      expect(table.duePeers()).toEqual([A]);
      ask(table, A, request(specificAddress(tx.response?.ip?.[4] as IpAddress), RELEASE));
      expect(table.prepareExpiry(A)).toBeUndefined();
    });

    it('refuses new addresses but renews held ones when told the disk is full', () => {
      const tx = ask(table, A, request(NEW_ADDRESS, RELEASE));
      const held = tx.response?.ip?.[4] as IpAddress;
      const full = { allowNew: false };
      const renewal = table.prepareRequest(A, request(specificAddress(held), NEW_ADDRESS), full);
      table.commit(renewal);
      expect(renewal.response?.errno).toBe(Errno.IpUnavailable);
      expect(renewal.response?.ip?.[4]).toEqual(held);
      const fresh = table.prepareRequest(B, request(NEW_ADDRESS, RELEASE), full);
      table.commit(fresh);
      expect(fresh.response).toEqual({ errno: Errno.IpUnavailable, ip: {} });
    });
  });

  describe('the device', () => {
    it('drops the leases of a peer that is gone', () => {
      ask(table, A, request(NEW_ADDRESS, NEW_ADDRESS));
      const effects = table.setDevice(view({ [B]: ['fe80::b/128'] }));
      expect(effects.records.map((r) => r.type === 'release' && r.reason)).toEqual([
        'peer-removed',
        'peer-removed',
      ]);
      expect(effects.changes).toEqual([]);
      expect([...table.leases()]).toEqual([]);
    });

    it('revokes a lease that an operator gives to another peer, keeping the operator entry', () => {
      const tx = ask(table, A, request(NEW_ADDRESS, RELEASE));
      const address = tx.grants[0]?.prefix as IpPrefix;
      const effects = table.setDevice(
        view({ [A]: ['fe80::a/128', address.toString()], [B]: ['fe80::b/128', '192.168.4.0/29'] }),
      );
      expect(effects.records).toEqual([
        { type: 'release', peer: A, prefix: address, reason: 'revoked' },
      ]);
      expect(effects.changes).toEqual([{ peer: A, add: [], remove: [address] }]);
    });

    it('writes back a lease missing from allowed-ips', () => {
      const tx = ask(table, A, request(NEW_ADDRESS, RELEASE));
      const effects = table.setDevice(view({ [A]: ['fe80::a/128'], [B]: [] }));
      expect(effects.changes).toEqual([{ peer: A, add: [tx.grants[0]?.prefix], remove: [] }]);
    });

    it('a view read before an address changed hands does not take it from its new holder', () => {
      const y = p('192.168.4.3/32');
      ask(table, A, request(specificAddress(y.address), RELEASE));
      // The periodic read starts while A holds .3 ...
      const readMark = table.changeMark();
      // ... A releases it, B is granted it (both written to allowed-ips) ...
      ask(table, A, request(RELEASE, RELEASE));
      ask(table, B, request(specificAddress(y.address), RELEASE));
      // ... and the read completes still showing .3 on A, not yet on B.
      const stale = {
        ...view({ [A]: ['fe80::a/128', y.toString()], [B]: ['fe80::b/128'], [C]: ['fe80::c/128'] }),
        readMark,
      };
      const effects = table.setDevice(stale);
      expect(effects).toEqual({ records: [], changes: [] });
      expect(table.leasesOf(B).map((lease) => lease.prefix.toString())).toEqual([y.toString()]);
      // .3 is B's lease, not an operator's entry on A: B renews it.
      const renewal = ask(table, B, request(specificAddress(y.address), RELEASE));
      expect(addresses(renewal)).toEqual({ 4: '192.168.4.3' });
      // A view read after the change is taken at its word: an operator's .3 on A revokes it.
      const fresh = table.setDevice({
        ...view({ [A]: ['fe80::a/128', y.toString()], [B]: ['fe80::b/128', y.toString()] }),
        readMark: table.changeMark(),
      });
      expect(fresh.records).toEqual([{ type: 'release', peer: B, prefix: y, reason: 'revoked' }]);
    });

    it('a view that shows a grant still in flight does not take it for an operator entry', () => {
      const y = p('192.168.4.5/32');
      const tx = table.prepareRequest(B, request(specificAddress(y.address), RELEASE));
      // The device write landed and a read saw it, before the commit.
      const effects = table.setDevice({
        ...view({ [A]: ['fe80::a/128'], [B]: ['fe80::b/128', y.toString()] }),
        readMark: table.changeMark(),
      });
      expect(effects).toEqual({ records: [], changes: [] });
      table.commit(tx);
      const renewal = ask(table, B, request(NEW_ADDRESS, RELEASE));
      expect(addresses(renewal)).toEqual({ 4: '192.168.4.5' });
      expect(renewal.changes).toEqual([]);
    });

    it('ignores a view read before the last one applied', () => {
      const older = table.changeMark();
      ask(table, A, request(NEW_ADDRESS, RELEASE));
      table.setDevice({
        ...view({ [A]: ['fe80::a/128'], [B]: ['fe80::b/128'] }),
        readMark: table.changeMark(),
      });
      // Read before the view just applied, it still shows C, now gone, and no lease for A.
      const effects = table.setDevice({
        ...view({ [A]: ['fe80::a/128'], [C]: ['fe80::c/128'] }),
        readMark: older,
      });
      expect(effects).toEqual({ records: [], changes: [] });
      expect(() => table.prepareRequest(C, request(NEW_ADDRESS, RELEASE))).toThrow(
        /not on the interface/,
      );
    });

    it('keeps a lease whose pool went away until it runs out, but does not renew it', () => {
      const tx = ask(table, A, request(NEW_ADDRESS, RELEASE));
      const address = tx.response?.ip?.[4] as IpAddress;
      table.setPools([p('10.1.0.0/24')]);
      expect(table.leasesOf(A)).toHaveLength(1);
      const renewal = ask(table, A, request(specificAddress(address), RELEASE));
      expect(renewal.response?.errno).toBe(Errno.IpUnavailable);
      expect(table.leasesOf(A)).toEqual([]);
    });
  });

  describe('restart', () => {
    const grant = (peer: PeerId, prefix: string, start: number, duration = 3600): LeaseRecord => ({
      type: 'grant',
      peer,
      prefix: p(prefix),
      start,
      duration,
    });

    function restarted(
      records: LeaseRecord[],
      device: DeviceView,
      options: { adoptUnjournaled?: boolean } = {},
    ) {
      const fresh = new LeaseTable({ leaseTime: 3600, clock, random: seededRandom(8) });
      fresh.setPools(pools.map(p));
      return { table: fresh, ...fresh.restore(records, device, options) };
    }

    it("changes nobody's address and keeps the time left", () => {
      const journal = [
        grant(A, '192.168.4.3/32', clock.wall - 600),
        grant(A, '2001:db8::2/128', clock.wall - 600),
        grant(B, '192.168.4.5/32', clock.wall - 100),
      ];
      const device = view({
        [A]: ['fe80::a/128', '192.168.4.3/32', '2001:db8::2/128'],
        [B]: ['fe80::b/128', '192.168.4.5/32'],
      });
      const { table: fresh, records, changes, report } = restarted(journal, device);
      expect(report).toEqual({
        restored: 3,
        expired: 0,
        peerRemoved: 0,
        revoked: 0,
        adopted: 0,
        reapplied: 0,
        cleared: 0,
      });
      expect(records).toEqual([]);
      expect(changes).toEqual([]);
      expect(fresh.nextExpiry()).toBe(clock.mono + 3000_000);
      const renewal = ask(fresh, A, request(NEW_ADDRESS, NEW_ADDRESS));
      expect(addresses(renewal)).toEqual({ 4: '192.168.4.3', 6: '2001:db8::2' });
    });

    it('drops what ran out, what released, and peers that are gone', () => {
      const journal: LeaseRecord[] = [
        grant(A, '192.168.4.3/32', clock.wall - 4000),
        grant(B, '192.168.4.5/32', clock.wall - 10),
        { type: 'release', peer: B, prefix: p('192.168.4.5/32'), reason: 'released' },
        grant(C, '192.168.4.6/32', clock.wall - 10),
      ];
      const device = view({
        [A]: ['fe80::a/128', '192.168.4.3/32'],
        [B]: ['fe80::b/128', '192.168.4.5/32'],
      });
      const { table: fresh, records, changes, report } = restarted(journal, device);
      expect(report).toMatchObject({
        restored: 0,
        expired: 1,
        peerRemoved: 1,
        adopted: 0,
        cleared: 1,
      });
      expect(records.map((r) => r.type === 'release' && r.reason).sort()).toEqual([
        'expired',
        'peer-removed',
      ]);
      // Both stale addresses leave allowed-ips: the expired one and the released one the device kept.
      expect(changes).toEqual([
        { peer: A, add: [], remove: [p('192.168.4.3/32')] },
        { peer: B, add: [], remove: [p('192.168.4.5/32')] },
      ]);
      expect([...fresh.leases()]).toEqual([]);
    });

    it('takes out of allowed-ips what a crash left there after the journal released it', () => {
      // A moved from .3 to .4: the journal has it, the device write never happened.
      // B's .6 the journal never granted: an operator's entry, left alone.
      const journal: LeaseRecord[] = [
        grant(A, '192.168.4.3/32', clock.wall - 100),
        { type: 'release', peer: A, prefix: p('192.168.4.3/32'), reason: 'released' },
        grant(A, '192.168.4.4/32', clock.wall - 10),
      ];
      const device = view({
        [A]: ['fe80::a/128', '192.168.4.3/32'],
        [B]: ['fe80::b/128', '192.168.4.6/32'],
      });
      const { table: fresh, changes, report } = restarted(journal, device);
      expect(report).toMatchObject({ restored: 1, cleared: 1, reapplied: 1, adopted: 0 });
      expect(changes).toEqual([
        { peer: A, add: [p('192.168.4.4/32')], remove: [p('192.168.4.3/32')] },
      ]);
      expect(fresh.leasesOf(A).map((lease) => lease.prefix.toString())).toEqual(['192.168.4.4/32']);
      // .3 is free again, not an operator's entry: asked for, it is granted.
      const taken = ask(fresh, B, request(specificAddress(ip('192.168.4.3')), RELEASE));
      expect(addresses(taken)).toEqual({ 4: '192.168.4.3' });
    });

    it("keeps an operator's in-pool address the journal never granted: never leased, never removed", () => {
      const journal = [grant(A, '192.168.4.3/32', clock.wall - 10)];
      const device = view({
        [A]: ['fe80::a/128', '192.168.4.3/32'],
        [B]: ['fe80::b/128', '192.168.4.5/32', '2001:db8::3/128'],
      });
      const { table: fresh, records, changes, report } = restarted(journal, device);
      expect(report).toMatchObject({ restored: 1, adopted: 0 });
      expect(records).toEqual([]);
      expect(changes).toEqual([]);
      expect(fresh.leasesOf(B)).toEqual([]);
      // Nothing of B's runs out, so nothing leaves its allowed-ips ...
      clock.advance(3600 * 2);
      expect(fresh.duePeers()).toEqual([A]);
      const expiry = fresh.prepareExpiry(A) as Transaction;
      fresh.commit(expiry);
      expect(expiry.changes).toEqual([{ peer: A, add: [], remove: [p('192.168.4.3/32')] }]);
      expect(fresh.nextExpiry()).toBeUndefined();
      // ... and .5 is never handed out, as while the server runs.
      const refused = ask(fresh, A, request(specificAddress(ip('192.168.4.5')), RELEASE));
      expect(refused.response?.errno).toBe(Errno.IpUnavailable);
    });

    it('adopts in-pool host addresses found in allowed-ips on a first start (an empty journal)', () => {
      const device = view({
        [A]: ['fe80::a/128'],
        [B]: ['fe80::b/128', '192.168.4.5/32', '2001:db8::3/128', '10.0.0.0/24'],
      });
      const { table: fresh, records, changes, report } = restarted([], device);
      expect(report).toMatchObject({ restored: 0, adopted: 2 });
      expect(records.map((r) => `${r.type} ${r.prefix}`)).toEqual([
        'grant 192.168.4.5/32',
        'grant 2001:db8::3/128',
      ]);
      expect(changes).toEqual([]);
      expect(fresh.leasesOf(B).map((l) => l.prefix.toString())).toEqual([
        '192.168.4.5/32',
        '2001:db8::3/128',
      ]);
    });

    it('adopts them after a damaged journal, and puts back missing leases', () => {
      const journal = [grant(A, '192.168.4.3/32', clock.wall - 10)];
      const device = view({
        [A]: ['fe80::a/128'],
        [B]: ['fe80::b/128', '192.168.4.5/32', '2001:db8::3/128', '10.0.0.0/24'],
      });
      const {
        table: fresh,
        records,
        changes,
        report,
      } = restarted(journal, device, {
        adoptUnjournaled: true,
      });
      expect(report).toMatchObject({ restored: 1, adopted: 2, reapplied: 1 });
      expect(records.map((r) => `${r.type} ${r.prefix}`)).toEqual([
        'grant 192.168.4.5/32',
        'grant 2001:db8::3/128',
      ]);
      expect(changes).toEqual([{ peer: A, add: [p('192.168.4.3/32')], remove: [] }]);
      expect(fresh.leasesOf(B).map((l) => l.prefix.toString())).toEqual([
        '192.168.4.5/32',
        '2001:db8::3/128',
      ]);
    });

    it('survives a journal that names one address twice: the later grant wins', () => {
      const journal = [
        grant(A, '192.168.4.3/32', clock.wall - 20),
        grant(B, '192.168.4.3/32', clock.wall - 10),
      ];
      const device = view({ [A]: ['fe80::a/128'], [B]: ['fe80::b/128', '192.168.4.3/32'] });
      const { table: fresh, report } = restarted(journal, device);
      expect(report.revoked).toBe(1);
      expect(fresh.leasesOf(A)).toEqual([]);
      expect(fresh.leasesOf(B)).toHaveLength(1);
    });
  });
});
