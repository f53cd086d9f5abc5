import {
  findXzStream,
  isStaticElf,
  kernelCacheBase,
  moduleLoadOrder,
  moduleName,
  parseKernelPackage,
  stripModuleSignature,
  writeCpio,
} from '@wg-dynamic/lab/kernel';
import { describe, expect, it } from 'vitest';

describe('finding the kernel', () => {
  it('reads the versioned package from apt-cache depends', () => {
    expect(
      parseKernelPackage('linux-image-amd64\n  Depends: linux-image-6.1.0-56-amd64\n'),
    ).toEqual({
      packageName: 'linux-image-6.1.0-56-amd64',
      version: '6.1.0-56-amd64',
    });
    expect(parseKernelPackage('linux-image-amd64\n')).toBeUndefined();
    expect(parseKernelPackage('  Depends: <linux-image-6.1.0-56-amd64>\n')).toBeUndefined();
  });

  it('caches under XDG_CACHE_HOME, else ~/.cache', () => {
    expect(kernelCacheBase({ XDG_CACHE_HOME: '/var/cache/me' }, '/root')).toBe(
      '/var/cache/me/wg-dynamic/kernel-lab',
    );
    expect(kernelCacheBase({}, '/home/ci')).toBe('/home/ci/.cache/wg-dynamic/kernel-lab');
    // The XDG spec ignores relative paths.
    expect(kernelCacheBase({ XDG_CACHE_HOME: 'relative' }, '/root')).toBe(
      '/root/.cache/wg-dynamic/kernel-lab',
    );
  });

  it('finds the xz stream inside a bzImage', () => {
    const image = Uint8Array.of(
      0x4d,
      0x5a,
      0xfd,
      0x37,
      0x7a,
      0x58,
      0x5a,
      0x01,
      0xfd,
      0x37,
      0x7a,
      0x58,
      0x5a,
      0x00,
      1,
    );
    expect(findXzStream(image)).toBe(8);
    expect(findXzStream(Uint8Array.of(1, 2, 3))).toBe(-1);
  });
});

describe('kernel modules', () => {
  const dep = [
    'kernel/drivers/virtio/virtio_pci.ko: kernel/drivers/virtio/virtio_pci_modern_dev.ko kernel/drivers/virtio/virtio_ring.ko kernel/drivers/virtio/virtio.ko',
    'kernel/drivers/virtio/virtio_pci_modern_dev.ko:',
    'kernel/drivers/virtio/virtio_ring.ko: kernel/drivers/virtio/virtio.ko',
    'kernel/drivers/virtio/virtio.ko:',
    'kernel/net/9p/9pnet.ko:',
    'kernel/net/9p/9pnet_virtio.ko: kernel/net/9p/9pnet.ko kernel/drivers/virtio/virtio_ring.ko kernel/drivers/virtio/virtio.ko',
    'kernel/fs/9p/9p.ko.xz: kernel/net/9p/9pnet.ko kernel/fs/netfs/netfs.ko',
    'kernel/fs/netfs/netfs.ko:',
    '',
  ].join('\n');

  it('loads dependencies first, each once', () => {
    expect(moduleLoadOrder(dep, '', ['virtio_pci', '9pnet_virtio', '9p'])).toEqual([
      'kernel/drivers/virtio/virtio_pci_modern_dev.ko',
      'kernel/drivers/virtio/virtio.ko',
      'kernel/drivers/virtio/virtio_ring.ko',
      'kernel/drivers/virtio/virtio_pci.ko',
      'kernel/net/9p/9pnet.ko',
      'kernel/net/9p/9pnet_virtio.ko',
      'kernel/fs/netfs/netfs.ko',
      'kernel/fs/9p/9p.ko.xz',
    ]);
  });

  it('skips built-in modules and refuses unknown ones', () => {
    expect(moduleLoadOrder(dep, 'kernel/fs/overlayfs/overlay.ko\n', ['overlay'])).toEqual([]);
    expect(() => moduleLoadOrder(dep, '', ['overlay'])).toThrow(/no module overlay/);
  });

  it('names modules as modprobe does', () => {
    expect(moduleName('kernel/drivers/char/virtio_console.ko.zst')).toBe('virtio_console');
    expect(moduleName('snd-hda-intel.ko')).toBe('snd_hda_intel');
  });

  it('strips an appended signature, and leaves unsigned modules alone', () => {
    const body = new TextEncoder().encode('\x7fELF module body');
    const signature = new Uint8Array(20).fill(0xaa);
    const info = new Uint8Array(12);
    new DataView(info.buffer).setUint32(8, signature.length, false);
    const magic = new TextEncoder().encode('~Module signature appended~\n');
    const signed = Uint8Array.from([...body, ...signature, ...info, ...magic]);
    expect(stripModuleSignature(signed)).toEqual(body);
    expect(stripModuleSignature(body)).toBe(body);
  });
});

