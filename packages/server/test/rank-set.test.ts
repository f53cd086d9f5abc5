import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RankSet } from '../src/allocator/rank-set.js';

/** The obvious model: a sorted array. */
function nthAbsent(members: readonly bigint[], r: bigint): bigint {
  let candidate = r;
  for (const m of [...members].sort((a, b) => (a < b ? -1 : 1))) {
    if (m <= candidate) candidate += 1n;
    else break;
  }
  return candidate;
}

describe('RankSet', () => {
  it('behaves like a sorted array under any sequence of adds and deletes', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.boolean(), fc.bigInt({ min: 0n, max: 200n })), { maxLength: 300 }),
        fc.array(fc.bigInt({ min: 0n, max: 400n }), { maxLength: 20 }),
        (operations, probes) => {
          const set = new RankSet();
          const model = new Set<bigint>();
          for (const [add, key] of operations) {
            if (add) expect(set.add(key)).toBe(!model.has(key));
            else expect(set.delete(key)).toBe(model.has(key));
            if (add) model.add(key);
            else model.delete(key);
          }
          set.verify();
          const sorted = [...model].sort((a, b) => (a < b ? -1 : 1));
          expect([...set]).toEqual(sorted);
          expect(set.size).toBe(model.size);
          for (const probe of probes) {
            expect(set.has(probe)).toBe(model.has(probe));
            expect(set.countBelow(probe)).toBe(sorted.filter((m) => m < probe).length);
            const absent = set.nthAbsent(probe);
            expect(absent).toBe(nthAbsent(sorted, probe));
            expect(model.has(absent)).toBe(false);
          }
        },
      ),
    );
  });

  it('stays balanced with sequential keys', () => {
    const set = new RankSet();
    for (let i = 0n; i < 10_000n; i++) set.add(i);
    set.verify();
    expect(set.nthAbsent(0n)).toBe(10_000n);
    for (let i = 0n; i < 10_000n; i += 2n) set.delete(i);
    set.verify();
    expect(set.nthAbsent(3n)).toBe(6n);
  });
});
