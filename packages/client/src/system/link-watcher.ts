import type { Logger } from '@wg-dynamic/log';
import {
  type openRtnetlinkEvents,
  type Rtnetlink,
  RtnetlinkError,
  type RtnetlinkEvents,
} from '@wg-dynamic/rtnetlink';

export type LinkChange = 'up' | 'down' | 'removed';

export interface LinkWatcherOptions {
  readonly rtnetlink: Rtnetlink;
  readonly openEvents: typeof openRtnetlinkEvents;
  /** The interface followed, by index (a new interface of the same name is another one). */
  readonly index: number;
  /** Its state when the client checked it. */
  readonly up: boolean;
  readonly onChange: (change: LinkChange) => void;
  readonly logger: Logger;
}

const RESUBSCRIBE_FIRST_DELAY_MS = 100;
const RESUBSCRIBE_MAX_DELAY_MS = 5_000;

/**
 * Follows one interface through rtnetlink link notifications and reports
 * when it goes down, comes up or disappears. When notifications were lost
 * (ENOBUFS) or the subscription failed otherwise, it subscribes anew and
 * reads the link again, so that no change goes unnoticed.
 */
export class LinkWatcher {
  readonly #options: LinkWatcherOptions;
  #up: boolean;
  #subscription: RtnetlinkEvents | undefined;
  #closed = false;
  #retryTimer: NodeJS.Timeout | undefined;

  constructor(options: LinkWatcherOptions) {
    this.#options = options;
    this.#up = options.up;
  }

  /**
   * Follows the link with a subscription that may still be opening (it
   * starts a process, which takes a while: the client opens it in parallel
   * with its first request). Resolves once the first subscription is in place.
   */
  async start(subscription: Promise<RtnetlinkEvents>): Promise<void> {
    let events: RtnetlinkEvents;
    try {
      events = await subscription;
    } catch (error) {
      this.#failed(error, 0);
      return;
    }
    await this.#follow(events, 0);
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#retryTimer);
    this.#subscription?.close();
  }

  async #follow(events: RtnetlinkEvents, attempt: number): Promise<void> {
    if (this.#closed) {
      events.close();
      return;
    }
    this.#subscription = events;
    try {
      // Whatever changed before the subscription was in place.
      if (!(await this.#reread())) return;
    } catch (error) {
      events.close();
      this.#failed(error, attempt + 1);
      return;
    }
    void this.#read(events, attempt);
  }

  async #read(events: RtnetlinkEvents, attempt: number): Promise<void> {
    const { index } = this.#options;
    try {
      for await (const event of events) {
        if (event.type === 'link-removed' && event.link.index === index) {
          this.#report('removed');
          this.close();
          return;
        }
        if (event.type === 'link-changed' && event.link.index === index) {
          this.#observe(event.link.up);
        }
      }
    } catch (error) {
      if (!this.#closed) this.#failed(error, attempt);
    }
  }

  #failed(error: unknown, attempt: number): void {
    if (this.#closed) return;
    const delay = Math.min(RESUBSCRIBE_MAX_DELAY_MS, RESUBSCRIBE_FIRST_DELAY_MS * 2 ** attempt);
    this.#options.logger.warn(
      {
        code: error instanceof RtnetlinkError ? error.code : undefined,
        err: error,
        retryInMs: delay,
      },
      'link notifications were lost or failed; subscribing anew and reading the link again',
    );
    this.#retryTimer = setTimeout(() => {
      this.#options.openEvents({ groups: ['link'] }).then(
        (events) => this.#follow(events, 0),
        (reason: unknown) => this.#failed(reason, attempt + 1),
      );
    }, delay);
  }

  /** Reads the link; false when it is gone (reported). */
  async #reread(): Promise<boolean> {
    try {
      const link = await this.#options.rtnetlink.getLink(this.#options.index);
      this.#observe(link.up);
      return true;
    } catch (error) {
      if (error instanceof RtnetlinkError && error.code === 'ENODEV') {
        this.#report('removed');
        this.close();
        return false;
      }
      if (error instanceof RtnetlinkError && error.code === 'ECLOSED') return false;
      throw error;
    }
  }

  #observe(up: boolean): void {
    if (up === this.#up) return;
    this.#up = up;
    this.#report(up ? 'up' : 'down');
  }

  #report(change: LinkChange): void {
    if (this.#closed) return;
    this.#options.onChange(change);
  }
}
