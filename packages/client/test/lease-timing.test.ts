import {
  backoffDelay,
  DEFAULT_TIMING,
  type Instant,
  leaseClock,
  renewBeforeEnd,
} from '@wg-dynamic/client';
import { describe, expect, it } from 'vitest';
import { fixedRandom, seededRandom } from './support/random.js';

const wall = 1_700_000_000_000; // ms
const sent: Instant = { monotonic: 50_000, wall };
const received: Instant = { monotonic: 50_020, wall: wall + 20 };

describe('leaseClock', () => {
  it('trusts a leasestart that agrees with the clock, never ending later than sent + leasetime', () => {
    const clock = leaseClock(wall / 1000, 3600, sent, received);
    expect(clock.skewMs).toBeUndefined();
    expect(clock.expiresAt).toBe(sent.monotonic + 3_600_000);
    expect(clock.expiresAtWall).toBe(wall + 3_600_000);
  });

  it('ends the lease earlier when the server started it a little before the request (within tolerance)', () => {
    const clock = leaseClock(wall / 1000 - 3, 3600, sent, received);
    expect(clock.skewMs).toBeUndefined();
    expect(clock.expiresAt).toBe(sent.monotonic + 3_597_000);
  });

  it('a server clock slightly ahead never lengthens the lease', () => {
    const clock = leaseClock(wall / 1000 + 4, 3600, sent, received);
    expect(clock.skewMs).toBeUndefined();
    expect(clock.expiresAt).toBe(sent.monotonic + 3_600_000);
  });

  it.each([
    ['an hour behind', -3600],
    ['a day ahead', 86_400],
    ['at the epoch', -wall / 1000],
  ])('counts from the request when the server clock is %s', (_, offset) => {
    const clock = leaseClock(wall / 1000 + offset, 600, sent, received);
    expect(clock.skewMs).not.toBeUndefined();
    expect(Math.sign(clock.skewMs ?? 0)).toBe(Math.sign(offset));
    expect(clock.expiresAt).toBe(sent.monotonic + 600_000);
    expect(clock.expiresAtWall).toBe(wall + 600_000);
  });

  it('allows for leasestart being truncated to whole seconds', () => {
    const at: Instant = { monotonic: 0, wall: wall + 999 };
    const clock = leaseClock(
      Math.floor(at.wall / 1000) - DEFAULT_TIMING.skewToleranceMs / 1000,
      60,
      at,
      at,
    );
    expect(clock.skewMs).toBeUndefined();
  });
});

describe('renewBeforeEnd', () => {
  it('long leases renew 300 s before the end, with 0-30 s of jitter', () => {
    const random = seededRandom(1);
    for (let i = 0; i < 1000; i++) {
      const before = renewBeforeEnd(3_600_000, random);
      expect(before).toBeGreaterThanOrEqual(300_000);
      expect(before).toBeLessThan(330_000);
    }
    expect(renewBeforeEnd(3_600_000, fixedRandom(0))).toBe(300_000);
    expect(renewBeforeEnd(3_600_000, fixedRandom(0.5))).toBe(315_000);
  });

  it('short leases renew around half-way, never later than the reference (half the lease before the end)', () => {
    const random = seededRandom(2);
    for (const duration of [1_000, 6_000, 10_000, 60_000, 600_000]) {
      for (let i = 0; i < 200; i++) {
        const before = renewBeforeEnd(duration, random);
        expect(before).toBeGreaterThanOrEqual(duration * 0.5);
        expect(before).toBeLessThan(duration * 0.6);
      }
    }
  });

  it('the jitter spreads clients out', () => {
    const random = seededRandom(3);
    const values = new Set(
      Array.from({ length: 100 }, () => Math.round(renewBeforeEnd(3_600_000, random))),
    );
    expect(values.size).toBeGreaterThan(90);
  });
});

describe('backoffDelay', () => {
  it('grows exponentially: the ceiling doubles with each failure', () => {
    const almostOne = fixedRandom(0.999999);
    const ceilings = [1, 2, 3, 4, 5, 6].map((n) => Math.round(backoffDelay(n, almostOne)));
    expect(ceilings).toEqual([1000, 2000, 4000, 8000, 16000, 32000]);
  });

  it('stops growing at the cap', () => {
    const almostOne = fixedRandom(0.999999);
    for (const n of [7, 8, 20, 1000, Number.MAX_SAFE_INTEGER]) {
      expect(Math.round(backoffDelay(n, almostOne))).toBe(DEFAULT_TIMING.backoffCapMs);
    }
  });

  it('full jitter: anywhere between the floor and the ceiling', () => {
    const random = seededRandom(4);
    const samples = Array.from({ length: 2000 }, () => backoffDelay(5, random));
    for (const delay of samples) {
      expect(delay).toBeGreaterThanOrEqual(DEFAULT_TIMING.backoffFloorMs);
      expect(delay).toBeLessThan(16_000);
    }
    expect(Math.min(...samples)).toBeLessThan(1_000);
    expect(Math.max(...samples)).toBeGreaterThan(15_000);
    expect(backoffDelay(1, fixedRandom(0))).toBe(DEFAULT_TIMING.backoffFloorMs);
  });
});
