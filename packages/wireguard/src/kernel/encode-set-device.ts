import type { IpPrefix } from '@wg-dynamic/ip';
import type { DeviceConfig, PeerConfig } from '../device-config.js';
import { WG_KEY_LEN } from '../key.js';
import { GENL_HDRLEN, NLA_HDRLEN, NLA_MAX_LENGTH, NLMSG_HDRLEN } from '../netlink/align.js';
import { AttributeEncoder } from '../netlink/attribute-encoder.js';
import {
  AF_INET,
  AF_INET6,
  WGALLOWEDIP_A_CIDR_MASK,
  WGALLOWEDIP_A_FAMILY,
  WGALLOWEDIP_A_IPADDR,
  WGDEVICE_A_FLAGS,
  WGDEVICE_A_FWMARK,
  WGDEVICE_A_IFNAME,
  WGDEVICE_A_LISTEN_PORT,
  WGDEVICE_A_PEERS,
  WGDEVICE_A_PRIVATE_KEY,
  WGDEVICE_F_REPLACE_PEERS,
  WGPEER_A_ALLOWEDIPS,
  WGPEER_A_ENDPOINT,
  WGPEER_A_FLAGS,
  WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL,
  WGPEER_A_PRESHARED_KEY,
  WGPEER_A_PUBLIC_KEY,
  WGPEER_F_REMOVE_ME,
  WGPEER_F_REPLACE_ALLOWEDIPS,
  WGPEER_F_UPDATE_ONLY,
} from './constants.js';
import { encodeSockaddr } from './sockaddr.js';

const ZERO_KEY = new Uint8Array(WG_KEY_LEN);

/**
 * Encodes a configuration as the attributes of one or more WG_CMD_SET_DEVICE
 * messages, each filled up to what the kernel accepts, as wireguard-tools
 * does (kernel_set_device(), ipc-linux.h), but measured rather than counted:
 *
 * - a message, headers included, is at most `maxMessageSize` bytes (the
 *   socket's SO_SNDBUF − 32; larger ones get EMSGSIZE), and WGDEVICE_A_PEERS,
 *   being one attribute, at most 65,535 bytes (its length field is a u16);
 * - every message names the device; only the first carries the private key,
 *   listen port, firewall mark and WGDEVICE_F_REPLACE_PEERS (repeating
 *   REPLACE_PEERS would remove the peers the earlier messages added);
 * - a peer whose allowed-ips do not fit continues in the next message with
 *   its public key and the rest of its allowed-ips. The continuation never
 *   repeats WGPEER_F_REPLACE_ALLOWEDIPS (that would drop the allowed-ips just
 *   added) nor the preshared key, endpoint and keepalive, but it does repeat
 *   WGPEER_F_UPDATE_ONLY: without it, a continuation for an update-only peer
 *   that did not exist would create it.
 *
 * `config` must be validated and have no `removeAllowedIps` left.
 */
