import { LabError } from '../errors.js';

/** A module's name as modprobe compares them: no directory, no .ko[.xz|.zst|.gz], "-" as "_". */
export function moduleName(path: string): string {
  const base = path.slice(path.lastIndexOf('/') + 1);
  return base.replace(/\.ko(\.(xz|zst|gz))?$/, '').replaceAll('-', '_');
}

/**
 * The module files to load, dependencies first, for the wanted modules, from
 * the text of modules.dep ("path: dep dep …", each dep listed with the ones
 * it needs after it). Wanted modules built into the kernel (listed in
 * modules.builtin) are skipped; any other missing one is an error.
 */
export function moduleLoadOrder(
  modulesDep: string,
  modulesBuiltin: string,
  wanted: readonly string[],
): string[] {
  const dependencies = new Map<string, { path: string; needs: string[] }>();
  for (const line of modulesDep.split('\n')) {
    const colon = line.indexOf(':');
    if (colon === -1) continue;
    const path = line.slice(0, colon).trim();
    const needs = line
      .slice(colon + 1)
      .trim()
      .split(/\s+/)
      .filter(Boolean);
    dependencies.set(moduleName(path), { path, needs });
  }
  const builtin = new Set(
    modulesBuiltin
      .split('\n')
      .filter(Boolean)
      .map((path) => moduleName(path)),
  );
  const order: string[] = [];
  const placed = new Set<string>();
  const visiting = new Set<string>();
  const visit = (name: string, chain: readonly string[]) => {
    if (placed.has(name)) return;
    const entry = dependencies.get(name);
    if (entry === undefined) {
      if (builtin.has(name)) return;
      throw new LabError(
        'VM_FAILED',
        `the guest kernel has no module ${name} (needed by ${chain.join(' → ') || 'the kernel lab'})`,
      );
    }
    if (visiting.has(name)) return; // modules.dep has no cycles; do not loop if it had one
    visiting.add(name);
    for (const need of entry.needs) visit(moduleName(need), [...chain, name]);
    visiting.delete(name);
    placed.add(name);
    order.push(entry.path);
  };
  for (const name of wanted) visit(moduleName(name), []);
  return order;
}

/* include/linux/module_signature.h: struct module_signature is 12 bytes, sig_len (be32) last. */
const SIGNATURE_MAGIC = new TextEncoder().encode('~Module signature appended~\n');
const MODULE_SIGNATURE_SIZE = 12;

/**
 * A module without its appended signature (the kernel then loads it
 * unverified and marks itself tainted): checking signatures costs about 30 ms
 * per module under emulation. Unsigned modules are returned unchanged.
 */
export function stripModuleSignature(module: Uint8Array): Uint8Array {
  const magicAt = module.length - SIGNATURE_MAGIC.length;
  if (magicAt < MODULE_SIGNATURE_SIZE) return module;
  for (let i = 0; i < SIGNATURE_MAGIC.length; i++) {
    if (module[magicAt + i] !== SIGNATURE_MAGIC[i]) return module;
  }
  const info = magicAt - MODULE_SIGNATURE_SIZE;
  const view = new DataView(module.buffer, module.byteOffset, module.byteLength);
  const signatureLength = view.getUint32(info + 8, false);
  const end = info - signatureLength;
  if (end < 0) {
    throw new LabError(
      'VM_FAILED',
      'a kernel module has a signature longer than the module itself',
    );
  }
  return module.subarray(0, end);
}
