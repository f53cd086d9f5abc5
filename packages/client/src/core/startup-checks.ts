import { randomBytes } from 'node:crypto';
import { FatalError } from '@wg-dynamic/cli';
import { IpAddress, IpPrefix } from '@wg-dynamic/ip';

export type StartupProblem =
  | 'NO_INTERFACE'
  | 'NOT_WIREGUARD'
  | 'NO_LINK_LOCAL'
  | 'SEVERAL_LINK_LOCAL'
  | 'LINK_LOCAL_NOT_HOST'
  | 'NO_SERVER_PEER'
  | 'NO_PREFIX_INTERFACE';

/** A start-up check failed; the message names the fix, with the command to run. */
export class StartupCheckError extends FatalError {
  readonly code: StartupProblem;

  constructor(code: StartupProblem, message: string, options: { cause?: unknown } = {}) {
    super(message, options);
    this.code = code;
  }
}

/** The server's address as a host prefix: what some peer's allowed-ips must cover. */
export const SERVER_HOST_PREFIX = IpPrefix.from('fe80::/128');

export interface InterfaceFacts {
  readonly name: string;
  /** Every IPv6 address of the interface, with its prefix length. */
  readonly ipv6Addresses: readonly IpPrefix[];
  /** The destinations of the IPv6 routes through the interface (main table). */
  readonly ipv6Routes: readonly IpPrefix[];
  /** Each peer's allowed-ips. */
  readonly peers: ReadonlyArray<{ readonly allowedIps: readonly IpPrefix[] }>;
}

export interface InterfaceVerdict {
  /** The client's own link-local address: the source of every exchange. */
  readonly linkLocal: IpAddress;
  /** No route to fe80::/128 points into the interface: the client adds one. */
  readonly needsServerRoute: boolean;
}

/**
 * What the protocol needs of a client's interface: exactly one link-local
 * address, a /128 (the server's peer entry lists that /128, and WireGuard's
 * cryptokey routing proves who is asking by it); a peer whose allowed-ips
 * cover fe80::/128, the server. Throws StartupCheckError naming the fix.
 */
export function checkInterface(facts: InterfaceFacts): InterfaceVerdict {
  const name = facts.name;
  const linkLocal = facts.ipv6Addresses.filter((prefix) => prefix.address.isLinkLocal());
  if (linkLocal.length === 0) {
    throw new StartupCheckError(
      'NO_LINK_LOCAL',
      `${name} has no IPv6 link-local address; the client needs exactly one, a /128 that the ` +
        `server's peer entry for this host lists in its allowed-ips. Add one, e.g. ` +
        `\`ip address add ${suggestLinkLocal()}/128 dev ${name}\` (and list it on the server: ` +
        `\`wg set ${name} peer <this host's public key> allowed-ips <that address>/128\`)`,
    );
  }
  if (linkLocal.length > 1) {
    const keep = linkLocal.find((prefix) => prefix.isHost()) ?? (linkLocal[0] as IpPrefix);
    const remove = linkLocal.filter((prefix) => prefix !== keep);
    throw new StartupCheckError(
      'SEVERAL_LINK_LOCAL',
      `${name} has ${linkLocal.length} link-local addresses (${linkLocal.map(String).join(', ')}); ` +
        `the client needs exactly one, a /128 that the server lists for this host. Remove the ` +
        `others: ${remove.map((p) => `\`ip address del ${p.toString()} dev ${name}\``).join(', ')} ` +
        `(one the kernel made comes back unless \`ip link set ${name} addrgenmode none\`)`,
    );
  }
  const own = linkLocal[0] as IpPrefix;
  if (!own.isHost()) {
    throw new StartupCheckError(
      'LINK_LOCAL_NOT_HOST',
      `${name}'s link-local address ${own.toString()} must be a /128 (the server's peer entry ` +
        `lists exactly that address): \`ip address del ${own.toString()} dev ${name} && ` +
        `ip address add ${own.address.toString()}/128 dev ${name}\``,
    );
  }
  if (!facts.peers.some((peer) => peer.allowedIps.some((p) => p.covers(SERVER_HOST_PREFIX)))) {
    throw new StartupCheckError(
      'NO_SERVER_PEER',
      `no peer of ${name} has allowed-ips covering fe80::/128, so the wg-dynamic server (fe80::) ` +
        `cannot be reached through the tunnel: \`wg set ${name} peer <the server's public key> ` +
        `allowed-ips fe80::/128,<the peer's other allowed-ips>\` (::/0 covers it too)`,
    );
  }
  return {
    linkLocal: own.address,
    needsServerRoute: !facts.ipv6Routes.some((route) => route.covers(SERVER_HOST_PREFIX)),
  };
}

/** A random link-local address to suggest in a message: fe80:: with 64 random bits. */
function suggestLinkLocal(): string {
  const bytes = new Uint8Array(16);
  bytes.set([0xfe, 0x80]);
  bytes.set(randomBytes(8), 8);
  return IpAddress.fromBytes(bytes).toString();
}
