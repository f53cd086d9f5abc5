import { LAB_NETNS_PREFIX } from '../topology/plan.js';

/** Who made a lab: a process id and its start time (so a reused pid does not count). */
export interface LabOwner {
  readonly pid: number;
  /** Field 22 of /proc/<pid>/stat: clock ticks after boot. */
  readonly startTime: string;
}

/** The namespace names in `ip netns list` output ("name" or "name (id: 3)" per line). */
export function parseNetnsList(output: string): string[] {
  return output
    .split('\n')
    .map((line) => line.trim().split(/\s+/, 1)[0] ?? '')
    .filter((name) => name !== '');
}

/** The lab id in a lab namespace's name (`wgdlab-<id>-<node>`), else undefined. */
export function labIdOfNamespace(name: string): string | undefined {
  if (!name.startsWith(LAB_NETNS_PREFIX)) return undefined;
  const match = /^([0-9a-f]{8})-/.exec(name.slice(LAB_NETNS_PREFIX.length));
  return match?.[1];
}

/** The start time in a /proc/<pid>/stat line; undefined when malformed. */
export function parseStartTime(stat: string): string | undefined {
  // The command name (field 2) is in parentheses and may itself contain ") ".
  const close = stat.lastIndexOf(')');
  if (close === -1) return undefined;
  const fields = stat.slice(close + 2).split(' ');
  // fields[0] is field 3 (state); the start time is field 22.
  const startTime = fields[19];
  return startTime !== undefined && /^\d+$/.test(startTime) ? startTime : undefined;
}

export function formatOwner(owner: LabOwner): string {
  return `${owner.pid} ${owner.startTime}\n`;
}

export function parseOwner(text: string): LabOwner | undefined {
  const match = /^(\d+) (\d+)\n?$/.exec(text);
  if (!match) return undefined;
  return { pid: Number(match[1]), startTime: match[2] as string };
}

/**
 * Which labs are stale: every lab id seen (in namespace names or state
 * directories) whose owner is unknown or no longer runs.
 */
export function staleLabIds(
  labIds: Iterable<string>,
  ownerOf: (id: string) => LabOwner | undefined,
  isRunning: (owner: LabOwner) => boolean,
): string[] {
  const stale: string[] = [];
  for (const id of new Set(labIds)) {
    const owner = ownerOf(id);
    if (owner === undefined || !isRunning(owner)) stale.push(id);
  }
  return stale.sort();
}
