/** Variables the guest command gets from the host as they are. */
const PASSED_NAMES = new Set([
  'PATH',
  'HOME',
  'USER',
  'LOGNAME',
  'SHELL',
  'LANG',
  'LANGUAGE',
  'LC_ALL',
  'LC_CTYPE',
  'TZ',
  'TERM',
  'COLORTERM',
  'CI',
  'NO_COLOR',
  'FORCE_COLOR',
  'NODE_OPTIONS',
  'LOG_LEVEL',
]);

/** …and every variable starting with one of these (CI systems, the project's own). */
const PASSED_PREFIXES = ['GITHUB_', 'RUNNER_', 'GITLAB_', 'BUILDKITE', 'WG_DYNAMIC_', 'VITEST_'];

/**
 * The environment of the command inside the kernel lab: PATH, HOME and the
 * locale, CI markers and the project's variables from the host, then
 * WG_DYNAMIC_LAB_SANDBOX=1 and WG_DYNAMIC_LAB_BACKEND=kernel. When the host's
 * output is a terminal, FORCE_COLOR=1 keeps colours through the virtio ports
 * (unless NO_COLOR or FORCE_COLOR says otherwise).
 */
export function guestEnvironment(
  host: Readonly<Record<string, string | undefined>>,
  options: { readonly colors?: boolean } = {},
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(host)) {
    if (value === undefined) continue;
    if (PASSED_NAMES.has(name) || PASSED_PREFIXES.some((prefix) => name.startsWith(prefix))) {
      env[name] = value;
    }
  }
  env.PATH ??= '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
  env.HOME ??= '/root';
  if (options.colors === true && env.NO_COLOR === undefined && env.FORCE_COLOR === undefined) {
    env.FORCE_COLOR = '1';
  }
  env.WG_DYNAMIC_LAB_SANDBOX = '1';
  env.WG_DYNAMIC_LAB_BACKEND = 'kernel';
  return env;
}
