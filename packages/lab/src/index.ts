export type { Logger } from '@wg-dynamic/log';
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
export { generateKeyPair, type LabKeyPair, LabPrivateKey } from './keys.js';
export {
  type CleanupOptions,
  DEFAULT_LAB_STATE_DIRECTORY,
  Lab,
  type LabOptions,
} from './lab/lab.js';
export { LabNode } from './lab/lab-node.js';
export {
  type LabOwner,
  labIdOfNamespace,
  parseNetnsList,
  parseStartTime,
  staleLabIds,
} from './lab/stale.js';
export { formatCommand, quoteArgument } from './process/command-text.js';
export {
  LabProcess,
  type OutputStream,
  type ProcessExit,
  type StartOptions,
} from './process/lab-process.js';
export { LineBuffer } from './process/line-buffer.js';
export { type CommandResult, type RunOptions, runCommand } from './process/run-command.js';
export { type ClassicTopologyOptions, classicTopology } from './topology/classic.js';
export {
  batchArgv,
  batchInput,
  describeSteps,
  FORWARDING_COMMAND,
  formatEndpoint,
  type IpBatch,
  interfaceBatch,
  kernelInterfaceBatch,
  NODE_UAPI_DIRECTORY,
  namespaceBatch,
  nodeCommand,
  nodeScript,
  nodeSetupSteps,
  type SetupStep,
  setupScript,
  teardownScript,
  underlayBatch,
  wgSetCommand,
} from './topology/commands.js';
export {
  LAB_NETNS_PREFIX,
  type LabPlan,
  type LinkEnd,
  type LinkPlan,
  type NodePlan,
  type PeerPlan,
  type PlanOptions,
  planLab,
} from './topology/plan.js';
export type { LabNodeSpec, LabPeerSpec, LabSpec } from './topology/spec.js';
