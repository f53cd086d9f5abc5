import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import { join } from 'node:path';

/** One measured number. `ceiling` is what the machine itself reaches on the same path in the same run. */
export interface Figure {
  readonly suite: string;
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  readonly ceiling?: number;
  readonly target?: string;
  readonly note?: string;
}

export interface Machine {
  readonly cores: number;
  readonly cpu: string;
  readonly memoryGiB: number;
  readonly node: string;
  readonly kernel: string;
}

export function machine(): Machine {
  const list = cpus();
  return {
    cores: list.length,
    cpu: list[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    kernel: release(),
  };
}

function formatNumber(value: number): string {
  if (value >= 100) return Math.round(value).toLocaleString('en-US');
  if (value >= 1) return value.toFixed(2);
  return value.toPrecision(3);
}

/** Prints the figures as one table and writes them, with the machine, to bench-results/<name>.json. */
export function report(name: string, figures: readonly Figure[]): void {
  const m = machine();
  const rows = figures.map((f) => [
    f.suite,
    f.name,
    `${formatNumber(f.value)} ${f.unit}`,
    f.ceiling === undefined ? '' : `${formatNumber(f.ceiling)} ${f.unit}`,
    f.ceiling === undefined ? '' : (f.value / f.ceiling).toFixed(2),
    f.target ?? '',
    f.note ?? '',
  ]);
  const header = ['suite', 'measure', 'value', 'ceiling', 'ratio', 'target', 'note'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) =>
        i === 2 || i === 3 || i === 4 ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0),
      )
      .join('  ')
      .trimEnd();
  console.log(
    `\nmachine: ${m.cores} cores (${m.cpu}), ${m.memoryGiB} GiB, Node ${m.node}, Linux ${m.kernel}\n`,
  );
  console.log(line(header));
  console.log(line(widths.map((w) => '-'.repeat(w))));
  for (const row of rows) console.log(line(row));
  const directory = 'bench-results';
  mkdirSync(directory, { recursive: true });
  const file = join(directory, `${name}.json`);
  writeFileSync(
    file,
    `${JSON.stringify({ date: new Date().toISOString(), machine: m, figures }, null, 2)}\n`,
  );
  console.log(`\nwritten to ${file}`);
}
