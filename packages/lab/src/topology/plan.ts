import { type IpAddress, IpPrefix } from '@wg-dynamic/ip';
import { assertInterfaceName } from '../device/interface-name.js';
import type { Backend } from '../environment.js';
import { LabError } from '../errors.js';
import type { LabPeerSpec, LabSpec } from './spec.js';

/** Namespaces of every lab start with this, so a killed run's leftovers can be found. */
export const LAB_NETNS_PREFIX = 'wgdlab-';

/** The veth underlay: link i gets 10.254.x.y/30 (4i+1, 4i+2) and fd00:254:0:i::1,2/64. */
const UNDERLAY_IPV4 = IpPrefix.from('10.254.0.0/16');
const UNDERLAY_IPV6 = IpPrefix.from('fd00:254::/48');
const MAX_LINKS = 16_384;
const LINK_LOCAL = IpPrefix.from('fe80::/10');
const RANDOM_LINK_LOCAL = IpPrefix.from('fe80::/64');
const DEFAULT_LISTEN_PORT = 51820;
const NODE_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,12}$/;

/** A lab with every default filled in and every address chosen: pure data. */
export interface LabPlan {
  /** Random, 8 hex digits; part of every namespace name. */
  readonly id: string;
  readonly backend: Backend;
  readonly interfaceName: string;
  readonly nodes: readonly NodePlan[];
  readonly links: readonly LinkPlan[];
}

export interface NodePlan {
  readonly name: string;
  readonly netns: string;
  /** The link-local address with the prefix length it has on the interface. */
  readonly linkLocal: IpPrefix;
  /** Other interface addresses. */
  readonly addresses: readonly IpPrefix[];
  /** Routes through the interface, the link-local ones included. */
  readonly routes: readonly IpPrefix[];
  readonly forwarding: boolean;
  readonly listenPort: number;
  /** False: the lab gives the node no WireGuard interface (see `LabNodeSpec.wireguard`). */
  readonly wireguard: boolean;
  /** This node's ends of its links. */
  readonly underlay: readonly LinkEnd[];
  readonly peers: readonly PeerPlan[];
}

export interface LinkPlan {
  readonly index: number;
  readonly ends: readonly [LinkEnd, LinkEnd];
}

/** One end of a veth pair. */
export interface LinkEnd {
  readonly node: string;
  /** The node at the other end. */
  readonly peer: string;
  /** `v-<peer>`. */
  readonly device: string;
  readonly mac: string;
  readonly ipv4: IpPrefix;
  readonly ipv6: IpPrefix;
}

export interface PeerPlan {
  readonly peer: string;
  readonly allowedIps: readonly IpPrefix[];
  readonly endpoint?: { readonly address: IpAddress; readonly port: number };
  readonly persistentKeepalive?: number;
}

export interface PlanOptions {
  /** Random bytes (the lab id, link-local addresses). */
  readonly random: (size: number) => Uint8Array;
  readonly backend: Backend;
}

function invalid(message: string): LabError {
  return new LabError('INVALID_ARGUMENT', `invalid lab topology: ${message}`);
}

function parsePrefix(text: string, where: string): IpPrefix {
  const prefix = IpPrefix.parse(text);
  if (!prefix) throw invalid(`${where}: "${text}" is not an IP address or prefix (CIDR)`);
  return prefix;
}

