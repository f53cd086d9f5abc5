/**
 * The WireGuard device layer against a real device: how long one configure
 * call takes to set the allowed-ips of 1, 100 and 10,000 peers of a device
 * that has 10,000, and how long reading that device takes. It needs a real
 * WireGuard interface, so it runs only inside a lab:
 *
 *   npm run bench -- device                                   (as root: wireguard-go in a lab sandbox)
 *   packages/lab/bin/kernel-lab -- node bench/dist/run.js device   (the kernel module, under qemu)
 *
 * Elsewhere it says in the table that it did not run. Under the kernel lab
 * the guest's file system is thrown away: copy the table, not the file.
 */
import { IpAddress, IpPrefix } from '@wg-dynamic/ip';
import { backendFromEnvironment, createWireGuardInterface, isInSandbox } from '@wg-dynamic/lab';
import { Key, openWireGuard, type PeerConfig } from '@wg-dynamic/wireguard';
import { percentile, timeMs } from './lib/measure.js';
import { type Figure, notRun } from './lib/report.js';

const DEVICE_PEERS = 10_000;

function publicKeyOf(n: number): Key {
  const bytes = new Uint8Array(32);
  new DataView(bytes.buffer).setUint32(0, n + 1);
  bytes[31] = 0x42;
  return Key.fromBytes(bytes);
}

/** Peer n's single allowed-ip in round `round`: a /32 that changes every round. */
function allowedIpOf(n: number, round: number): IpPrefix {
  return IpPrefix.host(IpAddress.fromBigInt(4, 0x0a00_0000n + BigInt(round * DEVICE_PEERS + n)));
}

export default async function device(): Promise<Figure[]> {
  if (!isInSandbox()) {
    return notRun(
      'device',
      'needs a real WireGuard interface: run `npm run bench -- device` as root (lab sandbox, wireguard-go) or `packages/lab/bin/kernel-lab -- node bench/dist/run.js device` (kernel)',
    );
  }
  const backend = backendFromEnvironment();
  const suite = 'device';
  const figures: Figure[] = [];
  const wireguard = openWireGuard();
  const iface = await createWireGuardInterface('wgbench0');
  try {
    const name = iface.name;
    await wireguard.configure(name, {
      peers: Array.from({ length: DEVICE_PEERS }, (_, n) => ({
        publicKey: publicKeyOf(n),
        allowedIps: [allowedIpOf(n, 0)],
      })),
    });
    let round = 1;
    const setAllowedIps = (count: number, verify: boolean) => {
      const peers: PeerConfig[] = Array.from({ length: count }, (_, n) => ({
        publicKey: publicKeyOf(n),
        updateOnly: true,
        replaceAllowedIps: true,
        allowedIps: [allowedIpOf(n, round)],
      }));
      round++;
      return wireguard.configure(name, { peers }, { verifyUpdateOnlyPeers: verify });
    };
    for (const [count, repeats] of [
      [1, 30],
      [100, 15],
      [10_000, 5],
    ] as const) {
      for (const verify of [false, true]) {
        const times: number[] = [];
        for (let i = 0; i < repeats; i++)
          times.push(await timeMs(() => setAllowedIps(count, verify)));
        figures.push({
          suite,
          name: `${backend}: set allowed-ips of ${count.toLocaleString('en-US')} peer(s), one call${verify ? ', checked' : ''}`,
          value: percentile(times, 50),
          unit: 'ms',
          lowerIsBetter: true,
          note: `median of ${repeats}; device of ${DEVICE_PEERS.toLocaleString('en-US')} peers; ${verify ? 'with' : 'without'} the update-only check (a read of the device)`,
        });
      }
    }
    const reads: number[] = [];
    for (let i = 0; i < 5; i++) {
      reads.push(
        await timeMs(async () => {
          const read = await wireguard.device(name);
          if (read.peers.length !== DEVICE_PEERS)
            throw new Error(`read ${read.peers.length} peers`);
        }),
      );
    }
    figures.push({
      suite,
      name: `${backend}: read a device of ${DEVICE_PEERS.toLocaleString('en-US')} peers`,
      value: percentile(reads, 50),
      unit: 'ms',
      lowerIsBetter: true,
      note: 'median of 5',
    });
  } finally {
    // Emptying the device first keeps a kernel device's deletion short (see
    // packages/wireguard/test/backends.lab.test.ts).
    await wireguard.configure(iface.name, { replacePeers: true }).catch(() => {});
    await iface.destroy();
    await wireguard.close();
  }
  return figures;
}
