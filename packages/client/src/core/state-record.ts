import { IpAddress, type IpFamily, IpPrefix } from '@wg-dynamic/ip';
import type { PerFamily } from '@wg-dynamic/protocol';
import type { AddedRecord } from './apply-plan.js';
import type { Memory } from './client-machine.js';
import type { DownstreamAddress } from './downstream-plan.js';
import type { RememberedLease } from './lease.js';
import type { Prefixes } from './prefix-delegation.js';

/**
 * The state file's format version; a file of another version is not read.
 * Keys added since (the prefixes) are optional and left out when empty, so
 * that a file stays readable both ways between versions of the client.
 */
export const STATE_VERSION = 1;

/** A state file larger than this is not read (a real one is well under 2 KiB, with 256 routes under 20). */
export const MAX_STATE_BYTES = 64 * 1024;

/** Everything the client keeps on disk for one interface. */
export interface ClientState {
  readonly memory: Memory;
  /** What this client added to the interface and has not removed yet. */
  readonly added: AddedRecord;
  /** Whether this client added the route to fe80::/128 through the interface. */
  readonly addedLinkLocalRoute: boolean;
  /** Addresses of delegated prefixes this client added to downstream interfaces. */
  readonly addedDownstream: readonly DownstreamAddress[];
  /** The prefixes the prefix hook was last told this host holds (by `grant` or `change`). */
  readonly announcedPrefixes: Prefixes;
}

export const EMPTY_STATE: ClientState = Object.freeze({
  memory: { lease: undefined, addresses: {}, prefixes: {} },
  added: { addresses: [], routes: [] },
  addedLinkLocalRoute: false,
  addedDownstream: [],
  announcedPrefixes: {},
});

/** A state file that cannot be used; the message says what is wrong with it. */
export class StateFileError extends Error {
  override readonly name = 'StateFileError';
  readonly code = 'INVALID_STATE_FILE';
}

/*
 * The file (JSON, one object):
 * {
 *   "version": 1,
 *   "interface": "wg0",
 *   "lease": {                       // null when none is running
 *     "ipv4": "10.0.0.2",            // absent for a family not leased
 *     "ipv6": "fd00::2",
 *     "routes": ["10.0.0.0/8"],
 *     "prefixes": { "ipv6": "2001:db8:100:5::/64" },   // delegated; absent when none
 *     "leaseStart": 1700000000,      // the server's, seconds
 *     "leaseTime": 3600,
 *     "expiresAt": "2023-11-14T23:13:20.000Z"   // by this host's count
 *   },
 *   "ask": {                         // what the next request asks for
 *     "ipv4": "10.0.0.2", "ipv6": "fd00::2",
 *     "prefixes": { "ipv6": "2001:db8:100:5::/64" }      // absent when none
 *   },
 *   "added": {                       // what this client added and has not removed
 *     "addresses": ["10.0.0.2/32", "fd00::2/128"],
 *     "routes": ["10.0.0.0/8"],
 *     "linkLocalRoute": false,       // the route to fe80::/128 through the interface
 *     "downstream": [                // --prefix-interface; absent when none
 *       { "interface": "lan0", "address": "2001:db8:100:5::1/64" }
 *     ],
 *     "hookPrefixes": { "ipv6": "2001:db8:100:5::/64" }  // what --prefix-hook was told; absent when none
 *   }
 * }
 */

export function encodeState(interfaceName: string, state: ClientState): string {
  const lease = state.memory.lease;
  const document = {
    version: STATE_VERSION,
    interface: interfaceName,
    lease:
      lease === undefined
        ? null
        : {
            ...perFamily(lease.addresses),
            routes: lease.routes.map(String),
            ...optionalPrefixes('prefixes', lease.prefixes),
            leaseStart: lease.leaseStart,
            leaseTime: lease.leaseTime,
            expiresAt: new Date(lease.expiresAtWall).toISOString(),
          },
    ask: {
      ...perFamily(state.memory.addresses),
      ...optionalPrefixes('prefixes', state.memory.prefixes ?? {}),
    },
    added: {
      addresses: state.added.addresses.map(String),
      routes: state.added.routes.map(String),
      linkLocalRoute: state.addedLinkLocalRoute,
      ...(state.addedDownstream.length === 0
        ? {}
        : {
            downstream: state.addedDownstream.map((entry) => ({
              interface: entry.interfaceName,
              address: entry.prefix.toString(),
            })),
          }),
      ...optionalPrefixes('hookPrefixes', state.announcedPrefixes),
    },
  };
  return `${JSON.stringify(document, null, 2)}\n`;
}

