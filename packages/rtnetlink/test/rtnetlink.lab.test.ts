import { IpAddress, IpPrefix } from '@wg-dynamic/ip';
import {
  openRtnetlink,
  RT_TABLE_MAIN,
  RTPROT_BOOT,
  type Rtnetlink,
  RtnetlinkError,
} from '@wg-dynamic/rtnetlink';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ip, ipAddresses, ipLink, ipRoutes } from './ip-command.js';

// A veth pair in the sandbox's own network namespace: the host kernel has no
// dummy driver, and a veth pair comes up with carrier as soon as both ends are up.
const A = 'rtnl-a';
const B = 'rtnl-b';
const MARK = 157; // an rtm_protocol value with no name in /etc/iproute2/rt_protos

const prefix = (text: string) => IpPrefix.from(text);
const address = (text: string) => IpAddress.parse(text) as IpAddress;

async function rejection(promise: Promise<unknown>): Promise<RtnetlinkError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(RtnetlinkError);
    return error as RtnetlinkError;
  }
  throw new Error('expected the call to fail');
}

let rtnl: Rtnetlink;
let indexA: number;
let indexB: number;

beforeAll(() => {
  ip('link', 'add', A, 'type', 'veth', 'peer', 'name', B);
  ip('link', 'set', A, 'up');
  ip('link', 'set', B, 'up');
  indexA = ipLink(A).ifindex;
  indexB = ipLink(B).ifindex;
  rtnl = openRtnetlink();
});

afterAll(() => {
  rtnl?.close();
  ip('link', 'del', A);
});

describe('links', () => {
  it('reads what ip shows: index by name, name by index, kind, MTU, flags', async () => {
    const byName = await rtnl.getLink(A);
    const shown = ipLink(A);
    expect(byName.index).toBe(shown.ifindex);
    expect(byName.name).toBe(A);
    expect(byName.kind).toBe('veth');
    expect(byName.mtu).toBe(shown.mtu);
    expect(byName.up).toBe(shown.flags.includes('UP'));
    expect(byName.lowerUp).toBe(shown.flags.includes('LOWER_UP'));
    expect((await rtnl.getLink(indexB)).name).toBe(B);

    const links = await rtnl.listLinks();
    expect(links.map((link) => link.name)).toEqual(expect.arrayContaining(['lo', A, B]));
    const loopback = links.find((link) => link.name === 'lo');
    expect(loopback?.loopback).toBe(true);
    expect(loopback?.kind).toBeUndefined();
  });

  it('fails with ENODEV for an interface that does not exist', async () => {
    const byName = await rejection(rtnl.getLink('rtnl-missing'));
    expect(byName.code).toBe('ENODEV');
    expect(byName.operation).toBe('get-link');
    expect(byName.message).toMatch(/rtnl-missing/);
    const byIndex = await rejection(rtnl.getLink(0x7fff_fff0));
    expect(byIndex.code).toBe('ENODEV');
  });

  it('sets a link down and up, its MTU and addrgenmode none, as ip sees it', async () => {
    await rtnl.setLink(indexB, { up: false });
    expect(ipLink(B).flags).not.toContain('UP');
    expect((await rtnl.getLink(indexB)).up).toBe(false);
    // The peer lost its carrier.
    expect((await rtnl.getLink(indexA)).lowerUp).toBe(false);

    await rtnl.setLink(indexB, { mtu: 1420, addrGenMode: 'none', up: true });
    const shown = ipLink(B);
    expect(shown.flags).toContain('UP');
    expect(shown.mtu).toBe(1420);
    expect(shown.inet6_addr_gen_mode).toBe('none');
    const link = await rtnl.getLink(B);
    expect(link).toMatchObject({ up: true, mtu: 1420, addrGenMode: 'none' });

    ip('link', 'set', B, 'addrgenmode', 'eui64');
    expect((await rtnl.getLink(B)).addrGenMode).toBe('eui64');
  });
});

