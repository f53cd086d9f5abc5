import { createPrivateKey, createPublicKey, randomBytes } from 'node:crypto';
import { inspect } from 'node:util';

/** RFC 8410 PKCS #8 wrapping of a raw X25519 private key (OID 1.3.101.110). */
const PKCS8_X25519_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');
const HIDDEN = '(hidden private key)';

/**
 * A WireGuard private key that does not show up by accident: toString,
 * toJSON and util.inspect print a placeholder. `toBase64()` is the only way
 * to the key itself (for a key file).
 */
export class LabPrivateKey {
  readonly #bytes: Uint8Array;

  constructor(bytes: Uint8Array) {
    if (bytes.length !== 32) throw new RangeError('a WireGuard private key has 32 bytes');
    this.#bytes = Uint8Array.from(bytes);
  }

  toBase64(): string {
    return Buffer.from(this.#bytes).toString('base64');
  }

  /** The public key (base64), as `wg pubkey` derives it. */
  publicKey(): string {
    const der = Buffer.concat([PKCS8_X25519_PREFIX, this.#bytes]);
    const jwk = createPublicKey(
      createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }),
    ).export({
      format: 'jwk',
    });
    return Buffer.from(jwk.x ?? '', 'base64url').toString('base64');
  }

  toString(): string {
    return HIDDEN;
  }

  toJSON(): string {
    return HIDDEN;
  }

  [inspect.custom](): string {
    return `LabPrivateKey ${HIDDEN}`;
  }
}

export interface LabKeyPair {
  readonly privateKey: LabPrivateKey;
  /** base64, as wg(8) prints it. */
  readonly publicKey: string;
}

/**
 * A new key pair from 32 random bytes, clamped like `wg genkey` (the kernel
 * stores the clamped form, so `wg show private-key` gives back the same text).
 */
export function generateKeyPair(random: (size: number) => Uint8Array = randomBytes): LabKeyPair {
  const bytes = Uint8Array.from(random(32));
  if (bytes.length !== 32) throw new RangeError('the random source gave fewer than 32 bytes');
  bytes[0] = (bytes[0] ?? 0) & 248;
  bytes[31] = ((bytes[31] ?? 0) & 127) | 64;
  const privateKey = new LabPrivateKey(bytes);
  return { privateKey, publicKey: privateKey.publicKey() };
}
