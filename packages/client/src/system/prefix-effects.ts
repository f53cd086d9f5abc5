import type { IpPrefix } from '@wg-dynamic/ip';
import type { Logger } from '@wg-dynamic/log';
import { type Rtnetlink, RtnetlinkError } from '@wg-dynamic/rtnetlink';
import {
  type DownstreamAddress,
  type DownstreamStep,
  downstreamIntent,
  downstreamRecordAfter,
  planDownstream,
} from '../core/downstream-plan.js';
import {
  downstreamAddress,
  hookEnvironment,
  type PrefixEvent,
  type Prefixes,
  prefixEvents,
} from '../core/prefix-delegation.js';
import { DEFAULT_HOOK_TIMEOUT_MS, type HookRunner } from './shell-hook.js';
import type { StateStore } from './state-store.js';

export interface PrefixEffectsOptions {
  /** The WireGuard interface, for the hook's environment and the logs. */
  readonly interfaceName: string;
  /** `--prefix-interface`: where the prefix's first address goes. */
  readonly prefixInterface?: string | undefined;
  /** `--prefix-hook`: run through /bin/sh -c on grant, change and loss. */
  readonly prefixHook?: string | undefined;
  readonly hookTimeoutMs?: number;
  readonly rtnetlink: Rtnetlink;
  readonly store: StateStore;
  readonly runHook: HookRunner;
  readonly logger: Logger;
}

/**
 * What the client does with delegated prefixes, as the operator chose: an
 * address on a downstream interface, and a command told of each change.
 * Both only ever undo what they did, as the state file records it, and
 * neither failure touches the lease: they are logged.
 */
export class PrefixEffects {
  readonly #options: PrefixEffectsOptions;

  constructor(options: PrefixEffectsOptions) {
    this.#options = options;
  }

  /** Makes downstream interfaces and the hook agree with `prefixes`, the prefixes held now. */
  async apply(prefixes: Prefixes): Promise<void> {
    await this.#downstream(prefixes);
    await this.#hooks(prefixes);
  }

  async #downstream(prefixes: Prefixes): Promise<void> {
    const { prefixInterface, store, logger } = this.#options;
    const wanted: DownstreamAddress[] = [];
    if (prefixInterface !== undefined) {
      for (const family of [4, 6] as const) {
        const prefix = prefixes[family];
        if (prefix)
          wanted.push({ interfaceName: prefixInterface, prefix: downstreamAddress(prefix) });
      }
    }
    const recorded = store.state.addedDownstream;
    if (wanted.length === 0 && recorded.length === 0) return;
    const names = new Set([...wanted, ...recorded].map((entry) => entry.interfaceName));
    let present: Map<string, readonly IpPrefix[]>;
    const indices = new Map<string, number>();
    try {
      present = await this.#addresses(names, indices);
    } catch (error) {
      logger.error(
        { interface: this.#options.interfaceName, err: error },
        'cannot read the addresses of the prefix interface; leaving it as it is',
      );
      return;
    }
    const plan = planDownstream(present, recorded, wanted);
    for (const entry of plan.foreign) {
      logger.warn(
        { prefixInterface: entry.interfaceName, address: entry.prefix.toString() },
        'already on the prefix interface and not added by this client: leaving it alone',
      );
    }
    for (const entry of plan.missing) {
      logger.error(
        { prefixInterface: entry.interfaceName, address: entry.prefix.toString() },
        `the prefix interface ${entry.interfaceName} does not exist: the delegated prefix gets no address there (create it; the client tries again at the next renewal)`,
      );
    }
    let record = plan.record;
    if (plan.steps.some((step) => step.kind === 'add-downstream')) {
      await store.save({ ...store.state, addedDownstream: downstreamIntent(plan) });
    }
    try {
      for (const step of plan.steps) {
        const index = indices.get(step.entry.interfaceName);
        if (index === undefined) continue;
        if (await this.#step(step, index)) record = downstreamRecordAfter(record, step);
      }
    } catch (error) {
      logger.error(
        { prefixInterface: prefixInterface, err: error },
        'changing the address of the prefix interface failed',
      );
    } finally {
      await store.save({ ...store.state, addedDownstream: record });
    }
  }

  /** The addresses of each interface that exists, by name; `indices` learns their indices. */
  async #addresses(
    names: ReadonlySet<string>,
    indices: Map<string, number>,
  ): Promise<Map<string, readonly IpPrefix[]>> {
    const { rtnetlink } = this.#options;
    const present = new Map<string, readonly IpPrefix[]>();
    for (const name of names) {
      try {
        const link = await rtnetlink.getLink(name);
        const addresses = await rtnetlink.listAddresses({ index: link.index });
        indices.set(name, link.index);
        present.set(
          name,
          addresses.map((a) => a.prefix),
        );
      } catch (error) {
        if (error instanceof RtnetlinkError && error.code === 'ENODEV') continue;
        throw error;
      }
    }
    return present;
  }

