import { IpAddress, IpPrefix } from '@wg-dynamic/ip';
import type { Endpoint, Peer } from '../device.js';
import { InvalidKeyError } from '../errors.js';
import { Key, SecretKey } from '../key.js';
import { quote, UapiProtocolError } from './answer-reader.js';

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
    const fail = (problem: string): never => {
      throw new UapiProtocolError(`${key}=${quote(value)}: ${problem}`, line);
    };
    const number = (max: bigint): bigint => {
      if (!/^[0-9]{1,20}$/.test(value)) fail('not a decimal number');
      const parsed = BigInt(value);
      if (parsed > max) fail(`above ${max}`);
      return parsed;
    };
    if (key === 'public_key') {
      this.#peer = {
        publicKey: hexKey(() => Key.fromHex(value), fail),
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
          const secret = hexKey(() => SecretKey.fromHex(value), fail);
          this.#privateKey = secret.isZero() ? undefined : secret;
          return;
        }
        case 'listen_port':
          this.#listenPort = Number(number(0xffffn));
          return;
        case 'fwmark':
          this.#firewallMark = Number(number(0xffff_ffffn));
          return;
        default:
          if (peerKeys.has(key)) fail('a peer key before any public_key=');
          return;
      }
    }
    switch (key) {
      case 'preshared_key':
        peer.hasPresharedKey = !hexKey(() => SecretKey.fromHex(value), fail).isZero();
        return;
      case 'endpoint':
        peer.endpoint = parseEndpoint(value) ?? fail('not address:port or [address]:port');
        return;
      case 'persistent_keepalive_interval':
        peer.persistentKeepaliveInterval = Number(number(0xffffn));
        return;
      case 'last_handshake_time_sec':
        peer.handshakeSeconds = number(S64_MAX);
        return;
      case 'last_handshake_time_nsec':
        peer.handshakeNanoseconds = number(999_999_999n);
        return;
      case 'rx_bytes':
        peer.receiveBytes = number(U64_MAX);
        return;
      case 'tx_bytes':
        peer.transmitBytes = number(U64_MAX);
        return;
      case 'protocol_version':
        peer.protocolVersion = Number(number(0xffff_ffffn));
        return;
      case 'allowed_ip': {
        const slash = value.indexOf('/');
        const prefix = slash === -1 ? undefined : IpPrefix.parse(value);
        peer.allowedIps.push(prefix ?? fail('not address/length'));
        return;
      }
      default:
        if (deviceKeys.has(key)) fail('a device key after the peers began');
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

function hexKey<T>(parse: () => T, fail: (problem: string) => never): T {
  try {
    return parse();
  } catch (error) {
    if (error instanceof InvalidKeyError) fail('not a 64-digit hex key');
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
