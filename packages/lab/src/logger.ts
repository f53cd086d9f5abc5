/**
 * The pino-compatible logger the lab takes (it never creates one). The lab
 * logs every side effect at debug level before doing it, like wg-quick's
 * `[#] ip link add …` lines, and never a private key.
 */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

const noop = () => {};

/** A logger that drops everything, for when the caller gives none. */
export const silentLogger: Logger = { debug: noop, info: noop, warn: noop, error: noop };
