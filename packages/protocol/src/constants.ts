/** The server's address on the interface; the client connects to `[fe80::%<interface>]`. */
export const WG_DYNAMIC_ADDRESS = 'fe80::';

/** The ASCII sum of the letters of "wireguard"; both ends use it (the client as source port). */
export const WG_DYNAMIC_PORT = 970;

/** The only protocol version: the command line is `request_ip=1`. */
export const WG_DYNAMIC_PROTOCOL_VERSION = 1;

/** A line's maximum length in bytes, its newline included (the reference's MAX_LINESIZE). */
export const MAX_LINE_SIZE = 4096;

/** The reference server's default lease time in seconds. */
export const DEFAULT_LEASE_TIME = 3600;

/** The largest number a message may carry: numbers are unsigned 32-bit. */
export const MAX_NUMBER = 0xffff_ffff;
