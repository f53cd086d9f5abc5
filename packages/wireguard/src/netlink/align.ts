/**
 * Sizes and alignment of netlink messages and attributes, as the kernel's
 * macros in <linux/netlink.h> define them. Every length on the wire is
 * rounded up to four bytes; the padding is not counted in the length field.
 */

/** NLMSG_ALIGNTO, <linux/netlink.h>. */
export const NLMSG_ALIGNTO = 4;

/** NLMSG_ALIGN(len), <linux/netlink.h>: `len` rounded up to a multiple of NLMSG_ALIGNTO. */
export function nlmsgAlign(length: number): number {
  return Math.ceil(length / NLMSG_ALIGNTO) * NLMSG_ALIGNTO;
}

/** NLMSG_HDRLEN, <linux/netlink.h>: the aligned size of struct nlmsghdr. */
export const NLMSG_HDRLEN = 16;

/** NLA_ALIGNTO, <linux/netlink.h>. */
export const NLA_ALIGNTO = 4;

/** NLA_ALIGN(len), <linux/netlink.h>: `len` rounded up to a multiple of NLA_ALIGNTO. */
export function nlaAlign(length: number): number {
  return Math.ceil(length / NLA_ALIGNTO) * NLA_ALIGNTO;
}

/** NLA_HDRLEN, <linux/netlink.h>: the aligned size of struct nlattr. */
export const NLA_HDRLEN = 4;

/**
 * The largest value of struct nlattr's `nla_len` (a __u16): no attribute,
 * nested ones included, can be longer than this, whatever the message size.
 */
export const NLA_MAX_LENGTH = 0xffff;

/** GENL_HDRLEN, <linux/genetlink.h>: the aligned size of struct genlmsghdr. */
export const GENL_HDRLEN = 4;
