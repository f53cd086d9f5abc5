import { type IpAddress, IpPrefix } from '@wg-dynamic/ip';
import type { DesiredConfig } from './lease.js';

/** What the interface carries now, as rtnetlink lists it. */
export interface InterfaceSnapshot {
  /** Every address of the interface, with its prefix length. */
  readonly addresses: readonly IpPrefix[];
  /** The routes through the interface in the main table, with who made them (rtm_protocol). */
  readonly routes: ReadonlyArray<{ readonly destination: IpPrefix; readonly protocol: number }>;
}

/**
 * What this client added to the interface and has not removed yet: the only
 * addresses and routes it ever removes. Kept on disk, so that a client
 * restarted after SIGKILL still knows.
 */
export interface AddedRecord {
  /** Host prefixes: a /32 or a /128 each. */
  readonly addresses: readonly IpPrefix[];
  readonly routes: readonly IpPrefix[];
}

export const EMPTY_RECORD: AddedRecord = Object.freeze({ addresses: [], routes: [] });

export type ApplyStep =
  | { readonly kind: 'add-address'; readonly prefix: IpPrefix }
  | { readonly kind: 'add-route'; readonly destination: IpPrefix }
  | { readonly kind: 'delete-route'; readonly destination: IpPrefix }
  | { readonly kind: 'delete-address'; readonly prefix: IpPrefix };

export interface ApplyPlan {
  /** In a safe order: new addresses, new routes, old routes, old addresses. */
  readonly steps: readonly ApplyStep[];
  /**
   * The record to start from: what was recorded, less what is gone and no
   * longer wanted, plus wanted routes that carry this client's mark (left by
   * a run whose record was lost). Each step then updates it (`recordAfter`).
   */
  readonly record: AddedRecord;
  /** Wanted but already there and not this client's (an operator's): left alone and never recorded. */
  readonly foreign: readonly IpPrefix[];
}

/**
 * The rtnetlink operations that make the interface carry `desired`, touching
 * only what this client added itself. The new address of a family goes on
 * before the old one comes off, so the host is never without one.
 */
export function planApply(
  snapshot: InterfaceSnapshot,
  record: AddedRecord,
  desired: Pick<DesiredConfig, 'addresses' | 'routes'>,
  routeProtocol: number,
): ApplyPlan {
  const steps: ApplyStep[] = [];
  const foreign: IpPrefix[] = [];
  const kept: { addresses: IpPrefix[]; routes: IpPrefix[] } = { addresses: [], routes: [] };

  const wantedAddresses = uniqueAddresses(desired.addresses).map((a) => IpPrefix.host(a));
  const wantedRoutes = unique(desired.routes.map((route) => route.network()));
  const recorded = (list: readonly IpPrefix[], prefix: IpPrefix) =>
    list.some((entry) => entry.equals(prefix));

  for (const prefix of wantedAddresses) {
    const present = snapshot.addresses.find((a) => a.address.equals(prefix.address));
    const ours = recorded(record.addresses, prefix);
    if (present === undefined) {
      steps.push({ kind: 'add-address', prefix });
      if (ours) kept.addresses.push(prefix);
    } else if (ours && present.length === prefix.length) {
      kept.addresses.push(prefix);
    } else {
      foreign.push(present);
    }
  }
  for (const destination of wantedRoutes) {
    const present = snapshot.routes.find((r) => r.destination.equals(destination));
    const ours = recorded(record.routes, destination);
    if (present === undefined) {
      steps.push({ kind: 'add-route', destination });
      if (ours) kept.routes.push(destination);
    } else if (present.protocol === routeProtocol) {
      kept.routes.push(destination);
    } else {
      foreign.push(destination);
    }
  }
  for (const destination of record.routes) {
    if (recorded(wantedRoutes, destination)) continue;
    const present = snapshot.routes.find((r) => r.destination.equals(destination));
    // Replaced by someone else since: no longer ours to remove.
    if (present === undefined || present.protocol !== routeProtocol) continue;
    kept.routes.push(destination);
    steps.push({ kind: 'delete-route', destination });
  }
  for (const prefix of record.addresses) {
    if (recorded(wantedAddresses, prefix)) continue;
    if (!snapshot.addresses.some((a) => a.equals(prefix))) continue;
    kept.addresses.push(prefix);
    steps.push({ kind: 'delete-address', prefix });
  }
  return { steps, record: kept, foreign };
}

/** The record once `step` succeeded (or found its work already done). */
export function recordAfter(record: AddedRecord, step: ApplyStep): AddedRecord {
  switch (step.kind) {
    case 'add-address':
      return { ...record, addresses: unique([...record.addresses, step.prefix]) };
    case 'delete-address':
      return { ...record, addresses: record.addresses.filter((a) => !a.equals(step.prefix)) };
    case 'add-route':
      return { ...record, routes: unique([...record.routes, step.destination]) };
    case 'delete-route':
      return { ...record, routes: record.routes.filter((r) => !r.equals(step.destination)) };
  }
}

/** The record as it will be if every step succeeds; written to disk before the first step. */
export function recordIntent(plan: ApplyPlan): AddedRecord {
  let record = plan.record;
  for (const step of plan.steps) {
    if (step.kind === 'add-address' || step.kind === 'add-route')
      record = recordAfter(record, step);
  }
  return record;
}

function unique(prefixes: readonly IpPrefix[]): IpPrefix[] {
  const out: IpPrefix[] = [];
  for (const prefix of prefixes) if (!out.some((p) => p.equals(prefix))) out.push(prefix);
  return out;
}

function uniqueAddresses(addresses: readonly IpAddress[]): IpAddress[] {
  const out: IpAddress[] = [];
  for (const address of addresses) if (!out.some((a) => a.equals(address))) out.push(address);
  return out;
}
