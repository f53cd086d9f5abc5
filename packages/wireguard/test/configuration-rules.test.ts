import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IpAddress, IpPrefix } from '@wg-dynamic/ip';
import {
  type DeviceConfig,
  InvalidArgumentError,
  type Key,
  openWireGuard,
  type WireGuard,
} from '@wg-dynamic/wireguard';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeKernel } from './support/fake-kernel.js';
import { presharedKeyOf, publicKeyOf } from './support/keys.js';

let directory: string;
let kernel: FakeKernel;
let wireguard: WireGuard;

beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), 'wg-rules-'));
  kernel = new FakeKernel();
  kernel.addDevice('wg0');
  wireguard = openWireGuard({ uapiDirectory: directory, openNetlinkSocket: kernel.openSocket });
});

afterEach(async () => {
  await wireguard.close();
  await rm(directory, { recursive: true, force: true });
});

const p = (text: string) => IpPrefix.from(text);
const key = publicKeyOf(1);

describe('a configuration is checked whole before anything is sent', () => {
  it.each<[string, DeviceConfig, RegExp]>([
    ['a listen port above 65535', { listenPort: 65536 }, /listenPort 65536/],
    ['a fractional listen port', { listenPort: 1.5 }, /listenPort/],
    ['a negative firewall mark', { firewallMark: -1 }, /firewallMark/],
    ['a mark above 32 bits', { firewallMark: 2 ** 32 }, /firewallMark/],
    [
      'the same peer twice',
      { peers: [{ publicKey: key }, { publicKey: publicKeyOf(1) }] },
      /appears twice/,
    ],
    [
      'a removed peer with changes',
      { peers: [{ publicKey: key, remove: true, allowedIps: [p('10.0.0.1/32')] }] },
      /removed, so allowedIps/,
    ],
    [
      'a keepalive out of range',
      { peers: [{ publicKey: key, persistentKeepaliveInterval: 70000 }] },
      /persistentKeepaliveInterval/,
    ],
    [
      'an endpoint port 0',
      {
        peers: [
          {
            publicKey: key,
            endpoint: { address: IpAddress.parse('192.0.2.1') as IpAddress, port: 0 },
          },
        ],
      },
      /endpoint port 0/,
    ],
    [
      'remove with replace allowed-ips',
      {
        peers: [{ publicKey: key, replaceAllowedIps: true, removeAllowedIps: [p('10.0.0.1/32')] }],
      },
      /cannot be combined/,
    ],
    [
      'a prefix added and removed',
      {
        peers: [
          { publicKey: key, allowedIps: [p('10.0.0.5/24')], removeAllowedIps: [p('10.0.0.0/24')] },
        ],
      },
      /both added and removed/,
    ],
    [
      'a public key that is not a Key',
      { peers: [{ publicKey: 'abc' as unknown as Key }] },
      /no publicKey/,
    ],
    [
      'a preshared key that is not a SecretKey',
      { peers: [{ publicKey: key, presharedKey: key as never }] },
      /presharedKey must be/,
    ],
  ])('refuses %s', async (_label, config, message) => {
    const error = await wireguard.configure('wg0', config).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as Error).message).toMatch(message);
    expect((error as InvalidArgumentError).device).toBe('wg0');
    expect(kernel.requests).toEqual([]);
  });

  it('accepts the limits themselves', async () => {
    await wireguard.configure('wg0', {
      listenPort: 65535,
      firewallMark: 2 ** 32 - 1,
      peers: [
        {
          publicKey: key,
          presharedKey: presharedKeyOf(1),
          persistentKeepaliveInterval: 65535,
          endpoint: { address: IpAddress.parse('::1') as IpAddress, port: 65535 },
        },
        { publicKey: publicKeyOf(2), remove: true, updateOnly: true },
      ],
    });
    expect((await wireguard.device('wg0')).peers[0]?.persistentKeepaliveInterval).toBe(65535);
  });

  it('compares removed allowed-ips by network, as the implementations store them', async () => {
    await wireguard.configure('wg0', {
      peers: [{ publicKey: key, allowedIps: [p('10.0.0.0/24'), p('10.0.1.0/24')] }],
    });
    await wireguard.configure('wg0', {
      peers: [{ publicKey: key, removeAllowedIps: [p('10.0.0.77/24')] }],
    });
    expect((await wireguard.device('wg0')).peers[0]?.allowedIps.map(String)).toEqual([
      '10.0.1.0/24',
    ]);
  });

  it('removing allowed-ips of a peer that does not exist creates it with its additions only', async () => {
    await wireguard.configure('wg0', {
      peers: [
        { publicKey: key, removeAllowedIps: [p('10.0.0.1/32')], allowedIps: [p('10.0.0.2/32')] },
      ],
    });
    expect((await wireguard.device('wg0')).peers[0]?.allowedIps.map(String)).toEqual([
      '10.0.0.2/32',
    ]);
  });
});
