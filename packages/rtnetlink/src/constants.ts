// Kernel constants this package speaks, with the kernel's spelling. Each group
// names the uapi header it mirrors (under /usr/include/linux/).

// linux/socket.h
export const AF_UNSPEC = 0;
export const AF_INET = 2;
export const AF_INET6 = 10;

/** linux/netlink.h: the rtnetlink protocol number for socket(AF_NETLINK, …). */
export const NETLINK_ROUTE = 0;

// linux/netlink.h: message types and flags
export const NLMSG_NOOP = 1;
export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
export const NLMSG_OVERRUN = 4;

export const NLM_F_REQUEST = 0x01;
export const NLM_F_MULTI = 0x02;
export const NLM_F_ACK = 0x04;
export const NLM_F_DUMP_INTR = 0x10;
// Modifiers to GET requests
export const NLM_F_ROOT = 0x100;
export const NLM_F_MATCH = 0x200;
export const NLM_F_DUMP = NLM_F_ROOT | NLM_F_MATCH;
// Modifiers to NEW requests
export const NLM_F_REPLACE = 0x100;
export const NLM_F_EXCL = 0x200;
export const NLM_F_CREATE = 0x400;

/** linux/netlink.h: the attribute type bit that marks a nested attribute. */
export const NLA_F_NESTED = 1 << 15;

// linux/rtnetlink.h: message types
export const RTM_NEWLINK = 16;
export const RTM_DELLINK = 17;
export const RTM_GETLINK = 18;
export const RTM_NEWADDR = 20;
export const RTM_DELADDR = 21;
export const RTM_GETADDR = 22;
export const RTM_NEWROUTE = 24;
export const RTM_DELROUTE = 25;
export const RTM_GETROUTE = 26;

// linux/rtnetlink.h: multicast groups (enum rtnetlink_groups)
export const RTNLGRP_LINK = 1;
export const RTNLGRP_IPV4_IFADDR = 5;
export const RTNLGRP_IPV4_ROUTE = 7;
export const RTNLGRP_IPV6_IFADDR = 9;
export const RTNLGRP_IPV6_ROUTE = 11;

// linux/rtnetlink.h: route types (rtm_type)
export const RTN_UNSPEC = 0;
export const RTN_UNICAST = 1;
export const RTN_LOCAL = 2;
export const RTN_BROADCAST = 3;
export const RTN_ANYCAST = 4;
export const RTN_MULTICAST = 5;
export const RTN_BLACKHOLE = 6;
export const RTN_UNREACHABLE = 7;
export const RTN_PROHIBIT = 8;
export const RTN_THROW = 9;

// linux/rtnetlink.h: route origins (rtm_protocol); values above RTPROT_STATIC
// are free for routing daemons to mark their own routes.
export const RTPROT_UNSPEC = 0;
export const RTPROT_REDIRECT = 1;
export const RTPROT_KERNEL = 2;
export const RTPROT_BOOT = 3;
export const RTPROT_STATIC = 4;
/**
 * The mark of the routes wg-dynamic adds (the client's pushed routes, the
 * server's routes for its delegation pools): a value above RTPROT_STATIC
 * that neither linux/rtnetlink.h nor iproute2's rt_protos names. `ip route
 * show proto 87` lists them; a restarted daemon recognises its own by it.
 */
export const RTPROT_WG_DYNAMIC = 87;

// linux/rtnetlink.h: scopes (rtm_scope, ifa_scope)
export const RT_SCOPE_UNIVERSE = 0;
export const RT_SCOPE_SITE = 200;
export const RT_SCOPE_LINK = 253;
export const RT_SCOPE_HOST = 254;
export const RT_SCOPE_NOWHERE = 255;

// linux/rtnetlink.h: routing tables (enum rt_class_t)
export const RT_TABLE_UNSPEC = 0;
export const RT_TABLE_MAIN = 254;
export const RT_TABLE_LOCAL = 255;

// linux/rtnetlink.h: route attributes (enum rtattr_type_t)
export const RTA_DST = 1;
export const RTA_OIF = 4;
export const RTA_GATEWAY = 5;
export const RTA_PRIORITY = 6;
export const RTA_PREFSRC = 7;
export const RTA_TABLE = 15;

// linux/if_addr.h: address attributes
export const IFA_ADDRESS = 1;
export const IFA_LOCAL = 2;
export const IFA_LABEL = 3;
export const IFA_FLAGS = 8;

// linux/if_addr.h: address flags (the low 8 bits also fit ifa_flags)
export const IFA_F_SECONDARY = 0x01;
export const IFA_F_NODAD = 0x02;
export const IFA_F_OPTIMISTIC = 0x04;
export const IFA_F_DADFAILED = 0x08;
export const IFA_F_HOMEADDRESS = 0x10;
export const IFA_F_DEPRECATED = 0x20;
export const IFA_F_TENTATIVE = 0x40;
export const IFA_F_PERMANENT = 0x80;
export const IFA_F_MANAGETEMPADDR = 0x100;
export const IFA_F_NOPREFIXROUTE = 0x200;
export const IFA_F_MCAUTOJOIN = 0x400;
export const IFA_F_STABLE_PRIVACY = 0x800;

// linux/if_link.h: link attributes
export const IFLA_IFNAME = 3;
export const IFLA_MTU = 4;
export const IFLA_LINKINFO = 18;
export const IFLA_AF_SPEC = 26;
export const IFLA_INFO_KIND = 1;
export const IFLA_INET6_ADDR_GEN_MODE = 8;

// linux/if_link.h: enum in6_addr_gen_mode
export const IN6_ADDR_GEN_MODE_EUI64 = 0;
export const IN6_ADDR_GEN_MODE_NONE = 1;
export const IN6_ADDR_GEN_MODE_STABLE_PRIVACY = 2;
export const IN6_ADDR_GEN_MODE_RANDOM = 3;

/** linux/if.h: IFNAMSIZ, the name buffer size including its terminating NUL. */
export const IFNAMSIZ = 16;
