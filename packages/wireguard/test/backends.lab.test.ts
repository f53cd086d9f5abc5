/**
 * One suite for both backends, against real WireGuard: wireguard-go in the
 * lab sandbox (WG_DYNAMIC_LAB_BACKEND=userspace, the default) or the kernel
 * module inside the kernel lab's virtual machine (=kernel). The table below
 * is the whole contract the daemons rely on; it runs unchanged on each.
 *
 *   packages/lab/bin/lab-sandbox node_modules/.bin/vitest run --project lab packages/wireguard
 *   packages/lab/bin/kernel-lab -- env WG_DYNAMIC_LAB_BACKEND=kernel \
 *     node_modules/.bin/vitest run --project lab packages/wireguard
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { IpAddress, IpPrefix } from '@wg-dynamic/ip';
import {
  backendFromEnvironment,
  createWireGuardInterface,
  runCommand,
  type WireGuardInterface,
} from '@wg-dynamic/lab';
import {
  type Device,
  DeviceNotFoundError,
  Key,
  openWireGuard,
  type PeerConfig,
  PeerNotFoundError,
  SecretKey,
  type WireGuard,
} from '@wg-dynamic/wireguard';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';

const backend = backendFromEnvironment();

/** A distinct public key per number (any 32 bytes are a key to WireGuard's configuration). */
function publicKeyOf(n: number): Key {
  const bytes = new Uint8Array(32);
  new DataView(bytes.buffer).setUint32(0, n + 1);
  bytes[31] = 0x77;
  return Key.fromBytes(bytes);
}

/** Ten allowed-ips of peer `n`: five IPv4 /32 and five IPv6 /128, unique per peer. */
function allowedIpsOf(n: number, count = 10): IpPrefix[] {
  return Array.from({ length: count }, (_, i) =>
    i % 2 === 0
      ? IpPrefix.host(IpAddress.fromBigInt(4, 0x0a00_0000n + BigInt(n * count + i)))
      : IpPrefix.host(IpAddress.fromBigInt(6, (0xfd00n << 112n) | BigInt(n * count + i))),
  );
}

const sorted = (prefixes: readonly IpPrefix[]) => prefixes.map(String).sort();

/** The peers of a device as key → sorted allowed-ips (the kernel keeps insertion order, wireguard-go trie order). */
function peerMap(device: Device): Map<string, string[]> {
  return new Map(device.peers.map((peer) => [peer.publicKey.toBase64(), sorted(peer.allowedIps)]));
}

interface Context {
  readonly wireguard: WireGuard;
  readonly name: string;
}

