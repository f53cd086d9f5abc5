import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { UsageError } from '@wg-dynamic/cli';
import type { LevelWithSilent } from 'pino';
import {
  parseWantedPrefix,
  type WantedPrefix,
  type WantedPrefixes,
} from '../core/prefix-delegation.js';
import { DEFAULT_STATE_DIRECTORY } from '../system/state-store.js';

export const USAGE = `Usage: wg-dynamic-client [options] <interface>

Asks the wg-dynamic server at the other end of a WireGuard interface for an
IPv4 and an IPv6 address (and the routes it pushes), puts them on the
interface, renews them, and removes them again when it stops.

Options:
  --state-dir DIR          where the last lease is remembered, so that a restarted
                           client asks for the same addresses
                           (default ${DEFAULT_STATE_DIRECTORY}; the file is DIR/<interface>/client.json)
  --no-ipv4                do not ask for an IPv4 address
  --no-ipv6                do not ask for an IPv6 address
  --accept-default-route   install a default route (0.0.0.0/0, ::/0) when the server
                           pushes one; without it, pushed default routes are left out
  --request-prefix PREFIX  ask for a prefix for the network behind this host (prefix
                           delegation): ::/64 for any IPv6 /64, 0.0.0.0/28 for any IPv4
                           /28, or a prefix by name (2001:db8:100:5::/64); one per family
  --prefix-interface IFNAME
                           put the delegated prefix's first address on IFNAME (P::1/64,
                           the first host of an IPv4 prefix), removed when the prefix goes
  --prefix-hook COMMAND    run COMMAND with /bin/sh -c when a prefix is granted, changes
                           or is lost, with WG_DYNAMIC_EVENT, WG_DYNAMIC_PREFIX,
                           WG_DYNAMIC_OLD_PREFIX, WG_DYNAMIC_FAMILY… in its environment
  --daemon                 detach into the background once the start-up checks pass
                           (the default is to run in the foreground, as systemd wants)
  --pid-file FILE          write the process id to FILE (with --daemon, the default is
                           /run/wg-dynamic/<interface>.pid; \`kill $(cat FILE)\` stops the client)
  --log-level LEVEL        trace, debug, info (default), warn, error, fatal or silent
  -h, --help               print this help and exit

SIGTERM or SIGINT removes the addresses and routes the client added (and a prefix's
address, telling the hook of its loss), then it exits with status 0; so does the
removal of the interface.`;

export const LOG_LEVELS: readonly LevelWithSilent[] = [
  'trace',
  'debug',
  'info',
  'warn',
  'error',
  'fatal',
  'silent',
];

/** The default pid file with --daemon. */
export function defaultPidFile(interfaceName: string): string {
  return `/run/wg-dynamic/${interfaceName}.pid`;
}

export interface ClientOptions {
  readonly interfaceName: string;
  readonly stateDirectory: string;
  readonly ipv4: boolean;
  readonly ipv6: boolean;
  readonly acceptDefaultRoute: boolean;
  /** `--request-prefix`, per family; empty when none is asked for. */
  readonly prefixes: WantedPrefixes;
  readonly prefixInterface: string | undefined;
  readonly prefixHook: string | undefined;
  readonly daemon: boolean;
  /** Undefined: no pid file (foreground without --pid-file). */
  readonly pidFile: string | undefined;
  readonly logLevel: LevelWithSilent;
}

export type ParsedCommandLine =
  | { readonly help: true }
  | { readonly help: false; readonly options: ClientOptions };

/** An interface name as the kernel allows it: 1-15 bytes, no '/', whitespace or ':'. */
const INTERFACE_NAME = /^[^/\s:]{1,15}$/;

