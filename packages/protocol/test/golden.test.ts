import { IpAddress, IpPrefix } from '@wg-dynamic/ip';
import {
  commonExtensions,
  Errno,
  Extension,
  MAX_LINE_SIZE,
  NEW_ADDRESS,
  type ParseEvent,
  prefixRequest,
  RELEASE,
  RELEASE_PREFIX,
  type Request,
  RequestParser,
  type Response,
  ResponseParser,
  SUPPORTED_EXTENSIONS,
  serializeRequest,
  serializeResponse,
  specificAddress,
} from '@wg-dynamic/protocol';
import { describe, expect, it } from 'vitest';

const ip = (text: string) => IpAddress.parse(text) as IpAddress;

function parseRequests(text: string): ParseEvent<Request>[] {
  return new RequestParser().push(Buffer.from(text, 'latin1'));
}

function parseResponses(text: string): ParseEvent<Response>[] {
  return new ResponseParser().push(Buffer.from(text, 'latin1'));
}

function onlyRequest(text: string): Request {
  const events = parseRequests(text);
  expect(events).toHaveLength(1);
  const [event] = events;
  if (!event?.ok) throw new Error(`expected a request, got ${event?.error.message}`);
  return event.message;
}

function errnoOf(text: string): number {
  const events = parseRequests(text);
  const last = events.at(-1);
  if (!last || last.ok) throw new Error('expected a protocol error');
  return last.error.errno;
}

/** The transcripts of ../shared/protocol.md, byte for byte. */
describe('golden requests (what the reference client sends)', () => {
  it('a first request for one address of each family', () => {
    const bytes = 'request_ip=1\nip=0.0.0.0/32\nip=::/128\nleasestart=0\nleasetime=0\n\n';
    expect(serializeRequest({ ip: { 4: NEW_ADDRESS, 6: NEW_ADDRESS } }).toString('latin1')).toBe(
      bytes,
    );
    const request = onlyRequest(bytes);
    expect(request.ip[4]).toEqual({ kind: 'new' });
    expect(request.ip[6]).toEqual({ kind: 'new' });
    expect(request.leaseStart).toBe(0);
    expect(request.leaseTime).toBe(0);
    expect(request.extensions).toEqual([]);
  });

  it('a release of everything', () => {
    const bytes = 'request_ip=1\n\n';
    expect(serializeRequest({ ip: { 4: RELEASE, 6: RELEASE } }).toString('latin1')).toBe(bytes);
    const request = onlyRequest(bytes);
    expect(request.ip).toEqual({ 4: RELEASE, 6: RELEASE });
    expect(request.leaseStart).toBeUndefined();
  });

  it('a renewal of held addresses', () => {
    const bytes =
      'request_ip=1\nip=192.168.4.3/32\nip=2001:db8:1234::7/128\nleasestart=0\nleasetime=0\n\n';
    const fields = {
      ip: { 4: specificAddress(ip('192.168.4.3')), 6: specificAddress(ip('2001:db8:1234::7')) },
    };
    expect(serializeRequest(fields).toString('latin1')).toBe(bytes);
    expect(onlyRequest(bytes).ip).toEqual(fields.ip);
  });

  it('one family only: the other is released', () => {
    const bytes = 'request_ip=1\nip=::/128\nleasestart=0\nleasetime=0\n\n';
    expect(serializeRequest({ ip: { 4: RELEASE, 6: NEW_ADDRESS } }).toString('latin1')).toBe(bytes);
    expect(onlyRequest(bytes).ip).toEqual({ 4: RELEASE, 6: NEW_ADDRESS });
  });

  it('asks for prefixes only when it lists the extension', () => {
    const prefix = {
      4: prefixRequest(IpPrefix.from('0.0.0.0/28')),
      6: prefixRequest(IpPrefix.from('2001:db8:100:5::/64')),
    };
    expect(prefix[4]).toEqual({ kind: 'new', length: 28 });
    expect(prefix[6]).toEqual({ kind: 'specific', prefix: IpPrefix.from('2001:db8:100:5::/64') });
    const bytes =
      'request_ip=1\next=route,prefix\nip=::/128\nprefix=0.0.0.0/28\nprefix=2001:db8:100:5::/64\nleasestart=0\nleasetime=0\n\n';
    expect(
      serializeRequest({
        ip: { 4: RELEASE, 6: NEW_ADDRESS },
        prefix,
        extensions: ['route', 'prefix'],
      }).toString('latin1'),
    ).toBe(bytes);
    expect(onlyRequest(bytes).prefix).toEqual(prefix);
    // Without the extension the prefix lines are not written.
    expect(
      serializeRequest({ ip: { 4: RELEASE, 6: NEW_ADDRESS }, prefix }).toString('latin1'),
    ).toBe('request_ip=1\nip=::/128\nleasestart=0\nleasetime=0\n\n');
    expect(onlyRequest('request_ip=1\n\n').prefix).toEqual({
      4: RELEASE_PREFIX,
      6: RELEASE_PREFIX,
    });
  });

  it('extensions ride on a key the reference server skips', () => {
    const bytes = 'request_ip=1\next=route\nip=0.0.0.0/32\nleasestart=0\nleasetime=0\n\n';
    expect(
      serializeRequest({ ip: { 4: NEW_ADDRESS, 6: RELEASE }, extensions: ['route'] }).toString(
        'latin1',
      ),
    ).toBe(bytes);
    expect(onlyRequest(bytes).extensions).toEqual(['route']);
  });
});

