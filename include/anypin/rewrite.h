/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Changes anypin makes to packets, with incremental checksum updates:
 * an address of a TCP packet, the embedded header of an ICMP error, the
 * capability option of a SYN or SYN-ACK. And the RST that tells a losing
 * responder to free its half-open connection.
 */
#ifndef ANYPIN_REWRITE_H
#define ANYPIN_REWRITE_H

#include <anypin/packet.h>
#include <anypin/csum.h>

/*
 * Rewrites the source or destination address of a TCP packet; @a must have
 * the packet's family. The IPv4 header checksum is updated too; @mode
 * is how the TCP checksum field is kept.
 */
void ap_set_saddr(struct ap_pkt *p, const struct ap_addr *a, enum ap_csum_mode mode);
void ap_set_daddr(struct ap_pkt *p, const struct ap_addr *a, enum ap_csum_mode mode);

/*
 * Rewrites the source or destination address of the packet embedded in an
 * ICMP/ICMPv6 error: the embedded IPv4 header checksum, the embedded TCP
 * checksum when it is present, and the ICMP checksum follow.
 */
void ap_icmp_set_in_saddr(struct ap_pkt *p, const struct ap_addr *a);
void ap_icmp_set_in_daddr(struct ap_pkt *p, const struct ap_addr *a);

/*
 * Inserts the capability option right after the fixed TCP header, moving
 * the rest of the header and the payload 4 bytes on; fixes the data offset,
 * the IP length, the IPv4 header checksum and the TCP checksum (per @mode).
 * The whole packet must be linear and writable, with 4 bytes of room past
 * p->len; p is updated. Returns 0, or -1 when the options are full (data
 * offset 15), the packet is not TCP or its IP length would pass 65535
 * (a BIG TCP packet's is past it already), leaving the packet unchanged.
 */
int ap_opt_insert(struct ap_pkt *p, u16 exid, enum ap_csum_mode mode);

/*
 * Builds in @buf (at least AP_RST_MAX bytes) the RST answering the SYN-ACK
 * @synack: from its destination to its source, ports swapped, sequence
 * number = its ACK number, no ACK (RFC 9293 3.10.7.3), checksums complete.
 * Returns the packet's length.
 */
#define AP_RST_MAX	60
u32 ap_build_rst(const struct ap_pkt *synack, u8 *buf);

#endif
