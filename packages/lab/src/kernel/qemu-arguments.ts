/** The 9p mount tag of the host's root (read-only) and of the run's control directory. */
export const ROOT_MOUNT_TAG = 'hostroot';
export const CONTROL_MOUNT_TAG = 'labctl';
/** virtio-serial port names the guest looks up under /sys/class/virtio-ports. */
export const STDOUT_PORT = 'lab.stdout';
export const STDERR_PORT = 'lab.stderr';

/**
 * Kernel arguments: the serial console for boot messages (a log file on the
 * host), no ACPI interrupt routing and no crypto self-tests (1.5 s less
 * under emulation), and a panic reboots at once, which ends qemu
 * (-no-reboot) instead of hanging.
 */
export const GUEST_KERNEL_ARGUMENTS = [
  'console=ttyS0',
  'quiet',
  'acpi=noirq',
  'cryptomgr.notests',
  'panic=-1',
  'rdinit=/init',
] as const;

export interface QemuOptions {
  readonly accelerator: 'kvm' | 'tcg';
  readonly memoryMb: number;
  readonly cpus: number;
  /** The uncompressed vmlinux (an ELF file: qemu boots it through the PVH entry point). */
  readonly kernel: string;
  readonly initrd: string;
  /** The host directory that becomes the guest's root (read-only, with a tmpfs overlay). */
  readonly rootDirectory: string;
  /** The host directory for the command script and the exit status (read-write). */
  readonly controlDirectory: string;
  /** Unix sockets the host listens on; qemu connects to them. */
  readonly stdoutSocket: string;
  readonly stderrSocket: string;
  /** Where the serial console (kernel messages) goes. */
  readonly consoleLog: string;
}

/** qemu's option syntax: a comma inside a value is written twice. */
function value(text: string): string {
  return text.replaceAll(',', ',,');
}

export function qemuArguments(options: QemuOptions): string[] {
  const acceleration =
    options.accelerator === 'kvm'
      ? ['-accel', 'kvm', '-cpu', 'host']
      : ['-accel', 'tcg,thread=multi', '-cpu', 'max'];
  return [
    '-machine',
    'pc',
    ...acceleration,
    '-smp',
    String(options.cpus),
    '-m',
    String(options.memoryMb),
    '-nodefaults',
    '-no-user-config',
    '-display',
    'none',
    '-monitor',
    'none',
    '-no-reboot',
    '-net',
    'none',
    '-kernel',
    value(options.kernel),
    '-initrd',
    value(options.initrd),
    '-append',
    GUEST_KERNEL_ARGUMENTS.join(' '),
    '-chardev',
    `file,id=console,path=${value(options.consoleLog)}`,
    '-serial',
    'chardev:console',
    '-fsdev',
    `local,id=${ROOT_MOUNT_TAG},path=${value(options.rootDirectory)},security_model=none,readonly=on,multidevs=remap`,
    '-device',
    `virtio-9p-pci,fsdev=${ROOT_MOUNT_TAG},mount_tag=${ROOT_MOUNT_TAG}`,
    '-fsdev',
    `local,id=${CONTROL_MOUNT_TAG},path=${value(options.controlDirectory)},security_model=none`,
    '-device',
    `virtio-9p-pci,fsdev=${CONTROL_MOUNT_TAG},mount_tag=${CONTROL_MOUNT_TAG}`,
    '-device',
    'virtio-serial-pci',
    '-chardev',
    `socket,id=stdout,path=${value(options.stdoutSocket)}`,
    '-device',
    `virtserialport,chardev=stdout,name=${STDOUT_PORT}`,
    '-chardev',
    `socket,id=stderr,path=${value(options.stderrSocket)}`,
    '-device',
    `virtserialport,chardev=stderr,name=${STDERR_PORT}`,
  ];
}
