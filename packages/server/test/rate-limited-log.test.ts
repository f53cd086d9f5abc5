import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RateLimitedLog } from '../src/net/rate-limited-log.js';

describe('RateLimitedLog', () => {
  let lines: { msg: string; suppressed?: number }[];
  let log: RateLimitedLog;

  beforeEach(() => {
    vi.useFakeTimers();
    lines = [];
    const logger = pino(
      { level: 'warn' },
      { write: (line: string) => lines.push(JSON.parse(line)) },
    );
    log = new RateLimitedLog(logger, 2);
  });

  afterEach(() => {
    vi.useRealTimers();
  });

  const refuse = (n: number) => {
    for (let i = 0; i < n; i++) log.warn({ reason: 'unknown-source' }, 'connection refused');
  };

  it('reports what it held back when the second ends, though no refusal follows', () => {
    refuse(5);
    expect(lines.map((l) => l.msg)).toEqual(['connection refused', 'connection refused']);
    vi.advanceTimersByTime(999);
    expect(lines).toHaveLength(2);
    vi.advanceTimersByTime(1);
    expect(lines.slice(2)).toMatchObject([
      { suppressed: 3, msg: '3 more refusals in the last second were not logged' },
    ]);
    // Reported once: nothing more, by timer or by the next refusal.
    vi.advanceTimersByTime(5000);
    refuse(1);
    expect(lines.map((l) => l.suppressed ?? l.msg)).toEqual([
      'connection refused',
      'connection refused',
      3,
      'connection refused',
    ]);
  });

  it('reports a held-back count once when the next refusal comes first', () => {
    refuse(3);
    // A refusal in the next window that the clock reaches before the timer runs.
    log.warn({ reason: 'unknown-source' }, 'connection refused', Date.now() + 1000);
    vi.advanceTimersByTime(5000);
    expect(lines.map((l) => l.suppressed ?? l.msg)).toEqual([
      'connection refused',
      'connection refused',
      1,
      'connection refused',
    ]);
  });
});
