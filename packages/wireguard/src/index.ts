export type { Logger } from '@wg-dynamic/log';
export type { BackendKind, Device, Endpoint, Peer } from './device.js';
export type { ConfigureOptions, DeviceConfig, PeerConfig } from './device-config.js';
export {
  DeviceNotFoundError,
  InvalidArgumentError,
  InvalidKeyError,
  NotWireGuardDeviceError,
  PeerNotFoundError,
  PermissionDeniedError,
  WireGuardError,
  type WireGuardErrorCode,
  type WireGuardErrorDetails,
} from './errors.js';
export { assertInterfaceName, IFNAMSIZ } from './interface-name.js';
export { HIDDEN, Key, SecretKey, WG_KEY_LEN } from './key.js';
export { type OpenWireGuardOptions, openWireGuard } from './open-wireguard.js';
export { DEFAULT_UAPI_LIMITS, type UapiLimits } from './uapi/answer-reader.js';
export { DEFAULT_UAPI_DIRECTORY } from './uapi/uapi-client.js';
export type { WireGuard } from './wireguard.js';
