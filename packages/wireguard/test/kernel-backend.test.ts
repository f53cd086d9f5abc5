import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IpAddress, IpPrefix } from '@wg-dynamic/ip';
import {
  type DeviceConfig,
  DeviceNotFoundError,
  NotWireGuardDeviceError,
  openWireGuard,
  PeerNotFoundError,
  PermissionDeniedError,
  type WireGuard,
  WireGuardError,
} from '@wg-dynamic/wireguard';
import {
  AttributeDecoder,
  GENL_HDRLEN,
  NLA_MAX_LENGTH,
  NLMSG_HDRLEN,
} from '@wg-dynamic/wireguard/netlink';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FAKE_WIREGUARD_FAMILY, FakeKernel } from './support/fake-kernel.js';
import { presharedKeyOf, privateKeyOf, publicKeyOf } from './support/keys.js';

const prefix = (text: string) => IpPrefix.from(text);
const WGDEVICE_A_IFNAME = 2;
const WGDEVICE_A_PRIVATE_KEY = 3;
const WGDEVICE_A_FLAGS = 5;
const WGDEVICE_A_PEERS = 8;
const WGPEER_A_PUBLIC_KEY = 1;
const WGPEER_A_PRESHARED_KEY = 2;
const WGPEER_A_FLAGS = 3;
const WGPEER_A_ALLOWEDIPS = 9;

let directory: string;
let kernel: FakeKernel;
let wireguard: WireGuard;

beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), 'wg-kernel-'));
  kernel = new FakeKernel();
  wireguard = openWireGuard({ uapiDirectory: directory, openNetlinkSocket: kernel.openSocket });
});

afterEach(async () => {
  await wireguard.close();
  await rm(directory, { recursive: true, force: true });
});

/** Allowed-ips 10.x.y.z/32 numbered from `start`. */
function hostPrefixes(start: number, count: number): IpPrefix[] {
  return Array.from({ length: count }, (_, i) =>
    IpPrefix.host(IpAddress.fromBigInt(4, 0x0a00_0000n + BigInt(start + i))),
  );
}

/** What one SET_DEVICE message says, for assertions on the split. */
function describeSet(attributes: Uint8Array) {
  const result = {
    name: '',
    deviceAttributes: [] as number[],
    peers: [] as { key: string; flags: number; psk: boolean; allowedIps: number }[],
    peersLength: 0,
  };
  for (const a of new AttributeDecoder(attributes)) {
    if (a.type === WGDEVICE_A_IFNAME) result.name = a.string();
    else if (a.type === WGDEVICE_A_PEERS) {
      result.peersLength = a.payload.length + 4;
      for (const entry of a.nested()) {
        const peer = { key: '', flags: 0, psk: false, allowedIps: 0 };
        for (const f of entry.nested()) {
          if (f.type === WGPEER_A_PUBLIC_KEY) peer.key = Buffer.from(f.payload).toString('base64');
          if (f.type === WGPEER_A_FLAGS) peer.flags = f.u32();
          if (f.type === WGPEER_A_PRESHARED_KEY) peer.psk = true;
          if (f.type === WGPEER_A_ALLOWEDIPS) peer.allowedIps = [...f.nested()].length;
        }
        result.peers.push(peer);
      }
    } else result.deviceAttributes.push(a.type);
  }
  return result;
}

