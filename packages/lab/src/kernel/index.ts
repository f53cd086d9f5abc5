export {
  type AcceleratorChoice,
  type AcceleratorFacts,
  chooseAccelerator,
  parseCpuFlags,
  probeAcceleratorFacts,
} from './accelerator.js';
export {
  KERNEL_LAB_USAGE,
  type KernelLabArguments,
  parseKernelLabArguments,
} from './cli-arguments.js';
export { type CpioEntry, writeCpio } from './cpio.js';
export { isStaticElf } from './elf.js';
export { guestEnvironment } from './guest-environment.js';
export {
  commandScript,
  EXIT_LAB_FAILED,
  EXIT_TIMEOUT,
  GUEST_LAB_DIRECTORY,
  type GuestStatus,
  INITRAMFS_MODULE_DIRECTORY,
  parseGuestStatus,
  shellQuote,
  stage1Script,
  stage2Script,
} from './guest-scripts.js';
export { BOOT_MODULES, buildInitramfs } from './initramfs.js';
export {
  type EnsureKernelOptions,
  ensureKernelImage,
  findXzStream,
  type KernelImage,
  kernelCacheBase,
  parseKernelPackage,
} from './kernel-image.js';
export { moduleLoadOrder, moduleName, stripModuleSignature } from './modules.js';
export {
  CONTROL_MOUNT_TAG,
  GUEST_KERNEL_ARGUMENTS,
  type QemuOptions,
  qemuArguments,
  ROOT_MOUNT_TAG,
  STDERR_PORT,
  STDOUT_PORT,
} from './qemu-arguments.js';
export {
  describeConsole,
  type KernelLabOptions,
  type KernelLabResult,
  runInKernelLab,
} from './run-kernel-lab.js';
