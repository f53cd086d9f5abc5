import { performance } from 'node:perf_hooks';
import { FatalError } from '@wg-dynamic/cli';
import type { IpAddress, IpPrefix } from '@wg-dynamic/ip';
import { type Logger, silentLogger } from '@wg-dynamic/log';
import { serializeRequest } from '@wg-dynamic/protocol';
import {
  openRtnetlink,
  openRtnetlinkEvents,
  type Rtnetlink,
  RtnetlinkError,
  type RtnetlinkEvents,
} from '@wg-dynamic/rtnetlink';
import {
  DeviceNotFoundError,
  NotWireGuardDeviceError,
  openWireGuard,
  PermissionDeniedError,
  type WireGuard,
  WireGuardError,
} from '@wg-dynamic/wireguard';
import { routesSparingEndpoints } from '../core/address-safety.js';
import {
  type AddedRecord,
  type ApplyStep,
  type InterfaceSnapshot,
  planApply,
  recordAfter,
  recordIntent,
} from '../core/apply-plan.js';
import {
  type ClientAction,
  type ClientEvent,
  ClientMachine,
  type Memory,
  type TimerName,
} from '../core/client-machine.js';
import { RTPROT_WG_DYNAMIC } from '../core/constants.js';
import type { DesiredConfig } from '../core/lease.js';
import type { Instant, Random, TimingPolicy } from '../core/lease-timing.js';
import type { WantedPrefixes } from '../core/prefix-delegation.js';
import type { Families } from '../core/response-check.js';
import { checkInterface, SERVER_HOST_PREFIX, StartupCheckError } from '../core/startup-checks.js';
import { DEFAULT_EXCHANGE_LIMITS, ExchangeError, exchange } from './exchange.js';
import { LinkWatcher } from './link-watcher.js';
import { type LongTimer, setLongTimeout } from './long-timer.js';
import { PrefixEffects } from './prefix-effects.js';
import { type HookRunner, runShellHook } from './shell-hook.js';
import { StateStore, stateFilePath } from './state-store.js';

/** How long an exiting client waits for the sockets of given-up exchanges to close. */
const SOCKET_CLOSE_GRACE_MS = 1_000;

export interface Clock {
  now(): Instant;
}

export const systemClock: Clock = {
  now: () => ({ monotonic: performance.now(), wall: Date.now() }),
};

export interface StartHooks {
  /** After the checks, before any change; may throw (a FatalError) to stop the start. */
  readonly claim?: () => Promise<void>;
  /** Once everything is in place and the client is about to ask. */
  readonly ready?: () => void;
}

export interface ClientRuntimeOptions {
  readonly interfaceName: string;
  readonly families: Families;
  readonly acceptDefaultRoute: boolean;
  /** `--request-prefix`: the prefixes to ask for; none by default. */
  readonly prefixes?: WantedPrefixes;
  /** `--prefix-interface`: where a delegated prefix's first address goes. */
  readonly prefixInterface?: string | undefined;
  /** `--prefix-hook`: a command run with /bin/sh -c on grant, change and loss of a prefix. */
  readonly prefixHook?: string | undefined;
  /** How long the hook may run (default 30 s). */
  readonly hookTimeoutMs?: number;
  readonly stateDirectory: string;
  readonly logger?: Logger;
  readonly clock?: Clock;
  readonly random?: Random;
  readonly timing?: TimingPolicy;
  readonly exchangeLimits?: Partial<typeof DEFAULT_EXCHANGE_LIMITS>;
  /** Seams for tests; by default real sockets. */
  readonly rtnetlink?: Rtnetlink;
  readonly wireguard?: WireGuard;
  readonly openEvents?: typeof openRtnetlinkEvents;
  readonly runHook?: HookRunner;
}

/**
 * The client daemon: the state machine's actions carried out with real
 * sockets, timers, rtnetlink and the state file, and the world's events fed
 * back to it, one at a time.
 */
