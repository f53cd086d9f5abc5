import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = fileURLToPath(new URL('..', import.meta.url));
const PROGRAMS = ['wg-dynamic-server', 'wg-dynamic-client'] as const;

/**
 * The documented install command, into a prefix of the test's own: the
 * launchers run from the installed copy alone, and the unit files it
 * installs pass systemd's own checks.
 */
describe('scripts/install.sh', () => {
  let prefix: string;
  const units = () => join(prefix, 'units');

  beforeAll(async () => {
    prefix = await mkdtemp(join(tmpdir(), 'wg-dynamic-install-'));
    await run(join(root, 'scripts/install.sh'), ['--prefix', prefix, '--unit-dir', units()], {
      cwd: root,
    });
  });

  afterAll(async () => {
    await rm(prefix, { recursive: true, force: true });
  });

  it.each(PROGRAMS)('installs %s, which runs from the installed copy', async (program) => {
    const { stdout } = await run(join(prefix, 'sbin', program), ['--help'], { cwd: tmpdir() });
    expect(stdout).toMatch(new RegExp(`^Usage: ${program} `));
    const launcher = await readFile(join(prefix, 'sbin', program), 'utf8');
    expect(launcher).toContain(join(prefix, 'lib/wg-dynamic'));
    expect(launcher).not.toContain(root);
  });

  it('installs production dependencies only, and not the lab', async () => {
    const modules = await readdir(join(prefix, 'lib/wg-dynamic/node_modules'));
    expect(modules).toEqual(expect.arrayContaining(['netlink', 'pino', 'prom-client']));
    for (const dev of ['vitest', 'typescript', 'fast-check', '@biomejs'])
      expect(modules).not.toContain(dev);
    expect(await readdir(join(prefix, 'lib/wg-dynamic/node_modules/@wg-dynamic'))).not.toContain(
      'lab',
    );
  });

  it('installs unit files that systemd-analyze verify accepts', async () => {
    const instances = PROGRAMS.map((program) => join(units(), `${program}@wg0.service`));
    // Instances are verified through their template, which names the installed launchers.
    const result = await run('systemd-analyze', ['verify', '--man=no', ...instances], {
      cwd: units(),
    })
      .then(() => ({ code: 0, stderr: '' }))
      .catch((error: { code: number; stderr: string }) => error);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    for (const program of PROGRAMS) {
      const unit = await readFile(join(units(), `${program}@.service`), 'utf8');
      expect(unit).toContain(`ExecStart=${join(prefix, 'sbin', program)} %i`);
    }
  });

  it('hardens the units to what systemd-analyze security rates OK', async () => {
    for (const program of PROGRAMS) {
      const { stdout } = await run(
        'systemd-analyze',
        ['security', '--offline=true', '--no-pager', join(units(), `${program}@wg0.service`)],
        { cwd: units() },
      );
      const level = /Overall exposure level for .*: ([\d.]+) (\w+)/.exec(stdout);
      expect(level?.[2], stdout).toBe('OK');
    }
  });

  it('uninstalls exactly what it installed', async () => {
    await run(
      join(root, 'scripts/install.sh'),
      ['--prefix', prefix, '--unit-dir', units(), '--uninstall'],
      {
        cwd: root,
      },
    );
    expect(await readdir(join(prefix, 'sbin'))).toEqual([]);
    expect(await readdir(units())).toEqual([]);
    expect(await readdir(join(prefix, 'lib'))).toEqual([]);
  });
});
