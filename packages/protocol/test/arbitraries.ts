import { IpAddress, IpPrefix } from '@wg-dynamic/ip';
import {
  type AddressRequest,
  MAX_NUMBER,
  NEW_ADDRESS,
  type PrefixRequest,
  prefixRequest,
  RELEASE,
  RELEASE_PREFIX,
  type RequestFields,
  type ResponseFields,
  specificAddress,
} from '@wg-dynamic/protocol';
import fc from 'fast-check';

export const ipv4 = fc
  .uint8Array({ minLength: 4, maxLength: 4 })
  .map((bytes) => IpAddress.fromBytes(bytes));
export const ipv6 = fc
  .uint8Array({ minLength: 16, maxLength: 16 })
  .map((bytes) => IpAddress.fromBytes(bytes));

const addressRequest = (address: fc.Arbitrary<IpAddress>): fc.Arbitrary<AddressRequest> =>
  fc.oneof(fc.constant(RELEASE), fc.constant(NEW_ADDRESS), address.map(specificAddress));

export const extensionName = fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,11}$/);

const delegated = (address: fc.Arbitrary<IpAddress>, bits: number) =>
  fc
    .tuple(address, fc.integer({ min: 1, max: bits }))
    .map(([a, length]) => new IpPrefix(a, length).network());

const prefixRequestOf = (
  address: fc.Arbitrary<IpAddress>,
  bits: number,
): fc.Arbitrary<PrefixRequest> =>
  fc.oneof(fc.constant(RELEASE_PREFIX), delegated(address, bits).map(prefixRequest));
const uint32 = fc.integer({ min: 0, max: MAX_NUMBER });

export const requestFields: fc.Arbitrary<RequestFields> = fc.record(
  {
    ip: fc.record({ 4: addressRequest(ipv4), 6: addressRequest(ipv6) }),
    prefix: fc.record({ 4: prefixRequestOf(ipv4, 32), 6: prefixRequestOf(ipv6, 128) }),
    extensions: fc.uniqueArray(fc.oneof(extensionName, fc.constant('prefix')), { maxLength: 5 }),
    leaseStart: uint32,
    leaseTime: uint32,
  },
  { requiredKeys: ['ip'] },
);

const networkPrefix = fc
  .tuple(fc.oneof(ipv4, ipv6), fc.integer({ min: 0, max: 128 }))
  .map(([address, length]) =>
    new IpPrefix(address, Math.min(length, address.family === 4 ? 32 : 128)).network(),
  );

/** errmsg text: any byte but newline and NUL (latin1, as the codec reads bytes). */
const errmsg = fc
  .array(fc.integer({ min: 1, max: 255 }).filter((c) => c !== 10))
  .map((codes) => String.fromCharCode(...codes));

export const responseFields: fc.Arbitrary<ResponseFields> = fc
  .record({
    errno: fc.oneof(fc.constantFrom(0, 1, 2, 3), uint32),
    errmsg: fc.option(errmsg, { nil: undefined }),
    v4: fc.option(ipv4, { nil: undefined }),
    v6: fc.option(ipv6, { nil: undefined }),
    leaseStart: uint32,
    leaseTime: uint32,
    extensions: fc.uniqueArray(extensionName, { maxLength: 5 }),
    routes: fc.array(networkPrefix, { maxLength: 5 }),
    p4: fc.option(delegated(ipv4, 32), { nil: undefined }),
    p6: fc.option(delegated(ipv6, 128), { nil: undefined }),
  })
  .map(({ v4, v6, p4, p6, errmsg, ...rest }) => {
    const ip: { 4?: IpAddress; 6?: IpAddress } = {};
    if (v4) ip[4] = v4;
    if (v6) ip[6] = v6;
    const prefix: { 4?: IpPrefix; 6?: IpPrefix } = {};
    if (p4) prefix[4] = p4;
    if (p6) prefix[6] = p6;
    return errmsg === undefined ? { ...rest, ip, prefix } : { ...rest, ip, prefix, errmsg };
  });

/** Splits bytes at random points into chunks (each at least one byte). */
export function chunked(bytes: Uint8Array): fc.Arbitrary<Uint8Array[]> {
  return fc
    .uniqueArray(fc.integer({ min: 1, max: Math.max(1, bytes.length - 1) }), {
      maxLength: Math.min(20, bytes.length),
    })
    .map((cuts) => {
      const points = [
        0,
        ...cuts.filter((c) => c < bytes.length).sort((a, b) => a - b),
        bytes.length,
      ];
      const chunks: Uint8Array[] = [];
      for (let i = 1; i < points.length; i++) {
        const from = points[i - 1] ?? 0;
        const to = points[i] ?? 0;
        if (to > from) chunks.push(bytes.subarray(from, to));
      }
      return chunks;
    });
}