  /** One change; true when it is done (or was already), false when it turned out not to be ours. */
  async #step(step: DownstreamStep, index: number): Promise<boolean> {
    const { rtnetlink, logger } = this.#options;
    const fields = {
      prefixInterface: step.entry.interfaceName,
      address: step.entry.prefix.toString(),
    };
    try {
      if (step.kind === 'add-downstream') {
        logger.info(fields, "adding the delegated prefix's address to the prefix interface");
        await rtnetlink.addAddress({ index, prefix: step.entry.prefix });
      } else {
        logger.info(fields, "removing the delegated prefix's address from the prefix interface");
        await rtnetlink.deleteAddress({ index, prefix: step.entry.prefix });
      }
      return true;
    } catch (error) {
      if (!(error instanceof RtnetlinkError)) throw error;
      if (step.kind === 'add-downstream' && error.code === 'EEXIST') {
        logger.warn(fields, "it exists already and is not this client's: leaving it alone");
        return false;
      }
      if (step.kind === 'delete-downstream' && ['EADDRNOTAVAIL', 'ENODEV'].includes(error.code)) {
        return true;
      }
      throw error;
    }
  }

  async #hooks(prefixes: Prefixes): Promise<void> {
    const { prefixHook, store } = this.#options;
    if (prefixHook === undefined) {
      // Nobody to tell: nothing told is left to undo.
      if (Object.keys(store.state.announcedPrefixes).length > 0) {
        await store.save({ ...store.state, announcedPrefixes: {} });
      }
      return;
    }
    for (const event of prefixEvents(store.state.announcedPrefixes, prefixes)) {
      // Recorded first: a client killed while the hook runs still tells it of the loss later.
      const announced: { 4?: IpPrefix; 6?: IpPrefix } = { ...store.state.announcedPrefixes };
      if (event.event === 'loss') delete announced[event.family];
      else announced[event.family] = event.prefix;
      await store.save({ ...store.state, announcedPrefixes: announced });
      await this.#run(prefixHook, event);
    }
  }

  async #run(command: string, event: PrefixEvent): Promise<void> {
    const { interfaceName, prefixInterface, logger, runHook } = this.#options;
    const environment = hookEnvironment(event, { interfaceName, prefixInterface });
    const fields: Record<string, unknown> = {
      interface: interfaceName,
      event: event.event,
      family: event.family,
      ...(environment.WG_DYNAMIC_PREFIX === undefined
        ? {}
        : { prefix: environment.WG_DYNAMIC_PREFIX }),
      ...(environment.WG_DYNAMIC_OLD_PREFIX === undefined
        ? {}
        : { oldPrefix: environment.WG_DYNAMIC_OLD_PREFIX }),
    };
    logger.info({ ...fields, command }, 'running the prefix hook');
    const timeoutMs = this.#options.hookTimeoutMs ?? DEFAULT_HOOK_TIMEOUT_MS;
    const outcome = await runHook(command, { environment, timeoutMs });
    const result = {
      ...fields,
      status: outcome.status,
      ...(outcome.signal === null ? {} : { signal: outcome.signal }),
      output: outcome.output,
      ...(outcome.truncated ? { outputTruncated: true } : {}),
    };
    if (outcome.error !== undefined) {
      logger.error({ ...result, error: outcome.error }, 'the prefix hook could not be started');
    } else if (outcome.timedOut) {
      logger.error(
        result,
        `the prefix hook ran longer than ${Math.round(timeoutMs / 1000)} seconds and was stopped`,
      );
    } else if (outcome.status !== 0) {
      logger.warn(result, 'the prefix hook failed; the lease is kept');
    } else {
      logger.info(result, 'the prefix hook succeeded');
    }
  }
}
