import { inspect } from 'node:util';
import { generateKeyPair, LabPrivateKey } from '@wg-dynamic/lab';
import { describe, expect, it } from 'vitest';

const hex = (text: string) => Uint8Array.from(Buffer.from(text, 'hex'));

describe('lab keys', () => {
  it('derives the X25519 public key (RFC 7748, section 6.1)', () => {
    const alice = hex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a');
    const pair = generateKeyPair(() => alice);
    expect(Buffer.from(pair.publicKey, 'base64').toString('hex')).toBe(
      '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a',
    );
  });

  it('clamps the private key like wg genkey', () => {
    const pair = generateKeyPair((size) => new Uint8Array(size).fill(0xff));
    const bytes = Buffer.from(pair.privateKey.toBase64(), 'base64');
    expect(bytes[0]).toBe(0xf8);
    expect(bytes[31]).toBe(0x7f);
    expect(bytes.subarray(1, 31).every((b) => b === 0xff)).toBe(true);
  });

  it('never shows the private key in strings, JSON or inspect', () => {
    const pair = generateKeyPair();
    const secret = pair.privateKey.toBase64();
    expect(String(pair.privateKey)).not.toContain(secret);
    expect(`${pair.privateKey}`).not.toContain(secret);
    expect(JSON.stringify(pair)).not.toContain(secret);
    expect(inspect(pair, { depth: 5 })).not.toContain(secret);
    expect(inspect(pair.privateKey)).toContain('hidden');
  });

  it('refuses keys that are not 32 bytes', () => {
    expect(() => new LabPrivateKey(new Uint8Array(31))).toThrow(RangeError);
  });
});
