import { IpPrefix } from '@wg-dynamic/ip';
import { backendFromEnvironment, classicTopology, Lab, type LabProcess } from '@wg-dynamic/lab';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXCHANGE, exchange, fields, startServer, stateDirectory } from './support/daemons.js';

/**
 * What a peer can send the real server over real WireGuard, malformed on
 * purpose: each gets the reference's error answer and a closed connection
 * (or, where the protocol says so, a normal answer), and the server goes on
 * serving. The protocol package's tests check the codec byte by byte; these
 * check the server's socket side of it.
 */
const V4_POOL = IpPrefix.from('192.168.81.0/24');
const V6_POOL = IpPrefix.from('2001:db8:81::/64');
const FIRST = 'request_ip=1\nip=0.0.0.0/32\nip=::/128\nleasestart=0\nleasetime=0\n\n';
const INVALID = 'errno=1\nerrmsg=Invalid request\n\n';
const UNSUPPORTED = 'errno=2\nerrmsg=Unsupported protocol\n\n';
/** Random messages through the real socket; the kernel lab runs under emulation: fewer there. */
const FUZZ_MESSAGES = backendFromEnvironment() === 'kernel' ? 50_000 : 1_000_000;
const FUZZ_CLIENT = EXCHANGE.replace(/exchange\.mjs$/, 'fuzz-client.mjs');
const FUZZERS = ['a', 'b'] as const;
/** Each fuzzing peer speaks from 2,000 link-local /128s of its own: a fresh 4-tuple per connection. */
const FUZZ_ADDRESSES = 2_000;
const fuzzPrefix = (name: string) => `fe80::f${name}:0:0:`;

describe('wg-dynamic-server against malformed and random input', () => {
  let lab: Lab;
  let server: LabProcess;
  let state: Awaited<ReturnType<typeof stateDirectory>>;

  beforeAll(async () => {
    state = await stateDirectory();
    lab = await Lab.create(
      classicTopology({
        clients: ['a', 'b', 'c'],
        serverRoutes: [V4_POOL.toString(), V6_POOL.toString()],
      }),
    );
    // The fuzzing peers own 2,000 more link-local /128s each, and speak from
    // them without adding each to their interface: non-local binds, and the
    // range taken as local ("AnyIP").
    for (const name of FUZZERS) {
      const node = lab.node(name);
      const owned = Array.from(
        { length: FUZZ_ADDRESSES },
        (_, k) => `${fuzzPrefix(name)}${(k + 1).toString(16)}/128`,
      );
      await lab
        .node('server')
        .wg(
          'set',
          'wg0',
          'peer',
          node.publicKey,
          'allowed-ips',
          [`${node.linkLocal}/128`, ...owned].join(','),
        );
      await node.exec('sysctl', ['-qw', 'net.ipv6.ip_nonlocal_bind=1'], { check: true });
      await node.ip(
        'route',
        'add',
        'local',
        `${fuzzPrefix(name)}0/96`,
        'dev',
        'wg0',
        'table',
        'local',
      );
    }
    server = await startServer(lab.node('server'), ['--state-dir', state.path]);
  });

  afterAll(async () => {
    await lab?.destroy();
    await state?.remove();
  });

  /** Sends `request` from node a and reads until the server closes. */
  const untilClosed = async (request: string) => {
    const result = await exchange(lab.node('a'), request, { all: true });
    // Exit status 0 with --all: the server closed the connection itself.
    expect(result.code, result.error).toBe(0);
    return result.answer;
  };

  it.each([
    [
      'a line of 4,096 bytes before its newline',
      `request_ip=1\nx=${'a'.repeat(4094)}\n\n`,
      INVALID,
    ],
    ['a line of 64 KiB', `request_ip=1\nx=${'a'.repeat(65_536)}\n\n`, INVALID],
    ['a NUL byte', 'request_ip=1\nx=a\0b\n\n', INVALID],
    ['a NUL byte in the command', 'request\0ip=1\n\n', INVALID],
    ['CRLF line ends', 'request_ip=1\r\n\r\n', INVALID],
    ['a line without =', 'request_ip=1\nnonsense\n\n', INVALID],
    ['an empty key', 'request_ip=1\n=x\n\n', INVALID],
    ['a number above 2^32 - 1', 'request_ip=1\nleasestart=4294967296\n\n', INVALID],
    ['a signed number', 'request_ip=1\nleasetime=-1\n\n', INVALID],
    ['an address with a /24', 'request_ip=1\nip=192.168.81.0/24\n\n', INVALID],
    ['an address that is none', 'request_ip=1\nip=192.168.81.1.1/32\n\n', INVALID],
    ['an unknown command', 'hello=1\n\n', UNSUPPORTED],
    ['request_ip version 2', 'request_ip=2\n\n', UNSUPPORTED],
    ['request_ip version 0', 'request_ip=0\n\n', UNSUPPORTED],
    ['no command at all', 'ip=0.0.0.0/32\n\n', UNSUPPORTED],
  ])('answers %s with the error and closes', async (_what, request, answer) => {
    expect(await untilClosed(request)).toBe(answer);
  });

  it('takes a line of 4,095 bytes before its newline, the longest the reference takes', async () => {
    const answer = await exchange(lab.node('a'), `request_ip=1\nx=${'a'.repeat(4093)}\n\n`);
    expect(answer.answer).toBe('errno=0\n\n');
  });

  it('answers a good request, then the bad one after it, then closes', async () => {
    expect(await untilClosed('request_ip=1\n\nrequest_ip=1\nbad\n\n')).toBe(
      `errno=0\n\n${INVALID}`,
    );
  });

  it('lets a later ip= of a family replace an earlier one, as the protocol says', async () => {
    const a = lab.node('a');
    const answer = await exchange(
      a,
      'request_ip=1\nip=192.168.81.7/32\nip=2001:db8:81::7/128\nip=192.168.81.9/32\nip=2001:db8:81::9/128\n\n',
    );
    expect(fields(answer.answer).get('ip')).toEqual(['192.168.81.9/32', '2001:db8:81::9/128']);
    expect((await exchange(a, 'request_ip=1\n\n')).answer).toBe('errno=0\n\n');
  });

  it('survives a million random messages from two peers at once, answering each as the protocol says, and serves a third', async () => {
    const fuzzers = await Promise.all(
      FUZZERS.map((name) => {
        const node = lab.node(name);
        return node.spawn('node', [
          FUZZ_CLIENT,
          node.interface,
          fuzzPrefix(name),
          String(FUZZ_MESSAGES / 2),
          '--addresses',
          String(FUZZ_ADDRESSES),
        ]);
      }),
    );
    const results = await Promise.all(
      fuzzers.map(async (fuzzer) => {
        await fuzzer.exited;
        const line = fuzzer.stdoutLines.at(-1) ?? '';
        if (!line.startsWith('{'))
          throw new Error(`the fuzz client failed:\n${fuzzer.outputTail()}`);
        return JSON.parse(line) as {
          seed: number;
          sent: number;
          answers: Record<string, number>;
          problems: string[];
        };
      }),
    );
    for (const result of results) {
      expect(result.problems, `seed ${result.seed}`).toEqual([]);
      expect(result.sent).toBe(FUZZ_MESSAGES / 2);
    }
    expect(server.exitStatus).toBeUndefined();
    const c = await exchange(lab.node('c'), FIRST);
    expect(fields(c.answer).get('errno')).toEqual(['0']);
    expect(fields(c.answer).get('ip')).toHaveLength(2);
    // A guard against a hang only: a million messages take minutes when the machine is busy.
  }, 600_000);
});
