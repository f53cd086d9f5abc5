// The man pages: they render with man(1) without a warning, have the
// sections an operator looks for, and cannot drift from the programs: every
// option the program's --help prints is in the page's OPTIONS, exactly as
// --help writes it, and nothing else is; every metric the server registers
// is in its METRICS, with its labels.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { CLIENT_BIN, SERVER_BIN } from './support/daemons.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('..', import.meta.url));
const METRICS_SOURCE = `${root}packages/server/src/metrics/metrics.ts`;

const PAGES = [
  {
    program: 'wg-dynamic-server',
    bin: SERVER_BIN,
    sections: ['COMMANDS', 'METRICS'],
  },
  {
    program: 'wg-dynamic-client',
    bin: CLIENT_BIN,
    sections: ['WG-QUICK: Address = ..., auto'],
  },
] as const;

const COMMON_SECTIONS = [
  'NAME',
  'SYNOPSIS',
  'DESCRIPTION',
  'OPTIONS',
  'FILES',
  'SIGNALS',
  'EXIT STATUS',
  'SYSTEMD',
  'EXAMPLES',
  'SEE ALSO',
  'AUTHORS',
];

/** `man -l` of a page at 80 columns: its text and what man and groff said on standard error. */
async function render(page: string): Promise<{ text: string; warnings: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, MANWIDTH: '80', LC_ALL: 'C.UTF-8' };
  delete env.MANPAGER;
  delete env.PAGER;
  try {
    const { stdout, stderr } = await run('man', ['--warnings', '-l', page], { env });
    return { text: stdout, warnings: stderr };
  } catch (error) {
    const failure = error as NodeJS.ErrnoException & { stderr?: string };
    if (failure.code === 'ENOENT') {
      throw new Error('man is missing: install man-db and groff-base (scripts/setup.sh does)', {
        cause: error,
      });
    }
    throw new Error(`man -l ${page} failed: ${failure.stderr ?? failure.message}`, {
      cause: error,
    });
  }
}

/** The body of one section of a rendered page (between its heading and the next). */
function section(text: string, heading: string): string {
  const lines = text.split('\n');
  const start = lines.indexOf(heading);
  if (start === -1) throw new Error(`the page has no section ${heading}`);
  const end = lines.findIndex((line, i) => i > start && /^\S/.test(line));
  return lines.slice(start + 1, end === -1 ? undefined : end).join('\n');
}

/** The entries of --help's option list, as written there: `--leasetime SECONDS`, `-h, --help`. */
function helpEntries(help: string): string[] {
  return help
    .split('\n')
    .map((line) => /^ {2}(-\S*(?: \S+)*?)(?: {2,}|$)/.exec(line)?.[1])
    .filter((entry): entry is string => entry !== undefined);
}

/** The tags of the OPTIONS section: the lines at the tag's indent that start with a dash. */
function optionTags(options: string): string[] {
  return options
    .split('\n')
    .filter((line) => /^ {7}-/.test(line))
    .map((line) => line.trim());
}

/** Each metric the server registers, with its labels, from its source. */
async function serverMetrics(): Promise<{ name: string; labels: string[] }[]> {
  const source = await readFile(METRICS_SOURCE, 'utf8');
  return source
    .split(/new (?:Counter|Gauge|Histogram)\(\{/)
    .slice(1)
    .map((block) => {
      const name = /name: '([a-z_]+)'/.exec(block)?.[1] ?? '';
      const labels = /labelNames: \[([^\]]*)\]/.exec(block)?.[1] ?? '';
      return { name, labels: [...labels.matchAll(/'([a-z_]+)'/g)].map((m) => m[1] as string) };
    });
}

describe('the man pages', () => {
  for (const page of PAGES) {
    const path = `${root}man/${page.program}.8`;

    it(`${page.program}(8) renders without warnings, with every section`, async () => {
      const { text, warnings } = await render(path);
      expect(warnings).toBe('');
      expect(text.split('\n')[0]).toMatch(new RegExp(`^${page.program.toUpperCase()}\\(8\\)`));
      for (const heading of [...COMMON_SECTIONS, ...page.sections]) {
        expect(section(text, heading).trim(), heading).not.toBe('');
      }
      expect(section(text, 'NAME').trim()).toMatch(new RegExp(`^${page.program}\\s+-\\s+\\S`));
    });

    it(`${page.program}(8) lists exactly the options of ${page.program} --help`, async () => {
      const { stdout: help } = await run(process.execPath, [page.bin, '--help']);
      const entries = helpEntries(help);
      expect(entries.length).toBeGreaterThanOrEqual(7);
      const { text } = await render(path);
      expect(optionTags(section(text, 'OPTIONS')).sort()).toEqual([...entries].sort());
      // Options named anywhere in --help (show's --json, say) are in the page too.
      for (const option of new Set(help.match(/(?<![\w-])--?[a-z][a-z0-9-]*/g) ?? [])) {
        expect(text, option).toMatch(new RegExp(`(?<![\\w-])${option}(?![\\w-])`));
      }
    });
  }

  it('wg-dynamic-server(8) names every metric the server registers, with its labels', async () => {
    const metrics = await serverMetrics();
    expect(metrics.length).toBeGreaterThanOrEqual(8);
    const { text } = await render(`${root}man/wg-dynamic-server.8`);
    const documented = section(text, 'METRICS');
    for (const { name, labels } of metrics) {
      expect(name).toMatch(/^wg_dynamic_/);
      const tag = labels.length === 0 ? name : `${name}{${labels.join(', ')}}`;
      expect(
        documented.split('\n').map((line) => line.trim()),
        tag,
      ).toContain(tag);
    }
  });
});
