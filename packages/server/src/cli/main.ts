import { join } from 'node:path';
import {
  createProgramLogger,
  ExitCode,
  FatalError,
  type Logger,
  onTermination,
} from '@wg-dynamic/cli';
import { openRtnetlink, openRtnetlinkEvents } from '@wg-dynamic/rtnetlink';
import { openWireGuard } from '@wg-dynamic/wireguard';
import { rtnetlinkNetwork, rtnetlinkRoutes } from '../adapters/rtnetlink-network.js';
import { wireguardDevice } from '../adapters/wireguard-device.js';
import {
  closeControlSocket,
  controlSocketPath,
  DEFAULT_RUN_DIRECTORY,
  readStatus,
  serveControlSocket,
} from '../control/control-socket.js';
import { formatStatus, leaseStatus, prefixStatus, type ServerStatus } from '../control/status.js';
import { JournalError, leaseRecordCodec, openJournal } from '../journal/index.js';
import { isPrefixSlot, systemClock } from '../leases/lease.js';
import { ServerMetrics, serveMetrics } from '../metrics/metrics.js';
import { systemRandom } from '../random.js';
import { type ServerConfig, WgDynamicServer } from '../server.js';
import type { DevicePort, NetworkPort, RoutePort } from '../service/ports.js';
import { checkServerInterface, explainDeviceError } from '../startup-checks.js';
import { parseServerArguments, type ServerCommand, USAGE } from './arguments.js';

/** How often the device is read again to notice peers added and removed. */
const REFRESH_INTERVAL_MS = 30_000;

/** The program: parses the command line, then serves or shows. Returns the exit status. */
export async function main(
  argv: readonly string[],
  setLogger: (logger: Logger) => void,
): Promise<number> {
  const command = parseServerArguments(argv);
  switch (command.command) {
    case 'help':
      process.stdout.write(`${USAGE}\n`);
      return ExitCode.Ok;
    case 'show': {
      const path = controlSocketPath(DEFAULT_RUN_DIRECTORY, command.interfaceName);
      const status = await readStatus(path, command.interfaceName);
      process.stdout.write(
        command.json ? `${JSON.stringify(status, null, 2)}\n` : formatStatus(status),
      );
      return ExitCode.Ok;
    }
    case 'serve': {
      const logger = createProgramLogger('wg-dynamic-server', { level: command.logLevel });
      setLogger(logger);
      return serve(command, logger);
    }
  }
}

/** The interface as the server needs it, opened and checked; `close` lets go of it. */
export interface ServerInterface {
  readonly device: DevicePort;
  readonly network: NetworkPort;
  readonly routes: RoutePort;
  close(): Promise<void>;
}

/** What serving takes from the system: the real one below, fakes in tests. */
export interface ServeSystem {
  /** Opens the interface and checks it as the reference server does. */
  openInterface(name: string, logger: Logger): Promise<ServerInterface>;
  /** Where the control socket for `show` is made. */
  readonly runDirectory: string;
  /** Where to listen instead of [fe80::%<interface>]:970 (tests). */
  readonly listen?: ServerConfig['listen'];
  /** Calls `stop` on SIGTERM and SIGINT; returns a function that removes the handlers. */
  onTermination(stop: (signal: NodeJS.Signals) => void): () => void;
}

const SYSTEM: ServeSystem = {
  openInterface: openKernelInterface,
  runDirectory: DEFAULT_RUN_DIRECTORY,
  onTermination,
};

