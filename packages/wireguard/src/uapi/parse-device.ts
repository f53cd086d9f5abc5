import { IpAddress, IpPrefix } from '@wg-dynamic/ip';
import type { Endpoint, Peer } from '../device.js';
import { InvalidKeyError } from '../errors.js';
import { Key, SecretKey } from '../key.js';
import { quoteValue, UapiProtocolError } from './answer-reader.js';

/** What a UAPI `get=1` answer says about a device (the rest comes from elsewhere). */
export interface UapiDeviceState {
  readonly privateKey: SecretKey | undefined;
  readonly listenPort: number;
  readonly firewallMark: number;
  readonly peers: readonly Peer[];
}

interface PeerState {
  publicKey: Key;
  hasPresharedKey: boolean;
  endpoint: Endpoint | undefined;
  persistentKeepaliveInterval: number;
  handshakeSeconds: bigint;
  handshakeNanoseconds: bigint;
  receiveBytes: bigint;
  transmitBytes: bigint;
  allowedIps: IpPrefix[];
  protocolVersion: number;
}

const U64_MAX = 0xffff_ffff_ffff_ffffn;
const S64_MAX = 0x7fff_ffff_ffff_ffffn;

/**
 * Turns the lines of a `get=1` answer into device state, line by line
 * (device keys first, then each peer from its `public_key=` on). Keys it does
 * not know are skipped (forks such as AmneziaWG add some); a known key with
 * a bad value, or a device key inside a peer, is an error.
 */
export class UapiDeviceParser {
  #privateKey: SecretKey | undefined;
  #listenPort = 0;
  #firewallMark = 0;
  readonly #peers: PeerState[] = [];
  #peer: PeerState | undefined;

  line(key: string, value: string, line: number): void {
    if (key === 'public_key') {
      this.#peer = {
        publicKey: parseKey(Key.fromHex, key, value, line),
        hasPresharedKey: false,
        endpoint: undefined,
        persistentKeepaliveInterval: 0,
        handshakeSeconds: 0n,
        handshakeNanoseconds: 0n,
        receiveBytes: 0n,
        transmitBytes: 0n,
        allowedIps: [],
        protocolVersion: 1,
      };
      this.#peers.push(this.#peer);
      return;
    }
    const peer = this.#peer;
    if (!peer) {
      switch (key) {
        case 'private_key': {
          const secret = parseKey(SecretKey.fromHex, key, value, line);
          this.#privateKey = secret.isZero() ? undefined : secret;
          return;
        }
        case 'listen_port':
          this.#listenPort = smallNumber(0xffff, key, value, line);
          return;
        case 'fwmark':
          this.#firewallMark = smallNumber(0xffff_ffff, key, value, line);
          return;
        default:
          if (peerKeys.has(key)) fail(key, value, line, 'a peer key before any public_key=');
          return;
      }
    }
    switch (key) {
      case 'preshared_key':
        peer.hasPresharedKey =
          value !== ZERO_KEY_HEX && !parseKey(SecretKey.fromHex, key, value, line).isZero();
        return;
      case 'endpoint':
        peer.endpoint =
          parseEndpoint(value) ?? fail(key, value, line, 'not address:port or [address]:port');
        return;
      case 'persistent_keepalive_interval':
        peer.persistentKeepaliveInterval = smallNumber(0xffff, key, value, line);
        return;
      case 'last_handshake_time_sec':
        peer.handshakeSeconds = bigNumber(S64_MAX, key, value, line);
        return;
      case 'last_handshake_time_nsec':
        peer.handshakeNanoseconds = BigInt(smallNumber(999_999_999, key, value, line));
        return;
      case 'rx_bytes':
        peer.receiveBytes = bigNumber(U64_MAX, key, value, line);
        return;
      case 'tx_bytes':
        peer.transmitBytes = bigNumber(U64_MAX, key, value, line);
        return;
      case 'protocol_version':
        peer.protocolVersion = smallNumber(0xffff_ffff, key, value, line);
        return;
      case 'allowed_ip': {
        const prefix = value.includes('/') ? IpPrefix.parse(value) : undefined;
        peer.allowedIps.push(prefix ?? fail(key, value, line, 'not address/length'));
        return;
      }
      default:
        if (deviceKeys.has(key)) fail(key, value, line, 'a device key after the peers began');
        return;
    }
  }

  finish(): UapiDeviceState {
    return {
      privateKey: this.#privateKey,
      listenPort: this.#listenPort,
      firewallMark: this.#firewallMark,
      peers: this.#peers.map(toPeer),
    };
  }
}

