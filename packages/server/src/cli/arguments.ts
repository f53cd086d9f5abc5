import { parseArgs } from 'node:util';
import { UsageError } from '@wg-dynamic/cli';
import { IpPrefix } from '@wg-dynamic/ip';
import { DEFAULT_LEASE_TIME, MAX_NUMBER } from '@wg-dynamic/protocol';
import { assertInterfaceName } from '@wg-dynamic/wireguard';
import { RESERVED_PREFIXES } from '../allocator/allocator.js';
import type { Delegation } from '../allocator/prefix-pools.js';

export const USAGE = `Usage: wg-dynamic-server [options] <interface>
       wg-dynamic-server show <interface> [--json]

Leases IPv4 and IPv6 addresses to the peers of a WireGuard interface, over
the wg-dynamic protocol at [fe80::%<interface>]:970, and writes each lease
into the peer's allowed-ips.

Options:
  --leasetime SECONDS   lease length (default ${DEFAULT_LEASE_TIME})
  --pool CIDR           an address pool; repeat for more. Without it, the pools
                        are the routes through the interface, followed live
                        (\`ip route add 192.168.4.0/24 dev wg0\`)
  --route CIDR          a route pushed to clients that speak the route
                        extension; repeat for more
  --delegate POOL/LENGTH
                        delegate prefixes of LENGTH out of POOL to clients
                        that speak the prefix extension, e.g.
                        2001:db8:100::/48/64 (/64s of a /48) or
                        10.200.0.0/16/28; repeat for more. The server routes
                        POOL into the interface if nothing routes it yet
  --state-dir DIR       where the lease journal lives, in DIR/<interface>/
                        (default /var/lib/wg-dynamic)
  --metrics ADDR:PORT   serve Prometheus metrics on http://ADDR:PORT/metrics
                        (off by default; e.g. 127.0.0.1:9586)
  --log-level LEVEL     fatal, error, warn, info (default), debug, trace
  -h, --help            this text

show prints the leases of the server running for <interface>; --json prints
them as JSON.`;

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
const LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'];

export type ServerCommand =
  | { readonly command: 'help' }
  | { readonly command: 'show'; readonly interfaceName: string; readonly json: boolean }
  | {
      readonly command: 'serve';
      readonly interfaceName: string;
      readonly leaseTime: number;
      readonly pools: readonly IpPrefix[] | undefined;
      readonly routes: readonly IpPrefix[];
      readonly delegations: readonly Delegation[];
      readonly stateDirectory: string;
      readonly metrics: { readonly host: string; readonly port: number } | undefined;
      readonly logLevel: LogLevel;
    };

function prefix(option: string, text: string): IpPrefix {
  const parsed = IpPrefix.parse(text);
  if (!parsed) throw new UsageError(`${option} ${text}: not an IPv4 or IPv6 prefix (CIDR)`);
  if (!parsed.isNetwork()) {
    throw new UsageError(`${option} ${text}: host bits are set; did you mean ${parsed.network()}?`);
  }
  return parsed;
}

function interfaceName(text: string | undefined): string {
  if (text === undefined) throw new UsageError('no interface given');
  try {
    assertInterfaceName(text);
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  return text;
}

/** `ADDRESS:PORT`, `[IPV6]:PORT`, or `:PORT` for every address. */
export function parseListenAddress(text: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text);
  const port = Number(match?.[3]);
  if (!match || port < 1 || port > 65535) {
    throw new UsageError(`--metrics ${text}: expected ADDRESS:PORT, [IPV6]:PORT or :PORT`);
  }
  return { host: match[1] ?? (match[2] || '::'), port };
}

