import { IpAddress, IpPrefix } from '@wg-dynamic/ip';
import {
  decodeAddress,
  decodeLink,
  decodeRoute,
  encodeDeleteAddress,
  encodeNewAddress,
  encodeRoute,
  encodeSetLink,
  MalformedMessageError,
  prefixFromAttribute,
} from '@wg-dynamic/rtnetlink/codec';
import { ifla, parseAttributes, rt } from 'netlink';
import { describe, expect, it } from 'vitest';
import {
  AF_BRIDGE,
  AF_INET,
  AF_INET6,
  addressBody,
  bytes,
  concat,
  linkBody,
  routeBody,
} from './messages.js';

describe('address attributes to IpPrefix', () => {
  it('joins the raw bytes and the header prefix length, keeping host bits', () => {
    expect(prefixFromAttribute(4, bytes('10.0.0.5'), 24, 'IFA_LOCAL').toString()).toBe(
      '10.0.0.5/24',
    );
    expect(prefixFromAttribute(6, bytes('fe80::'), 64, 'IFA_ADDRESS').toString()).toBe('fe80::/64');
    expect(prefixFromAttribute(6, bytes('fd00::2'), 128, 'IFA_ADDRESS').isHost()).toBe(true);
  });

  it('refuses a length that does not fit the family, naming the attribute', () => {
    expect(() => prefixFromAttribute(4, bytes('fe80::1'), 64, 'IFA_LOCAL')).toThrow(
      new MalformedMessageError('IFA_LOCAL has 16 bytes, an IPv4 address has 4'),
    );
    expect(() => prefixFromAttribute(6, Buffer.alloc(5), 64, 'RTA_DST')).toThrow(
      MalformedMessageError,
    );
    expect(() => prefixFromAttribute(4, bytes('10.0.0.1'), 33, 'IFA_LOCAL')).toThrow(
      /prefix length 33, more than an IPv4 address has bits/,
    );
  });
});

describe('decodeAddress', () => {
  it('reads an IPv4 address with its prefix, scope, label and IFA_FLAGS', () => {
    const address = decodeAddress(
      addressBody({
        family: AF_INET,
        prefixLength: 24,
        index: 7,
        local: bytes('10.0.0.5'),
        address: bytes('10.0.0.5'),
        label: 'wg0',
        headerFlags: 0x80,
        flags: 0x80 | 0x200,
      }),
    );
    expect(address).toEqual({
      index: 7,
      prefix: IpPrefix.from('10.0.0.5/24'),
      scope: 'universe',
      flags: ['permanent', 'noprefixroute'],
      label: 'wg0',
    });
  });

  it('takes IFA_LOCAL over IFA_ADDRESS (the peer on a point-to-point address)', () => {
    const address = decodeAddress(
      addressBody({
        family: AF_INET,
        prefixLength: 32,
        index: 3,
        local: bytes('10.0.0.1'),
        address: bytes('10.0.0.2'),
      }),
    );
    expect(address?.prefix.toString()).toBe('10.0.0.1/32');
  });

  it('reads an IPv6 address sent as IFA_ADDRESS alone, with the header flags when IFA_FLAGS is absent', () => {
    const address = decodeAddress(
      addressBody({
        family: AF_INET6,
        prefixLength: 64,
        index: 4,
        address: bytes('fe80::'),
        scope: 253,
        headerFlags: 0x02 | 0x80,
      }),
    );
    expect(address).toMatchObject({
      scope: 'link',
      flags: ['nodad', 'permanent'],
      label: undefined,
    });
    expect(address?.prefix.toString()).toBe('fe80::/64');
  });

  it('skips other families and fails clearly on malformed messages', () => {
    expect(decodeAddress(addressBody({ family: 17, prefixLength: 0, index: 1 }))).toBeUndefined();
    expect(() => decodeAddress(Buffer.alloc(5))).toThrow(/5 bytes, fewer than its header/);
    expect(() =>
      decodeAddress(addressBody({ family: AF_INET, prefixLength: 24, index: 1 })),
    ).toThrow(/neither IFA_LOCAL nor IFA_ADDRESS/);
    const truncated = addressBody({
      family: AF_INET,
      prefixLength: 24,
      index: 1,
      local: bytes('10.0.0.1'),
    });
    expect(() => decodeAddress(truncated.subarray(0, truncated.length - 2))).toThrow(
      MalformedMessageError,
    );
  });

  it('decodes what encodeNewAddress encodes', () => {
    const spec = {
      index: 9,
      prefix: IpPrefix.from('fd00::2/128'),
      flags: ['nodad', 'noprefixroute'] as const,
    };
    const decoded = decodeAddress(concat(encodeNewAddress(spec)));
    expect(decoded).toMatchObject({ index: 9, flags: ['nodad', 'noprefixroute'] });
    expect(decoded?.prefix.toString()).toBe('fd00::2/128');
  });

  it('deletes by IFA_LOCAL only', () => {
    const body = concat(encodeDeleteAddress({ index: 9, prefix: IpPrefix.from('10.0.0.2/32') }));
    const header = rt.parseAddress(body.subarray(0, 8));
    expect(header).toMatchObject({ family: AF_INET, prefixlen: 32, index: 9 });
    const types: number[] = [];
    parseAttributes(body.subarray(8), (attribute) => types.push(attribute.type));
    expect(types).toEqual([2]); // IFA_LOCAL
  });
});

