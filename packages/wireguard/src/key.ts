import { createRequire } from 'node:module';
import { inspect } from 'node:util';
import { InvalidKeyError } from './errors.js';

type X25519 = typeof import('@noble/curves/ed25519.js')['x25519'];
let curve: X25519 | undefined;

/**
 * @noble/curves, loaded on first use: loading it takes about 20 ms of a
 * fresh process's processor time, and most programs that read keys never
 * derive one (wg-dynamic-client's start; bench/client.ts). Node 20.19 and
 * later load an ES module through require().
 */
function x25519(): X25519 {
  curve ??= (
    createRequire(import.meta.url)(
      '@noble/curves/ed25519.js',
    ) as typeof import('@noble/curves/ed25519.js')
  ).x25519;
  return curve;
}

/** WG_KEY_LEN, <linux/wireguard.h>: every WireGuard key is 32 bytes. */
export const WG_KEY_LEN = 32;

/** Canonical base64 of 32 bytes: 43 characters, the last carrying 2 bits (so 4 zero bits), then "=". */
const base64Key = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/;
const hexKey = /^[0-9a-fA-F]{64}$/;

function decodeBase64(text: string, what: string): Uint8Array {
  if (typeof text !== 'string' || !base64Key.test(text)) {
    throw new InvalidKeyError(
      `${describe(text)} is not a WireGuard ${what}: expected 44 characters of base64 ending in "=", as \`wg genkey\`, \`wg pubkey\` and \`wg show\` print them${hint(text)}`,
    );
  }
  return new Uint8Array(Buffer.from(text, 'base64'));
}

function decodeHex(text: string, what: string): Uint8Array {
  if (typeof text !== 'string' || !hexKey.test(text)) {
    throw new InvalidKeyError(
      `${describe(text)} is not a hex WireGuard ${what}: expected 64 hexadecimal digits`,
    );
  }
  return new Uint8Array(Buffer.from(text, 'hex'));
}

function checkBytes(bytes: Uint8Array, what: string): Uint8Array {
  if (!(bytes instanceof Uint8Array) || bytes.length !== WG_KEY_LEN) {
    throw new InvalidKeyError(
      `a WireGuard ${what} has ${WG_KEY_LEN} bytes, not ${bytes instanceof Uint8Array ? bytes.length : typeof bytes}`,
    );
  }
  return Uint8Array.from(bytes);
}

/** Names a rejected text without echoing a whole (maybe secret) value into an error message. */
function describe(text: unknown): string {
  if (typeof text !== 'string') return `a ${typeof text}`;
  return `a text of ${text.length} character(s)`;
}

function hint(text: string): string {
  if (hexKey.test(text)) return ' (this looks like the hex form of the UAPI: use fromHex)';
  if (text.trim() !== text) return ' (it has surrounding white space)';
  if (/^[A-Za-z0-9_-]{43}=?$/.test(text)) return ' (this looks like URL-safe base64)';
  return '';
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= (a[i] as number) ^ (b[i] as number);
  return difference === 0;
}

/** A WireGuard public key. Prints as base64 (its usual public form). */
export class Key {
  readonly #bytes: Uint8Array;

  private constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
  }

  /** Parses the base64 form `wg` prints (44 characters ending in "="). */
  static parse(base64: string): Key {
    return new Key(decodeBase64(base64, 'public key'));
  }

  /** Parses the hex form of the UAPI (64 hex digits). */
  static fromHex(hex: string): Key {
    return new Key(decodeHex(hex, 'public key'));
  }

  /** Copies 32 bytes into a key. */
  static fromBytes(bytes: Uint8Array): Key {
    return new Key(checkBytes(bytes, 'public key'));
  }

  /** A copy of the 32 bytes. */
  toBytes(): Uint8Array {
    return Uint8Array.from(this.#bytes);
  }

  toBase64(): string {
    return Buffer.from(this.#bytes).toString('base64');
  }

  toHex(): string {
    return Buffer.from(this.#bytes).toString('hex');
  }

  equals(other: Key): boolean {
    return equalBytes(this.#bytes, other.#bytes);
  }

  isZero(): boolean {
    return this.#bytes.every((byte) => byte === 0);
  }

  toString(): string {
    return this.toBase64();
  }

  toJSON(): string {
    return this.toBase64();
  }

  [inspect.custom](): string {
    return `Key(${this.toBase64()})`;
  }
}

/** What `toString`, `toJSON` and `util.inspect` print for a secret key. */
export const HIDDEN = '(hidden)';

/**
 * A private key or a preshared key. It never prints itself: `toString`,
 * `toJSON` and `util.inspect` give "(hidden)", so a logged Device or
 * configuration cannot leak it; `toBase64`/`toHex` must be asked for.
 */
export class SecretKey {
  readonly #bytes: Uint8Array;

  private constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
  }

  /**
   * A new private key from 32 random bytes, clamped for Curve25519 as
   * `wg genkey` and the kernel do (curve25519_clamp_secret: clear the low
   * three bits and the top bit, set bit 254). Pass `crypto.randomBytes`.
   */
  static generate(randomBytes: (length: number) => Uint8Array): SecretKey {
    const bytes = checkBytes(randomBytes(WG_KEY_LEN), 'private key');
    bytes[0] = (bytes[0] as number) & 248;
    bytes[31] = ((bytes[31] as number) & 127) | 64;
    return new SecretKey(bytes);
  }

  /** A new preshared key: 32 random bytes, unclamped, as `wg genpsk` makes them. */
  static generatePreshared(randomBytes: (length: number) => Uint8Array): SecretKey {
    return new SecretKey(checkBytes(randomBytes(WG_KEY_LEN), 'preshared key'));
  }

  /** Parses the base64 form (`wg genkey`, `wg genpsk`, a wg-quick file). */
  static parse(base64: string): SecretKey {
    return new SecretKey(decodeBase64(base64, 'secret key'));
  }

  /** Parses the hex form of the UAPI. */
  static fromHex(hex: string): SecretKey {
    return new SecretKey(decodeHex(hex, 'secret key'));
  }

  static fromBytes(bytes: Uint8Array): SecretKey {
    return new SecretKey(checkBytes(bytes, 'secret key'));
  }

  /** The public key of this private key (X25519 with the base point, as `wg pubkey`). */
  publicKey(): Key {
    return Key.fromBytes(x25519().getPublicKey(this.#bytes));
  }

  /** A copy of the 32 secret bytes. */
  toBytes(): Uint8Array {
    return Uint8Array.from(this.#bytes);
  }

  /** The secret in base64, as `wg genkey` prints it. Handle with care. */
  toBase64(): string {
    return Buffer.from(this.#bytes).toString('base64');
  }

  /** The secret in hex, as the UAPI takes it. Handle with care. */
  toHex(): string {
    return Buffer.from(this.#bytes).toString('hex');
  }

  /** Compares in constant time. */
  equals(other: SecretKey): boolean {
    return equalBytes(this.#bytes, other.#bytes);
  }

  isZero(): boolean {
    return this.#bytes.every((byte) => byte === 0);
  }

  toString(): string {
    return HIDDEN;
  }

  toJSON(): string {
    return HIDDEN;
  }

  [inspect.custom](): string {
    return `SecretKey ${HIDDEN}`;
  }
}
