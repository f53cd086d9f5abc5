import type { LabProcess } from '@wg-dynamic/lab';

/** One JSON log line of wg-dynamic-server (pino, not on a terminal). */
export interface LogLine {
  readonly level: number;
  readonly msg: string;
  readonly [field: string]: unknown;
}

/** The server's log so far: its JSON lines on standard error (other lines skipped). */
export function serverLog(server: LabProcess): LogLine[] {
  const lines: LogLine[] = [];
  for (const line of server.stderrLines) {
    if (!line.startsWith('{')) continue;
    try {
      lines.push(JSON.parse(line) as LogLine);
    } catch {
      // not a log line
    }
  }
  return lines;
}

/** The first log line whose message matches, or undefined. */
export function logLine(server: LabProcess, message: RegExp): LogLine | undefined {
  return serverLog(server).find((line) => message.test(line.msg));
}
