import { constants } from 'node:fs';
import { access, readFile } from 'node:fs/promises';

/** What decides between hardware virtualization and software emulation. */
export interface AcceleratorFacts {
  /** /dev/kvm exists and this process may open it read-write. */
  readonly kvmUsable: boolean;
  /** /sys/module/kvm_pvm exists: a nested "PVM" KVM, on which stock kernels never finish booting. */
  readonly kvmPvm: boolean;
  /** The CPU flags from /proc/cpuinfo. */
  readonly cpuFlags: ReadonlySet<string>;
}

export interface AcceleratorChoice {
  readonly accelerator: 'kvm' | 'tcg';
  /** Why, in words for the log. */
  readonly reason: string;
}

/** KVM only where it really works; else qemu's software emulation (TCG). */
export function chooseAccelerator(facts: AcceleratorFacts): AcceleratorChoice {
  if (!facts.kvmUsable)
    return { accelerator: 'tcg', reason: '/dev/kvm is missing or not writable' };
  if (facts.kvmPvm) {
    return {
      accelerator: 'tcg',
      reason: '/dev/kvm is a nested PVM KVM (kvm_pvm), which cannot boot a stock kernel',
    };
  }
  if (!facts.cpuFlags.has('vmx') && !facts.cpuFlags.has('svm')) {
    return { accelerator: 'tcg', reason: 'the CPU shows neither vmx nor svm' };
  }
  return {
    accelerator: 'kvm',
    reason: `/dev/kvm works and the CPU has ${facts.cpuFlags.has('vmx') ? 'vmx' : 'svm'}`,
  };
}

/** The flags of the first processor in /proc/cpuinfo. */
export function parseCpuFlags(cpuinfo: string): Set<string> {
  const line = cpuinfo.split('\n').find((candidate) => /^flags\s*:/.test(candidate));
  if (line === undefined) return new Set();
  return new Set(
    line
      .slice(line.indexOf(':') + 1)
      .trim()
      .split(/\s+/),
  );
}

export async function probeAcceleratorFacts(): Promise<AcceleratorFacts> {
  const kvmUsable = await access('/dev/kvm', constants.R_OK | constants.W_OK).then(
    () => true,
    () => false,
  );
  const kvmPvm = await access('/sys/module/kvm_pvm').then(
    () => true,
    () => false,
  );
  const cpuinfo = await readFile('/proc/cpuinfo', 'utf8').catch(() => '');
  return { kvmUsable, kvmPvm, cpuFlags: parseCpuFlags(cpuinfo) };
}
