import type { IpPrefix } from '@wg-dynamic/ip';

/** An address on a downstream interface (`--prefix-interface`), with the delegated prefix's length. */
export interface DownstreamAddress {
  readonly interfaceName: string;
  /** The address with its prefix length: 2001:db8:100:5::1/64, 10.200.0.17/28. */
  readonly prefix: IpPrefix;
}

export type DownstreamStep =
  | { readonly kind: 'add-downstream'; readonly entry: DownstreamAddress }
  | { readonly kind: 'delete-downstream'; readonly entry: DownstreamAddress };

export interface DownstreamPlan {
  /** New addresses first, then old ones: a prefix that changes never leaves the network without one. */
  readonly steps: readonly DownstreamStep[];
  /** The record to start from: what was recorded, less what is gone; each step then updates it. */
  readonly record: readonly DownstreamAddress[];
  /** Wanted but already there and not this client's: left alone and never recorded. */
  readonly foreign: readonly DownstreamAddress[];
  /** Wanted on an interface that does not exist (now): nothing can be done there. */
  readonly missing: readonly DownstreamAddress[];
}

/**
 * The changes that make the downstream interfaces carry `wanted`, touching
 * only addresses this client added itself (`record`). `present` holds the
 * addresses of every interface named in `wanted` or `record` that exists;
 * an interface that is not in it is gone, and its addresses with it.
 */
export function planDownstream(
  present: ReadonlyMap<string, readonly IpPrefix[]>,
  record: readonly DownstreamAddress[],
  wanted: readonly DownstreamAddress[],
): DownstreamPlan {
  const steps: DownstreamStep[] = [];
  const kept: DownstreamAddress[] = [];
  const foreign: DownstreamAddress[] = [];
  const missing: DownstreamAddress[] = [];
  const removals: DownstreamStep[] = [];
  for (const entry of uniqueEntries(wanted)) {
    const addresses = present.get(entry.interfaceName);
    if (addresses === undefined) {
      missing.push(entry);
      continue;
    }
    const there = addresses.find((a) => a.address.equals(entry.prefix.address));
    const ours = record.some((r) => sameEntry(r, entry));
    if (there === undefined) {
      steps.push({ kind: 'add-downstream', entry });
      if (ours) kept.push(entry);
    } else if (ours && there.length === entry.prefix.length) {
      kept.push(entry);
    } else {
      foreign.push({ interfaceName: entry.interfaceName, prefix: there });
    }
  }
  for (const entry of record) {
    if (wanted.some((w) => sameEntry(w, entry))) continue;
    const addresses = present.get(entry.interfaceName);
    // Gone with its interface, or removed by someone else: no longer ours to remove.
    if (addresses === undefined || !addresses.some((a) => a.equals(entry.prefix))) continue;
    kept.push(entry);
    removals.push({ kind: 'delete-downstream', entry });
  }
  return { steps: [...steps, ...removals], record: kept, foreign, missing };
}

/** The record once `step` succeeded (or found its work already done). */
export function downstreamRecordAfter(
  record: readonly DownstreamAddress[],
  step: DownstreamStep,
): DownstreamAddress[] {
  const others = record.filter((r) => !sameEntry(r, step.entry));
  return step.kind === 'add-downstream' ? [...others, step.entry] : others;
}

/** The record as it will be if every step succeeds; written to disk before the first step. */
export function downstreamIntent(plan: DownstreamPlan): DownstreamAddress[] {
  let record = [...plan.record];
  for (const step of plan.steps) {
    if (step.kind === 'add-downstream') record = downstreamRecordAfter(record, step);
  }
  return record;
}

export function sameEntry(a: DownstreamAddress, b: DownstreamAddress): boolean {
  return a.interfaceName === b.interfaceName && a.prefix.equals(b.prefix);
}

function uniqueEntries(entries: readonly DownstreamAddress[]): DownstreamAddress[] {
  const out: DownstreamAddress[] = [];
  for (const entry of entries) if (!out.some((e) => sameEntry(e, entry))) out.push(entry);
  return out;
}
