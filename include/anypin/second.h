/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The responder's second chance (DESIGN.md): an instance stamps its id in
 * the TSval of what it sends from the anycast address, the client echoes
 * it in TSecr, and a segment that lands on an instance with no socket for
 * it goes, encapsulated, to the instance its TSecr names.
 *
 * The stamp puts the id in the low AP_SC_ID_BITS of TSval by rounding
 * TSval up, never down, to the next value ending in those bits:
 * - TSval stays non-decreasing while the id stays, so the client's PAWS
 *   check holds (every segment from A must then be stamped);
 * - an echoed TSecr is never before what the socket sent, so Linux never
 *   takes a retransmission for a spurious one (rounding down would);
 * - the price: an RTT the socket takes from TSecr comes out up to
 *   AP_SC_ID_MAX ticks short (docs/second-chance.md says where it counts).
 * SYN-ACKs are never stamped: a SYN cookie keeps its options in the low
 * bits of the SYN-ACK's TSval, and Linux 6.15 on checks the third ACK's
 * TSecr against the SYN-ACKs' TSvals. Segments with TCP-AO or TCP-MD5
 * neither: AO signs the options.
 */
#ifndef ANYPIN_SECOND_H
#define ANYPIN_SECOND_H

#include <anypin/addr.h>
#include <anypin/packet.h>
#include <anypin/csum.h>
#include <anypin/sc.h>

/* Longest text of a peers value, with the NUL. */
#define AP_SC_PEERS_STRLEN	(AP_SC_ID_MAX * (3 + 2 * AP_ADDR_STRLEN) + 1)

/* The other instances of a responder prefix, by id. */
struct ap_peers {
	u64 ids;			/* bit i: peer i is set */
	struct {
		struct ap_addr addr4, addr6;	/* family 0: none */
	} peer[AP_SC_ID_MAX + 1];
};

/*
 * Parses a peers value, "ID=ADDR[,ADDR] ...": ids 1-AP_SC_ID_MAX, each
 * once; one or two unicast addresses, at most one per family; no address
 * twice. The empty value clears. Returns 0, or -1 with *why set and @out
 * unchanged.
 */
int ap_peers_parse(const char *s, u32 n, struct ap_peers *out, const char **why);
/*
 * The same for the peers of a prefix whose instance is @instance (0:
 * none) and whose anycast prefix is @own (NULL: none): no peer may have
 * that id, nor an address inside @own.
 */
int ap_peers_parse_own(const char *s, u32 n, u8 instance, const struct ap_prefix *own,
		       struct ap_peers *out, const char **why);
/* Writes the value back in the same syntax, ids in order; returns its length. */
u32 ap_peers_format(const struct ap_peers *pe, char *buf, u32 size);

/*
 * Whether @instance (0: off, else 1-AP_SC_ID_MAX) and @pe go together:
 * no peer has the instance's own id, and peers need an instance.
 */
int ap_sc_check(u8 instance, const struct ap_peers *pe, const char **why);

/*
 * Stamps a segment sent from the anycast address by instance @id: not a
 * SYN or SYN-ACK, not signed, with a timestamp option (@o from
 * ap_tcp_opts()); the option may sit at any offset.
 * The TCP header must be writable; @mode is how its checksum is kept.
 * Returns whether the packet changed.
 */
bool ap_sc_stamp_pkt(struct ap_pkt *p, const struct ap_opts *o, u8 id,
		     enum ap_csum_mode mode);

/*
 * Lowers the MSS option of a SYN-ACK sent from the anycast address by the
 * encapsulation's overhead, so a forwarded segment still fits the path;
 * only with a timestamp option (without, nothing is ever forwarded), never
 * in a signed segment (TCP-MD5, TCP-AO). Returns whether the packet
 * changed.
 */
bool ap_sc_mss_pkt(struct ap_pkt *p, const struct ap_opts *o, enum ap_csum_mode mode);

extern const char *const ap_sc_names[AP_SC_MAX];

/* Where a segment goes: the peer's id and its unicast address. */
struct ap_sc_to {
	u8 id;
	struct ap_addr addr;
};

/*
 * Whether a socket of this host takes @p: established, SYN-RECV or
 * TIME-WAIT, or a listener whose SYN cookie @p completes. Asked last, as
 * it costs the most.
 */
typedef bool (*ap_sc_local_fn)(void *ctx, const struct ap_pkt *p);

/*
 * Decides for a TCP segment @p (options @o) to an anycast address of a
 * responder prefix whose instance is @instance, not 0; @tunnel says it was
 * decapsulated here. With AP_SC_FORWARD, *to is where it goes.
 */
enum ap_sc ap_sc_in(u8 instance, const struct ap_peers *pe, const struct ap_pkt *p,
		    const struct ap_opts *o, bool tunnel, ap_sc_local_fn local,
		    void *ctx, struct ap_sc_to *to);

/*
 * The same for an ICMP error @p to an anycast address that quotes a
 * segment sent from it: the segment's own TSval names the instance that
 * sent it, whose socket it is about (a SYN-ACK's TSval names none).
 */
enum ap_sc ap_sc_icmp(u8 instance, const struct ap_peers *pe, const struct ap_pkt *p,
		      bool tunnel, struct ap_sc_to *to);

#endif
