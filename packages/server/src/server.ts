import type { IpPrefix } from '@wg-dynamic/ip';
import type { Logger } from '@wg-dynamic/log';
import { WG_DYNAMIC_ADDRESS, WG_DYNAMIC_PORT } from '@wg-dynamic/protocol';
import type { Delegation } from './allocator/prefix-pools.js';
import type { JournalHistory } from './journal/replay.js';
import type { Clock, Lease, LeaseRecord } from './leases/lease.js';
import { LeaseTable } from './leases/lease-table.js';
import { Listener, type ListenerLimits, type Refusal } from './net/listener.js';
import type { RandomSource } from './random.js';
import { DelegationRoutes } from './service/delegation-routes.js';
import { InterfaceView } from './service/interface-view.js';
import { LeaseService, type ServiceObserver, type Timers } from './service/lease-service.js';
import type { DevicePort, JournalPort, NetworkPort, RoutePort } from './service/ports.js';

export interface ServerConfig {
  readonly interfaceName: string;
  /** Lease length in seconds. */
  readonly leaseTime: number;
  /** Explicit pools (--pool), or undefined to follow the routes into the interface. */
  readonly pools: readonly IpPrefix[] | undefined;
  /** Routes pushed to clients that speak the route extension (--route). */
  readonly routes: readonly IpPrefix[];
  /** Delegation pools (--delegate), for clients that speak the prefix extension. */
  readonly delegations?: readonly Delegation[];
  /** How often the device is read again to notice peers added or removed. */
  readonly refreshIntervalMs: number;
  readonly limits?: Partial<ListenerLimits>;
  /** Where to listen; defaults to [fe80::%<interface>]:970, clients from source port 970 only. */
  readonly listen?: { readonly host: string; readonly port: number; readonly sourcePort?: number };
}

export interface ServerDeps {
  readonly device: DevicePort;
  readonly network: NetworkPort;
  readonly journal: JournalPort;
  /**
   * The journal's records, replayed at start, and what the replay can vouch
   * for (`history`, as openJournal's records carry it): in-pool addresses
   * found in allowed-ips that the journal never granted are adopted only
   * when it is `none` or `damaged`, else kept as an operator's. Without
   * `history`, they are adopted when there are no records.
   */
  readonly records: Iterable<LeaseRecord> & { readonly history?: JournalHistory };
  readonly logger: Logger;
  readonly clock: Clock;
  readonly random: RandomSource;
  readonly timers?: Timers;
  /** The routes for the delegation pools; required when there are any. */
  readonly routes?: RoutePort;
}

/** Told of requests, lease events and refused connections: the metrics count them. */
export interface ServerObserver extends ServiceObserver {
  refusal?(reason: Refusal): void;
}

/**
 * The pools a route list gives: every unicast route through the interface but
 * link-local, multicast and default routes, as the reference server does, and
 * but the routes inside a delegation pool.
 */
export function poolsFromRoutes(
  routes: readonly IpPrefix[],
  delegations: readonly Delegation[] = [],
): IpPrefix[] {
  const pools = routes.filter(
    (route) =>
      route.length > 0 &&
      !route.address.isLinkLocal() &&
      !route.address.isMulticast() &&
      // A delegation pool's route (the server adds one) is no address pool.
      !delegations.some(({ pool }) => pool.covers(route)),
  );
  return pools
    .map((route) => route.network())
    .filter((pool, i, all) => all.findIndex((other) => other.equals(pool)) === i);
}

/**
 * wg-dynamic-server, assembled: the lease table and its service, the view of
 * the interface, the pools, and the TCP listener. `stopped` resolves with
 * the reason the server stopped on its own (the interface went away).
 */
export class WgDynamicServer {
  readonly table: LeaseTable;
  readonly service: LeaseService;
  readonly view: InterfaceView;
  readonly listener: Listener;
  readonly stopped: Promise<string>;
  private readonly config: ServerConfig;
  private readonly deps: Omit<ServerDeps, 'records'>;
  /** The journal's records until they are restored (then dropped: they hold the journal's bytes). */
  private records: ServerDeps['records'] | undefined;
  private stopWatching: () => void = () => {};
  private readonly delegationRoutes: DelegationRoutes | undefined;
  private refreshTimer: NodeJS.Timeout | undefined;
  private signalStopped: (reason: string) => void = () => {};
  private stopping: Promise<void> | undefined;

