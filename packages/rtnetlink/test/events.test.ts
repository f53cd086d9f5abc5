import { IpPrefix } from '@wg-dynamic/ip';
import {
  type EventSource,
  openRtnetlinkEvents,
  type RtnetlinkError,
  type RtnetlinkEvent,
} from '@wg-dynamic/rtnetlink';
import { classifyMessage, kernelError } from '@wg-dynamic/rtnetlink/codec';
import { describe, expect, it } from 'vitest';
import {
  AF_BRIDGE,
  AF_INET,
  AF_INET6,
  addressBody,
  bytes,
  datagram,
  linkBody,
  routeBody,
} from './messages.js';

const RTM_NEWLINK = 16;
const RTM_DELLINK = 17;
const RTM_NEWADDR = 20;
const RTM_DELADDR = 21;
const RTM_NEWROUTE = 24;
const RTM_DELROUTE = 25;
const RTM_NEWNEIGH = 28;

const wg0 = linkBody({ index: 4, name: 'wg0', mtu: 1420, up: true, kind: 'wireguard' });
const address = addressBody({
  family: AF_INET6,
  prefixLength: 128,
  index: 4,
  address: bytes('fd00::2'),
});
const route = routeBody({
  family: AF_INET,
  dstLen: 24,
  dst: bytes('10.1.0.0'),
  oif: 4,
  table: 254,
});

describe('classifyMessage', () => {
  it('keeps NEW and DEL apart for links, addresses and routes', () => {
    expect(classifyMessage(RTM_NEWLINK, wg0)).toMatchObject({
      type: 'link-changed',
      link: { name: 'wg0', up: true },
    });
    expect(classifyMessage(RTM_DELLINK, wg0)).toMatchObject({
      type: 'link-removed',
      link: { index: 4 },
    });
    expect(classifyMessage(RTM_NEWADDR, address)).toMatchObject({ type: 'address-added' });
    expect(classifyMessage(RTM_DELADDR, address)).toMatchObject({ type: 'address-removed' });
    expect(classifyMessage(RTM_NEWROUTE, route)).toMatchObject({
      type: 'route-added',
      route: { index: 4 },
    });
    expect(classifyMessage(RTM_DELROUTE, route)).toMatchObject({ type: 'route-removed' });
  });

  it('ignores other message types and non-IP families', () => {
    expect(classifyMessage(RTM_NEWNEIGH, Buffer.alloc(12))).toBeUndefined();
    // A bridge port's RTM_DELLINK means it left the bridge, not that it is gone.
    expect(
      classifyMessage(
        RTM_DELLINK,
        linkBody({ family: AF_BRIDGE, index: 4, name: 'wg0', mtu: 1420 }),
      ),
    ).toBe(undefined);
    expect(classifyMessage(RTM_NEWROUTE, routeBody({ family: 128, dstLen: 0 }))).toBeUndefined();
  });

  it('throws on a malformed message', () => {
    expect(() => classifyMessage(RTM_NEWADDR, Buffer.alloc(3))).toThrow(/fewer than its header/);
  });
});

/** A notification source the test drives. */
class FakeSource implements EventSource {
  closed = false;
  #onDatagram?: (datagram: Buffer, senderPort: number) => void;
  #onError?: (error: RtnetlinkError) => void;

  listen(
    onDatagram: (datagram: Buffer, senderPort: number) => void,
    onError: (error: RtnetlinkError) => void,
  ) {
    this.#onDatagram = onDatagram;
    this.#onError = onError;
  }

  send(data: Buffer, senderPort = 0) {
    this.#onDatagram?.(data, senderPort);
  }

  fail(error: RtnetlinkError) {
    this.#onError?.(error);
  }

  close() {
    this.closed = true;
  }
}

async function open(options: { maxQueuedEvents?: number } = {}) {
  const source = new FakeSource();
  let iterator: AsyncIterator<RtnetlinkEvent> | undefined;
  const events = await openRtnetlinkEvents({
    groups: ['link', 'ipv6-address', 'ipv4-route'],
    source,
    ...options,
  });
  return {
    source,
    events,
    /** The subscription's one iterator, made on first use. */
    get iterator() {
      iterator ??= events[Symbol.asyncIterator]();
      return iterator as AsyncIterator<RtnetlinkEvent>;
    },
  };
}

