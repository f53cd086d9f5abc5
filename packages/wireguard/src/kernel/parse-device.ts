import { IpAddress, IpPrefix } from '@wg-dynamic/ip';
import type { Device, Endpoint, Peer } from '../device.js';
import { Key, SecretKey, WG_KEY_LEN } from '../key.js';
import type { Attribute } from '../netlink/attribute-decoder.js';
import { AttributeDecoder } from '../netlink/attribute-decoder.js';
import { hostLittleEndian, viewOf } from '../netlink/byte-order.js';
import { NetlinkDecodeError } from '../netlink/errors.js';
import {
  AF_INET,
  AF_INET6,
  KERNEL_TIMESPEC_LENGTH,
  WGALLOWEDIP_A_CIDR_MASK,
  WGALLOWEDIP_A_FAMILY,
  WGALLOWEDIP_A_IPADDR,
  WGDEVICE_A_FWMARK,
  WGDEVICE_A_IFINDEX,
  WGDEVICE_A_IFNAME,
  WGDEVICE_A_LISTEN_PORT,
  WGDEVICE_A_PEERS,
  WGDEVICE_A_PRIVATE_KEY,
  WGDEVICE_A_PUBLIC_KEY,
  WGPEER_A_ALLOWEDIPS,
  WGPEER_A_ENDPOINT,
  WGPEER_A_LAST_HANDSHAKE_TIME,
  WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL,
  WGPEER_A_PRESHARED_KEY,
  WGPEER_A_PROTOCOL_VERSION,
  WGPEER_A_PUBLIC_KEY,
  WGPEER_A_RX_BYTES,
  WGPEER_A_TX_BYTES,
} from './constants.js';
import { decodeSockaddr } from './sockaddr.js';

interface PeerState {
  publicKey: Key;
  hasPresharedKey: boolean;
  endpoint: Endpoint | undefined;
  persistentKeepaliveInterval: number;
  lastHandshake: Date | undefined;
  receiveBytes: bigint;
  transmitBytes: bigint;
  allowedIps: IpPrefix[];
  protocolVersion: number;
}

/**
 * Builds a Device from the messages of one WG_CMD_GET_DEVICE dump. The
 * kernel may split a device over several messages (the later ones carry only
 * WGDEVICE_A_IFNAME and more peers) and a peer over several messages (the
 * later ones carry only its public key and more allowed-ips): entries are
 * merged by public key. Array entries may have any index (the kernel uses 0
 * for all of them).
 */
export class DeviceDumpReader {
  readonly #name: string;
  #index: number | undefined;
  #privateKey: SecretKey | undefined;
  #publicKey: Key | undefined;
  #listenPort = 0;
  #firewallMark = 0;
  readonly #peers = new Map<string, PeerState>();

  constructor(name: string) {
    this.#name = name;
  }

  /** Reads the attributes of one message of the dump. */
  add(attributes: Uint8Array): void {
    for (const attribute of new AttributeDecoder(attributes, 'WG_CMD_GET_DEVICE')) {
      switch (attribute.type) {
        case WGDEVICE_A_IFINDEX:
          this.#index = attribute.u32();
          break;
        case WGDEVICE_A_PRIVATE_KEY: {
          const key = SecretKey.fromBytes(attribute.bytes(WG_KEY_LEN));
          this.#privateKey = key.isZero() ? undefined : key;
          break;
        }
        case WGDEVICE_A_PUBLIC_KEY: {
          const key = Key.fromBytes(attribute.bytes(WG_KEY_LEN));
          this.#publicKey = key.isZero() ? undefined : key;
          break;
        }
        case WGDEVICE_A_LISTEN_PORT:
          this.#listenPort = attribute.u16();
          break;
        case WGDEVICE_A_FWMARK:
          this.#firewallMark = attribute.u32();
          break;
        case WGDEVICE_A_PEERS:
          for (const entry of attribute.nested('WGDEVICE_A_PEERS')) this.#addPeer(entry);
          break;
        case WGDEVICE_A_IFNAME:
          attribute.string();
          break;
        default:
          // Attributes a newer kernel may add are skipped.
          break;
      }
    }
  }

