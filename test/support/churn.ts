import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The churn client (plain JavaScript, run inside lab nodes): see churn-client.mjs. */
export const CHURN_CLIENT = join(fileURLToPath(new URL('.', import.meta.url)), 'churn-client.mjs');

export interface ChurnLog {
  /** The answers received, in order. */
  readonly answers: readonly string[];
  /** The request sent last and never answered (the server went away), if any. */
  readonly inFlight: { readonly v4: string; readonly v6: string } | undefined;
  /** Addresses granted in all (ip= lines of the answers). */
  readonly grants: number;
}

/** Reads a churn client's output lines (JSON, one event each). */
export function parseChurnLog(lines: readonly string[]): ChurnLog {
  const answers: string[] = [];
  let inFlight: ChurnLog['inFlight'];
  let grants = 0;
  for (const line of lines) {
    if (!line.startsWith('{')) continue;
    const event = JSON.parse(line) as {
      sent?: number;
      v4?: string;
      v6?: string;
      got?: number;
      answer?: string;
    };
    if (event.sent !== undefined) {
      inFlight = { v4: `${event.v4}/32`, v6: `${event.v6}/128` };
    } else if (event.got !== undefined && event.answer !== undefined) {
      inFlight = undefined;
      answers.push(event.answer);
      grants += event.answer.split('\n').filter((l) => l.startsWith('ip=')).length;
    }
  }
  return { answers, inFlight, grants };
}
