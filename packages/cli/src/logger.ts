import { type DestinationStream, type LevelWithSilent, type Logger, pino } from 'pino';

export type { Logger } from 'pino';

const LEVEL_NAMES: Record<number, string> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO',
  40: 'WARN',
  50: 'ERROR',
  60: 'FATAL',
};
const HIDDEN_FIELDS = new Set(['level', 'time', 'pid', 'hostname', 'msg', 'name']);

/** One value as `key=value` text: strings bare unless they hold spaces, the rest as JSON. */
function formatValue(value: unknown): string {
  if (typeof value === 'string')
    return /[\s"]/.test(value) || value === '' ? JSON.stringify(value) : value;
  if (value && typeof value === 'object' && 'message' in value && 'type' in value) {
    return JSON.stringify((value as { message: unknown }).message);
  }
  return JSON.stringify(value);
}

/**
 * pino's JSON line as a person reads it on a terminal:
 * `12:00:03 INFO  lease granted peer=abc… address=10.0.0.2/32`.
 */
export function formatLine(json: string): string {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  const time = new Date(typeof record.time === 'number' ? record.time : Date.now());
  const clock = time.toTimeString().slice(0, 8);
  const level = (LEVEL_NAMES[record.level as number] ?? String(record.level)).padEnd(5);
  const fields = Object.entries(record)
    .filter(([key]) => !HIDDEN_FIELDS.has(key))
    .map(([key, value]) => `${key}=${formatValue(value)}`);
  return `${clock} ${level} ${String(record.msg ?? '')}${fields.length > 0 ? ` ${fields.join(' ')}` : ''}\n`;
}

/** A destination that writes readable lines to a terminal stream. */
function readable(stream: NodeJS.WritableStream): DestinationStream {
  return {
    write(line: string) {
      stream.write(formatLine(line));
    },
  };
}

export interface ProgramLoggerOptions {
  readonly level?: LevelWithSilent;
  /** Where logs go; standard error by default, so standard output stays the program's. */
  readonly stream?: NodeJS.WritableStream & { isTTY?: boolean; fd?: number };
  /** Readable lines instead of JSON; by default when the stream is a terminal. */
  readonly pretty?: boolean;
}

/**
 * The logger of a program (libraries never create one): JSON lines for
 * journald and log collectors, readable lines on a terminal. Private keys are
 * redacted by name as a second line of defence; the key types already print
 * as "(hidden)".
 */
export function createProgramLogger(name: string, options: ProgramLoggerOptions = {}): Logger {
  const stream = options.stream ?? process.stderr;
  const pretty = options.pretty ?? Boolean(stream.isTTY);
  let destination: DestinationStream;
  if (pretty) destination = readable(stream);
  else if (options.stream) destination = { write: (line: string) => void stream.write(line) };
  // Synchronous, so that the last lines before an exit are not lost.
  else destination = pino.destination({ fd: 2, sync: true });
  return pino(
    {
      level: options.level ?? 'info',
      // The program's name, without pid and hostname (journald has them).
      base: { name },
      redact: {
        paths: ['privateKey', '*.privateKey', 'presharedKey', '*.presharedKey'],
        censor: '(hidden)',
      },
    },
    destination,
  );
}
