import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MAX_TIMER_DELAY_MS, setLongTimeout } from '../src/system/long-timer.js';

describe('setLongTimeout', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('waits the whole of a delay beyond what setTimeout honours (a lease of 2^32 - 1 seconds)', () => {
    const fired = vi.fn();
    const delay = (2 ** 32 - 1) * 1000;
    setLongTimeout(fired, delay);
    vi.advanceTimersByTime(MAX_TIMER_DELAY_MS);
    vi.advanceTimersByTime(delay - MAX_TIMER_DELAY_MS - 1 - MAX_TIMER_DELAY_MS);
    expect(fired).not.toHaveBeenCalled();
    // Some steps of the remaining wait, then its last millisecond.
    vi.advanceTimersByTime(MAX_TIMER_DELAY_MS);
    expect(fired).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(fired).toHaveBeenCalledTimes(1);
  });

  it('waits in steps no longer than the limit, and fires once', () => {
    const fired = vi.fn();
    setLongTimeout(fired, 250, 100);
    vi.advanceTimersByTime(249);
    expect(fired).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(fired).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(1000);
    expect(fired).toHaveBeenCalledTimes(1);
  });

  it('runs a short or negative delay as setTimeout would', () => {
    const fired = vi.fn();
    setLongTimeout(fired, -5);
    vi.advanceTimersByTime(0);
    expect(fired).toHaveBeenCalledTimes(1);
  });

  it('clear stops the wait at any step', () => {
    const fired = vi.fn();
    const timer = setLongTimeout(fired, 250, 100);
    vi.advanceTimersByTime(150);
    timer.clear();
    vi.advanceTimersByTime(1000);
    expect(fired).not.toHaveBeenCalled();
  });

  it('is needed: setTimeout alone runs such a delay at once', () => {
    const fired = vi.fn();
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    setTimeout(fired, MAX_TIMER_DELAY_MS + 1);
    vi.advanceTimersByTime(1);
    warn.mockRestore();
    expect(fired).toHaveBeenCalledTimes(1);
  });
});
