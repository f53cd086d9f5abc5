import { IpPrefix } from '@wg-dynamic/ip';
import { describe, expect, it } from 'vitest';
import { DelegationRouteError, DelegationRoutes } from '../src/service/delegation-routes.js';
import type { RoutePort } from '../src/service/ports.js';
import { silent } from './support/fakes.js';

const p = (text: string) => IpPrefix.from(text);
const WG = 7;

/** A routing table in memory: destination -> output interface, and which carry the server's mark. */
class FakeRoutes implements RoutePort {
  readonly index = WG;
  readonly table = new Map<string, number>();
  readonly marked = new Set<string>();
  readonly calls: string[] = [];
  failAdd: Error | undefined;

  async routesTo(destination: IpPrefix) {
    const key = destination.toString();
    const through = this.table.get(key);
    return through === undefined ? [] : [{ index: through, ours: this.marked.has(key) }];
  }
  async add(destination: IpPrefix) {
    this.calls.push(`add ${destination}`);
    if (this.failAdd) throw this.failAdd;
    this.table.set(destination.toString(), WG);
    this.marked.add(destination.toString());
  }
  async remove(destination: IpPrefix) {
    this.calls.push(`remove ${destination}`);
    this.table.delete(destination.toString());
    this.marked.delete(destination.toString());
  }
}

describe('DelegationRoutes', () => {
  it('adds a route for each pool nothing routes, and removes only those at exit', async () => {
    const port = new FakeRoutes();
    port.table.set('2001:db8:100::/48', WG); // the operator's, through wg0 already
    port.table.set('10.201.0.0/16', 3); // the operator's, through another interface
    const routes = new DelegationRoutes(port, 'wg0', silent);
    await routes.install([p('10.200.0.0/16'), p('2001:db8:100::/48'), p('10.201.0.0/16')]);
    expect(port.calls).toEqual(['add 10.200.0.0/16']);
    expect(routes.addedRoutes.map(String)).toEqual(['10.200.0.0/16']);
    await routes.removeAdded();
    expect(port.calls).toEqual(['add 10.200.0.0/16', 'remove 10.200.0.0/16']);
    expect([...port.table.keys()]).toEqual(['2001:db8:100::/48', '10.201.0.0/16']);
    await routes.removeAdded(); // nothing twice
    expect(port.calls).toHaveLength(2);
  });

  it("removes at exit a route an earlier run added and left (a crash), never an operator's", async () => {
    const port = new FakeRoutes();
    port.table.set('10.200.0.0/16', WG);
    port.marked.add('10.200.0.0/16'); // left by a run that was killed
    port.table.set('2001:db8:100::/48', WG); // the operator's, unmarked
    const routes = new DelegationRoutes(port, 'wg0', silent);
    await routes.install([p('10.200.0.0/16'), p('2001:db8:100::/48')]);
    expect(port.calls).toEqual([]);
    expect(routes.addedRoutes.map(String)).toEqual(['10.200.0.0/16']);
    await routes.removeAdded();
    expect(port.calls).toEqual(['remove 10.200.0.0/16']);
    expect([...port.table.keys()]).toEqual(['2001:db8:100::/48']);
  });

  it('says what to do when a route cannot be added, and keeps what it added to remove', async () => {
    const port = new FakeRoutes();
    const routes = new DelegationRoutes(port, 'wg0', silent);
    await routes.install([p('10.200.0.0/16')]);
    port.failAdd = new Error('operation not permitted');
    const failure = routes.install([p('10.202.0.0/16')]);
    await expect(failure).rejects.toBeInstanceOf(DelegationRouteError);
    await expect(failure).rejects.toThrow(
      /cannot add the route 10\.202\.0\.0\/16 dev wg0 .*operation not permitted.*ip route add 10\.202\.0\.0\/16 dev wg0/,
    );
    expect(routes.addedRoutes.map(String)).toEqual(['10.200.0.0/16']);
    await routes.removeAdded();
    expect(port.table.size).toBe(0);
  });
});
