import type { IpAddress, IpFamily, IpPrefix } from '@wg-dynamic/ip';
import {
  Extension,
  NEW_ADDRESS,
  type PerFamily,
  type PrefixRequest,
  RELEASE,
  RELEASE_PREFIX,
  type RequestFields,
  type Response,
  specificAddress,
} from '@wg-dynamic/protocol';
import { unsafePrefixReason, unsafeRouteReason } from './address-safety.js';
import {
  type DesiredConfig,
  describeAddresses,
  desiredOf,
  type HeldLease,
  NOTHING,
  type RememberedLease,
  sameAddresses,
} from './lease.js';
import {
  backoffDelay,
  DEFAULT_TIMING,
  type Instant,
  leaseClock,
  type Random,
  renewBeforeEnd,
  type TimingPolicy,
} from './lease-timing.js';
import {
  describePrefixes,
  describeWanted,
  type Prefixes,
  samePrefixes,
  type WantedPrefix,
  type WantedPrefixes,
  wantedLength,
} from './prefix-delegation.js';
import { checkResponse, FAMILIES, type Families } from './response-check.js';

/**
 * - `starting`: no lease; asking, or waiting to ask again after a failure;
 * - `bound`: a lease is held; waiting for the time to renew it;
 * - `renewing`: a lease is held; asking, or waiting to ask again;
 * - `paused`: the link is down; nothing is asked until it comes up;
 * - `stopping`: removing what the client added, then exiting;
 * - `stopped`: done; every later event is ignored.
 */
export type Phase = 'starting' | 'bound' | 'renewing' | 'paused' | 'stopping' | 'stopped';

/** `request`: the next exchange (renewal or retry); `expire`: the end of the lease. */
export type TimerName = 'request' | 'expire';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** What the client keeps on disk between runs: the last lease and the addresses to ask for. */
export interface Memory {
  /** The lease as last granted, until it ends or is withdrawn. */
  readonly lease: RememberedLease | undefined;
  /** The addresses to ask for next: the last ones granted, per family. */
  readonly addresses: Partial<PerFamily<IpAddress>>;
  /** The delegated prefixes to ask for next: the last ones granted, per family. */
  readonly prefixes?: Prefixes;
}

export const EMPTY_MEMORY: Memory = Object.freeze({
  lease: undefined,
  addresses: {},
  prefixes: {},
});

export type ClientEvent =
  /** Once, first: the link's state and what the last run remembered. */
  | { readonly type: 'start'; readonly linkUp: boolean; readonly memory: Memory }
  /** An exchange brought a well-formed response; `sent` is when its request left. */
  | {
      readonly type: 'answered';
      readonly exchange: number;
      readonly response: Response;
      readonly sent: Instant;
    }
  /** An exchange failed: no connection, a timeout, a malformed or oversized answer. */
  | { readonly type: 'exchange-failed'; readonly exchange: number; readonly reason: string }
  | { readonly type: 'timer'; readonly timer: TimerName; readonly token: number }
  /** The last `apply` action is done, or failed (what it did is recorded). */
  | { readonly type: 'applied' }
  | { readonly type: 'apply-failed'; readonly reason: string }
  | { readonly type: 'link-down' }
  | { readonly type: 'link-up' }
  | { readonly type: 'link-removed' }
  | { readonly type: 'stop'; readonly reason: string };

export type ClientAction =
  | { readonly type: 'send'; readonly exchange: number; readonly request: RequestFields }
  /** Give up an exchange in flight; its outcome no longer matters. */
  | { readonly type: 'abort'; readonly exchange: number }
  /**
   * Make the interface carry `desired` (of what this client manages), then
   * remember `memory` on disk; report back with `applied` or `apply-failed`.
   */
  | { readonly type: 'apply'; readonly desired: DesiredConfig; readonly memory: Memory }
  /** (Re)arm a timer: an earlier one of the same name is replaced. */
  | {
      readonly type: 'arm';
      readonly timer: TimerName;
      readonly token: number;
      readonly delayMs: number;
    }
  | { readonly type: 'cancel'; readonly timer: TimerName }
  | {
      readonly type: 'log';
      readonly level: LogLevel;
      readonly message: string;
      readonly fields: Readonly<Record<string, unknown>>;
    }
  /** `interfaceGone`: nothing is left to remove, and the record of it can be cleared. */
  | {
      readonly type: 'exit';
      readonly code: number;
      readonly reason: string;
      readonly interfaceGone: boolean;
    };