describe('kernel backend: reading', () => {
  it('merges a device the kernel split over many messages, peers split in the middle', async () => {
    kernel.addDevice('wg0');
    kernel.dumpMessageSize = 1024; // a few peers per message, long peers split
    const config: DeviceConfig = {
      privateKey: privateKeyOf(1),
      listenPort: 51820,
      firewallMark: 0x42,
      peers: Array.from({ length: 30 }, (_, i) => ({
        publicKey: publicKeyOf(i),
        presharedKey: i % 2 ? presharedKeyOf(i) : null,
        endpoint:
          i % 3
            ? { address: IpAddress.parse('192.0.2.7') as IpAddress, port: 1000 + i }
            : { address: IpAddress.parse('2001:db8::7') as IpAddress, port: 2000 + i },
        persistentKeepaliveInterval: i,
        allowedIps: [...hostPrefixes(i * 1000, i * 7), prefix(`fd00:${i}::/64`)],
      })),
    };
    await wireguard.configure('wg0', config);
    const device = await wireguard.device('wg0');
    expect(device.name).toBe('wg0');
    expect(device.backend).toBe('kernel');
    expect(device.index).toBe(kernel.devices.get('wg0')?.index);
    expect(device.privateKey?.equals(privateKeyOf(1))).toBe(true);
    expect(device.publicKey?.equals(privateKeyOf(1).publicKey())).toBe(true);
    expect(device.listenPort).toBe(51820);
    expect(device.firewallMark).toBe(0x42);
    expect(device.peers).toHaveLength(30);
    for (const [i, peer] of device.peers.entries()) {
      const wanted = config.peers?.[i];
      expect(peer.publicKey.equals(publicKeyOf(i))).toBe(true);
      expect(peer.hasPresharedKey).toBe(i % 2 === 1);
      expect(peer.endpoint?.address.toString()).toBe(wanted?.endpoint?.address.toString());
      expect(peer.endpoint?.port).toBe(wanted?.endpoint?.port);
      expect(peer.persistentKeepaliveInterval).toBe(i);
      expect(peer.allowedIps.map(String)).toEqual(wanted?.allowedIps?.map(String));
      expect(peer.lastHandshake).toBeUndefined();
      expect(peer.receiveBytes).toBe(0n);
      expect(peer.protocolVersion).toBe(1);
    }
    // The reply really was split, and long peers with it (one peer alone is
    // bigger than a message).
    expect(kernel.lastDumpMessages).toBeGreaterThan(20);
    expect(29 * 7 * 28).toBeGreaterThan(kernel.dumpMessageSize);
  });

  it('reads counters, handshake time and a device without key or peers', async () => {
    const raw = kernel.addDevice('wg0');
    expect(await wireguard.device('wg0')).toMatchObject({
      privateKey: undefined,
      publicKey: undefined,
      listenPort: 0,
      peers: [],
    });
    raw.peers.push({
      publicKey: publicKeyOf(1).toBytes(),
      presharedKey: new Uint8Array(32),
      endpoint: undefined,
      keepalive: 25,
      handshake: [1_700_000_000n, 123_456_789n],
      rxBytes: 2n ** 63n + 5n,
      txBytes: 77n,
      allowedIps: [],
    });
    const [peer] = (await wireguard.device('wg0')).peers;
    expect(peer?.lastHandshake?.getTime()).toBe(1_700_000_000_123);
    expect(peer?.receiveBytes).toBe(2n ** 63n + 5n);
    expect(peer?.transmitBytes).toBe(77n);
    expect(peer?.endpoint).toBeUndefined();
    expect(peer?.hasPresharedKey).toBe(false);
  });

  it('reads again when the kernel flags the dump as interrupted', async () => {
    kernel.addDevice('wg0');
    kernel.interruptedDumps = 3;
    await expect(wireguard.device('wg0')).resolves.toMatchObject({ name: 'wg0' });
    expect(kernel.interruptedDumps).toBe(0);
    kernel.interruptedDumps = 100;
    await expect(wireguard.device('wg0')).rejects.toMatchObject({ code: 'BUSY', device: 'wg0' });
  });
});

