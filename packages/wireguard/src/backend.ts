import type { BackendKind, Device } from './device.js';
import type { DeviceConfig } from './device-config.js';

/**
 * One way to reach WireGuard devices (kernel generic netlink, or the
 * userspace UAPI socket). Internal: callers use the WireGuard interface,
 * which validates configurations, resolves allowed-ip removals, checks
 * update-only peers and picks the backend per device.
 */
export interface Backend {
  readonly kind: BackendKind;
  device(name: string): Promise<Device>;
  /** Applies a validated configuration without `removeAllowedIps`. */
  configure(name: string, config: DeviceConfig): Promise<void>;
}