export function parseServerArguments(argv: readonly string[]): ServerCommand {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        leasetime: { type: 'string' },
        pool: { type: 'string', multiple: true },
        route: { type: 'string', multiple: true },
        delegate: { type: 'string', multiple: true },
        'state-dir': { type: 'string' },
        metrics: { type: 'string' },
        'log-level': { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const { values, positionals } = parsed;
  if (values.help) return { command: 'help' };
  if (positionals[0] === 'show') {
    if (positionals.length !== 2) throw new UsageError('show takes one interface');
    return {
      command: 'show',
      interfaceName: interfaceName(positionals[1]),
      json: values.json === true,
    };
  }
  if (values.json) throw new UsageError('--json goes with show');
  if (positionals.length !== 1) {
    throw new UsageError(
      positionals.length === 0 ? 'no interface given' : 'give exactly one interface',
    );
  }

  let leaseTime = DEFAULT_LEASE_TIME;
  if (typeof values.leasetime === 'string') {
    leaseTime = Number(values.leasetime);
    if (!/^\d+$/.test(values.leasetime) || leaseTime < 1 || leaseTime > MAX_NUMBER) {
      throw new UsageError(
        `--leasetime ${values.leasetime}: expected whole seconds from 1 to ${MAX_NUMBER}`,
      );
    }
  }
  const level = (values['log-level'] as string | undefined) ?? 'info';
  if (!LEVELS.includes(level as LogLevel)) {
    throw new UsageError(`--log-level ${level}: expected one of ${LEVELS.join(', ')}`);
  }
  const pools = (values.pool as string[] | undefined)?.map((text) => prefix('--pool', text));
  const delegations = parseDelegations((values.delegate as string[] | undefined) ?? [], pools);
  return {
    command: 'serve',
    interfaceName: interfaceName(positionals[0]),
    leaseTime,
    pools,
    routes: ((values.route as string[] | undefined) ?? []).map((text) => prefix('--route', text)),
    delegations,
    stateDirectory: (values['state-dir'] as string | undefined) ?? '/var/lib/wg-dynamic',
    metrics: typeof values.metrics === 'string' ? parseListenAddress(values.metrics) : undefined,
    logLevel: level as LogLevel,
  };
}

const EXAMPLE = 'e.g. 2001:db8:100::/48/64 for /64s out of a /48, or 10.200.0.0/16/28';

/** One `--delegate POOL/LENGTH`: a pool without host bits and the length of the prefixes it is cut into. */
export function parseDelegation(text: string): Delegation {
  const match = /^(.+\/\d{1,3})\/(\d{1,3})$/.exec(text);
  if (!match) throw new UsageError(`--delegate ${text}: expected POOL/LENGTH, ${EXAMPLE}`);
  const pool = prefix('--delegate', match[1] as string);
  const length = Number(match[2]);
  const bits = pool.family === 4 ? 32 : 128;
  if (pool.length === 0) {
    throw new UsageError(
      `--delegate ${text}: a /0 pool would delegate the whole address space and its route would replace the default route; give a narrower pool`,
    );
  }
  if (length > bits) {
    throw new UsageError(
      `--delegate ${text}: /${length} is not an IPv${pool.family} prefix length; give one from ${pool.length} to ${bits}`,
    );
  }
  if (length < pool.length) {
    throw new UsageError(
      `--delegate ${text}: /${length} is shorter than the pool ${pool}: a delegated prefix lies inside its pool; give a length from ${pool.length} to ${bits}`,
    );
  }
  const reserved = RESERVED_PREFIXES.find((r) => r.overlaps(pool));
  if (reserved) {
    throw new UsageError(
      `--delegate ${text}: ${pool} overlaps ${reserved} (loopback, link-local, multicast, broadcast or unspecified addresses), which is never delegated`,
    );
  }
  return { pool, length };
}

/** Every `--delegate`, checked against each other and against the address pools. */
function parseDelegations(
  texts: readonly string[],
  pools: readonly IpPrefix[] | undefined,
): Delegation[] {
  const delegations = texts.map(parseDelegation);
  for (const [i, { pool }] of delegations.entries()) {
    for (const other of delegations.slice(0, i)) {
      if (other.pool.overlaps(pool)) {
        throw new UsageError(
          `--delegate ${pool}/… overlaps --delegate ${other.pool}/…: a prefix could be delegated twice; make the pools disjoint`,
        );
      }
    }
    const address = pools?.find((p) => p.overlaps(pool));
    if (address) {
      throw new UsageError(
        `--delegate ${pool}/… overlaps --pool ${address}: delegated prefixes never share addresses with an address pool; make them disjoint`,
      );
    }
  }
  return delegations;
}
