import type { Backend } from '../environment.js';

/**
 * A lab as the caller describes it: network namespaces ("nodes") joined by
 * veth pairs ("links"), each with a WireGuard interface, and who is whose
 * peer. Everything left out gets a default (see `planLab`), so the classic
 * wg-dynamic set-up is one line:
 *
 *   { nodes: { server: { linkLocal: 'fe80::/64' }, a: {}, b: {} },
 *     links: [['server', 'a'], ['server', 'b']] }
 *
 * gives the server fe80::/64 on wg0, each client a random fe80::…/128, peers
 * both ways across every link with endpoints over the veths, the server's
 * entry for a client listing the client's /128, a client's entry for the
 * server listing fe80::/128, and on each client a route to fe80::/128.
 */
export interface LabSpec {
  readonly nodes: Readonly<Record<string, LabNodeSpec>>;
  /** veth pairs between nodes; default none. Each pair at most once. */
  readonly links?: ReadonlyArray<readonly [string, string]>;
  /** Peer entries, one per direction; default: both directions of every link. */
  readonly peers?: readonly LabPeerSpec[];
  /** Default: WG_DYNAMIC_LAB_BACKEND, else userspace. */
  readonly backend?: Backend;
  /** The WireGuard interface's name in every node; default wg0. */
  readonly interfaceName?: string;
}

export interface LabNodeSpec {
  /**
   * The interface's link-local address with its prefix length as it goes on
   * the interface: `fe80::/64` for a wg-dynamic server. Default: a random
   * address in fe80::/64, as a /128.
   */
  readonly linkLocal?: string;
  /** More addresses for the interface (`10.0.0.2/32`, `fd99::2/128`). */
  readonly addresses?: readonly string[];
  /** Routes through the interface, added once it is up (a wg-dynamic server's pools). */
  readonly routes?: readonly string[];
  /**
   * Add a /128 route to each peer's link-local address that the node's own
   * link-local prefix does not cover (a client's `fe80::/128 dev wg0`).
   * Default true.
   */
  readonly linkLocalRoutes?: boolean;
  /** Turn on IPv4 and IPv6 forwarding in the node's namespace. Default false. */
  readonly forwarding?: boolean;
  /** Default 51820. */
  readonly listenPort?: number;
  /**
   * Give the node a WireGuard interface (default true). With false the node
   * has only loopback and its veth ends: no interface, no wireguard-go, no
   * peers of its own; its key pair, link-local address and listen port are
   * still planned, so that other nodes can list it as a peer and a test can
   * bring an interface up there itself (with wg-quick, say).
   */
  readonly wireguard?: boolean;
}

export interface LabPeerSpec {
  /** The node whose interface gets the peer entry. */
  readonly node: string;
  /** The node the entry is for. */
  readonly peer: string;
  /** Default: the peer's link-local address and its other addresses, each as a host prefix. */
  readonly allowedIps?: readonly string[];
  /**
   * Which underlay address of the peer to use as endpoint, over the link
   * between the two nodes: `ipv4` (default when they are linked), `ipv6`,
   * or `false` for none (the peer has to make contact first).
   */
  readonly endpoint?: 'ipv4' | 'ipv6' | false;
  readonly persistentKeepalive?: number;
}
