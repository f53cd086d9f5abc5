import type { Logger } from '@wg-dynamic/log';

/**
 * Warnings that a hostile peer can provoke at will (refused connections,
 * invalid requests) are logged at most `perSecond` times a second; what is
 * held back is counted and reported once the second is over, by a timer
 * (unref'd: it never keeps the process alive), so a burst that stops is
 * reported too.
 */
export class RateLimitedLog {
  private readonly logger: Logger;
  private readonly perSecond: number;
  private windowStart = 0;
  private logged = 0;
  private suppressed = 0;
  private summaryTimer: NodeJS.Timeout | undefined;

  constructor(logger: Logger, perSecond: number) {
    this.logger = logger;
    this.perSecond = perSecond;
  }

  warn(fields: object, message: string, now = Date.now()): void {
    if (now - this.windowStart >= 1000) {
      this.reportSuppressed();
      this.windowStart = now;
      this.logged = 0;
    }
    if (this.logged < this.perSecond) {
      this.logged++;
      this.logger.warn(fields, message);
      return;
    }
    this.suppressed++;
    this.summaryTimer ??= setTimeout(
      () => this.reportSuppressed(),
      Math.max(0, this.windowStart + 1000 - now),
    ).unref();
  }

  /** Logs how many warnings the window held back, if any. */
  private reportSuppressed(): void {
    clearTimeout(this.summaryTimer);
    this.summaryTimer = undefined;
    if (this.suppressed === 0) return;
    this.logger.warn(
      { suppressed: this.suppressed },
      `${this.suppressed} more refusals in the last second were not logged`,
    );
    this.suppressed = 0;
  }
}
