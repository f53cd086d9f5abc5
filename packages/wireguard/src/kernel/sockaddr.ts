import { IpAddress } from '@wg-dynamic/ip';
import type { Endpoint } from '../device.js';
import { hostLittleEndian, viewOf } from '../netlink/byte-order.js';
import { NetlinkDecodeError } from '../netlink/errors.js';
import { AF_INET, AF_INET6, SOCKADDR_IN_LENGTH, SOCKADDR_IN6_LENGTH } from './constants.js';

/**
 * struct sockaddr_in (16 bytes: family in host order, port big-endian,
 * address, zero padding) or struct sockaddr_in6 (28 bytes: family, port,
 * flow info, address, scope id), as WGPEER_A_ENDPOINT carries them.
 */
export function encodeSockaddr(endpoint: Endpoint): Uint8Array {
  const v4 = endpoint.address.family === 4;
  const bytes = new Uint8Array(v4 ? SOCKADDR_IN_LENGTH : SOCKADDR_IN6_LENGTH);
  const view = viewOf(bytes);
  view.setUint16(0, v4 ? AF_INET : AF_INET6, hostLittleEndian);
  view.setUint16(2, endpoint.port, false);
  bytes.set(endpoint.address.bytes, v4 ? 4 : 8);
  return bytes;
}

/** Reads a WGPEER_A_ENDPOINT; its length must match its family. The IPv6 scope id is dropped. */
export function decodeSockaddr(bytes: Uint8Array, where: string): Endpoint {
  if (bytes.length < 2) throw new NetlinkDecodeError(where, `${bytes.length}-byte sockaddr`);
  const view = viewOf(bytes);
  const family = view.getUint16(0, hostLittleEndian);
  if (family === AF_INET && bytes.length === SOCKADDR_IN_LENGTH) {
    return { address: IpAddress.fromBytes(bytes.subarray(4, 8)), port: view.getUint16(2, false) };
  }
  if (family === AF_INET6 && bytes.length === SOCKADDR_IN6_LENGTH) {
    return { address: IpAddress.fromBytes(bytes.subarray(8, 24)), port: view.getUint16(2, false) };
  }
  throw new NetlinkDecodeError(where, `sockaddr of family ${family} with ${bytes.length} bytes`);
}
