import { access } from 'node:fs/promises';
import {
  backendFromEnvironment,
  createWireGuardInterface,
  LabError,
  runCommand,
  SANDBOX_ENV,
} from '@wg-dynamic/lab';
import { afterEach, describe, expect, it } from 'vitest';

const backend = backendFromEnvironment();
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function linkExists(name: string): Promise<boolean> {
  return (await runCommand(['ip', 'link', 'show', 'dev', name])).code === 0;
}

describe(`createWireGuardInterface (${backend} backend)`, () => {
  it('makes a WireGuard interface that wg(8) sees, and destroy removes it', async () => {
    const device = await createWireGuardInterface('wglab0');
    cleanups.push(() => device.destroy());
    expect(device).toMatchObject({ name: 'wglab0', backend });

    expect(await linkExists('wglab0')).toBe(true);
    const shown = await runCommand(['wg', 'show', 'wglab0'], { check: true });
    expect(shown.stdout).toContain('interface: wglab0');
    const key = await runCommand(['wg', 'show', 'wglab0', 'private-key'], { check: true });
    expect(key.stdout.trim()).toBe('(none)');

    await device.destroy();
    expect(await linkExists('wglab0')).toBe(false);
    expect((await runCommand(['wg', 'show', 'wglab0'])).code).not.toBe(0);
    await expect(access('/run/wireguard/wglab0.sock')).rejects.toThrow();
    await device.destroy(); // idempotent
  });

  it('is configurable with wg set once created', async () => {
    const device = await createWireGuardInterface('wglab1');
    cleanups.push(() => device.destroy());
    await runCommand(['wg', 'set', 'wglab1', 'listen-port', '51999'], { check: true });
    const port = await runCommand(['wg', 'show', 'wglab1', 'listen-port'], { check: true });
    expect(port.stdout.trim()).toBe('51999');
  });

  it('works with Symbol.asyncDispose', async () => {
    const device = await createWireGuardInterface('wglab2');
    cleanups.push(() => device.destroy());
    await device[Symbol.asyncDispose]();
    expect(await linkExists('wglab2')).toBe(false);
  });

  it('refuses a name that is taken, and leaves the existing interface alone', async () => {
    const device = await createWireGuardInterface('wglab3');
    cleanups.push(() => device.destroy());
    await expect(createWireGuardInterface('wglab3')).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringContaining('already exists'),
    });
    expect((await runCommand(['wg', 'show', 'wglab3'])).code).toBe(0);
  });

  it('refuses a name the kernel would refuse', async () => {
    await expect(createWireGuardInterface('a-name-that-is-too-long')).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
    await expect(createWireGuardInterface('wg/0')).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
  });

  it('says how to install wireguard-go when it is missing', async () => {
    const attempt = createWireGuardInterface('wglab4', {
      backend: 'userspace',
      wireguardGo: '/nonexistent/wireguard-go',
    });
    await expect(attempt).rejects.toBeInstanceOf(LabError);
    await expect(attempt).rejects.toMatchObject({
      code: 'MISSING_PREREQUISITE',
      message: expect.stringContaining('apt-get install -y --no-install-recommends wireguard-go'),
    });
    expect(await linkExists('wglab4')).toBe(false);
  });

  it('reports why wireguard-go exited before it was ready', async () => {
    // /bin/false stands in for a wireguard-go that fails at start-up.
    const attempt = createWireGuardInterface('wglab5', {
      backend: 'userspace',
      wireguardGo: '/bin/false',
    });
    await expect(attempt).rejects.toMatchObject({
      code: 'PROCESS_EXITED',
      message: expect.stringContaining('/run/wireguard/wglab5.sock'),
    });
  });

  it('refuses to run outside a lab sandbox', async () => {
    const saved = process.env[SANDBOX_ENV];
    process.env[SANDBOX_ENV] = '0';
    try {
      await expect(createWireGuardInterface('wglab6')).rejects.toMatchObject({
        code: 'NOT_IN_SANDBOX',
        message: expect.stringContaining('lab-sandbox'),
      });
    } finally {
      process.env[SANDBOX_ENV] = saved;
    }
    expect(await linkExists('wglab6')).toBe(false);
  });
});
