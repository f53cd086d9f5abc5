import { type Logger, silentLogger } from '@wg-dynamic/log';
import type { Backend } from '../backend.js';
import type { Device } from '../device.js';
import type { DeviceConfig } from '../device-config.js';
import { Errno, errnoName } from '../errno.js';
import { WireGuardError } from '../errors.js';
import type { Key } from '../key.js';
import { encodeUapiSet, UAPI_GET } from './encode-set.js';
import { UapiDeviceParser } from './parse-device.js';
import { describeUapiErrno, type UapiClient } from './uapi-client.js';

/**
 * Userspace WireGuard (wireguard-go and compatible implementations) through
 * its UAPI socket. The UAPI names neither the interface index nor the public
 * key: the index comes from `linkIndex` (rtnetlink in the caller's network
 * namespace), the public key is derived from the private key.
 */
export class UapiBackend implements Backend {
  readonly kind = 'userspace';
  readonly #client: UapiClient;
  readonly #linkIndex: (name: string) => Promise<number | undefined>;
  readonly #logger: Logger;

  constructor(
    client: UapiClient,
    linkIndex: (name: string) => Promise<number | undefined>,
    logger: Logger = silentLogger,
  ) {
    this.#client = client;
    this.#linkIndex = linkIndex;
    this.#logger = logger;
  }

  has(name: string): Promise<boolean> {
    return this.#client.has(name);
  }

  removeIfStale(name: string): Promise<boolean> {
    return this.#client.removeIfStale(name);
  }

  names(): Promise<string[]> {
    return this.#client.names();
  }

  async device(name: string): Promise<Device> {
    const parser = new UapiDeviceParser();
    const errno = await this.#client.request(name, UAPI_GET, (key, value, line) =>
      parser.line(key, value, line),
    );
    if (errno !== 0) {
      throw new WireGuardError(
        'REFUSED',
        `wireguard-go for ${name} refused to describe it: ${describeUapiErrno(errno)}`,
        { device: name, errno: errnoName(-errno) },
      );
    }
    const state = parser.finish();
    const index = await this.#linkIndex(name);
    if (index === undefined) {
      this.#logger.debug(
        { device: name },
        'no link of that name in this network namespace; index 0',
      );
    }
    // The UAPI gives no public key: it is derived (X25519) on first read only,
    // since that costs tens of milliseconds in a fresh process that may never look.
    let publicKey: Key | undefined;
    return {
      name,
      index: index ?? 0,
      backend: 'userspace',
      privateKey: state.privateKey,
      get publicKey() {
        publicKey ??= state.privateKey?.publicKey();
        return publicKey;
      },
      listenPort: state.listenPort,
      firewallMark: state.firewallMark,
      peers: state.peers,
    };
  }

  async configure(name: string, config: DeviceConfig): Promise<void> {
    const request = encodeUapiSet(config);
    const errno = await this.#client.request(name, request, (key, _value, line) => {
      throw new WireGuardError(
        'MALFORMED_REPLY',
        `wireguard-go for ${name} answered a set with an unexpected line ${line} (${key}=…)`,
        { device: name },
      );
    });
    if (errno === 0) return;
    const hint =
      -errno === Errno.EADDRINUSE
        ? 'the listen port is already in use by another socket; pick another port'
        : 'it refused a line of the configuration; the lines before it are applied (its log says which)';
    throw new WireGuardError(
      'REFUSED',
      `wireguard-go could not configure ${name}: ${hint}: ${describeUapiErrno(errno)}`,
      { device: name, errno: errnoName(-errno) },
    );
  }
}
