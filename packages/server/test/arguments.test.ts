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
      delegations: [],
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

  it('takes repeated delegation pools, IPv4 and IPv6, as POOL/LENGTH', () => {
    const command = parseServerArguments([
      '--delegate',
      '2001:db8:100::/48/64',
      '--delegate',
      '10.200.0.0/16/28',
      '--delegate',
      '10.201.0.0/24/24',
      '--pool',
      '10.0.0.0/24',
      'wg0',
    ]);
    if (command.command !== 'serve') throw new Error('not serve');
    expect(command.delegations.map((d) => `${d.pool} in /${d.length}s`)).toEqual([
      '2001:db8:100::/48 in /64s',
      '10.200.0.0/16 in /28s',
      '10.201.0.0/24 in /24s',
    ]);
  });

  it.each([
    ['2001:db8:100::/48', /expected POOL\/LENGTH, e\.g\. 2001:db8:100::\/48\/64/],
    ['2001:db8:100::/48/', /expected POOL\/LENGTH/],
    ['10.200.0.0/16/x', /expected POOL\/LENGTH/],
    ['nonsense/16/28', /not an IPv4 or IPv6 prefix/],
    ['10.200.0.1/16/28', /host bits are set; did you mean 10\.200\.0\.0\/16\?/],
    ['10.200.0.0/16/12', /\/12 is shorter than the pool 10\.200\.0\.0\/16.*from 16 to 32/],
    ['10.200.0.0/16/33', /\/33 is not an IPv4 prefix length/],
    ['2001:db8::/32/129', /\/129 is not an IPv6 prefix length/],
    ['0.0.0.0/0/8', /a \/0 pool would delegate the whole address space/],
    ['fe80::/10/64', /overlaps fe80::\/10 .*never delegated/],
    ['224.0.0.0/8/24', /overlaps 224\.0\.0\.0\/4/],
  ])('refuses --delegate %s in words an operator understands', (text, message) => {
    expect(() => parseServerArguments(['--delegate', text, 'wg0'])).toThrow(UsageError);
    expect(() => parseServerArguments(['--delegate', text, 'wg0'])).toThrow(message);
  });

  it('refuses delegation pools that overlap each other or an address pool', () => {
    expect(() =>
      parseServerArguments([
        '--delegate',
        '10.200.0.0/16/28',
        '--delegate',
        '10.200.7.0/24/28',
        'wg0',
      ]),
    ).toThrow(/--delegate 10\.200\.7\.0\/24\/… overlaps --delegate 10\.200\.0\.0\/16\/…/);
    expect(() =>
      parseServerArguments(['--pool', '10.0.0.0/8', '--delegate', '10.200.0.0/16/28', 'wg0']),
    ).toThrow(/overlaps --pool 10\.0\.0\.0\/8: delegated prefixes never share addresses/);
    // Disjoint from the pools: fine.
    expect(
      parseServerArguments(['--pool', '10.1.0.0/16', '--delegate', '10.200.0.0/16/28', 'wg0']),
    ).toMatchObject({ command: 'serve' });
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
