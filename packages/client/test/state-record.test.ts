import {
  type ClientState,
  decodeState,
  EMPTY_STATE,
  encodeState,
  StateFileError,
} from '@wg-dynamic/client';
import { IpAddress, IpPrefix } from '@wg-dynamic/ip';
import { describe, expect, it } from 'vitest';

const ip = (text: string) => IpAddress.parse(text) as IpAddress;
const p = (text: string) => IpPrefix.from(text);

const state: ClientState = {
  memory: {
    lease: {
      addresses: { 4: ip('10.0.0.2'), 6: ip('fd00::2') },
      routes: [p('10.0.0.0/8'), p('fd00::/8')],
      prefixes: {},
      leaseStart: 1_700_000_000,
      leaseTime: 3600,
      expiresAtWall: 1_700_003_600_000,
    },
    addresses: { 4: ip('10.0.0.2'), 6: ip('fd00::2') },
    prefixes: {},
  },
  added: { addresses: [p('10.0.0.2/32'), p('fd00::2/128')], routes: [p('10.0.0.0/8')] },
  addedLinkLocalRoute: true,
  addedDownstream: [],
  announcedPrefixes: {},
};

describe('the state file', () => {
  it('round-trips', () => {
    expect(decodeState(encodeState('wg0', state), 'wg0')).toEqual(state);
    expect(decodeState(encodeState('wg0', EMPTY_STATE), 'wg0')).toEqual(EMPTY_STATE);
  });

  it('is readable JSON', () => {
    expect(JSON.parse(encodeState('wg0', state))).toEqual({
      version: 1,
      interface: 'wg0',
      lease: {
        ipv4: '10.0.0.2',
        ipv6: 'fd00::2',
        routes: ['10.0.0.0/8', 'fd00::/8'],
        leaseStart: 1_700_000_000,
        leaseTime: 3600,
        expiresAt: '2023-11-14T23:13:20.000Z',
      },
      ask: { ipv4: '10.0.0.2', ipv6: 'fd00::2' },
      added: {
        addresses: ['10.0.0.2/32', 'fd00::2/128'],
        routes: ['10.0.0.0/8'],
        linkLocalRoute: true,
      },
    });
  });

  const good = () => JSON.parse(encodeState('wg0', state)) as Record<string, unknown>;
  it.each<[string, (doc: Record<string, unknown>) => unknown]>([
    ['another version', (d) => ({ ...d, version: 2 })],
    ['another interface', (d) => ({ ...d, interface: 'wg1' })],
    ['a list', () => []],
    ['a bad address', (d) => ({ ...d, ask: { ipv4: 'fd00::1' } })],
    ['a bad date', (d) => ({ ...d, lease: { ...(d.lease as object), expiresAt: 'soon' } })],
    ['a negative lease time', (d) => ({ ...d, lease: { ...(d.lease as object), leaseTime: -1 } })],
    ['an added network', (d) => ({ ...d, added: { addresses: ['10.0.0.0/8'], routes: [] } })],
    ['a missing record', (d) => ({ ...d, added: undefined })],
    [
      'too many routes',
      (d) => ({ ...d, added: { addresses: [], routes: Array(2000).fill('10.0.0.0/8') } }),
    ],
  ])('refuses %s with a StateFileError', (_, change) => {
    expect(() => decodeState(JSON.stringify(change(good())), 'wg0')).toThrow(StateFileError);
  });

  it('refuses text that is not JSON, and text that is too large', () => {
    expect(() => decodeState('{"version":1', 'wg0')).toThrow(/not JSON/);
    expect(() => decodeState(' '.repeat(70_000), 'wg0')).toThrow(/larger than/);
  });
});

describe('the state file with delegated prefixes', () => {
  const withPrefixes: ClientState = {
    ...state,
    memory: {
      lease: {
        ...(state.memory.lease as NonNullable<ClientState['memory']['lease']>),
        prefixes: { 4: p('10.200.0.16/28'), 6: p('2001:db8:100:5::/64') },
      },
      addresses: state.memory.addresses,
      prefixes: { 6: p('2001:db8:100:5::/64') },
    },
    addedDownstream: [{ interfaceName: 'lan0', prefix: p('2001:db8:100:5::1/64') }],
    announcedPrefixes: { 6: p('2001:db8:100:5::/64') },
  };

  it('round-trips, and keeps the file of a client without prefixes exactly as it was', () => {
    expect(decodeState(encodeState('wg0', withPrefixes), 'wg0')).toEqual(withPrefixes);
    expect(encodeState('wg0', state)).not.toMatch(/prefix|downstream/);
  });

  it('adds optional keys to version 1', () => {
    const document = JSON.parse(encodeState('wg0', withPrefixes));
    expect(document.version).toBe(1);
    expect(document.lease.prefixes).toEqual({
      ipv4: '10.200.0.16/28',
      ipv6: '2001:db8:100:5::/64',
    });
    expect(document.ask).toEqual({
      ipv4: '10.0.0.2',
      ipv6: 'fd00::2',
      prefixes: { ipv6: '2001:db8:100:5::/64' },
    });
    expect(document.added.downstream).toEqual([
      { interface: 'lan0', address: '2001:db8:100:5::1/64' },
    ]);
    expect(document.added.hookPrefixes).toEqual({ ipv6: '2001:db8:100:5::/64' });
  });

  it('reads a file written before prefixes existed', () => {
    const old = JSON.stringify({
      version: 1,
      interface: 'wg0',
      lease: {
        ipv4: '10.0.0.2',
        routes: [],
        leaseStart: 1_700_000_000,
        leaseTime: 3600,
        expiresAt: '2023-11-14T23:13:20.000Z',
      },
      ask: { ipv4: '10.0.0.2' },
      added: { addresses: ['10.0.0.2/32'], routes: [], linkLocalRoute: false },
    });
    const decoded = decodeState(old, 'wg0');
    expect(decoded.memory.lease?.prefixes).toEqual({});
    expect(decoded.memory.prefixes).toEqual({});
    expect(decoded.addedDownstream).toEqual([]);
    expect(decoded.announcedPrefixes).toEqual({});
  });

  const good = () => JSON.parse(encodeState('wg0', withPrefixes)) as Record<string, unknown>;
  const added = (d: Record<string, unknown>) => d.added as Record<string, unknown>;
  it.each<[string, (doc: Record<string, unknown>) => unknown]>([
    [
      'a prefix of the wrong family',
      (d) => ({ ...d, ask: { prefixes: { ipv4: '2001:db8::/64' } } }),
    ],
    ['a prefix with host bits', (d) => ({ ...d, ask: { prefixes: { ipv6: '2001:db8::1/64' } } })],
    [
      'prefixes that are not an object',
      (d) => ({ ...d, lease: { ...(d.lease as object), prefixes: [] } }),
    ],
    [
      'a downstream entry without interface',
      (d) => ({ ...d, added: { ...added(d), downstream: [{ address: '10.0.0.1/24' }] } }),
    ],
    [
      'a downstream interface that is no name',
      (d) => ({
        ...d,
        added: { ...added(d), downstream: [{ interface: '../x', address: '10.0.0.1/24' }] },
      }),
    ],
    ['a bad hook prefix', (d) => ({ ...d, added: { ...added(d), hookPrefixes: { ipv6: 'x' } } })],
  ])('refuses %s with a StateFileError', (_, change) => {
    expect(() => decodeState(JSON.stringify(change(good())), 'wg0')).toThrow(StateFileError);
  });
});
