import type { LabSpec } from './spec.js';

export interface ClassicTopologyOptions {
  /** The client nodes' names, each linked to the server. */
  readonly clients: readonly string[];
  /** Default "server". */
  readonly server?: string;
  /** Routes through the server's interface: a wg-dynamic server's pools (`192.168.4.0/28`). */
  readonly serverRoutes?: readonly string[];
  /** Let the server forward between clients (IPv4 and IPv6). */
  readonly forwarding?: boolean;
}

/**
 * The classic wg-dynamic set-up, as in the reference's tests: the server
 * holds fe80::/64 and lists each client's random link-local /128; each client
 * holds its /128, lists 0.0.0.0/0 and ::/0 for the server (so leased routes
 * work) and routes fe80::/128 through its interface.
 */
export function classicTopology(options: ClassicTopologyOptions): LabSpec {
  const server = options.server ?? 'server';
  return {
    nodes: Object.fromEntries([
      [
        server,
        {
          linkLocal: 'fe80::/64',
          ...(options.serverRoutes === undefined ? {} : { routes: options.serverRoutes }),
          ...(options.forwarding === undefined ? {} : { forwarding: options.forwarding }),
        },
      ],
      ...options.clients.map((client) => [client, {}]),
    ]),
    links: options.clients.map((client) => [server, client] as const),
    peers: options.clients.flatMap((client) => [
      { node: server, peer: client },
      { node: client, peer: server, allowedIps: ['0.0.0.0/0', '::/0'] },
    ]),
  };
}