/** The interface through WireGuard's layer (kernel or userspace) and rtnetlink. */
async function openKernelInterface(name: string, logger: Logger): Promise<ServerInterface> {
  const wireguard = openWireGuard({ logger: logger.child({ layer: 'wireguard' }) });
  const rtnetlink = openRtnetlink({ logger: logger.child({ layer: 'rtnetlink' }) });
  const close = async () => {
    await wireguard.close().catch(() => {});
    rtnetlink.close();
  };
  try {
    const device = await wireguard.device(name).catch((error) => explainDeviceError(name, error));
    const index = device.index || (await rtnetlink.getLink(name)).index;
    const addresses = (await rtnetlink.listAddresses({ index })).map((address) => address.prefix);
    checkServerInterface(device, addresses);
    return {
      device: wireguardDevice(wireguard, name),
      network: rtnetlinkNetwork(rtnetlink, index, () =>
        openRtnetlinkEvents({
          groups: ['link', 'ipv4-address', 'ipv6-address', 'ipv4-route', 'ipv6-route'],
          logger: logger.child({ layer: 'rtnetlink-events' }),
        }),
      ),
      routes: rtnetlinkRoutes(rtnetlink, index),
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

/** Serves an interface until a signal or the interface's removal; returns the exit status. */
export async function serve(
  command: Extract<ServerCommand, { command: 'serve' }>,
  logger: Logger,
  system: ServeSystem = SYSTEM,
): Promise<number> {
  const name = command.interfaceName;
  // Signals are handled from the start: one during start-up (the journal's
  // replay, reconciling with the interface) stops the server once the step
  // in progress is done, with the journal closed and exit status 0.
  let signal: NodeJS.Signals | undefined;
  const signalled = () => signal;
  let stopRunning: (signal: NodeJS.Signals) => void = () => {};
  const stopSignals = system.onTermination((received) => {
    logger.info({ signal: received }, 'stopping');
    signal = received;
    stopRunning(received);
  });
  const stoppedInStartUp = () => {
    logger.info({ reason: `signal ${signalled()}` }, 'stopped before start-up finished');
    return ExitCode.Ok;
  };
  let ports: ServerInterface | undefined;
  try {
    ports = await system.openInterface(name, logger);
    if (signalled()) return stoppedInStartUp();
    let server: WgDynamicServer | undefined;
    const metrics = command.metrics
      ? new ServerMetrics({
          leaseCounts: () => server?.table.leaseCounts() ?? { 4: 0, 6: 0 },
          usage: () => server?.table.usage() ?? [],
          connections: () => server?.listener.connectionCount ?? 0,
          delegationUsage: () => server?.table.delegationUsage() ?? [],
        })
      : undefined;
    const directory = join(command.stateDirectory, name);
    const opened = await openJournal({
      directory,
      codec: leaseRecordCodec,
      logger: logger.child({ layer: 'journal' }),
      compaction: {
        // The journal compacts only while the server runs (appends come from it).
        snapshot: () => server?.service.snapshot() ?? [],
        liveRecords: () => server?.leaseCount ?? 0,
      },
      ...(metrics ? { onSync: (seconds: number) => metrics.journalSync.observe(seconds) } : {}),
      onSpaceChange: (event) => {
        if (event.lowSpace) {
          logger.error(
            { directory, err: event.cause },
            'the lease journal is out of disk space: new leases are refused, renewals go on; free space to resume',
          );
        } else {
          logger.info({ directory }, 'disk space is back: new leases are granted again');
        }
      },
    }).catch((error) => {
      if (error instanceof JournalError && error.code === 'locked') {
        throw new FatalError(
          `${directory} is in use by another wg-dynamic-server (${error.message}); stop it first`,
          { cause: error },
        );
      }
      throw error;
    });
    const { journal, records, report } = opened;
    logger.info({ directory, ...report }, 'lease journal read');
    if (signalled()) {
      await journal.close();
      return stoppedInStartUp();
    }

    server = WgDynamicServer.create(
      {
        interfaceName: name,
        leaseTime: command.leaseTime,
        pools: command.pools,
        routes: command.routes,
        delegations: command.delegations,
        refreshIntervalMs: REFRESH_INTERVAL_MS,
        ...(system.listen ? { listen: system.listen } : {}),
      },
      {
        device: ports.device,
        network: ports.network,
        journal,
        records,
        logger,
        clock: systemClock,
        random: systemRandom,
        routes: ports.routes,
      },
      metrics?.observer,
    );
    const running = server;
    try {
      await running.run();
    } catch (error) {
      await running.stop('start-up failed');
      await journal.close();
      throw listenError(name, error);
    }
    // From here a signal stops the running server; at once if one came during start-up.
    stopRunning = (received) => void running.stop(`signal ${received}`);
    const early = signalled();
    if (early) stopRunning(early);

    const metricsServer =
      command.metrics && metrics && !signalled()
        ? await serveMetrics(metrics.registry, command.metrics.host, command.metrics.port).catch(
            async (error) => {
              await running.stop('start-up failed');
              await journal.close();
              throw new FatalError(
                `cannot serve metrics on ${command.metrics?.host}:${command.metrics?.port}: ${(error as Error).message}`,
                { cause: error },
              );
            },
          )
        : undefined;
    if (metricsServer) logger.info({ metrics: command.metrics }, 'serving metrics at /metrics');
    const socketPath = controlSocketPath(system.runDirectory, name);
    const control = signalled()
      ? undefined
      : await serveControlSocket(socketPath, () => status(running, command));
    // The ready line, once everything is up: tests and operators wait for it.
    if (!signalled()) logger.info({ ...running.summary(), control: socketPath }, 'listening');
    const reason = await running.stopped;
    metricsServer?.close();
    if (control) await closeControlSocket(control, socketPath);
    await journal.close();
    if (reason.startsWith('signal')) {
      logger.info({ reason }, 'stopped');
      return ExitCode.Ok;
    }
    logger.error({ reason }, `exiting: ${reason}`);
    return ExitCode.Failure;
  } finally {
    stopSignals();
    await ports?.close();
  }
}

function status(
  server: WgDynamicServer,
  command: Extract<ServerCommand, { command: 'serve' }>,
): ServerStatus {
  const now = systemClock.monotonicMs();
  return {
    interface: command.interfaceName,
    leaseTime: command.leaseTime,
    now: systemClock.wallSeconds(),
    pools: server.table.usage().map((u) => ({
      family: u.family,
      pool: u.pool.toString(),
      capacity: u.capacity.toString(),
      leased: u.allocated,
    })),
    routes: command.routes.map(String),
    leases: server
      .leases()
      .filter((lease) => !isPrefixSlot(lease.slot))
      .map((lease) => leaseStatus(lease, now)),
    delegations: server.table.delegationUsage().map((u) => ({
      family: u.family,
      pool: u.pool.toString(),
      length: u.length,
      capacity: u.capacity.toString(),
      delegated: u.allocated,
    })),
    prefixes: server
      .leases()
      .filter((lease) => isPrefixSlot(lease.slot))
      .map((lease) => prefixStatus(lease, now)),
  };
}

/** Why listening failed, in the operator's words. */
function listenError(name: string, error: unknown): unknown {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'EACCES') {
    return new FatalError('cannot listen on port 970: run as root (CAP_NET_BIND_SERVICE)', {
      cause: error,
    });
  }
  if (code === 'EADDRNOTAVAIL') {
    return new FatalError(
      `cannot listen on [fe80::%${name}]:970: ${name} does not hold fe80:: (is it up? \`ip link set ${name} up\`)`,
      { cause: error },
    );
  }
  if (code === 'EADDRINUSE') {
    return new FatalError(
      `[fe80::%${name}]:970 is taken: is another wg-dynamic-server running for ${name}?`,
      {
        cause: error,
      },
    );
  }
  return error;
}