/** Reads a state file's text; throws StateFileError naming what is wrong. */
export function decodeState(text: string, interfaceName: string): ClientState {
  if (text.length > MAX_STATE_BYTES) {
    throw new StateFileError(`it is larger than ${MAX_STATE_BYTES} bytes`);
  }
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    throw new StateFileError(`it is not JSON (${(error as Error).message})`);
  }
  const root = object(document, 'the file');
  if (root.version !== STATE_VERSION) {
    throw new StateFileError(`its version is ${String(root.version)}, not ${STATE_VERSION}`);
  }
  if (root.interface !== interfaceName) {
    throw new StateFileError(`it belongs to interface ${String(root.interface)}`);
  }
  let lease: RememberedLease | undefined;
  if (root.lease !== null && root.lease !== undefined) {
    const entry = object(root.lease, 'lease');
    const expiresAt = Date.parse(string(entry.expiresAt, 'lease.expiresAt'));
    if (Number.isNaN(expiresAt)) throw new StateFileError('lease.expiresAt is not a date');
    lease = {
      addresses: addresses(entry, 'lease'),
      routes: list(entry.routes, 'lease.routes').map((item, i) =>
        prefix(item, `lease.routes[${i}]`),
      ),
      prefixes: prefixes(entry.prefixes, 'lease.prefixes'),
      leaseStart: count(entry.leaseStart, 'lease.leaseStart'),
      leaseTime: count(entry.leaseTime, 'lease.leaseTime'),
      expiresAtWall: expiresAt,
    };
  }
  const added = object(root.added, 'added');
  const ask = object(root.ask, 'ask');
  return {
    memory: {
      lease,
      addresses: addresses(ask, 'ask'),
      prefixes: prefixes(ask.prefixes, 'ask.prefixes'),
    },
    added: {
      addresses: list(added.addresses, 'added.addresses').map((item, i) => {
        const host = prefix(item, `added.addresses[${i}]`);
        if (!host.isHost()) throw new StateFileError(`added.addresses[${i}] is not a /32 or /128`);
        return host;
      }),
      routes: list(added.routes, 'added.routes').map((item, i) =>
        prefix(item, `added.routes[${i}]`),
      ),
    },
    addedLinkLocalRoute: added.linkLocalRoute === true,
    addedDownstream:
      added.downstream === undefined
        ? []
        : list(added.downstream, 'added.downstream').map((item, i) => {
            const where = `added.downstream[${i}]`;
            const entry = object(item, where);
            const name = string(entry.interface, `${where}.interface`);
            if (!/^[^/\s:]{1,15}$/.test(name)) {
              throw new StateFileError(`${where}.interface is not an interface name`);
            }
            return { interfaceName: name, prefix: prefix(entry.address, `${where}.address`) };
          }),
    announcedPrefixes: prefixes(added.hookPrefixes, 'added.hookPrefixes'),
  };
}

function optionalPrefixes(key: string, value: Prefixes): Record<string, Record<string, string>> {
  const out: Record<string, string> = {};
  if (value[4]) out.ipv4 = value[4].toString();
  if (value[6]) out.ipv6 = value[6].toString();
  return Object.keys(out).length === 0 ? {} : { [key]: out };
}

/** An optional `{ "ipv4": "P/L", "ipv6": "P/L" }` of network prefixes. */
function prefixes(value: unknown, where: string): Prefixes {
  if (value === undefined) return {};
  const entry = object(value, where);
  const out: { 4?: IpPrefix; 6?: IpPrefix } = {};
  for (const family of [4, 6] as const satisfies readonly IpFamily[]) {
    const text = entry[`ipv${family}`];
    if (text === undefined) continue;
    const parsed = prefix(text, `${where}.ipv${family}`);
    if (parsed.family !== family || !parsed.isNetwork() || parsed.length === 0) {
      throw new StateFileError(`${where}.ipv${family} is not an IPv${family} network prefix`);
    }
    out[family] = parsed;
  }
  return out;
}

function perFamily(addresses: Partial<PerFamily<IpAddress>>): Record<string, string> {
  const out: Record<string, string> = {};
  if (addresses[4]) out.ipv4 = addresses[4].toString();
  if (addresses[6]) out.ipv6 = addresses[6].toString();
  return out;
}

function addresses(entry: Record<string, unknown>, where: string): Partial<PerFamily<IpAddress>> {
  const out: { 4?: IpAddress; 6?: IpAddress } = {};
  for (const family of [4, 6] as const satisfies readonly IpFamily[]) {
    const value = entry[`ipv${family}`];
    if (value === undefined) continue;
    const address = IpAddress.parseFamily(family, string(value, `${where}.ipv${family}`));
    if (address === undefined) {
      throw new StateFileError(`${where}.ipv${family} is not an IPv${family} address`);
    }
    out[family] = address;
  }
  return out;
}

function object(value: unknown, where: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new StateFileError(`${where} is not an object`);
  }
  return value as Record<string, unknown>;
}

function list(value: unknown, where: string): unknown[] {
  if (!Array.isArray(value)) throw new StateFileError(`${where} is not a list`);
  if (value.length > 1024) throw new StateFileError(`${where} has more than 1024 entries`);
  return value;
}

function string(value: unknown, where: string): string {
  if (typeof value !== 'string') throw new StateFileError(`${where} is not a string`);
  return value;
}

function count(value: unknown, where: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 0xffff_ffff) {
    throw new StateFileError(`${where} is not a number of seconds`);
  }
  return value;
}

function prefix(value: unknown, where: string): IpPrefix {
  const parsed = IpPrefix.parse(string(value, where));
  if (parsed === undefined) throw new StateFileError(`${where} is not an address/length`);
  return parsed;
}
