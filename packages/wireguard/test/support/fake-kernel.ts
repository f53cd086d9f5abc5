/**
 * A fake kernel behind the netlink datagram socket: the generic netlink
 * controller, WireGuard's generic netlink family and the two rtnetlink link
 * queries, answering at the message level with bytes laid out as the kernel
 * lays them out (drivers/net/wireguard/netlink.c, net/netlink/af_netlink.c).
 *
 * It models what the backend relies on: SET_DEVICE semantics (flags,
 * update-only, removal, allowed-ips moving between peers, host bits
 * cleared), GET_DEVICE dumps split across messages of a chosen size with
 * peers continued as the kernel continues them, NLM_F_DUMP_INTR, the
 * SO_SNDBUF − 32 limit on requests, NLA_F_NESTED enforcement and the errno
 * of each failure. Real replies, captured in the kernel lab, are checked in
 * as fixtures to keep it honest.
 */
import { type Key, SecretKey } from '@wg-dynamic/wireguard';
import {
  type Attribute,
  AttributeDecoder,
  AttributeEncoder,
  CTRL_ATTR_FAMILY_ID,
  CTRL_ATTR_FAMILY_NAME,
  CTRL_CMD_GETFAMILY,
  CTRL_CMD_NEWFAMILY,
  encodeGenericHeader,
  encodeMessage,
  GENL_ID_CTRL,
  hostLittleEndian,
  IFINFOMSG_LENGTH,
  IFLA_IFNAME,
  IFLA_INFO_KIND,
  IFLA_LINKINFO,
  NETLINK_GENERIC,
  NETLINK_ROUTE,
  type NetlinkDatagramReceivers,
  type NetlinkDatagramSocket,
  type NetlinkMessage,
  NLM_F_ACK,
  NLM_F_ACK_TLVS,
  NLM_F_DUMP,
  NLM_F_DUMP_INTR,
  NLM_F_MULTI,
  NLMSG_DONE,
  NLMSG_ERROR,
  NLMSGERR_ATTR_MSG,
  type OpenNetlinkSocket,
  parseGenericPayload,
  parseMessages,
  RTM_GETLINK,
  RTM_NEWLINK,
} from '@wg-dynamic/wireguard/netlink';

export const FAKE_WIREGUARD_FAMILY = 0x1b;

// <linux/wireguard.h>
const WG_CMD_GET_DEVICE = 0;
const WG_CMD_SET_DEVICE = 1;
const WGDEVICE_A_IFINDEX = 1;
const WGDEVICE_A_IFNAME = 2;
const WGDEVICE_A_PRIVATE_KEY = 3;
const WGDEVICE_A_PUBLIC_KEY = 4;
const WGDEVICE_A_FLAGS = 5;
const WGDEVICE_A_LISTEN_PORT = 6;
const WGDEVICE_A_FWMARK = 7;
const WGDEVICE_A_PEERS = 8;
const WGPEER_A_PUBLIC_KEY = 1;
const WGPEER_A_PRESHARED_KEY = 2;
const WGPEER_A_FLAGS = 3;
const WGPEER_A_ENDPOINT = 4;
const WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL = 5;
const WGPEER_A_LAST_HANDSHAKE_TIME = 6;
const WGPEER_A_RX_BYTES = 7;
const WGPEER_A_TX_BYTES = 8;
const WGPEER_A_ALLOWEDIPS = 9;
const WGPEER_A_PROTOCOL_VERSION = 10;
const WGALLOWEDIP_A_FAMILY = 1;
const WGALLOWEDIP_A_IPADDR = 2;
const WGALLOWEDIP_A_CIDR_MASK = 3;
const WGPEER_F_REMOVE_ME = 1;
const WGPEER_F_REPLACE_ALLOWEDIPS = 2;
const WGPEER_F_UPDATE_ONLY = 4;
const WGDEVICE_F_REPLACE_PEERS = 1;
const AF_INET = 2;
const AF_INET6 = 10;

