import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LabError } from '../errors.js';
import { installHint } from '../prerequisites.js';
import { runCommand } from '../process/run-command.js';
import { type CpioEntry, writeCpio } from './cpio.js';
import { isStaticElf } from './elf.js';
import { INITRAMFS_MODULE_DIRECTORY, stage1Script, stage2Script } from './guest-scripts.js';
import type { KernelImage } from './kernel-image.js';
import { moduleLoadOrder, stripModuleSignature } from './modules.js';

/** What stage 1 needs before the root is mounted: PCI virtio, 9p, the overlay, the serial ports. */
export const BOOT_MODULES = [
  'virtio_pci',
  '9pnet_virtio',
  '9p',
  'overlay',
  'virtio_console',
] as const;

/**
 * The initramfs for one kernel: busybox (static), the boot modules with
 * their dependencies in modules.dep order (signatures stripped), stage 1 as
 * /init and stage 2 to be copied into the new root.
 */
export async function buildInitramfs(
  kernel: KernelImage,
  busybox = '/bin/busybox',
): Promise<Uint8Array> {
  const busyboxBytes = await readFile(busybox).catch((error: unknown) => {
    throw new LabError('MISSING_PREREQUISITE', installHint('busybox'), { cause: error });
  });
  if (isStaticElf(busyboxBytes) !== true) {
    throw new LabError(
      'MISSING_PREREQUISITE',
      `${busybox} is not a statically linked program, and the initramfs has no C library: ` +
        'install it with `apt-get install -y --no-install-recommends busybox-static`',
    );
  }
  const modules = join(kernel.modulesDirectory, kernel.version);
  const dep = await readFile(join(modules, 'modules.dep'), 'utf8');
  const builtin = await readFile(join(modules, 'modules.builtin'), 'utf8').catch(() => '');
  const order = moduleLoadOrder(dep, builtin, BOOT_MODULES);

  const entries: CpioEntry[] = [
    ...[
      'bin',
      'dev',
      'proc',
      'sys',
      'lib',
      INITRAMFS_MODULE_DIRECTORY,
      'lower',
      'upper',
      'newroot',
    ].map((path): CpioEntry => ({ type: 'directory', path })),
    { type: 'character-device', path: 'dev/console', major: 5, minor: 1 },
    { type: 'file', path: 'bin/busybox', data: busyboxBytes, mode: 0o755 },
  ];
  const files: string[] = [];
  for (const path of order) {
    let bytes: Uint8Array = await readFile(join(modules, path));
    if (path.endsWith('.xz')) bytes = await decompress(['xz', '-dc'], bytes);
    else if (path.endsWith('.zst')) bytes = await decompress(['zstd', '-dc'], bytes);
    else if (path.endsWith('.gz')) bytes = await decompress(['gzip', '-dc'], bytes);
    const file = path.slice(path.lastIndexOf('/') + 1).replace(/\.(xz|zst|gz)$/, '');
    files.push(file);
    entries.push({
      type: 'file',
      path: `${INITRAMFS_MODULE_DIRECTORY}/${file}`,
      data: stripModuleSignature(bytes),
    });
  }
  entries.push(
    {
      type: 'file',
      path: 'init',
      data: new TextEncoder().encode(stage1Script(files)),
      mode: 0o755,
    },
    {
      type: 'file',
      path: 'stage2',
      data: new TextEncoder().encode(stage2Script(kernel.modulesDirectory)),
      mode: 0o755,
    },
  );
  return writeCpio(entries);
}

async function decompress(argv: string[], bytes: Uint8Array): Promise<Uint8Array> {
  return (await runCommand(argv, { input: bytes, check: true })).stdoutBytes;
}
