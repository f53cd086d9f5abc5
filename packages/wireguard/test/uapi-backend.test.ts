import { createHash } from 'node:crypto';
import { access, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { IpAddress, IpPrefix } from '@wg-dynamic/ip';
import {
  DeviceNotFoundError,
  openWireGuard,
  PeerNotFoundError,
  SecretKey,
  type WireGuard,
  WireGuardError,
} from '@wg-dynamic/wireguard';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeKernel } from './support/fake-kernel.js';
import { presharedKeyOf, privateKeyOf, publicKeyOf } from './support/keys.js';
import { makeClosedSocket, makeStaleSocket, UapiTestServer } from './support/uapi-server.js';

const prefix = (text: string) => IpPrefix.from(text);
const address = (text: string) => IpAddress.parse(text) as IpAddress;

let directory: string;
let kernel: FakeKernel;
let wireguard: WireGuard;
let server: UapiTestServer | undefined;

beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), 'wg-uapi-'));
  kernel = new FakeKernel();
  wireguard = openWireGuard({ uapiDirectory: directory, openNetlinkSocket: kernel.openSocket });
});

afterEach(async () => {
  await wireguard.close();
  await server?.close();
  server = undefined;
  await rm(directory, { recursive: true, force: true });
});

async function serve(respond: (request: string) => string | undefined, name = 'wg0') {
  server = await UapiTestServer.start(join(directory, `${name}.sock`), respond);
  return server;
}

const secret = privateKeyOf(3);
const peerA = publicKeyOf(1);
const peerB = publicKeyOf(2);

/** A get answer as wireguard-go 0.0.20220316 writes it. */
const getAnswer = [
  `private_key=${secret.toHex()}`,
  'listen_port=51820',
  'fwmark=66',
  `public_key=${peerA.toHex()}`,
  `preshared_key=${presharedKeyOf(1).toHex()}`,
  'protocol_version=1',
  'endpoint=[fe80::1%wg-lab]:4000',
  'last_handshake_time_sec=1700000000',
  'last_handshake_time_nsec=250000000',
  'tx_bytes=18446744073709551615',
  'rx_bytes=12',
  'persistent_keepalive_interval=25',
  'allowed_ip=10.0.0.1/32',
  'allowed_ip=fd00::/64',
  `public_key=${peerB.toHex()}`,
  `preshared_key=${'0'.repeat(64)}`,
  'protocol_version=1',
  'endpoint=192.0.2.9:51821',
  'last_handshake_time_sec=0',
  'last_handshake_time_nsec=0',
  'tx_bytes=0',
  'rx_bytes=0',
  'persistent_keepalive_interval=0',
  'errno=0',
  '',
  '',
].join('\n');

describe('userspace backend: reading', () => {
  it('sends get=1 and reads every field, deriving the public key and finding the index', async () => {
    kernel.addOtherLink('wg0', 'tun');
    const uapi = await serve(() => getAnswer);
    const device = await wireguard.device('wg0');
    expect(uapi.requests).toEqual(['get=1\n\n']);
    expect(device).toMatchObject({
      name: 'wg0',
      backend: 'userspace',
      index: kernel.otherLinks.get('wg0')?.index,
      listenPort: 51820,
      firewallMark: 66,
    });
    expect(device.privateKey?.equals(secret)).toBe(true);
    expect(device.publicKey?.equals(secret.publicKey())).toBe(true);
    const [a, b] = device.peers;
    expect(a?.publicKey.equals(peerA)).toBe(true);
    expect(a?.hasPresharedKey).toBe(true);
    expect(a?.endpoint?.address.toString()).toBe('fe80::1');
    expect(a?.endpoint?.port).toBe(4000);
    expect(a?.lastHandshake?.toISOString()).toBe('2023-11-14T22:13:20.250Z');
    expect(a?.transmitBytes).toBe(2n ** 64n - 1n);
    expect(a?.receiveBytes).toBe(12n);
    expect(a?.persistentKeepaliveInterval).toBe(25);
    expect(a?.allowedIps.map(String)).toEqual(['10.0.0.1/32', 'fd00::/64']);
    expect(b?.hasPresharedKey).toBe(false);
    expect(b?.endpoint?.address.toString()).toBe('192.0.2.9');
    expect(b?.lastHandshake).toBeUndefined();
    expect(b?.allowedIps).toEqual([]);
  });

  it('reads a bare device; index 0 when the link is in another namespace', async () => {
    await serve(() => 'errno=0\n\n');
    expect(await wireguard.device('wg0')).toMatchObject({
      index: 0,
      privateKey: undefined,
      publicKey: undefined,
      listenPort: 0,
      firewallMark: 0,
      peers: [],
    });
  });

  it('prefers the UAPI socket to a kernel device of the same name, as wg(8) does', async () => {
    kernel.addDevice('wg0');
    await serve(() => 'listen_port=7\nerrno=0\n\n');
    expect(await wireguard.device('wg0')).toMatchObject({ backend: 'userspace', listenPort: 7 });
  });
});

