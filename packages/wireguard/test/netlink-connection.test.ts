import {
  AttributeEncoder,
  encodeMessage,
  hostLittleEndian,
  NetlinkConnection,
  type NetlinkDatagramReceivers,
  type NetlinkDatagramSocket,
  type NetlinkMessage,
  NetlinkRequestError,
  NLM_F_ACK,
  NLM_F_ACK_TLVS,
  NLM_F_CAPPED,
  NLM_F_DUMP,
  NLM_F_DUMP_INTR,
  NLM_F_MULTI,
  NLM_F_REQUEST,
  NLMSG_DONE,
  NLMSG_ERROR,
  NLMSGERR_ATTR_MSG,
  NLMSGERR_ATTR_OFFS,
  parseErrorMessage,
  parseMessages,
} from '@wg-dynamic/wireguard/netlink';
import { describe, expect, it } from 'vitest';

/** A scripted socket: records what is sent; the test answers by hand. */
class ScriptedSocket implements NetlinkDatagramSocket {
  readonly sent: NetlinkMessage[] = [];
  receivers: NetlinkDatagramReceivers | undefined;
  busy = false;
  closed = false;
  failSend: Error | undefined;
  sendBufferSize = () => 4096;
  async send(datagram: Uint8Array): Promise<void> {
    if (this.failSend) throw this.failSend;
    this.sent.push(...parseMessages(Uint8Array.from(datagram)));
  }
  listen(receivers: NetlinkDatagramReceivers): void {
    this.receivers = receivers;
  }
  setBusy(busy: boolean): void {
    this.busy = busy;
  }
  close(): void {
    this.closed = true;
  }
  deliver(...messages: Uint8Array[]): void {
    const joined = new Uint8Array(messages.reduce((n, m) => n + m.length, 0));
    let at = 0;
    for (const m of messages) {
      joined.set(m, at);
      at += m.length;
    }
    this.receivers?.datagram(joined, 0);
  }
  last(): NetlinkMessage {
    const message = this.sent.at(-1);
    if (!message) throw new Error('nothing sent');
    return message;
  }
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

function status(
  type: number,
  request: NetlinkMessage,
  errno: number,
  options: { flags?: number; tlvs?: Uint8Array; seq?: number } = {},
): Uint8Array {
  const capped = type === NLMSG_ERROR && errno === 0;
  const echoed =
    type === NLMSG_DONE
      ? new Uint8Array()
      : encodeMessage(capped ? { ...request, payload: new Uint8Array() } : request);
  const tlvs = options.tlvs ?? new Uint8Array();
  const payload = new Uint8Array(4 + echoed.length + tlvs.length);
  new DataView(payload.buffer).setInt32(0, -errno, hostLittleEndian);
  payload.set(echoed, 4);
  payload.set(tlvs, 4 + echoed.length);
  return encodeMessage({
    type,
    flags: (options.flags ?? 0) | (capped ? NLM_F_CAPPED : 0) | (tlvs.length ? NLM_F_ACK_TLVS : 0),
    seq: options.seq ?? request.seq,
    port: 0,
    payload,
  });
}

const data = (request: NetlinkMessage, body: number[], flags = NLM_F_MULTI, seq = request.seq) =>
  encodeMessage({ type: 0x20, flags, seq, port: 0, payload: Uint8Array.from(body) });

describe('NetlinkConnection', () => {
  it('sends a request with REQUEST|ACK and resolves with the data before the ack', async () => {
    const socket = new ScriptedSocket();
    const connection = new NetlinkConnection(socket);
    const result = connection.request(0x20, Uint8Array.of(1, 2, 3, 4), 'test request');
    await flush();
    const request = socket.last();
    expect(request.flags).toBe(NLM_F_REQUEST | NLM_F_ACK);
    expect(Array.from(request.payload)).toEqual([1, 2, 3, 4]);
    expect(socket.busy).toBe(true);
    socket.deliver(data(request, [9, 9, 9, 9], 0), status(NLMSG_ERROR, request, 0));
    const replies = await result;
    expect(replies.map((m) => Array.from(m.payload))).toEqual([[9, 9, 9, 9]]);
    expect(socket.busy).toBe(false);
  });

  it('turns an NLMSG_ERROR into an error with the errno name and the extended ack', async () => {
    const socket = new ScriptedSocket();
    const connection = new NetlinkConnection(socket);
    const result = connection.request(0x20, Uint8Array.of(0, 0, 0, 0), 'configure wg0');
    await flush();
    const tlvs = new AttributeEncoder()
      .string(NLMSGERR_ATTR_MSG, 'NLA_F_NESTED is missing')
      .u32(NLMSGERR_ATTR_OFFS, 24)
      .encode();
    socket.deliver(status(NLMSG_ERROR, socket.last(), 22, { tlvs }));
    const error = await result.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NetlinkRequestError);
    expect(error).toMatchObject({
      code: 'NETLINK_REFUSED',
      errno: 22,
      errnoName: 'EINVAL',
      extendedAck: 'NLA_F_NESTED is missing',
      operation: 'configure wg0',
    });
    expect((error as Error).message).toBe(
      'configure wg0: EINVAL (Invalid argument): NLA_F_NESTED is missing',
    );
  });

  it('parses the extended ack after a capped and an uncapped echo', () => {
    const request = { type: 0x20, flags: 5, seq: 7, port: 0, payload: new Uint8Array(10) };
    const tlvs = new AttributeEncoder().string(NLMSGERR_ATTR_MSG, 'why').encode();
    for (const capped of [false, true]) {
      const echoed = encodeMessage(capped ? { ...request, payload: new Uint8Array() } : request);
      const payload = new Uint8Array(4 + echoed.length + tlvs.length);
      new DataView(payload.buffer).setInt32(0, -1, hostLittleEndian);
      payload.set(echoed, 4);
      payload.set(tlvs, 4 + echoed.length);
      const flags = NLM_F_ACK_TLVS | (capped ? NLM_F_CAPPED : 0);
      expect(parseErrorMessage({ type: NLMSG_ERROR, flags, seq: 7, port: 0, payload })).toEqual({
        errno: 1,
        extendedAck: 'why',
      });
    }
  });

  it('streams a dump, reports NLM_F_DUMP_INTR, and fails on an error in NLMSG_DONE', async () => {
    const socket = new ScriptedSocket();
    const connection = new NetlinkConnection(socket);
    const seen: number[] = [];
    const first = connection.dump(0x20, new Uint8Array(4), 'read wg0', (m) =>
      seen.push(m.payload[0] as number),
    );
    await flush();
    const request = socket.last();
    expect(request.flags).toBe(NLM_F_REQUEST | NLM_F_DUMP);
    socket.deliver(data(request, [1, 0, 0, 0]));
    socket.deliver(
      data(request, [2, 0, 0, 0], NLM_F_MULTI | NLM_F_DUMP_INTR),
      status(NLMSG_DONE, request, 0),
    );
    expect(await first).toEqual({ interrupted: true });
    expect(seen).toEqual([1, 2]);

    const second = connection.dump(0x20, new Uint8Array(4), 'read wg1', () => {});
    await flush();
    socket.deliver(status(NLMSG_DONE, socket.last(), 90, { flags: NLM_F_MULTI }));
    await expect(second).rejects.toMatchObject({ code: 'NETLINK_REFUSED', errnoName: 'EMSGSIZE' });
  });

  it('runs one request at a time, so two dumps never interleave', async () => {
    const socket = new ScriptedSocket();
    const connection = new NetlinkConnection(socket);
    const a = connection.dump(0x20, new Uint8Array(4), 'a', () => {});
    const b = connection.dump(0x20, new Uint8Array(4), 'b', () => {});
    await flush();
    expect(socket.sent).toHaveLength(1);
    socket.deliver(status(NLMSG_DONE, socket.last(), 0));
    await a;
    await flush();
    expect(socket.sent).toHaveLength(2);
    expect(socket.sent[1]?.seq).not.toBe(socket.sent[0]?.seq);
    socket.deliver(status(NLMSG_DONE, socket.last(), 0));
    await b;
  });

  it('ignores messages of another sequence number and datagrams not from the kernel', async () => {
    const socket = new ScriptedSocket();
    const connection = new NetlinkConnection(socket);
    const seen: number[] = [];
    const dump = connection.dump(0x20, new Uint8Array(4), 'read', (m) =>
      seen.push(m.payload[0] as number),
    );
    await flush();
    const request = socket.last();
    socket.deliver(data(request, [7, 0, 0, 0], NLM_F_MULTI, request.seq + 100));
    socket.receivers?.datagram(data(request, [8, 0, 0, 0]), 4242);
    socket.deliver(data(request, [1, 0, 0, 0]), status(NLMSG_DONE, request, 0));
    await dump;
    expect(seen).toEqual([1]);
  });

  it('fails a request whose answer does not parse, and recovers for the next one', async () => {
    const socket = new ScriptedSocket();
    const connection = new NetlinkConnection(socket);
    const broken = connection.request(0x20, new Uint8Array(4), 'broken');
    await flush();
    socket.receivers?.datagram(
      Uint8Array.of(200, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12),
      0,
    );
    await expect(broken).rejects.toMatchObject({ code: 'NETLINK_MALFORMED_REPLY' });
    const next = connection.request(0x20, new Uint8Array(4), 'next');
    await flush();
    socket.deliver(status(NLMSG_ERROR, socket.last(), 0));
    await expect(next).resolves.toEqual([]);
  });

  it('fails a request that gets no answer', async () => {
    const socket = new ScriptedSocket();
    const connection = new NetlinkConnection(socket, { timeoutMs: 20 });
    await expect(connection.request(0x20, new Uint8Array(4), 'silent')).rejects.toMatchObject({
      code: 'NETLINK_NO_REPLY',
    });
    expect(socket.busy).toBe(false);
  });

  it('bounds the bytes of one answer', async () => {
    const socket = new ScriptedSocket();
    const connection = new NetlinkConnection(socket, { maxReplyBytes: 100 });
    const dump = connection.dump(0x20, new Uint8Array(4), 'big', () => {});
    await flush();
    const request = socket.last();
    for (let i = 0; i < 5; i++) socket.deliver(data(request, new Array(28).fill(1)));
    await expect(dump).rejects.toMatchObject({ code: 'NETLINK_MALFORMED_REPLY' });
  });

  it('reports a failed send with its errno', async () => {
    const socket = new ScriptedSocket();
    socket.failSend = Object.assign(new Error('sendmsg EMSGSIZE'), {
      errno: -90,
      code: 'EMSGSIZE',
    });
    const connection = new NetlinkConnection(socket);
    await expect(connection.request(0x20, new Uint8Array(4), 'huge')).rejects.toMatchObject({
      code: 'NETLINK_SEND_FAILED',
      errnoName: 'EMSGSIZE',
    });
  });

  it('fails the pending request on close, and every later one', async () => {
    const socket = new ScriptedSocket();
    const connection = new NetlinkConnection(socket);
    const pending = connection.request(0x20, new Uint8Array(4), 'pending');
    await flush();
    connection.close();
    await expect(pending).rejects.toMatchObject({ code: 'NETLINK_CLOSED' });
    await expect(connection.request(0x20, new Uint8Array(4), 'later')).rejects.toMatchObject({
      code: 'NETLINK_CLOSED',
    });
    expect(socket.closed).toBe(true);
  });

  it('fails the pending request when the socket reports an error', async () => {
    const socket = new ScriptedSocket();
    const connection = new NetlinkConnection(socket);
    const pending = connection.request(0x20, new Uint8Array(4), 'pending');
    await flush();
    socket.receivers?.error(new Error('recvmsg ENOBUFS'));
    await expect(pending).rejects.toThrow(/ENOBUFS/);
  });

  it('gives the kernel limit of one message: SO_SNDBUF - 32', () => {
    expect(new NetlinkConnection(new ScriptedSocket()).maxMessageSize()).toBe(4096 - 32);
  });
});

describe('parseMessages on hostile datagrams', () => {
  const withLength = (length: number, size: number) => {
    const bytes = new Uint8Array(size);
    new DataView(bytes.buffer).setUint32(0, length, hostLittleEndian);
    return bytes;
  };
  it.each([
    ['a header cut short', new Uint8Array(10)],
    ['a length below the header', withLength(4, 16)],
    ['a length past the end', withLength(64, 16)],
    ['trailing bytes after a message', new Uint8Array([...withLength(16, 16), 1, 2, 3, 4])],
  ])('refuses %s', (_label, bytes) => {
    expect(() => parseMessages(bytes)).toThrow(/malformed netlink data/);
  });

  it('splits several messages of one datagram', () => {
    const one = encodeMessage({ type: 0x20, flags: 0, seq: 1, port: 0, payload: Uint8Array.of(1) });
    const two = encodeMessage({ type: 0x21, flags: 0, seq: 2, port: 0, payload: new Uint8Array() });
    const messages = parseMessages(new Uint8Array([...one, ...two]));
    expect(messages.map((m) => [m.type, m.seq, m.payload.length])).toEqual([
      [0x20, 1, 1],
      [0x21, 2, 0],
    ]);
  });
});
