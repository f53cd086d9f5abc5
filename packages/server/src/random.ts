import { randomBytes } from 'node:crypto';

/** A source of uniform random integers, passed in so decisions can be tested with a seeded one. */
export interface RandomSource {
  /** A uniform integer in [0, limit); limit is positive. */
  below(limit: bigint): bigint;
}

/** Draws from `bytes` by rejection sampling: exactly uniform for any limit. */
export function randomSource(bytes: (length: number) => Uint8Array): RandomSource {
  return {
    below(limit: bigint): bigint {
      if (limit <= 0n) throw new RangeError(`random limit must be positive, not ${limit}`);
      const bits = limit.toString(2).length;
      const length = Math.ceil(bits / 8);
      const excess = BigInt(length * 8 - bits);
      for (;;) {
        let value = 0n;
        for (const byte of bytes(length)) value = (value << 8n) | BigInt(byte);
        value >>= excess;
        if (value < limit) return value;
      }
    },
  };
}

/** The operating system's cryptographic random source. */
export const systemRandom: RandomSource = randomSource((length) => randomBytes(length));

/**
 * A reproducible source for tests and benchmarks (xorshift128+ seeded by
 * splitmix64); never for production draws.
 */
export function seededRandom(seed: number): RandomSource {
  let state = BigInt.asUintN(64, BigInt(seed));
  const splitmix = () => {
    state = BigInt.asUintN(64, state + 0x9e3779b97f4a7c15n);
    let z = state;
    z = BigInt.asUintN(64, (z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n);
    z = BigInt.asUintN(64, (z ^ (z >> 27n)) * 0x94d049bb133111ebn);
    return z ^ (z >> 31n);
  };
  let s0 = splitmix();
  let s1 = splitmix();
  const next64 = () => {
    let x = s0;
    const y = s1;
    s0 = y;
    x = BigInt.asUintN(64, x ^ (x << 23n));
    s1 = x ^ y ^ (x >> 17n) ^ (y >> 26n);
    return BigInt.asUintN(64, s1 + y);
  };
  return randomSource((length) => {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i += 8) {
      let word = next64();
      for (let j = i; j < Math.min(length, i + 8); j++) {
        out[j] = Number(word & 0xffn);
        word >>= 8n;
      }
    }
    return out;
  });
}