const deviceKeys = new Set(['private_key', 'listen_port', 'fwmark']);
const peerKeys = new Set([
  'preshared_key',
  'endpoint',
  'persistent_keepalive_interval',
  'last_handshake_time_sec',
  'last_handshake_time_nsec',
  'rx_bytes',
  'tx_bytes',
  'protocol_version',
  'allowed_ip',
]);

const ZERO_KEY_HEX = '0'.repeat(64);
const decimal = /^[0-9]{1,20}$/;

/** A bad value: the error names the key and what is wrong, and quotes the value unless it is a secret. */
function fail(key: string, value: string, line: number, problem: string): never {
  throw new UapiProtocolError(`${key}=${quoteValue(key, value)}: ${problem}`, line);
}

/** A decimal number up to `max` (at most 2^32 - 1, so a double holds it exactly). */
function smallNumber(max: number, key: string, value: string, line: number): number {
  if (value.length > 10 || !decimal.test(value)) fail(key, value, line, 'not a decimal number');
  const parsed = Number(value);
  if (parsed > max) fail(key, value, line, `above ${max}`);
  return parsed;
}

/** A decimal number up to `max`, as a bigint (counters and times reach 2^64 - 1). */
function bigNumber(max: bigint, key: string, value: string, line: number): bigint {
  if (!decimal.test(value)) fail(key, value, line, 'not a decimal number');
  if (value.length < 16) return BigInt(Number(value));
  const parsed = BigInt(value);
  if (parsed > max) fail(key, value, line, `above ${max}`);
  return parsed;
}

function parseKey<T>(parse: (hex: string) => T, key: string, value: string, line: number): T {
  try {
    return parse(value);
  } catch (error) {
    if (error instanceof InvalidKeyError) fail(key, value, line, 'not a 64-digit hex key');
    throw error;
  }
}

function toPeer(state: PeerState): Peer {
  const never = state.handshakeSeconds === 0n && state.handshakeNanoseconds === 0n;
  return {
    publicKey: state.publicKey,
    hasPresharedKey: state.hasPresharedKey,
    endpoint: state.endpoint,
    persistentKeepaliveInterval: state.persistentKeepaliveInterval,
    lastHandshake: never
      ? undefined
      : new Date(
          Number(state.handshakeSeconds) * 1000 + Number(state.handshakeNanoseconds / 1_000_000n),
        ),
    receiveBytes: state.receiveBytes,
    transmitBytes: state.transmitBytes,
    allowedIps: state.allowedIps,
    protocolVersion: state.protocolVersion,
  };
}

/**
 * `192.0.2.1:51820` or `[2001:db8::1]:51820`, as wireguard-go prints them
 * (Go's netip.AddrPort). An IPv6 zone (`[fe80::1%wg0]:51820`) is dropped: an
 * Endpoint has none.
 */
export function parseEndpoint(text: string): Endpoint | undefined {
  let host: string;
  let portText: string;
  if (text.startsWith('[')) {
    const close = text.indexOf(']:');
    if (close === -1) return undefined;
    host = text.slice(1, close);
    portText = text.slice(close + 2);
    const zone = host.indexOf('%');
    if (zone !== -1) host = host.slice(0, zone);
  } else {
    const colon = text.lastIndexOf(':');
    if (colon === -1) return undefined;
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
  }
  if (!/^[0-9]{1,5}$/.test(portText)) return undefined;
  const port = Number(portText);
  if (port > 0xffff) return undefined;
  const address = text.startsWith('[')
    ? IpAddress.parseFamily(6, host)
    : IpAddress.parseFamily(4, host);
  return address ? { address, port } : undefined;
}
