/**
 * The mark (rtm_protocol) of the routes this client adds: a value above
 * RTPROT_STATIC that neither linux/rtnetlink.h nor iproute2's rt_protos
 * names. `ip route show proto 87` lists them; a restarted client recognises
 * them as its own by it.
 */
export const RTPROT_WG_DYNAMIC = 87;
