/**
 * The mark (rtm_protocol) of the routes this client adds, shared with the
 * server's routes (@wg-dynamic/rtnetlink). `ip route show proto 87` lists
 * them; a restarted client recognises them as its own by it.
 */
export { RTPROT_WG_DYNAMIC } from '@wg-dynamic/rtnetlink';