describe('addresses', () => {
  it('adds IPv4 and IPv6 addresses (nodad) that ip then shows', async () => {
    await rtnl.addAddress({ index: indexA, prefix: prefix('10.77.0.2/32') });
    await rtnl.addAddress({
      index: indexA,
      prefix: prefix('fd77::2/128'),
      flags: ['nodad', 'noprefixroute'],
    });
    const shown = ipAddresses(A);
    expect(shown).toContainEqual(
      expect.objectContaining({ family: 'inet', local: '10.77.0.2', prefixlen: 32 }),
    );
    expect(shown).toContainEqual(
      expect.objectContaining({
        family: 'inet6',
        local: 'fd77::2',
        prefixlen: 128,
        nodad: true,
        noprefixroute: true,
      }),
    );

    const read = await rtnl.listAddresses({ index: indexA });
    const v6 = read.find((a) => a.prefix.toString() === 'fd77::2/128');
    expect(v6?.flags).toEqual(expect.arrayContaining(['nodad', 'noprefixroute', 'permanent']));
    expect(v6?.scope).toBe('universe');
    expect(read.map((a) => a.prefix.toString())).toContain('10.77.0.2/32');
  });

  it('reads what ip adds, with the prefix length, filtered by interface and family', async () => {
    ip('address', 'add', '10.77.1.1/24', 'dev', A);
    ip('address', 'add', 'fe80::/64', 'dev', A, 'nodad');
    ip('address', 'add', '10.88.0.1/24', 'dev', B);

    const v4 = await rtnl.listAddresses({ index: indexA, family: 4 });
    const texts = v4.map((a) => a.prefix.toString());
    expect(texts).toContain('10.77.1.1/24');
    expect(texts).not.toContain('10.88.0.1/24');
    expect(v4.every((a) => a.prefix.family === 4 && a.index === indexA)).toBe(true);
    expect(v4.find((a) => a.prefix.toString() === '10.77.1.1/24')?.label).toBe(A);

    const v6 = await rtnl.listAddresses({ index: indexA, family: 6 });
    const linkLocal = v6.find((a) => a.prefix.toString() === 'fe80::/64');
    expect(linkLocal).toMatchObject({ scope: 'link', index: indexA });
    expect(linkLocal?.flags).toContain('nodad');

    const everywhere = await rtnl.listAddresses();
    expect(everywhere.map((a) => a.prefix.toString())).toEqual(
      expect.arrayContaining(['127.0.0.1/8', '10.77.1.1/24', '10.88.0.1/24']),
    );
  });

  it('replaces an address, changing its flags', async () => {
    await rtnl.replaceAddress({ index: indexA, prefix: prefix('fd77::2/128'), flags: ['nodad'] });
    const shown = ipAddresses(A).find((a) => a.local === 'fd77::2');
    expect(shown?.noprefixroute).toBeUndefined();
    expect(shown?.nodad).toBe(true);
    // Replacing one that is not there adds it.
    await rtnl.replaceAddress({ index: indexA, prefix: prefix('10.77.0.3/32') });
    expect(ipAddresses(A).map((a) => a.local)).toContain('10.77.0.3');
  });

  it('deletes addresses, its own and those ip added', async () => {
    await rtnl.deleteAddress({ index: indexA, prefix: prefix('10.77.0.2/32') });
    await rtnl.deleteAddress({ index: indexA, prefix: prefix('fd77::2/128') });
    await rtnl.deleteAddress({ index: indexA, prefix: prefix('10.77.1.1/24') });
    const locals = ipAddresses(A).map((a) => a.local);
    expect(locals).not.toContain('10.77.0.2');
    expect(locals).not.toContain('fd77::2');
    expect(locals).not.toContain('10.77.1.1');
    expect(locals).toContain('10.77.0.3');
  });

  it('fails with typed errors: EEXIST, EADDRNOTAVAIL, ENODEV', async () => {
    await rtnl.addAddress({ index: indexA, prefix: prefix('10.77.0.9/32') });
    const exists = await rejection(
      rtnl.addAddress({ index: indexA, prefix: prefix('10.77.0.9/32') }),
    );
    expect(exists.code).toBe('EEXIST');
    expect(exists.operation).toBe('add-address');
    expect(exists.message).toMatch(/10\.77\.0\.9\/32.*already has this address/);

    const existsV6 = await rtnl
      .addAddress({ index: indexA, prefix: prefix('fd77::9/128'), flags: ['nodad'] })
      .then(() =>
        rejection(
          rtnl.addAddress({ index: indexA, prefix: prefix('fd77::9/128'), flags: ['nodad'] }),
        ),
      );
    expect(existsV6.code).toBe('EEXIST');

    const missing = await rejection(
      rtnl.deleteAddress({ index: indexA, prefix: prefix('10.77.0.99/32') }),
    );
    expect(missing.code).toBe('EADDRNOTAVAIL');
    expect(missing.operation).toBe('delete-address');
    const missingV6 = await rejection(
      rtnl.deleteAddress({ index: indexA, prefix: prefix('fd77::99/128') }),
    );
    expect(missingV6.code).toBe('EADDRNOTAVAIL');

    const noDevice = await rejection(
      rtnl.addAddress({ index: 0x7fff_fff0, prefix: prefix('10.77.0.10/32') }),
    );
    expect(noDevice.code).toBe('ENODEV');
    expect(noDevice.message).toMatch(/no such network interface/);
  });
});