/** A minimal little-endian ELF64 header with the given program header types. */
function elf(programTypes: number[]): Uint8Array {
  const bytes = new Uint8Array(64 + 56 * programTypes.length);
  bytes.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]);
  const view = new DataView(bytes.buffer);
  view.setBigUint64(0x20, 64n, true);
  view.setUint16(0x36, 56, true);
  view.setUint16(0x38, programTypes.length, true);
  for (const [i, type] of programTypes.entries()) view.setUint32(64 + 56 * i, type, true);
  return bytes;
}

describe('static programs', () => {
  it('are ELF files without an interpreter', () => {
    expect(isStaticElf(elf([1, 1]))).toBe(true);
    expect(isStaticElf(elf([6, 3, 1]))).toBe(false);
    expect(
      isStaticElf(
        new TextEncoder().encode('#!/bin/sh\necho not an ELF file, not at all\n'.repeat(2)),
      ),
    ).toBeUndefined();
  });
});

/** Reads a newc archive back (what the kernel does with an initramfs). */
function readCpio(archive: Uint8Array) {
  const text = (from: number, length: number) =>
    new TextDecoder().decode(archive.subarray(from, from + length));
  const entries: { name: string; mode: number; rdev: [number, number]; data: string }[] = [];
  let at = 0;
  for (;;) {
    expect(text(at, 6)).toBe('070701');
    const field = (i: number) => Number.parseInt(text(at + 6 + i * 8, 8), 16);
    const size = field(6);
    const nameSize = field(11);
    const name = text(at + 110, nameSize - 1);
    const dataAt = Math.ceil((at + 110 + nameSize) / 4) * 4;
    if (name === 'TRAILER!!!') break;
    entries.push({ name, mode: field(1), rdev: [field(9), field(10)], data: text(dataAt, size) });
    at = Math.ceil((dataAt + size) / 4) * 4;
  }
  expect(archive.length % 4).toBe(0);
  return entries;
}

describe('the initramfs archive', () => {
  it('holds directories, files, links and device nodes as the kernel reads them', () => {
    const archive = writeCpio([
      { type: 'directory', path: 'bin' },
      { type: 'file', path: 'init', data: new TextEncoder().encode('#!/bin/sh\n'), mode: 0o755 },
      { type: 'symlink', path: 'bin/sh', target: 'busybox' },
      { type: 'character-device', path: 'dev/console', major: 5, minor: 1 },
      { type: 'file', path: 'odd', data: new TextEncoder().encode('12345') },
    ]);
    expect(readCpio(archive)).toEqual([
      { name: 'bin', mode: 0o040755, rdev: [0, 0], data: '' },
      { name: 'init', mode: 0o100755, rdev: [0, 0], data: '#!/bin/sh\n' },
      { name: 'bin/sh', mode: 0o120777, rdev: [0, 0], data: 'busybox' },
      { name: 'dev/console', mode: 0o020600, rdev: [5, 1], data: '' },
      { name: 'odd', mode: 0o100644, rdev: [0, 0], data: '12345' },
    ]);
  });

  it('refuses absolute names', () => {
    expect(() => writeCpio([{ type: 'directory', path: '/bin' }])).toThrow(RangeError);
  });
});
