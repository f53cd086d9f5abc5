export type { Logger } from '@wg-dynamic/log';
export {
  type ClientOptions,
  defaultPidFile,
  type ParsedCommandLine,
  parseCommandLine,
  USAGE,
} from './cli/options.js';
export { claimPidFile } from './cli/pid-file.js';
export {
  routesSparingEndpoints,
  unsafeAddressReason,
  unsafePrefixReason,
  unsafeRouteReason,
} from './core/address-safety.js';
export {
  type AddedRecord,
  type ApplyPlan,
  type ApplyStep,
  EMPTY_RECORD,
  type InterfaceSnapshot,
  planApply,
  recordAfter,
  recordIntent,
} from './core/apply-plan.js';
export {
  type ClientAction,
  type ClientEvent,
  ClientMachine,
  EMPTY_MEMORY,
  type LogLevel,
  type MachineOptions,
  type Memory,
  type Phase,
  type TimerName,
} from './core/client-machine.js';
export { RTPROT_WG_DYNAMIC } from './core/constants.js';
export {
  type DownstreamAddress,
  type DownstreamPlan,
  type DownstreamStep,
  downstreamIntent,
  downstreamRecordAfter,
  planDownstream,
} from './core/downstream-plan.js';
export {
  type DesiredConfig,
  desiredOf,
  type HeldLease,
  NOTHING,
  type RememberedLease,
} from './core/lease.js';
export {
  backoffDelay,
  DEFAULT_TIMING,
  type Instant,
  type LeaseClock,
  leaseClock,
  type Random,
  renewBeforeEnd,
  type TimingPolicy,
} from './core/lease-timing.js';
export {
  describeWanted,
  downstreamAddress,
  HOOK_VARIABLES,
  hookEnvironment,
  mismatchReason,
  type PrefixEvent,
  type Prefixes,
  parseWantedPrefix,
  prefixEvents,
  type WantedPrefix,
  type WantedPrefixes,
} from './core/prefix-delegation.js';
export {
  type CheckOptions,
  checkResponse,
  type Families,
  type Grant,
  type SkippedRoute,
  type Verdict,
} from './core/response-check.js';
export {
  checkInterface,
  type InterfaceFacts,
  type InterfaceVerdict,
  SERVER_HOST_PREFIX,
  StartupCheckError,
  type StartupProblem,
} from './core/startup-checks.js';
export {
  type ClientState,
  decodeState,
  EMPTY_STATE,
  encodeState,
  MAX_STATE_BYTES,
  STATE_VERSION,
  StateFileError,
} from './core/state-record.js';
export {
  ClientRuntime,
  type ClientRuntimeOptions,
  type Clock,
  type StartHooks,
  systemClock,
} from './system/client-runtime.js';
export {
  DEFAULT_EXCHANGE_LIMITS,
  ExchangeError,
  type ExchangeErrorCode,
  type ExchangeOptions,
  exchange,
} from './system/exchange.js';
export { type LinkChange, LinkWatcher, type LinkWatcherOptions } from './system/link-watcher.js';
export { PrefixEffects, type PrefixEffectsOptions } from './system/prefix-effects.js';
export {
  DEFAULT_HOOK_OUTPUT_BYTES,
  DEFAULT_HOOK_TIMEOUT_MS,
  type HookOutcome,
  type HookRunner,
  type HookRunOptions,
  runShellHook,
} from './system/shell-hook.js';
export {
  DEFAULT_STATE_DIRECTORY,
  type LoadedState,
  StateStore,
  stateFilePath,
} from './system/state-store.js';
