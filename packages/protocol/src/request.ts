import { addressBits, type IpAddress, type IpFamily, type IpPrefix } from '@wg-dynamic/ip';
import { WG_DYNAMIC_PROTOCOL_VERSION } from './constants.js';
import { Errno, invalid, ProtocolError } from './errors.js';
import { type MessageBuilder, MessageParser } from './message-parser.js';
import {
  addNames,
  EXTENSION_NAME,
  parseDelegatedPrefix,
  parseHostAddress,
  parseNumber,
} from './values.js';

/** What a request asks for one address family (the protocol file's table). */
export type AddressRequest =
  /** No `ip=` of that family: release the address held, if any. */
  | { readonly kind: 'release' }
  /** `ip=0.0.0.0/32` or `ip=::/128`: a new address chosen by the server. */
  | { readonly kind: 'new' }
  /** `ip=A/32` or `ip=A/128`: keep A if it is the peer's, else take A if free. */
  | { readonly kind: 'specific'; readonly address: IpAddress };

/**
 * What a request asks for one family's delegated prefix (extension "prefix";
 * the line is `prefix=` and only counts when the request lists the extension).
 */
export type PrefixRequest =
  /** No `prefix=` of that family: release the prefix held, if any. */
  | { readonly kind: 'release' }
  /** `prefix=0.0.0.0/L` or `prefix=::/L`: a new prefix of length L (or longer). */
  | { readonly kind: 'new'; readonly length: number }
  /** `prefix=P/L`: keep P/L if it is the peer's, else take it if free and in a pool. */
  | { readonly kind: 'specific'; readonly prefix: IpPrefix };

export const RELEASE: AddressRequest = Object.freeze({ kind: 'release' });
export const RELEASE_PREFIX: PrefixRequest = Object.freeze({ kind: 'release' });

/** The request for a prefix as `prefix=` writes it: the unspecified address asks for a new one. */
export function prefixRequest(prefix: IpPrefix): PrefixRequest {
  return prefix.address.isUnspecified()
    ? { kind: 'new', length: prefix.length }
    : { kind: 'specific', prefix };
}
export const NEW_ADDRESS: AddressRequest = Object.freeze({ kind: 'new' });

export function specificAddress(address: IpAddress): AddressRequest {
  return address.isUnspecified() ? NEW_ADDRESS : { kind: 'specific', address };
}

export type PerFamily<T> = { readonly 4: T; readonly 6: T };

export interface Request {
  readonly ip: PerFamily<AddressRequest>;
  /** Delegated prefixes asked for (extension "prefix"); release unless a `prefix=` line says otherwise. */
  readonly prefix: PerFamily<PrefixRequest>;
  /** Extension names the client understands (`ext=`), unknown ones included, in order. */
  readonly extensions: readonly string[];
  /** Sent by the reference client (always 0) and ignored by servers. */
  readonly leaseStart?: number;
  readonly leaseTime?: number;
}

class RequestBuilder implements MessageBuilder<Request> {
  private sawCommand = false;
  private readonly ip: { 4: AddressRequest; 6: AddressRequest } = { 4: RELEASE, 6: RELEASE };
  private readonly prefix: { 4: PrefixRequest; 6: PrefixRequest } = {
    4: RELEASE_PREFIX,
    6: RELEASE_PREFIX,
  };
  private extensions: string[] = [];
  private leaseStart: number | undefined;
  private leaseTime: number | undefined;

  line(key: string, value: string): void {
    if (!this.sawCommand) {
      this.command(key, value);
      return;
    }
    switch (key) {
      case 'ip': {
        const address = parseHostAddress(value);
        this.ip[address.family] = specificAddress(address);
        break;
      }
      case 'leasestart':
        this.leaseStart = parseNumber(key, value);
        break;
      case 'leasetime':
        this.leaseTime = parseNumber(key, value);
        break;
      case 'ext':
        this.extensions = addNames(this.extensions, value);
        break;
      case 'prefix': {
        const prefix = parseDelegatedPrefix(value);
        this.prefix[prefix.family] = prefixRequest(prefix);
        break;
      }
      case 'request_ip':
        throw invalid('request_ip= may only be the first line');
      default:
      // A key this version does not know: skipped, which is what keeps extensions safe.
    }
  }

