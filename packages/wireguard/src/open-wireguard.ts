import { type Logger, silentLogger } from '@wg-dynamic/log';
import { Errno } from './errno.js';
import { WireGuardError } from './errors.js';
import { KernelBackend } from './kernel/kernel-backend.js';
import { NetlinkConnection } from './netlink/connection.js';
import {
  NETLINK_GENERIC,
  NETLINK_ROUTE,
  type OpenNetlinkSocket,
} from './netlink/datagram-socket.js';
import { NetlinkRequestError } from './netlink/errors.js';
import { GenericNetlink } from './netlink/generic-netlink.js';
import { RouteLinks } from './netlink/route-links.js';
import { openSystemNetlinkSocket } from './netlink/system-socket.js';
import type { UapiLimits } from './uapi/answer-reader.js';
import { UapiBackend } from './uapi/uapi-backend.js';
import { DEFAULT_UAPI_DIRECTORY, UapiClient } from './uapi/uapi-client.js';
import { type WireGuard, WireGuardClient } from './wireguard.js';

export interface OpenWireGuardOptions {
  /** Where userspace implementations put their sockets (default /var/run/wireguard). */
  readonly uapiDirectory?: string;
  readonly logger?: Logger;
  /**
   * How long one request may go without any answer, per socket read (default
   * 30 s). A slow answer that keeps flowing never times out.
   */
  readonly timeoutMs?: number;
  /** Bounds on one UAPI answer (defaults: 1,024-character lines, 256 MiB). */
  readonly uapiLimits?: Partial<UapiLimits>;
  /**
   * Opens netlink sockets (default: real ones through the `netlink`
   * package). Tests pass a fake kernel here.
   */
  readonly openNetlinkSocket?: OpenNetlinkSocket;
}

/**
 * Opens access to the WireGuard devices of this network namespace. Sockets
 * are opened on first use: a generic netlink one for the kernel, an
 * rtnetlink one for interface indexes and the list of kernel devices.
 */
export function openWireGuard(options: OpenWireGuardOptions = {}): WireGuard {
  const logger = options.logger ?? silentLogger;
  const openSocket = options.openNetlinkSocket ?? openSystemNetlinkSocket;
  const connections: NetlinkConnection[] = [];
  let closed = false;

  const connect = (protocol: number, name: string) => {
    let opened: Promise<NetlinkConnection> | undefined;
    return () => {
      opened ??= openSocket(protocol).then(
        (socket) => {
          const connection = new NetlinkConnection(socket, {
            name,
            logger,
            ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
          });
          if (closed) connection.close();
          connections.push(connection);
          return connection;
        },
        (error: unknown) => {
          opened = undefined;
          throw new WireGuardError(
            'UNAVAILABLE',
            `cannot open a ${name} socket: ${error instanceof Error ? error.message : String(error)}`,
            { cause: error },
          );
        },
      );
      return opened;
    };
  };
  const generic = connect(NETLINK_GENERIC, 'generic netlink');
  const route = connect(NETLINK_ROUTE, 'rtnetlink');
  let genericNetlink: GenericNetlink | undefined;
  const links = async () => new RouteLinks(await route());

  const uapi = new UapiClient(options.uapiDirectory ?? DEFAULT_UAPI_DIRECTORY, {
    logger,
    ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
    ...(options.uapiLimits === undefined ? {} : { limits: options.uapiLimits }),
  });
  const userspace = new UapiBackend(uapi, async (name) => (await links()).index(name), logger);
  const kernel = new KernelBackend(async () => {
    genericNetlink ??= new GenericNetlink(await generic());
    return genericNetlink;
  }, logger);

  return new WireGuardClient({
    userspace,
    kernel,
    logger,
    kernelDeviceNames: async () => {
      try {
        const all = await (await links()).list();
        return all.filter((link) => link.kind === 'wireguard').map((link) => link.name);
      } catch (error) {
        if (error instanceof NetlinkRequestError && error.errno === Errno.EPERM) return [];
        throw error instanceof NetlinkRequestError
          ? new WireGuardError('UNAVAILABLE', `cannot list the links: ${error.message}`, {
              cause: error,
            })
          : error;
      }
    },
    close: () => {
      closed = true;
      for (const connection of connections) connection.close();
    },
  });
}
