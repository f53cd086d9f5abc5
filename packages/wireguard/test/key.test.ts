import { readFileSync } from 'node:fs';
import { inspect } from 'node:util';
import { HIDDEN, InvalidKeyError, Key, SecretKey } from '@wg-dynamic/wireguard';
import { describe, expect, it } from 'vitest';

interface Vectors {
  generated: { private: string; privateHex: string; public: string; publicHex: string }[];
  unclamped: { private: string; public: string }[];
}
const vectors = JSON.parse(
  readFileSync(new URL('fixtures/keys.json', import.meta.url), 'utf8'),
) as Vectors;

describe('keys against wg genkey / wg pubkey', () => {
  it.each(vectors.generated)('derives $public from a wg genkey key', (vector) => {
    const secret = SecretKey.parse(vector.private);
    expect(secret.publicKey().toBase64()).toBe(vector.public);
    expect(secret.toHex()).toBe(vector.privateHex);
    expect(SecretKey.fromHex(vector.privateHex).equals(secret)).toBe(true);
    const key = Key.parse(vector.public);
    expect(key.toHex()).toBe(vector.publicHex);
    expect(Key.fromHex(vector.publicHex).equals(key)).toBe(true);
    expect(String(key)).toBe(vector.public);
  });

  it.each(vectors.unclamped)('clamps like wg pubkey for an unclamped secret', (vector) => {
    expect(SecretKey.parse(vector.private).publicKey().toBase64()).toBe(vector.public);
  });

  it('wg genkey keys are clamped, and generate clamps the same way', () => {
    for (const vector of vectors.generated) {
      const bytes = SecretKey.parse(vector.private).toBytes();
      expect((bytes[0] as number) & 7).toBe(0);
      expect((bytes[31] as number) & 0xc0).toBe(0x40);
    }
    const all = SecretKey.generate((n) => new Uint8Array(n).fill(0xff)).toBytes();
    expect(all[0]).toBe(0xf8);
    expect(all[31]).toBe(0x7f);
    expect(all.subarray(1, 31).every((b) => b === 0xff)).toBe(true);
    const none = SecretKey.generate((n) => new Uint8Array(n)).toBytes();
    expect(none[31]).toBe(0x40);
    // A preshared key is random bytes as they are.
    expect(SecretKey.generatePreshared((n) => new Uint8Array(n).fill(0xff)).toHex()).toBe(
      'ff'.repeat(32),
    );
  });

  it('refuses a random source that gives the wrong length', () => {
    expect(() => SecretKey.generate(() => new Uint8Array(31))).toThrow(InvalidKeyError);
  });
});

describe('Key.parse', () => {
  const valid = vectors.generated[0]?.public as string;

  it.each([
    ['empty', ''],
    ['too short', valid.slice(0, 43)],
    ['missing the =', `${valid.slice(0, 43)}A`],
    ['too long', `${valid}=`],
    ['non-canonical last character', `${valid.slice(0, 42)}B=`],
    ['URL-safe base64', valid.replace(/\+/g, '-').replace(/\//g, '_').padEnd(44, '=')],
    ['white space', ` ${valid}`],
    ['hex', 'ab'.repeat(32)],
  ])('refuses %s', (_label, text) => {
    expect(() => Key.parse(text)).toThrow(InvalidKeyError);
  });

  it('explains what a key looks like, and recognises hex', () => {
    try {
      Key.parse('ab'.repeat(32));
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidKeyError);
      expect((error as InvalidKeyError).code).toBe('INVALID_KEY');
      expect((error as Error).message).toMatch(/44 characters of base64/);
      expect((error as Error).message).toMatch(/fromHex/);
    }
  });

  it('never echoes a rejected secret in the error', () => {
    const almost = `${vectors.generated[0]?.private.slice(0, 43)}`;
    try {
      SecretKey.parse(almost);
      expect.unreachable();
    } catch (error) {
      expect((error as Error).message).not.toContain(almost);
    }
  });

  it('refuses bad hex and bad byte lengths', () => {
    expect(() => Key.fromHex('zz'.repeat(32))).toThrow(InvalidKeyError);
    expect(() => Key.fromHex('ab'.repeat(31))).toThrow(InvalidKeyError);
    expect(() => Key.fromBytes(new Uint8Array(33))).toThrow(InvalidKeyError);
  });

  it('copies bytes in and out', () => {
    const bytes = new Uint8Array(32).fill(7);
    const key = Key.fromBytes(bytes);
    bytes[0] = 0;
    expect(key.toBytes()[0]).toBe(7);
    key.toBytes()[0] = 0;
    expect(key.toBytes()[0]).toBe(7);
    expect(key.equals(Key.fromBytes(new Uint8Array(32).fill(7)))).toBe(true);
    expect(key.equals(Key.fromBytes(new Uint8Array(32).fill(8)))).toBe(false);
    expect(Key.fromBytes(new Uint8Array(32)).isZero()).toBe(true);
  });
});

describe('a secret key never shows itself', () => {
  const secret = SecretKey.parse(vectors.generated[0]?.private as string);
  const base64 = vectors.generated[0]?.private as string;
  const hex = vectors.generated[0]?.privateHex as string;

  it('in toString, JSON and util.inspect', () => {
    expect(String(secret)).toBe(HIDDEN);
    expect(`${secret}`).toBe(HIDDEN);
    expect(JSON.stringify({ secret })).toBe(`{"secret":"${HIDDEN}"}`);
    expect(inspect(secret)).toContain(HIDDEN);
    expect(inspect({ nested: { secret } }, { depth: 10, showHidden: true })).not.toContain(
      base64.slice(0, 10),
    );
  });

  it('in a logged device, however it is printed', () => {
    const device = {
      name: 'wg0',
      privateKey: secret,
      publicKey: secret.publicKey(),
      peers: [{ presharedKey: secret }],
    };
    for (const text of [
      JSON.stringify(device),
      inspect(device, { depth: 10, showHidden: true }),
      JSON.stringify({ ...secret }),
      Object.keys(secret).join(','),
    ]) {
      expect(text).not.toContain(base64);
      expect(text).not.toContain(hex);
      expect(text).not.toContain(base64.slice(0, 20));
    }
    expect(JSON.stringify(device)).toContain(secret.publicKey().toBase64());
  });

  it('only when asked explicitly', () => {
    expect(secret.toBase64()).toBe(base64);
    expect(secret.toHex()).toBe(hex);
  });
});
