import { routesSparingEndpoints } from '@wg-dynamic/client';
import { IpPrefix } from '@wg-dynamic/ip';
import { describe, expect, it } from 'vitest';

const prefixes = (...texts: string[]) => texts.map((text) => IpPrefix.from(text));

describe('routesSparingEndpoints', () => {
  const endpoints = [
    IpPrefix.from('198.51.100.7/32').address,
    IpPrefix.from('2001:db8:1::9/128').address,
  ];

  it('leaves out a route that would carry the tunnel to its own endpoint (a split default route)', () => {
    const { kept, skipped } = routesSparingEndpoints(
      prefixes('0.0.0.0/1', '128.0.0.0/1', '::/1', '8000::/1', '10.0.0.0/8'),
      endpoints,
    );
    expect(kept.map(String)).toEqual(['0.0.0.0/1', '8000::/1', '10.0.0.0/8']);
    expect(skipped.map(({ route, endpoint }) => `${route} ${endpoint}`)).toEqual([
      '128.0.0.0/1 198.51.100.7',
      '::/1 2001:db8:1::9',
    ]);
    const narrow = routesSparingEndpoints(prefixes('2001:db8:2::/48', '2001:db8::/32'), endpoints);
    expect(narrow.kept.map(String)).toEqual(['2001:db8:2::/48']);
    expect(narrow.skipped.map(({ route }) => String(route))).toEqual(['2001:db8::/32']);
  });

  it("keeps a default route: --accept-default-route already made it the operator's choice", () => {
    const { kept, skipped } = routesSparingEndpoints(prefixes('0.0.0.0/0', '::/0'), endpoints);
    expect(kept.map(String)).toEqual(['0.0.0.0/0', '::/0']);
    expect(skipped).toEqual([]);
  });

  it('keeps every route of a device whose peers have no endpoint', () => {
    const routes = prefixes('198.51.100.0/24', '2001:db8::/32');
    expect(routesSparingEndpoints(routes, []).kept).toEqual(routes);
  });
});