function parseNetwork(text: string, where: string): IpPrefix {
  const prefix = parsePrefix(text, where);
  if (!prefix.isNetwork()) {
    throw invalid(`${where}: ${text} has host bits set; write ${prefix.network().toString()}`);
  }
  return prefix;
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

function linkKey(a: string, b: string): string {
  return a < b ? `${a}\0${b}` : `${b}\0${a}`;
}

/**
 * Checks a topology and fills in every default: link-local addresses, the
 * underlay address plan, peers, endpoints, allowed-ips and routes. Throws
 * INVALID_ARGUMENT naming the field at fault. Pure: the only input besides the
 * spec is `random`.
 */
export function planLab(spec: LabSpec, options: PlanOptions): LabPlan {
  const interfaceName = spec.interfaceName ?? 'wg0';
  assertInterfaceName(interfaceName);
  const names = Object.keys(spec.nodes);
  if (names.length === 0) throw invalid('a lab needs at least one node');
  for (const name of names) {
    if (!NODE_NAME.test(name)) {
      throw invalid(
        `node name "${name}" must start with a letter and have at most 13 letters, digits, "_" or "-" ` +
          '(it becomes part of interface names)',
      );
    }
  }
  const id = hex(options.random(4));
  const known = new Set(names);
  const requireNode = (name: string, where: string) => {
    if (!known.has(name)) throw invalid(`${where}: there is no node "${name}"`);
  };

  // Link-local addresses: given ones first, then random /128s that collide with none.
  const linkLocals = new Map<string, IpPrefix>();
  const taken: IpAddress[] = [];
  for (const name of names) {
    const text = spec.nodes[name]?.linkLocal;
    if (text === undefined) continue;
    const prefix = parsePrefix(text, `nodes.${name}.linkLocal`);
    if (prefix.family !== 6 || !LINK_LOCAL.contains(prefix.address)) {
      throw invalid(
        `nodes.${name}.linkLocal: ${text} is not an IPv6 link-local address (fe80::/10)`,
      );
    }
    linkLocals.set(name, prefix);
    taken.push(prefix.address);
  }
  for (const name of names) {
    if (linkLocals.has(name)) continue;
    let address: IpAddress;
    do {
      let interfaceId = 0n;
      for (const byte of options.random(8)) interfaceId = (interfaceId << 8n) | BigInt(byte);
      address = RANDOM_LINK_LOCAL.at(interfaceId);
    } while (
      address.toBigInt() === RANDOM_LINK_LOCAL.first().toBigInt() ||
      taken.some((t) => t.equals(address))
    );
    taken.push(address);
    linkLocals.set(name, IpPrefix.host(address));
  }

  // Links and the underlay address plan.
  const links: LinkPlan[] = [];
  const linkByPair = new Map<string, LinkPlan>();
  for (const [index, pair] of (spec.links ?? []).entries()) {
    const [a, b] = pair;
    requireNode(a, `links[${index}]`);
    requireNode(b, `links[${index}]`);
    if (a === b) throw invalid(`links[${index}]: a node cannot be linked to itself ("${a}")`);
    if (linkByPair.has(linkKey(a, b)))
      throw invalid(`links[${index}]: "${a}" and "${b}" are linked twice`);
    if (index >= MAX_LINKS) throw invalid(`a lab has at most ${MAX_LINKS} links`);
    const end = (node: string, peer: string, side: 1 | 2): LinkEnd => ({
      node,
      peer,
      device: `v-${peer}`,
      // Locally administered, fixed: the lab installs permanent neighbour entries (no ARP/NDP wait).
      mac: `02:77:${hex(Uint8Array.of(index >> 8))}:${hex(Uint8Array.of(index & 0xff))}:00:0${side}`,
      ipv4: new IpPrefix(UNDERLAY_IPV4.at(BigInt(index * 4 + side)), 30),
      ipv6: new IpPrefix(UNDERLAY_IPV6.at((BigInt(index) << 64n) | BigInt(side)), 64),
    });
    const link: LinkPlan = { index, ends: [end(a, b, 1), end(b, a, 2)] };
    links.push(link);
    linkByPair.set(linkKey(a, b), link);
  }

  // Node facts that peers refer to.
  const listenPorts = new Map<string, number>();
  const addresses = new Map<string, IpPrefix[]>();
  const withoutWireGuard = new Set<string>();
  for (const name of names) {
    const node = spec.nodes[name] ?? {};
    if (node.wireguard === false) {
      withoutWireGuard.add(name);
      for (const field of ['addresses', 'routes'] as const) {
        if ((node[field] ?? []).length > 0) {
          throw invalid(
            `nodes.${name}.${field}: "${name}" has no WireGuard interface (wireguard: false) to put them on`,
          );
        }
      }
    }
    const port = node.listenPort ?? DEFAULT_LISTEN_PORT;
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw invalid(`nodes.${name}.listenPort: ${port} is not a UDP port (1-65535)`);
    }
    listenPorts.set(name, port);
    addresses.set(
      name,
      (node.addresses ?? []).map((text, i) => parsePrefix(text, `nodes.${name}.addresses[${i}]`)),
    );
  }

  // Peer entries: given, or both directions of every link (from nodes that have an interface).
  const peerSpecs: readonly LabPeerSpec[] =
    spec.peers ??
    links
      .flatMap((link) => [
        { node: link.ends[0].node, peer: link.ends[1].node },
        { node: link.ends[1].node, peer: link.ends[0].node },
      ])
      .filter((entry) => !withoutWireGuard.has(entry.node));
  const peers = new Map<string, PeerPlan[]>(names.map((name) => [name, []]));
  const seenPeers = new Set<string>();
  for (const [index, peerSpec] of peerSpecs.entries()) {
    const where = `peers[${index}]`;
    requireNode(peerSpec.node, `${where}.node`);
    requireNode(peerSpec.peer, `${where}.peer`);
    if (peerSpec.node === peerSpec.peer)
      throw invalid(`${where}: "${peerSpec.node}" cannot be its own peer`);
    if (withoutWireGuard.has(peerSpec.node)) {
      throw invalid(
        `${where}.node: "${peerSpec.node}" has no WireGuard interface (wireguard: false) to hold peers`,
      );
    }
    const key = `${peerSpec.node}\0${peerSpec.peer}`;
    if (seenPeers.has(key))
      throw invalid(`${where}: "${peerSpec.node}" has "${peerSpec.peer}" as peer twice`);
    seenPeers.add(key);

    const peerLinkLocal = linkLocals.get(peerSpec.peer) as IpPrefix;
    const allowedIps =
      peerSpec.allowedIps === undefined
        ? [
            IpPrefix.host(peerLinkLocal.address),
            ...(addresses.get(peerSpec.peer) ?? []).map((p) => IpPrefix.host(p.address)),
          ]
        : peerSpec.allowedIps.map((text, i) => parseNetwork(text, `${where}.allowedIps[${i}]`));

    const link = linkByPair.get(linkKey(peerSpec.node, peerSpec.peer));
    const family = peerSpec.endpoint ?? (link === undefined ? false : 'ipv4');
    let endpoint: PeerPlan['endpoint'];
    if (family !== false) {
      if (link === undefined) {
        throw invalid(`${where}.endpoint: "${peerSpec.node}" and "${peerSpec.peer}" share no link`);
      }
      const far = link.ends[0].node === peerSpec.peer ? link.ends[0] : link.ends[1];
      endpoint = {
        address: (family === 'ipv4' ? far.ipv4 : far.ipv6).address,
        port: listenPorts.get(peerSpec.peer) as number,
      };
    }
    const keepalive = peerSpec.persistentKeepalive;
    if (
      keepalive !== undefined &&
      (!Number.isInteger(keepalive) || keepalive < 0 || keepalive > 65535)
    ) {
      throw invalid(`${where}.persistentKeepalive: ${keepalive} is not 0-65535 seconds`);
    }
    peers.get(peerSpec.node)?.push({
      peer: peerSpec.peer,
      allowedIps,
      ...(endpoint === undefined ? {} : { endpoint }),
      ...(keepalive === undefined ? {} : { persistentKeepalive: keepalive }),
    });
  }

  // The same prefix in two peer entries of one node: WireGuard would silently move it.
  for (const name of names) {
    const owner = new Map<string, string>();
    for (const peer of peers.get(name) ?? []) {
      for (const prefix of peer.allowedIps) {
        const text = prefix.toString();
        const other = owner.get(text);
        if (other !== undefined) {
          throw invalid(
            `"${name}" lists ${text} in the allowed-ips of both "${other}" and "${peer.peer}"`,
          );
        }
        owner.set(text, peer.peer);
      }
    }
  }

  const nodes = names.map((name): NodePlan => {
    const node = spec.nodes[name] ?? {};
    const linkLocal = linkLocals.get(name) as IpPrefix;
    const routes = (node.routes ?? []).map((text, i) =>
      parseNetwork(text, `nodes.${name}.routes[${i}]`),
    );
    if (node.linkLocalRoutes ?? true) {
      for (const peer of peers.get(name) ?? []) {
        const target = IpPrefix.host((linkLocals.get(peer.peer) as IpPrefix).address);
        const reachable = peer.allowedIps.some((allowed) => allowed.covers(target));
        const connected = linkLocal.covers(target);
        if (reachable && !connected && !routes.some((route) => route.equals(target)))
          routes.push(target);
      }
    }
    return {
      name,
      netns: `${LAB_NETNS_PREFIX}${id}-${name}`,
      linkLocal,
      addresses: addresses.get(name) ?? [],
      routes,
      forwarding: node.forwarding ?? false,
      listenPort: listenPorts.get(name) as number,
      wireguard: !withoutWireGuard.has(name),
      underlay: links.flatMap((link) => link.ends.filter((end) => end.node === name)),
      peers: peers.get(name) ?? [],
    };
  });

  return { id, backend: spec.backend ?? options.backend, interfaceName, nodes, links };
}
