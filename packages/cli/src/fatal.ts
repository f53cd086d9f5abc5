import type { Logger } from 'pino';

/** Exit statuses of both programs. */
export const ExitCode = {
  Ok: 0,
  /** Something is wrong with the system or the configuration; the message says what to do. */
  Failure: 1,
  /** The command line is wrong. */
  Usage: 2,
} as const;

/**
 * A condition the operator must fix, with the words that say how. The
 * programs print its message (not a stack trace) and exit non-zero.
 */
export class FatalError extends Error {
  override readonly name = 'FatalError';
  readonly exitCode: number;

  constructor(message: string, options: { cause?: unknown; exitCode?: number } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.exitCode = options.exitCode ?? ExitCode.Failure;
  }
}

/** A command line that cannot be run; the program prints the message and its usage, and exits 2. */
export class UsageError extends FatalError {
  constructor(message: string) {
    super(message, { exitCode: ExitCode.Usage });
  }
}

/**
 * Runs a program's main function and exits with its status. A FatalError is
 * printed as its message (with usage for a UsageError); anything else is a
 * bug, printed with its stack.
 */
export async function runProgram(
  main: () => Promise<number>,
  options: { usage: string; logger?: () => Logger | undefined },
): Promise<never> {
  let code: number;
  try {
    code = await main();
  } catch (error) {
    const logger = options.logger?.();
    if (error instanceof FatalError) {
      const text =
        error instanceof UsageError ? `${error.message}\n\n${options.usage}` : error.message;
      if (logger && !(error instanceof UsageError)) logger.fatal({ err: error.cause }, text);
      else process.stderr.write(`${text}\n`);
      code = error.exitCode;
    } else {
      if (logger) logger.fatal({ err: error }, 'unexpected error');
      else
        process.stderr.write(
          `unexpected error: ${error instanceof Error ? error.stack : String(error)}\n`,
        );
      code = ExitCode.Failure;
    }
  }
  process.exit(code);
}