  private constructor(config: ServerConfig, deps: ServerDeps, observer: ServerObserver) {
    this.config = config;
    const { records, ...rest } = deps;
    this.deps = rest;
    this.records = records;
    const delegations = config.delegations ?? [];
    this.table = new LeaseTable({
      leaseTime: config.leaseTime,
      clock: deps.clock,
      random: deps.random,
      routes: config.routes,
      delegations,
    });
    if (delegations.length > 0) {
      if (!deps.routes) throw new TypeError('delegation pools need a RoutePort (deps.routes)');
      this.delegationRoutes = new DelegationRoutes(deps.routes, config.interfaceName, deps.logger);
    }
    this.service = new LeaseService({
      table: this.table,
      journal: deps.journal,
      device: deps.device,
      logger: deps.logger,
      clock: deps.clock,
      observer,
      ...(deps.timers ? { timers: deps.timers } : {}),
    });
    this.view = new InterfaceView(
      {
        peers: () => deps.device.peers(),
        ownAddresses: () => deps.network.ownAddresses(),
      },
      {
        canonicalPeer: (peer) => this.table.canonicalPeer(peer),
        readMark: () => this.table.changeMark(),
      },
    );
    const listen = config.listen ?? {
      host: `${WG_DYNAMIC_ADDRESS}%${config.interfaceName}`,
      port: WG_DYNAMIC_PORT,
      sourcePort: WG_DYNAMIC_PORT,
    };
    this.listener = new Listener({
      host: listen.host,
      port: listen.port,
      sourcePort: listen.sourcePort,
      identify: (address) => this.view.identify(address),
      handle: (peer, request) => this.service.handle(peer, request),
      logger: deps.logger,
      ...(config.limits ? { limits: config.limits } : {}),
      ...(observer.refusal ? { onRefusal: observer.refusal } : {}),
    });
    this.stopped = new Promise((resolve) => {
      this.signalStopped = resolve;
    });
  }

  /**
   * Builds the server without starting it: the lease table exists (the
   * journal's compaction reads it), nothing is read or written yet.
   */
  static create(
    config: ServerConfig,
    deps: ServerDeps,
    observer: ServerObserver = {},
  ): WgDynamicServer {
    return new WgDynamicServer(config, deps, observer);
  }

  /**
   * Restores the leases, follows the interface, and listens. It logs no
   * ready line: the program does, once its other sockets are up too (summary).
   */
  async run(): Promise<void> {
    const { logger } = this.deps;
    await this.delegationRoutes?.install((this.config.delegations ?? []).map((d) => d.pool));
    await this.updatePools();
    const view = await this.view.refresh();
    const records = this.records ?? [];
    const history = this.records?.history;
    const restored = this.table.restore(
      records,
      view,
      history === undefined ? {} : { adoptUnjournaled: history !== 'whole' },
    );
    this.records = undefined;
    logger.info(restored.report, 'leases restored from the journal and the interface');
    await this.service.applyEffects(restored, 'restart');
    this.view.onRefresh = (fresh) =>
      this.service.applyEffects(this.table.setDevice(fresh), 'interface changed');

    this.stopWatching = this.deps.network.watch({
      addressesChanged: () => this.refreshLater(),
      routesChanged: () => {
        if (!this.config.pools) this.updatePools().catch((error) => this.fail(error));
      },
      interfaceRemoved: () => {
        void this.stop(`${this.config.interfaceName} was removed`);
      },
      failed: (error) => {
        logger.warn({ err: error }, 'lost track of interface events; reading everything again');
        this.updatePools()
          .then(() => this.view.refresh())
          .catch((e) => this.fail(e));
      },
    });
    this.refreshTimer = setInterval(() => this.refreshLater(), this.config.refreshIntervalMs);
    this.refreshTimer.unref();
    await this.listener.listen();
    this.service.scheduleExpiry();
  }

  /**
   * What the program's ready line ("listening") says, logged once the
   * server runs and the program's own sockets (metrics, control) are up.
   */
  summary(): Record<string, unknown> {
    return {
      interface: this.config.interfaceName,
      leases: this.table.leaseCount,
      delegations: (this.config.delegations ?? []).map((d) => `${d.pool}/${d.length}`),
      peers: this.view.linkLocalPeers(),
      leaseTime: this.config.leaseTime,
    };
  }

  /** The leases held now. */
  leases(): Lease[] {
    return [...this.table.leases()];
  }

  /** The routes for delegation pools this server added (and removes when it stops). */
  get addedRoutes(): readonly IpPrefix[] {
    return this.delegationRoutes?.addedRoutes ?? [];
  }

  /** How many leases are held now. */
  get leaseCount(): number {
    return this.table.leaseCount;
  }

  /**
   * Stops accepting, finishes the requests in flight, writes what is pending.
   * Idempotent; `reason` is what `stopped` resolves with.
   */
  stop(reason = 'stopped'): Promise<void> {
    this.stopping ??= (async () => {
      this.stopWatching();
      if (this.refreshTimer) clearInterval(this.refreshTimer);
      await this.listener.close();
      await this.service.stop();
      await this.delegationRoutes?.removeAdded();
      this.signalStopped(reason);
    })();
    return this.stopping;
  }

  private refreshLater(): void {
    this.view.refresh().catch((error) => this.fail(error));
  }

  private async updatePools(): Promise<void> {
    const pools =
      this.config.pools ??
      poolsFromRoutes(await this.deps.network.routes(), this.config.delegations ?? []);
    this.deps.logger.info(
      { pools: pools.map(String), source: this.config.pools ? '--pool' : 'routes' },
      pools.length > 0 ? 'address pools' : 'no address pools: every request will get errno 3',
    );
    await this.service.applyEffects(this.table.setPools(pools), 'pools changed');
  }

  private fail(error: unknown): void {
    this.deps.logger.error({ err: error }, 'could not read the interface');
  }
}
