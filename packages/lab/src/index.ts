export { assertInterfaceName, IFNAMSIZ } from './device/interface-name.js';
export {
  type CreateWireGuardInterfaceOptions,
  createWireGuardInterface,
  WIREGUARD_GO_SOCKET_DIRECTORY,
  type WireGuardInterface,
} from './device/wireguard-interface.js';
export {
  BACKEND_ENV,
  type Backend,
  backendFromEnvironment,
  isInSandbox,
  requireSandbox,
  SANDBOX_ENV,
} from './environment.js';
export { LabError, type LabErrorCode } from './errors.js';
export type { Logger } from './logger.js';
export { formatCommand, quoteArgument } from './process/command-text.js';
export {
  LabProcess,
  type OutputStream,
  type ProcessExit,
  type StartOptions,
} from './process/lab-process.js';
export { LineBuffer } from './process/line-buffer.js';
export { type CommandResult, type RunOptions, runCommand } from './process/run-command.js';
