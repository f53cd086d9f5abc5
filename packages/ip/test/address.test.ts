import { IpAddress } from '@wg-dynamic/ip';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

// Expected strings are what glibc's inet_ntop(3) prints for these bytes.
describe('IpAddress text forms', () => {
  it.each([
    ['::', '::'],
    ['::1', '::1'],
    ['1::', '1::'],
    ['fe80::', 'fe80::'],
    ['FE80:0:0:0:0:0:0:1', 'fe80::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    ['2001:0db8:0000:0000:0000:0000:0002:0001', '2001:db8::2:1'],
    ['1:0:0:2:0:0:0:3', '1:0:0:2::3'],
    ['::ffff:1.2.3.4', '::ffff:1.2.3.4'],
    ['::ffff:0102:0304', '::ffff:1.2.3.4'],
    ['::1.2.3.4', '::1.2.3.4'],
    ['::0.0.1.2', '::102'],
    ['::ffff:0:0', '::ffff:0.0.0.0'],
    ['0:0:0:0:0:1:0:0', '::1:0:0'],
    ['1:2:3:4:5:6:7::', '1:2:3:4:5:6:7:0'],
    ['::2:3:4:5:6:7:8', '0:2:3:4:5:6:7:8'],
    ['fe80::badc:ffe:e0dd:f00d', 'fe80::badc:ffe:e0dd:f00d'],
    ['0.0.0.0', '0.0.0.0'],
    ['255.255.255.255', '255.255.255.255'],
    ['192.168.4.3', '192.168.4.3'],
  ])('%s prints as %s', (input, printed) => {
    expect(IpAddress.parse(input)?.toString()).toBe(printed);
  });

  // Inputs glibc's inet_pton(3) refuses for both families.
  it.each([
    '',
    '1.2.3',
    '1.2.3.4.',
    '1.2.3.4.5',
    '01.2.3.4',
    '1.2.3.256',
    '0x7f.0.0.1',
    ' 1.2.3.4',
    '1.2.3.4 ',
    '1.2.3.4/32',
    ':',
    ':1',
    '1:',
    ':::',
    '1:::2',
    '1::2::3',
    '12345::',
    '1:2:3:4:5:6:7:8:9',
    '1:2:3:4:5:6:7:8::',
    '::1:2:3:4:5:6:7:8',
    'fe80::1%wg0',
    '::ffff:1.2.3',
    '::ffff:1.2.3.4:5',
    '1:2:3:4:5:6:7:1.2.3.4',
    'g::',
  ])('%j is not an address', (input) => {
    expect(IpAddress.parse(input)).toBeUndefined();
  });

  it('accepts seven words around a "::" that stands for one word', () => {
    expect(IpAddress.parse('1:2:3::5:6:7:8')?.toString()).toBe('1:2:3:0:5:6:7:8');
    expect(IpAddress.parse('1:2:3:4:5:6::1.2.3.4')).toBeUndefined();
    expect(IpAddress.parse('1:2:3:4:5::1.2.3.4')?.toString()).toBe('1:2:3:4:5:0:102:304');
  });

  it('round-trips every address through its printed form', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ minLength: 4, maxLength: 4 }),
          fc.uint8Array({ minLength: 16, maxLength: 16 }),
        ),
        (bytes) => {
          const address = IpAddress.fromBytes(bytes);
          const reparsed = IpAddress.parse(address.toString());
          expect(reparsed?.equals(address)).toBe(true);
        },
      ),
    );
  });

  it('agrees with Node on which IPv6 texts are addresses', async () => {
    const { isIPv6 } = await import('node:net');
    fc.assert(
      fc.property(fc.ipV6(), (text) => {
        expect(IpAddress.parse(text) !== undefined).toBe(isIPv6(text));
      }),
    );
  });

  it('converts to and from integers', () => {
    const a = IpAddress.parse('10.0.0.255');
    expect(a?.toBigInt()).toBe(0x0a0000ffn);
    expect(IpAddress.parse('255.255.255.255')?.toBigInt()).toBe(0xffff_ffffn);
    expect(IpAddress.fromBigInt(6, 1n).toString()).toBe('::1');
    expect(IpAddress.fromBigInt(6, (1n << 128n) - 1n).toString()).toBe(
      'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
    );
    expect(() => IpAddress.fromBigInt(4, 1n << 32n)).toThrow(RangeError);
    expect(() => IpAddress.fromBigInt(6, 1n << 128n)).toThrow(RangeError);
    expect(() => IpAddress.fromBigInt(4, -1n)).toThrow(RangeError);
  });

  it('reads integers as the bytes in network order define them, both ways', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ minLength: 4, maxLength: 4 }),
          fc.uint8Array({ minLength: 16, maxLength: 16 }),
        ),
        (bytes) => {
          let value = 0n;
          for (const byte of bytes) value = (value << 8n) | BigInt(byte);
          const address = IpAddress.fromBytes(bytes);
          expect(address.toBigInt()).toBe(value);
          expect(IpAddress.fromBigInt(address.family, value).equals(address)).toBe(true);
        },
      ),
    );
  });

  it('classifies special addresses', () => {
    const p = (s: string) => IpAddress.parse(s) as IpAddress;
    expect(p('fe80::1').isLinkLocal()).toBe(true);
    expect(p('febf::1').isLinkLocal()).toBe(true);
    expect(p('fec0::1').isLinkLocal()).toBe(false);
    expect(p('169.254.1.1').isLinkLocal()).toBe(true);
    expect(p('224.0.0.1').isMulticast()).toBe(true);
    expect(p('ff02::1').isMulticast()).toBe(true);
    expect(p('127.0.0.2').isLoopback()).toBe(true);
    expect(p('::1').isLoopback()).toBe(true);
    expect(p('::').isUnspecified()).toBe(true);
    expect(p('255.255.255.255').isBroadcast()).toBe(true);
  });
});
