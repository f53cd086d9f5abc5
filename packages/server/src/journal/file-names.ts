/**
 * The state directory holds:
 *   journal-0000000001.log          segments, numbered from 1, appended to in order
 *   snapshot-0000000007.snap        the live state just before segment 7
 *   snapshot-0000000007.snap.tmp    a snapshot being written (removed on open)
 *   lock                            a symbolic link to the holder's pid
 */
export const LOCK_NAME = 'lock';

const SEGMENT = /^journal-(\d{10})\.log$/;
const SNAPSHOT = /^snapshot-(\d{10})\.snap$/;
const TEMPORARY = /^snapshot-\d{10}\.snap\.tmp$/;

/** Sequence numbers are u32, as in the file header. */
export const MAX_SEQUENCE = 0xffff_ffff;

const pad = (sequence: number) => String(sequence).padStart(10, '0');

export const segmentName = (sequence: number) => `journal-${pad(sequence)}.log`;
export const snapshotName = (sequence: number) => `snapshot-${pad(sequence)}.snap`;
export const temporaryName = (sequence: number) => `${snapshotName(sequence)}.tmp`;

export type JournalFileName =
  | { readonly kind: 'segment' | 'snapshot'; readonly sequence: number }
  | { readonly kind: 'temporary' | 'lock' | 'other' };

export function parseName(name: string): JournalFileName {
  const segment = SEGMENT.exec(name);
  if (segment) return sequenced('segment', segment[1] as string);
  const snapshot = SNAPSHOT.exec(name);
  if (snapshot) return sequenced('snapshot', snapshot[1] as string);
  if (TEMPORARY.test(name)) return { kind: 'temporary' };
  if (name === LOCK_NAME) return { kind: 'lock' };
  return { kind: 'other' };
}

function sequenced(kind: 'segment' | 'snapshot', digits: string): JournalFileName {
  const sequence = Number(digits);
  return sequence >= 1 && sequence <= MAX_SEQUENCE ? { kind, sequence } : { kind: 'other' };
}