describe('decodeRoute', () => {
  it('reads a route through an interface with its mark, table and scope', () => {
    const route = decodeRoute(
      routeBody({
        family: AF_INET,
        dstLen: 24,
        dst: bytes('10.1.0.0'),
        oif: 7,
        table: 254,
        protocol: 157,
        scope: 253,
      }),
    );
    expect(route).toEqual({
      family: 4,
      destination: IpPrefix.from('10.1.0.0/24'),
      index: 7,
      gateway: undefined,
      source: undefined,
      table: 254,
      protocol: 157,
      scope: 'link',
      type: 'unicast',
      metric: undefined,
    });
  });

  it('reads a default route (no RTA_DST) with a gateway and a table above 255', () => {
    const route = decodeRoute(
      routeBody({
        family: AF_INET6,
        dstLen: 0,
        oif: 2,
        gateway: bytes('fe80::1'),
        table: 1000,
        protocol: 3,
        priority: 1024,
      }),
    );
    expect(route?.destination.toString()).toBe('::/0');
    expect(route?.gateway?.toString()).toBe('fe80::1');
    expect(route).toMatchObject({ table: 1000, protocol: 3, metric: 1024, scope: 'universe' });
  });

  it('keeps unnamed types and scopes as numbers, skips other families, refuses nonsense', () => {
    expect(
      decodeRoute(routeBody({ family: AF_INET, dstLen: 0, type: 42, scope: 17, table: 254 })),
    ).toMatchObject({ type: 42, scope: 17 });
    expect(decodeRoute(routeBody({ family: 128, dstLen: 0 }))).toBeUndefined();
    expect(() => decodeRoute(routeBody({ family: AF_INET, dstLen: 24 }))).toThrow(
      /\/24 destination but no RTA_DST/,
    );
    expect(() =>
      decodeRoute(routeBody({ family: AF_INET, dstLen: 24, dst: bytes('fd00::') })),
    ).toThrow(/16 bytes, an IPv4 address has 4/);
  });

  it('encodes add and delete the way the kernel needs them', () => {
    const spec = { destination: IpPrefix.from('10.2.0.0/24'), index: 5, protocol: 157 };
    const add = concat(encodeRoute(spec, false));
    expect(rt.parseRoute(add.subarray(0, 12))).toMatchObject({
      family: AF_INET,
      dstLen: 24,
      table: 254,
      protocol: 157,
      scope: 'LINK',
      type: 'UNICAST',
    });
    expect(decodeRoute(add)).toMatchObject({ index: 5, table: 254, protocol: 157 });
    expect(decodeRoute(add)?.destination.toString()).toBe('10.2.0.0/24');

    // Deleting an IPv4 route needs RT_SCOPE_NOWHERE; without a mark, any protocol matches.
    const remove = rt.parseRoute(
      concat(encodeRoute({ destination: spec.destination, index: 5 }, true)).subarray(0, 12),
    );
    expect(remove).toMatchObject({ scope: 'NOWHERE', protocol: 0 });
    // A gateway makes an IPv4 route universe-scoped; ip route add defaults to RTPROT_BOOT.
    const viaGateway = rt.parseRoute(
      concat(
        encodeRoute(
          {
            destination: spec.destination,
            index: 5,
            gateway: IpAddress.parse('10.0.0.1') as IpAddress,
          },
          false,
        ),
      ).subarray(0, 12),
    );
    expect(viaGateway).toMatchObject({ scope: 'UNIVERSE', protocol: 'BOOT' });
  });
});

