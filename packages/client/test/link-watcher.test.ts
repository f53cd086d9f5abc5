import { type LinkChange, LinkWatcher, type Logger } from '@wg-dynamic/client';
import {
  type Link,
  type Rtnetlink,
  RtnetlinkError,
  type RtnetlinkEvent,
  type RtnetlinkEvents,
} from '@wg-dynamic/rtnetlink';
import { describe, expect, it } from 'vitest';

const silent: Logger = { debug() {}, info() {}, warn() {}, error() {} };

function link(index: number, up: boolean): Link {
  return {
    index,
    name: `wg${index}`,
    kind: 'wireguard',
    mtu: 1420,
    up,
    running: up,
    lowerUp: up,
    pointToPoint: true,
    loopback: false,
    addrGenMode: 'none',
  };
}

/** A subscription fed by the test: `push` an event, `fail` with an error, as the kernel would. */
class FakeSubscription implements RtnetlinkEvents {
  readonly #queue: Array<RtnetlinkEvent | RtnetlinkError> = [];
  #wake: (() => void) | undefined;
  closed = false;

  push(item: RtnetlinkEvent | RtnetlinkError): void {
    this.#queue.push(item);
    this.#wake?.();
  }

  close(): void {
    this.closed = true;
    this.#wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<RtnetlinkEvent> {
    for (;;) {
      const item = this.#queue.shift();
      if (item instanceof RtnetlinkError) throw item;
      if (item !== undefined) {
        yield item;
        continue;
      }
      if (this.closed) return;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
    }
  }
}

function harness(initiallyUp: boolean) {
  const state = { up: initiallyUp, exists: true };
  const subscriptions: FakeSubscription[] = [];
  const changes: LinkChange[] = [];
  const rtnetlink = {
    async getLink(which: number | string) {
      if (!state.exists) {
        throw new RtnetlinkError('ENODEV', 'get-link', `no interface ${which}`);
      }
      return link(7, state.up);
    },
  } as Pick<Rtnetlink, 'getLink'> as Rtnetlink;
  const openEvents = async () => {
    const subscription = new FakeSubscription();
    subscriptions.push(subscription);
    return subscription;
  };
  const watcher = new LinkWatcher({
    rtnetlink,
    openEvents,
    index: 7,
    up: initiallyUp,
    logger: silent,
    onChange: (change) => changes.push(change),
  });
  return { state, subscriptions, changes, watcher, openEvents };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 20));
async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await settle();
  expect(check()).toBe(true);
}

describe('LinkWatcher', () => {
  it('reports down and up of its link only, and each change once', async () => {
    const h = harness(true);
    await h.watcher.start(h.openEvents());
    const events = h.subscriptions[0] as FakeSubscription;
    events.push({ type: 'link-changed', link: link(8, false) });
    events.push({ type: 'link-changed', link: link(7, true) });
    events.push({ type: 'link-changed', link: link(7, false) });
    events.push({ type: 'link-changed', link: link(7, false) });
    events.push({ type: 'link-changed', link: link(7, true) });
    await until(() => h.changes.length === 2);
    await settle();
    expect(h.changes).toEqual(['down', 'up']);
    h.watcher.close();
    expect(events.closed).toBe(true);
  });

  it('reports the removal of its link and stops', async () => {
    const h = harness(true);
    await h.watcher.start(h.openEvents());
    (h.subscriptions[0] as FakeSubscription).push({ type: 'link-removed', link: link(7, false) });
    await until(() => h.changes.length === 1);
    expect(h.changes).toEqual(['removed']);
    expect(h.subscriptions[0]?.closed).toBe(true);
  });

  it('reads the link once subscribed: a change before that is not lost', async () => {
    const h = harness(true);
    h.state.up = false;
    await h.watcher.start(h.openEvents());
    expect(h.changes).toEqual(['down']);
  });

  it('after lost notifications (ENOBUFS) it subscribes anew and reads the link again', async () => {
    const h = harness(true);
    await h.watcher.start(h.openEvents());
    // The link went down while notifications were being dropped.
    h.state.up = false;
    (h.subscriptions[0] as FakeSubscription).push(
      new RtnetlinkError('ENOBUFS', 'events', 'notifications were lost'),
    );
    await until(() => h.subscriptions.length === 2 && h.changes.length === 1);
    expect(h.changes).toEqual(['down']);
    // The new subscription is followed.
    h.state.up = true;
    (h.subscriptions[1] as FakeSubscription).push({ type: 'link-changed', link: link(7, true) });
    await until(() => h.changes.length === 2);
    expect(h.changes).toEqual(['down', 'up']);
    h.watcher.close();
  });

  it('a link found gone when read again is reported removed', async () => {
    const h = harness(true);
    await h.watcher.start(h.openEvents());
    h.state.exists = false;
    (h.subscriptions[0] as FakeSubscription).push(
      new RtnetlinkError('ENOBUFS', 'events', 'notifications were lost'),
    );
    await until(() => h.changes.length === 1);
    expect(h.changes).toEqual(['removed']);
  });

  it('keeps trying when subscribing fails', async () => {
    const h = harness(true);
    let failures = 0;
    const flaky = async () => {
      if (failures++ < 2) throw new RtnetlinkError('EPROTO', 'open', 'the reader did not start');
      return h.openEvents();
    };
    const watcher = new LinkWatcher({
      rtnetlink: { getLink: async () => link(7, false) } as Pick<Rtnetlink, 'getLink'> as Rtnetlink,
      openEvents: flaky,
      index: 7,
      up: true,
      logger: silent,
      onChange: (change) => h.changes.push(change),
    });
    await watcher.start(flaky());
    await until(() => h.changes.length === 1);
    expect(h.changes).toEqual(['down']);
    expect(failures).toBe(3);
    watcher.close();
  });
});
