/** One entry of an initramfs. Paths are relative ("bin/busybox"), without a leading slash. */
export type CpioEntry =
  | { readonly type: 'directory'; readonly path: string; readonly mode?: number }
  | {
      readonly type: 'file';
      readonly path: string;
      readonly data: Uint8Array;
      readonly mode?: number;
    }
  | { readonly type: 'symlink'; readonly path: string; readonly target: string }
  | {
      readonly type: 'character-device';
      readonly path: string;
      readonly major: number;
      readonly minor: number;
      readonly mode?: number;
    };

/* linux/stat.h file types */
const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;
const TRAILER = 'TRAILER!!!';

/**
 * Writes a "newc" cpio archive (the format the kernel unpacks as initramfs,
 * Documentation/driver-api/early-userspace/buffer-format.rst): a 110-byte
 * ASCII header per entry, the NUL-terminated name and the data, each padded
 * to 4 bytes, then the TRAILER!!! entry. Owner root, mtime 0.
 */
export function writeCpio(entries: readonly CpioEntry[]): Uint8Array {
  const chunks: Uint8Array[] = [];
  let offset = 0;
  const push = (bytes: Uint8Array) => {
    chunks.push(bytes);
    offset += bytes.length;
  };
  const pad = () => {
    const rest = (4 - (offset % 4)) % 4;
    if (rest > 0) push(new Uint8Array(rest));
  };
  const entry = (
    ino: number,
    name: string,
    mode: number,
    data: Uint8Array,
    rdev: readonly [number, number] = [0, 0],
  ) => {
    if (name.startsWith('/') || name.includes('\0')) {
      throw new RangeError(`cpio entry name "${name}" must be relative and without NUL`);
    }
    const nameBytes = new TextEncoder().encode(`${name}\0`);
    const fields = [
      ino,
      mode,
      0,
      0,
      1,
      0,
      data.length,
      0,
      0,
      rdev[0],
      rdev[1],
      nameBytes.length,
      0,
    ];
    push(new TextEncoder().encode(`070701${fields.map(hex8).join('')}`));
    push(nameBytes);
    pad();
    push(data);
    pad();
  };
  let ino = 1;
  for (const item of entries) {
    switch (item.type) {
      case 'directory':
        entry(ino++, item.path, S_IFDIR | (item.mode ?? 0o755), new Uint8Array());
        break;
      case 'file':
        entry(ino++, item.path, S_IFREG | (item.mode ?? 0o644), item.data);
        break;
      case 'symlink':
        entry(ino++, item.path, S_IFLNK | 0o777, new TextEncoder().encode(item.target));
        break;
      case 'character-device':
        entry(ino++, item.path, S_IFCHR | (item.mode ?? 0o600), new Uint8Array(), [
          item.major,
          item.minor,
        ]);
        break;
    }
  }
  entry(0, TRAILER, 0, new Uint8Array());
  const archive = new Uint8Array(offset);
  let at = 0;
  for (const chunk of chunks) {
    archive.set(chunk, at);
    at += chunk.length;
  }
  return archive;
}

function hex8(value: number): string {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new RangeError(`${value} does not fit a cpio header field`);
  }
  return value.toString(16).padStart(8, '0');
}