describe('golden responses (what the reference server sends)', () => {
  it('a grant of one address of each family', () => {
    const bytes =
      'ip=192.168.4.3/32\nip=2001:db8:1234::7/128\nleasestart=1700000000\nleasetime=3600\nerrno=0\n\n';
    const fields = {
      errno: Errno.Success,
      ip: { 4: ip('192.168.4.3'), 6: ip('2001:db8:1234::7') },
      leaseStart: 1700000000,
      leaseTime: 3600,
    };
    expect(serializeResponse(fields).toString('latin1')).toBe(bytes);
    const [event] = parseResponses(bytes);
    expect(event).toEqual({ ok: true, message: { ...fields, routes: [], prefix: {} } });
  });

  it.each([
    [Errno.Success, 'errno=0\n\n'],
    [Errno.InvalidRequest, 'errno=1\nerrmsg=Invalid request\n\n'],
    [Errno.UnsupportedProtocol, 'errno=2\nerrmsg=Unsupported protocol\n\n'],
    [Errno.IpUnavailable, 'errno=3\nerrmsg=Chosen IP(s) unavailable\n\n'],
  ])('errno %i alone', (errno, bytes) => {
    expect(serializeResponse({ errno }).toString('latin1')).toBe(bytes);
    const [event] = parseResponses(bytes);
    expect(event?.ok && event.message.errno).toBe(errno);
  });

  it('a partial grant with errno 3 keeps what was granted', () => {
    const bytes =
      'ip=192.168.4.3/32\nleasestart=1700000000\nleasetime=3600\nerrno=3\nerrmsg=Chosen IP(s) unavailable\n\n';
    expect(
      serializeResponse({
        errno: Errno.IpUnavailable,
        ip: { 4: ip('192.168.4.3') },
        leaseStart: 1700000000,
        leaseTime: 3600,
      }).toString('latin1'),
    ).toBe(bytes);
  });

  it('route push appears only with the extension', () => {
    const bytes =
      'ip=10.0.0.2/32\nleasestart=5\nleasetime=60\next=route\nroute=10.0.0.0/8\nroute=2001:db8::/32\nerrno=0\n\n';
    const fields = {
      errno: 0,
      ip: { 4: ip('10.0.0.2') },
      leaseStart: 5,
      leaseTime: 60,
      extensions: ['route'],
      routes: [IpPrefix.from('10.0.0.0/8'), IpPrefix.from('2001:db8::/32')],
    };
    expect(serializeResponse(fields).toString('latin1')).toBe(bytes);
    const [event] = parseResponses(bytes);
    expect(event).toEqual({ ok: true, message: { ...fields, prefix: {} } });
  });

  it('delegated prefixes ride on prefix= after the lease times', () => {
    const bytes =
      'ip=10.0.0.2/32\nleasestart=5\nleasetime=60\next=prefix\nprefix=10.200.0.16/28\nprefix=2001:db8:100:5::/64\nerrno=0\n\n';
    const fields = {
      errno: 0,
      ip: { 4: ip('10.0.0.2') },
      leaseStart: 5,
      leaseTime: 60,
      extensions: ['prefix'],
      prefix: { 4: IpPrefix.from('10.200.0.16/28'), 6: IpPrefix.from('2001:db8:100:5::/64') },
    };
    expect(serializeResponse(fields).toString('latin1')).toBe(bytes);
    expect(parseResponses(bytes)).toEqual([{ ok: true, message: { ...fields, routes: [] } }]);
    // A prefix alone is a lease too: it comes with the lease times.
    expect(() =>
      serializeResponse({ errno: 0, prefix: { 6: IpPrefix.from('2001:db8::/64') } }),
    ).toThrow(/leaseStart/);
  });

  it('prints IPv6 as inet_ntop does', () => {
    const bytes = serializeResponse({
      errno: 0,
      ip: { 6: ip('2001:0DB8:0:0:0:0:0:0001') },
      leaseStart: 1,
      leaseTime: 2,
    }).toString('latin1');
    expect(bytes).toBe('ip=2001:db8::1/128\nleasestart=1\nleasetime=2\nerrno=0\n\n');
  });
});

