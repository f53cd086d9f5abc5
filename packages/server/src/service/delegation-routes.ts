import type { IpPrefix } from '@wg-dynamic/ip';
import type { Logger } from '@wg-dynamic/log';
import type { RoutePort } from './ports.js';

/** A route for a delegation pool could not be added. */
export class DelegationRouteError extends Error {
  readonly code = 'route-add-failed';

  constructor(pool: IpPrefix, interfaceName: string, cause: unknown) {
    super(
      `cannot add the route ${pool} dev ${interfaceName} for the delegation pool ${pool}: ${
        cause instanceof Error ? cause.message : String(cause)
      }; add it yourself (\`ip route add ${pool} dev ${interfaceName}\`) and start again`,
      { cause },
    );
    this.name = 'DelegationRouteError';
  }
}

/**
 * Makes sure the traffic for delegated prefixes is routed into the
 * interface: a route for each delegation pool, added only when no route to
 * the pool exists, and at exit removed only if this server added it (as
 * wg-quick undoes only what it did). Each step is logged before it is done.
 */
export class DelegationRoutes {
  private readonly port: RoutePort;
  private readonly interfaceName: string;
  private readonly logger: Logger;
  private added: IpPrefix[] = [];

  constructor(port: RoutePort, interfaceName: string, logger: Logger) {
    this.port = port;
    this.interfaceName = interfaceName;
    this.logger = logger;
  }

  /** The routes this server added and has not removed yet. */
  get addedRoutes(): readonly IpPrefix[] {
    return this.added;
  }

  /** Adds the missing routes; throws a DelegationRouteError when one cannot be added. */
  async install(pools: readonly IpPrefix[]): Promise<void> {
    for (const pool of pools) {
      const routes = await this.port.routesTo(pool);
      const here = routes.find((route) => route.index === this.port.index);
      if (here?.ours) {
        // Left by an earlier run that did not stop cleanly: still ours to remove.
        this.logger.info(
          { pool: pool.toString() },
          `the route ${pool} dev ${this.interfaceName} for the delegation pool is one this server added earlier; it is removed at exit`,
        );
        if (!this.added.some((added) => added.equals(pool))) this.added.push(pool);
        continue;
      }
      if (here !== undefined) {
        this.logger.info(
          { pool: pool.toString() },
          `the delegation pool ${pool} is routed into ${this.interfaceName} already`,
        );
        continue;
      }
      if (routes.length > 0) {
        this.logger.warn(
          { pool: pool.toString(), interfaces: routes.map((route) => route.index) },
          `a route for the delegation pool ${pool} goes through another interface: traffic for its prefixes does not reach ${this.interfaceName} (left as it is)`,
        );
        continue;
      }
      this.logger.info(
        { pool: pool.toString() },
        `[#] ip route add ${pool} dev ${this.interfaceName}`,
      );
      try {
        await this.port.add(pool);
      } catch (error) {
        throw new DelegationRouteError(pool, this.interfaceName, error);
      }
      this.added.push(pool);
    }
  }

  /** Removes the routes this server added, the last first; a failure is logged, not thrown. */
  async removeAdded(): Promise<void> {
    const added = this.added;
    this.added = [];
    for (const pool of [...added].reverse()) {
      this.logger.info(
        { pool: pool.toString() },
        `[#] ip route del ${pool} dev ${this.interfaceName}`,
      );
      try {
        await this.port.remove(pool);
      } catch (error) {
        this.logger.warn(
          { pool: pool.toString(), err: error },
          `could not remove the route ${pool} dev ${this.interfaceName} this server added; remove it with \`ip route del ${pool} dev ${this.interfaceName}\``,
        );
      }
    }
  }
}
