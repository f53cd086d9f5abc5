import { IpAddress, IpPrefix } from '@wg-dynamic/ip';
import { describe, expect, it } from 'vitest';

const ip = (s: string) => IpAddress.parse(s) as IpAddress;

describe('IpPrefix', () => {
  it('parses CIDR and bare addresses', () => {
    expect(IpPrefix.parse('192.168.4.0/28')?.toString()).toBe('192.168.4.0/28');
    expect(IpPrefix.parse('fe80::1')?.toString()).toBe('fe80::1/128');
    expect(IpPrefix.parse('10.0.0.1')?.toString()).toBe('10.0.0.1/32');
    expect(IpPrefix.parse('10.0.0.0/33')).toBeUndefined();
    expect(IpPrefix.parse('::/129')).toBeUndefined();
    expect(IpPrefix.parse('10.0.0.0/')).toBeUndefined();
    expect(IpPrefix.parse('10.0.0.0/+8')).toBeUndefined();
    expect(IpPrefix.parse('10.0.0.0/ 8')).toBeUndefined();
    expect(() => IpPrefix.from('nonsense')).toThrow(/"nonsense" is not an IP address/);
  });

  it('knows its network, bounds and size', () => {
    const p = IpPrefix.from('10.1.2.3/24');
    expect(p.isNetwork()).toBe(false);
    expect(p.network().toString()).toBe('10.1.2.0/24');
    expect(p.first().toString()).toBe('10.1.2.0');
    expect(p.last().toString()).toBe('10.1.2.255');
    expect(p.size).toBe(256n);
    expect(p.at(5n).toString()).toBe('10.1.2.5');
    expect(() => p.at(256n)).toThrow(RangeError);
    expect(IpPrefix.from('2001:db8::/64').size).toBe(1n << 64n);
    expect(IpPrefix.from('::/0').last().toString()).toBe('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff');
  });

  it('tests containment and overlap by family', () => {
    const pool = IpPrefix.from('192.168.4.0/28');
    expect(pool.contains(ip('192.168.4.15'))).toBe(true);
    expect(pool.contains(ip('192.168.4.16'))).toBe(false);
    expect(pool.contains(ip('::'))).toBe(false);
    expect(pool.covers(IpPrefix.from('192.168.4.8/29'))).toBe(true);
    expect(pool.covers(IpPrefix.from('192.168.4.0/27'))).toBe(false);
    expect(pool.overlaps(IpPrefix.from('192.168.4.0/27'))).toBe(true);
    expect(pool.overlaps(IpPrefix.from('192.168.4.16/28'))).toBe(false);
    expect(IpPrefix.from('::/0').covers(IpPrefix.from('fe80::/128'))).toBe(true);
    expect(IpPrefix.from('0.0.0.0/0').covers(IpPrefix.from('fe80::/128'))).toBe(false);
  });
});
