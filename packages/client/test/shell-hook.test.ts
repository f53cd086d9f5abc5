// The real thing: /bin/sh runs the operator's command.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runShellHook } from '@wg-dynamic/client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

/** The process's state letter from /proc (R, S, D, Z…), or 'gone'. */
async function runningState(pid: number): Promise<string> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
    if (stat === undefined) return 'gone';
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if (state !== 'S' && state !== 'R') return state;
    // A signal sent is delivered at once, but give the scheduler a moment.
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return 'S';
}

describe('runShellHook', () => {
  let directory: string;
  beforeEach(async () => {
    directory = await mkdtemp(join(tmpdir(), 'wg-dynamic-hook-'));
  });
  afterEach(async () => {
    await rm(directory, { recursive: true, force: true });
  });

  it('runs the command with /bin/sh -c and the variables, removing inherited ones it unsets', async () => {
    const file = join(directory, 'env');
    process.env.WG_DYNAMIC_OLD_PREFIX = 'inherited';
    try {
      const outcome = await runShellHook(
        `env | grep '^WG_DYNAMIC_' | sort > "${file}"; echo done`,
        {
          environment: {
            WG_DYNAMIC_EVENT: 'grant',
            WG_DYNAMIC_PREFIX: '2001:db8:100:5::/64',
            WG_DYNAMIC_OLD_PREFIX: undefined,
          },
          timeoutMs: 30_000,
        },
      );
      expect(outcome).toEqual({
        status: 0,
        signal: null,
        timedOut: false,
        output: 'done\n',
        truncated: false,
      });
    } finally {
      delete process.env.WG_DYNAMIC_OLD_PREFIX;
    }
    expect(await readFile(file, 'utf8')).toBe(
      'WG_DYNAMIC_EVENT=grant\nWG_DYNAMIC_PREFIX=2001:db8:100:5::/64\n',
    );
  });

  it('reports a failing status with standard output and standard error', async () => {
    const outcome = await runShellHook('echo out; echo err >&2; exit 3', {
      environment: {},
      timeoutMs: 30_000,
    });
    expect(outcome.status).toBe(3);
    expect(outcome.output).toContain('out\n');
    expect(outcome.output).toContain('err\n');
  });

  it('keeps only the first bytes of a long output', async () => {
    const outcome = await runShellHook('head -c 100000 /dev/zero | tr "\\\\0" x', {
      environment: {},
      timeoutMs: 30_000,
      maxOutputBytes: 1000,
    });
    expect(outcome.status).toBe(0);
    expect(outcome.output).toBe('x'.repeat(1000));
    expect(outcome.truncated).toBe(true);
  });

  it('stops a command that runs too long, with what it started', async () => {
    const marker = join(directory, 'child');
    const outcome = await runShellHook(`sleep 60 & echo $! > "${marker}"; wait`, {
      environment: {},
      timeoutMs: 200,
    });
    expect(outcome.timedOut).toBe(true);
    expect(outcome.status).toBeNull();
    expect(outcome.signal).toBe('SIGTERM');
    const child = Number((await readFile(marker, 'utf8')).trim());
    // The background sleep was in the hook's process group: it is gone too
    // (or a zombie, until whoever adopted it reaps it).
    expect(await runningState(child)).not.toMatch(/^[RSD]$/);
  });

  it('does not wait for a background child that keeps the output open', async () => {
    const marker = join(directory, 'child');
    const outcome = await runShellHook(`sleep 30 & echo $! > "${marker}"; echo started`, {
      environment: {},
      timeoutMs: 30_000,
    });
    expect(outcome).toMatchObject({ status: 0, timedOut: false, output: 'started\n' });
    const child = Number((await readFile(marker, 'utf8')).trim());
    process.kill(child, 'SIGKILL');
  });
});
