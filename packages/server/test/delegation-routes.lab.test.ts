import { execFileSync } from 'node:child_process';
import { IpPrefix } from '@wg-dynamic/ip';
import { openRtnetlink, type Rtnetlink } from '@wg-dynamic/rtnetlink';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rtnetlinkRoutes } from '../src/adapters/rtnetlink-network.js';
import { DelegationRoutes } from '../src/service/delegation-routes.js';

// The routes for delegation pools, through the real rtnetlink adapter, on a
// veth pair in the lab sandbox's own network namespace (the host kernel has
// no dummy driver); iproute2 is the independent witness.
const A = 'dlg-a';
const B = 'dlg-b';
const p = (text: string) => IpPrefix.from(text);
const silent = pino({ level: 'silent' });

const ip = (...args: string[]) =>
  execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

/** What `ip route show` says of one destination: device and protocol of each route. */
function shown(destination: string): string[] {
  const family = destination.includes(':') ? '-6' : '-4';
  const output = ip('-d', '-j', family, 'route', 'show', 'exact', destination).trim();
  const routes = (output === '' ? [] : JSON.parse(output)) as { dev: string; protocol?: string }[];
  // iproute2 leaves out the protocol of "proto boot" routes.
  return routes.map((route) => `${route.dev} ${route.protocol ?? 'boot'}`);
}

let rtnl: Rtnetlink;
let indexA: number;

beforeAll(() => {
  ip('link', 'add', A, 'type', 'veth', 'peer', 'name', B);
  ip('link', 'set', A, 'up');
  ip('link', 'set', B, 'up');
  indexA = (JSON.parse(ip('-j', 'link', 'show', A)) as { ifindex: number }[])[0]?.ifindex ?? 0;
  rtnl = openRtnetlink();
});

afterAll(() => {
  rtnl?.close();
  ip('link', 'del', A);
});

describe('routes for delegation pools (rtnetlink)', () => {
  it('adds POOL dev <interface> when nothing routes it, and removes only what it added', async () => {
    ip('route', 'add', '10.211.0.0/16', 'dev', A); // the operator's, into the interface
    ip('route', 'add', '10.212.0.0/16', 'dev', B); // the operator's, elsewhere
    const routes = new DelegationRoutes(rtnetlinkRoutes(rtnl, indexA), A, silent);
    await routes.install([
      p('10.210.0.0/16'),
      p('2001:db8:210::/48'),
      p('10.211.0.0/16'),
      p('10.212.0.0/16'),
    ]);
    expect(routes.addedRoutes.map(String)).toEqual(['10.210.0.0/16', '2001:db8:210::/48']);
    // wg-dynamic's own mark, RTPROT_WG_DYNAMIC (iproute2 has no name for it).
    expect(shown('10.210.0.0/16')).toEqual([`${A} 87`]);
    expect(shown('2001:db8:210::/48')).toEqual([`${A} 87`]);
    expect(shown('10.211.0.0/16')).toEqual([`${A} boot`]);
    expect(shown('10.212.0.0/16')).toEqual([`${B} boot`]);

    await routes.removeAdded();
    expect(shown('10.210.0.0/16')).toEqual([]);
    expect(shown('2001:db8:210::/48')).toEqual([]);
    expect(shown('10.211.0.0/16')).toEqual([`${A} boot`]);
    expect(shown('10.212.0.0/16')).toEqual([`${B} boot`]);
    ip('route', 'del', '10.211.0.0/16', 'dev', A);
    ip('route', 'del', '10.212.0.0/16', 'dev', B);
  });

  it('never removes a route an operator put in place of its own', async () => {
    const port = rtnetlinkRoutes(rtnl, indexA);
    const routes = new DelegationRoutes(port, A, silent);
    await routes.install([p('10.213.0.0/16')]);
    // The operator replaces it by one of their own ("proto boot").
    ip('route', 'del', '10.213.0.0/16', 'dev', A);
    ip('route', 'add', '10.213.0.0/16', 'dev', A);
    await routes.removeAdded();
    expect(shown('10.213.0.0/16')).toEqual([`${A} boot`]);
    ip('route', 'del', '10.213.0.0/16', 'dev', A);
    // Removing a route that is gone is no error.
    await expect(port.remove(p('10.213.0.0/16'))).resolves.toBeUndefined();
  });

  it("removes at exit the route a run that did not stop cleanly left, never an operator's proto static one", async () => {
    ip('route', 'add', '10.214.0.0/16', 'dev', A, 'proto', '87'); // left by a killed run
    ip('route', 'add', '10.215.0.0/16', 'dev', A, 'proto', 'static'); // the operator's
    const routes = new DelegationRoutes(rtnetlinkRoutes(rtnl, indexA), A, silent);
    await routes.install([p('10.214.0.0/16'), p('10.215.0.0/16')]);
    expect(routes.addedRoutes.map(String)).toEqual(['10.214.0.0/16']);
    await routes.removeAdded();
    expect(shown('10.214.0.0/16')).toEqual([]);
    expect(shown('10.215.0.0/16')).toEqual([`${A} static`]);
    ip('route', 'del', '10.215.0.0/16', 'dev', A);
  });
});