const EPERM = 1;
const ENOENT = 2;
const ENODEV = 19;
const EINVAL = 22;
const EBADR = 53;
const EMSGSIZE = 90;
const EOPNOTSUPP = 95;
const EADDRINUSE = 98;

export interface FakeAllowedIp {
  family: number;
  address: Uint8Array;
  cidr: number;
}

export interface FakePeer {
  publicKey: Uint8Array;
  presharedKey: Uint8Array;
  /** Raw struct sockaddr_in / sockaddr_in6, as stored. */
  endpoint: Uint8Array | undefined;
  keepalive: number;
  handshake: [seconds: bigint, nanoseconds: bigint];
  rxBytes: bigint;
  txBytes: bigint;
  allowedIps: FakeAllowedIp[];
}

export interface FakeDevice {
  name: string;
  index: number;
  privateKey: Uint8Array | undefined;
  publicKey: Uint8Array | undefined;
  listenPort: number;
  fwmark: number;
  peers: FakePeer[];
}

class KernelRefusal extends Error {
  constructor(
    readonly errno: number,
    readonly text?: string,
  ) {
    super(`errno ${errno}`);
  }
}

const hex = (bytes: Uint8Array) =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('hex');
const allowedIpKey = (ip: FakeAllowedIp) => `${ip.family}/${ip.cidr}/${hex(ip.address)}`;

/** Indexes kept while one SET_DEVICE message is applied. */
interface SetState {
  readonly peers: Map<string, FakePeer>;
  readonly owners: Map<string, FakePeer>;
  /** The peer array and its length when last seen. */
  list: FakePeer[];
  length: number;
}

export class FakeKernel {
  readonly devices = new Map<string, FakeDevice>();
  /** Links that exist but are not WireGuard (name → kind). */
  readonly otherLinks = new Map<string, { index: number; kind: string | undefined }>();
  /** getsockopt(SO_SNDBUF) of the fake sockets. */
  sendBufferSize = 212_992;
  /** The size of the kernel's dump buffer: how much of a GET_DEVICE answer fits one message. */
  dumpMessageSize = 4096;
  /** False: every WireGuard request fails with EPERM, as without CAP_NET_ADMIN. */
  privileged = true;
  /** False: the controller does not know the family (no module). */
  wireguardLoaded = true;
  /**
   * Answer errors with an extended ack (NLM_F_ACK_TLVS), as a real kernel does
   * only for a socket that set NETLINK_EXT_ACK. Off by default: the production
   * socket cannot set it (src/netlink/system-socket.ts), so a real kernel
   * never sends it the text.
   */
  extendedAcks = false;
  /** The next this-many dumps have their messages flagged NLM_F_DUMP_INTR. */
  interruptedDumps = 0;
  /** Ports another socket holds. */
  readonly portsInUse = new Set<number>();
  /** The attributes of every SET_DEVICE message received, in order. */
  readonly setMessages: Uint8Array[] = [];
  /** Every request message received (both protocols). */
  readonly requests: { protocol: number; message: NetlinkMessage }[] = [];
  /** How many messages the last GET_DEVICE dump had. */
  lastDumpMessages = 0;
  /** Sockets opened and not closed. */
  openSockets = 0;
  #nextIndex = 2;
  readonly #indexes = new WeakMap<FakeDevice, SetState>();

  /** Adds a WireGuard device as `ip link add <name> type wireguard` would. */
  addDevice(name: string): FakeDevice {
    const device: FakeDevice = {
      name,
      index: this.#nextIndex++,
      privateKey: undefined,
      publicKey: undefined,
      listenPort: 0,
      fwmark: 0,
      peers: [],
    };
    this.devices.set(name, device);
    return device;
  }