describe('decodeLink', () => {
  it('reads name, kind, MTU, flags and addrgenmode', () => {
    const link = decodeLink(
      linkBody({
        index: 4,
        name: 'wg0',
        mtu: 1420,
        up: true,
        lowerUp: true,
        kind: 'wireguard',
        addrGenMode: 1,
      }),
    );
    expect(link).toEqual({
      family: 0,
      index: 4,
      name: 'wg0',
      kind: 'wireguard',
      mtu: 1420,
      up: true,
      running: true,
      lowerUp: true,
      pointToPoint: false,
      loopback: false,
      addrGenMode: 'none',
    });
  });

  it('keeps an address generation mode it does not know as a number', () => {
    expect(
      decodeLink(linkBody({ index: 4, name: 'wg0', mtu: 1420, addrGenMode: 9 })).addrGenMode,
    ).toBe(9);
  });

  it('reads a link without IFLA_LINKINFO or IPv6, and reports the family', () => {
    const link = decodeLink(linkBody({ family: AF_BRIDGE, index: 1, name: 'lo', mtu: 65536 }));
    expect(link).toMatchObject({
      family: AF_BRIDGE,
      kind: undefined,
      addrGenMode: undefined,
      up: false,
    });
  });

  it('refuses a link without a name or MTU, or with an overlong name', () => {
    expect(() => decodeLink(linkBody({ index: 1, mtu: 1500 }))).toThrow(/has no IFLA_IFNAME/);
    expect(() => decodeLink(linkBody({ index: 1, name: 'eth0' }))).toThrow(/eth0 has no IFLA_MTU/);
    expect(() =>
      decodeLink(linkBody({ index: 1, name: 'a-name-that-is-far-too-long', mtu: 1 })),
    ).toThrow(/IFLA_IFNAME/);
    expect(() => decodeLink(Buffer.alloc(15))).toThrow(MalformedMessageError);
  });

  it('sets attributes before bringing a link up', () => {
    const requests = encodeSetLink(4, { up: true, mtu: 1420, addrGenMode: 'none' });
    expect(requests).toHaveLength(2);
    const [attributes, flags] = requests.map(concat) as [Buffer, Buffer];
    const parsed = ifla.parseLinkAttrs(attributes.subarray(16));
    expect(parsed.mtu).toBe(1420);
    expect(rt.parseLink(attributes.subarray(0, 16))).toMatchObject({
      index: 4,
      flags: {},
      change: {},
    });
    expect(rt.parseLink(flags.subarray(0, 16))).toMatchObject({
      index: 4,
      flags: { up: true },
      change: { up: true },
    });
    expect(
      encodeSetLink(4, { up: false })
        .map(concat)
        .map((body) => rt.parseLink(body.subarray(0, 16))),
    ).toEqual([expect.objectContaining({ flags: {}, change: { up: true } })]);
    expect(encodeSetLink(4, {})).toEqual([]);
  });
});