export interface MachineOptions {
  readonly families: Families;
  readonly acceptDefaultRoute: boolean;
  /** The prefixes to ask for (`--request-prefix`); none by default. */
  readonly prefixes?: WantedPrefixes;
  readonly random: Random;
  readonly timing?: TimingPolicy;
}

/**
 * The client's decisions, apart from all I/O: events in (with the time),
 * actions out. Every timer, request, change of the interface and exit goes
 * through here, so each can be tested with a fake clock and a seeded random
 * source.
 */
export class ClientMachine {
  readonly #families: Families;
  readonly #acceptDefaultRoute: boolean;
  readonly #wantedPrefixes: WantedPrefixes;
  readonly #random: Random;
  readonly #timing: TimingPolicy;
  #phase: Phase = 'starting';
  #started = false;
  #lease: HeldLease | undefined;
  #remembered: { 4?: IpAddress; 6?: IpAddress } = {};
  #rememberedPrefixes: { 4?: IpPrefix; 6?: IpPrefix } = {};
  /** Whether requests list the prefix extension: to ask for a prefix, or to release one an earlier run held. */
  #advertisePrefix: boolean;
  /** Said once per run: the server answers without the prefix extension. */
  #toldNoDelegation = false;
  #failures = 0;
  #exchange: { readonly id: number; readonly request: RequestFields } | undefined;
  #exchanges = 0;
  #tokens = 0;
  readonly #armed = new Map<TimerName, number>();

  constructor(options: MachineOptions) {
    this.#families = options.families;
    this.#acceptDefaultRoute = options.acceptDefaultRoute;
    this.#wantedPrefixes = options.prefixes ?? {};
    this.#advertisePrefix = FAMILIES.some((family) => this.#wantedPrefixes[family] !== undefined);
    this.#random = options.random;
    this.#timing = options.timing ?? DEFAULT_TIMING;
  }

  get phase(): Phase {
    return this.#phase;
  }

  get lease(): HeldLease | undefined {
    return this.#lease;
  }

  /** Consecutive failed exchanges (and grants that left a family out). */
  get failures(): number {
    return this.#failures;
  }

