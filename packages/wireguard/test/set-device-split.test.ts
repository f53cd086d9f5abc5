import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IpAddress, IpPrefix } from '@wg-dynamic/ip';
import {
  type DeviceConfig,
  openWireGuard,
  type PeerConfig,
  PeerNotFoundError,
} from '@wg-dynamic/wireguard';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeKernel } from './support/fake-kernel.js';
import { presharedKeyOf, publicKeyOf } from './support/keys.js';

let directory: string;
beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'wg-split-'));
});
afterAll(async () => {
  await rm(directory, { recursive: true, force: true });
});

const allowedIp = fc.oneof(
  fc
    .tuple(fc.integer({ min: 0, max: 0xffff_ffff }), fc.integer({ min: 0, max: 32 }))
    .map(([n, length]) => new IpPrefix(IpAddress.fromBigInt(4, BigInt(n)), length).network()),
  fc
    .tuple(fc.bigInt({ min: 0n, max: 2n ** 128n - 1n }), fc.integer({ min: 0, max: 128 }))
    .map(([n, length]) => new IpPrefix(IpAddress.fromBigInt(6, n), length).network()),
);

const peer = (index: number) =>
  fc
    .record({
      kind: fc.constantFrom('change', 'change', 'change', 'remove'),
      updateOnly: fc.boolean(),
      replaceAllowedIps: fc.boolean(),
      psk: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }),
      keepalive: fc.option(fc.integer({ min: 0, max: 65535 }), { nil: undefined }),
      allowedIps: fc.array(allowedIp, { maxLength: 120 }),
    })
    .map((p): PeerConfig => {
      const publicKey = publicKeyOf(index);
      if (p.kind === 'remove') return { publicKey, remove: true, updateOnly: p.updateOnly };
      return {
        publicKey,
        updateOnly: p.updateOnly,
        replaceAllowedIps: p.replaceAllowedIps,
        allowedIps: p.allowedIps,
        ...(p.psk === undefined
          ? {}
          : { presharedKey: p.psk === 0 ? null : presharedKeyOf(p.psk) }),
        ...(p.keepalive === undefined ? {} : { persistentKeepaliveInterval: p.keepalive }),
      };
    });

const config = fc
  .uniqueArray(fc.integer({ min: 0, max: 12 }), { maxLength: 8 })
  .chain((indexes) => fc.tuple(...indexes.map(peer)))
  .chain((peers) =>
    fc
      .record({
        replacePeers: fc.boolean(),
        listenPort: fc.option(fc.integer({ min: 0, max: 65535 }), { nil: undefined }),
      })
      .map(
        (d): DeviceConfig => ({
          peers,
          ...(d.replacePeers ? { replacePeers: true } : {}),
          ...(d.listenPort === undefined ? {} : { listenPort: d.listenPort }),
        }),
      ),
  );

/** Applies configurations to a fresh fake kernel with the given send buffer; returns its state. */
async function apply(sendBufferSize: number, configs: DeviceConfig[]) {
  const kernel = new FakeKernel();
  kernel.sendBufferSize = sendBufferSize;
  kernel.addDevice('wg0');
  const wireguard = openWireGuard({
    uapiDirectory: directory,
    openNetlinkSocket: kernel.openSocket,
  });
  const outcomes: string[] = [];
  try {
    for (const c of configs) {
      outcomes.push(
        await wireguard.configure('wg0', c).then(
          () => 'ok',
          (error: unknown) =>
            error instanceof PeerNotFoundError
              ? `missing ${error.publicKeys.join(',')}`
              : Promise.reject(error),
        ),
      );
    }
  } finally {
    await wireguard.close();
  }
  const device = kernel.devices.get('wg0');
  return { outcomes, device, messages: kernel.setMessages.length };
}

describe('SET_DEVICE split over messages (property)', () => {
  it('any send buffer size gives the same device as one big message', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(config, { minLength: 1, maxLength: 3 }),
        fc.integer({ min: 700, max: 6000 }),
        async (configs, small) => {
          const reference = await apply(4 * 1024 * 1024, configs);
          const split = await apply(small, configs);
          expect(split.outcomes).toEqual(reference.outcomes);
          expect(split.device).toEqual(reference.device);
        },
      ),
      { numRuns: 60 },
    );
  });
});