describe('extension negotiation', () => {
  it('this implementation applies route and prefix, in that order', () => {
    expect(SUPPORTED_EXTENSIONS).toEqual([Extension.Route, Extension.Prefix]);
  });

  it('answers with the names both sides know, in its own order, never one not offered', () => {
    expect(commonExtensions(['prefix', 'x-future', 'route'])).toEqual(['route', 'prefix']);
    expect(commonExtensions(['prefix'])).toEqual(['prefix']);
    expect(commonExtensions(['x-future'])).toEqual([]);
    expect(commonExtensions([])).toEqual([]);
  });
});

describe('request parsing, as the reference server judges it', () => {
  const line = (length: number) => `x=${'a'.repeat(length - 2)}`;

  it('accepts a line of 4095 characters plus its newline', () => {
    expect(line(MAX_LINE_SIZE - 1)).toHaveLength(4095);
    onlyRequest(`request_ip=1\n${line(MAX_LINE_SIZE - 1)}\n\n`);
  });

  it('refuses a line of 4096 characters plus its newline', () => {
    expect(errnoOf(`request_ip=1\n${line(MAX_LINE_SIZE)}\n\n`)).toBe(Errno.InvalidRequest);
  });

  it('refuses an overlong line before its newline arrives', () => {
    expect(errnoOf(`request_ip=1\n${line(MAX_LINE_SIZE)}`)).toBe(Errno.InvalidRequest);
    const parser = new RequestParser();
    expect(parser.push(Buffer.from(line(MAX_LINE_SIZE - 1)))).toEqual([]);
    expect(parser.bufferedBytes).toBe(MAX_LINE_SIZE - 1);
    const [event] = parser.push(Buffer.from('a'));
    expect(event?.ok).toBe(false);
  });

  it.each([
    ['CRLF line endings', 'request_ip=1\r\n\r\n', Errno.InvalidRequest],
    ['an IPv4 octet above 255', 'request_ip=1\nip=300.1.1.1/32\n\n', Errno.InvalidRequest],
    ['an IPv4 prefix other than /32', 'request_ip=1\nip=10.0.0.1/24\n\n', Errno.InvalidRequest],
    ['an IPv6 prefix other than /128', 'request_ip=1\nip=2001:db8::1/64\n\n', Errno.InvalidRequest],
    ['an empty prefix length', 'request_ip=1\nip=10.0.0.1/\n\n', Errno.InvalidRequest],
    ['a scoped address', 'request_ip=1\nip=fe80::1%wg0/128\n\n', Errno.InvalidRequest],
    ['a line without "="', 'request_ip=1\nip\n\n', Errno.InvalidRequest],
    ['an empty key', 'request_ip=1\n=1\n\n', Errno.InvalidRequest],
    ['a NUL byte', 'request_ip=1\nx=\0\n\n', Errno.InvalidRequest],
    ['another protocol version', 'request_ip=2\n\n', Errno.UnsupportedProtocol],
    ['version 0', 'request_ip=0\n\n', Errno.UnsupportedProtocol],
    ['an unknown command', 'request_prefix=1\n\n', Errno.UnsupportedProtocol],
    ['a version that is not a number', 'request_ip=one\n\n', Errno.InvalidRequest],
    ['a signed version', 'request_ip=+1\n\n', Errno.InvalidRequest],
    ['a version with a space', 'request_ip= 1\n\n', Errno.InvalidRequest],
    ['a lease time above 2^32-1', 'request_ip=1\nleasetime=4294967296\n\n', Errno.InvalidRequest],
    ['a lease start that is not a number', 'request_ip=1\nleasestart=-1\n\n', Errno.InvalidRequest],
    ['a command line in the middle', 'request_ip=1\nrequest_ip=1\n\n', Errno.InvalidRequest],
    ['a prefix with host bits', 'request_ip=1\nprefix=10.0.0.1/28\n\n', Errno.InvalidRequest],
    ['a prefix of length 0', 'request_ip=1\nprefix=::/0\n\n', Errno.InvalidRequest],
    ['a prefix without a length', 'request_ip=1\nprefix=2001:db8::\n\n', Errno.InvalidRequest],
    ['an empty message', '\n', Errno.InvalidRequest],
  ])('%s gets errno %i', (_, text, errno) => {
    expect(errnoOf(text)).toBe(errno);
  });

  it('answers a bad line without waiting for the end of the message', () => {
    const events = parseRequests('request_ip=2\n');
    expect(events).toHaveLength(1);
    expect(events[0]?.ok).toBe(false);
  });

  it('accepts leading zeros and the largest number', () => {
    const request = onlyRequest('request_ip=001\nleasetime=4294967295\n\n');
    expect(request.leaseTime).toBe(4294967295);
  });

  it('accepts addresses without a prefix length', () => {
    const request = onlyRequest('request_ip=1\nip=10.0.0.7\nip=2001:db8::7\n\n');
    expect(request.ip[4]).toEqual(specificAddress(ip('10.0.0.7')));
    expect(request.ip[6]).toEqual(specificAddress(ip('2001:db8::7')));
  });

  it('lets a later ip= replace an earlier one of the same family', () => {
    const request = onlyRequest('request_ip=1\nip=10.0.0.7/32\nip=::/128\nip=0.0.0.0/32\n\n');
    expect(request.ip).toEqual({ 4: NEW_ADDRESS, 6: NEW_ADDRESS });
  });

  it('skips keys it does not know, and errno/errmsg in a request', () => {
    const request = onlyRequest('request_ip=1\nfuture=thing\nerrno=x\nerrmsg=\nip=::/128\n\n');
    expect(request.ip[6]).toEqual(NEW_ADDRESS);
  });

  it('gives two answers to two requests in one write', () => {
    const events = parseRequests('request_ip=1\n\nrequest_ip=1\nip=::/128\n\n');
    expect(events.map((e) => e.ok)).toEqual([true, true]);
  });

  it('still answers a good request that precedes a bad one in the same write', () => {
    const events = parseRequests('request_ip=1\n\nrequest_ip=1\nip=1.2.3.4/8\n\n');
    expect(events.map((e) => e.ok)).toEqual([true, false]);
  });

  it('merges and deduplicates extension lists, ignoring empty items and non-names', () => {
    const request = onlyRequest(
      'request_ip=1\next=route,,x-future,Route,a b,-x\next=route,prefix\n\n',
    );
    expect(request.extensions).toEqual(['route', 'x-future', 'prefix']);
  });

  it('refuses to keep parsing after an error', () => {
    const parser = new RequestParser();
    parser.push(Buffer.from('nonsense\n'));
    expect(() => parser.push(Buffer.from('\n'))).toThrow(/after a protocol error/);
  });
});

