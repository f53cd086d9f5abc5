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
      leaseStart: 1_700_000_000,
      leaseTime: 3600,
      expiresAtWall: 1_700_003_600_000,
    },
    addresses: { 4: ip('10.0.0.2'), 6: ip('fd00::2') },
  },
  added: { addresses: [p('10.0.0.2/32'), p('fd00::2/128')], routes: [p('10.0.0.0/8')] },
  addedLinkLocalRoute: true,
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
