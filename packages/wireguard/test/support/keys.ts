import { Key, SecretKey } from '@wg-dynamic/wireguard';

/** A distinct, deterministic public key per number (not a real curve point: the kernel does not care). */
export function publicKeyOf(n: number): Key {
  const bytes = new Uint8Array(32);
  new DataView(bytes.buffer).setUint32(0, n + 1);
  bytes[31] = 0x5a;
  return Key.fromBytes(bytes);
}

/** A deterministic, clamped private key per number. */
export function privateKeyOf(n: number): SecretKey {
  return SecretKey.generate(() => {
    const bytes = new Uint8Array(32).fill(0x11);
    new DataView(bytes.buffer).setUint32(4, n);
    return bytes;
  });
}

/** A deterministic preshared key per number. */
export function presharedKeyOf(n: number): SecretKey {
  return SecretKey.generatePreshared(() => new Uint8Array(32).fill((n % 250) + 1));
}