  private command(key: string, value: string): void {
    if (key !== 'request_ip') {
      throw new ProtocolError(Errno.UnsupportedProtocol, `unknown command ${truncate(key)}=`);
    }
    const version = parseNumber(key, value);
    if (version !== WG_DYNAMIC_PROTOCOL_VERSION) {
      throw new ProtocolError(
        Errno.UnsupportedProtocol,
        `request_ip version ${version} is not supported (only ${WG_DYNAMIC_PROTOCOL_VERSION})`,
      );
    }
    this.sawCommand = true;
  }

  finish(): Request {
    if (!this.sawCommand) throw invalid('the request has no command line');
    const request: { -readonly [K in keyof Request]: Request[K] } = {
      ip: this.ip,
      prefix: this.prefix,
      extensions: this.extensions,
    };
    if (this.leaseStart !== undefined) request.leaseStart = this.leaseStart;
    if (this.leaseTime !== undefined) request.leaseTime = this.leaseTime;
    return request;
  }
}

/** Parses a stream of requests, as a server reads them. */
export class RequestParser extends MessageParser<Request> {
  constructor() {
    super(() => new RequestBuilder());
  }
}

export interface RequestFields {
  readonly ip: PerFamily<AddressRequest>;
  /** Written only when `extensions` lists "prefix". */
  readonly prefix?: PerFamily<PrefixRequest>;
  readonly extensions?: readonly string[];
  readonly leaseStart?: number;
  readonly leaseTime?: number;
}

/**
 * The bytes of a request. Without extensions they are exactly the reference
 * client's: the command line, one `ip=` per family asked for (IPv4 first), and
 * `leasestart=`/`leasetime=` (0 unless given) when any address is asked for.
 */
export function serializeRequest(request: RequestFields): Buffer {
  let text = `request_ip=${WG_DYNAMIC_PROTOCOL_VERSION}\n`;
  if (request.extensions && request.extensions.length > 0) {
    text += `ext=${checkNames(request.extensions).join(',')}\n`;
  }
  let any = false;
  for (const family of [4, 6] as const) {
    const asked = request.ip[family];
    if (asked.kind === 'release') continue;
    any = true;
    text += `ip=${requestedAddress(family, asked)}/${addressBits[family]}\n`;
  }
  if (request.prefix && request.extensions?.includes('prefix')) {
    for (const family of [4, 6] as const) {
      const asked = request.prefix[family];
      if (asked.kind === 'release') continue;
      text += `prefix=${requestedPrefix(family, asked)}\n`;
    }
  }
  if (any) text += `leasestart=${request.leaseStart ?? 0}\nleasetime=${request.leaseTime ?? 0}\n`;
  return Buffer.from(`${text}\n`, 'latin1');
}

function requestedAddress(family: IpFamily, asked: AddressRequest): string {
  if (asked.kind === 'new') return family === 4 ? '0.0.0.0' : '::';
  if (asked.kind !== 'specific' || asked.address.family !== family) {
    throw new TypeError(`the IPv${family} slot of a request holds another family's address`);
  }
  return asked.address.toString();
}

function requestedPrefix(family: IpFamily, asked: PrefixRequest): string {
  if (asked.kind === 'new') {
    if (!Number.isInteger(asked.length) || asked.length < 1 || asked.length > addressBits[family]) {
      throw new TypeError(`/${asked.length} is not an IPv${family} prefix length to ask for`);
    }
    return `${family === 4 ? '0.0.0.0' : '::'}/${asked.length}`;
  }
  if (asked.kind !== 'specific' || asked.prefix.family !== family || !asked.prefix.isNetwork()) {
    throw new TypeError(
      `the IPv${family} prefix slot of a request holds no IPv${family} network prefix`,
    );
  }
  return asked.prefix.toString();
}

export function checkNames(names: readonly string[]): readonly string[] {
  for (const name of names) {
    if (!EXTENSION_NAME.test(name)) throw new TypeError(`"${name}" is not a valid extension name`);
  }
  return names;
}

function truncate(text: string): string {
  return text.length > 32 ? `${text.slice(0, 32)}…` : text;
}
