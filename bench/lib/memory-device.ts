import { IpAddress, IpPrefix } from '@wg-dynamic/ip';
import type { AllowedIpsChange, DevicePort, NetworkPort, PeerId } from '@wg-dynamic/server';
import { clientAddress } from './netns.js';

const KEY_FILL = 0x5c;

/** Client n's public key in base64: n in the first four bytes, a constant after. */
export function peerId(n: number): PeerId {
  const bytes = Buffer.alloc(32, KEY_FILL);
  bytes.writeUInt32BE(n, 0);
  return bytes.toString('base64');
}

/** The client number of a key made by `peerId`, or undefined for any other key. */
export function peerNumber(id: PeerId): number | undefined {
  const bytes = Buffer.from(id, 'base64');
  if (bytes.length !== 32 || bytes[31] !== KEY_FILL) return undefined;
  return bytes.readUInt32BE(0);
}

/**
 * A WireGuard device in memory for the server benchmark: `count` peers, client
 * n with its link-local /128 (`clientAddress(n)`) and whatever the server
 * leases it. It stores allowed-ips compactly (an IPv4 and an IPv6 inside
 * `v6Pool` per peer in typed arrays, anything else in a map), so that a
 * million peers cost it little, and `peers()` builds fresh objects every
 * time, as reading a real device does: what the server keeps of them is
 * the server's own memory.
 */
export class MemoryDevice implements DevicePort {
  readonly count: number;
  /** Configuration calls and peer changes written, for the report. */
  applies = 0;
  changes = 0;
  private readonly v4: Uint32Array;
  private readonly v6: BigUint64Array;
  private readonly hasV6: Uint8Array;
  private readonly v6High: bigint;
  private readonly extra = new Map<number, string[]>();
  private readonly scratchBytes = new Uint8Array(16);
  private readonly scratch = new DataView(this.scratchBytes.buffer);

  constructor(count: number, v6Pool: IpPrefix) {
    if (v6Pool.family !== 6 || v6Pool.length > 64) {
      throw new RangeError(`the device's IPv6 pool must be an IPv6 /64 or shorter, not ${v6Pool}`);
    }
    this.count = count;
    this.v4 = new Uint32Array(count);
    this.v6 = new BigUint64Array(count);
    this.hasV6 = new Uint8Array(count);
    this.v6High = v6Pool.address.toBigInt() >> 64n;
  }

  /** Puts a lease into client n's allowed-ips, as a restarted server would find it. */
  add(n: number, prefix: IpPrefix): void {
    this.change(n, prefix, true);
  }

  /** Client n's allowed-ips as text. */
  allowedIpsOf(n: number): string[] {
    return this.prefixesOf(n).map(String);
  }

  async peers(): Promise<ReadonlyMap<PeerId, readonly IpPrefix[]>> {
    const peers = new Map<PeerId, IpPrefix[]>();
    for (let n = 0; n < this.count; n++) peers.set(peerId(n), this.prefixesOf(n));
    return peers;
  }

  async apply(changes: readonly AllowedIpsChange[]): Promise<void> {
    this.applies++;
    for (const change of changes) {
      const n = peerNumber(change.peer);
      // update-only: a peer that does not exist is not created.
      if (n === undefined || n >= this.count) continue;
      this.changes++;
      for (const prefix of change.remove) this.change(n, prefix, false);
      for (const prefix of change.add) this.change(n, prefix, true);
    }
  }

  private prefixesOf(n: number): IpPrefix[] {
    // Built from bytes, as a device dump is parsed: the cost stays the server's, not the fake's.
    const bytes = this.scratch;
    bytes.setUint32(0, 0xfe80_0000);
    bytes.setUint32(4, 0);
    bytes.setUint32(8, 0x000b_0000);
    bytes.setUint32(12, n);
    const prefixes = [IpPrefix.host(IpAddress.fromBytes(this.scratchBytes))];
    const v4 = this.v4[n] ?? 0;
    if (v4 !== 0) {
      bytes.setUint32(0, v4);
      prefixes.push(IpPrefix.host(IpAddress.fromBytes(this.scratchBytes.subarray(0, 4))));
    }
    if (this.hasV6[n]) {
      bytes.setBigUint64(0, this.v6High);
      bytes.setBigUint64(8, this.v6[n] ?? 0n);
      prefixes.push(IpPrefix.host(IpAddress.fromBytes(this.scratchBytes)));
    }
    for (const text of this.extra.get(n) ?? []) prefixes.push(IpPrefix.from(text));
    return prefixes;
  }

  private change(n: number, prefix: IpPrefix, add: boolean): void {
    if (prefix.isHost() && prefix.family === 4 && !prefix.address.isUnspecified()) {
      const value = Number(prefix.address.toBigInt());
      if (add && this.v4[n] === 0) {
        this.v4[n] = value;
        return;
      }
      if (!add && this.v4[n] === value) {
        this.v4[n] = 0;
        return;
      }
    }
    if (prefix.isHost() && prefix.family === 6) {
      const value = prefix.address.toBigInt();
      if (value >> 64n === this.v6High) {
        const low = BigInt.asUintN(64, value);
        if (add && !this.hasV6[n]) {
          this.v6[n] = low;
          this.hasV6[n] = 1;
          return;
        }
        if (!add && this.hasV6[n] && this.v6[n] === low) {
          this.hasV6[n] = 0;
          return;
        }
      }
    }
    if (prefix.equals(IpPrefix.host(clientAddress(n)))) return;
    const text = prefix.toString();
    const others = this.extra.get(n) ?? [];
    const at = others.indexOf(text);
    if (add && at === -1) this.extra.set(n, [...others, text]);
    if (!add && at !== -1) others.splice(at, 1);
  }
}

/** The interface's addresses and routes, fixed: the server's fe80::/64 and its pools. */
export function memoryNetwork(pools: readonly IpPrefix[]): NetworkPort {
  const own = [IpPrefix.from('fe80::/64')];
  return {
    ownAddresses: async () => own,
    routes: async () => pools,
    watch: () => () => {},
  };
}
