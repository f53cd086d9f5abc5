import { UsageError } from '@wg-dynamic/cli';
import { describe, expect, it } from 'vitest';
import { parseServerArguments } from '../src/cli/arguments.js';

describe('wg-dynamic-server arguments', () => {
  it('serves with the reference defaults', () => {
    expect(parseServerArguments(['wg0'])).toEqual({
      command: 'serve',
      interfaceName: 'wg0',
      leaseTime: 3600,
      pools: undefined,
      routes: [],
      stateDirectory: '/var/lib/wg-dynamic',
      metrics: undefined,
      logLevel: 'info',
    });
  });

  it('reads where to serve metrics', () => {
    const at = (text: string) => {
      const command = parseServerArguments(['--metrics', text, 'wg0']);
      return command.command === 'serve' ? command.metrics : undefined;
    };
    expect(at('127.0.0.1:9586')).toEqual({ host: '127.0.0.1', port: 9586 });
    expect(at('[::1]:9586')).toEqual({ host: '::1', port: 9586 });
    expect(at(':9586')).toEqual({ host: '::', port: 9586 });
    expect(() => at('9586')).toThrow(/ADDRESS:PORT/);
    expect(() => at('localhost:0')).toThrow(/ADDRESS:PORT/);
  });

  it('takes repeated pools and routes, a lease time and a state directory', () => {
    const command = parseServerArguments([
      '--leasetime',
      '60',
      '--pool',
      '10.0.0.0/24',
      '--pool',
      '2001:db8::/64',
      '--route',
      '10.1.0.0/16',
      '--state-dir',
      '/tmp/x',
      '--log-level',
      'debug',
      'wg1',
    ]);
    expect(command).toMatchObject({
      interfaceName: 'wg1',
      leaseTime: 60,
      stateDirectory: '/tmp/x',
      logLevel: 'debug',
    });
    if (command.command !== 'serve') throw new Error('not serve');
    expect(command.pools?.map(String)).toEqual(['10.0.0.0/24', '2001:db8::/64']);
    expect(command.routes.map(String)).toEqual(['10.1.0.0/16']);
  });

  it('shows', () => {
    expect(parseServerArguments(['show', 'wg0', '--json'])).toEqual({
      command: 'show',
      interfaceName: 'wg0',
      json: true,
    });
    expect(parseServerArguments(['--help'])).toEqual({ command: 'help' });
  });

  it.each([
    [[], /no interface/],
    [['wg0', 'wg1'], /exactly one interface/],
    [['--leasetime', '0', 'wg0'], /whole seconds/],
    [['--leasetime', '1.5', 'wg0'], /whole seconds/],
    [['--leasetime', '4294967296', 'wg0'], /whole seconds/],
    [['--pool', '10.0.0.1/24', 'wg0'], /host bits are set; did you mean 10.0.0.0\/24/],
    [['--pool', 'nonsense', 'wg0'], /not an IPv4 or IPv6 prefix/],
    [['--log-level', 'loud', 'wg0'], /expected one of/],
    [['--frobnicate', 'wg0'], /Unknown option/],
    [['--json', 'wg0'], /goes with show/],
    [['this-name-is-far-too-long'], /interface/],
  ])('refuses %j', (argv, message) => {
    expect(() => parseServerArguments(argv)).toThrow(UsageError);
    expect(() => parseServerArguments(argv)).toThrow(message);
  });
});
