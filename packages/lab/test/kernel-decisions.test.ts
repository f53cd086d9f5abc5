import {
  chooseAccelerator,
  GUEST_KERNEL_ARGUMENTS,
  guestEnvironment,
  parseCpuFlags,
  parseKernelLabArguments,
  qemuArguments,
} from '@wg-dynamic/lab/kernel';
import { describe, expect, it } from 'vitest';

const flags = (...names: string[]) => new Set(names);

describe('the kernel lab’s accelerator', () => {
  it('uses KVM only where /dev/kvm is usable, not PVM, and the CPU virtualizes', () => {
    const table = [
      [{ kvmUsable: true, kvmPvm: false, cpuFlags: flags('fpu', 'vmx') }, 'kvm'],
      [{ kvmUsable: true, kvmPvm: false, cpuFlags: flags('svm') }, 'kvm'],
      [{ kvmUsable: false, kvmPvm: false, cpuFlags: flags('vmx') }, 'tcg'],
      [{ kvmUsable: true, kvmPvm: true, cpuFlags: flags('vmx') }, 'tcg'],
      [{ kvmUsable: true, kvmPvm: false, cpuFlags: flags('fpu', 'sse2') }, 'tcg'],
    ] as const;
    for (const [facts, expected] of table)
      expect(chooseAccelerator(facts).accelerator).toBe(expected);
    expect(chooseAccelerator({ kvmUsable: true, kvmPvm: true, cpuFlags: flags() }).reason).toMatch(
      /PVM/,
    );
  });

  it('reads the CPU flags from /proc/cpuinfo', () => {
    const cpuinfo =
      'processor\t: 0\nvendor_id\t: GenuineIntel\nflags\t\t: fpu vme vmx sse2\n\nprocessor\t: 1\n';
    expect(parseCpuFlags(cpuinfo)).toEqual(new Set(['fpu', 'vme', 'vmx', 'sse2']));
    expect(parseCpuFlags('')).toEqual(new Set());
  });
});

describe('qemu’s arguments', () => {
  const base = {
    memoryMb: 2048,
    cpus: 2,
    kernel: '/cache/vmlinux',
    initrd: '/run/x/initramfs.cpio',
    rootDirectory: '/',
    controlDirectory: '/tmp/kernel-lab-1/ctl',
    stdoutSocket: '/tmp/kernel-lab-1/stdout.sock',
    stderrSocket: '/tmp/kernel-lab-1/stderr.sock',
    consoleLog: '/tmp/kernel-lab-1/console.log',
  };
  const option = (args: string[], name: string) => args.filter((_, i) => args[i - 1] === name);

  it('boots the vmlinux through PVH on a pc machine, with software emulation', () => {
    const args = qemuArguments({ ...base, accelerator: 'tcg' });
    expect(option(args, '-machine')).toEqual(['pc']);
    expect(option(args, '-accel')).toEqual(['tcg,thread=multi']);
    expect(option(args, '-cpu')).toEqual(['max']);
    expect(option(args, '-smp')).toEqual(['2']);
    expect(option(args, '-m')).toEqual(['2048']);
    expect(option(args, '-kernel')).toEqual(['/cache/vmlinux']);
    expect(option(args, '-initrd')).toEqual(['/run/x/initramfs.cpio']);
    expect(option(args, '-append')).toEqual([GUEST_KERNEL_ARGUMENTS.join(' ')]);
    expect(args).toContain('-no-reboot');
    expect(GUEST_KERNEL_ARGUMENTS).toEqual(
      expect.arrayContaining(['acpi=noirq', 'cryptomgr.notests', 'panic=-1']),
    );
  });

  it('uses KVM with the host CPU when told to', () => {
    const args = qemuArguments({ ...base, accelerator: 'kvm' });
    expect(option(args, '-accel')).toEqual(['kvm']);
    expect(option(args, '-cpu')).toEqual(['host']);
  });

  it('shares the root read-only and the control directory read-write over 9p, output over two ports', () => {
    const args = qemuArguments({ ...base, accelerator: 'tcg' });
    const fsdevs = option(args, '-fsdev');
    expect(fsdevs[0]).toBe(
      'local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap',
    );
    expect(fsdevs[1]).toBe('local,id=labctl,path=/tmp/kernel-lab-1/ctl,security_model=none');
    const devices = option(args, '-device');
    expect(devices).toContain('virtserialport,chardev=stdout,name=lab.stdout');
    expect(devices).toContain('virtserialport,chardev=stderr,name=lab.stderr');
    expect(option(args, '-chardev')).toContain(
      'socket,id=stdout,path=/tmp/kernel-lab-1/stdout.sock',
    );
  });

  it('doubles commas in paths, as qemu’s option syntax needs', () => {
    const args = qemuArguments({ ...base, accelerator: 'tcg', controlDirectory: '/tmp/a,b' });
    expect(option(args, '-fsdev')[1]).toBe('local,id=labctl,path=/tmp/a,,b,security_model=none');
  });
});