describe('response parsing, as a client judges it', () => {
  it.each([
    ['no errno', 'ip=10.0.0.1/32\nleasestart=1\nleasetime=1\n\n'],
    ['an address without lease times', 'ip=10.0.0.1/32\nerrno=0\n\n'],
    ['an address with a /24', 'ip=10.0.0.1/24\nleasestart=1\nleasetime=1\nerrno=0\n\n'],
    ['a route with host bits', 'ext=route\nroute=10.0.0.1/8\nerrno=0\n\n'],
    ['a route without a length', 'ext=route\nroute=10.0.0.0\nerrno=0\n\n'],
    ['an errno that is not a number', 'errno=zero\n\n'],
  ])('refuses a response with %s', (_, text) => {
    const events = parseResponses(text);
    expect(events.at(-1)?.ok).toBe(false);
  });

  it('skips unknown keys and keeps an unknown errno', () => {
    const [event] = parseResponses('shiny=1\nerrno=42\nerrmsg=Something new\n\n');
    expect(event).toEqual({
      ok: true,
      message: { errno: 42, errmsg: 'Something new', ip: {}, routes: [], prefix: {} },
    });
  });

  it('stops at the blank line and parses what follows as the next response', () => {
    const events = parseResponses('errno=0\n\nerrno=0\n');
    expect(events).toHaveLength(1);
  });
});
