import { IpPrefix } from '@wg-dynamic/ip';
import {
  type NetlinkTransport,
  openRtnetlink,
  RtnetlinkError,
  type TransportError,
} from '@wg-dynamic/rtnetlink';
import { type NetlinkMessage, parseMessages } from 'netlink';
import { describe, expect, it } from 'vitest';
import {
  AF_INET,
  addressBody,
  bytes,
  datagram,
  errorBody,
  linkBody,
  routeBody,
} from './messages.js';

const NLMSG_ERROR = 2;
const NLMSG_DONE = 3;
const NLM_F_MULTI = 0x02;
const NLM_F_DUMP_INTR = 0x10;
const NLM_F_REQUEST = 0x01;
const NLM_F_ACK = 0x04;
const NLM_F_DUMP = 0x300;
const NLM_F_EXCL = 0x200;
const NLM_F_CREATE = 0x400;
const RTM_NEWLINK = 16;
const RTM_GETLINK = 18;
const RTM_NEWADDR = 20;
const RTM_GETADDR = 22;
const RTM_NEWROUTE = 24;
const RTM_GETROUTE = 26;

/** A kernel at the message level: records each request and lets the test answer it. */
class FakeKernel implements NetlinkTransport {
  readonly requests: NetlinkMessage[] = [];
  referenced = false;
  closed = false;
  #onDatagram?: (datagram: Buffer, senderPort: number) => void;
  #onError?: (error: TransportError) => void;

  send(parts: readonly Uint8Array[], callback: (error: TransportError | undefined) => void): void {
    const [message] = parseMessages(Buffer.concat(parts));
    if (message === undefined) throw new Error('an empty datagram');
    this.requests.push(message);
    callback(undefined);
  }

  listen(
    onDatagram: (datagram: Buffer, senderPort: number) => void,
    onError: (error: TransportError) => void,
  ) {
    this.#onDatagram = onDatagram;
    this.#onError = onError;
  }

  ref() {
    this.referenced = true;
  }

  unref() {
    this.referenced = false;
  }

  close() {
    this.closed = true;
  }

  get last(): NetlinkMessage {
    const last = this.requests.at(-1);
    if (last === undefined) throw new Error('no request yet');
    return last;
  }

  deliver(data: Buffer, senderPort = 0) {
    this.#onDatagram?.(data, senderPort);
  }

  fail(error: TransportError) {
    this.#onError?.(error);
  }

  /** Answers the last request: its replies as one multipart dump, then DONE, all with `flags`. */
  answerDump(type: number, bodies: Buffer[], flags = 0) {
    const seq = this.last.seq;
    this.deliver(
      datagram(...bodies.map((body) => ({ type, body, seq, flags: NLM_F_MULTI | flags })), {
        type: NLMSG_DONE,
        body: Buffer.alloc(4),
        seq,
        flags: NLM_F_MULTI | flags,
      }),
    );
  }

  /** Answers the last request with NLMSG_ERROR: 0 is an ACK. */
  answerError(errno: number) {
    this.deliver(datagram({ type: NLMSG_ERROR, body: errorBody(errno), seq: this.last.seq }));
  }
}

