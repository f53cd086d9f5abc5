import type { IpPrefix } from '@wg-dynamic/ip';
import pino from 'pino';
import type { AllowedIpsChange, Clock, LeaseRecord, PeerId } from '../../src/leases/lease.js';
import type { Timers } from '../../src/service/lease-service.js';
import type { DevicePort, JournalPort } from '../../src/service/ports.js';

export const silent = pino({ level: 'silent' });

/** A device that keeps allowed-ips in memory and applies changes as WireGuard would. */
export class FakeDevice implements DevicePort {
  readonly allowed = new Map<PeerId, IpPrefix[]>();
  applies: AllowedIpsChange[][] = [];
  failNext: Error | undefined;

  constructor(peers: Record<PeerId, IpPrefix[]>) {
    for (const [peer, list] of Object.entries(peers)) this.allowed.set(peer, [...list]);
  }

  async peers() {
    return new Map([...this.allowed].map(([k, v]) => [k, [...v]] as const));
  }

  async apply(changes: readonly AllowedIpsChange[]) {
    this.applies.push([...changes]);
    if (this.failNext) {
      const error = this.failNext;
      this.failNext = undefined;
      throw error;
    }
    for (const change of changes) {
      const list = this.allowed.get(change.peer);
      if (!list) continue; // update-only: never creates a peer
      const kept = list.filter((p) => !change.remove.some((r) => r.equals(p)));
      for (const add of change.add) {
        // WireGuard moves an allowed-ip from whichever peer had it.
        for (const other of this.allowed.values()) {
          const i = other.findIndex((p) => p.equals(add));
          if (i !== -1) other.splice(i, 1);
        }
        kept.push(add);
      }
      this.allowed.set(change.peer, kept);
    }
  }

  of(peer: PeerId): string[] {
    return (this.allowed.get(peer) ?? []).map(String);
  }
}

/** A journal in memory, with switches for the failure paths. */
export class FakeJournal implements JournalPort {
  readonly records: LeaseRecord[] = [];
  appends = 0;
  lowSpace = false;
  failNext: Error | undefined;

  async append(records: readonly LeaseRecord[]) {
    this.appends++;
    if (this.failNext) {
      const error = this.failNext;
      this.failNext = undefined;
      throw error;
    }
    this.records.push(...records);
  }
}

export class FakeClock implements Clock {
  mono = 1_000;
  wall = 1_700_000_000;
  monotonicMs = () => this.mono;
  wallSeconds = () => this.wall;
}

/** Timers that fire only when the test advances them. */
export class FakeTimers implements Timers {
  private next = 1;
  readonly pending = new Map<number, { at: number; callback: () => void }>();
  constructor(private readonly clock: FakeClock) {}

  setTimeout(callback: () => void, ms: number) {
    const handle = this.next++;
    this.pending.set(handle, { at: this.clock.mono + ms, callback });
    return handle;
  }

  clearTimeout(handle: unknown) {
    this.pending.delete(handle as number);
  }

  /** Moves both clocks on and fires what is due. */
  advance(seconds: number) {
    this.clock.mono += seconds * 1000;
    this.clock.wall += seconds;
    for (const [handle, timer] of [...this.pending]) {
      if (timer.at <= this.clock.mono) {
        this.pending.delete(handle);
        timer.callback();
      }
    }
  }
}
