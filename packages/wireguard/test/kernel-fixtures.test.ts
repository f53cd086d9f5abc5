/**
 * The kernel backend against real replies of the kernel's WireGuard module
 * (Linux 6.1, captured in the kernel lab by scripts/capture-kernel-replies.mjs
 * with a device configured by wg(8); see fixtures/README.md). The replies are
 * replayed byte for byte; wg(8)'s own dump of that device is the witness.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import {
  DeviceNotFoundError,
  Key,
  NotWireGuardDeviceError,
  openWireGuard,
  SecretKey,
  WireGuardError,
} from '@wg-dynamic/wireguard';
import {
  AttributeDecoder,
  AttributeEncoder,
  CTRL_ATTR_FAMILY_ID,
  CTRL_CMD_NEWFAMILY,
  encodeGenericHeader,
  encodeMessage,
  GENL_ID_CTRL,
  GenericNetlink,
  hostLittleEndian,
  NETLINK_GENERIC,
  NetlinkConnection,
  type NetlinkDatagramReceivers,
  type NetlinkDatagramSocket,
  type NetlinkMessage,
  parseGenericPayload,
  parseMessages,
} from '@wg-dynamic/wireguard/netlink';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeKernel, type FakePeer } from './support/fake-kernel.js';

interface Capture {
  name: string;
  command: number;
  dump: boolean;
  request: string;
  outcome: string;
  datagrams: string[];
}
interface Fixture {
  kernel: string;
  littleEndian: boolean;
  device: {
    name: string;
    privateKey: string;
    presharedKey: string;
    peers: string[];
    listenPort: number;
    fwmark: number;
  };
  wgShowDump: string;
  captures: Capture[];
}

const fixture = JSON.parse(
  readFileSync(new URL('fixtures/kernel-replies.json', import.meta.url), 'utf8'),
) as Fixture;
const [getDevice, missing, notWireGuard, notNested] = fixture.captures as [
  Capture,
  Capture,
  Capture,
  Capture,
];
const bytes = (hex: string) => new Uint8Array(Buffer.from(hex, 'hex'));

/** The family id the captured kernel gave WireGuard: the type of its replies. */
const familyId = parseMessages(bytes(getDevice.datagrams[0] as string))[0]?.type as number;

/** Replays a capture: answers nlctrl with the captured family id and the WireGuard request with the capture. */
class ReplaySocket implements NetlinkDatagramSocket {
  receivers: NetlinkDatagramReceivers | undefined;
  readonly requests: NetlinkMessage[] = [];
  constructor(readonly capture: Capture) {}
  sendBufferSize = () => 212_992;
  listen(receivers: NetlinkDatagramReceivers) {
    this.receivers = receivers;
  }
  setBusy() {}
  close() {}
  async send(datagram: Uint8Array) {
    const [request] = parseMessages(Uint8Array.from(datagram));
    if (!request) throw new Error('empty datagram');
    this.requests.push(request);
    const answers: Uint8Array[] = [];
    if (request.type === GENL_ID_CTRL) {
      const attributes = new AttributeEncoder().u16(CTRL_ATTR_FAMILY_ID, familyId).encode();
      const payload = new Uint8Array([
        ...encodeGenericHeader({ command: CTRL_CMD_NEWFAMILY, version: 2 }),
        ...attributes,
      ]);
      answers.push(
        encodeMessage({ type: GENL_ID_CTRL, flags: 0, seq: request.seq, port: 0, payload }),
      );
      answers.push(ack(request));
    } else {
      for (const hex of this.capture.datagrams) answers.push(withSeq(bytes(hex), request.seq));
    }
    setImmediate(() => {
      for (const answer of answers) this.receivers?.datagram(answer, 0);
    });
  }
}

function ack(request: NetlinkMessage): Uint8Array {
  const payload = new Uint8Array(20);
  payload.set(encodeMessage({ ...request, payload: new Uint8Array() }).subarray(0, 16), 4);
  return encodeMessage({ type: 2, flags: 0x100, seq: request.seq, port: 0, payload });
}

/** The same datagram with every message's sequence number replaced. */
function withSeq(datagram: Uint8Array, seq: number): Uint8Array {
  const out = Uint8Array.from(datagram);
  const view = new DataView(out.buffer);
  let offset = 0;
  for (const message of parseMessages(datagram)) {
    view.setUint32(offset + 8, seq, hostLittleEndian);
    offset += (16 + message.payload.length + 3) & ~3;
  }
  return out;
}

