/** The Debian package that provides each program the labs run. */
const debianPackages: Readonly<Record<string, string>> = {
  'wireguard-go': 'wireguard-go',
  wg: 'wireguard-tools',
  ip: 'iproute2',
  ping: 'iputils-ping',
  unshare: 'util-linux',
  mount: 'mount',
  sysctl: 'procps',
  'qemu-system-x86_64': 'qemu-system-x86',
  busybox: 'busybox-static',
  depmod: 'kmod',
  modprobe: 'kmod',
  xz: 'xz-utils',
  'apt-get': 'apt',
  'apt-cache': 'apt',
  'dpkg-deb': 'dpkg',
  cpio: 'cpio',
};

/** A sentence that says how to get a missing program. */
export function installHint(program: string): string {
  const name = program.slice(program.lastIndexOf('/') + 1);
  const debianPackage = debianPackages[name];
  if (debianPackage === undefined) return `${program} is not installed or not on PATH`;
  return (
    `${name} is not installed or not on PATH: install it with ` +
    `\`apt-get install -y --no-install-recommends ${debianPackage}\` (scripts/setup.sh does)`
  );
}
