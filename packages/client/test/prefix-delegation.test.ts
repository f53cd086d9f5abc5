import {
  downstreamAddress,
  hookEnvironment,
  mismatchReason,
  parseWantedPrefix,
  prefixEvents,
  unsafePrefixReason,
} from '@wg-dynamic/client';
import { IpPrefix } from '@wg-dynamic/ip';
import { describe, expect, it } from 'vitest';

const p = (text: string) => IpPrefix.from(text);

describe('parseWantedPrefix (--request-prefix)', () => {
  it('the unspecified address with a length asks for a new prefix of that family and length', () => {
    expect(parseWantedPrefix('::/64')).toEqual({ family: 6, wanted: { kind: 'new', length: 64 } });
    expect(parseWantedPrefix('0.0.0.0/28')).toEqual({
      family: 4,
      wanted: { kind: 'new', length: 28 },
    });
  });

  it('any other network prefix asks for that prefix', () => {
    const parsed = parseWantedPrefix('2001:db8:100:5::/64');
    expect(parsed.family).toBe(6);
    expect(parsed.wanted.kind).toBe('specific');
    if (parsed.wanted.kind === 'specific') {
      expect(parsed.wanted.prefix.toString()).toBe('2001:db8:100:5::/64');
    }
  });

  it.each([
    ['64', /is not a prefix/],
    ['2001:db8::1', /is not a prefix/],
    ['::/129', /is not a prefix/],
    ['::/0', /asks for a \/0/],
    ['2001:db8::1/64', /host bits set: the IPv6 prefix is 2001:db8::\/64/],
    ['fe80::/64', /cannot be delegated: it lies inside fe80::\/10 \(a link-local address\)/],
    ['224.0.0.0/28', /multicast/],
    ['127.0.0.0/28', /loopback/],
  ])('refuses %s', (text, message) => {
    expect(() => parseWantedPrefix(text)).toThrow(message);
  });
});

describe('unsafePrefixReason', () => {
  it.each([
    ['fe80::/64', /inside fe80::\/10/],
    ['ff02::/16', /multicast/],
    ['169.254.0.0/24', /link-local/],
    ['224.0.0.0/4', /multicast/],
    ['127.0.0.0/16', /loopback/],
    ['::/1', /contains ::\/128 \(the unspecified address\)/],
    ['0.0.0.0/1', /contains 0.0.0.0\/8/],
    ['fe00::/7', /contains fe80::\/10/],
    ['0.0.0.0/0', /default route/],
  ])('%s is refused', (text, reason) => {
    expect(unsafePrefixReason(p(text))).toMatch(reason);
  });

  it('a prefix with host bits set is refused', () => {
    expect(unsafePrefixReason(new IpPrefix(p('2001:db8::1').address, 64))).toMatch(/host bits/);
  });

  it.each(['2001:db8:100:5::/64', '10.200.0.16/28', 'fd00:1::/48', '192.168.7.0/24'])(
    '%s is fine',
    (text) => {
      expect(unsafePrefixReason(p(text))).toBeUndefined();
    },
  );
});

describe('mismatchReason', () => {
  it('a new prefix: the length asked for or longer', () => {
    expect(mismatchReason({ kind: 'new', length: 64 }, p('2001:db8::/64'))).toBeUndefined();
    expect(mismatchReason({ kind: 'new', length: 60 }, p('2001:db8::/64'))).toBeUndefined();
    expect(mismatchReason({ kind: 'new', length: 64 }, p('2001:db8::/56'))).toBe(
      'it is shorter than the /64 asked for',
    );
  });

  it('a prefix by name: that one', () => {
    const wanted = { kind: 'specific', prefix: p('2001:db8:0:5::/64') } as const;
    expect(mismatchReason(wanted, p('2001:db8:0:5::/64'))).toBeUndefined();
    expect(mismatchReason(wanted, p('2001:db8:0:6::/64'))).toBe('2001:db8:0:5::/64 was asked for');
  });
});