/** wg(8)'s dump of the device: the witness. */
function witness() {
  const [device, ...peers] = fixture.wgShowDump
    .trim()
    .split('\n')
    .map((line) => line.split('\t'));
  return {
    publicKey: device?.[1] as string,
    peers: peers.map(([key, psk, endpoint, ips, handshake, rx, tx, keepalive]) => ({
      key: key as string,
      psk: psk !== '(none)',
      endpoint: endpoint === '(none)' ? undefined : endpoint,
      allowedIps: ips === '(none)' ? [] : (ips as string).split(','),
      handshake: Number(handshake),
      rx: BigInt(rx as string),
      tx: BigInt(tx as string),
      keepalive: keepalive === 'off' ? 0 : Number(keepalive),
    })),
  };
}

let directory: string;
beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'wg-fixtures-'));
});
afterAll(async () => {
  await rm(directory, { recursive: true, force: true });
});

const openReplay = (capture: Capture) => {
  const socket = new ReplaySocket(capture);
  const wireguard = openWireGuard({
    uapiDirectory: directory,
    openNetlinkSocket: async () => socket,
  });
  return { socket, wireguard };
};

describe(`real kernel replies (Linux ${fixture.kernel})`, () => {
  it('were captured on a little-endian machine like this one', () => {
    expect(fixture.littleEndian).toBe(hostLittleEndian);
  });

  it('read a device split over ten messages into exactly what wg(8) shows', async () => {
    const { socket, wireguard } = openReplay(getDevice);
    const device = await wireguard.device('wgfix0');
    await wireguard.close();
    // Our GET_DEVICE request is the one the capture sent.
    const request = socket.requests.find((r) => r.type === familyId) as NetlinkMessage;
    expect(Buffer.from(parseGenericPayload(request.payload).attributes).toString('hex')).toBe(
      getDevice.request,
    );
    expect(getDevice.datagrams.length).toBeGreaterThan(5);

    const seen = witness();
    expect(device.privateKey?.equals(SecretKey.parse(fixture.device.privateKey))).toBe(true);
    expect(device.publicKey?.toBase64()).toBe(seen.publicKey);
    expect(device.listenPort).toBe(fixture.device.listenPort);
    expect(device.firewallMark).toBe(fixture.device.fwmark);
    expect(device.index).toBeGreaterThan(0);
    expect(
      device.peers.map((peer) => ({
        key: peer.publicKey.toBase64(),
        psk: peer.hasPresharedKey,
        endpoint:
          peer.endpoint &&
          (peer.endpoint.address.family === 6
            ? `[${peer.endpoint.address}]:${peer.endpoint.port}`
            : `${peer.endpoint.address}:${peer.endpoint.port}`),
        allowedIps: peer.allowedIps.map(String),
        handshake: peer.lastHandshake?.getTime() ?? 0,
        rx: peer.receiveBytes,
        tx: peer.transmitBytes,
        keepalive: peer.persistentKeepaliveInterval,
      })),
    ).toEqual(seen.peers);
    expect(device.peers[1]?.allowedIps).toHaveLength(1281);
    expect(
      device.peers.map((p) =>
        p.publicKey.equals(Key.parse(fixture.device.peers[device.peers.indexOf(p)] as string)),
      ),
    ).toEqual([true, true, true]);
  });

  it('turn ENODEV into DeviceNotFoundError', async () => {
    const { wireguard } = openReplay(missing);
    const error = await wireguard.device('wgmissing0').catch((e: unknown) => e);
    await wireguard.close();
    expect(error).toBeInstanceOf(DeviceNotFoundError);
    expect(error).toMatchObject({ errno: 'ENODEV' });
  });

  it('turn EOPNOTSUPP into NotWireGuardDeviceError', async () => {
    const { wireguard } = openReplay(notWireGuard);
    const error = await wireguard.device('dummyfix0').catch((e: unknown) => e);
    await wireguard.close();
    expect(error).toBeInstanceOf(NotWireGuardDeviceError);
  });

  it('confirm the kernel refuses a nested attribute without NLA_F_NESTED (EINVAL)', async () => {
    const socket = new ReplaySocket(notNested);
    const genl = new GenericNetlink(new NetlinkConnection(socket));
    const error = await genl
      .request(await genl.family('wireguard'), 1, 1, bytes(notNested.request), 'set')
      .catch((e: unknown) => e);
    genl.close();
    expect(error).toMatchObject({
      code: 'NETLINK_REFUSED',
      errnoName: 'EINVAL',
      extendedAck: undefined,
    });
  });
});

