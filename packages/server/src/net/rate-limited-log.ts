import type { Logger } from '@wg-dynamic/log';

/**
 * Warnings that a hostile peer can provoke at will (refused connections,
 * invalid requests) are logged at most `perSecond` times a second; what is
 * held back is counted and reported once the second is over.
 */
export class RateLimitedLog {
  private readonly logger: Logger;
  private readonly perSecond: number;
  private windowStart = 0;
  private logged = 0;
  private suppressed = 0;

  constructor(logger: Logger, perSecond: number) {
    this.logger = logger;
    this.perSecond = perSecond;
  }

  warn(fields: object, message: string, now = Date.now()): void {
    if (now - this.windowStart >= 1000) {
      if (this.suppressed > 0) {
        this.logger.warn(
          { suppressed: this.suppressed },
          `${this.suppressed} more refusals in the last second were not logged`,
        );
      }
      this.windowStart = now;
      this.logged = 0;
      this.suppressed = 0;
    }
    if (this.logged < this.perSecond) {
      this.logged++;
      this.logger.warn(fields, message);
    } else {
      this.suppressed++;
    }
  }
}
