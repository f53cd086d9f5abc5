import { checkInterface, type InterfaceFacts, StartupCheckError } from '@wg-dynamic/client';
import { IpPrefix } from '@wg-dynamic/ip';
import { describe, expect, it } from 'vitest';

const p = (text: string) => IpPrefix.from(text);

function facts(overrides: Partial<InterfaceFacts> = {}): InterfaceFacts {
  return {
    name: 'wg0',
    ipv6Addresses: [p('fe80::badc:ffe:e0dd:f00d/128'), p('fd00::9/128')],
    ipv6Routes: [p('fe80::/128')],
    peers: [{ allowedIps: [p('0.0.0.0/0'), p('::/0')] }],
    ...overrides,
  };
}

function problem(input: InterfaceFacts): StartupCheckError {
  try {
    checkInterface(input);
  } catch (error) {
    if (error instanceof StartupCheckError) return error;
    throw error;
  }
  throw new Error('the check passed');
}

describe('checkInterface', () => {
  it('passes the classic set-up and finds the source address', () => {
    const verdict = checkInterface(facts());
    expect(verdict.linkLocal.toString()).toBe('fe80::badc:ffe:e0dd:f00d');
    expect(verdict.needsServerRoute).toBe(false);
  });

  it('asks for the route to fe80::/128 when none points into the interface', () => {
    expect(checkInterface(facts({ ipv6Routes: [p('fd00::/8')] })).needsServerRoute).toBe(true);
    expect(checkInterface(facts({ ipv6Routes: [p('fe80::/64')] })).needsServerRoute).toBe(false);
    expect(checkInterface(facts({ ipv6Routes: [p('::/0')] })).needsServerRoute).toBe(false);
  });

  it('no link-local address: says how to add one', () => {
    const error = problem(facts({ ipv6Addresses: [p('fd00::9/128')] }));
    expect(error.code).toBe('NO_LINK_LOCAL');
    expect(error.message).toMatch(/`ip address add fe80::[0-9a-f:]+\/128 dev wg0`/);
  });

  it('two link-local addresses: says which to remove', () => {
    const error = problem(
      facts({ ipv6Addresses: [p('fe80::1/64'), p('fe80::badc:ffe:e0dd:f00d/128')] }),
    );
    expect(error.code).toBe('SEVERAL_LINK_LOCAL');
    expect(error.message).toContain('`ip address del fe80::1/64 dev wg0`');
    expect(error.message).not.toContain('del fe80::badc');
  });

  it('a link-local address that is not a /128: says how to make it one', () => {
    const error = problem(facts({ ipv6Addresses: [p('fe80::1/64')] }));
    expect(error.code).toBe('LINK_LOCAL_NOT_HOST');
    expect(error.message).toContain('ip address add fe80::1/128 dev wg0');
  });

  it('no peer covers fe80::/128: says how to add it', () => {
    for (const allowedIps of [[p('10.0.0.0/8')], [p('fe80::1/128')], []]) {
      const error = problem(facts({ peers: [{ allowedIps }] }));
      expect(error.code).toBe('NO_SERVER_PEER');
      expect(error.message).toContain('wg set wg0 peer');
    }
    expect(() =>
      checkInterface(facts({ peers: [{ allowedIps: [p('fe80::/64')] }] })),
    ).not.toThrow();
    expect(() => checkInterface(facts({ peers: [] }))).toThrow(StartupCheckError);
  });

  it('is a FatalError: the program prints the message and exits 1', () => {
    const error = problem(facts({ ipv6Addresses: [] }));
    expect(error.exitCode).toBe(1);
  });
});