describe('kernel backend: configuring', () => {
  it('configures 100,000 allowed-ips in messages filled up to the socket limit', async () => {
    kernel.addDevice('wg0');
    const many = hostPrefixes(0, 100_000);
    await wireguard.configure('wg0', {
      privateKey: privateKeyOf(2),
      replacePeers: true,
      peers: [
        { publicKey: publicKeyOf(1), allowedIps: [prefix('192.168.0.0/16')] },
        {
          publicKey: publicKeyOf(2),
          presharedKey: presharedKeyOf(2),
          replaceAllowedIps: true,
          allowedIps: many,
        },
        { publicKey: publicKeyOf(3), allowedIps: [prefix('fd00::/8')] },
      ],
    });
    const limit = kernel.sendBufferSize - 32 - NLMSG_HDRLEN - GENL_HDRLEN;
    const messages = kernel.setMessages.map(describeSet);
    expect(messages.length).toBeGreaterThan(10);
    for (const [i, raw] of kernel.setMessages.entries()) {
      const message = messages[i];
      expect(raw.length).toBeLessThanOrEqual(limit);
      expect(message?.name).toBe('wg0');
      expect(message?.peersLength).toBeLessThanOrEqual(NLA_MAX_LENGTH);
      // Every message but the last is close to full: the limit is the 16-bit
      // length of WGDEVICE_A_PEERS, not a count.
      if (i < messages.length - 1)
        expect(message?.peersLength).toBeGreaterThan(NLA_MAX_LENGTH - 100);
      // Device attributes (private key, REPLACE_PEERS) only in the first.
      expect(message?.deviceAttributes.includes(WGDEVICE_A_PRIVATE_KEY)).toBe(i === 0);
      expect(message?.deviceAttributes.includes(WGDEVICE_A_FLAGS)).toBe(i === 0);
    }
    const entries = messages.flatMap((m) =>
      m.peers.filter((p) => p.key === publicKeyOf(2).toBase64()),
    );
    expect(entries.length).toBe(messages.length);
    expect(entries[0]?.flags).toBe(2); // WGPEER_F_REPLACE_ALLOWEDIPS, only the first time
    expect(entries.slice(1).every((p) => p.flags === 0 && !p.psk)).toBe(true);
    expect(entries[0]?.psk).toBe(true);
    expect(entries.reduce((n, p) => n + p.allowedIps, 0)).toBe(100_000);

    const device = await wireguard.device('wg0');
    expect(device.peers.map((p) => p.allowedIps.length)).toEqual([1, 100_000, 1]);
    expect(device.peers[1]?.allowedIps.map(String)).toEqual(many.map(String));
  });

  it('fits a smaller send buffer, never sending a message the kernel would refuse', async () => {
    kernel.addDevice('wg0');
    kernel.sendBufferSize = 1500;
    const peers = Array.from({ length: 40 }, (_, i) => ({
      publicKey: publicKeyOf(i),
      updateOnly: i >= 20,
      allowedIps: hostPrefixes(i * 100, 50),
    }));
    await wireguard.configure('wg0', { peers: peers.slice(0, 20) });
    await wireguard.configure('wg0', {
      peers: peers.slice(20).map((p) => ({ ...p, updateOnly: false })),
    });
    const device = await wireguard.device('wg0');
    expect(device.peers.map((p) => p.allowedIps.length)).toEqual(new Array(40).fill(50));
    for (const raw of kernel.setMessages) expect(raw.length).toBeLessThanOrEqual(1500 - 32 - 20);
  });

  it('repeats update-only on continuations, so a missing peer is never created', async () => {
    kernel.addDevice('wg0');
    const error = await wireguard
      .configure('wg0', {
        peers: [
          { publicKey: publicKeyOf(9), updateOnly: true, allowedIps: hostPrefixes(0, 20_000) },
        ],
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PeerNotFoundError);
    expect((error as PeerNotFoundError).publicKeys.map(String)).toEqual([
      publicKeyOf(9).toBase64(),
    ]);
    expect((error as PeerNotFoundError).code).toBe('PEER_NOT_FOUND');
    expect((error as Error).message).toContain(publicKeyOf(9).toBase64());
    expect(kernel.setMessages.length).toBeGreaterThan(1);
    for (const message of kernel.setMessages.map(describeSet)) {
      expect(message.peers.every((p) => p.flags & 4)).toBe(true);
    }
    expect(kernel.devices.get('wg0')?.peers).toEqual([]);
  });

  it('applies update-only to a peer that exists, and skips the check when asked', async () => {
    kernel.addDevice('wg0');
    await wireguard.configure('wg0', { peers: [{ publicKey: publicKeyOf(1) }] });
    await wireguard.configure('wg0', {
      peers: [{ publicKey: publicKeyOf(1), updateOnly: true, allowedIps: [prefix('10.1.0.1/32')] }],
    });
    expect((await wireguard.device('wg0')).peers[0]?.allowedIps.map(String)).toEqual([
      '10.1.0.1/32',
    ]);

    const before = kernel.requests.length;
    await wireguard.configure(
      'wg0',
      {
        peers: [
          { publicKey: publicKeyOf(2), updateOnly: true, allowedIps: [prefix('10.2.0.1/32')] },
        ],
      },
      { verifyUpdateOnlyPeers: false },
    );
    // One SET_DEVICE, no read afterwards; and still nothing created.
    const after = kernel.requests
      .slice(before)
      .filter((r) => r.message.type === FAKE_WIREGUARD_FAMILY);
    expect(after).toHaveLength(1);
    expect(kernel.peerOf('wg0', publicKeyOf(2))).toBeUndefined();
  });

  it('reports the missing ones only, after applying the rest', async () => {
    kernel.addDevice('wg0');
    await wireguard.configure('wg0', { peers: [{ publicKey: publicKeyOf(1) }] });
    const error = await wireguard
      .configure('wg0', {
        listenPort: 4000,
        peers: [
          { publicKey: publicKeyOf(1), updateOnly: true, persistentKeepaliveInterval: 5 },
          { publicKey: publicKeyOf(2), updateOnly: true },
          { publicKey: publicKeyOf(3), updateOnly: true, remove: true },
        ],
      })
      .catch((e: unknown) => e);
    expect((error as PeerNotFoundError).publicKeys.map(String)).toEqual([
      publicKeyOf(2).toBase64(),
    ]);
    const device = await wireguard.device('wg0');
    expect(device.listenPort).toBe(4000);
    expect(device.peers[0]?.persistentKeepaliveInterval).toBe(5);
  });

  it('removes single allowed-ips by replacing the list with what remains', async () => {
    kernel.addDevice('wg0');
    await wireguard.configure('wg0', {
      peers: [
        {
          publicKey: publicKeyOf(1),
          allowedIps: [prefix('10.0.0.1/32'), prefix('10.0.0.2/32'), prefix('fd00::1/128')],
        },
        { publicKey: publicKeyOf(2), allowedIps: [prefix('10.0.0.9/32')] },
      ],
    });
    await wireguard.configure('wg0', {
      peers: [
        {
          publicKey: publicKeyOf(1),
          removeAllowedIps: [prefix('10.0.0.2/32'), prefix('10.9.9.9/32')],
          allowedIps: [prefix('10.0.0.3/32')],
        },
      ],
    });
    const device = await wireguard.device('wg0');
    expect(device.peers[0]?.allowedIps.map(String)).toEqual([
      '10.0.0.1/32',
      'fd00::1/128',
      '10.0.0.3/32',
    ]);
    expect(device.peers[1]?.allowedIps.map(String)).toEqual(['10.0.0.9/32']);
    const last = describeSet(kernel.setMessages.at(-1) as Uint8Array);
    expect(last.peers[0]?.flags).toBe(2);
  });

  it('round-trips private key removal, preshared key removal, listen port and fwmark', async () => {
    kernel.addDevice('wg0');
    await wireguard.configure('wg0', {
      privateKey: privateKeyOf(5),
      listenPort: 1234,
      firewallMark: 0xffff_ffff,
      peers: [{ publicKey: publicKeyOf(1), presharedKey: presharedKeyOf(1) }],
    });
    expect((await wireguard.device('wg0')).peers[0]?.hasPresharedKey).toBe(true);
    await wireguard.configure('wg0', {
      privateKey: null,
      firewallMark: 0,
      peers: [{ publicKey: publicKeyOf(1), presharedKey: null }],
    });
    const device = await wireguard.device('wg0');
    expect(device).toMatchObject({
      privateKey: undefined,
      publicKey: undefined,
      listenPort: 1234,
      firewallMark: 0,
    });
    expect(device.peers[0]?.hasPresharedKey).toBe(false);
  });
});

describe('kernel backend: errors become typed errors where they enter', () => {
  it('a missing interface', async () => {
    const error = await wireguard.device('wg9').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeviceNotFoundError);
    expect(error).toMatchObject({ code: 'DEVICE_NOT_FOUND', errno: 'ENODEV', device: 'wg9' });
    expect((error as Error).message).toMatch(/^no WireGuard interface named wg9/);
    await expect(wireguard.configure('wg9', {})).rejects.toBeInstanceOf(DeviceNotFoundError);
  });

  it('an interface that is not WireGuard', async () => {
    kernel.addOtherLink('eth0', 'veth');
    const error = await wireguard.device('eth0').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NotWireGuardDeviceError);
    expect(error).toMatchObject({ code: 'NOT_A_WIREGUARD_DEVICE', errno: 'EOPNOTSUPP' });
  });

  it('no CAP_NET_ADMIN', async () => {
    kernel.addDevice('wg0');
    kernel.privileged = false;
    const error = await wireguard.configure('wg0', { listenPort: 1 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermissionDeniedError);
    expect(error).toMatchObject({ errno: 'EPERM' });
    expect((error as Error).message).toMatch(/needs CAP_NET_ADMIN/);
  });

  it('a kernel without the WireGuard module', async () => {
    kernel.wireguardLoaded = false;
    const error = await wireguard.device('wg0').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeviceNotFoundError);
    expect(error).toMatchObject({ errno: 'ENOENT' });
    expect((error as Error).message).toMatch(/modprobe wireguard/);
  });

  it('a refusal with the kernel extended ack', async () => {
    kernel.addDevice('wg0');
    kernel.extendedAcks = true;
    kernel.portsInUse.add(51820);
    const error = await wireguard.configure('wg0', { listenPort: 51820 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WireGuardError);
    expect(error).toMatchObject({ code: 'REFUSED', errno: 'EADDRINUSE', device: 'wg0' });
    expect((error as Error).message).toMatch(/listen port is already in use/);
  });

  it('without NETLINK_EXT_ACK (the production socket) a refusal has the errno and no text', async () => {
    kernel.addDevice('wg0');
    const { GenericNetlink, NetlinkConnection, AttributeEncoder } = await import(
      '@wg-dynamic/wireguard/netlink'
    );
    const genl = new GenericNetlink(new NetlinkConnection(await kernel.openSocket(16)));
    const refused = await genl
      .request(
        await genl.family('wireguard'),
        1,
        1,
        new AttributeEncoder().string(2, 'x'.repeat(20)).encode(),
        'configure',
      )
      .catch((e: unknown) => e);
    expect(refused).toMatchObject({ errnoName: 'EINVAL', extendedAck: undefined });
    expect((refused as Error).message).toBe('configure: EINVAL (Invalid argument)');
    genl.close();
  });

  // The codec path for a socket that asks for the text (the production one cannot).
  it('carries the extended-ack text when the kernel gives one', async () => {
    kernel.addDevice('wg0');
    kernel.extendedAcks = true;
    // An interface name the kernel's policy refuses (longer than IFNAMSIZ - 1), sent raw.
    const { GenericNetlink, NetlinkConnection, AttributeEncoder } = await import(
      '@wg-dynamic/wireguard/netlink'
    );
    const genl = new GenericNetlink(new NetlinkConnection(await kernel.openSocket(16)));
    const error = await genl
      .request(
        await genl.family('wireguard'),
        1,
        1,
        new AttributeEncoder().string(2, 'x'.repeat(20)).encode(),
        'configure',
      )
      .catch((e: unknown) => e);
    expect(error).toMatchObject({
      errnoName: 'EINVAL',
      extendedAck: 'Attribute failed policy validation',
    });
    genl.close();
  });
});

describe('devices()', () => {
  it('lists the kernel WireGuard links, and nothing else', async () => {
    kernel.addDevice('wg1');
    kernel.addOtherLink('eth0', 'veth');
    kernel.addOtherLink('lo', undefined);
    kernel.addDevice('wg0');
    expect(await wireguard.devices()).toEqual(['wg0', 'wg1']);
  });

  it('refuses an invalid name before sending anything', async () => {
    for (const name of ['', 'a'.repeat(16), '../x', 'wg 0', '.']) {
      await expect(wireguard.device(name)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    }
    expect(kernel.requests).toEqual([]);
  });

  it('fails with CLOSED after close, and leaves no socket open', async () => {
    kernel.addDevice('wg0');
    await wireguard.device('wg0');
    expect(kernel.openSockets).toBeGreaterThan(0);
    await wireguard.close();
    expect(kernel.openSockets).toBe(0);
    await expect(wireguard.device('wg0')).rejects.toMatchObject({ code: 'CLOSED' });
  });
});
