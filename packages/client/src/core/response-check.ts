import type { IpAddress, IpFamily, IpPrefix } from '@wg-dynamic/ip';
import { Errno, Extension, type PerFamily, type Response } from '@wg-dynamic/protocol';
import { unsafeAddressReason, unsafeRouteReason } from './address-safety.js';

/** Which address families this client asks for. */
export type Families = PerFamily<boolean>;

export const FAMILIES: readonly IpFamily[] = [4, 6];

/** What a server granted: exactly what the lease holds now. */
export interface Grant {
  /** The addresses leased to this peer; a family that is absent is not (or no longer) leased. */
  readonly addresses: Partial<PerFamily<IpAddress>>;
  /** Routes to install through the interface (extension "route"); empty from a v1 server. */
  readonly routes: readonly IpPrefix[];
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

  const missing = FAMILIES.filter((family) => options.asked[family] && !addresses[family]);
  return {
    kind: 'granted',
    grant: { addresses, routes, leaseStart, leaseTime },
    missing,
    skippedRoutes,
    ...(response.errmsg === undefined ? {} : { errmsg: response.errmsg }),
  };
}
