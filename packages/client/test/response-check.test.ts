import { checkResponse, type Families } from '@wg-dynamic/client';
import { IpAddress, IpPrefix } from '@wg-dynamic/ip';
import { type Response, ResponseParser } from '@wg-dynamic/protocol';
import { describe, expect, it } from 'vitest';

function response(text: string): Response {
  const events = new ResponseParser().push(Buffer.from(text, 'latin1'));
  const [event] = events;
  if (event === undefined || !event.ok) throw new Error(`test response does not parse: ${text}`);
  return event.message;
}

const both: Families = { 4: true, 6: true };
const lease = 'leasestart=1700000000\nleasetime=3600\n';
const check = (text: string, asked: Families = both, acceptDefaultRoute = false) =>
  checkResponse(response(text), { asked, acceptDefaultRoute });

describe('checkResponse', () => {
  it('errno 0 with both addresses: everything granted', () => {
    const verdict = check(`ip=192.168.4.3/32\nip=2001:db8::7/128\n${lease}errno=0\n\n`);
    expect(verdict.kind).toBe('granted');
    if (verdict.kind !== 'granted') return;
    expect(String(verdict.grant.addresses[4])).toBe('192.168.4.3');
    expect(String(verdict.grant.addresses[6])).toBe('2001:db8::7');
    expect(verdict.grant.leaseStart).toBe(1_700_000_000);
    expect(verdict.grant.leaseTime).toBe(3600);
    expect(verdict.missing).toEqual([]);
    expect(verdict.grant.routes).toEqual([]);
  });

  it('errno 3: what is in the response was granted, the rest is missing', () => {
    const verdict = check(
      `ip=192.168.4.3/32\n${lease}errno=3\nerrmsg=Chosen IP(s) unavailable\n\n`,
    );
    expect(verdict).toMatchObject({
      kind: 'granted',
      missing: [6],
      errmsg: 'Chosen IP(s) unavailable',
    });
  });

  it('errno 3 with nothing: granted nothing, both missing', () => {
    const verdict = check('errno=3\nerrmsg=Chosen IP(s) unavailable\n\n');
    expect(verdict).toMatchObject({ kind: 'granted', missing: [4, 6], grant: { addresses: {} } });
  });

  it.each([
    [1, 'Invalid request'],
    [2, 'Unsupported protocol'],
    [77, 'Something new'],
  ])('errno %i is a failure, whatever else the response holds', (errno, errmsg) => {
    expect(check(`ip=192.168.4.3/32\n${lease}errno=${errno}\nerrmsg=${errmsg}\n\n`)).toEqual({
      kind: 'failed',
      errno,
      errmsg,
    });
  });

  it.each([
    ['169.254.1.1', 'link-local'],
    ['fe80::1', 'link-local'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['ff02::1', 'multicast'],
    ['127.0.0.1', 'loopback'],
    ['::1', 'loopback'],
    ['0.0.0.0', 'this network'],
    ['0.1.2.3', 'this network'],
    ['::', 'unspecified'],
    ['255.255.255.255', 'broadcast'],
    ['::ffff:10.0.0.1', 'IPv4-mapped'],
  ])('refuses the whole response when it leases %s (%s)', (address, why) => {
    const other = address.includes(':') ? 'ip=10.0.0.2/32\n' : 'ip=fd00::2/128\n';
    const verdict = check(`${other}ip=${address}\n${lease}errno=0\n\n`);
    expect(verdict.kind).toBe('refused');
    if (verdict.kind === 'refused') {
      expect(verdict.reason).toContain(address);
      expect(verdict.reason).toContain(why);
    }
  });

  it('refuses an address of a family that was not asked for', () => {
    const verdict = check(`ip=10.0.0.2/32\nip=fd00::2/128\n${lease}errno=0\n\n`, {
      4: false,
      6: true,
    });
    expect(verdict.kind).toBe('refused');
    if (verdict.kind === 'refused') expect(verdict.reason).toMatch(/no IPv4 address was asked for/);
  });

  it('refuses a lease of 0 seconds', () => {
    expect(check('ip=10.0.0.2/32\nleasestart=1\nleasetime=0\nerrno=0\n\n').kind).toBe('refused');
  });

  it('takes routes only when the server answered ext=route', () => {
    const withExt = check(
      `ip=10.0.0.2/32\n${lease}ext=route\nroute=10.0.0.0/8\nroute=fd00::/8\nerrno=0\n\n`,
    );
    expect(withExt.kind === 'granted' && withExt.grant.routes.map(String)).toEqual([
      '10.0.0.0/8',
      'fd00::/8',
    ]);
    const without = check(`ip=10.0.0.2/32\n${lease}route=10.0.0.0/8\nerrno=0\n\n`);
    expect(without.kind === 'granted' && without.grant.routes).toEqual([]);
  });

  it('drops duplicate routes and takes none without a lease', () => {
    const verdict = check(
      `ip=10.0.0.2/32\n${lease}ext=route\nroute=10.0.0.0/8\nroute=10.0.0.0/8\nerrno=0\n\n`,
    );
    expect(verdict.kind === 'granted' && verdict.grant.routes.map(String)).toEqual(['10.0.0.0/8']);
    const none = check('ext=route\nroute=10.0.0.0/8\nerrno=3\nerrmsg=x\n\n');
    expect(none.kind === 'granted' && none.grant.routes).toEqual([]);
  });

  it.each([
    '169.254.0.0/16',
    '169.254.7.0/24',
    'fe80::/64',
    '224.0.0.0/4',
    'ff00::/8',
    'ff02::/16',
    '127.0.0.0/8',
    '::1/128',
    '::/128',
    '0.0.0.0/8',
    '255.255.255.255/32',
  ])('refuses the whole response for the unsafe route %s', (route) => {
    const verdict = check(
      `ip=10.0.0.2/32\n${lease}ext=route\nroute=10.9.0.0/16\nroute=${route}\nerrno=0\n\n`,
    );
    expect(verdict.kind).toBe('refused');
    if (verdict.kind === 'refused') expect(verdict.reason).toContain(route);
  });

  it('accepts wide routes that merely contain special ranges', () => {
    const verdict = check(
      `ip=10.0.0.2/32\nip=fd00::2/128\n${lease}ext=route\nroute=0.0.0.0/1\nroute=128.0.0.0/1\nroute=::/1\nroute=8000::/1\nerrno=0\n\n`,
    );
    expect(verdict.kind === 'granted' && verdict.grant.routes.length).toBe(4);
  });

  it('leaves out a default route unless accepted, keeping the rest', () => {
    const text = `ip=10.0.0.2/32\nip=fd00::2/128\n${lease}ext=route\nroute=0.0.0.0/0\nroute=::/0\nroute=10.0.0.0/8\nerrno=0\n\n`;
    const refused = check(text);
    expect(refused.kind).toBe('granted');
    if (refused.kind !== 'granted') return;
    expect(refused.grant.routes.map(String)).toEqual(['10.0.0.0/8']);
    expect(refused.skippedRoutes.map((s) => String(s.route))).toEqual(['0.0.0.0/0', '::/0']);
    const accepted = check(text, both, true);
    expect(accepted.kind === 'granted' && accepted.grant.routes.map(String)).toEqual([
      '0.0.0.0/0',
      '::/0',
      '10.0.0.0/8',
    ]);
  });

  it('leaves out routes of a family it did not ask for', () => {
    const verdict = check(
      `ip=fd00::2/128\n${lease}ext=route\nroute=10.0.0.0/8\nroute=fd00::/8\nerrno=0\n\n`,
      { 4: false, 6: true },
    );
    expect(verdict.kind === 'granted' && verdict.grant.routes.map(String)).toEqual(['fd00::/8']);
    expect(verdict.kind === 'granted' && verdict.skippedRoutes[0]?.reason).toMatch(/IPv4/);
  });
});

describe('checkResponse: delegated prefixes', () => {
  const wants = {
    4: { kind: 'new', length: 28 },
    6: { kind: 'new', length: 64 },
  } as const;
  const ips = `ip=192.168.4.3/32\nip=2001:db8::7/128\n${lease}`;
  const checkPrefix = (
    text: string,
    prefixes: Parameters<typeof checkResponse>[1]['prefixes'] = wants,
  ) => checkResponse(response(text), { asked: both, acceptDefaultRoute: false, prefixes });

  it('a server that applied the extension: the prefixes are granted', () => {
    const verdict = checkPrefix(
      `${ips}ext=route,prefix\nprefix=10.200.0.16/28\nprefix=2001:db8:100:5::/64\nerrno=0\n\n`,
    );
    expect(verdict).toMatchObject({ kind: 'granted', delegates: true, missingPrefixes: [] });
    if (verdict.kind !== 'granted') return;
    expect(String(verdict.grant.prefixes[4])).toBe('10.200.0.16/28');
    expect(String(verdict.grant.prefixes[6])).toBe('2001:db8:100:5::/64');
  });

  it('a server that did not (a v1 server): no prefix, nothing missing, the addresses stand', () => {
    const verdict = checkPrefix(`${ips}errno=0\n\n`);
    expect(verdict).toMatchObject({ kind: 'granted', delegates: false, missingPrefixes: [] });
    if (verdict.kind !== 'granted') return;
    expect(verdict.grant.prefixes).toEqual({});
    expect(String(verdict.grant.addresses[6])).toBe('2001:db8::7');
  });

  it('prefix= lines without ext=prefix are not trusted', () => {
    const verdict = checkPrefix(`${ips}ext=route\nprefix=2001:db8:100:5::/64\nerrno=0\n\n`);
    expect(verdict).toMatchObject({ kind: 'granted', delegates: false });
    if (verdict.kind === 'granted') expect(verdict.grant.prefixes).toEqual({});
  });

  it('a delegating server that leaves a family out: that prefix is missing (errno 3)', () => {
    const verdict = checkPrefix(
      `${ips}ext=prefix\nprefix=2001:db8:100:5::/64\nerrno=3\nerrmsg=Chosen IP(s) unavailable\n\n`,
    );
    expect(verdict).toMatchObject({ kind: 'granted', missing: [], missingPrefixes: [4] });
  });

  it('no prefix without an address: nothing is leased', () => {
    const verdict = checkPrefix('errno=3\nerrmsg=Chosen IP(s) unavailable\n\n');
    expect(verdict).toMatchObject({
      kind: 'granted',
      missingPrefixes: [],
      grant: { prefixes: {} },
    });
  });

  it.each([
    [
      'a family not asked for',
      'prefix=10.200.0.16/28',
      { 6: wants[6] },
      /no IPv4 prefix was asked for/,
    ],
    [
      'a prefix shorter than asked',
      'prefix=2001:db8:100::/56',
      wants,
      /shorter than the \/64 asked for/,
    ],
    [
      'another prefix than the one named',
      'prefix=2001:db8:100:6::/64',
      { 6: { kind: 'specific', prefix: IpPrefix.from('2001:db8:100:5::/64') } },
      /2001:db8:100:5::\/64 was asked for/,
    ],
    ['a link-local prefix', 'prefix=fe80::/64', wants, /link-local/],
    ['a multicast prefix', 'prefix=ff05::/64', wants, /multicast/],
    ['a loopback prefix', 'prefix=127.0.0.0/28', { 4: { kind: 'new', length: 8 } }, /loopback/],
    [
      'a prefix holding the unspecified address',
      'prefix=::/1',
      { 6: { kind: 'new', length: 1 } },
      /unspecified/,
    ],
    [
      'a prefix holding the tunnel address',
      'prefix=2001:db8::/64',
      wants,
      /this host's own tunnel address 2001:db8::7/,
    ],
    [
      'an IPv4 prefix holding the tunnel address',
      'prefix=192.168.4.0/28',
      wants,
      /own tunnel address 192.168.4.3/,
    ],
  ] as const)('refuses %s', (_, line, prefixes, reason) => {
    const verdict = checkPrefix(`${ips}ext=prefix\n${line}\nerrno=0\n\n`, prefixes);
    expect(verdict.kind).toBe('refused');
    if (verdict.kind === 'refused') {
      expect(verdict.reason).toMatch(/^the server delegated the prefix /);
      expect(verdict.reason).toMatch(reason);
    }
  });

  it('refuses a prefix with host bits set (the codec refuses it already; this check does not rely on that)', () => {
    const parsed = response(`${ips}ext=prefix\nerrno=0\n\n`);
    const hostBits = new IpPrefix(IpAddress.parse('2001:db8:100:5::1') as IpAddress, 64);
    const verdict = checkResponse(
      { ...parsed, prefix: { 6: hostBits } },
      { asked: both, acceptDefaultRoute: false, prefixes: wants },
    );
    expect(verdict).toMatchObject({ kind: 'refused' });
    if (verdict.kind === 'refused') expect(verdict.reason).toMatch(/host bits/);
  });

  it('a longer prefix than asked will do', () => {
    const verdict = checkPrefix(`${ips}ext=prefix\nprefix=2001:db8:100:5::/72\nerrno=0\n\n`);
    expect(verdict.kind).toBe('granted');
  });
});
