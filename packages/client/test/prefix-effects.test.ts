import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type HookOutcome,
  type HookRunOptions,
  type Logger,
  PrefixEffects,
  type Prefixes,
  StateStore,
} from '@wg-dynamic/client';
import { IpPrefix } from '@wg-dynamic/ip';
import { type AddressSpec, type Rtnetlink, RtnetlinkError } from '@wg-dynamic/rtnetlink';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const p = (text: string) => IpPrefix.from(text);
const A = p('2001:db8:100:5::/64');
const B = p('2001:db8:100:6::/64');
const V4 = p('10.200.0.16/28');

/** Interfaces by name with their addresses, changed only through the calls the client makes. */
class FakeLinks {
  readonly interfaces = new Map<string, { index: number; addresses: IpPrefix[] }>();
  readonly calls: string[] = [];

  add(name: string, index: number, addresses: string[] = []): void {
    this.interfaces.set(name, { index, addresses: addresses.map(p) });
  }

  addresses(name: string): string[] {
    return (this.interfaces.get(name)?.addresses ?? []).map(String);
  }

  #byIndex(index: number) {
    for (const entry of this.interfaces.values()) if (entry.index === index) return entry;
    throw new RtnetlinkError('ENODEV', 'add-address', `no interface ${index}`);
  }

  readonly rtnetlink = {
    getLink: async (name: number | string) => {
      const entry = this.interfaces.get(String(name));
      if (entry === undefined) throw new RtnetlinkError('ENODEV', 'get-link', `no ${name}`);
      return { index: entry.index, name: String(name) };
    },
    listAddresses: async (filter?: { index?: number }) =>
      this.#byIndex(filter?.index ?? -1).addresses.map((prefix) => ({
        index: filter?.index ?? 0,
        prefix,
        scope: 'universe',
        flags: [],
        label: undefined,
      })),
    addAddress: async (spec: AddressSpec) => {
      this.calls.push(`add ${spec.index} ${spec.prefix}`);
      const entry = this.#byIndex(spec.index);
      if (entry.addresses.some((a) => a.address.equals(spec.prefix.address))) {
        throw new RtnetlinkError('EEXIST', 'add-address', 'exists');
      }
      entry.addresses.push(spec.prefix);
    },
    deleteAddress: async (spec: AddressSpec) => {
      this.calls.push(`delete ${spec.index} ${spec.prefix}`);
      const entry = this.#byIndex(spec.index);
      const before = entry.addresses.length;
      entry.addresses = entry.addresses.filter((a) => !a.equals(spec.prefix));
      if (entry.addresses.length === before) {
        throw new RtnetlinkError('EADDRNOTAVAIL', 'delete-address', 'no such address');
      }
    },
  } as unknown as Rtnetlink;
}

interface Run {
  readonly command: string;
  readonly environment: HookRunOptions['environment'];
}

function recordingLogger() {
  const lines: Array<{ level: string; message: string; fields: Record<string, unknown> }> = [];
  const at =
    (level: string) =>
    (fields: object, message = '') =>
      lines.push({ level, message, fields: fields as Record<string, unknown> });
  const logger: Logger = {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
  };
  return { logger, lines };
}

