import { IpPrefix } from '@wg-dynamic/ip';
import { classicTopology, LabError, type LabSpec, planLab } from '@wg-dynamic/lab';
import { describe, expect, it } from 'vitest';

/** A fixed sequence of "random" bytes: 0x01, 0x02, … */
function counter(): (size: number) => Uint8Array {
  let next = 1;
  return (size) => Uint8Array.from({ length: size }, () => next++ & 0xff);
}

const plan = (spec: LabSpec) => planLab(spec, { random: counter(), backend: 'userspace' });

function peerOf(spec: ReturnType<typeof plan>, node: string, peer: string) {
  const found = spec.nodes.find((n) => n.name === node)?.peers.find((p) => p.peer === peer);
  if (!found) throw new Error(`no peer ${peer} on ${node}`);
  return found;
}

function node(spec: ReturnType<typeof plan>, name: string) {
  const found = spec.nodes.find((n) => n.name === name);
  if (!found) throw new Error(`no node ${name}`);
  return found;
}

function invalid(spec: LabSpec, message: RegExp): void {
  let thrown: unknown;
  try {
    plan(spec);
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(LabError);
  expect(thrown).toMatchObject({ code: 'INVALID_ARGUMENT' });
  expect((thrown as Error).message).toMatch(message);
}

describe('planLab', () => {
  it('makes the classic wg-dynamic set-up from nodes and links alone', () => {
    const result = plan({
      nodes: { server: { linkLocal: 'fe80::/64' }, a: {}, b: {} },
      links: [
        ['server', 'a'],
        ['server', 'b'],
      ],
    });
    expect(result.id).toBe('01020304');
    expect(result.interfaceName).toBe('wg0');
    expect(result.backend).toBe('userspace');
    expect(result.nodes.map((n) => n.netns)).toEqual([
      'wgdlab-01020304-server',
      'wgdlab-01020304-a',
      'wgdlab-01020304-b',
    ]);
    const server = node(result, 'server');
    const a = node(result, 'a');
    const b = node(result, 'b');
    expect(server.linkLocal.toString()).toBe('fe80::/64');
    // Random /128s in fe80::/64 from the random source, in node order.
    expect(a.linkLocal.toString()).toBe('fe80::506:708:90a:b0c/128');
    expect(b.linkLocal.toString()).toBe('fe80::d0e:f10:1112:1314/128');

    expect(peerOf(result, 'server', 'a').allowedIps.map(String)).toEqual([
      'fe80::506:708:90a:b0c/128',
    ]);
    expect(peerOf(result, 'a', 'server').allowedIps.map(String)).toEqual(['fe80::/128']);
    // The client routes the server's fe80::; the server's /64 covers the clients already.
    expect(a.routes.map(String)).toEqual(['fe80::/128']);
    expect(server.routes).toEqual([]);
    expect(server.listenPort).toBe(51820);
  });

  it('plans the underlay: a /30 and a /64 per link, fixed MACs, endpoints over the link', () => {
    const result = plan({
      nodes: { server: {}, a: {}, b: { listenPort: 4000 } },
      links: [
        ['server', 'a'],
        ['b', 'server'],
      ],
    });
    expect(
      result.links.map((link) =>
        link.ends.map((end) => [end.node, end.device, end.mac, `${end.ipv4}`, `${end.ipv6}`]),
      ),
    ).toEqual([
      [
        ['server', 'v-a', '02:77:00:00:00:01', '10.254.0.1/30', 'fd00:254::1/64'],
        ['a', 'v-server', '02:77:00:00:00:02', '10.254.0.2/30', 'fd00:254::2/64'],
      ],
      [
        ['b', 'v-server', '02:77:00:01:00:01', '10.254.0.5/30', 'fd00:254:0:1::1/64'],
        ['server', 'v-b', '02:77:00:01:00:02', '10.254.0.6/30', 'fd00:254:0:1::2/64'],
      ],
    ]);
    expect(node(result, 'server').underlay.map((end) => end.device)).toEqual(['v-a', 'v-b']);
    const toB = peerOf(result, 'server', 'b').endpoint;
    expect(`${toB?.address}:${toB?.port}`).toBe('10.254.0.5:4000');
    const toServer = peerOf(result, 'b', 'server').endpoint;
    expect(`${toServer?.address}:${toServer?.port}`).toBe('10.254.0.6:51820');
  });

  it('takes peers, allowed-ips, endpoints and keepalives as given', () => {
    const result = plan({
      nodes: {
        server: { linkLocal: 'fe80::/64', routes: ['192.168.4.0/28'], forwarding: true },
        a: { addresses: ['10.200.0.2/32', 'fd99::2/128'], linkLocalRoutes: false },
      },
      links: [['server', 'a']],
      peers: [
        { node: 'server', peer: 'a', endpoint: false },
        {
          node: 'a',
          peer: 'server',
          allowedIps: ['::/0', '0.0.0.0/0'],
          endpoint: 'ipv6',
          persistentKeepalive: 25,
        },
      ],
      interfaceName: 'wg-lab',
    });
    expect(result.interfaceName).toBe('wg-lab');
    const server = node(result, 'server');
    expect(server.forwarding).toBe(true);
    expect(server.routes.map(String)).toEqual(['192.168.4.0/28']);
    const toA = peerOf(result, 'server', 'a');
    expect(toA.endpoint).toBeUndefined();
    // Default allowed-ips: the peer's link-local and its addresses, as host prefixes.
    expect(toA.allowedIps.map(String)).toEqual([
      'fe80::506:708:90a:b0c/128',
      '10.200.0.2/32',
      'fd99::2/128',
    ]);
    const toServer = peerOf(result, 'a', 'server');
    expect(toServer.allowedIps.map(String)).toEqual(['::/0', '0.0.0.0/0']);
    expect(`${toServer.endpoint?.address}`).toBe('fd00:254::1');
    expect(toServer.persistentKeepalive).toBe(25);
    expect(node(result, 'a').routes).toEqual([]);
  });

  it('adds no peers between nodes that share no link unless asked, and then no endpoint', () => {
    const result = plan({
      nodes: { a: {}, b: {} },
      peers: [{ node: 'a', peer: 'b' }],
    });
    expect(peerOf(result, 'a', 'b').endpoint).toBeUndefined();
    expect(node(result, 'b').peers).toEqual([]);
    expect(plan({ nodes: { a: {}, b: {} } }).nodes.every((n) => n.peers.length === 0)).toBe(true);
  });

  it('never draws a random link-local address that is taken or fe80::', () => {
    // All-zero random bytes would give fe80:: itself; the given fe80::1 must be skipped too.
    const bytes = [
      [9, 9, 9, 9], // id
      [0, 0, 0, 0, 0, 0, 0, 0], // fe80:: — refused
      [0, 0, 0, 0, 0, 0, 0, 1], // fe80::1 — taken by "server"
      [0, 0, 0, 0, 0, 0, 0, 2],
    ];
    const random = (size: number) => {
      const next = bytes.shift();
      if (!next || next.length !== size) throw new Error('unexpected random request');
      return Uint8Array.from(next);
    };
    const result = planLab(
      { nodes: { server: { linkLocal: 'fe80::1/64' }, a: {} } },
      { random, backend: 'kernel' },
    );
    expect(node(result, 'a').linkLocal.toString()).toBe('fe80::2/128');
    expect(result.backend).toBe('kernel');
  });

  it('follows classicTopology: clients list everything for the server', () => {
    const result = plan(
      classicTopology({ clients: ['a', 'b'], serverRoutes: ['192.168.4.0/28'], forwarding: true }),
    );
    expect(node(result, 'server').linkLocal).toEqual(IpPrefix.from('fe80::/64'));
    expect(node(result, 'server').routes.map(String)).toEqual(['192.168.4.0/28']);
    expect(node(result, 'server').forwarding).toBe(true);
    expect(peerOf(result, 'a', 'server').allowedIps.map(String)).toEqual(['0.0.0.0/0', '::/0']);
    expect(node(result, 'a').routes.map(String)).toEqual(['fe80::/128']);
    expect(peerOf(result, 'server', 'b').allowedIps).toHaveLength(1);
  });

  it('plans a node without WireGuard: its key facts for others, no peers or routes of its own', () => {
    const result = plan({
      nodes: { server: { linkLocal: 'fe80::/64' }, bare: { wireguard: false } },
      links: [['server', 'bare']],
    });
    const bare = node(result, 'bare');
    expect(bare.wireguard).toBe(false);
    expect(node(result, 'server').wireguard).toBe(true);
    expect(bare.peers).toEqual([]);
    expect(bare.routes).toEqual([]);
    expect(bare.underlay).toHaveLength(1);
    // The server still lists it, with an endpoint over the link.
    expect(peerOf(result, 'server', 'bare').allowedIps).toEqual([
      IpPrefix.host(bare.linkLocal.address),
    ]);
    expect(peerOf(result, 'server', 'bare').endpoint?.address.toString()).toBe(
      bare.underlay[0]?.ipv4.address.toString(),
    );
  });

  it('refuses inconsistent topologies, naming the field', () => {
    invalid({ nodes: {} }, /at least one node/);
    invalid({ nodes: { '1a': {} } }, /node name "1a"/);
    invalid({ nodes: { abcdefghijklmn: {} } }, /at most 13/);
    invalid({ nodes: { a: {} }, interfaceName: 'wg 0' }, /not a valid interface name/);
    invalid(
      { nodes: { a: { linkLocal: '10.0.0.1' } } },
      /nodes\.a\.linkLocal: 10\.0\.0\.1 is not an IPv6 link-local/,
    );
    invalid(
      { nodes: { a: { linkLocal: 'fe80::zz' } } },
      /nodes\.a\.linkLocal: "fe80::zz" is not an IP/,
    );
    invalid({ nodes: { a: { addresses: ['x'] } } }, /nodes\.a\.addresses\[0\]/);
    invalid(
      { nodes: { a: { routes: ['10.0.0.1/24'] } } },
      /has host bits set; write 10\.0\.0\.0\/24/,
    );
    invalid({ nodes: { a: { listenPort: 70000 } } }, /nodes\.a\.listenPort/);
    invalid(
      { nodes: { a: { wireguard: false, routes: ['10.0.0.0/24'] } } },
      /nodes\.a\.routes: "a" has no WireGuard interface/,
    );
    invalid(
      { nodes: { a: { wireguard: false, addresses: ['10.0.0.1/32'] } } },
      /nodes\.a\.addresses: "a" has no WireGuard interface/,
    );
    invalid(
      { nodes: { a: { wireguard: false }, b: {} }, peers: [{ node: 'a', peer: 'b' }] },
      /peers\[0\]\.node: "a" has no WireGuard interface .* to hold peers/,
    );
    invalid({ nodes: { a: {} }, links: [['a', 'b']] }, /links\[0\]: there is no node "b"/);
    invalid({ nodes: { a: {} }, links: [['a', 'a']] }, /linked to itself/);
    invalid(
      {
        nodes: { a: {}, b: {} },
        links: [
          ['a', 'b'],
          ['b', 'a'],
        ],
      },
      /links\[1\]: "b" and "a" are linked twice/,
    );
    invalid(
      { nodes: { a: {}, b: {} }, peers: [{ node: 'a', peer: 'c' }] },
      /peers\[0\]\.peer: there is no node "c"/,
    );
    invalid({ nodes: { a: {} }, peers: [{ node: 'a', peer: 'a' }] }, /its own peer/);
    invalid(
      {
        nodes: { a: {}, b: {} },
        peers: [
          { node: 'a', peer: 'b' },
          { node: 'a', peer: 'b' },
        ],
      },
      /as peer twice/,
    );
    invalid(
      { nodes: { a: {}, b: {} }, peers: [{ node: 'a', peer: 'b', endpoint: 'ipv4' }] },
      /share no link/,
    );
    invalid(
      { nodes: { a: {}, b: {} }, peers: [{ node: 'a', peer: 'b', allowedIps: ['10.0.0.1/8'] }] },
      /peers\[0\]\.allowedIps\[0\].*host bits/,
    );
    invalid(
      { nodes: { a: {}, b: {} }, peers: [{ node: 'a', peer: 'b', persistentKeepalive: -1 }] },
      /persistentKeepalive/,
    );
    invalid(
      {
        nodes: { a: {}, b: {}, c: {} },
        peers: [
          { node: 'a', peer: 'b', allowedIps: ['::/0'] },
          { node: 'a', peer: 'c', allowedIps: ['::/0'] },
        ],
      },
      /"a" lists ::\/0 in the allowed-ips of both "b" and "c"/,
    );
  });
});