describe('routes', () => {
  it('adds marked routes through an interface that ip then shows', async () => {
    ip('address', 'add', '10.76.0.1/24', 'dev', A);
    await rtnl.addRoute({ destination: prefix('10.78.0.0/24'), index: indexA, protocol: MARK });
    await rtnl.addRoute({ destination: prefix('fd78::/64'), index: indexA, protocol: MARK });
    await rtnl.addRoute({
      destination: prefix('10.79.0.0/16'),
      index: indexA,
      gateway: address('10.76.0.254'),
      protocol: MARK,
      scope: 'universe',
    });

    expect(ipRoutes(4, A)).toContainEqual(
      expect.objectContaining({ dst: '10.78.0.0/24', protocol: String(MARK), scope: '253' }),
    );
    expect(ipRoutes(6, A)).toContainEqual(
      expect.objectContaining({ dst: 'fd78::/64', protocol: String(MARK) }),
    );
    expect(ip('-4', 'route', 'show', '10.79.0.0/16')).toMatch(/via 10\.76\.0\.254 dev rtnl-a/);
  });

  it('reads routes filtered by interface, family and mark, as ip added them too', async () => {
    ip('route', 'add', '10.80.0.0/24', 'dev', A);
    ip('-6', 'route', 'add', 'fd80::/64', 'dev', A, 'metric', '77');
    ip('route', 'add', '10.81.0.0/24', 'dev', B);

    const onA = await rtnl.listRoutes({ index: indexA });
    const byDestination = new Map(onA.map((r) => [r.destination.toString(), r]));
    expect(byDestination.get('10.78.0.0/24')).toMatchObject({
      family: 4,
      index: indexA,
      protocol: MARK,
      scope: 'link',
      type: 'unicast',
      table: RT_TABLE_MAIN,
    });
    expect(byDestination.get('10.79.0.0/16')?.gateway?.toString()).toBe('10.76.0.254');
    expect(byDestination.get('10.80.0.0/24')).toMatchObject({
      protocol: RTPROT_BOOT,
      scope: 'link',
    });
    expect(byDestination.get('fd80::/64')).toMatchObject({ family: 6, metric: 77 });
    expect(byDestination.has('10.81.0.0/24')).toBe(false);
    expect(onA.every((r) => r.index === indexA && r.table === RT_TABLE_MAIN)).toBe(true);

    const marked = await rtnl.listRoutes({ index: indexA, protocol: MARK });
    expect(marked.map((r) => r.destination.toString()).sort()).toEqual([
      '10.78.0.0/24',
      '10.79.0.0/16',
      'fd78::/64',
    ]);
    const v6 = await rtnl.listRoutes({ index: indexA, family: 6, protocol: MARK });
    expect(v6.map((r) => r.destination.toString())).toEqual(['fd78::/64']);

    // The local table holds the interface's own addresses.
    const local = await rtnl.listRoutes({ index: indexA, family: 4, table: 'all' });
    expect(local).toContainEqual(
      expect.objectContaining({ type: 'local', destination: prefix('10.76.0.1/32') }),
    );
  });

  it('replaces a route, moving it to another interface', async () => {
    const route = { destination: prefix('10.78.0.0/24'), protocol: MARK };
    await rtnl.replaceRoute({ ...route, index: indexB });
    expect(ipRoutes(4, B).map((r) => r.dst)).toContain('10.78.0.0/24');
    expect(ipRoutes(4, A).map((r) => r.dst)).not.toContain('10.78.0.0/24');
    expect(
      (await rtnl.listRoutes({ index: indexB })).map((r) => r.destination.toString()),
    ).toContain('10.78.0.0/24');
    await rtnl.replaceRoute({ ...route, index: indexA });
    expect(ipRoutes(4, A).map((r) => r.dst)).toContain('10.78.0.0/24');
    expect(ipRoutes(4, B).map((r) => r.dst)).not.toContain('10.78.0.0/24');
  });

  it('deletes only routes with its mark when it names one', async () => {
    const wrongMark = await rejection(
      rtnl.deleteRoute({ destination: prefix('10.80.0.0/24'), index: indexA, protocol: MARK }),
    );
    expect(wrongMark.code).toBe('ESRCH');
    expect(wrongMark.operation).toBe('delete-route');
    expect(ipRoutes(4, A).map((r) => r.dst)).toContain('10.80.0.0/24');

    await rtnl.deleteRoute({ destination: prefix('10.78.0.0/24'), index: indexA, protocol: MARK });
    await rtnl.deleteRoute({ destination: prefix('fd78::/64'), index: indexA, protocol: MARK });
    await rtnl.deleteRoute({ destination: prefix('10.80.0.0/24'), index: indexA });
    expect(ipRoutes(4, A).map((r) => r.dst)).not.toContain('10.78.0.0/24');
    expect(ipRoutes(4, A).map((r) => r.dst)).not.toContain('10.80.0.0/24');
    expect(ipRoutes(6, A).map((r) => r.dst)).not.toContain('fd78::/64');

    const gone = await rejection(
      rtnl.deleteRoute({ destination: prefix('10.78.0.0/24'), index: indexA, protocol: MARK }),
    );
    expect(gone.code).toBe('ESRCH');
    expect(gone.message).toMatch(/no such route/);
  });

  it('fails with EEXIST for a route that is there and ENODEV for an unknown interface', async () => {
    await rtnl.addRoute({ destination: prefix('10.82.0.0/24'), index: indexA, protocol: MARK });
    const exists = await rejection(
      rtnl.addRoute({ destination: prefix('10.82.0.0/24'), index: indexA, protocol: MARK }),
    );
    expect(exists.code).toBe('EEXIST');
    expect(exists.operation).toBe('add-route');
    const noDevice = await rejection(
      rtnl.addRoute({ destination: prefix('10.83.0.0/24'), index: 0x7fff_fff0 }),
    );
    expect(noDevice.code).toBe('ENODEV');
  });
});

describe('one socket', () => {
  it('serves concurrent dumps one after the other', async () => {
    const [links, addresses, routes, again] = await Promise.all([
      rtnl.listLinks(),
      rtnl.listAddresses(),
      rtnl.listRoutes({ table: 'all' }),
      rtnl.listLinks(),
    ]);
    expect(links.length).toBeGreaterThanOrEqual(3);
    expect(addresses.length).toBeGreaterThan(0);
    expect(routes.length).toBeGreaterThan(0);
    expect(again.map((l) => l.index)).toEqual(links.map((l) => l.index));
  });

  it('fails every call after close() with ECLOSED', async () => {
    const other = openRtnetlink();
    const pending = other.listLinks();
    other.close();
    expect((await rejection(pending)).code).toBe('ECLOSED');
    expect((await rejection(other.listRoutes())).code).toBe('ECLOSED');
  });
});
