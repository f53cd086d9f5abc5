import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  commandScript,
  describeConsole,
  parseGuestStatus,
  shellQuote,
  stage1Script,
  stage2Script,
} from '@wg-dynamic/lab/kernel';
import { describe, expect, it } from 'vitest';

function shellAccepts(script: string): void {
  const checked = spawnSync('sh', ['-n'], { input: script, encoding: 'utf8' });
  expect(checked.stderr).toBe('');
  expect(checked.status).toBe(0);
}

describe('the guest’s scripts', () => {
  it('stage 1 loads the boot modules in the given order, then mounts and switches root', () => {
    const script = stage1Script(['virtio.ko', 'virtio_pci.ko', '9p.ko']);
    shellAccepts(script);
    const insmods = script.split('\n').filter((line) => line.startsWith('insmod '));
    expect(insmods.map((line) => line.split(' ')[1])).toEqual([
      '/lib/modules/virtio.ko',
      '/lib/modules/virtio_pci.ko',
      '/lib/modules/9p.ko',
    ]);
    const order = [
      'insmod',
      'mount -t 9p',
      'mount -t overlay',
      'cp /bin/busybox',
      'exec switch_root',
    ].map((step) => script.indexOf(step));
    expect(order).toEqual([...order].sort((a, b) => a - b));
    expect(script).toContain(
      'exec switch_root /newroot /run/kernel-lab/busybox sh /run/kernel-lab/stage2',
    );
    expect(script).toMatch(
      /-o trans=virtio,version=9p2000\.L,msize=\d+,ro,cache=loose hostroot \/lower/,
    );
  });

  it('stage 2 prepares the system, runs the command on the ports, reports its status and powers off', () => {
    const script = stage2Script("/root/.cache/it's here/lib/modules");
    shellAccepts(script);
    expect(script).toContain(
      `mount --bind '/root/.cache/it'\\''s here/lib/modules' /usr/lib/modules`,
    );
    // Each step comes after the one before it (fail() above them mentions some of them too).
    let from = script.indexOf('$B mount -t proc');
    for (const step of [
      'mount -t devtmpfs',
      'ln -sfn /proc/self/fd /dev/fd',
      // The host's /tmp is kept before a fresh one hides it.
      'mount --bind /tmp /run/kernel-lab/host-tmp',
      'mount -t tmpfs -o mode=1777,nosuid,nodev tmp /tmp',
      'mount -t 9p',
      '/sbin/modprobe wireguard',
      '/sbin/ip link set lo up',
      ': >"$C/started"',
      'sh "$C/command.sh" </dev/null >"$out" 2>"$err"',
      'echo "exit $?"',
      'echo o >/proc/sysrq-trigger',
    ]) {
      const at = script.indexOf(step, from);
      expect(at, step).toBeGreaterThan(from);
      from = at;
    }
  });

  it('runs the command in the directory and with exactly the environment given', () => {
    const directory = mkdtempSync(join(tmpdir(), "kernel-lab 'test' "));
    try {
      const script = commandScript({
        cwd: directory,
        env: { A: `it's "$HOME" \`x\``, PATH: process.env.PATH ?? '/usr/bin:/bin' },
        argv: [
          'sh',
          '-c',
          // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell parameter expansion
          'printf "%s|%s|%s|%s" "$A" "$PWD" "${HOME-unset}" "$1"',
          'sh',
          "one 'two'",
        ],
      });
      shellAccepts(script);
      // The script names busybox inside the guest for nothing but `exec`: run it with the host's env.
      const ran = spawnSync('sh', ['-c', script], { encoding: 'utf8' });
      expect(ran.stderr).toBe('');
      expect(ran.stdout).toBe(`it's "$HOME" \`x\`|${directory}|unset|one 'two'`);
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });

  it('fails with status 125 when the directory does not exist in the guest', () => {
    const ran = spawnSync(
      'sh',
      ['-c', commandScript({ cwd: '/nonexistent/dir', env: {}, argv: ['true'] })],
      {
        encoding: 'utf8',
      },
    );
    expect(ran.status).toBe(125);
    expect(ran.stderr).toContain('/nonexistent/dir');
  });

  it("binds a working directory under /tmp back from the host's /tmp, only where it is missing", () => {
    const script = commandScript({ cwd: "/tmp/ci 'x'", env: {}, argv: ['true'] });
    shellAccepts(script);
    expect(script).toContain(
      `if [ ! -d '/tmp/ci '\\''x'\\''' ] && [ -d '/run/kernel-lab/host-tmp/ci '\\''x'\\''' ]; then mkdir -p '/tmp/ci '\\''x'\\''' && mount --bind '/run/kernel-lab/host-tmp/ci '\\''x'\\''' '/tmp/ci '\\''x'\\'''; fi\ncd '/tmp/ci '\\''x'\\'''`,
    );
    expect(commandScript({ cwd: '/tmpfoo', env: {}, argv: ['true'] })).not.toContain('mount');
    expect(commandScript({ cwd: '/work/main', env: {}, argv: ['true'] })).not.toContain('mount');
  });

  it('quotes anything for the shell', () => {
    for (const text of ['', 'plain', "it's", '$(reboot)', 'a\nb', '\\']) {
      const echoed = spawnSync('sh', ['-c', `printf %s ${shellQuote(text)}`], { encoding: 'utf8' });
      expect(echoed.stdout).toBe(text);
    }
  });

  it('reads the status the guest leaves', () => {
    expect(parseGuestStatus('exit 0\n')).toEqual({ kind: 'exit', code: 0 });
    expect(parseGuestStatus('exit 137\n')).toEqual({ kind: 'exit', code: 137 });
    expect(parseGuestStatus('boot-failed modprobe wireguard failed\n')).toEqual({
      kind: 'boot-failed',
      reason: 'modprobe wireguard failed',
    });
    expect(parseGuestStatus(undefined)).toEqual({ kind: 'none' });
    expect(parseGuestStatus('')).toEqual({ kind: 'none' });
    expect(parseGuestStatus('exit 1234\n').kind).toBe('boot-failed');
    expect(parseGuestStatus('garbage').kind).toBe('boot-failed');
  });
});

describe('the guest’s console in error messages', () => {
  it('shows the panic headline and the end', () => {
    const lines = [
      '[    0.1] booting',
      '[    1.0] Kernel panic - not syncing: sysrq triggered crash',
    ];
    for (let i = 0; i < 50; i++) lines.push(`[    1.${i}] trace line ${i}`);
    const shown = describeConsole(`${lines.join('\r\n')}\r\n`).split('\n');
    expect(shown[0]).toBe('');
    expect(shown[1]).toBe("the guest's console (boot messages, the end):");
    expect(shown[2]).toBe('  [    1.0] Kernel panic - not syncing: sysrq triggered crash');
    expect(shown[3]).toBe('  …');
    expect(shown.at(-1)).toBe('  [    1.49] trace line 49');
    expect(shown.join('\n')).not.toContain('\r');
    expect(describeConsole('')).toBe('');
  });
});
