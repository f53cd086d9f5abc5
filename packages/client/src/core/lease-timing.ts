/**
 * When a lease ends, when to renew it, how long to wait after a failure.
 * Pure functions of their inputs: the clock readings and a random source
 * (returning numbers in [0, 1)) are passed in.
 */

/** One reading of both clocks, in milliseconds. */
export interface Instant {
  /** A monotonic clock (performance.now()): immune to wall-clock steps. */
  readonly monotonic: number;
  /** The wall clock (Date.now()): what `leasestart` is compared with. */
  readonly wall: number;
}

/** A source of uniform random numbers in [0, 1). */
export type Random = () => number;

export interface TimingPolicy {
  /** How far the wall clock may disagree with the server's `leasestart` before the lease is counted from the request. */
  readonly skewToleranceMs: number;
  /** Leases at least this long renew `renewBeforeEndMs` (plus jitter) before their end; shorter ones around half-way. */
  readonly longLeaseMs: number;
  readonly renewBeforeEndMs: number;
  readonly renewJitterMs: number;
  /** Short leases renew this fraction of the lease before the end, plus up to `shortLeaseJitter` more. */
  readonly shortLeaseRenewFraction: number;
  readonly shortLeaseJitter: number;
  /** Exponential back-off with full jitter: a delay drawn from [floor, min(cap, base·2^(n-1))]. */
  readonly backoffBaseMs: number;
  readonly backoffCapMs: number;
  readonly backoffFloorMs: number;
}

/**
 * The reference design notes: renew 300 s before the end with 0-30 s of jitter
 * for long leases; a lease shorter than twice that window renews around
 * half-way (the reference code renews min(30, leasetime/2) before the end, so
 * never later than it). Failures back off from 1 s, doubling, up to a minute.
 */
export const DEFAULT_TIMING: TimingPolicy = {
  skewToleranceMs: 5_000,
  longLeaseMs: 660_000,
  renewBeforeEndMs: 300_000,
  renewJitterMs: 30_000,
  shortLeaseRenewFraction: 0.5,
  shortLeaseJitter: 0.1,
  backoffBaseMs: 1_000,
  backoffCapMs: 60_000,
  backoffFloorMs: 100,
};

export interface LeaseClock {
  /** The end of the lease on the monotonic clock. */
  readonly expiresAt: number;
  /** The end of the lease on the wall clock (for the state file). */
  readonly expiresAtWall: number;
  /**
   * How far `leasestart` lies outside the window in which the request was
   * answered, in ms, when it was too far to trust; undefined when trusted.
   */
  readonly skewMs: number | undefined;
}

/**
 * The end of a lease, robust against a wall clock that disagrees with the
 * server's. The lease began at the earliest when the request was sent, so
 * `sent + leasetime` never ends later than the server's lease does. When
 * `leasestart` falls within the window between sending and receiving (give
 * or take the tolerance, and its one-second resolution), it is trusted to
 * end the lease earlier than that, never later; outside it, the clocks
 * disagree and the lease counts from the moment the request was sent, on the
 * monotonic clock.
 */
export function leaseClock(
  leaseStart: number,
  leaseTime: number,
  sent: Instant,
  received: Instant,
  policy: TimingPolicy = DEFAULT_TIMING,
): LeaseClock {
  const durationMs = leaseTime * 1000;
  const startMs = leaseStart * 1000;
  const earliest = sent.wall - policy.skewToleranceMs - 1000;
  const latest = received.wall + policy.skewToleranceMs;
  if (startMs < earliest || startMs > latest) {
    return {
      expiresAt: sent.monotonic + durationMs,
      expiresAtWall: sent.wall + durationMs,
      skewMs: startMs < earliest ? startMs - sent.wall : startMs - received.wall,
    };
  }
  const fromSent = Math.min(durationMs, startMs + durationMs - sent.wall);
  return {
    expiresAt: sent.monotonic + fromSent,
    expiresAtWall: sent.wall + fromSent,
    skewMs: undefined,
  };
}

/**
 * How long before the end of a lease of `durationMs` to renew it: for long
 * leases 300 s plus 0-30 s of jitter, for short ones half the lease plus up
 * to a tenth of it.
 */
export function renewBeforeEnd(
  durationMs: number,
  random: Random,
  policy: TimingPolicy = DEFAULT_TIMING,
): number {
  if (durationMs >= policy.longLeaseMs) {
    return policy.renewBeforeEndMs + random() * policy.renewJitterMs;
  }
  return durationMs * (policy.shortLeaseRenewFraction + random() * policy.shortLeaseJitter);
}

/**
 * The delay before attempt `failures + 1` after `failures` consecutive
 * failures (at least 1): exponential growth up to a cap, with full jitter
 * so that clients that failed together do not retry together.
 */
export function backoffDelay(
  failures: number,
  random: Random,
  policy: TimingPolicy = DEFAULT_TIMING,
): number {
  const exponent = Math.min(Math.max(failures, 1) - 1, 30);
  const ceiling = Math.min(policy.backoffCapMs, policy.backoffBaseMs * 2 ** exponent);
  return Math.max(policy.backoffFloorMs, random() * ceiling);
}
