/**
 * wg-dynamic-server as a library: the assembled server and the ports it is
 * built from, for programs that embed it (the benchmarks run it against an
 * in-memory device). The command-line program is `wg-dynamic-server`; the
 * lease journal has its own entry point, `@wg-dynamic/server/journal`.
 */
export { Allocator } from './allocator/allocator.js';
export type { Delegation } from './allocator/prefix-pools.js';
export {
  type AllowedIpsChange,
  type Clock,
  type Lease,
  type LeaseRecord,
  type PeerId,
  systemClock,
} from './leases/lease.js';
export { DEFAULT_LIMITS, type ListenerLimits, type Refusal } from './net/listener.js';
export { type RandomSource, randomSource, seededRandom, systemRandom } from './random.js';
export {
  poolsFromRoutes,
  type ServerConfig,
  type ServerDeps,
  type ServerObserver,
  WgDynamicServer,
} from './server.js';
export type {
  DevicePort,
  JournalPort,
  NetworkListener,
  NetworkPort,
  RoutePort,
} from './service/ports.js';