/** Parses the command line; throws UsageError with what is wrong. */
export function parseCommandLine(args: readonly string[]): ParsedCommandLine {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(args);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) return { help: true };
  if (positionals.length !== 1) {
    throw new UsageError(
      positionals.length === 0
        ? 'the interface is missing'
        : `one interface only (got ${positionals.join(' ')})`,
    );
  }
  const interfaceName = positionals[0] as string;
  if (!INTERFACE_NAME.test(interfaceName) || interfaceName === '.' || interfaceName === '..') {
    throw new UsageError(`"${interfaceName}" is not a valid interface name`);
  }
  if (values['no-ipv4'] && values['no-ipv6']) {
    throw new UsageError('--no-ipv4 and --no-ipv6 together leave nothing to ask for');
  }
  const logLevel = values['log-level'] ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')} (got "${logLevel}")`);
  }
  const stateDirectory = values['state-dir'] ?? DEFAULT_STATE_DIRECTORY;
  if (stateDirectory === '') throw new UsageError('--state-dir needs a directory');
  if (values['pid-file'] === '') throw new UsageError('--pid-file needs a file name');
  const daemon = values.daemon ?? false;
  const prefixes = parsePrefixes(values['request-prefix'] ?? []);
  const prefixInterface = values['prefix-interface'];
  const prefixHook = values['prefix-hook'];
  const asksPrefix = prefixes[4] !== undefined || prefixes[6] !== undefined;
  if (prefixInterface !== undefined) {
    if (
      !INTERFACE_NAME.test(prefixInterface) ||
      prefixInterface === '.' ||
      prefixInterface === '..'
    ) {
      throw new UsageError(
        `--prefix-interface: "${prefixInterface}" is not a valid interface name`,
      );
    }
    if (prefixInterface === interfaceName) {
      throw new UsageError(
        `--prefix-interface names the WireGuard interface ${interfaceName}; give the interface of the network behind this host`,
      );
    }
    if (!asksPrefix) throw new UsageError('--prefix-interface needs --request-prefix');
  }
  if (prefixHook !== undefined) {
    if (prefixHook.trim() === '') throw new UsageError('--prefix-hook needs a command');
    if (!asksPrefix) throw new UsageError('--prefix-hook needs --request-prefix');
  }
  return {
    help: false,
    options: {
      interfaceName,
      // Absolute: a daemon changes its working directory to /.
      stateDirectory: resolve(stateDirectory),
      ipv4: !values['no-ipv4'],
      ipv6: !values['no-ipv6'],
      acceptDefaultRoute: values['accept-default-route'] ?? false,
      prefixes,
      prefixInterface,
      prefixHook,
      daemon,
      pidFile:
        values['pid-file'] !== undefined
          ? resolve(values['pid-file'])
          : daemon
            ? defaultPidFile(interfaceName)
            : undefined,
      logLevel: logLevel as LevelWithSilent,
    },
  };
}

function parse(args: readonly string[]) {
  return parseArgs({
    args: [...args],
    allowPositionals: true,
    strict: true,
    options: {
      'state-dir': { type: 'string' },
      'no-ipv4': { type: 'boolean' },
      'no-ipv6': { type: 'boolean' },
      'accept-default-route': { type: 'boolean' },
      'request-prefix': { type: 'string', multiple: true },
      'prefix-interface': { type: 'string' },
      'prefix-hook': { type: 'string' },
      daemon: { type: 'boolean' },
      'pid-file': { type: 'string' },
      'log-level': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}

/** The `--request-prefix` values, at most one per family. */
function parsePrefixes(values: readonly string[]): WantedPrefixes {
  const out: { 4?: WantedPrefix; 6?: WantedPrefix } = {};
  for (const value of values) {
    let parsed: ReturnType<typeof parseWantedPrefix>;
    try {
      parsed = parseWantedPrefix(value);
    } catch (error) {
      throw new UsageError(`--request-prefix: ${(error as Error).message}`);
    }
    if (out[parsed.family] !== undefined) {
      throw new UsageError(
        `--request-prefix: one IPv${parsed.family} prefix only (a server delegates at most one per family)`,
      );
    }
    out[parsed.family] = parsed.wanted;
  }
  return out;
}
