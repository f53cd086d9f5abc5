/**
 * setTimeout for any delay. Node runs a timer whose delay is above 2^31 - 1
 * ms (24.8 days) after 1 ms instead, and a lease may last up to 2^32 - 1
 * seconds: such a wait is made of several timers in a row.
 */

/** The longest delay setTimeout honours. */
export const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

export interface LongTimer {
  clear(): void;
}

export function setLongTimeout(
  callback: () => void,
  delayMs: number,
  maxDelayMs = MAX_TIMER_DELAY_MS,
): LongTimer {
  let handle: ReturnType<typeof setTimeout>;
  const arm = (left: number) => {
    const step = Math.min(left, maxDelayMs);
    handle = setTimeout(() => (left > step ? arm(left - step) : callback()), step);
  };
  arm(Math.max(0, delayMs));
  return { clear: () => clearTimeout(handle) };
}
