import { type ChildProcess, spawn } from 'node:child_process';
import { access, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FatalError } from '@wg-dynamic/cli';
import { claimPidFile } from '@wg-dynamic/client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

/** A live process whose command line names wg-dynamic-client, as a running client's does. */
function fakeClient(): Promise<ChildProcess> {
  const child = spawn(process.execPath, [
    '-e',
    'setTimeout(() => {}, 60_000)',
    'wg-dynamic-client',
  ]);
  return new Promise((resolve) => child.once('spawn', () => resolve(child)));
}

describe('claimPidFile', () => {
  let directory: string;
  const children: ChildProcess[] = [];
  beforeEach(async () => {
    directory = await mkdtemp(join(tmpdir(), 'wg-dynamic-pid-'));
  });
  afterEach(async () => {
    for (const child of children.splice(0)) child.kill('SIGKILL');
    await rm(directory, { recursive: true, force: true });
  });

  it('writes this process id, making the directory, and removes it on release', async () => {
    const path = join(directory, 'run', 'wg0.pid');
    const release = await claimPidFile(path);
    expect(await readFile(path, 'utf8')).toBe(`${process.pid}\n`);
    await release();
    await expect(access(path)).rejects.toThrow();
  });

  it('refuses while another wg-dynamic-client named in the file runs', async () => {
    const other = await fakeClient();
    children.push(other);
    const path = join(directory, 'wg0.pid');
    await writeFile(path, `${other.pid}\n`);
    await expect(claimPidFile(path)).rejects.toThrow(FatalError);
    await expect(claimPidFile(path, (pid) => `busy ${pid}`)).rejects.toThrow(`busy ${other.pid}`);
    expect(await readFile(path, 'utf8')).toBe(`${other.pid}\n`);
  });

  it('takes over a file left by a process that is gone, or that is not a client', async () => {
    const gone = await fakeClient();
    const path = join(directory, 'wg0.pid');
    await writeFile(path, `${gone.pid}\n`);
    gone.kill('SIGKILL');
    await new Promise((resolve) => gone.once('exit', resolve));
    await (await claimPidFile(path))();
    // A live process that is something else (this test runner).
    await writeFile(path, `${process.ppid}\n`);
    const release = await claimPidFile(path);
    expect(await readFile(path, 'utf8')).toBe(`${process.pid}\n`);
    await release();
  });

  it('a release leaves the file alone once another process holds it', async () => {
    const path = join(directory, 'wg0.pid');
    const release = await claimPidFile(path);
    await writeFile(path, '4242\n');
    await release();
    expect(await readFile(path, 'utf8')).toBe('4242\n');
  });
});

describe('claimPidFile, clients starting at once', () => {
  it('lets exactly one of several clients claim the same file', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'wg-dynamic-pid-'));
    const path = join(directory, 'client.lock');
    // Each child names itself wg-dynamic-client, loads the module, then
    // waits for the same moment to claim, holding what it got for a while.
    const at = Date.now() + 1500;
    const script = `
      const { claimPidFile } = await import('@wg-dynamic/client');
      await new Promise((resolve) => setTimeout(resolve, ${at} - Date.now()));
      try {
        await claimPidFile(${JSON.stringify(path)});
        process.stdout.write('claimed');
        await new Promise((resolve) => setTimeout(resolve, 1500));
      } catch (error) {
        process.stdout.write(error.message);
      }`;
    const runs = Array.from({ length: 4 }, () => {
      const child = spawn(
        process.execPath,
        ['--input-type=module', '-e', script, 'wg-dynamic-client'],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
      });
      return new Promise<string>((resolve) => child.once('close', () => resolve(out)));
    });
    try {
      const outputs = await Promise.all(runs);
      expect(outputs.filter((out) => out === 'claimed')).toHaveLength(1);
      for (const out of outputs.filter((o) => o !== 'claimed')) {
        expect(out).toMatch(/^another wg-dynamic-client \(pid \d+\) already runs/);
      }
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });
});