export class ClientRuntime {
  /** Resolves with the exit status once the client has finished. */
  readonly exited: Promise<number>;
  readonly #name: string;
  readonly #logger: Logger;
  readonly #clock: Clock;
  readonly #rtnetlink: Rtnetlink;
  readonly #wireguard: WireGuard;
  readonly #openEvents: typeof openRtnetlinkEvents;
  readonly #machine: ClientMachine;
  readonly #store: StateStore;
  readonly #prefixInterface: string | undefined;
  readonly #prefixEffects: PrefixEffects;
  readonly #limits: typeof DEFAULT_EXCHANGE_LIMITS;
  readonly #queue: ClientEvent[] = [];
  readonly #timers = new Map<TimerName, LongTimer>();
  readonly #exchanges = new Map<number, AbortController>();
  /** Sockets of exchanges not closed yet; exiting waits for them (see `exchange`). */
  readonly #closing = new Set<Promise<void>>();
  #resolveExit: (code: number) => void = () => {};
  #running = false;
  #appliedOnce = false;
  #draining = false;
  #finished = false;
  #index = 0;
  #linkLocal: IpAddress | undefined;
  /** The source address found at start-up, used once without looking again. */
  #checkedLinkLocal: IpAddress | undefined;
  #watcher: LinkWatcher | undefined;
  #events: Promise<RtnetlinkEvents> | undefined;

