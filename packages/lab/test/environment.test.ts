import {
  assertInterfaceName,
  backendFromEnvironment,
  isInSandbox,
  LabError,
  requireSandbox,
} from '@wg-dynamic/lab';
import { describe, expect, it } from 'vitest';

describe('the lab environment', () => {
  it('is a sandbox only when WG_DYNAMIC_LAB_SANDBOX is exactly 1', () => {
    expect(isInSandbox({ WG_DYNAMIC_LAB_SANDBOX: '1' })).toBe(true);
    expect(isInSandbox({ WG_DYNAMIC_LAB_SANDBOX: 'true' })).toBe(false);
    expect(isInSandbox({})).toBe(false);
    expect(() => requireSandbox('a lab', {})).toThrow(/lab-sandbox/);
    expect(() => requireSandbox('a lab', { WG_DYNAMIC_LAB_SANDBOX: '1' })).not.toThrow();
  });

  it('picks the backend from WG_DYNAMIC_LAB_BACKEND, userspace by default', () => {
    expect(backendFromEnvironment({})).toBe('userspace');
    expect(backendFromEnvironment({ WG_DYNAMIC_LAB_BACKEND: '' })).toBe('userspace');
    expect(backendFromEnvironment({ WG_DYNAMIC_LAB_BACKEND: 'kernel' })).toBe('kernel');
    expect(() => backendFromEnvironment({ WG_DYNAMIC_LAB_BACKEND: 'Kernel' })).toThrow(LabError);
  });
});

describe('interface names', () => {
  it('accepts what the kernel accepts', () => {
    for (const name of ['wg0', 'wg-mesh', 'eth0.100', 'a'.repeat(15)]) {
      expect(() => assertInterfaceName(name)).not.toThrow();
    }
  });

  it('refuses what the kernel refuses, saying why', () => {
    expect(() => assertInterfaceName('')).toThrow(/empty/);
    expect(() => assertInterfaceName('a'.repeat(16))).toThrow(/longer than 15 bytes/);
    expect(() => assertInterfaceName('..')).toThrow(/"\."/);
    for (const name of ['wg/0', 'wg:0', 'wg 0', 'wg\t0']) {
      expect(() => assertInterfaceName(name)).toThrow(LabError);
    }
  });
});
