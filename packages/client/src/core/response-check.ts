import type { IpAddress, IpFamily, IpPrefix } from '@wg-dynamic/ip';
import { Errno, Extension, type PerFamily, type Response } from '@wg-dynamic/protocol';
import { unsafeAddressReason, unsafePrefixReason, unsafeRouteReason } from './address-safety.js';
import { mismatchReason, type Prefixes, type WantedPrefixes } from './prefix-delegation.js';

/** Which address families this client asks for. */
export type Families = PerFamily<boolean>;

export const FAMILIES: readonly IpFamily[] = [4, 6];

/** What a server granted: exactly what the lease holds now. */
export interface Grant {
  /** The addresses leased to this peer; a family that is absent is not (or no longer) leased. */
  readonly addresses: Partial<PerFamily<IpAddress>>;
  /** Routes to install through the interface (extension "route"); empty from a v1 server. */
  readonly routes: readonly IpPrefix[];
  /** Prefixes delegated for the network behind this host (extension "prefix"); empty from a v1 server. */
  readonly prefixes: Prefixes;
  /** The server's lease start, wall-clock UNIX seconds. */
  readonly leaseStart: number;
  /** The lease's length in seconds. */
  readonly leaseTime: number;
}

/** A route the client leaves out by its own policy; the rest of the answer stands. */
export interface SkippedRoute {
  readonly route: IpPrefix;
  readonly reason: string;
}

/**
 * What a response means for the client:
 * - `granted`: errno 0 or 3; the grant is the whole truth about the lease,
 *   and `missing` lists the families asked for that were not granted (errno 3:
 *   back off and ask again for those);
 * - `refused`: malformed or unsafe; the client changes nothing and backs off;
 * - `failed`: the server answered with another errno; nothing changes either.
 */
export type Verdict =
  | {
      readonly kind: 'granted';
      readonly grant: Grant;
      readonly missing: readonly IpFamily[];
      /** Families whose prefix was asked for, from a server that delegates, and not granted. */
      readonly missingPrefixes: readonly IpFamily[];
      /**
       * Whether the server applied the prefix extension (`ext=prefix`); a v1
       * server, or one that does not delegate, does not, and its answer holds
       * no prefix.
       */
      readonly delegates: boolean;
      readonly skippedRoutes: readonly SkippedRoute[];
      /** errno 3's errmsg, for the log. */
      readonly errmsg?: string;
    }
  | { readonly kind: 'refused'; readonly reason: string }
  | { readonly kind: 'failed'; readonly errno: number; readonly errmsg: string };

export interface CheckOptions {
  /** The families the request asked for. */
  readonly asked: Families;
  /** Install a pushed default route (/0); without it, one is skipped. */
  readonly acceptDefaultRoute: boolean;
  /** The prefixes this client was told to ask for (`--request-prefix`); none by default. */
  readonly prefixes?: WantedPrefixes;
}

/**
 * Decides what a well-formed response (the codec already refused bad framing,
 * bad numbers and prefixes other than /32 and /128) means, refusing the whole
 * response when the server leased something this host must not use.
 */
export function checkResponse(response: Response, options: CheckOptions): Verdict {
  if (response.errno !== Errno.Success && response.errno !== Errno.IpUnavailable) {
    return {
      kind: 'failed',
      errno: response.errno,
      errmsg: response.errmsg ?? '(no errmsg)',
    };
  }
  const addresses: { 4?: IpAddress; 6?: IpAddress } = {};
  for (const family of FAMILIES) {
    const address = response.ip[family];
    if (address === undefined) continue;
    if (!options.asked[family]) {
      return {
        kind: 'refused',
        reason: `the server leased the IPv${family} address ${address.toString()} although no IPv${family} address was asked for`,
      };
    }
    const unsafe = unsafeAddressReason(address);
    if (unsafe !== undefined) {
      return {
        kind: 'refused',
        reason: `the server leased ${address.toString()}, which is ${unsafe}`,
      };
    }
    addresses[family] = address;
  }
  const leased = addresses[4] !== undefined || addresses[6] !== undefined;
  // The codec guarantees both times whenever an address is present.
  const leaseStart = response.leaseStart ?? 0;
  const leaseTime = response.leaseTime ?? 0;
  if (leased && leaseTime === 0) {
    return { kind: 'refused', reason: 'the server leased addresses for 0 seconds (leasetime=0)' };
  }

  const routes: IpPrefix[] = [];
  const skippedRoutes: SkippedRoute[] = [];
  // Routes count only when the server said it applied the extension, and
  // only with a lease: they leave with it.
  if (leased && response.extensions?.includes(Extension.Route)) {
    for (const route of response.routes) {
      const unsafe = unsafeRouteReason(route);
      if (unsafe !== undefined) {
        return {
          kind: 'refused',
          reason: `the server pushed the route ${route.toString()}, but ${unsafe}`,
        };
      }
      if (routes.some((seen) => seen.equals(route))) continue;
      if (!options.asked[route.family]) {
        skippedRoutes.push({
          route,
          reason: `no IPv${route.family} address was asked for`,
        });
      } else if (route.length === 0 && !options.acceptDefaultRoute) {
        skippedRoutes.push({
          route,
          reason: 'a default route is installed only with --accept-default-route',
        });
      } else {
        routes.push(route);
      }
    }
  }

  const wanted = options.prefixes ?? {};
  const prefixes: { 4?: IpPrefix; 6?: IpPrefix } = {};
  const delegates = response.extensions?.includes(Extension.Prefix) ?? false;
  // Like routes: only from a server that said it applied the extension, and
  // only with a lease. A server that did not is not trusted with prefix= lines.
  if (leased && delegates) {
    for (const family of FAMILIES) {
      const prefix = response.prefix[family];
      if (prefix === undefined) continue;
      const refusal = prefixRefusal(prefix, wanted[family], addresses);
      if (refusal !== undefined) {
        return {
          kind: 'refused',
          reason: `the server delegated the prefix ${prefix.toString()}, but ${refusal}`,
        };
      }
      prefixes[family] = prefix;
    }
  }

  const missing = FAMILIES.filter((family) => options.asked[family] && !addresses[family]);
  const missingPrefixes =
    leased && delegates
      ? FAMILIES.filter((family) => wanted[family] !== undefined && !prefixes[family])
      : [];
  return {
    kind: 'granted',
    grant: { addresses, routes, prefixes, leaseStart, leaseTime },
    missing,
    missingPrefixes,
    delegates,
    skippedRoutes,
    ...(response.errmsg === undefined ? {} : { errmsg: response.errmsg }),
  };
}

/** Why a delegated prefix is refused; undefined when it may be used. */
function prefixRefusal(
  prefix: IpPrefix,
  wanted: NonNullable<WantedPrefixes[4]> | undefined,
  addresses: Partial<PerFamily<IpAddress>>,
): string | undefined {
  if (wanted === undefined) return `no IPv${prefix.family} prefix was asked for`;
  const unsafe = unsafePrefixReason(prefix);
  if (unsafe !== undefined) return unsafe;
  const mismatch = mismatchReason(wanted, prefix);
  if (mismatch !== undefined) return mismatch;
  const own = addresses[prefix.family];
  if (own !== undefined && prefix.contains(own)) {
    return `it holds this host's own tunnel address ${own.toString()}`;
  }
  return undefined;
}