  constructor(options: ClientRuntimeOptions) {
    this.#name = options.interfaceName;
    this.#logger = options.logger ?? silentLogger;
    this.#clock = options.clock ?? systemClock;
    try {
      this.#rtnetlink = options.rtnetlink ?? openRtnetlink();
    } catch (error) {
      throw rtnetlinkFatal(error);
    }
    this.#wireguard = options.wireguard ?? openWireGuard();
    this.#openEvents = options.openEvents ?? openRtnetlinkEvents;
    this.#limits = { ...DEFAULT_EXCHANGE_LIMITS, ...options.exchangeLimits };
    this.#store = new StateStore(
      stateFilePath(options.stateDirectory, options.interfaceName),
      options.interfaceName,
    );
    this.#prefixInterface = options.prefixInterface;
    this.#prefixEffects = new PrefixEffects({
      interfaceName: options.interfaceName,
      prefixInterface: options.prefixInterface,
      prefixHook: options.prefixHook,
      ...(options.hookTimeoutMs === undefined ? {} : { hookTimeoutMs: options.hookTimeoutMs }),
      rtnetlink: this.#rtnetlink,
      store: this.#store,
      runHook: options.runHook ?? runShellHook,
      logger: this.#logger,
    });
    this.#machine = new ClientMachine({
      families: options.families,
      acceptDefaultRoute: options.acceptDefaultRoute,
      ...(options.prefixes === undefined ? {} : { prefixes: options.prefixes }),
      random: options.random ?? Math.random,
      ...(options.timing === undefined ? {} : { timing: options.timing }),
    });
    this.exited = new Promise((resolve) => {
      this.#resolveExit = resolve;
    });
  }

  /**
   * Runs the start-up checks (throwing StartupCheckError or FatalError with
   * the fix), adds the route to the server if none exists, and starts asking.
   * Link notifications are subscribed to in parallel with the first request.
   * `claim` runs once the checks passed and before the first change (the
   * place to refuse a second client for the interface); `ready` once the
   * client is about to ask.
   */
  async start(hooks: StartHooks = {}): Promise<void> {
    this.#events = this.#openEvents({ groups: ['link'] });
    // An unused subscription still has to be closed (and its failure handled).
    this.#events.catch(() => {});
    let up: boolean;
    let memory: Memory;
    try {
      const [checked, loaded] = await Promise.all([this.#check(), this.#store.load()]);
      if (loaded.problem !== undefined) {
        this.#logger.warn(
          { file: this.#store.path, problem: loaded.problem },
          'the state file cannot be used; starting without it (addresses an earlier run added are not known)',
        );
      }
      up = checked.up;
      memory = loaded.state.memory;
      await hooks.claim?.();
      await this.#recoverOwnership();
      if (checked.needsServerRoute) await this.#addServerRoute();
      hooks.ready?.();
    } catch (error) {
      await this.#close();
      throw error;
    }
    this.#watcher = new LinkWatcher({
      rtnetlink: this.#rtnetlink,
      openEvents: this.#openEvents,
      index: this.#index,
      up,
      logger: this.#logger,
      onChange: (change) => {
        if (change === 'up') this.#post({ type: 'link-up' });
        else if (change === 'down') this.#post({ type: 'link-down' });
        else this.#post({ type: 'link-removed' });
      },
    });
    void this.#watcher.start(this.#events);
    this.#running = true;
    this.#queue.unshift({ type: 'start', linkUp: up, memory });
    void this.#drain();
  }

  /** SIGTERM, SIGINT: remove what the client added, then exit 0. */
  stop(reason: string): void {
    if (!this.#running) {
      // Still checking: nothing is applied yet; `start` cleans up after itself.
      this.#queue.push({ type: 'stop', reason });
      return;
    }
    this.#post({ type: 'stop', reason });
  }

  async #check(): Promise<{ up: boolean; needsServerRoute: boolean }> {
    const name = this.#name;
    // The WireGuard socket and rtnetlink answer independently: ask both at once.
    const [device, facts, downstream] = await Promise.allSettled([
      this.#wireguard.device(name),
      this.#linkFacts(name),
      this.#checkPrefixInterface(),
    ]);
    if (device.status === 'rejected') throw describeDeviceError(name, device.reason);
    if (facts.status === 'rejected') throw facts.reason;
    if (downstream.status === 'rejected') throw downstream.reason;
    const peers: ReadonlyArray<{ allowedIps: readonly IpPrefix[] }> = device.value.peers;
    const { link, addresses, routes } = facts.value;
    this.#index = link.index;
    const verdict = checkInterface({
      name,
      ipv6Addresses: addresses.map((a) => a.prefix),
      ipv6Routes: routes.map((r) => r.destination),
      peers,
    });
    this.#linkLocal = verdict.linkLocal;
    this.#checkedLinkLocal = verdict.linkLocal;
    return { up: link.up, needsServerRoute: verdict.needsServerRoute };
  }

  /** The link, its IPv6 addresses and its IPv6 routes; StartupCheckError or FatalError. */
  async #linkFacts(name: string) {
    try {
      const link = await this.#rtnetlink.getLink(name);
      const [addresses, routes] = await Promise.all([
        this.#rtnetlink.listAddresses({ index: link.index, family: 6 }),
        this.#rtnetlink.listRoutes({ index: link.index, family: 6 }),
      ]);
      return { link, addresses, routes };
    } catch (error) {
      if (error instanceof RtnetlinkError && error.code === 'ENODEV') {
        throw new StartupCheckError(
          'NO_INTERFACE',
          `a WireGuard socket answers for ${name}, but this network namespace has no interface by that name: run the client where the interface is`,
          { cause: error },
        );
      }
      throw rtnetlinkFatal(error);
    }
  }

  /** `--prefix-interface` must name an interface that exists (it may go and come back later). */
  async #checkPrefixInterface(): Promise<void> {
    const name = this.#prefixInterface;
    if (name === undefined) return;
    try {
      await this.#rtnetlink.getLink(name);
    } catch (error) {
      if (error instanceof RtnetlinkError && error.code === 'ENODEV') {
        throw new StartupCheckError(
          'NO_PREFIX_INTERFACE',
          `--prefix-interface ${name}: there is no interface by that name here; create it first (the network behind this host), or name another`,
          { cause: error },
        );
      }
      throw rtnetlinkFatal(error);
    }
  }

  /**
   * Routes with this client's mark through the interface are its own, even
   * when the state file was lost: they join the record.
   */
  async #recoverOwnership(): Promise<void> {
    const marked = await this.#rtnetlink
      .listRoutes({ index: this.#index, protocol: RTPROT_WG_DYNAMIC })
      .catch((error: unknown) => {
        throw rtnetlinkFatal(error);
      });
    const state = this.#store.state;
    let routes = state.added.routes;
    let serverRoute = state.addedLinkLocalRoute;
    for (const route of marked) {
      if (route.destination.equals(SERVER_HOST_PREFIX)) serverRoute = true;
      else if (!routes.some((r) => r.equals(route.destination))) {
        routes = [...routes, route.destination];
      }
    }
    if (routes !== state.added.routes || serverRoute !== state.addedLinkLocalRoute) {
      await this.#store.save({
        ...state,
        added: { ...state.added, routes },
        addedLinkLocalRoute: serverRoute,
      });
    }
  }

  async #addServerRoute(): Promise<void> {
    this.#logger.info(
      { route: 'fe80::/128', interface: this.#name, protocol: RTPROT_WG_DYNAMIC },
      `no route to the server: adding fe80::/128 dev ${this.#name}`,
    );
    await this.#store.save({ ...this.#store.state, addedLinkLocalRoute: true });
    try {
      await this.#rtnetlink.addRoute({
        destination: SERVER_HOST_PREFIX,
        index: this.#index,
        protocol: RTPROT_WG_DYNAMIC,
      });
    } catch (error) {
      if (!(error instanceof RtnetlinkError && error.code === 'EEXIST')) {
        await this.#store.save({ ...this.#store.state, addedLinkLocalRoute: false });
        throw rtnetlinkFatal(error);
      }
    }
  }

  #post(event: ClientEvent): void {
    if (this.#finished) return;
    this.#queue.push(event);
    if (this.#running) void this.#drain();
  }

  async #drain(): Promise<void> {
    if (this.#draining) return;
    this.#draining = true;
    try {
      for (let event = this.#queue.shift(); event !== undefined; event = this.#queue.shift()) {
        const actions = this.#machine.handle(event, this.#clock.now());
        for (const action of actions) await this.#perform(action);
        if (this.#finished) return;
      }
    } finally {
      this.#draining = false;
    }
  }

  async #perform(action: ClientAction): Promise<void> {
    switch (action.type) {
      case 'log':
        this.#logger[action.level]({ interface: this.#name, ...action.fields }, action.message);
        return;
      case 'send':
        this.#send(action.exchange, action.request);
        return;
      case 'abort':
        this.#exchanges.get(action.exchange)?.abort();
        this.#exchanges.delete(action.exchange);
        return;
      case 'arm': {
        this.#timers.get(action.timer)?.clear();
        const { timer, token } = action;
        // A lease may last 2^32 - 1 seconds, beyond what setTimeout honours.
        this.#timers.set(
          timer,
          setLongTimeout(() => {
            this.#timers.delete(timer);
            this.#post({ type: 'timer', timer, token });
          }, action.delayMs),
        );
        return;
      }
      case 'cancel':
        this.#timers.get(action.timer)?.clear();
        this.#timers.delete(action.timer);
        return;
      case 'apply':
        try {
          await this.#apply(action.desired, action.memory);
          this.#post({ type: 'applied' });
        } catch (error) {
          if (error instanceof RtnetlinkError && error.code === 'ENODEV') {
            this.#post({ type: 'link-removed' });
            return;
          }
          this.#logger.error({ interface: this.#name, err: error }, 'applying the lease failed');
          this.#post({ type: 'apply-failed', reason: messageOf(error) });
        }
        return;
      case 'exit':
        await this.#exit(action.code, action.reason, action.interfaceGone);
        return;
    }
  }

  #send(id: number, request: Parameters<typeof serializeRequest>[0]): void {
    const controller = new AbortController();
    this.#exchanges.set(id, controller);
    void (async () => {
      try {
        const localAddress = await this.#sourceAddress();
        const bytes = serializeRequest(request);
        const sent = this.#clock.now();
        const response = await exchange(bytes, {
          interfaceName: this.#name,
          localAddress,
          signal: controller.signal,
          onSocketClosed: (closed) => {
            this.#closing.add(closed);
            void closed.then(() => this.#closing.delete(closed));
          },
          ...this.#limits,
        });
        this.#post({ type: 'answered', exchange: id, response, sent });
      } catch (error) {
        if (error instanceof ExchangeError && error.code === 'ABORTED') return;
        this.#post({ type: 'exchange-failed', exchange: id, reason: messageOf(error) });
      } finally {
        this.#exchanges.delete(id);
      }
    })();
  }

  /**
   * The client's link-local address, looked up again before every exchange
   * but the first: the kernel removes IPv6 addresses and routes when a link
   * goes down, so after a link flap both may need attention.
   */
  async #sourceAddress(): Promise<IpAddress> {
    const checked = this.#checkedLinkLocal;
    if (checked !== undefined) {
      this.#checkedLinkLocal = undefined;
      return checked;
    }
    const [addresses, routes] = await Promise.all([
      this.#rtnetlink.listAddresses({ index: this.#index, family: 6 }),
      this.#rtnetlink.listRoutes({ index: this.#index, family: 6 }),
    ]);
    const linkLocal = addresses
      .map((a) => a.prefix)
      .filter((prefix) => prefix.address.isLinkLocal() && prefix.isHost());
    const known = this.#linkLocal?.toString() ?? 'fe80::…';
    if (linkLocal.length !== 1) {
      throw new Error(
        linkLocal.length === 0
          ? `${this.#name} has no link-local /128 address (the kernel removes IPv6 addresses when a link goes down); add it back: \`ip address add ${known}/128 dev ${this.#name}\``
          : `${this.#name} has ${linkLocal.length} link-local /128 addresses; keep only ${known}`,
      );
    }
    const address = (linkLocal[0] as IpPrefix).address;
    this.#linkLocal = address;
    if (!routes.some((route) => route.destination.covers(SERVER_HOST_PREFIX))) {
      await this.#addServerRoute();
    }
    return address;
  }

  async #snapshot(): Promise<InterfaceSnapshot> {
    const [addresses, routes] = await Promise.all([
      this.#rtnetlink.listAddresses({ index: this.#index }),
      this.#rtnetlink.listRoutes({ index: this.#index }),
    ]);
    return {
      addresses: addresses.map((a) => a.prefix),
      routes: routes.map((r) => ({ destination: r.destination, protocol: r.protocol })),
    };
  }

  /** The peers' endpoint addresses, as the device has them now (they roam). */
  async #endpoints(): Promise<IpAddress[]> {
    const device = await this.#wireguard.device(this.#name);
    return device.peers.flatMap((peer) => (peer.endpoint ? [peer.endpoint.address] : []));
  }

  /** Leaves out the pushed routes that would carry the tunnel's own packets (routesSparingEndpoints). */
  async #sparingEndpoints(desired: DesiredConfig): Promise<DesiredConfig> {
    if (desired.routes.length === 0) return desired;
    const { kept, skipped } = routesSparingEndpoints(desired.routes, await this.#endpoints());
    for (const { route, endpoint } of skipped) {
      this.#logger.warn(
        { interface: this.#name, route: route.toString(), endpoint: endpoint.toString() },
        "skipping a pushed route that contains a peer's endpoint: the tunnel's own packets would loop into it",
      );
    }
    return skipped.length === 0 ? desired : { ...desired, routes: kept };
  }

  async #apply(wanted: DesiredConfig, memory: Memory): Promise<void> {
    const desired = await this.#sparingEndpoints(wanted);
    const plan = planApply(
      await this.#snapshot(),
      this.#store.state.added,
      desired,
      RTPROT_WG_DYNAMIC,
    );
    for (const prefix of plan.foreign) {
      this.#logger.warn(
        { interface: this.#name, prefix: prefix.toString() },
        'already on the interface and not added by this client: leaving it alone',
      );
    }
    let record = plan.record;
    // What is about to be added is recorded first: a client killed midway
    // still knows, at its next start, that it is its own.
    if (plan.steps.some((step) => step.kind === 'add-address' || step.kind === 'add-route')) {
      await this.#store.save({ ...this.#store.state, memory, added: recordIntent(plan) });
    }
    try {
      for (const step of plan.steps) {
        if (await this.#step(step)) record = recordAfter(record, step);
      }
    } finally {
      await this.#store.save({ ...this.#store.state, memory, added: record });
      // Downstream and the hook follow the prefixes even when the tunnel could not.
      await this.#prefixEffects.apply(desired.prefixes);
    }
    if (plan.steps.length === 0) return;
    const empty = desired.addresses.length === 0 && desired.routes.length === 0;
    const fields: Record<string, unknown> = {
      interface: this.#name,
      addresses: desired.addresses.map(String),
      routes: desired.routes.map(String),
    };
    if (!empty && !this.#appliedOnce) {
      // The first lease of this run: how long after the process started,
      // and how much processor time that took.
      this.#appliedOnce = true;
      const cpu = process.cpuUsage();
      fields.startupMs = Math.round(performance.now());
      fields.startupCpuMs = Math.round((cpu.user + cpu.system) / 1000);
    }
    this.#logger.info(fields, empty ? 'lease removed from the interface' : 'lease applied');
  }

  /** One change; true when it is done (or was already), false when it turned out not to be ours. */
  async #step(step: ApplyStep): Promise<boolean> {
    const index = this.#index;
    const name = this.#name;
    try {
      switch (step.kind) {
        case 'add-address':
          this.#logger.info({ interface: name, address: step.prefix.toString() }, 'adding address');
          await this.#rtnetlink.addAddress({
            index,
            prefix: step.prefix,
            ...(step.prefix.family === 6 ? { flags: ['nodad'] as const } : {}),
          });
          return true;
        case 'delete-address':
          this.#logger.info(
            { interface: name, address: step.prefix.toString() },
            'removing address',
          );
          await this.#rtnetlink.deleteAddress({ index, prefix: step.prefix });
          return true;
        case 'add-route':
          this.#logger.info(
            { interface: name, route: step.destination.toString() },
            'adding route',
          );
          await this.#rtnetlink.addRoute({
            destination: step.destination,
            index,
            protocol: RTPROT_WG_DYNAMIC,
          });
          return true;
        case 'delete-route':
          this.#logger.info(
            { interface: name, route: step.destination.toString() },
            'removing route',
          );
          await this.#rtnetlink.deleteRoute({
            destination: step.destination,
            index,
            protocol: RTPROT_WG_DYNAMIC,
          });
          return true;
      }
    } catch (error) {
      if (!(error instanceof RtnetlinkError)) throw error;
      const adding = step.kind === 'add-address' || step.kind === 'add-route';
      if (adding && error.code === 'EEXIST') {
        this.#logger.warn(
          { interface: name, step: step.kind, err: error },
          "it exists already and is not this client's: leaving it alone",
        );
        return false;
      }
      if (!adding && (error.code === 'EADDRNOTAVAIL' || error.code === 'ESRCH')) return true;
      throw error;
    }
  }

  async #exit(code: number, reason: string, interfaceGone: boolean): Promise<void> {
    if (this.#finished) return;
    this.#finished = true;
    for (const timer of this.#timers.values()) timer.clear();
    this.#timers.clear();
    for (const controller of this.#exchanges.values()) controller.abort();
    this.#watcher?.close();
    let status = code;
    try {
      if (interfaceGone) {
        // The tunnel is gone, and with it the prefixes' way in: downstream and the hook follow.
        await this.#prefixEffects.apply({});
        const empty: AddedRecord = { addresses: [], routes: [] };
        await this.#store.save({ ...this.#store.state, added: empty, addedLinkLocalRoute: false });
      } else if (this.#store.state.addedLinkLocalRoute) {
        this.#logger.info(
          { interface: this.#name, route: 'fe80::/128' },
          'removing the route to the server this client added',
        );
        await this.#rtnetlink
          .deleteRoute({
            destination: SERVER_HOST_PREFIX,
            index: this.#index,
            protocol: RTPROT_WG_DYNAMIC,
          })
          .catch((error: unknown) => {
            if (error instanceof RtnetlinkError && ['ESRCH', 'ENODEV'].includes(error.code)) return;
            throw error;
          });
        await this.#store.save({ ...this.#store.state, addedLinkLocalRoute: false });
      }
    } catch (error) {
      this.#logger.error({ interface: this.#name, err: error }, 'cleaning up failed');
      status = status === 0 ? 1 : status;
    }
    await this.#close();
    await Promise.race([
      Promise.all(this.#closing),
      new Promise((resolve) => setTimeout(resolve, SOCKET_CLOSE_GRACE_MS)),
    ]);
    this.#logger.info({ interface: this.#name, reason, status }, 'exiting');
    this.#resolveExit(status);
  }

  async #close(): Promise<void> {
    this.#watcher?.close();
    if (this.#events !== undefined) {
      this.#events.then(
        (events) => events.close(),
        () => {},
      );
    }
    this.#rtnetlink.close();
    await this.#wireguard.close();
  }
}

function describeDeviceError(name: string, error: unknown): Error {
  if (error instanceof DeviceNotFoundError) {
    return new StartupCheckError(
      'NO_INTERFACE',
      `${error.message}. Bring the interface up first (\`wg-quick up ${name}\`), then start the client`,
      { cause: error },
    );
  }
  if (error instanceof NotWireGuardDeviceError) {
    return new StartupCheckError(
      'NOT_WIREGUARD',
      `${name} is not a WireGuard interface (see \`ip -d link show ${name}\`); give the client the WireGuard interface that leads to the wg-dynamic server`,
      { cause: error },
    );
  }
  if (error instanceof PermissionDeniedError) {
    return new FatalError(`${error.message}: run wg-dynamic-client as root`, { cause: error });
  }
  if (error instanceof WireGuardError) {
    return new FatalError(`cannot read the WireGuard interface ${name}: ${error.message}`, {
      cause: error,
    });
  }
  return error instanceof Error ? error : new Error(String(error));
}

function rtnetlinkFatal(error: unknown): Error {
  // Its message already says what to do (run as root for EPERM…).
  if (error instanceof RtnetlinkError) return new FatalError(error.message, { cause: error });
  return error instanceof Error ? error : new Error(String(error));
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
