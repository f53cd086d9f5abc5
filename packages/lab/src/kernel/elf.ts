/* elf.h: ELF64 header and program header layout. */
const PT_INTERP = 3;
const ELFCLASS64 = 2;
const ELFDATA2LSB = 1;

/**
 * Whether an ELF executable is statically linked (no PT_INTERP program
 * header): the initramfs has no C library, so its busybox must be static.
 * Undefined when the bytes are not a little-endian ELF64 file.
 */
export function isStaticElf(bytes: Uint8Array): boolean | undefined {
  if (bytes.length < 64) return undefined;
  if (bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46)
    return undefined;
  if (bytes[4] !== ELFCLASS64 || bytes[5] !== ELFDATA2LSB) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const programHeaders = Number(view.getBigUint64(0x20, true)); // e_phoff
  const entrySize = view.getUint16(0x36, true); // e_phentsize
  const count = view.getUint16(0x38, true); // e_phnum
  if (entrySize < 4 || programHeaders + entrySize * count > bytes.length) return undefined;
  for (let i = 0; i < count; i++) {
    if (view.getUint32(programHeaders + i * entrySize, true) === PT_INTERP) return false;
  }
  return true;
}
