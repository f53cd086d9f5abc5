/**
 * The part of a pino logger the libraries use. Libraries never create a
 * logger: the programs make one (`@wg-dynamic/cli`) and pass it in. A library
 * logs each change it makes to the system at debug level before making it,
 * and never a private key.
 */
export interface Logger {
  debug(fields: object, message?: string): void;
  info(fields: object, message?: string): void;
  warn(fields: object, message?: string): void;
  error(fields: object, message?: string): void;
}

const drop = () => {};

/** Drops everything: the default when the caller gives no logger. */
export const silentLogger: Logger = Object.freeze({
  debug: drop,
  info: drop,
  warn: drop,
  error: drop,
});
