import type { IpPrefix } from '@wg-dynamic/ip';
import {
  RTPROT_WG_DYNAMIC,
  type Rtnetlink,
  RtnetlinkError,
  type RtnetlinkEvents,
} from '@wg-dynamic/rtnetlink';
import type { NetworkListener, NetworkPort, RoutePort, RouteThrough } from '../service/ports.js';

/**
 * The mark (rtm_protocol) of the routes the server adds for its delegation
 * pools: wg-dynamic's own, "proto 87" in `ip route`, where `ip route add`
 * makes "proto boot" and other tools "proto static". The server deletes only
 * routes carrying it, so a route an operator put in its place is never taken
 * away, and one that a crashed run left is known as its own.
 */
export const DELEGATION_ROUTE_PROTOCOL = RTPROT_WG_DYNAMIC;

/** The routes for the delegation pools, through rtnetlink. */
export function rtnetlinkRoutes(rtnetlink: Rtnetlink, index: number): RoutePort {
  return {
    index,
    async routesTo(destination: IpPrefix): Promise<readonly RouteThrough[]> {
      const routes = await rtnetlink.listRoutes({ family: destination.family });
      return routes
        .filter((route) => route.type === 'unicast' && route.destination.equals(destination))
        .map((route) => ({
          index: route.index,
          ours: route.protocol === DELEGATION_ROUTE_PROTOCOL,
        }));
    },
    add(destination: IpPrefix): Promise<void> {
      return rtnetlink.addRoute({ destination, index, protocol: DELEGATION_ROUTE_PROTOCOL });
    },
    async remove(destination: IpPrefix): Promise<void> {
      try {
        await rtnetlink.deleteRoute({ destination, index, protocol: DELEGATION_ROUTE_PROTOCOL });
      } catch (error) {
        // Gone already (an operator removed it, or the interface went away with its routes).
        if (
          error instanceof RtnetlinkError &&
          (error.code === 'ESRCH' || error.code === 'ENODEV')
        ) {
          return;
        }
        throw error;
      }
    },
  };
}

type OpenEvents = () => Promise<RtnetlinkEvents>;

/**
 * The interface's addresses and routes through rtnetlink, and their changes.
 * The event stream is read on its own socket; when it fails (notifications
 * lost) the listener hears of it and the stream is opened again.
 */
export function rtnetlinkNetwork(
  rtnetlink: Rtnetlink,
  index: number,
  openEvents: OpenEvents,
): NetworkPort {
  return {
    async ownAddresses(): Promise<readonly IpPrefix[]> {
      return (await rtnetlink.listAddresses({ index })).map((address) => address.prefix);
    },
    async routes(): Promise<readonly IpPrefix[]> {
      const routes = await rtnetlink.listRoutes({ index });
      return routes.filter((route) => route.type === 'unicast').map((route) => route.destination);
    },
    watch(listener: NetworkListener): () => void {
      let events: RtnetlinkEvents | undefined;
      let stopped = false;
      const follow = async () => {
        while (!stopped) {
          try {
            events = await openEvents();
            if (stopped) break;
            for await (const event of events) {
              switch (event.type) {
                case 'link-removed':
                  if (event.link.index === index) listener.interfaceRemoved();
                  break;
                case 'address-added':
                case 'address-removed':
                  if (event.address.index === index) listener.addressesChanged();
                  break;
                case 'route-added':
                case 'route-removed':
                  if (event.route.index === index) listener.routesChanged();
                  break;
                default:
                  break;
              }
            }
            return; // closed
          } catch (error) {
            if (stopped) return;
            listener.failed(error);
            // Do not spin if the stream cannot be opened at all.
            await new Promise((resolve) => setTimeout(resolve, 1000).unref());
          }
        }
      };
      void follow();
      return () => {
        stopped = true;
        events?.close();
      };
    },
  };
}
