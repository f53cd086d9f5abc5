// The generic netlink interface of WireGuard's kernel module, <linux/wireguard.h>.

export const WG_GENL_NAME = 'wireguard';
export const WG_GENL_VERSION = 1;

// enum wg_cmd
export const WG_CMD_GET_DEVICE = 0;
export const WG_CMD_SET_DEVICE = 1;

// enum wgdevice_flag
export const WGDEVICE_F_REPLACE_PEERS = 1 << 0;

// enum wgdevice_attribute
export const WGDEVICE_A_UNSPEC = 0;
export const WGDEVICE_A_IFINDEX = 1;
export const WGDEVICE_A_IFNAME = 2;
export const WGDEVICE_A_PRIVATE_KEY = 3;
export const WGDEVICE_A_PUBLIC_KEY = 4;
export const WGDEVICE_A_FLAGS = 5;
export const WGDEVICE_A_LISTEN_PORT = 6;
export const WGDEVICE_A_FWMARK = 7;
export const WGDEVICE_A_PEERS = 8;

// enum wgpeer_flag
export const WGPEER_F_REMOVE_ME = 1 << 0;
export const WGPEER_F_REPLACE_ALLOWEDIPS = 1 << 1;
export const WGPEER_F_UPDATE_ONLY = 1 << 2;

// enum wgpeer_attribute
export const WGPEER_A_UNSPEC = 0;
export const WGPEER_A_PUBLIC_KEY = 1;
export const WGPEER_A_PRESHARED_KEY = 2;
export const WGPEER_A_FLAGS = 3;
export const WGPEER_A_ENDPOINT = 4;
export const WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL = 5;
export const WGPEER_A_LAST_HANDSHAKE_TIME = 6;
export const WGPEER_A_RX_BYTES = 7;
export const WGPEER_A_TX_BYTES = 8;
export const WGPEER_A_ALLOWEDIPS = 9;
export const WGPEER_A_PROTOCOL_VERSION = 10;

// enum wgallowedip_attribute
export const WGALLOWEDIP_A_UNSPEC = 0;
export const WGALLOWEDIP_A_FAMILY = 1;
export const WGALLOWEDIP_A_IPADDR = 2;
export const WGALLOWEDIP_A_CIDR_MASK = 3;

// Address families, <linux/socket.h>.
export const AF_INET = 2;
export const AF_INET6 = 10;

/** sizeof(struct __kernel_timespec), <linux/time_types.h>: two s64. */
export const KERNEL_TIMESPEC_LENGTH = 16;
/** sizeof(struct sockaddr_in), <linux/in.h>. */
export const SOCKADDR_IN_LENGTH = 16;
/** sizeof(struct sockaddr_in6), <linux/in6.h>. */
export const SOCKADDR_IN6_LENGTH = 28;
