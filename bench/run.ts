/**
 * The benchmark command: `npm run bench [-- suite...]`. Prints one table and
 * writes the same figures to bench-results/. Never part of the test suite.
 */
import { type Figure, report } from './lib/report.js';

type Suite = () => Figure[] | Promise<Figure[]>;

const suites: Record<string, () => Promise<{ default: Suite }>> = {
  codec: () => import('./codec.js'),
  journal: () => import('./journal.js'),
};

const requested = process.argv.slice(2);
const unknown = requested.filter((name) => !(name in suites));
if (unknown.length > 0) {
  console.error(
    `unknown benchmark ${unknown.join(', ')}; known: ${Object.keys(suites).join(', ')}`,
  );
  process.exit(2);
}
const names = requested.length > 0 ? requested : Object.keys(suites);
const figures: Figure[] = [];
for (const name of names) {
  const load = suites[name];
  if (!load) continue;
  const suite = await load();
  figures.push(...(await suite.default()));
}
report(names.length === Object.keys(suites).length ? 'all' : names.join('-'), figures);
