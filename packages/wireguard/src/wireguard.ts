import { type Logger, silentLogger } from '@wg-dynamic/log';
import type { Backend } from './backend.js';
import {
  missingPeers,
  needsCurrentAllowedIps,
  resolveAllowedIpRemovals,
  updateOnlyPeers,
  validateDeviceConfig,
} from './config-rules.js';
import type { Device } from './device.js';
import type { ConfigureOptions, DeviceConfig } from './device-config.js';
import { PeerNotFoundError, WireGuardError } from './errors.js';
import { assertInterfaceName } from './interface-name.js';
import type { UapiBackend } from './uapi/uapi-backend.js';

/**
 * WireGuard devices, whichever implementation serves them: the kernel
 * module or a userspace one (wireguard-go) behind its UAPI socket. The
 * backend is chosen per device as wg(8) chooses it.
 */
export interface WireGuard {
  /** The names of all WireGuard interfaces: kernel ones in this network namespace and live UAPI sockets. Sorted. */
  devices(): Promise<string[]>;
  /** Reads a device whole. */
  device(name: string): Promise<Device>;
  /**
   * Applies a configuration. Not atomic: a large configuration goes out in
   * several messages (kernel) or lines (UAPI), and when one is refused the
   * ones before it stay applied.
   *
   * Throws PeerNotFoundError, after applying everything else, when a peer
   * configured `updateOnly` does not exist (see ConfigureOptions for the cost
   * of that check and how to skip it).
   */
  configure(name: string, config: DeviceConfig, options?: ConfigureOptions): Promise<void>;
  /** Closes the sockets; later calls fail with code CLOSED. */
  close(): Promise<void>;
}

export interface WireGuardParts {
  readonly userspace: UapiBackend;
  readonly kernel: Backend;
  /** The names of the kernel's WireGuard links in this network namespace. */
  readonly kernelDeviceNames: () => Promise<string[]>;
  readonly close: () => void;
  readonly logger?: Logger;
}

/** The WireGuard interface over its two backends. */
export class WireGuardClient implements WireGuard {
  readonly #parts: WireGuardParts;
  readonly #logger: Logger;
  #closed = false;

  constructor(parts: WireGuardParts) {
    this.#parts = parts;
    this.#logger = parts.logger ?? silentLogger;
  }

  async devices(): Promise<string[]> {
    this.#checkOpen();
    const [userspace, kernel] = await Promise.all([
      this.#parts.userspace.names(),
      this.#parts.kernelDeviceNames(),
    ]);
    return [...new Set([...userspace, ...kernel])].sort();
  }

  async device(name: string): Promise<Device> {
    this.#checkOpen();
    assertInterfaceName(name);
    return this.#onBackend(name, (backend) => backend.device(name));
  }

  async configure(
    name: string,
    config: DeviceConfig,
    options: ConfigureOptions = {},
  ): Promise<void> {
    this.#checkOpen();
    assertInterfaceName(name);
    validateDeviceConfig(name, config);
    await this.#onBackend(name, (backend) => this.#configure(backend, name, config, options));
  }

  async #configure(
    backend: Backend,
    name: string,
    config: DeviceConfig,
    options: ConfigureOptions,
  ): Promise<void> {
    let resolved = config;
    if (needsCurrentAllowedIps(config)) {
      resolved = resolveAllowedIpRemovals(config, await backend.device(name));
    }
    await backend.configure(name, resolved);
    const updateOnly = updateOnlyPeers(config);
    if (updateOnly.length === 0 || options.verifyUpdateOnlyPeers === false) return;
    const missing = missingPeers(updateOnly, await backend.device(name));
    if (missing.length > 0) {
      this.#logger.debug({ device: name, missing: missing.length }, 'update-only peers missing');
      throw new PeerNotFoundError(name, missing);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#parts.close();
  }

  /**
   * Runs `operation` on the backend wg(8) chooses: a UAPI socket for the name
   * that takes connections wins; otherwise the kernel. A socket whose
   * connection was refused is stale (its wireguard-go was killed): it is
   * deleted and the kernel serves the name, as with wg(8). A refused
   * connection carried nothing, and that wireguard-go is gone with whatever
   * it held, so the operation starts over on the kernel.
   */
  async #onBackend<T>(name: string, operation: (backend: Backend) => Promise<T>): Promise<T> {
    const userspace = this.#parts.userspace;
    if (await userspace.has(name)) {
      try {
        return await operation(userspace);
      } catch (error) {
        const refused = error instanceof WireGuardError && error.errno === 'ECONNREFUSED';
        if (!refused || !(await userspace.removeIfStale(name))) throw error;
      }
    }
    return operation(this.#parts.kernel);
  }

  #checkOpen(): void {
    if (this.#closed) throw new WireGuardError('CLOSED', 'this WireGuard client is closed');
  }
}
