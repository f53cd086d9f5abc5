import { type IpAddress, IpPrefix } from '@wg-dynamic/ip';

/**
 * Ranges no server may hand out, as addresses or as routes through the
 * tunnel: they belong to the host itself or to the link, and putting them on
 * a WireGuard interface would break the host (loopback), the tunnel itself
 * (link-local: the wg-dynamic connection runs on fe80::) or other interfaces
 * (multicast, broadcast).
 */
const FORBIDDEN_RANGES: ReadonlyArray<readonly [IpPrefix, string]> = (
  [
    ['0.0.0.0/8', 'in 0.0.0.0/8 ("this network", never a host address)'],
    ['127.0.0.0/8', 'a loopback address'],
    ['169.254.0.0/16', 'a link-local address'],
    ['224.0.0.0/4', 'a multicast address'],
    ['255.255.255.255/32', 'the broadcast address'],
    ['::/128', 'the unspecified address'],
    ['::1/128', 'the loopback address'],
    ['::ffff:0:0/96', 'an IPv4-mapped IPv6 address'],
    ['fe80::/10', 'a link-local address'],
    ['ff00::/8', 'a multicast address'],
  ] as const
).map(([text, name]) => [IpPrefix.from(text), name] as const);

/** Why `address` may not be leased to this host; undefined when it may. */
export function unsafeAddressReason(address: IpAddress): string | undefined {
  const host = IpPrefix.host(address);
  for (const [range, name] of FORBIDDEN_RANGES) if (range.covers(host)) return name;
  return undefined;
}

/**
 * Why a pushed route may not be installed; undefined when it may. A route
 * that lies inside a forbidden range is refused; a wider one that merely
 * contains such a range (0.0.0.0/1) is a legitimate route, because the
 * kernel's local, link-local and multicast routes are more specific.
 * Default routes (/0) are a decision of the client's operator, not a
 * safety question: see `acceptDefaultRoute` in checkResponse.
 */
export function unsafeRouteReason(route: IpPrefix): string | undefined {
  for (const [range, name] of FORBIDDEN_RANGES) {
    if (range.covers(route)) return `it lies inside ${range.toString()} (${name})`;
  }
  return undefined;
}

/**
 * Why a prefix may not be delegated to this host, for the network behind
 * it; undefined when it may. Stricter than a route: a delegated prefix is
 * handed out address by address on a downstream network, so it may neither
 * lie inside a forbidden range nor contain one (::/1 holds the loopback
 * address), and it must be a network prefix (no host bits).
 */
export function unsafePrefixReason(prefix: IpPrefix): string | undefined {
  if (prefix.length === 0) return 'it is a default route (/0), not a prefix';
  if (!prefix.isNetwork())
    return `it has host bits set (the network is ${prefix.network().toString()})`;
  for (const [range, name] of FORBIDDEN_RANGES) {
    if (range.covers(prefix)) return `it lies inside ${range.toString()} (${name})`;
    if (prefix.covers(range)) return `it contains ${range.toString()} (${name})`;
  }
  return undefined;
}

/**
 * The pushed routes that may go through the tunnel without carrying the
 * tunnel itself: a route that contains a peer's endpoint would send
 * WireGuard's own encrypted packets to that peer back into the interface,
 * and the tunnel would stop (0.0.0.0/1 and 128.0.0.0/1 take everything, a
 * default route without a /0). Those are left out, each with the endpoint
 * it would have swallowed. A default route (/0) is not: it is installed
 * only with --accept-default-route, whose operator routes the endpoints
 * another way (wg-quick's fwmark rules).
 */
export function routesSparingEndpoints(
  routes: readonly IpPrefix[],
  endpoints: readonly IpAddress[],
): { kept: IpPrefix[]; skipped: Array<{ route: IpPrefix; endpoint: IpAddress }> } {
  const kept: IpPrefix[] = [];
  const skipped: Array<{ route: IpPrefix; endpoint: IpAddress }> = [];
  for (const route of routes) {
    const endpoint =
      route.length === 0 ? undefined : endpoints.find((address) => route.contains(address));
    if (endpoint === undefined) kept.push(route);
    else skipped.push({ route, endpoint });
  }
  return { kept, skipped };
}
