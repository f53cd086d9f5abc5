import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { join } from 'node:path';

/**
 * One measured number. `ceiling` is what the machine itself reaches on the
 * same path in the same run; the table's ratio is the figure's share of the
 * ceiling's performance (value / ceiling, or ceiling / value when lower is
 * better, as for a latency), so 1 means "as good as the machine allows".
 * A figure that could not be measured has `notRun` (why) and no value.
 */
export interface Figure {
  readonly suite: string;
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  readonly ceiling?: number;
  readonly lowerIsBetter?: boolean;
  readonly target?: string;
  readonly note?: string;
  readonly notRun?: string;
}

/** The one row a suite gives when it cannot run here, saying why (a suite never skips silently). */
export function notRun(suite: string, reason: string): Figure[] {
  return [{ suite, name: '(whole suite)', value: Number.NaN, unit: '', notRun: reason }];
}

/** The figure's share of the ceiling's performance (1: as good as the machine allows). */
export function ratio(figure: Figure): number | undefined {
  if (figure.ceiling === undefined || figure.notRun !== undefined) return undefined;
  return figure.lowerIsBetter ? figure.ceiling / figure.value : figure.value / figure.ceiling;
}

export interface Machine {
  readonly cores: number;
  readonly cpu: string;
  readonly memoryGiB: number;
  readonly node: string;
  readonly kernel: string;
  /** The 1-minute load average when the run ended: other work on the machine skews every figure. */
  readonly loadAverage: number;
}

export function machine(): Machine {
  const list = cpus();
  return {
    cores: list.length,
    cpu: list[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    kernel: release(),
    loadAverage: Math.round((loadavg()[0] ?? 0) * 100) / 100,
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
    f.notRun === undefined ? `${formatNumber(f.value)} ${f.unit}` : 'NOT RUN',
    f.ceiling === undefined ? '' : `${formatNumber(f.ceiling)} ${f.unit}`,
    ratio(f)?.toFixed(2) ?? '',
    f.target ?? '',
    f.notRun ?? f.note ?? '',
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
    `\nmachine: ${m.cores} cores (${m.cpu}), ${m.memoryGiB} GiB, Node ${m.node}, Linux ${m.kernel}, load average ${m.loadAverage}\n` +
      'ratio: the share of the ceiling (the machine itself on the same path, same run) reached; 1 is the most possible\n',
  );
  console.log(line(header));
  console.log(line(widths.map((w) => '-'.repeat(w))));
  for (const row of rows) console.log(line(row));
  const directory = 'bench-results';
  mkdirSync(directory, { recursive: true });
  const file = join(directory, `${name}.json`);
  writeFileSync(
    file,
    `${JSON.stringify(
      {
        date: new Date().toISOString(),
        machine: m,
        figures: figures.map((f) => ({
          ...f,
          value: f.notRun === undefined ? f.value : null,
          ratio: ratio(f),
        })),
      },
      null,
      2,
    )}\n`,
  );
  console.log(`\nwritten to ${file}`);
}