/** Lets pending promise callbacks run. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

function setup() {
  const kernel = new FakeKernel();
  return { kernel, rtnl: openRtnetlink({ transport: kernel }) };
}

const wg0 = linkBody({ index: 4, name: 'wg0', mtu: 1420, up: true, kind: 'wireguard' });
const eth0 = linkBody({ index: 2, name: 'eth0', mtu: 1500, up: true, lowerUp: true, kind: 'veth' });

describe('requests over one socket', () => {
  it('dumps links with NLM_F_DUMP and decodes every reply', async () => {
    const { kernel, rtnl } = setup();
    const links = rtnl.listLinks();
    await settle();
    expect(kernel.last).toMatchObject({ type: RTM_GETLINK, flags: NLM_F_REQUEST | NLM_F_DUMP });
    expect(kernel.referenced).toBe(true);
    kernel.answerDump(RTM_NEWLINK, [eth0, wg0]);
    expect((await links).map((link) => link.name)).toEqual(['eth0', 'wg0']);
    expect(kernel.referenced).toBe(false);
  });

  it('waits for one request to finish before sending the next', async () => {
    const { kernel, rtnl } = setup();
    const links = rtnl.listLinks();
    const addresses = rtnl.listAddresses({ index: 4 });
    await settle();
    expect(kernel.requests.map((r) => r.type)).toEqual([RTM_GETLINK]);
    kernel.answerDump(RTM_NEWLINK, [wg0]);
    await settle();
    expect(kernel.requests.map((r) => r.type)).toEqual([RTM_GETLINK, RTM_GETADDR]);
    kernel.answerDump(RTM_NEWADDR, [
      addressBody({ family: AF_INET, prefixLength: 32, index: 4, local: bytes('10.0.0.2') }),
      addressBody({ family: AF_INET, prefixLength: 24, index: 2, local: bytes('192.168.1.2') }),
    ]);
    expect(await links).toHaveLength(1);
    expect((await addresses).map((a) => a.prefix.toString())).toEqual(['10.0.0.2/32']);
  });

  it('turns an error reply into a typed error with the operation and the subject', async () => {
    const { kernel, rtnl } = setup();
    const adding = rtnl.addAddress({ index: 4, prefix: IpPrefix.from('10.0.0.2/32') });
    await settle();
    expect(kernel.last).toMatchObject({
      type: RTM_NEWADDR,
      flags: NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
    });
    kernel.answerError(17);
    const error = await adding.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RtnetlinkError);
    expect(error).toMatchObject({ code: 'EEXIST', errno: 17, operation: 'add-address' });
    expect((error as Error).message).toMatch(/address 10\.0\.0\.2\/32 on interface #4/);
    // The next request goes out normally.
    const deleting = rtnl.deleteAddress({ index: 4, prefix: IpPrefix.from('10.0.0.2/32') });
    await settle();
    kernel.answerError(0);
    await expect(deleting).resolves.toBeUndefined();
  });

  it('reads an interrupted dump again', async () => {
    const { kernel, rtnl } = setup();
    const routes = rtnl.listRoutes({ index: 4 });
    await settle();
    const route = routeBody({
      family: AF_INET,
      dstLen: 24,
      dst: bytes('10.1.0.0'),
      oif: 4,
      table: 254,
    });
    kernel.answerDump(RTM_NEWROUTE, [route], NLM_F_DUMP_INTR);
    await settle();
    expect(kernel.requests.map((r) => r.type)).toEqual([RTM_GETROUTE, RTM_GETROUTE]);
    kernel.answerDump(RTM_NEWROUTE, [route]);
    expect((await routes).map((r) => r.destination.toString())).toEqual(['10.1.0.0/24']);
  });

  it('gives up on a dump that keeps being interrupted, with EINTR', async () => {
    const { kernel, rtnl } = setup();
    const routes = rtnl.listRoutes();
    for (let i = 0; i < 3; i++) {
      await settle();
      kernel.answerDump(RTM_NEWROUTE, [], NLM_F_DUMP_INTR);
    }
    await expect(routes).rejects.toMatchObject({ code: 'EINTR', operation: 'list-routes' });
  });

  it('ignores replies from another port or with another sequence number', async () => {
    const { kernel, rtnl } = setup();
    const link = rtnl.getLink('wg0');
    await settle();
    const seq = kernel.last.seq;
    kernel.deliver(datagram({ type: NLMSG_ERROR, body: errorBody(19), seq }), 1234);
    kernel.deliver(datagram({ type: NLMSG_ERROR, body: errorBody(19), seq: seq + 1 }));
    kernel.deliver(
      datagram(
        { type: RTM_NEWLINK, body: wg0, seq },
        { type: NLMSG_ERROR, body: errorBody(0), seq },
      ),
    );
    expect((await link).name).toBe('wg0');
  });

  it('fails a request whose reply does not parse, instead of waiting forever', async () => {
    const { kernel, rtnl } = setup();
    const link = rtnl.getLink(4);
    await settle();
    kernel.deliver(Buffer.from([0xff, 0, 0, 0, 1]));
    await expect(link).rejects.toMatchObject({ code: 'EPROTO', operation: 'get-link' });

    const again = rtnl.getLink(4);
    await settle();
    const seq = kernel.last.seq;
    kernel.deliver(
      datagram(
        { type: RTM_NEWLINK, body: linkBody({ index: 4, mtu: 1420 }), seq },
        { type: NLMSG_ERROR, body: errorBody(0), seq },
      ),
    );
    await expect(again).rejects.toMatchObject({
      code: 'EPROTO',
      message: expect.stringMatching(/has no IFLA_IFNAME/),
    });
  });

  it('fails the pending request when the socket fails', async () => {
    const { kernel, rtnl } = setup();
    const links = rtnl.listLinks();
    await settle();
    kernel.fail(Object.assign(new Error('recvmsg failed'), { errno: 105, code: 'ENOBUFS' }));
    await expect(links).rejects.toMatchObject({ code: 'ENOBUFS', operation: 'list-links' });
  });

  it('fails pending and later requests with ECLOSED after close()', async () => {
    const { kernel, rtnl } = setup();
    const first = rtnl.listLinks();
    const second = rtnl.listAddresses();
    await settle();
    rtnl.close();
    expect(kernel.closed).toBe(true);
    await expect(first).rejects.toMatchObject({ code: 'ECLOSED' });
    await expect(second).rejects.toMatchObject({ code: 'ECLOSED' });
    await expect(rtnl.listRoutes()).rejects.toMatchObject({
      code: 'ECLOSED',
      operation: 'list-routes',
    });
  });

  it('sets a link in two steps: attributes, then up', async () => {
    const { kernel, rtnl } = setup();
    const setting = rtnl.setLink(4, { addrGenMode: 'none', up: true });
    await settle();
    expect(kernel.requests).toHaveLength(1);
    kernel.answerError(0);
    await settle();
    expect(kernel.requests).toHaveLength(2);
    expect(kernel.requests.map((r) => r.type)).toEqual([RTM_NEWLINK, RTM_NEWLINK]);
    kernel.answerError(0);
    await expect(setting).resolves.toBeUndefined();
  });
});