  addOtherLink(name: string, kind: string | undefined): void {
    this.otherLinks.set(name, { index: this.#nextIndex++, kind });
  }

  readonly openSocket: OpenNetlinkSocket = async (protocol) => {
    if (protocol !== NETLINK_GENERIC && protocol !== NETLINK_ROUTE) {
      throw new Error(`the fake kernel has no netlink protocol ${protocol}`);
    }
    this.openSockets++;
    let receivers: NetlinkDatagramReceivers | undefined;
    let closed = false;
    const socket: NetlinkDatagramSocket = {
      sendBufferSize: () => this.sendBufferSize,
      send: async (datagram) => {
        if (closed) throw new Error('socket closed');
        if (datagram.length > this.sendBufferSize - 32) {
          throw Object.assign(new Error('sendmsg EMSGSIZE'), {
            code: 'EMSGSIZE',
            errno: -EMSGSIZE,
          });
        }
        const replies = this.#handleDatagram(protocol, Uint8Array.from(datagram));
        setImmediate(() => {
          if (closed) return;
          for (const reply of replies) receivers?.datagram(reply, 0);
        });
      },
      listen: (r) => {
        receivers = r;
      },
      setBusy: () => {},
      close: () => {
        if (!closed) this.openSockets--;
        closed = true;
      },
    };
    return socket;
  };

  #handleDatagram(protocol: number, datagram: Uint8Array): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (const message of parseMessages(datagram)) {
      this.requests.push({ protocol, message });
      try {
        const replies = protocol === NETLINK_ROUTE ? this.#route(message) : this.#generic(message);
        out.push(...replies);
        if (message.flags & NLM_F_ACK && !(message.flags & NLM_F_DUMP)) {
          out.push(this.#status(NLMSG_ERROR, message, 0));
        }
      } catch (error) {
        if (!(error instanceof KernelRefusal)) throw error;
        out.push(this.#status(NLMSG_ERROR, message, error.errno, error.text));
      }
    }
    return out;
  }

  /** NLMSG_ERROR (the request echoed, capped for an ack) or NLMSG_DONE. */
  #status(type: number, request: NetlinkMessage, errno: number, text?: string): Uint8Array {
    const withTlvs = this.extendedAcks && text !== undefined;
    const tlvs = withTlvs
      ? new AttributeEncoder().string(NLMSGERR_ATTR_MSG, text).encode()
      : new Uint8Array();
    let body: Uint8Array;
    let flags = withTlvs ? NLM_F_ACK_TLVS : 0;
    if (type === NLMSG_DONE) {
      body = new Uint8Array(4);
      flags |= NLM_F_MULTI;
    } else {
      const echoed = encodeMessage(
        errno === 0 ? { ...request, payload: new Uint8Array() } : request,
      );
      if (errno === 0) flags |= 0x100; // NLM_F_CAPPED
      body = new Uint8Array(4 + echoed.length);
      body.set(echoed, 4);
    }
    new DataView(body.buffer).setInt32(0, -errno, hostLittleEndian);
    const payload = new Uint8Array(body.length + tlvs.length);
    payload.set(body);
    payload.set(tlvs, body.length);
    return encodeMessage({ type, flags, seq: request.seq, port: request.port, payload });
  }

  #reply(request: NetlinkMessage, type: number, flags: number, payload: Uint8Array): Uint8Array {
    return encodeMessage({ type, flags, seq: request.seq, port: 0, payload });
  }