  /** The device, once every message was added. */
  finish(): Device {
    if (this.#index === undefined) {
      throw new NetlinkDecodeError('WG_CMD_GET_DEVICE', 'the dump has no WGDEVICE_A_IFINDEX');
    }
    const peers: Peer[] = [];
    for (const peer of this.#peers.values()) peers.push({ ...peer });
    return {
      name: this.#name,
      index: this.#index,
      backend: 'kernel',
      privateKey: this.#privateKey,
      publicKey: this.#publicKey,
      listenPort: this.#listenPort,
      firewallMark: this.#firewallMark,
      peers,
    };
  }

  #addPeer(entry: Attribute): void {
    let publicKey: Key | undefined;
    const fields: Partial<PeerState> = {};
    const allowedIps: IpPrefix[] = [];
    for (const attribute of entry.nested('peer')) {
      switch (attribute.type) {
        case WGPEER_A_PUBLIC_KEY:
          publicKey = Key.fromBytes(attribute.bytes(WG_KEY_LEN));
          break;
        case WGPEER_A_PRESHARED_KEY:
          fields.hasPresharedKey = attribute.bytes(WG_KEY_LEN).some((byte) => byte !== 0);
          break;
        case WGPEER_A_ENDPOINT:
          fields.endpoint = decodeSockaddr(attribute.payload, attribute.where);
          break;
        case WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL:
          fields.persistentKeepaliveInterval = attribute.u16();
          break;
        case WGPEER_A_LAST_HANDSHAKE_TIME:
          fields.lastHandshake = decodeTimespec(attribute);
          break;
        case WGPEER_A_RX_BYTES:
          fields.receiveBytes = attribute.u64();
          break;
        case WGPEER_A_TX_BYTES:
          fields.transmitBytes = attribute.u64();
          break;
        case WGPEER_A_PROTOCOL_VERSION:
          fields.protocolVersion = attribute.u32();
          break;
        case WGPEER_A_ALLOWEDIPS:
          for (const item of attribute.nested('WGPEER_A_ALLOWEDIPS'))
            allowedIps.push(decodeAllowedIp(item));
          break;
        default:
          break;
      }
    }
    if (!publicKey) throw new NetlinkDecodeError(entry.where, 'a peer without WGPEER_A_PUBLIC_KEY');
    const hex = publicKey.toHex();
    const known = this.#peers.get(hex);
    if (known) {
      // A continuation: more allowed-ips (and, from an odd sender, fields).
      Object.assign(known, fields);
      for (const prefix of allowedIps) known.allowedIps.push(prefix);
      return;
    }
    this.#peers.set(hex, {
      publicKey,
      hasPresharedKey: fields.hasPresharedKey ?? false,
      endpoint: fields.endpoint,
      persistentKeepaliveInterval: fields.persistentKeepaliveInterval ?? 0,
      lastHandshake: fields.lastHandshake,
      receiveBytes: fields.receiveBytes ?? 0n,
      transmitBytes: fields.transmitBytes ?? 0n,
      allowedIps,
      protocolVersion: fields.protocolVersion ?? 1,
    });
  }
}

/** struct __kernel_timespec (s64 seconds, s64 nanoseconds); all zero means never. */
function decodeTimespec(attribute: Attribute): Date | undefined {
  const view = viewOf(attribute.bytes(KERNEL_TIMESPEC_LENGTH));
  const seconds = view.getBigInt64(0, hostLittleEndian);
  const nanoseconds = view.getBigInt64(8, hostLittleEndian);
  if (seconds === 0n && nanoseconds === 0n) return undefined;
  if (seconds < 0n || nanoseconds < 0n || nanoseconds >= 1_000_000_000n) {
    throw new NetlinkDecodeError(attribute.where, `handshake time ${seconds}s ${nanoseconds}ns`);
  }
  return new Date(Number(seconds) * 1000 + Number(nanoseconds / 1_000_000n));
}

/** One entry of WGPEER_A_ALLOWEDIPS: family, address of that family's size, prefix length within it. */
function decodeAllowedIp(item: Attribute): IpPrefix {
  let family: number | undefined;
  let address: Uint8Array | undefined;
  let length: number | undefined;
  for (const attribute of item.nested('allowed-ip')) {
    if (attribute.type === WGALLOWEDIP_A_FAMILY) family = attribute.u16();
    else if (attribute.type === WGALLOWEDIP_A_IPADDR) address = attribute.bytes();
    else if (attribute.type === WGALLOWEDIP_A_CIDR_MASK) length = attribute.u8();
  }
  if (family === undefined || address === undefined || length === undefined) {
    throw new NetlinkDecodeError(item.where, 'an allowed-ip lacks its family, address or mask');
  }
  const expected = family === AF_INET ? 4 : family === AF_INET6 ? 16 : undefined;
  if (expected === undefined || address.length !== expected) {
    throw new NetlinkDecodeError(
      item.where,
      `family ${family} with a ${address.length}-byte address`,
    );
  }
  const ip = IpAddress.fromBytes(address);
  if (length > (expected === 4 ? 32 : 128)) {
    throw new NetlinkDecodeError(
      item.where,
      `/${length} for an IPv${expected === 4 ? 4 : 6} address`,
    );
  }
  return new IpPrefix(ip, length);
}