describe('corrupted kernel replies (property)', () => {
  it('end in a device or a WireGuardError, never another exception', async () => {
    const datagrams = getDevice.datagrams.map(bytes);
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.tuple(fc.nat(datagrams.length - 1), fc.nat(), fc.integer({ min: 0, max: 255 })),
          { minLength: 1, maxLength: 4 },
        ),
        async (flips) => {
          const corrupted = datagrams.map((d) => Uint8Array.from(d));
          for (const [which, at, value] of flips) {
            const target = corrupted[which] as Uint8Array;
            target[at % target.length] = value;
          }
          const capture = {
            ...getDevice,
            datagrams: corrupted.map((d) => Buffer.from(d).toString('hex')),
          };
          const socket = new ReplaySocket(capture);
          const wireguard = openWireGuard({
            uapiDirectory: directory,
            openNetlinkSocket: async () => socket,
            // A flipped sequence number or NLMSG_DONE leaves the dump unfinished.
            timeoutMs: 100,
          });
          try {
            const device = await wireguard.device('wgfix0');
            expect(device.peers.length).toBeLessThanOrEqual(3 + flips.length);
          } catch (error) {
            expect(error).toBeInstanceOf(WireGuardError);
          } finally {
            await wireguard.close();
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});

/** Every run of 12 characters of the hex and base64 forms of a key: none may appear in an error. */
function fragmentsOf(base64: string): string[] {
  const forms = [base64, Buffer.from(base64, 'base64').toString('hex')];
  return forms.flatMap((text) =>
    Array.from({ length: text.length - 11 }, (_, i) => text.slice(i, i + 12)),
  );
}

/** The captured GET_DEVICE dump with one attribute made a byte short (its length field, in place). */
function withShortAttribute(find: (attributes: Uint8Array) => Uint8Array | undefined): Capture {
  const datagrams = getDevice.datagrams.map(bytes);
  for (const datagram of datagrams) {
    for (const message of parseMessages(datagram)) {
      const payload = find(parseGenericPayload(message.payload).attributes);
      if (payload === undefined) continue;
      const header = payload.byteOffset - 4;
      new DataView(datagram.buffer).setUint16(header, payload.length + 4 - 1, hostLittleEndian);
      return { ...getDevice, datagrams: datagrams.map((d) => Buffer.from(d).toString('hex')) };
    }
  }
  throw new Error('the capture has no such attribute');
}

describe('secrets in errors from kernel replies', () => {
  const WGDEVICE_A_PRIVATE_KEY = 3;
  const WGDEVICE_A_PEERS = 8;
  const WGPEER_A_PRESHARED_KEY = 2;

  it.each([
    [
      'a private key',
      fixture.device.privateKey,
      (attributes: Uint8Array) =>
        [...new AttributeDecoder(attributes)].find((a) => a.type === WGDEVICE_A_PRIVATE_KEY)
          ?.payload,
    ],
    [
      'a preshared key',
      fixture.device.presharedKey,
      (attributes: Uint8Array) => {
        for (const a of new AttributeDecoder(attributes)) {
          if (a.type !== WGDEVICE_A_PEERS) continue;
          for (const peer of a.nested()) {
            const psk = [...peer.nested()].find((f) => f.type === WGPEER_A_PRESHARED_KEY);
            if (psk?.payload.some((byte) => byte !== 0)) return psk.payload;
          }
        }
        return undefined;
      },
    ],
  ])('%s of the wrong length is described, never shown', async (_label, key, find) => {
    const { wireguard } = openReplay(withShortAttribute(find));
    const error = await wireguard.device('wgfix0').catch((e: unknown) => e);
    await wireguard.close();
    expect(error).toBeInstanceOf(WireGuardError);
    expect(error).toMatchObject({
      code: 'MALFORMED_REPLY',
      message: expect.stringMatching(/needs 32 byte\(s\), the attribute has 31/),
    });
    const text = inspect(error, { depth: 10 });
    for (const fragment of fragmentsOf(key)) expect(text).not.toContain(fragment);
  });
});

describe('the fake kernel against the real one', () => {
  it('lays out the same GET_DEVICE dump, byte for byte', async () => {
    const kernel = new FakeKernel();
    kernel.dumpMessageSize = 3776; // NLMSG_GOODSIZE on x86-64: a page less struct skb_shared_info
    const realFirst = parseGenericPayload(
      parseMessages(bytes(getDevice.datagrams[0] as string))[0]?.payload as Uint8Array,
    );
    const device = kernel.addDevice('wgfix0');
    // The index the real device had, read from its first message.
    const { AttributeDecoder } = await import('@wg-dynamic/wireguard/netlink');
    for (const a of new AttributeDecoder(realFirst.attributes))
      if (a.type === 1) device.index = a.u32();
    const secret = SecretKey.parse(fixture.device.privateKey);
    device.privateKey = secret.toBytes();
    device.publicKey = secret.publicKey().toBytes();
    device.listenPort = fixture.device.listenPort;
    device.fwmark = fixture.device.fwmark;
    device.peers = witness().peers.map(
      (peer): FakePeer => ({
        publicKey: Key.parse(peer.key).toBytes(),
        presharedKey: peer.psk
          ? SecretKey.parse(fixture.device.presharedKey).toBytes()
          : new Uint8Array(32),
        endpoint: peer.endpoint === undefined ? undefined : sockaddr(peer.endpoint),
        keepalive: peer.keepalive,
        handshake: [0n, 0n],
        rxBytes: peer.rx,
        txBytes: peer.tx,
        allowedIps: peer.allowedIps.map((text) => {
          const [address = '', cidr = ''] = text.split('/');
          const v6 = address.includes(':');
          return { family: v6 ? 10 : 2, address: ipBytes(address), cidr: Number(cidr) };
        }),
      }),
    );
    const socket = await kernel.openSocket(NETLINK_GENERIC);
    const received: Uint8Array[] = [];
    const connection = new NetlinkConnection({
      ...socket,
      listen: (receivers) =>
        socket.listen({
          datagram: (datagram, port) => {
            received.push(Uint8Array.from(datagram));
            receivers.datagram(datagram, port);
          },
          error: receivers.error,
        }),
    });
    const genl = new GenericNetlink(connection);
    received.length = 0;
    const family = await genl.family('wireguard');
    received.length = 0;
    await genl.dump(family, 0, 1, bytes(getDevice.request), 'read', () => {});
    genl.close();
    // Messages as (type, flags, payload), the family's id named, so the two kernels compare.
    const normalize = (id: number) => (datagram: Uint8Array) =>
      parseMessages(datagram).map((m) => ({
        type: m.type === id ? 'wireguard' : m.type,
        flags: m.flags,
        length: m.payload.length,
        payload: Buffer.from(m.payload).toString('hex'),
      }));
    const fake = received.map(normalize(family));
    const real = getDevice.datagrams.map((hex) => normalize(familyId)(bytes(hex)));
    // Shapes first (a readable failure), then every byte.
    const shape = (datagrams: ReturnType<ReturnType<typeof normalize>>[]) =>
      datagrams.map((messages) =>
        messages.map(({ type, flags, length }) => `${type}/${flags}/${length}`),
      );
    expect(shape(fake)).toEqual(shape(real));
    expect(fake).toEqual(real);
  });
});

function ipBytes(text: string): Uint8Array {
  if (!text.includes(':')) return Uint8Array.from(text.split('.').map(Number));
  const [head = '', tail = ''] = text.split('::');
  const words = (part: string) => (part ? part.split(':').map((w) => Number.parseInt(w, 16)) : []);
  const left = words(head);
  const right = words(tail);
  const all = [...left, ...new Array(8 - left.length - right.length).fill(0), ...right];
  const out = new Uint8Array(16);
  all.forEach((word, i) => {
    out[i * 2] = word >> 8;
    out[i * 2 + 1] = word & 0xff;
  });
  return out;
}

function sockaddr(endpoint: string): Uint8Array {
  const v6 = endpoint.startsWith('[');
  const address = v6
    ? endpoint.slice(1, endpoint.indexOf(']'))
    : endpoint.slice(0, endpoint.lastIndexOf(':'));
  const port = Number(endpoint.slice(endpoint.lastIndexOf(':') + 1));
  const out = new Uint8Array(v6 ? 28 : 16);
  const view = new DataView(out.buffer);
  view.setUint16(0, v6 ? 10 : 2, hostLittleEndian);
  view.setUint16(2, port, false);
  out.set(ipBytes(address), v6 ? 8 : 4);
  return out;
}
