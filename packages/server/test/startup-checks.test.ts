import { FatalError } from '@wg-dynamic/cli';
import { IpPrefix } from '@wg-dynamic/ip';
import { type Device, DeviceNotFoundError, Key, type Peer } from '@wg-dynamic/wireguard';
import { describe, expect, it } from 'vitest';
import { checkServerInterface, explainDeviceError } from '../src/startup-checks.js';

const p = (text: string) => IpPrefix.from(text);

function device(peers: string[][]): Device {
  return {
    name: 'wg0',
    index: 3,
    backend: 'userspace',
    privateKey: undefined,
    publicKey: undefined,
    listenPort: 51820,
    firewallMark: 0,
    peers: peers.map(
      (allowed, i): Peer => ({
        publicKey: Key.fromBytes(new Uint8Array(32).fill(i + 1)),
        hasPresharedKey: false,
        endpoint: undefined,
        persistentKeepaliveInterval: 0,
        lastHandshake: undefined,
        receiveBytes: 0n,
        transmitBytes: 0n,
        allowedIps: allowed.map(p),
        protocolVersion: 1,
      }),
    ),
  };
}

describe('server start-up checks', () => {
  it('passes the classic set-up', () => {
    expect(() =>
      checkServerInterface(device([['fe80::1234/128']]), [p('fe80::/64')]),
    ).not.toThrow();
  });

  it('wants fe80::/64 exactly, and prints the command that adds it', () => {
    expect(() => checkServerInterface(device([['fe80::1/128']]), [p('fe80::1/64')])).toThrow(
      /wg0 has no address fe80::\/64 \(it has fe80::1\/64\).*ip address add fe80::\/64 dev wg0/,
    );
  });

  it('wants a peer with a link-local /128', () => {
    expect(() =>
      checkServerInterface(device([['fe80::/64'], ['10.0.0.0/8']]), [p('fe80::/64')]),
    ).toThrow(/no peer of wg0 has a link-local \/128/);
  });

  it('explains a missing interface', () => {
    const error = new DeviceNotFoundError('wg0', '');
    expect(() => explainDeviceError('wg0', error)).toThrow(FatalError);
    expect(() => explainDeviceError('wg0', error)).toThrow(/ip link add wg0 type wireguard/);
  });
});
