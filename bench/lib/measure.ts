/**
 * Runs `operation` in growing batches until `seconds` have passed and returns
 * operations per second. `operation` gets the iteration number.
 */
export function rate(operation: (i: number) => void, seconds = 1): number {
  // Warm up the JIT before timing.
  for (let i = 0; i < 10_000; i++) operation(i);
  let iterations = 0;
  let batch = 1_000;
  const start = process.hrtime.bigint();
  const budget = BigInt(Math.round(seconds * 1e9));
  let elapsed = 0n;
  while (elapsed < budget) {
    for (let i = 0; i < batch; i++) operation(iterations + i);
    iterations += batch;
    batch = Math.min(batch * 2, 1_000_000);
    elapsed = process.hrtime.bigint() - start;
  }
  return iterations / (Number(elapsed) / 1e9);
}

/** Wall-clock milliseconds of one run of an async operation. */
export async function timeMs(operation: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  await operation();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

/** The p-th percentile (0..100) of a list of numbers. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] ?? Number.NaN;
}
