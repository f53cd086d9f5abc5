/**
 * The benchmark command: `npm run bench [-- suite...]`. Runs the suites (all
 * of them without arguments), prints one table with the machine it ran on,
 * and writes the same figures to bench-results/<all|suites>.json. Never part
 * of the test suite, and never fails on a time.
 *
 * Some suites need root and network namespaces (a real WireGuard device, or
 * two namespaces joined by a veth). Run as root outside a lab sandbox, the
 * command runs itself inside one (packages/lab/bin/lab-sandbox), so every
 * namespace and process a suite makes disappears with it; run as another
 * user, those suites say in the table that they did not run, and why.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { isInSandbox } from '@wg-dynamic/lab';
import { type Figure, notRun, report } from './lib/report.js';

type Suite = () => Figure[] | Promise<Figure[]>;

const suites: Record<string, () => Promise<{ default: Suite }>> = {
  codec: () => import('./codec.js'),
  allocator: () => import('./allocator.js'),
  journal: () => import('./journal.js'),
  server: () => import('./server.js'),
  device: () => import('./device.js'),
  client: () => import('./client.js'),
};

const requested = process.argv.slice(2);
const unknown = requested.filter((name) => !(name in suites));
if (unknown.length > 0) {
  console.error(
    `unknown benchmark ${unknown.join(', ')}; known: ${Object.keys(suites).join(', ')}`,
  );
  process.exit(2);
}

if (!isInSandbox() && process.getuid?.() === 0) {
  const sandbox = fileURLToPath(new URL('../../packages/lab/bin/lab-sandbox', import.meta.url));
  const run = spawnSync(sandbox, [process.execPath, fileURLToPath(import.meta.url), ...requested], {
    stdio: 'inherit',
  });
  process.exit(run.status ?? 1);
}

const names = requested.length > 0 ? requested : Object.keys(suites);
const figures: Figure[] = [];
let failed = false;
for (const name of names) {
  const load = suites[name];
  if (!load) continue;
  console.error(`bench ${name}: running`);
  const started = performance.now();
  try {
    const suite = await load();
    const measured = await suite.default();
    figures.push(
      ...(measured.length > 0
        ? measured
        : notRun(name, 'measured nothing here; its own message above says why')),
    );
  } catch (error) {
    failed = true;
    console.error(`bench ${name} failed:`, error);
    figures.push(...notRun(name, `FAILED: ${error instanceof Error ? error.message : error}`));
  }
  console.error(`bench ${name}: ${((performance.now() - started) / 1000).toFixed(1)} s`);
}
report(names.length === Object.keys(suites).length ? 'all' : names.join('-'), figures);
process.exit(failed ? 1 : 0);