describe('downstreamAddress', () => {
  it.each([
    ['2001:db8:100:5::/64', '2001:db8:100:5::1/64'],
    ['2001:db8:100::/48', '2001:db8:100::1/48'],
    ['2001:db8::8/127', '2001:db8::9/127'],
    ['2001:db8::7/128', '2001:db8::7/128'],
    ['10.200.0.16/28', '10.200.0.17/28'],
    ['10.200.0.16/30', '10.200.0.17/30'],
    ['10.200.0.16/31', '10.200.0.16/31'],
    ['10.200.0.16/32', '10.200.0.16/32'],
  ])('%s: %s', (prefix, address) => {
    expect(downstreamAddress(p(prefix)).toString()).toBe(address);
  });
});

describe('prefixEvents', () => {
  const a = p('2001:db8:0:5::/64');
  const b = p('2001:db8:0:6::/64');
  const v4 = p('10.200.0.16/28');

  it('grant, change and loss, IPv4 first; nothing when nothing changed', () => {
    expect(prefixEvents({}, { 4: v4, 6: a })).toEqual([
      { event: 'grant', family: 4, prefix: v4 },
      { event: 'grant', family: 6, prefix: a },
    ]);
    expect(prefixEvents({ 4: v4, 6: a }, { 4: v4, 6: b })).toEqual([
      { event: 'change', family: 6, prefix: b, oldPrefix: a },
    ]);
    expect(prefixEvents({ 4: v4, 6: b }, {})).toEqual([
      { event: 'loss', family: 4, oldPrefix: v4 },
      { event: 'loss', family: 6, oldPrefix: b },
    ]);
    expect(prefixEvents({ 6: a }, { 6: p('2001:db8:0:5::/64') })).toEqual([]);
  });
});

describe('hookEnvironment', () => {
  const a = p('2001:db8:0:5::/64');
  const b = p('2001:db8:0:6::/64');

  it('grant: the prefix, and with --prefix-interface the address put there', () => {
    expect(
      hookEnvironment(
        { event: 'grant', family: 6, prefix: a },
        { interfaceName: 'wg0', prefixInterface: 'lan0' },
      ),
    ).toEqual({
      WG_DYNAMIC_EVENT: 'grant',
      WG_DYNAMIC_INTERFACE: 'wg0',
      WG_DYNAMIC_FAMILY: '6',
      WG_DYNAMIC_PREFIX: '2001:db8:0:5::/64',
      WG_DYNAMIC_OLD_PREFIX: undefined,
      WG_DYNAMIC_PREFIX_INTERFACE: 'lan0',
      WG_DYNAMIC_PREFIX_ADDRESS: '2001:db8:0:5::1/64',
    });
  });

  it('change: both prefixes; loss: the old one only; no downstream variables without --prefix-interface', () => {
    expect(
      hookEnvironment(
        { event: 'change', family: 6, prefix: b, oldPrefix: a },
        { interfaceName: 'wg0' },
      ),
    ).toMatchObject({
      WG_DYNAMIC_EVENT: 'change',
      WG_DYNAMIC_PREFIX: '2001:db8:0:6::/64',
      WG_DYNAMIC_OLD_PREFIX: '2001:db8:0:5::/64',
      WG_DYNAMIC_PREFIX_INTERFACE: undefined,
      WG_DYNAMIC_PREFIX_ADDRESS: undefined,
    });
    expect(
      hookEnvironment(
        { event: 'loss', family: 4, oldPrefix: p('10.200.0.16/28') },
        { interfaceName: 'wg0', prefixInterface: 'lan0' },
      ),
    ).toMatchObject({
      WG_DYNAMIC_EVENT: 'loss',
      WG_DYNAMIC_FAMILY: '4',
      WG_DYNAMIC_PREFIX: undefined,
      WG_DYNAMIC_OLD_PREFIX: '10.200.0.16/28',
      WG_DYNAMIC_PREFIX_INTERFACE: 'lan0',
      WG_DYNAMIC_PREFIX_ADDRESS: undefined,
    });
  });
});
