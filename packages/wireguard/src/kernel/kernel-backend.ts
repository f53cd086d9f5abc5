import { type Logger, silentLogger } from '@wg-dynamic/log';
import type { Backend } from '../backend.js';
import type { Device } from '../device.js';
import type { DeviceConfig } from '../device-config.js';
import { Errno } from '../errno.js';
import { DeviceNotFoundError, WireGuardError } from '../errors.js';
import { AttributeEncoder } from '../netlink/attribute-encoder.js';
import { NetlinkRequestError } from '../netlink/errors.js';
import type { GenericNetlinkTransport } from '../netlink/generic-netlink.js';
import {
  WG_CMD_GET_DEVICE,
  WG_CMD_SET_DEVICE,
  WG_GENL_NAME,
  WG_GENL_VERSION,
  WGDEVICE_A_IFNAME,
} from './constants.js';
import { encodeSetDevice } from './encode-set-device.js';
import { translateKernelError } from './kernel-errors.js';
import { DeviceDumpReader } from './parse-device.js';

/**
 * How many times a dump is started again when the kernel flags it
 * NLM_F_DUMP_INTR (the device changed while it was being read).
 * wireguard-tools retries without limit; a device changing this often is
 * reported as busy instead.
 */
export const MAX_DUMP_ATTEMPTS = 10;

/** WireGuard's kernel module, through generic netlink. */
export class KernelBackend implements Backend {
  readonly kind = 'kernel';
  readonly #transport: () => Promise<GenericNetlinkTransport>;
  readonly #logger: Logger;

  constructor(transport: () => Promise<GenericNetlinkTransport>, logger: Logger = silentLogger) {
    this.#transport = transport;
    this.#logger = logger;
  }

  async device(name: string): Promise<Device> {
    try {
      const genl = await this.#transport();
      const family = await this.#family(genl, name);
      const request = new AttributeEncoder().string(WGDEVICE_A_IFNAME, name).encode();
      for (let attempt = 1; attempt <= MAX_DUMP_ATTEMPTS; attempt++) {
        const reader = new DeviceDumpReader(name);
        const { interrupted } = await genl.dump(
          family,
          WG_CMD_GET_DEVICE,
          WG_GENL_VERSION,
          request,
          `read ${name}`,
          (message) => reader.add(message.attributes),
        );
        if (!interrupted) return reader.finish();
        this.#logger.debug(
          { device: name, attempt },
          'device changed while it was read; reading it again',
        );
      }
      throw new WireGuardError(
        'BUSY',
        `cannot read ${name}: it changed during each of ${MAX_DUMP_ATTEMPTS} reads in a row`,
        { device: name },
      );
    } catch (error) {
      throw translateKernelError(error, name, `read ${name}`);
    }
  }

  async configure(name: string, config: DeviceConfig): Promise<void> {
    let action = `configure ${name}`;
    try {
      const genl = await this.#transport();
      const family = await this.#family(genl, name);
      const payloads = encodeSetDevice(name, config, genl.maxMessageSize());
      this.#logger.debug(
        { device: name, messages: payloads.length, peers: config.peers?.length ?? 0 },
        'configuring a kernel WireGuard device',
      );
      for (const [index, payload] of payloads.entries()) {
        if (payloads.length > 1) {
          action = `configure ${name} (message ${index + 1} of ${payloads.length}${index > 0 ? '; the earlier ones are applied' : ''})`;
        }
        await genl.request(family, WG_CMD_SET_DEVICE, WG_GENL_VERSION, payload, action);
      }
    } catch (error) {
      throw translateKernelError(error, name, action);
    }
  }

  async #family(genl: GenericNetlinkTransport, name: string): Promise<number> {
    try {
      return await genl.family(WG_GENL_NAME);
    } catch (error) {
      if (error instanceof NetlinkRequestError && error.errno === Errno.ENOENT) {
        throw new DeviceNotFoundError(
          name,
          'there is no wireguard-go socket for it, and this kernel has no WireGuard module (load it with `modprobe wireguard`, or run `wireguard-go ' +
            `${name}\`)`,
          { errno: 'ENOENT', cause: error },
        );
      }
      throw error;
    }
  }
}