describe('the guest’s environment', () => {
  it('passes PATH, HOME, locale, CI and project variables, and nothing else', () => {
    const env = guestEnvironment({
      PATH: '/usr/bin:/bin',
      HOME: '/root',
      LANG: 'C.UTF-8',
      CI: 'true',
      GITHUB_ACTIONS: 'true',
      WG_DYNAMIC_DEMO: 'x',
      SSH_AUTH_SOCK: '/tmp/agent',
      AWS_SECRET_ACCESS_KEY: 'secret',
    });
    expect(env).toEqual({
      PATH: '/usr/bin:/bin',
      HOME: '/root',
      LANG: 'C.UTF-8',
      CI: 'true',
      GITHUB_ACTIONS: 'true',
      WG_DYNAMIC_DEMO: 'x',
      WG_DYNAMIC_LAB_SANDBOX: '1',
      WG_DYNAMIC_LAB_BACKEND: 'kernel',
    });
  });

  it('always runs the kernel backend in a sandbox, whatever the host says', () => {
    const env = guestEnvironment({
      WG_DYNAMIC_LAB_BACKEND: 'userspace',
      WG_DYNAMIC_LAB_SANDBOX: '0',
    });
    expect(env.WG_DYNAMIC_LAB_BACKEND).toBe('kernel');
    expect(env.WG_DYNAMIC_LAB_SANDBOX).toBe('1');
    expect(env.PATH).toContain('/usr/sbin');
  });

  it('keeps colours for a terminal unless NO_COLOR or FORCE_COLOR says otherwise', () => {
    expect(guestEnvironment({}, { colors: true }).FORCE_COLOR).toBe('1');
    expect(guestEnvironment({}, { colors: false }).FORCE_COLOR).toBeUndefined();
    expect(guestEnvironment({ NO_COLOR: '1' }, { colors: true }).FORCE_COLOR).toBeUndefined();
    expect(guestEnvironment({ FORCE_COLOR: '0' }, { colors: true }).FORCE_COLOR).toBe('0');
  });
});

describe('kernel-lab’s command line', () => {
  it('has defaults for a vitest run: 2 GB, 2 CPUs, 15 minutes', () => {
    expect(parseKernelLabArguments(['--', 'vitest', 'run'])).toEqual({
      memoryMb: 2048,
      cpus: 2,
      timeoutSeconds: 900,
      command: ['vitest', 'run'],
    });
  });

  it('takes options with a space or an equals sign, and leaves the command alone', () => {
    expect(
      parseKernelLabArguments([
        '--memory',
        '1024',
        '--cpus=4',
        '--timeout',
        '60',
        '--',
        'ls',
        '--all',
        '--',
      ]),
    ).toEqual({ memoryMb: 1024, cpus: 4, timeoutSeconds: 60, command: ['ls', '--all', '--'] });
    expect(parseKernelLabArguments(['--help'])).toBe('help');
  });

  it('refuses what it cannot use, with the usage', () => {
    for (const argv of [
      [],
      ['--'],
      ['--memory', 'lots', '--', 'true'],
      ['--memory', '128', '--', 'true'],
      ['--cpus', '0', '--', 'true'],
      ['--timeout', '-5', '--', 'true'],
      ['--verbose', '--', 'true'],
      ['true'],
    ]) {
      expect(() => parseKernelLabArguments(argv)).toThrow(/usage: kernel-lab/);
    }
  });
});