  handle(event: ClientEvent, now: Instant): ClientAction[] {
    if (this.#phase === 'stopped') return [];
    if (!this.#started && event.type !== 'start' && event.type !== 'stop') return [];
    switch (event.type) {
      case 'start':
        return this.#start(event.linkUp, event.memory, now);
      case 'answered':
        return this.#answered(event.exchange, event.response, event.sent, now);
      case 'exchange-failed':
        if (this.#exchange?.id !== event.exchange) return [];
        this.#exchange = undefined;
        return this.#failure(event.reason);
      case 'timer':
        if (this.#armed.get(event.timer) !== event.token) return [];
        this.#armed.delete(event.timer);
        return event.timer === 'request' ? this.#requestTimer() : this.#expired();
      case 'applied':
        return this.#phase === 'stopping' ? this.#exit(0, 'stopped', false) : [];
      case 'apply-failed':
        if (this.#phase === 'stopping') {
          return this.#exit(1, `could not remove what the client added: ${event.reason}`, false);
        }
        return this.#failure(`could not apply the lease: ${event.reason}`);
      case 'link-down':
        return this.#linkDown();
      case 'link-up':
        return this.#linkUp();
      case 'link-removed':
        return [...this.#quiesce(), ...this.#exit(0, 'the interface was removed', true)];
      case 'stop':
        return this.#stop(event.reason);
    }
  }

  #start(linkUp: boolean, memory: Memory, now: Instant): ClientAction[] {
    if (this.#started) return [];
    this.#started = true;
    const actions: ClientAction[] = [];
    for (const family of FAMILIES) {
      const address = memory.addresses[family];
      if (address !== undefined && this.#families[family]) this.#remembered[family] = address;
      // A prefix granted for another --request-prefix than today's is not asked for again.
      const prefix = memory.prefixes?.[family];
      const wanted = this.#wantedPrefixes[family];
      if (prefix !== undefined && wanted !== undefined && exactly(wanted, prefix)) {
        this.#rememberedPrefixes[family] = prefix;
      }
    }
    // A prefix an earlier run held and this one does not ask for is released
    // by a request that lists the extension without a prefix= line for it.
    if (describePrefixes(memory.lease?.prefixes ?? {}).length > 0) this.#advertisePrefix = true;
    const lease = this.#resume(memory.lease, now);
    if (lease !== undefined) {
      this.#lease = lease;
      actions.push(
        log('info', 'resuming the remembered lease until the server confirms it', {
          addresses: describeAddresses(lease.addresses),
          routes: lease.routes.map(String),
          prefixes: describePrefixes(lease.prefixes),
          expiresInMs: Math.round(lease.expiresAt - now.monotonic),
        }),
        this.#arm('expire', lease.expiresAt - now.monotonic),
      );
    }
    // Also with nothing to resume: what an earlier run added and that no
    // valid lease covers (a run killed with SIGKILL) goes now.
    actions.push(this.#apply(desiredOf(lease)));
    if (!linkUp) {
      this.#phase = 'paused';
      actions.push(log('info', 'the link is down; waiting for it to come up', {}));
      return actions;
    }
    actions.push(...this.#send());
    return actions;
  }

  /** The remembered lease, if it is still running by the wall clock, with what this run may use of it. */
  #resume(remembered: RememberedLease | undefined, now: Instant): HeldLease | undefined {
    if (remembered === undefined) return undefined;
    const left = remembered.expiresAtWall - now.wall;
    // A lease that ends later than its own length from now was counted by a clock that jumped since.
    if (left <= 0 || left > remembered.leaseTime * 1000 + this.#timing.skewToleranceMs) {
      return undefined;
    }
    const addresses: { 4?: IpAddress; 6?: IpAddress } = {};
    for (const family of FAMILIES) {
      const address = remembered.addresses[family];
      if (address !== undefined && this.#families[family]) addresses[family] = address;
    }
    if (addresses[4] === undefined && addresses[6] === undefined) return undefined;
    const routes = remembered.routes.filter(
      (route) =>
        this.#families[route.family] &&
        unsafeRouteReason(route) === undefined &&
        (route.length > 0 || this.#acceptDefaultRoute),
    );
    const prefixes: { 4?: IpPrefix; 6?: IpPrefix } = {};
    for (const family of FAMILIES) {
      const prefix = remembered.prefixes?.[family];
      const wanted = this.#wantedPrefixes[family];
      if (
        prefix !== undefined &&
        wanted !== undefined &&
        unsafePrefixReason(prefix) === undefined &&
        exactly(wanted, prefix)
      ) {
        prefixes[family] = prefix;
      }
    }
    return { ...remembered, addresses, routes, prefixes, expiresAt: now.monotonic + left };
  }

  #answered(id: number, response: Response, sent: Instant, now: Instant): ClientAction[] {
    const exchange = this.#exchange;
    if (exchange?.id !== id) return [];
    this.#exchange = undefined;
    const verdict = checkResponse(response, {
      asked: this.#families,
      acceptDefaultRoute: this.#acceptDefaultRoute,
      prefixes: this.#wantedPrefixes,
    });
    if (verdict.kind === 'failed') {
      return this.#failure(`the server answered errno=${verdict.errno} (${verdict.errmsg})`);
    }
    if (verdict.kind === 'refused') {
      return [
        log('warn', "refused the server's answer; nothing was changed", {
          reason: verdict.reason,
        }),
        ...this.#failure(`refused the answer: ${verdict.reason}`),
      ];
    }

    const { grant, missing, missingPrefixes } = verdict;
    const actions: ClientAction[] = [];
    for (const family of missing) {
      // An address asked for by name and refused is not asked for again.
      if (exchange.request.ip[family].kind === 'specific') delete this.#remembered[family];
    }
    for (const family of missingPrefixes) {
      // Nor a prefix granted earlier (one the operator named is asked for until it comes).
      delete this.#rememberedPrefixes[family];
    }
    const askedPrefix = FAMILIES.some((family) => this.#wantedPrefixes[family] !== undefined);
    if (askedPrefix && !verdict.delegates && !this.#toldNoDelegation) {
      this.#toldNoDelegation = true;
      actions.push(
        log('info', 'the server does not delegate prefixes; using the addresses only', {
          asked: this.#describeWantedPrefixes(),
        }),
      );
    }
    for (const skipped of verdict.skippedRoutes) {
      actions.push(
        log('info', 'leaving out a pushed route', {
          route: skipped.route.toString(),
          reason: skipped.reason,
        }),
      );
    }
    const errmsg = verdict.errmsg === undefined ? '' : ` (${verdict.errmsg})`;
    const why = `not granted${errmsg}`;
    if (grant.addresses[4] === undefined && grant.addresses[6] === undefined) {
      if (this.#lease !== undefined) {
        actions.push(
          log('warn', 'the server withdrew the lease; removing its addresses and routes', {
            addresses: describeAddresses(this.#lease.addresses),
          }),
        );
        this.#lease = undefined;
        actions.push(this.#cancel('expire'), this.#apply(NOTHING));
      }
      actions.push(...this.#failure(`no address was granted${errmsg}`));
      return actions;
    }

    const clock = leaseClock(grant.leaseStart, grant.leaseTime, sent, now, this.#timing);
    const previous = this.#lease;
    const lease: HeldLease = {
      addresses: grant.addresses,
      routes: grant.routes,
      prefixes: grant.prefixes,
      leaseStart: grant.leaseStart,
      leaseTime: grant.leaseTime,
      expiresAt: clock.expiresAt,
      expiresAtWall: clock.expiresAtWall,
    };
    this.#lease = lease;
    this.#remembered = { ...this.#remembered, ...grant.addresses };
    this.#rememberedPrefixes = { ...this.#rememberedPrefixes, ...grant.prefixes };
    if (clock.skewMs !== undefined) {
      actions.push(
        log(
          'warn',
          "this host's clock disagrees with the server's; counting the lease from the request",
          {
            skewSeconds: Math.round(clock.skewMs / 1000),
            leaseStart: grant.leaseStart,
          },
        ),
      );
    }
    const remaining = Math.max(0, clock.expiresAt - now.monotonic);
    const renewIn = Math.max(
      0,
      remaining - renewBeforeEnd(grant.leaseTime * 1000, this.#random, this.#timing),
    );
    const renewed =
      previous !== undefined &&
      sameAddresses(previous.addresses, lease.addresses) &&
      samePrefixes(previous.prefixes, lease.prefixes);
    actions.push(
      log('info', renewed ? 'lease renewed' : 'lease granted', {
        addresses: describeAddresses(lease.addresses),
        routes: lease.routes.map(String),
        ...(askedPrefix || this.#advertisePrefix
          ? { prefixes: describePrefixes(lease.prefixes) }
          : {}),
        leaseTime: grant.leaseTime,
        renewInMs: Math.round(renewIn),
      }),
      this.#apply(desiredOf(lease)),
      this.#arm('expire', remaining),
    );
    this.#phase = 'bound';
    if (missing.length === 0 && missingPrefixes.length === 0) {
      this.#failures = 0;
      actions.push(this.#arm('request', renewIn));
      return actions;
    }
    this.#failures++;
    const retry = Math.min(renewIn, backoffDelay(this.#failures, this.#random, this.#timing));
    const notGranted = [
      ...missing.map((family) => `IPv${family}`),
      ...missingPrefixes.map((family) => `the IPv${family} prefix`),
    ];
    actions.push(
      log('warn', 'backing off', {
        reason: `${notGranted.join(' and ')} ${why}`,
        failures: this.#failures,
        delayMs: Math.round(retry),
      }),
      this.#arm('request', retry),
    );
    return actions;
  }

  #requestTimer(): ClientAction[] {
    if (this.#phase === 'paused' || this.#phase === 'stopping') return [];
    if (this.#exchange !== undefined) return [];
    return this.#send();
  }

  #expired(): ClientAction[] {
    const lease = this.#lease;
    if (lease === undefined) return [];
    this.#lease = undefined;
    const actions: ClientAction[] = [
      log('warn', 'the lease ran out without renewal; removing its addresses and routes', {
        addresses: describeAddresses(lease.addresses),
        routes: lease.routes.map(String),
        prefixes: describePrefixes(lease.prefixes),
      }),
      this.#apply(NOTHING),
    ];
    if (this.#phase === 'paused' || this.#phase === 'stopping') return actions;
    this.#phase = 'starting';
    if (this.#exchange === undefined && !this.#armed.has('request')) {
      actions.push(...this.#send());
    }
    return actions;
  }

  #linkDown(): ClientAction[] {
    if (this.#phase === 'paused' || this.#phase === 'stopping') return [];
    this.#phase = 'paused';
    return [
      log('info', 'the link went down; pausing until it comes back up', {}),
      ...this.#quiesce(),
    ];
  }

  #linkUp(): ClientAction[] {
    if (this.#phase !== 'paused') return [];
    this.#failures = 0;
    const actions: ClientAction[] = [log('info', 'the link came up; asking again', {})];
    // The kernel removed the IPv6 addresses and the routes with the link:
    // put the lease back at once, while the server confirms it.
    if (this.#lease !== undefined) actions.push(this.#apply(desiredOf(this.#lease)));
    actions.push(...this.#send());
    return actions;
  }

  #stop(reason: string): ClientAction[] {
    if (this.#phase === 'stopping') return [];
    const actions: ClientAction[] = [
      log('info', 'stopping: removing the addresses and routes this client added', { reason }),
      ...this.#quiesce(),
      this.#cancel('expire'),
    ];
    this.#phase = 'stopping';
    if (!this.#started) return [...actions, ...this.#exit(0, reason, false)];
    // Not released: a restarted client asks for the same addresses, and the
    // server still holds them for it until the lease ends.
    actions.push(this.#apply(NOTHING));
    return actions;
  }

  /** No exchange in flight and no request planned. */
  #quiesce(): ClientAction[] {
    const actions: ClientAction[] = [this.#cancel('request')];
    if (this.#exchange !== undefined) {
      actions.push({ type: 'abort', exchange: this.#exchange.id });
      this.#exchange = undefined;
    }
    return actions;
  }

  #exit(code: number, reason: string, interfaceGone: boolean): ClientAction[] {
    this.#phase = 'stopped';
    const actions: ClientAction[] = [];
    for (const timer of [...this.#armed.keys()]) actions.push(this.#cancel(timer));
    actions.push({ type: 'exit', code, reason, interfaceGone });
    return actions;
  }

  #failure(reason: string): ClientAction[] {
    this.#failures++;
    if (this.#phase === 'bound') this.#phase = 'renewing';
    if (this.#exchange !== undefined || this.#phase === 'paused') {
      // A request on its way, or the link's return, decides what comes next.
      return [log('warn', 'a step failed', { reason })];
    }
    const delay = backoffDelay(this.#failures, this.#random, this.#timing);
    return [
      log('warn', 'backing off', {
        reason,
        failures: this.#failures,
        delayMs: Math.round(delay),
      }),
      this.#arm('request', delay),
    ];
  }

  #send(): ClientAction[] {
    const request = this.#request();
    const id = ++this.#exchanges;
    this.#exchange = { id, request };
    this.#phase = this.#lease === undefined ? 'starting' : 'renewing';
    const asked: Record<string, string> = {};
    for (const family of FAMILIES) {
      const wanted = request.ip[family];
      if (wanted.kind === 'new') asked[`ipv${family}`] = 'new';
      else if (wanted.kind === 'specific') asked[`ipv${family}`] = wanted.address.toString();
      const prefix = request.prefix?.[family];
      if (prefix?.kind === 'new') asked[`prefix${family}`] = describeWanted(family, prefix);
      else if (prefix?.kind === 'specific') asked[`prefix${family}`] = prefix.prefix.toString();
    }
    return [
      this.#cancel('request'),
      log('info', this.#lease === undefined ? 'requesting a lease' : 'renewing the lease', asked),
      { type: 'send', exchange: id, request },
    ];
  }

  /** Every family this client uses, by the address it remembers, else a new one. */
  #request(): RequestFields {
    const ask = (family: IpFamily) => {
      if (!this.#families[family]) return RELEASE;
      const address = this.#remembered[family];
      return address === undefined ? NEW_ADDRESS : specificAddress(address);
    };
    const ip = { 4: ask(4), 6: ask(6) };
    // A v1 server never sees the prefix extension unless a prefix is asked
    // for (or released), and then only skips ext= and prefix=.
    if (!this.#advertisePrefix) return { ip, extensions: [Extension.Route] };
    const askPrefix = (family: IpFamily): PrefixRequest => {
      const wanted = this.#wantedPrefixes[family];
      if (wanted === undefined) return RELEASE_PREFIX;
      const held = this.#rememberedPrefixes[family];
      return held === undefined ? wanted : { kind: 'specific', prefix: held };
    };
    return {
      ip,
      prefix: { 4: askPrefix(4), 6: askPrefix(6) },
      extensions: [Extension.Route, Extension.Prefix],
    };
  }

  #describeWantedPrefixes(): string[] {
    const out: string[] = [];
    for (const family of FAMILIES) {
      const wanted = this.#wantedPrefixes[family];
      if (wanted !== undefined) out.push(describeWanted(family, wanted));
    }
    return out;
  }

  #apply(desired: DesiredConfig): ClientAction {
    const lease = this.#lease;
    const memory: Memory = {
      lease:
        lease === undefined
          ? undefined
          : {
              addresses: lease.addresses,
              routes: lease.routes,
              prefixes: lease.prefixes,
              leaseStart: lease.leaseStart,
              leaseTime: lease.leaseTime,
              expiresAtWall: lease.expiresAtWall,
            },
      addresses: { ...this.#remembered },
      prefixes: { ...this.#rememberedPrefixes },
    };
    return { type: 'apply', desired, memory };
  }

  #arm(timer: TimerName, delayMs: number): ClientAction {
    const token = ++this.#tokens;
    this.#armed.set(timer, token);
    return { type: 'arm', timer, token, delayMs: Math.max(0, delayMs) };
  }

  #cancel(timer: TimerName): ClientAction {
    this.#armed.delete(timer);
    return { type: 'cancel', timer };
  }
}

function log(
  level: LogLevel,
  message: string,
  fields: Readonly<Record<string, unknown>>,
): ClientAction {
  return { type: 'log', level, message, fields };
}

/** Whether a remembered prefix is what `wanted` asks for, as today's command line says it. */
function exactly(wanted: WantedPrefix, prefix: IpPrefix): boolean {
  return wanted.kind === 'specific'
    ? wanted.prefix.equals(prefix)
    : prefix.length === wantedLength(wanted);
}