  #genericReply(
    request: NetlinkMessage,
    family: number,
    command: number,
    flags: number,
    attributes: Uint8Array,
  ) {
    const payload = new Uint8Array(4 + attributes.length);
    payload.set(encodeGenericHeader({ command, version: 1 }));
    payload.set(attributes, 4);
    return this.#reply(request, family, flags, payload);
  }

  // rtnetlink

  #links(): { index: number; name: string; kind: string | undefined }[] {
    const links = [...this.devices.values()].map((d) => ({
      index: d.index,
      name: d.name,
      kind: 'wireguard' as string | undefined,
    }));
    for (const [name, link] of this.otherLinks)
      links.push({ index: link.index, name, kind: link.kind });
    return links.sort((a, b) => a.index - b.index);
  }

  #route(message: NetlinkMessage): Uint8Array[] {
    if (message.type !== RTM_GETLINK) throw new KernelRefusal(EOPNOTSUPP);
    const encodeLink = (link: { index: number; name: string; kind: string | undefined }) => {
      const attributes = new AttributeEncoder().string(IFLA_IFNAME, link.name);
      if (link.kind !== undefined) {
        const kind = link.kind;
        attributes.nested(IFLA_LINKINFO, (info) => info.string(IFLA_INFO_KIND, kind));
      }
      const payload = new Uint8Array(IFINFOMSG_LENGTH + attributes.length);
      new DataView(payload.buffer).setInt32(4, link.index, hostLittleEndian);
      attributes.encodeInto(payload, IFINFOMSG_LENGTH);
      return payload;
    };
    if (message.flags & NLM_F_DUMP) {
      const out = this.#links().map((link) =>
        this.#reply(message, RTM_NEWLINK, NLM_F_MULTI, encodeLink(link)),
      );
      out.push(this.#status(NLMSG_DONE, message, 0));
      return out;
    }
    let name: string | undefined;
    for (const attribute of new AttributeDecoder(message.payload.subarray(IFINFOMSG_LENGTH))) {
      if (attribute.type === IFLA_IFNAME) name = attribute.string();
    }
    const link = this.#links().find((l) => l.name === name);
    if (!link) throw new KernelRefusal(ENODEV);
    return [this.#reply(message, RTM_NEWLINK, 0, encodeLink(link))];
  }

  // generic netlink

  #generic(message: NetlinkMessage): Uint8Array[] {
    const { command, attributes } = parseGenericPayload(message.payload);
    if (message.type === GENL_ID_CTRL) {
      if (command !== CTRL_CMD_GETFAMILY) throw new KernelRefusal(EOPNOTSUPP);
      let name: string | undefined;
      for (const a of new AttributeDecoder(attributes))
        if (a.type === CTRL_ATTR_FAMILY_NAME) name = a.string();
      if (name !== 'wireguard' || !this.wireguardLoaded) throw new KernelRefusal(ENOENT);
      const reply = new AttributeEncoder()
        .u16(CTRL_ATTR_FAMILY_ID, FAKE_WIREGUARD_FAMILY)
        .string(CTRL_ATTR_FAMILY_NAME, 'wireguard')
        .encode();
      return [this.#genericReply(message, GENL_ID_CTRL, CTRL_CMD_NEWFAMILY, 0, reply)];
    }
    if (message.type !== FAKE_WIREGUARD_FAMILY || !this.wireguardLoaded)
      throw new KernelRefusal(ENOENT);
    if (!this.privileged) throw new KernelRefusal(EPERM);
    if (command === WG_CMD_GET_DEVICE) {
      if ((message.flags & NLM_F_DUMP) !== NLM_F_DUMP) throw new KernelRefusal(EOPNOTSUPP);
      return this.#getDevice(message, attributes);
    }
    if (command === WG_CMD_SET_DEVICE) {
      if (message.flags & NLM_F_DUMP) throw new KernelRefusal(EOPNOTSUPP);
      this.setMessages.push(Uint8Array.from(attributes));
      this.#setDevice(attributes);
      return [];
    }
    throw new KernelRefusal(EOPNOTSUPP);
  }

  #lookup(attributes: Map<number, Attribute>): FakeDevice {
    const byIndex = attributes.get(WGDEVICE_A_IFINDEX);
    const byName = attributes.get(WGDEVICE_A_IFNAME);
    if (!byIndex === !byName) throw new KernelRefusal(EBADR);
    if (byName && byName.payload.length > 16)
      throw new KernelRefusal(EINVAL, 'Attribute failed policy validation');
    const name = byName?.string();
    const index = byIndex?.u32();
    for (const device of this.devices.values()) {
      if (device.name === name || device.index === index) return device;
    }
    for (const [other, link] of this.otherLinks) {
      if (other === name || link.index === index) throw new KernelRefusal(EOPNOTSUPP);
    }
    throw new KernelRefusal(ENODEV);
  }

  #getDevice(request: NetlinkMessage, attributes: Uint8Array): Uint8Array[] {
    const device = this.#lookup(topLevel(attributes, false));
    const intr = this.interruptedDumps > 0 ? NLM_F_DUMP_INTR : 0;
    if (intr) this.interruptedDumps--;
    const replies: Uint8Array[] = [];
    // The attributes budget of one message: the dump buffer less the headers.
    const budget = this.dumpMessageSize - 16 - 4;
    let peerIndex = 0;
    let nextAllowedIp = 0;
    let first = true;
    for (;;) {
      const top = new AttributeEncoder();
      if (first) {
        top.u16(WGDEVICE_A_LISTEN_PORT, device.listenPort);
        top.u32(WGDEVICE_A_FWMARK, device.fwmark);
        top.u32(WGDEVICE_A_IFINDEX, device.index);
        top.string(WGDEVICE_A_IFNAME, device.name);
        if (device.privateKey && device.publicKey) {
          top.bytes(WGDEVICE_A_PRIVATE_KEY, device.privateKey);
          top.bytes(WGDEVICE_A_PUBLIC_KEY, device.publicKey);
        }
      }
      const peers = new AttributeEncoder();
      const room = () => budget - top.length - 4 - peers.length;
      let done = true;
      while (peerIndex < device.peers.length) {
        const peer = device.peers[peerIndex] as FakePeer;
        const entry = new AttributeEncoder().bytes(WGPEER_A_PUBLIC_KEY, peer.publicKey);
        if (nextAllowedIp === 0) {
          const time = new Uint8Array(16);
          const view = new DataView(time.buffer);
          view.setBigInt64(0, peer.handshake[0], hostLittleEndian);
          view.setBigInt64(8, peer.handshake[1], hostLittleEndian);
          entry
            .bytes(WGPEER_A_PRESHARED_KEY, peer.presharedKey)
            .bytes(WGPEER_A_LAST_HANDSHAKE_TIME, time)
            .u16(WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL, peer.keepalive)
            .u64(WGPEER_A_TX_BYTES, peer.txBytes)
            .u64(WGPEER_A_RX_BYTES, peer.rxBytes)
            .u32(WGPEER_A_PROTOCOL_VERSION, 1);
          if (peer.endpoint) entry.bytes(WGPEER_A_ENDPOINT, peer.endpoint);
        }
        if (4 + entry.length + 4 > room()) {
          done = false;
          break;
        }
        if (nextAllowedIp < peer.allowedIps.length) {
          const list = new AttributeEncoder();
          let complete = true;
          for (; nextAllowedIp < peer.allowedIps.length; nextAllowedIp++) {
            const ip = peer.allowedIps[nextAllowedIp] as FakeAllowedIp;
            const item = new AttributeEncoder()
              .u8(WGALLOWEDIP_A_CIDR_MASK, ip.cidr)
              .u16(WGALLOWEDIP_A_FAMILY, ip.family)
              .bytes(WGALLOWEDIP_A_IPADDR, ip.address);
            if (4 + entry.length + 4 + list.length + 4 + item.length > room()) {
              complete = false;
              break;
            }
            list.nested(0, item);
          }
          entry.nested(WGPEER_A_ALLOWEDIPS, list);
          peers.nested(0, entry);
          if (!complete) {
            done = false;
            break;
          }
        } else {
          peers.nested(0, entry);
        }
        peerIndex++;
        nextAllowedIp = 0;
      }
      if (peers.count > 0) top.nested(WGDEVICE_A_PEERS, peers);
      replies.push(
        this.#genericReply(
          request,
          FAKE_WIREGUARD_FAMILY,
          WG_CMD_GET_DEVICE,
          NLM_F_MULTI | intr,
          top.encode(),
        ),
      );
      first = false;
      if (done) break;
    }
    this.lastDumpMessages = replies.length;
    // The kernel often puts NLMSG_DONE in the same datagram as the last message.
    const done = this.#status(NLMSG_DONE, request, 0);
    const last = replies.pop() as Uint8Array;
    const joined = new Uint8Array(last.length + done.length);
    joined.set(last);
    joined.set(done, last.length);
    replies.push(joined);
    return replies;
  }

  #setDevice(attributes: Uint8Array): void {
    const top = topLevel(attributes, true);
    const device = this.#lookup(top);
    const flags = top.get(WGDEVICE_A_FLAGS)?.u32() ?? 0;
    if (flags & ~WGDEVICE_F_REPLACE_PEERS) throw new KernelRefusal(EOPNOTSUPP);
    const fwmark = top.get(WGDEVICE_A_FWMARK);
    if (fwmark) device.fwmark = fwmark.u32();
    const port = top.get(WGDEVICE_A_LISTEN_PORT);
    if (port) {
      const value = port.u16();
      if (value !== 0 && this.portsInUse.has(value)) throw new KernelRefusal(EADDRINUSE);
      device.listenPort = value;
    }
    if (flags & WGDEVICE_F_REPLACE_PEERS) device.peers = [];
    const state = this.#indexOf(device);
    const privateKey = top.get(WGDEVICE_A_PRIVATE_KEY);
    if (privateKey && privateKey.payload.length === 32) {
      const secret = SecretKey.fromBytes(privateKey.payload);
      if (secret.isZero()) {
        device.privateKey = undefined;
        device.publicKey = undefined;
      } else {
        const clamped = secret.toBytes();
        clamped[0] = (clamped[0] as number) & 248;
        clamped[31] = ((clamped[31] as number) & 127) | 64;
        const publicKey = secret.publicKey().toBytes();
        const self = state.peers.get(hex(publicKey));
        if (self) this.#removePeer(device, state, self);
        device.privateKey = clamped;
        device.publicKey = publicKey;
      }
    }
    const peers = top.get(WGDEVICE_A_PEERS);
    if (peers) {
      if (!peers.nestedFlag) throw new KernelRefusal(EINVAL, 'NLA_F_NESTED is missing');
      for (const entry of peers.nested()) {
        if (!entry.nestedFlag) throw new KernelRefusal(EINVAL, 'NLA_F_NESTED is missing');
        this.#setPeer(device, state, topLevel(entry.payload, true));
      }
    }
  }

  /**
   * Peers by key and prefixes by owner, kept across messages. Rebuilt when a
   * test changed the peer list behind the fake's back (another array, or
   * another length).
   */
  #indexOf(device: FakeDevice): SetState {
    const known = this.#indexes.get(device);
    if (known && known.list === device.peers && known.length === device.peers.length) return known;
    const state: SetState = { peers: new Map(), owners: new Map(), list: device.peers, length: 0 };
    for (const peer of device.peers) {
      state.peers.set(hex(peer.publicKey), peer);
      for (const ip of peer.allowedIps) state.owners.set(allowedIpKey(ip), peer);
    }
    state.length = device.peers.length;
    this.#indexes.set(device, state);
    return state;
  }

  #removePeer(device: FakeDevice, state: SetState, peer: FakePeer): void {
    device.peers = device.peers.filter((p) => p !== peer);
    state.list = device.peers;
    state.length = device.peers.length;
    state.peers.delete(hex(peer.publicKey));
    for (const ip of peer.allowedIps) state.owners.delete(allowedIpKey(ip));
  }

  #setPeer(device: FakeDevice, state: SetState, attributes: Map<number, Attribute>): void {
    const key = attributes.get(WGPEER_A_PUBLIC_KEY);
    if (key?.payload.length !== 32) throw new KernelRefusal(EINVAL);
    const flags = attributes.get(WGPEER_A_FLAGS)?.u32() ?? 0;
    if (flags & ~7) throw new KernelRefusal(EOPNOTSUPP);
    let peer = state.peers.get(hex(key.payload));
    if (!peer) {
      if (flags & (WGPEER_F_REMOVE_ME | WGPEER_F_UPDATE_ONLY)) return;
      if (device.publicKey && hex(device.publicKey) === hex(key.payload)) return;
      peer = {
        publicKey: key.bytes(),
        presharedKey: new Uint8Array(32),
        endpoint: undefined,
        keepalive: 0,
        handshake: [0n, 0n],
        rxBytes: 0n,
        txBytes: 0n,
        allowedIps: [],
      };
      device.peers.push(peer);
      state.length = device.peers.length;
      state.peers.set(hex(peer.publicKey), peer);
    }
    if (flags & WGPEER_F_REMOVE_ME) {
      this.#removePeer(device, state, peer);
      return;
    }
    const psk = attributes.get(WGPEER_A_PRESHARED_KEY);
    if (psk && psk.payload.length === 32) peer.presharedKey = psk.bytes();
    const endpoint = attributes.get(WGPEER_A_ENDPOINT);
    if (endpoint) {
      const family = new DataView(endpoint.payload.buffer, endpoint.payload.byteOffset).getUint16(
        0,
        hostLittleEndian,
      );
      if (
        (family === AF_INET && endpoint.payload.length === 16) ||
        (family === AF_INET6 && endpoint.payload.length === 28)
      ) {
        peer.endpoint = endpoint.bytes();
      }
    }
    if (flags & WGPEER_F_REPLACE_ALLOWEDIPS) {
      for (const ip of peer.allowedIps) state.owners.delete(allowedIpKey(ip));
      peer.allowedIps = [];
    }
    const allowedIps = attributes.get(WGPEER_A_ALLOWEDIPS);
    if (allowedIps) {
      if (!allowedIps.nestedFlag) throw new KernelRefusal(EINVAL, 'NLA_F_NESTED is missing');
      for (const item of allowedIps.nested()) {
        if (!item.nestedFlag) throw new KernelRefusal(EINVAL, 'NLA_F_NESTED is missing');
        const fields = topLevel(item.payload, true);
        const family = fields.get(WGALLOWEDIP_A_FAMILY)?.u16();
        const address = fields.get(WGALLOWEDIP_A_IPADDR)?.bytes();
        const cidr = fields.get(WGALLOWEDIP_A_CIDR_MASK)?.u8();
        if (family === undefined || address === undefined || cidr === undefined)
          throw new KernelRefusal(EINVAL);
        const bits = family === AF_INET ? 32 : family === AF_INET6 ? 128 : -1;
        if (bits === -1 || address.length !== bits / 8 || cidr > bits)
          throw new KernelRefusal(EINVAL);
        this.#insertAllowedIp(state, peer, { family, address: mask(address, cidr), cidr });
      }
    }
    const keepalive = attributes.get(WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL);
    if (keepalive) peer.keepalive = keepalive.u16();
  }

  /** One owner per prefix, as in the kernel's trie: inserting moves it from another peer. */
  #insertAllowedIp(state: SetState, owner: FakePeer, ip: FakeAllowedIp): void {
    const key = allowedIpKey(ip);
    const previous = state.owners.get(key);
    if (previous === owner) return;
    if (previous)
      previous.allowedIps = previous.allowedIps.filter((other) => allowedIpKey(other) !== key);
    state.owners.set(key, owner);
    owner.allowedIps.push(ip);
  }

  /** A peer's state in words, for assertions. */
  peerOf(device: string, publicKey: Key): FakePeer | undefined {
    return this.devices.get(device)?.peers.find((p) => hex(p.publicKey) === publicKey.toHex());
  }
}

/** The attributes of one level by type; with `strict`, a repeated type is refused like a policy failure. */
function topLevel(bytes: Uint8Array, strict: boolean): Map<number, Attribute> {
  const map = new Map<number, Attribute>();
  for (const attribute of new AttributeDecoder(bytes, 'request')) {
    if (strict && map.has(attribute.type) && attribute.type !== 0) {
      // The kernel keeps the last one; a well-formed request never repeats one.
      throw new KernelRefusal(EINVAL, `attribute ${attribute.type} repeated`);
    }
    map.set(attribute.type, attribute);
  }
  return map;
}

function mask(address: Uint8Array, cidr: number): Uint8Array {
  const out = Uint8Array.from(address);
  for (let bit = cidr; bit < out.length * 8; bit++) {
    out[bit >> 3] = (out[bit >> 3] as number) & ~(0x80 >> (bit & 7));
  }
  return out;
}
