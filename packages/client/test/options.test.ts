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
  ])('%j is a usage error', (args, message) => {
    expect(() => parseCommandLine(args)).toThrow(UsageError);
    expect(() => parseCommandLine(args)).toThrow(message);
  });
});
