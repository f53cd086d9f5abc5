import { LabError } from './errors.js';

/** How WireGuard runs in a lab: wireguard-go processes, or the kernel module. */
export type Backend = 'userspace' | 'kernel';

/** Set to `1` by `lab-sandbox` and the kernel lab's init; nothing else sets it. */
export const SANDBOX_ENV = 'WG_DYNAMIC_LAB_SANDBOX';
/** `userspace` (default) or `kernel`. */
export const BACKEND_ENV = 'WG_DYNAMIC_LAB_BACKEND';

type Environment = Readonly<Record<string, string | undefined>>;

export function isInSandbox(env: Environment = process.env): boolean {
  return env[SANDBOX_ENV] === '1';
}

/**
 * Throws unless the process runs inside a lab sandbox, where every interface,
 * namespace and process it makes disappears with the sandbox. The lab never
 * touches the host's own network namespace.
 */
export function requireSandbox(what: string, env: Environment = process.env): void {
  if (isInSandbox(env)) return;
  throw new LabError(
    'NOT_IN_SANDBOX',
    `${what} works only inside a lab sandbox (${SANDBOX_ENV}=1), so that nothing it makes can touch ` +
      "this machine's own network: run the command through `packages/lab/bin/lab-sandbox <command>` " +
      '(userspace WireGuard) or `packages/lab/bin/kernel-lab -- <command>` (kernel WireGuard), as root',
  );
}

/** The backend named by WG_DYNAMIC_LAB_BACKEND; userspace when unset. */
export function backendFromEnvironment(env: Environment = process.env): Backend {
  const value = env[BACKEND_ENV];
  if (value === undefined || value === '') return 'userspace';
  if (value === 'userspace' || value === 'kernel') return value;
  throw new LabError(
    'INVALID_ARGUMENT',
    `${BACKEND_ENV}=${JSON.stringify(value)} is not a WireGuard backend: use "userspace" (wireguard-go) or "kernel"`,
  );
}