describe('PrefixEffects', () => {
  let directory: string;
  let store: StateStore;
  let links: FakeLinks;
  let runs: Run[];
  let outcome: HookOutcome;
  let log: ReturnType<typeof recordingLogger>;

  beforeEach(async () => {
    directory = await mkdtemp(join(tmpdir(), 'wg-dynamic-prefix-'));
    store = new StateStore(join(directory, 'wg0', 'client.json'), 'wg0');
    links = new FakeLinks();
    links.add('lan0', 5, ['192.168.1.1/24']);
    runs = [];
    outcome = { status: 0, signal: null, timedOut: false, output: '', truncated: false };
    log = recordingLogger();
  });
  afterEach(async () => {
    await rm(directory, { recursive: true, force: true });
  });

  const effects = (options: { prefixInterface?: string; prefixHook?: string } = {}) =>
    new PrefixEffects({
      interfaceName: 'wg0',
      prefixInterface: options.prefixInterface,
      prefixHook: options.prefixHook,
      rtnetlink: links.rtnetlink,
      store,
      runHook: async (command, run) => {
        runs.push({ command, environment: run.environment });
        return outcome;
      },
      logger: log.logger,
    });
  const events = () =>
    runs.map((r) =>
      [
        r.environment.WG_DYNAMIC_EVENT,
        r.environment.WG_DYNAMIC_OLD_PREFIX,
        r.environment.WG_DYNAMIC_PREFIX,
      ]
        .filter(Boolean)
        .join(' '),
    );

  it('grant: the first address goes on the prefix interface, then the hook is told; both are recorded', async () => {
    const e = effects({ prefixInterface: 'lan0', prefixHook: 'hook' });
    await e.apply({ 4: V4, 6: A });
    expect(links.addresses('lan0')).toEqual([
      '192.168.1.1/24',
      '10.200.0.17/28',
      '2001:db8:100:5::1/64',
    ]);
    expect(events()).toEqual(['grant 10.200.0.16/28', 'grant 2001:db8:100:5::/64']);
    expect(runs[1]?.environment).toMatchObject({
      WG_DYNAMIC_INTERFACE: 'wg0',
      WG_DYNAMIC_FAMILY: '6',
      WG_DYNAMIC_PREFIX_INTERFACE: 'lan0',
      WG_DYNAMIC_PREFIX_ADDRESS: '2001:db8:100:5::1/64',
    });
    // On disk, for a restarted client.
    const reloaded = new StateStore(store.path, 'wg0');
    const { state } = await reloaded.load();
    expect(state.addedDownstream.map((d) => `${d.interfaceName} ${d.prefix}`)).toEqual([
      'lan0 10.200.0.17/28',
      'lan0 2001:db8:100:5::1/64',
    ]);
    expect(state.announcedPrefixes).toEqual({ 4: V4, 6: A });
    // The same again changes nothing and tells nobody.
    const calls = links.calls.length;
    await e.apply({ 4: V4, 6: A });
    expect(links.calls).toHaveLength(calls);
    expect(runs).toHaveLength(2);
  });

  it('change: the new address goes on before the old one comes off; the hook gets both prefixes', async () => {
    const e = effects({ prefixInterface: 'lan0', prefixHook: 'hook' });
    await e.apply({ 6: A });
    links.calls.length = 0;
    await e.apply({ 6: B });
    expect(links.calls).toEqual(['add 5 2001:db8:100:6::1/64', 'delete 5 2001:db8:100:5::1/64']);
    expect(events()).toEqual([
      'grant 2001:db8:100:5::/64',
      'change 2001:db8:100:5::/64 2001:db8:100:6::/64',
    ]);
  });

  it("loss: the address it added comes off and the hook is told; the operator's address stays", async () => {
    const e = effects({ prefixInterface: 'lan0', prefixHook: 'hook' });
    await e.apply({ 6: A });
    await e.apply({});
    expect(links.addresses('lan0')).toEqual(['192.168.1.1/24']);
    expect(events()).toEqual(['grant 2001:db8:100:5::/64', 'loss 2001:db8:100:5::/64']);
    expect(runs[1]?.environment.WG_DYNAMIC_PREFIX).toBeUndefined();
    expect(store.state.addedDownstream).toEqual([]);
    expect(store.state.announcedPrefixes).toEqual({});
  });

  it('never removes an address it did not add, even when it is the one the prefix would get', async () => {
    links.add('lan0', 5, ['2001:db8:100:5::1/64']);
    const e = effects({ prefixInterface: 'lan0' });
    await e.apply({ 6: A });
    expect(links.calls).toEqual([]);
    expect(
      log.lines.some((l) => l.level === 'warn' && /not added by this client/.test(l.message)),
    ).toBe(true);
    await e.apply({});
    expect(links.addresses('lan0')).toEqual(['2001:db8:100:5::1/64']);
    expect(links.calls).toEqual([]);
  });

  it('an address someone else added meanwhile (EEXIST) is not recorded, so never removed', async () => {
    const e = effects({ prefixInterface: 'lan0' });
    // Between the look and the add, another program adds it.
    const original = links.rtnetlink.addAddress;
    (links.rtnetlink as { addAddress: Rtnetlink['addAddress'] }).addAddress = async (spec) => {
      (links.interfaces.get('lan0') as { addresses: IpPrefix[] }).addresses.push(spec.prefix);
      return original(spec);
    };
    await e.apply({ 6: A });
    expect(store.state.addedDownstream).toEqual([]);
    await e.apply({});
    expect(links.addresses('lan0')).toContain('2001:db8:100:5::1/64');
  });

  it('a restarted client removes what an earlier run added, also without --prefix-interface now', async () => {
    await effects({ prefixInterface: 'lan0' }).apply({ 6: A });
    const restarted = new StateStore(store.path, 'wg0');
    await restarted.load();
    store = restarted;
    await effects().apply({});
    expect(links.addresses('lan0')).toEqual(['192.168.1.1/24']);
    expect(store.state.addedDownstream).toEqual([]);
  });

  it('a prefix interface that is gone: logged, the record forgets its addresses, nothing fails', async () => {
    const e = effects({ prefixInterface: 'lan0', prefixHook: 'hook' });
    await e.apply({ 6: A });
    links.interfaces.delete('lan0');
    await e.apply({ 6: B });
    expect(log.lines.some((l) => l.level === 'error' && /does not exist/.test(l.message))).toBe(
      true,
    );
    expect(store.state.addedDownstream).toEqual([]);
    // The hook is still told.
    expect(events().at(-1)).toBe('change 2001:db8:100:5::/64 2001:db8:100:6::/64');
  });

  it('a failing hook is logged with its output, and the next event still runs', async () => {
    outcome = {
      status: 1,
      signal: null,
      timedOut: false,
      output: 'radvd: no such file\n',
      truncated: false,
    };
    const e = effects({ prefixHook: 'hook' });
    await e.apply({ 6: A });
    const failed = log.lines.find((l) => /prefix hook failed/.test(l.message));
    expect(failed?.level).toBe('warn');
    expect(failed?.fields).toMatchObject({
      status: 1,
      output: 'radvd: no such file\n',
      event: 'grant',
    });
    outcome = { status: null, signal: 'SIGTERM', timedOut: true, output: '', truncated: false };
    await e.apply({});
    expect(events()).toEqual(['grant 2001:db8:100:5::/64', 'loss 2001:db8:100:5::/64']);
    expect(
      log.lines.some((l) => l.level === 'error' && /ran longer than 30 seconds/.test(l.message)),
    ).toBe(true);
  });

  it('the hook is told of a loss only for a prefix it was told of, even across a restart', async () => {
    // A run without the hook held a prefix; a later run with the hook starts without it.
    await effects().apply({ 6: A });
    const e = effects({ prefixHook: 'hook' });
    await e.apply({});
    expect(runs).toEqual([]);
    // Told of a grant, then restarted: the loss still comes.
    await e.apply({ 6: B });
    const restarted = new StateStore(store.path, 'wg0');
    await restarted.load();
    store = restarted;
    await effects({ prefixHook: 'hook' }).apply({});
    expect(events()).toEqual(['grant 2001:db8:100:6::/64', 'loss 2001:db8:100:6::/64']);
  });

  it('nothing configured, nothing recorded: no netlink call, no hook', async () => {
    const none: Prefixes = {};
    await effects().apply({ 6: A });
    await effects().apply(none);
    expect(links.calls).toEqual([]);
    expect(runs).toEqual([]);
  });
});
