import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { randomSource, seededRandom } from '../src/random.js';

describe('randomSource', () => {
  /** The draw as the rejection sampler defines it, in bigint arithmetic throughout. */
  function reference(bytes: (length: number) => Uint8Array, limit: bigint): bigint {
    const bits = limit.toString(2).length;
    const length = Math.ceil(bits / 8);
    for (;;) {
      let value = 0n;
      for (const byte of bytes(length)) value = (value << 8n) | BigInt(byte);
      value >>= BigInt(length * 8 - bits);
      if (value < limit) return value;
    }
  }

  it('draws what the bigint definition draws from the same bytes, for limits of every size', () => {
    const limits = [1n, 2n, 255n, 256n, 65_534n, 2n ** 32n, 2n ** 48n - 1n, 2n ** 48n, 2n ** 64n];
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 31 }),
        fc.bigInt({ min: 1n, max: 2n ** 130n }),
        (seed, limit) => {
          for (const l of [...limits, limit]) {
            const bytes = seededBytes(seed);
            const again = seededBytes(seed);
            expect(randomSource(bytes).below(l)).toBe(reference(again, l));
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('keeps every draw below the limit', () => {
    const random = seededRandom(5);
    for (const limit of [1n, 3n, 1000n, 2n ** 40n + 1n, 2n ** 64n + 1n]) {
      for (let i = 0; i < 200; i++) expect(random.below(limit) < limit).toBe(true);
    }
  });
});

/** A deterministic byte stream (a tiny LCG; only the sameness of two streams matters). */
function seededBytes(seed: number): (length: number) => Uint8Array {
  let state = seed >>> 0;
  return (length) => {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) {
      state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
      out[i] = state >>> 24;
    }
    return out;
  };
}