export function encodeSetDevice(
  name: string,
  config: DeviceConfig,
  maxMessageSize: number,
): Uint8Array[] {
  const budget = maxMessageSize - NLMSG_HDRLEN - GENL_HDRLEN;
  const messages: Uint8Array[] = [];
  let top = firstMessageAttributes(name, config);
  let peers: AttributeEncoder | undefined;

  const flush = () => {
    if (peers) top.nested(WGDEVICE_A_PEERS, peers);
    messages.push(top.encode());
    top = new AttributeEncoder().string(WGDEVICE_A_IFNAME, name);
    peers = undefined;
  };
  /** The most bytes one more entry of WGDEVICE_A_PEERS may take in the current message. */
  const room = () => {
    const peersLength = peers?.length ?? 0;
    const byMessage = budget - top.length - NLA_HDRLEN - peersLength;
    const byAttribute = NLA_MAX_LENGTH - NLA_HDRLEN - peersLength;
    return Math.min(byMessage, byAttribute);
  };
  if (top.length > budget) throw tooSmall(maxMessageSize, 'the device attributes');

  for (const peer of config.peers ?? []) {
    const allowedIps = peer.remove ? [] : (peer.allowedIps ?? []);
    let next = 0;
    let first = true;
    for (;;) {
      const entry = peerAttributes(peer, first);
      const nextAllowedIp =
        next < allowedIps.length ? allowedIpEntry(allowedIps[next] as IpPrefix) : undefined;
      const minimum =
        NLA_HDRLEN +
        entry.length +
        (nextAllowedIp ? NLA_HDRLEN + NLA_HDRLEN + nextAllowedIp.length : 0);
      if (minimum > room()) {
        // Only the device's name so far: a new message would have no more room.
        if (!peers && top.count === 1) {
          throw tooSmall(maxMessageSize, `peer ${peer.publicKey.toBase64()}`);
        }
        flush();
        continue;
      }
      if (nextAllowedIp) {
        const list = new AttributeEncoder();
        // What the list may grow to: the room, less this entry's header, its
        // other attributes and the list's own header.
        const limit = room() - NLA_HDRLEN - entry.length - NLA_HDRLEN;
        let candidate: AttributeEncoder | undefined = nextAllowedIp;
        while (candidate && list.length + NLA_HDRLEN + candidate.length <= limit) {
          list.nested(0, candidate);
          next++;
          candidate =
            next < allowedIps.length ? allowedIpEntry(allowedIps[next] as IpPrefix) : undefined;
        }
        entry.nested(WGPEER_A_ALLOWEDIPS, list);
      }
      peers ??= new AttributeEncoder();
      peers.nested(0, entry);
      first = false;
      if (next >= allowedIps.length) break;
      flush();
    }
  }
  flush();
  return messages;
}

function firstMessageAttributes(name: string, config: DeviceConfig): AttributeEncoder {
  const top = new AttributeEncoder().string(WGDEVICE_A_IFNAME, name);
  if (config.privateKey !== undefined) {
    top.bytes(
      WGDEVICE_A_PRIVATE_KEY,
      config.privateKey === null ? ZERO_KEY : config.privateKey.toBytes(),
    );
  }
  if (config.listenPort !== undefined) top.u16(WGDEVICE_A_LISTEN_PORT, config.listenPort);
  if (config.firewallMark !== undefined) top.u32(WGDEVICE_A_FWMARK, config.firewallMark);
  if (config.replacePeers) top.u32(WGDEVICE_A_FLAGS, WGDEVICE_F_REPLACE_PEERS);
  return top;
}

/** One entry of WGDEVICE_A_PEERS without its allowed-ips: all of it the first time, the key and flags after. */
function peerAttributes(peer: PeerConfig, first: boolean): AttributeEncoder {
  const entry = new AttributeEncoder().bytes(WGPEER_A_PUBLIC_KEY, peer.publicKey.toBytes());
  let flags = 0;
  if (peer.remove) flags |= WGPEER_F_REMOVE_ME;
  if (peer.updateOnly) flags |= WGPEER_F_UPDATE_ONLY;
  if (first && peer.replaceAllowedIps && !peer.remove) flags |= WGPEER_F_REPLACE_ALLOWEDIPS;
  if (flags !== 0) entry.u32(WGPEER_A_FLAGS, flags);
  if (first && !peer.remove) {
    if (peer.presharedKey !== undefined) {
      entry.bytes(
        WGPEER_A_PRESHARED_KEY,
        peer.presharedKey === null ? ZERO_KEY : peer.presharedKey.toBytes(),
      );
    }
    if (peer.endpoint !== undefined) entry.bytes(WGPEER_A_ENDPOINT, encodeSockaddr(peer.endpoint));
    if (peer.persistentKeepaliveInterval !== undefined) {
      entry.u16(WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL, peer.persistentKeepaliveInterval);
    }
  }
  return entry;
}

/** One entry of WGPEER_A_ALLOWEDIPS. */
function allowedIpEntry(prefix: IpPrefix): AttributeEncoder {
  return new AttributeEncoder()
    .u16(WGALLOWEDIP_A_FAMILY, prefix.family === 4 ? AF_INET : AF_INET6)
    .bytes(WGALLOWEDIP_A_IPADDR, prefix.address.bytes)
    .u8(WGALLOWEDIP_A_CIDR_MASK, prefix.length);
}

function tooSmall(maxMessageSize: number, what: string): RangeError {
  return new RangeError(
    `${what} cannot fit a netlink message of ${maxMessageSize} bytes; the socket's send buffer is too small`,
  );
}
