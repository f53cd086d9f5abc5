#!/usr/bin/env node
// Captures real generic netlink replies of the kernel's WireGuard module as
// hex, for the fixtures of the kernel backend's tests. Run it where the
// kernel has WireGuard and nothing else matters, i.e. in the kernel lab, after
// a build:
//
//   packages/lab/bin/kernel-lab -- node packages/wireguard/scripts/capture-kernel-replies.mjs \
//     > packages/wireguard/test/fixtures/kernel-replies.json
//
// The device is configured with wg(8), not with this package, so the replies
// owe nothing to our encoder. Each capture records the request we sent and
// every datagram the kernel answered, byte for byte.
import { execFileSync } from 'node:child_process';
import { release } from 'node:os';
import {
  AttributeEncoder,
  GenericNetlink,
  NETLINK_GENERIC,
  NetlinkConnection,
  openSystemNetlinkSocket,
} from '../dist/netlink/index.js';

if (process.env.WG_DYNAMIC_LAB_SANDBOX !== '1') {
  console.error('capture-kernel-replies: run it in the kernel lab (it creates interfaces)');
  process.exit(2);
}

const run = (...argv) =>
  execFileSync(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
const hex = (bytes) => Buffer.from(bytes).toString('hex');

// A fixed, throw-away identity: these keys protect nothing.
const privateKey = 'yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=';
const presharedKey = 'FpCyhws9cxwWoV4xELtfJvjJN+zQVRPISllRWgeopVE=';
const peers = [
  'xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=',
  'TrMvSoP4jYQlY6RIzBQz/0CuEarMfYjkMAHx9DQYqWU=',
  'gN65BkIKy1eCE9pP1wdc8ROUtkHLF2PfAqYdG8l0HCI=',
];

run('ip', 'link', 'add', 'wgfix0', 'type', 'wireguard');
run('ip', 'link', 'add', 'dummyfix0', 'type', 'veth', 'peer', 'name', 'dummyfix1');
execFileSync('sh', [
  '-c',
  `
  set -e
  umask 077
  echo ${privateKey} > /tmp/fixture-private
  echo ${presharedKey} > /tmp/fixture-psk
  wg set wgfix0 private-key /tmp/fixture-private listen-port 51820 fwmark 0x2a \\
    peer ${peers[0]} preshared-key /tmp/fixture-psk endpoint 192.0.2.1:51820 persistent-keepalive 25 \\
      allowed-ips 10.0.0.1/32,fd00::1/128 \\
    peer ${peers[1]} endpoint [2001:db8::2]:4000 allowed-ips 10.1.0.0/16 \\
    peer ${peers[2]}
  many=$(for b in 2 3 4 5 6; do seq -f "10.$b.%g.0/24" 0 255; done | paste -sd, -)
  wg set wgfix0 peer ${peers[1]} allowed-ips "10.1.0.0/16,$many"
`,
]);

const socket = await openSystemNetlinkSocket(NETLINK_GENERIC);
const captured = [];
const listen = socket.listen.bind(socket);
socket.listen = (receivers) =>
  listen({
    datagram: (bytes, port) => {
      captured.push(hex(bytes));
      receivers.datagram(bytes, port);
    },
    error: receivers.error,
  });
const genl = new GenericNetlink(new NetlinkConnection(socket));
const family = await genl.family('wireguard');

async function capture(name, command, attributes, dump) {
  captured.length = 0;
  let outcome = 'ok';
  try {
    if (dump) await genl.dump(family, command, 1, attributes, name, () => {});
    else await genl.request(family, command, 1, attributes, name);
  } catch (error) {
    outcome = error.message;
  }
  return { name, command, dump, request: hex(attributes), outcome, datagrams: [...captured] };
}

const byName = (name) => new AttributeEncoder().string(2, name).encode();
const captures = [
  await capture(
    'GET_DEVICE wgfix0 (3 peers, one with 1,281 allowed-ips)',
    0,
    byName('wgfix0'),
    true,
  ),
  await capture('GET_DEVICE of a missing interface', 0, byName('wgmissing0'), true),
  await capture('GET_DEVICE of a veth', 0, byName('dummyfix0'), true),
  await capture(
    'SET_DEVICE with WGDEVICE_A_PEERS not flagged NLA_F_NESTED',
    1,
    (() => {
      const bytes = new AttributeEncoder()
        .string(2, 'wgfix0')
        .nested(8, (list) =>
          list.nested(0, (peer) => peer.bytes(1, Buffer.from(peers[0], 'base64'))),
        )
        .encode();
      // Clear NLA_F_NESTED of WGDEVICE_A_PEERS (the attribute after the 12-byte name).
      bytes[12 + 3] &= 0x7f;
      return bytes;
    })(),
    false,
  ),
];
genl.close();

console.log(
  JSON.stringify(
    {
      note: 'Real replies of the kernel WireGuard module; made by packages/wireguard/scripts/capture-kernel-replies.mjs in the kernel lab (see test/fixtures/README.md).',
      kernel: release(),
      littleEndian: new Uint8Array(new Uint16Array([1]).buffer)[0] === 1,
      device: { name: 'wgfix0', privateKey, presharedKey, peers, listenPort: 51820, fwmark: 0x2a },
      wgShowDump: run('wg', 'show', 'wgfix0', 'dump').toString(),
      captures,
    },
    null,
    2,
  ),
);