describe('userspace backend: configuring', () => {
  it('sends one set request with hex keys, update_only right after public_key', async () => {
    const uapi = await serve((request) =>
      request.startsWith('set=1') ? 'errno=0\n\n' : getAnswer,
    );
    await wireguard.configure(
      'wg0',
      {
        privateKey: secret,
        listenPort: 0,
        firewallMark: 0,
        replacePeers: true,
        peers: [
          {
            publicKey: peerA,
            updateOnly: true,
            presharedKey: null,
            endpoint: { address: address('2001:db8::1'), port: 51820 },
            persistentKeepaliveInterval: 0,
            replaceAllowedIps: true,
            allowedIps: [prefix('10.0.0.1/32'), prefix('fd00::/64')],
          },
          { publicKey: peerB, remove: true },
          { publicKey: publicKeyOf(3), endpoint: { address: address('192.0.2.1'), port: 1 } },
        ],
      },
      { verifyUpdateOnlyPeers: false },
    );
    expect(uapi.requests).toEqual([
      [
        'set=1',
        `private_key=${secret.toHex()}`,
        'listen_port=0',
        'fwmark=0',
        'replace_peers=true',
        `public_key=${peerA.toHex()}`,
        'update_only=true',
        `preshared_key=${'0'.repeat(64)}`,
        'endpoint=[2001:db8::1]:51820',
        'persistent_keepalive_interval=0',
        'replace_allowed_ips=true',
        'allowed_ip=10.0.0.1/32',
        'allowed_ip=fd00::/64',
        `public_key=${peerB.toHex()}`,
        'remove=true',
        `public_key=${publicKeyOf(3).toHex()}`,
        'endpoint=192.0.2.1:1',
        '',
        '',
      ].join('\n'),
    ]);
  });

  it('fails with PeerNotFoundError when an update-only peer is not there afterwards', async () => {
    const uapi = await serve((request) =>
      request.startsWith('set=1') ? 'errno=0\n\n' : getAnswer,
    );
    const missing = publicKeyOf(7);
    const error = await wireguard
      .configure('wg0', {
        peers: [
          { publicKey: peerA, updateOnly: true, allowedIps: [prefix('10.0.0.1/32')] },
          { publicKey: missing, updateOnly: true, allowedIps: [prefix('10.0.0.7/32')] },
        ],
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PeerNotFoundError);
    expect((error as PeerNotFoundError).publicKeys.map(String)).toEqual([missing.toBase64()]);
    expect(uapi.requests.map((r) => r.split('\n')[0])).toEqual(['set=1', 'get=1']);
  });

  it('removes single allowed-ips by replacing that peer list with what remains', async () => {
    const uapi = await serve((request) =>
      request.startsWith('set=1') ? 'errno=0\n\n' : getAnswer,
    );
    await wireguard.configure('wg0', {
      peers: [
        {
          publicKey: peerA,
          removeAllowedIps: [prefix('fd00::/64')],
          allowedIps: [prefix('10.0.0.2/32')],
        },
      ],
    });
    expect(uapi.requests[0]).toBe('get=1\n\n');
    expect(uapi.requests[1]).toBe(
      [
        'set=1',
        `public_key=${peerA.toHex()}`,
        'replace_allowed_ips=true',
        'allowed_ip=10.0.0.1/32',
        'allowed_ip=10.0.0.2/32',
        '',
        '',
      ].join('\n'),
    );
  });

  it('turns a negative errno into a typed error with its name', async () => {
    await serve(() => 'errno=-22\n\n');
    const error = await wireguard.configure('wg0', { listenPort: 1 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WireGuardError);
    expect(error).toMatchObject({ code: 'REFUSED', errno: 'EINVAL', device: 'wg0' });
    expect((error as Error).message).toMatch(/errno=-22/);
    await server?.close();
    await serve(() => 'errno=-98\n\n');
    await expect(wireguard.configure('wg0', { listenPort: 1 })).rejects.toMatchObject({
      errno: 'EADDRINUSE',
      message: expect.stringMatching(/listen port is already in use/),
    });
    await expect(wireguard.device('wg0')).rejects.toMatchObject({
      code: 'REFUSED',
      errno: 'EADDRINUSE',
    });
  });
});

describe('userspace backend: broken or hostile answers', () => {
  it.each([
    ['no errno before the connection closes', 'listen_port=1\n'],
    ['nothing at all', ''],
    ['a line without =', 'listen_port\nerrno=0\n\n'],
    ['a bad number', 'listen_port=70000\nerrno=0\n\n'],
    ['a bad key', 'private_key=zz\nerrno=0\n\n'],
    ['a peer line before any peer', 'allowed_ip=10.0.0.1/32\nerrno=0\n\n'],
    ['a device line inside a peer', `public_key=${peerA.toHex()}\nlisten_port=1\nerrno=0\n\n`],
    ['a bad endpoint', `public_key=${peerA.toHex()}\nendpoint=fe80::1:80\nerrno=0\n\n`],
    ['a bad allowed-ip', `public_key=${peerA.toHex()}\nallowed_ip=10.0.0.1\nerrno=0\n\n`],
    ['a bad errno', 'errno=nope\n\n'],
    ['no blank line after errno', 'errno=0\nlisten_port=1\n'],
    ['a blank line before errno', 'listen_port=1\n\nerrno=0\n\n'],
    ['an endless line', `listen_port=${'1'.repeat(5000)}`],
  ])('%s', async (_label, answer) => {
    await serve(() => answer);
    const error = await wireguard.device('wg0').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WireGuardError);
    expect(error).toMatchObject({ code: 'MALFORMED_REPLY', device: 'wg0' });
  });

  it('any answer ends in a device or a WireGuardError (property)', async () => {
    const line = fc.oneof(
      fc.constantFrom(...getAnswer.split('\n')),
      fc.string({ maxLength: 80 }),
      fc.constantFrom('errno=0', 'errno=-22', '', 'public_key=', 'allowed_ip=::/0'),
    );
    let answer = '';
    await serve(() => answer);
    await fc.assert(
      fc.asyncProperty(
        fc.array(line, { maxLength: 40 }),
        fc.boolean(),
        async (lines, terminated) => {
          answer = lines.join('\n') + (terminated ? '\nerrno=0\n\n' : '');
          try {
            await wireguard.device('wg0');
          } catch (error) {
            expect(error).toBeInstanceOf(WireGuardError);
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('skips keys it does not know (as forks add some)', async () => {
    await serve(() => `jc=4\npublic_key=${peerA.toHex()}\nsomething_new=1\nerrno=0\n\n`);
    expect((await wireguard.device('wg0')).peers).toHaveLength(1);
  });

  it('bounds the size of an answer', async () => {
    const small = openWireGuard({
      uapiDirectory: directory,
      openNetlinkSocket: kernel.openSocket,
      uapiLimits: { maxAnswerBytes: 10_000 },
    });
    await serve(() => `${`public_key=${peerA.toHex()}\n`.repeat(1000)}errno=0\n\n`);
    await expect(small.device('wg0')).rejects.toMatchObject({
      code: 'MALFORMED_REPLY',
      message: expect.stringMatching(/exceeds 10000 bytes/),
    });
    await small.close();
  });

  it('gives up on a socket that never answers', async () => {
    const quick = openWireGuard({
      uapiDirectory: directory,
      openNetlinkSocket: kernel.openSocket,
      timeoutMs: 50,
    });
    await serve(() => undefined);
    await expect(quick.device('wg0')).rejects.toMatchObject({ code: 'NO_REPLY', device: 'wg0' });
    await quick.close();
  });

  it('refuses a line in answer to a set', async () => {
    await serve(() => 'listen_port=1\nerrno=0\n\n');
    await expect(wireguard.configure('wg0', {})).rejects.toMatchObject({ code: 'MALFORMED_REPLY' });
  });
});

describe('userspace backend: secrets never reach an error', () => {
  // A value no message could contain by chance.
  const secretHex = createHash('sha256').update('wg-dynamic secret').digest('hex');
  const fragments = (text: string) =>
    Array.from({ length: text.length - 11 }, (_, i) => text.slice(i, i + 12));

  async function errorFor(answer: string): Promise<unknown> {
    await server?.close();
    await serve(() => answer);
    return wireguard.device('wg0').catch((e: unknown) => e);
  }

  function expectHidden(error: unknown, value = secretHex): void {
    // inspect shows the message, the stack and the cause chain, as a logger would.
    const text = inspect(error, { depth: 10 });
    for (const fragment of fragments(value)) expect(text).not.toContain(fragment);
  }

  const peer = `public_key=${peerA.toHex()}\n`;
  it.each([
    ['a private key one digit short', `private_key=${secretHex.slice(1)}\n`, /63 character/],
    ['a private key too long', `private_key=${secretHex}00\n`, /66 character/],
    ['a private key with a non-hex digit', `private_key=${secretHex.slice(1)}g\n`, /64 character/],
    ['a preshared key one digit short', `${peer}preshared_key=${secretHex.slice(1)}\n`, /63/],
    ['a preshared key before any peer', `preshared_key=${secretHex}\n`, /before any public_key/],
    ['a private key inside a peer', `${peer}private_key=${secretHex}\n`, /after the peers began/],
    ['a private key line without =', `private_key:${secretHex}\n`, /private_key line of 76/],
    ['a key line whose name lost a letter', `=rivate_key=${secretHex}\n`, /may be a key/],
  ])('%s', async (_label, lines, says) => {
    const error = await errorFor(`${lines}errno=0\n\n`);
    expect(error).toBeInstanceOf(WireGuardError);
    expect(error).toMatchObject({ code: 'MALFORMED_REPLY', message: expect.stringMatching(says) });
    expectHidden(error);
  });

  it('a private key line after errno=', async () => {
    const error = await errorFor(`errno=0\nprivate_key=${secretHex}\n`);
    expect(error).toMatchObject({
      code: 'MALFORMED_REPLY',
      message: expect.stringMatching(/blank line after errno=/),
    });
    expectHidden(error);
  });

  it('other values are still quoted, to show what was wrong', async () => {
    const error = await errorFor('listen_port=70000\nerrno=0\n\n');
    expect((error as Error).message).toContain('"70000"');
  });

  it('a secret line with any one character changed, added or removed (property)', async () => {
    let answer = '';
    await server?.close();
    await serve(() => answer);
    const edit = fc.record({
      at: fc.nat(),
      kind: fc.constantFrom('replace', 'insert', 'delete'),
      character: fc.oneof(
        fc.constantFrom('\n', '=', ' ', 'g', '0'),
        fc.string({ minLength: 1, maxLength: 1 }),
      ),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('private_key', 'preshared_key'),
        edit,
        async (key, { at, kind, character }) => {
          const line = `${key}=${secretHex}`;
          const i = at % (line.length + 1);
          const edited =
            kind === 'insert'
              ? line.slice(0, i) + character + line.slice(i)
              : line.slice(0, i) + (kind === 'replace' ? character : '') + line.slice(i + 1);
          answer = `${key === 'preshared_key' ? peer : ''}${edited}\nerrno=0\n\n`;
          const error = await wireguard.device('wg0').catch((e: unknown) => e);
          if (error === undefined || !(error instanceof Error)) return;
          expect(error).toBeInstanceOf(WireGuardError);
          expectHidden(error);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('userspace backend: sockets', () => {
  it('a stale socket (wireguard-go killed) is deleted and the kernel answers, as wg(8) does', async () => {
    const path = join(directory, 'wg0.sock');
    await makeStaleSocket(path);
    const error = await wireguard.device('wg0').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeviceNotFoundError);
    expect(error).toMatchObject({ errno: 'ENODEV' });
    await expect(access(path)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('a stale socket does not hide a kernel device of the same name', async () => {
    await makeStaleSocket(join(directory, 'wg0.sock'));
    kernel.addDevice('wg0').listenPort = 51820;
    expect(await wireguard.device('wg0')).toMatchObject({ backend: 'kernel', listenPort: 51820 });
  });

  it('configure() on a closed socket goes to the kernel device', async () => {
    await makeClosedSocket(join(directory, 'wg0.sock'));
    const device = kernel.addDevice('wg0');
    await wireguard.configure('wg0', { listenPort: 4242 });
    expect(device.listenPort).toBe(4242);
    expect(await readdir(directory)).toEqual([]);
  });

  it('devices() leaves out and deletes stale sockets, keeps live ones', async () => {
    kernel.addDevice('wg-kernel');
    await serve(() => 'errno=0\n\n', 'wg-user');
    await makeClosedSocket(join(directory, 'wg-gone.sock'));
    await makeClosedSocket(join(directory, 'wg-kernel.sock'));
    expect(await wireguard.devices()).toEqual(['wg-kernel', 'wg-user']);
    expect(await readdir(directory)).toEqual(['wg-user.sock']);
  });

  it('a live socket is only connected to, never deleted, and records no request for the check', async () => {
    const uapi = await serve(() => 'listen_port=9\nerrno=0\n\n');
    expect(await wireguard.devices()).toEqual(['wg0']);
    expect(await wireguard.device('wg0')).toMatchObject({ backend: 'userspace', listenPort: 9 });
    expect(uapi.requests).toEqual(['get=1\n\n']);
    expect(await readdir(directory)).toEqual(['wg0.sock']);
  });

  it('without a socket the kernel answers, here with no such device', async () => {
    const error = await wireguard.device('wg0').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeviceNotFoundError);
    expect(error).toMatchObject({ errno: 'ENODEV' });
  });

  it('devices() lists sockets and kernel devices, not other files', async () => {
    kernel.addDevice('wg-kernel');
    await serve(() => 'errno=0\n\n', 'wg-user');
    await writeFile(join(directory, 'not-a-socket.sock'), '');
    await writeFile(join(directory, 'notes.txt'), '');
    expect(await wireguard.devices()).toEqual(['wg-kernel', 'wg-user']);
  });

  it('a missing directory means no userspace devices', async () => {
    const none = openWireGuard({
      uapiDirectory: join(directory, 'absent'),
      openNetlinkSocket: kernel.openSocket,
    });
    expect(await none.devices()).toEqual([]);
    await none.close();
  });

  it('never logs a key', async () => {
    const lines: string[] = [];
    const logger = {
      debug: (fields: object, message?: string) =>
        lines.push(JSON.stringify(fields) + (message ?? '')),
      info: (fields: object, message?: string) =>
        lines.push(JSON.stringify(fields) + (message ?? '')),
      warn: (fields: object, message?: string) =>
        lines.push(JSON.stringify(fields) + (message ?? '')),
      error: (fields: object, message?: string) =>
        lines.push(JSON.stringify(fields) + (message ?? '')),
    };
    const logged = openWireGuard({
      uapiDirectory: directory,
      openNetlinkSocket: kernel.openSocket,
      logger,
    });
    await serve((request) => (request.startsWith('set') ? 'errno=0\n\n' : getAnswer));
    const key = SecretKey.generate(() => new Uint8Array(32).fill(0x33));
    await logged.configure('wg0', { privateKey: key });
    await logged.device('wg0');
    await logged.close();
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) {
      expect(line).not.toContain(key.toHex());
      expect(line).not.toContain(secret.toHex());
    }
  });
});
