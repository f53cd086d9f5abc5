import { randomFillSync } from 'node:crypto';

/** A source of uniform random integers, passed in so decisions can be tested with a seeded one. */
export interface RandomSource {
  /** A uniform integer in [0, limit); limit is positive. */
  below(limit: bigint): bigint;
}

/** 2^48: below it, a draw's bytes are assembled with plain numbers, exactly. */
const NUMBER_LIMIT = 2 ** 48;

/** The number of bits of a positive integer (its bit length). */
function bitLength(value: bigint): number {
  if (value < 0x1_0000_0000n) return 32 - Math.clz32(Number(value));
  if (value < 0x20_0000_0000_0000n) {
    return 64 - Math.clz32(Math.floor(Number(value) / 0x1_0000_0000));
  }
  return (
    value.toString(16).length * 4 -
    Math.clz32(Number.parseInt(value.toString(16)[0] ?? '0', 16)) +
    28
  );
}

/**
 * Draws from `bytes` by rejection sampling: exactly uniform for any limit.
 * A draw takes ceil(bits / 8) bytes, drops the excess low bits, and starts
 * over when the value is not below the limit.
 */
export function randomSource(bytes: (length: number) => Uint8Array): RandomSource {
  return {
    below(limit: bigint): bigint {
      if (limit <= 0n) throw new RangeError(`random limit must be positive, not ${limit}`);
      const bits = bitLength(limit);
      const length = Math.ceil(bits / 8);
      const excess = length * 8 - bits;
      if (limit < NUMBER_LIMIT) {
        // The same draws as below, in numbers: no bigint per byte.
        const max = Number(limit);
        const scale = 2 ** excess;
        for (;;) {
          let value = 0;
          const drawn = bytes(length);
          for (let i = 0; i < length; i++) value = value * 256 + (drawn[i] ?? 0);
          value = Math.floor(value / scale);
          if (value < max) return BigInt(value);
        }
      }
      for (;;) {
        let value = 0n;
        for (const byte of bytes(length)) value = (value << 8n) | BigInt(byte);
        value >>= BigInt(excess);
        if (value < limit) return value;
      }
    },
  };
}

/** Random bytes read from the system in blocks, handed out a few at a time. */
function pooledSystemBytes(blockSize: number): (length: number) => Uint8Array {
  const pool = new Uint8Array(blockSize);
  let used = blockSize;
  return (length) => {
    if (length > blockSize) return randomFillSync(new Uint8Array(length));
    if (used + length > blockSize) {
      randomFillSync(pool);
      used = 0;
    }
    const drawn = pool.subarray(used, used + length);
    used += length;
    return drawn;
  };
}

/**
 * The operating system's cryptographic random source. Bytes are read 4 KiB
 * at a time (one call to the kernel's generator per ~500 draws, not one per
 * draw); each byte is used once.
 */
export const systemRandom: RandomSource = randomSource(pooledSystemBytes(4096));

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
