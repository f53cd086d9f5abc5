import { addressBits, type IpAddress, type IpPrefix } from '@wg-dynamic/ip';
import { Errno, errorMessages, invalid } from './errors.js';
import { type MessageBuilder, MessageParser } from './message-parser.js';
import { checkNames, type PerFamily } from './request.js';
import {
  addNames,
  parseDelegatedPrefix,
  parseHostAddress,
  parseNetworkPrefix,
  parseNumber,
} from './values.js';

/** The most `route=` lines a response may carry; a client refuses more. */
export const MAX_ROUTES = 256;

export interface Response {
  /** 0 on success; see Errno. A server may send numbers this version does not name. */
  readonly errno: number;
  /** Present when errno is not 0. */
  readonly errmsg?: string;
  /** The addresses now leased to the peer. */
  readonly ip: Partial<PerFamily<IpAddress>>;
  /** Lease start, wall-clock UNIX seconds; present whenever an address is. */
  readonly leaseStart?: number;
  /** Lease length in seconds; present whenever an address is. */
  readonly leaseTime?: number;
  /**
   * The extensions the server applied to this answer (`ext=`); undefined when
   * it sent none, as a v1 server never does. Only names the client asked for.
   */
  readonly extensions?: readonly string[];
  /** Routes to install through the interface (extension "route"). */
  readonly routes: readonly IpPrefix[];
  /** Prefixes delegated to the client (extension "prefix"), at most one per family. */
  readonly prefix: Partial<PerFamily<IpPrefix>>;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

class ResponseBuilder implements MessageBuilder<Response> {
  private readonly response: Mutable<Omit<Response, 'ip' | 'routes' | 'errno' | 'prefix'>> = {};
  private readonly ip: { 4?: IpAddress; 6?: IpAddress } = {};
  private readonly prefix: { 4?: IpPrefix; 6?: IpPrefix } = {};
  private readonly routes: IpPrefix[] = [];
  private errno: number | undefined;

  line(key: string, value: string): void {
    switch (key) {
      case 'ip': {
        const address = parseHostAddress(value);
        this.ip[address.family] = address;
        break;
      }
      case 'leasestart':
        this.response.leaseStart = parseNumber(key, value);
        break;
      case 'leasetime':
        this.response.leaseTime = parseNumber(key, value);
        break;
      case 'errno':
        this.errno = parseNumber(key, value);
        break;
      case 'errmsg':
        this.response.errmsg = value;
        break;
      case 'ext':
        this.response.extensions = addNames(this.response.extensions ?? [], value);
        break;
      case 'prefix': {
        const prefix = parseDelegatedPrefix(value);
        this.prefix[prefix.family] = prefix;
        break;
      }
      case 'route':
        if (this.routes.length === MAX_ROUTES) throw invalid(`more than ${MAX_ROUTES} routes`);
        this.routes.push(parseNetworkPrefix(key, value));
        break;
      default:
      // Unknown keys are skipped.
    }
  }

  finish(): Response {
    if (this.errno === undefined) throw invalid('the response has no errno=');
    const leases = [this.ip[4], this.ip[6], this.prefix[4], this.prefix[6]].some(Boolean);
    if (
      leases &&
      (this.response.leaseStart === undefined || this.response.leaseTime === undefined)
    ) {
      throw invalid('the response leases an address without leasestart= and leasetime=');
    }
    return {
      ...this.response,
      errno: this.errno,
      ip: this.ip,
      routes: this.routes,
      prefix: this.prefix,
    };
  }
}

/** Parses a stream of responses, as a client reads them. */
export class ResponseParser extends MessageParser<Response> {
  constructor() {
    super(() => new ResponseBuilder());
  }
}

export interface ResponseFields {
  readonly errno: number;
  /** Defaults to the reference text for errno; never sent when errno is 0. */
  readonly errmsg?: string;
  readonly ip?: Partial<PerFamily<IpAddress>>;
  readonly leaseStart?: number;
  readonly leaseTime?: number;
  readonly extensions?: readonly string[];
  readonly routes?: readonly IpPrefix[];
  readonly prefix?: Partial<PerFamily<IpPrefix>>;
}

/**
 * The bytes of a response, exactly as the reference server writes them when
 * no extension is used: `ip=` lines (IPv4 first) with `leasestart=` and
 * `leasetime=`, then `errno=`, then `errmsg=` when errno is not 0. Extension
 * lines (`ext=`, `prefix=`, `route=`) come after the lease times and before
 * `errno=`.
 */
export function serializeResponse(response: ResponseFields): Buffer {
  let text = '';
  const ip = response.ip ?? {};
  const prefixes = response.prefix ?? {};
  let leased = prefixes[4] !== undefined || prefixes[6] !== undefined;
  for (const family of [4, 6] as const) {
    const address = ip[family];
    if (!address) continue;
    if (address.family !== family) {
      throw new TypeError(`the IPv${family} slot of a response holds another family's address`);
    }
    leased = true;
    text += `ip=${address.toString()}/${addressBits[family]}\n`;
  }
  if (leased) {
    if (response.leaseStart === undefined || response.leaseTime === undefined) {
      throw new TypeError('a response that leases an address needs leaseStart and leaseTime');
    }
    text += `leasestart=${response.leaseStart}\nleasetime=${response.leaseTime}\n`;
  }
  if (response.extensions && response.extensions.length > 0) {
    text += `ext=${checkNames(response.extensions).join(',')}\n`;
  }
  for (const family of [4, 6] as const) {
    const prefix = prefixes[family];
    if (!prefix) continue;
    if (prefix.family !== family || !prefix.isNetwork() || prefix.length === 0) {
      throw new TypeError(
        `the IPv${family} prefix slot of a response holds no IPv${family} network prefix`,
      );
    }
    text += `prefix=${prefix.toString()}\n`;
  }
  for (const route of response.routes ?? []) {
    if (!route.isNetwork()) throw new TypeError(`route ${route.toString()} has host bits set`);
    text += `route=${route.toString()}\n`;
  }
  text += `errno=${response.errno}\n`;
  if (response.errno !== Errno.Success) {
    const errmsg = response.errmsg ?? errorMessages[response.errno as Errno] ?? 'Error';
    if (/[\n\0]/.test(errmsg)) throw new TypeError('errmsg may not hold a newline or NUL');
    text += `errmsg=${errmsg}\n`;
  }
  return Buffer.from(`${text}\n`, 'latin1');
}