const cases: { readonly name: string; readonly run: (context: Context) => Promise<void> }[] = [
  {
    name: 'configures 1,000 peers with 10 allowed-ips each and reads back exactly that',
    run: async ({ wireguard, name }) => {
      const peers: PeerConfig[] = Array.from({ length: 1000 }, (_, n) => ({
        publicKey: publicKeyOf(n),
        allowedIps: allowedIpsOf(n),
      }));
      await wireguard.configure(name, { peers });
      const device = await wireguard.device(name);
      expect(device.peers).toHaveLength(1000);
      const expected = new Map(
        peers.map((p) => [p.publicKey.toBase64(), sorted(p.allowedIps ?? [])]),
      );
      expect(peerMap(device)).toEqual(expected);
      // wg(8) is the independent witness: it sees the same 10,000 allowed-ips.
      const dump = await runCommand(['wg', 'show', name, 'allowed-ips'], { check: true });
      const lines = dump.stdout.trim().split('\n');
      expect(lines).toHaveLength(1000);
      const witnessed = new Map(
        lines.map((line) => {
          const [key, ips = ''] = line.split('\t');
          return [key as string, ips.split(' ').sort()];
        }),
      );
      expect(witnessed).toEqual(expected);
    },
  },
  {
    name: "replaces one peer's allowed-ips, leaving the others untouched",
    run: async ({ wireguard, name }) => {
      await wireguard.configure(name, {
        peers: [0, 1, 2].map((n) => ({ publicKey: publicKeyOf(n), allowedIps: allowedIpsOf(n) })),
      });
      const replacement = [IpPrefix.from('192.168.7.0/24'), IpPrefix.from('fd77::/64')];
      await wireguard.configure(name, {
        peers: [
          {
            publicKey: publicKeyOf(1),
            updateOnly: true,
            replaceAllowedIps: true,
            allowedIps: replacement,
          },
        ],
      });
      const peers = peerMap(await wireguard.device(name));
      expect(peers.get(publicKeyOf(0).toBase64())).toEqual(sorted(allowedIpsOf(0)));
      expect(peers.get(publicKeyOf(1).toBase64())).toEqual(sorted(replacement));
      expect(peers.get(publicKeyOf(2).toBase64())).toEqual(sorted(allowedIpsOf(2)));
    },
  },
  {
    name: 'adds and removes single allowed-ips',
    run: async ({ wireguard, name }) => {
      const key = publicKeyOf(5);
      const [a, b, c] = [
        IpPrefix.from('10.5.0.1/32'),
        IpPrefix.from('10.5.0.2/32'),
        IpPrefix.from('fd05::3/128'),
      ];
      await wireguard.configure(name, {
        peers: [
          { publicKey: key, allowedIps: [a as IpPrefix] },
          { publicKey: publicKeyOf(6), allowedIps: allowedIpsOf(6) },
        ],
      });
      await wireguard.configure(name, {
        peers: [{ publicKey: key, updateOnly: true, allowedIps: [b as IpPrefix, c as IpPrefix] }],
      });
      expect(peerMap(await wireguard.device(name)).get(key.toBase64())).toEqual(
        sorted([a, b, c] as IpPrefix[]),
      );
      await wireguard.configure(name, {
        peers: [{ publicKey: key, updateOnly: true, removeAllowedIps: [b as IpPrefix] }],
      });
      const peers = peerMap(await wireguard.device(name));
      expect(peers.get(key.toBase64())).toEqual(sorted([a, c] as IpPrefix[]));
      expect(peers.get(publicKeyOf(6).toBase64())).toEqual(sorted(allowedIpsOf(6)));
    },
  },
  {
    name: 'update-only on a missing peer fails with PeerNotFoundError and creates nothing',
    run: async ({ wireguard, name }) => {
      await wireguard.configure(name, { peers: [{ publicKey: publicKeyOf(1) }] });
      const missing = publicKeyOf(2);
      const error = await wireguard
        .configure(name, {
          peers: [{ publicKey: missing, updateOnly: true, allowedIps: allowedIpsOf(2, 2000) }],
        })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PeerNotFoundError);
      expect((error as PeerNotFoundError).publicKeys.map(String)).toEqual([missing.toBase64()]);
      const device = await wireguard.device(name);
      expect(device.peers.map((p) => p.publicKey.toBase64())).toEqual([publicKeyOf(1).toBase64()]);
      expect(device.peers[0]?.allowedIps).toEqual([]);
      // Skipping the check changes nothing on the device either.
      await wireguard.configure(
        name,
        { peers: [{ publicKey: missing, updateOnly: true, allowedIps: allowedIpsOf(2) }] },
        { verifyUpdateOnlyPeers: false },
      );
      expect((await wireguard.device(name)).peers).toHaveLength(1);
    },
  },
  {
    name: 'reads a device with 10,000 peers whole',
    run: async ({ wireguard, name }) => {
      const peers = Array.from({ length: 10_000 }, (_, n) => ({
        publicKey: publicKeyOf(n),
        allowedIps: allowedIpsOf(n, 1),
      }));
      await wireguard.configure(name, { peers });
      const device = await wireguard.device(name);
      expect(device.peers).toHaveLength(10_000);
      expect(peerMap(device)).toEqual(
        new Map(peers.map((p) => [p.publicKey.toBase64(), sorted(p.allowedIps)])),
      );
    },
  },
  {
    name: 'configures 100,000 allowed-ips on one peer',
    run: async ({ wireguard, name }) => {
      const many = Array.from({ length: 100_000 }, (_, i) =>
        IpPrefix.host(IpAddress.fromBigInt(4, 0x0b00_0000n + BigInt(i))),
      );
      await wireguard.configure(name, { peers: [{ publicKey: publicKeyOf(1), allowedIps: many }] });
      const [peer] = (await wireguard.device(name)).peers;
      expect(peer?.allowedIps).toHaveLength(100_000);
      expect(sorted(peer?.allowedIps ?? [])).toEqual(sorted(many));
    },
  },
  {
    name: 'round-trips private key, listen port, firewall mark and peer settings',
    run: async ({ wireguard, name }) => {
      const privateKey = SecretKey.generate(randomBytes);
      const presharedKey = SecretKey.generatePreshared(randomBytes);
      await wireguard.configure(name, {
        privateKey,
        listenPort: 41_234,
        firewallMark: 0x1234,
        peers: [
          {
            publicKey: publicKeyOf(1),
            presharedKey,
            endpoint: { address: IpAddress.parse('192.0.2.10') as IpAddress, port: 51_820 },
            persistentKeepaliveInterval: 25,
          },
        ],
      });
      const device = await wireguard.device(name);
      expect(device.name).toBe(name);
      expect(device.backend).toBe(backend);
      expect(device.index).toBe(
        Number((await readFile(`/sys/class/net/${name}/ifindex`, 'utf8')).trim()),
      );
      expect(device.privateKey?.equals(privateKey)).toBe(true);
      expect(device.publicKey?.equals(privateKey.publicKey())).toBe(true);
      expect(device.listenPort).toBe(41_234);
      expect(device.firewallMark).toBe(0x1234);
      const [peer] = device.peers;
      expect(peer?.hasPresharedKey).toBe(true);
      expect(peer?.endpoint?.address.toString()).toBe('192.0.2.10');
      expect(peer?.endpoint?.port).toBe(51_820);
      expect(peer?.persistentKeepaliveInterval).toBe(25);
      expect(peer?.lastHandshake).toBeUndefined();
      // wg(8) derives the same public key.
      const witness = await runCommand(['wg', 'show', name, 'public-key'], { check: true });
      expect(witness.stdout.trim()).toBe(privateKey.publicKey().toBase64());
      // Clearing is explicit.
      await wireguard.configure(name, {
        firewallMark: 0,
        peers: [{ publicKey: publicKeyOf(1), presharedKey: null }],
      });
      const cleared = await wireguard.device(name);
      expect(cleared.firewallMark).toBe(0);
      expect(cleared.peers[0]?.hasPresharedKey).toBe(false);
    },
  },
  {
    name: 'lists the device, and fails with a not-found error for a missing interface',
    run: async ({ wireguard, name }) => {
      expect(await wireguard.devices()).toContain(name);
      for (const attempt of [
        () => wireguard.device('wgmissing0'),
        () => wireguard.configure('wgmissing0', { listenPort: 1 }),
      ]) {
        const error = await attempt().catch((e: unknown) => e);
        expect(error).toBeInstanceOf(DeviceNotFoundError);
        expect((error as Error).message).toMatch(/^no WireGuard interface named wgmissing0/);
      }
    },
  },
];

describe(`the WireGuard device layer against real ${backend} WireGuard`, () => {
  let wireguard: WireGuard;
  let device: WireGuardInterface | undefined;
  let counter = 0;

  beforeAll(() => {
    wireguard = openWireGuard();
  });
  afterAll(async () => {
    await wireguard.close();
  });
  beforeEach(async () => {
    device = await createWireGuardInterface(`wgdev${counter++}`);
  });
  // Deleting a kernel device removes its peers one by one, each waiting for
  // an RCU grace period (netif_napi_del → synchronize_net, Linux 6.1, without
  // RTNL held): minutes for 10,000 peers under the kernel lab's emulation,
  // longer than the lab lets `ip link del` take. A SET_DEVICE holds RTNL, so
  // its grace periods are expedited: removing the peers that way first takes
  // seconds.
  afterEach(async () => {
    if (!device) return;
    await wireguard.configure(device.name, { replacePeers: true });
    await device.destroy();
  }, 900_000);

  it.each(cases)('$name', async ({ run }) => {
    if (!device) throw new Error('no device');
    await run({ wireguard, name: device.name });
  });
});
