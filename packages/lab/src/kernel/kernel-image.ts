import { randomBytes } from 'node:crypto';
import {
  access,
  chmod,
  mkdir,
  mkdtemp,
  open,
  readdir,
  readFile,
  rename,
  rm,
  writeFile,
} from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { LabError } from '../errors.js';
import { runCommand } from '../process/run-command.js';

/** Debian's kernel, unpacked in the cache and ready to boot. */
export interface KernelImage {
  /** e.g. 6.1.0-56-amd64 (`uname -r` in the guest). */
  readonly version: string;
  readonly packageName: string;
  readonly directory: string;
  /** The uncompressed ELF kernel. */
  readonly vmlinux: string;
  /** The package's /lib/modules (holding `<version>/`), after depmod. */
  readonly modulesDirectory: string;
}

const METAPACKAGE = 'linux-image-amd64';

/** The versioned kernel package in `apt-cache depends linux-image-amd64` output. */
export function parseKernelPackage(
  output: string,
): { packageName: string; version: string } | undefined {
  const match = /^\s*Depends:\s*(linux-image-(\d[^\s]*-amd64))\s*$/m.exec(output);
  if (!match) return undefined;
  return { packageName: match[1] as string, version: match[2] as string };
}

/** `$XDG_CACHE_HOME/wg-dynamic/kernel-lab`, or `~/.cache/wg-dynamic/kernel-lab`. */
export function kernelCacheBase(
  env: Readonly<Record<string, string | undefined>>,
  home: string,
): string {
  const xdg = env.XDG_CACHE_HOME;
  const base = xdg?.startsWith('/') ? xdg : join(home, '.cache');
  return join(base, 'wg-dynamic', 'kernel-lab');
}

/* The xz stream header magic (xz file format, section 2.1.1.1). */
const XZ_MAGIC = Uint8Array.of(0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00);

/** Where the xz-compressed kernel starts inside a bzImage; -1 when there is none. */
export function findXzStream(image: Uint8Array): number {
  outer: for (let i = 0; i + XZ_MAGIC.length <= image.length; i++) {
    for (let j = 0; j < XZ_MAGIC.length; j++) if (image[i + j] !== XZ_MAGIC[j]) continue outer;
    return i;
  }
  return -1;
}

export interface EnsureKernelOptions {
  /** Default: kernelCacheBase(process.env, homedir()). */
  readonly cacheBase?: string;
  /** Progress lines for the user (stderr). */
  readonly progress?: (line: string) => void;
}

/**
 * The current Debian kernel (linux-image-amd64's dependency), fetched with
 * `apt-get download` and unpacked with `dpkg -x` into the cache on first
 * use (never installed on the host), its modules indexed with `depmod -b`,
 * and the vmlinux cut out of the bzImage's xz stream. Concurrent first runs
 * each build their own copy and the first rename wins.
 */
export async function ensureKernelImage(options: EnsureKernelOptions = {}): Promise<KernelImage> {
  const progress = options.progress ?? (() => {});
  const depends = await runCommand(['apt-cache', 'depends', METAPACKAGE]);
  const found = parseKernelPackage(depends.stdout);
  if (depends.code !== 0 || found === undefined) {
    throw new LabError(
      'MISSING_PREREQUISITE',
      `cannot tell which kernel ${METAPACKAGE} stands for (apt-cache depends ${METAPACKAGE}: ` +
        `${depends.stderr.trim() || depends.stdout.trim() || 'no answer'}); run \`apt-get update\` first`,
    );
  }
  const base = options.cacheBase ?? kernelCacheBase(process.env, homedir());
  const directory = join(base, found.version);
  const image: KernelImage = {
    version: found.version,
    packageName: found.packageName,
    directory,
    vmlinux: join(directory, 'vmlinux'),
    modulesDirectory: join(directory, 'root', 'lib', 'modules'),
  };
  if (await exists(join(directory, 'ready'))) return image;

  progress(`kernel-lab: fetching ${found.packageName} into ${directory} (first run only)`);
  await mkdir(base, { recursive: true });
  const partial = join(base, `.partial-${process.pid}-${randomBytes(4).toString('hex')}`);
  // apt-get download runs as the _apt user: it needs a folder anyone may write (and reach).
  const download = await mkdtemp(join(tmpdir(), 'kernel-lab-download-'));
  try {
    await chmod(download, 0o777);
    await runCommand(['apt-get', 'download', '-q', found.packageName], {
      cwd: download,
      check: true,
      timeoutMs: 600_000,
    });
    const debs = (await readdir(download)).filter((name) => name.endsWith('.deb'));
    if (debs.length !== 1) {
      throw new LabError(
        'VM_FAILED',
        `apt-get download left ${debs.length} .deb files in ${download}, expected 1`,
      );
    }
    await mkdir(join(partial, 'root'), { recursive: true });
    await runCommand(['dpkg', '-x', join(download, debs[0] as string), join(partial, 'root')], {
      check: true,
      timeoutMs: 300_000,
    });
    await runCommand(['depmod', '-b', join(partial, 'root'), found.version], { check: true });
    await extractVmlinux(
      join(partial, 'root', 'boot', `vmlinuz-${found.version}`),
      join(partial, 'vmlinux'),
    );
    await writeFile(join(partial, 'ready'), `${found.packageName}\n`);
    try {
      await rename(partial, directory);
    } catch (error) {
      // Another run finished first: use its copy.
      if (!(await exists(join(directory, 'ready')))) throw error;
    }
    return image;
  } finally {
    await rm(download, { recursive: true, force: true });
    await rm(partial, { recursive: true, force: true });
  }
}

/** Cuts the xz stream out of a bzImage and decompresses it into an ELF vmlinux. */
async function extractVmlinux(bzImage: string, vmlinux: string): Promise<void> {
  const image = await readFile(bzImage);
  const start = findXzStream(image);
  if (start === -1) {
    throw new LabError(
      'VM_FAILED',
      `${bzImage} holds no xz stream: is this kernel compressed differently?`,
    );
  }
  await runCommand(['sh', '-c', 'xz -dc --single-stream > "$0"', vmlinux], {
    input: image.subarray(start),
    check: true,
    timeoutMs: 120_000,
    displayName: `xz -dc --single-stream > ${vmlinux}`,
  });
  const file = await open(vmlinux, 'r');
  const header = Buffer.alloc(4);
  try {
    await file.read(header, 0, 4, 0);
  } finally {
    await file.close();
  }
  if (!header.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]))) {
    throw new LabError(
      'VM_FAILED',
      `the xz stream in ${bzImage} did not decompress to an ELF vmlinux`,
    );
  }
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}