describe('the event subscription', () => {
  it('delivers each message of a datagram as a typed event, in order', async () => {
    const { source, iterator } = await open();
    source.send(
      datagram(
        { type: RTM_NEWLINK, body: wg0 },
        { type: RTM_NEWNEIGH, body: Buffer.alloc(12) },
        { type: RTM_NEWADDR, body: address },
        { type: RTM_DELROUTE, body: route },
      ),
    );
    const types: RtnetlinkEvent['type'][] = [];
    for (let i = 0; i < 3; i++) {
      const next = await iterator.next();
      if (!next.done) types.push(next.value.type);
    }
    expect(types).toEqual(['link-changed', 'address-added', 'route-removed']);
  });

  it('hands an event to a reader that is already waiting', async () => {
    const { source, iterator } = await open();
    const waiting = iterator.next();
    source.send(datagram({ type: RTM_DELADDR, body: address }));
    const next = await waiting;
    expect(next.done).toBe(false);
    expect(next.value).toMatchObject({ type: 'address-removed' });
    expect(
      (next.value as Extract<RtnetlinkEvent, { type: 'address-removed' }>).address.prefix,
    ).toEqual(IpPrefix.from('fd00::2/128'));
  });

  it('drops datagrams that do not come from the kernel', async () => {
    const { source, iterator } = await open();
    source.send(datagram({ type: RTM_DELLINK, body: wg0 }), 4242);
    source.send(datagram({ type: RTM_NEWLINK, body: wg0 }));
    expect((await iterator.next()).value).toMatchObject({ type: 'link-changed' });
  });

  it('throws the source error from the loop, before what was queued, and ends', async () => {
    const { source, events } = await open();
    source.send(datagram({ type: RTM_NEWLINK, body: wg0 }));
    source.fail(kernelError(105, 'events'));
    expect(source.closed).toBe(true);
    const seen: RtnetlinkEvent[] = [];
    await expect(
      (async () => {
        for await (const event of events) seen.push(event);
      })(),
    ).rejects.toMatchObject({ code: 'ENOBUFS', operation: 'events' });
    expect(seen).toEqual([]);
  });

  it('rejects a waiting reader at once when the source fails', async () => {
    const { source, iterator } = await open();
    const waiting = iterator.next();
    source.fail(kernelError(105, 'events'));
    await expect(waiting).rejects.toMatchObject({ code: 'ENOBUFS' });
    expect(await iterator.next()).toEqual({ done: true, value: undefined });
  });

  it('fails with ENOBUFS when more events wait unread than allowed', async () => {
    const { source, iterator } = await open({ maxQueuedEvents: 2 });
    source.send(datagram({ type: RTM_NEWLINK, body: wg0 }, { type: RTM_NEWLINK, body: wg0 }));
    source.send(datagram({ type: RTM_NEWLINK, body: wg0 }));
    expect(source.closed).toBe(true);
    await expect(iterator.next()).rejects.toMatchObject({
      code: 'ENOBUFS',
      message: expect.stringMatching(/more than 2 notifications waited unread/),
    });
  });

  it('fails with EPROTO on a malformed notification', async () => {
    const { source, iterator } = await open();
    source.send(datagram({ type: RTM_NEWADDR, body: Buffer.alloc(3) }));
    await expect(iterator.next()).rejects.toMatchObject({ code: 'EPROTO', operation: 'events' });
    const garbage = await open();
    garbage.source.send(Buffer.from([1, 2, 3]));
    await expect(garbage.iterator.next()).rejects.toMatchObject({ code: 'EPROTO' });
  });

  it('ends a waiting loop on close() without an error, and leaving the loop closes it', async () => {
    const { source, events } = await open();
    const waiting = events[Symbol.asyncIterator]().next();
    events.close();
    expect(await waiting).toEqual({ done: true, value: undefined });
    expect(source.closed).toBe(true);

    const second = await open();
    second.source.send(datagram({ type: RTM_NEWLINK, body: wg0 }));
    for await (const _ of second.events) break;
    expect(second.source.closed).toBe(true);
  });

  it('allows one loop only, and asks for at least one group', async () => {
    const { events } = await open();
    events[Symbol.asyncIterator]();
    expect(() => events[Symbol.asyncIterator]()).toThrow(/one loop only/);
    await expect(
      openRtnetlinkEvents({ groups: [], source: new FakeSource() }),
    ).rejects.toMatchObject({
      code: 'EINVAL',
    });
  });
});
