import { UsageError } from '@wg-dynamic/cli';
import { parseCommandLine } from '@wg-dynamic/client';
import { describe, expect, it } from 'vitest';

describe('parseCommandLine', () => {
  it('defaults: both families, /var/lib/wg-dynamic, foreground, no pid file', () => {
    expect(parseCommandLine(['wg0'])).toEqual({
      help: false,
      options: {
        interfaceName: 'wg0',
        stateDirectory: '/var/lib/wg-dynamic',
        ipv4: true,
        ipv6: true,
        acceptDefaultRoute: false,
        prefixes: {},
        prefixInterface: undefined,
        prefixHook: undefined,
        daemon: false,
        pidFile: undefined,
        logLevel: 'info',
      },
    });
  });

  it('every option', () => {
    const parsed = parseCommandLine([
      '--state-dir',
      '/tmp/state',
      '--no-ipv4',
      '--accept-default-route',
      '--daemon',
      '--pid-file=/run/x.pid',
      '--log-level',
      'debug',
      'wg-mesh.7',
    ]);
    expect(parsed).toEqual({
      help: false,
      options: {
        interfaceName: 'wg-mesh.7',
        stateDirectory: '/tmp/state',
        ipv4: false,
        ipv6: true,
        acceptDefaultRoute: true,
        prefixes: {},
        prefixInterface: undefined,
        prefixHook: undefined,
        daemon: true,
        pidFile: '/run/x.pid',
        logLevel: 'debug',
      },
    });
  });

  it('--daemon writes /run/wg-dynamic/<interface>.pid by default; relative paths become absolute', () => {
    const parsed = parseCommandLine(['--daemon', '--state-dir', 'here', 'wg1']);
    expect(parsed.help === false && parsed.options.pidFile).toBe('/run/wg-dynamic/wg1.pid');
    expect(parsed.help === false && parsed.options.stateDirectory).toBe(`${process.cwd()}/here`);
  });

  it('prefix delegation: --request-prefix per family, --prefix-interface, --prefix-hook', () => {
    const parsed = parseCommandLine([
      '--request-prefix',
      '::/64',
      '--request-prefix=10.200.0.32/28',
      '--prefix-interface',
      'lan0',
      '--prefix-hook',
      'systemctl reload radvd',
      'wg0',
    ]);
    if (parsed.help) throw new Error('not help');
    expect(parsed.options.prefixes[6]).toEqual({ kind: 'new', length: 64 });
    expect(parsed.options.prefixes[4]?.kind).toBe('specific');
    expect(
      String(parsed.options.prefixes[4]?.kind === 'specific' && parsed.options.prefixes[4].prefix),
    ).toBe('10.200.0.32/28');
    expect(parsed.options.prefixInterface).toBe('lan0');
    expect(parsed.options.prefixHook).toBe('systemctl reload radvd');
  });

  it('--help', () => {
    expect(parseCommandLine(['--help'])).toEqual({ help: true });
    expect(parseCommandLine(['-h', 'wg0'])).toEqual({ help: true });
  });

  it.each([
    [[], /interface is missing/],
    [['wg0', 'wg1'], /one interface only/],
    [['--no-ipv4', '--no-ipv6', 'wg0'], /nothing to ask for/],
    [['--log-level', 'loud', 'wg0'], /--log-level must be one of/],
    [['--frobnicate', 'wg0'], /frobnicate/],
    [['--state-dir'], /argument missing|state-dir/],
    [['a/b'], /not a valid interface name/],
    [['a-name-much-too-long'], /not a valid interface name/],
    [['--request-prefix', '64', 'wg0'], /--request-prefix: "64" is not a prefix/],
    [['--request-prefix', '2001:db8::1/64', 'wg0'], /host bits set/],
    [['--request-prefix', 'fe80::/64', 'wg0'], /cannot be delegated/],
    [['--request-prefix', '::/64', '--request-prefix', '::/60', 'wg0'], /one IPv6 prefix only/],
    [['--prefix-interface', 'lan0', 'wg0'], /--prefix-interface needs --request-prefix/],
    [['--prefix-hook', 'true', 'wg0'], /--prefix-hook needs --request-prefix/],
    [['--request-prefix', '::/64', '--prefix-hook', ' ', 'wg0'], /--prefix-hook needs a command/],
    [
      ['--request-prefix', '::/64', '--prefix-interface', 'wg0', 'wg0'],
      /names the WireGuard interface/,
    ],
    [
      ['--request-prefix', '::/64', '--prefix-interface', 'a/b', 'wg0'],
      /not a valid interface name/,
    ],
  ])('%j is a usage error', (args, message) => {
    expect(() => parseCommandLine(args)).toThrow(UsageError);
    expect(() => parseCommandLine(args)).toThrow(message);
  });
});
