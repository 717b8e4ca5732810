/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Internet checksum arithmetic (RFC 1071) and incremental updates (RFC 1624).
 * Sums are kept in host order over network-order 16-bit words read
 * byte-wise, so results do not depend on the machine's byte order.
 */
#ifndef ANYPIN_CSUM_H
#define ANYPIN_CSUM_H

#include <anypin/bytes.h>

/*
 * How a checksum field is kept. AP_CSUM_FULL: the field holds the complete
 * one's complement checksum. AP_CSUM_PSEUDO: the field holds only the folded,
 * uncomplemented sum of the pseudo header, to be finished by the NIC or
 * the stack (the kernel's CHECKSUM_PARTIAL and GSO packets); only changes
 * to the pseudo header touch it.
 */
enum ap_csum_mode {
	AP_CSUM_FULL,
	AP_CSUM_PSEUDO,
};

/* Adds @len bytes at @buf to the running 32-bit sum (odd tails padded). */
u32 ap_csum_add(u32 sum, const void *buf, u32 len);
/* Folds to 16 bits, not complemented. */
u16 ap_csum_fold(u32 sum);

/*
 * The field at @field covers @from (@len bytes, even) that become @to.
 * @pseudo says whether those bytes are part of the pseudo header; in
 * AP_CSUM_PSEUDO mode only pseudo-header changes alter the field.
 */
void ap_csum_replace(u8 *field, const void *from, const void *to, u32 len,
		     enum ap_csum_mode mode, bool pseudo);

/* The same for a 16-bit value given in host order (a length, say). */
void ap_csum_replace16(u8 *field, u16 from, u16 to, enum ap_csum_mode mode,
		       bool pseudo);

/*
 * Writes @len bytes (at most 4) of @to at @at and updates @field, the
 * checksum of 16-bit words summed from @base on (a TCP header, say). @at
 * may lie at any offset from @base, odd too: the change is summed over the
 * whole words that hold the bytes, and @field must lie outside them. The
 * bytes are not part of the pseudo header: in AP_CSUM_PSEUDO mode the
 * field stays.
 */
void ap_csum_write(u8 *field, const u8 *base, u8 *at, const void *to, u32 len,
		   enum ap_csum_mode mode);

/* Full recomputations, used by the tests and to build new packets. */
u16 ap_ipv4_hdr_csum(const u8 *iph, u32 hlen);
/*
 * Checksum (complemented) of the L4 segment at @l4 with the pseudo header.
 * The checksum field inside @l4 is summed as it is: zero it to compute a
 * checksum; a result of 0 verifies one.
 */
u16 ap_l4_csum(u8 family, const u8 *saddr, const u8 *daddr, u8 proto,
	       const u8 *l4, u32 l4len);
/* The folded, uncomplemented pseudo-header sum (what AP_CSUM_PSEUDO holds). */
u16 ap_pseudo_sum(u8 family, const u8 *saddr, const u8 *daddr, u8 proto,
		  u32 l4len);

#endif
