/** Limits on one UAPI answer: a broken or hostile socket gets an error, never unbounded memory. */
export interface UapiLimits {
  /** The longest line accepted, newline excluded (default 1,024; real lines stay under 100). */
  readonly maxLineLength: number;
  /**
   * The most bytes one answer may have (default 256 MiB). A device with
   * 100,000 peers of ten allowed-ips each answers about 60 MB.
   */
  readonly maxAnswerBytes: number;
}

export const DEFAULT_UAPI_LIMITS: UapiLimits = {
  maxLineLength: 1024,
  maxAnswerBytes: 256 * 1024 * 1024,
};

/** An answer that breaks the protocol; `line` is 1-based when known. */
export class UapiProtocolError extends Error {
  override readonly name = 'UapiProtocolError';
  readonly line: number | undefined;
  constructor(problem: string, line?: number) {
    super(line === undefined ? problem : `line ${line}: ${problem}`);
    this.line = line;
  }
}

/**
 * Reads a UAPI answer as it arrives: `key=value` lines, then `errno=N`, then
 * a blank line. Each line before `errno=` goes to `onLine` as soon as it is
 * complete, so a large answer is never held whole. Bounded by UapiLimits.
 */
export class UapiAnswerReader {
  readonly #onLine: (key: string, value: string, line: number) => void;
  readonly #limits: UapiLimits;
  #partial = '';
  #bytes = 0;
  #line = 0;
  #errno: number | undefined;
  #done = false;

  constructor(onLine: (key: string, value: string, line: number) => void, limits: UapiLimits) {
    this.#onLine = onLine;
    this.#limits = limits;
  }

  /** True once `errno=N` and its blank line have arrived. */
  get done(): boolean {
    return this.#done;
  }

  /** The answer's errno (0 or negative); only once done. */
  get errno(): number {
    if (this.#errno === undefined || !this.#done)
      throw new Error('the UAPI answer is not complete');
    return this.#errno;
  }

  /** Takes the next bytes; returns true when the answer is complete (later bytes are ignored). */
  push(chunk: Uint8Array): boolean {
    if (this.#done) return true;
    this.#bytes += chunk.length;
    if (this.#bytes > this.#limits.maxAnswerBytes) {
      throw new UapiProtocolError(`the answer exceeds ${this.#limits.maxAnswerBytes} bytes`);
    }
    // Latin-1 maps each byte to one character: no multi-byte sequence can be cut.
    const text =
      this.#partial + Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length).toString('latin1');
    let start = 0;
    for (;;) {
      const end = text.indexOf('\n', start);
      if (end === -1) break;
      this.#take(text.slice(start, end));
      start = end + 1;
      if (this.#done) return true;
    }
    this.#partial = text.slice(start);
    if (this.#partial.length > this.#limits.maxLineLength) {
      throw new UapiProtocolError(
        `a line longer than ${this.#limits.maxLineLength} characters`,
        this.#line + 1,
      );
    }
    return false;
  }

  /** The connection ended; throws unless the answer was complete. */
  end(): void {
    if (this.#done) return;
    throw new UapiProtocolError(
      this.#errno === undefined
        ? `the connection closed after ${this.#line} line(s), before errno=`
        : 'the connection closed before the blank line after errno=',
    );
  }

  #take(line: string): void {
    this.#line++;
    if (line.length > this.#limits.maxLineLength) {
      throw new UapiProtocolError(
        `a line longer than ${this.#limits.maxLineLength} characters`,
        this.#line,
      );
    }
    if (this.#errno !== undefined) {
      if (line !== '')
        throw new UapiProtocolError(
          `expected a blank line after errno=, got ${quoteLine(line)}`,
          this.#line,
        );
      this.#done = true;
      return;
    }
    if (line === '') throw new UapiProtocolError('a blank line before errno=', this.#line);
    const equals = line.indexOf('=');
    if (equals <= 0)
      throw new UapiProtocolError(`expected key=value, got ${quoteLine(line)}`, this.#line);
    const key = line.slice(0, equals);
    const value = line.slice(equals + 1);
    if (key === 'errno') {
      if (!/^(0|-[1-9][0-9]{0,9})$/.test(value)) {
        throw new UapiProtocolError(
          `errno=${quote(value)} is not 0 or a negative number`,
          this.#line,
        );
      }
      this.#errno = Number(value);
      return;
    }
    this.#onLine(key, value, this.#line);
  }
}

/**
 * The UAPI keys whose values are secrets. Their values never go into an
 * error message: an error can end up in a log (`logger.error({ err })`), and
 * keys never appear in logs.
 */
export const SECRET_UAPI_KEYS: ReadonlySet<string> = new Set(['private_key', 'preshared_key']);

/** A text quoted for an error message, shortened and with control characters escaped. */
export function quote(text: string): string {
  const short = text.length > 80 ? `${text.slice(0, 80)}…` : text;
  return JSON.stringify(short);
}

/** The value of `key` for an error message: quoted, or only its length when it is a secret. */
export function quoteValue(key: string, value: string): string {
  return SECRET_UAPI_KEYS.has(key) ? `(${value.length} character(s), not shown)` : quote(value);
}

/** A run of hex digits as long as a quarter key: what a key looks like, whole or cut. */
const KEY_LIKE = /[0-9a-fA-F]{16,}/;

/**
 * A whole line for an error message: quoted, or only its length when it
 * names a secret key anywhere, or holds a long run of hex digits. A line
 * broken in any way may still carry a secret, even with its key name
 * mangled (`=rivate_key=…`); one changed character leaves a run of at least
 * 31 of the key's 64 digits.
 */
export function quoteLine(line: string): string {
  for (const key of SECRET_UAPI_KEYS) {
    if (line.includes(key)) return `a ${key} line of ${line.length} character(s) (not shown)`;
  }
  if (KEY_LIKE.test(line)) {
    return `a line of ${line.length} character(s) holding what may be a key (not shown)`;
  }
  return quote(line);
}
