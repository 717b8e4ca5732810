/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The second chance's rules over fields a datapath has already parsed:
 * the stamp, the MSS, what a segment from A gets and the order of the
 * verdicts for one to A. Inline and dependent on the types alone, so that
 * second.c (for the module and anypind's queue) and anypind's BPF
 * programs (userspace/bpf/) decide with the same code. second.h says why
 * each rule is what it is.
 */
#ifndef ANYPIN_SC_H
#define ANYPIN_SC_H

#include <anypin/types.h>

#define AP_SC_ID_BITS		6
#define AP_SC_ID_MAX		((1 << AP_SC_ID_BITS) - 1)

/* Bytes the encapsulation adds: IPv4 in IPv4 (RFC 2003), IPv6 in IPv6 (RFC 2473). */
#define AP_SC_OVERHEAD4		20
#define AP_SC_OVERHEAD6		40
/* An MSS is never lowered below this (Linux's TCP_MIN_MSS). */
#define AP_SC_MSS_MIN		88

/* @tsval stamped with @id: the least value not before it ending in @id. */
static inline u32 ap_sc_stamp(u32 tsval, u8 id)
{
	return tsval + ((id - tsval) & AP_SC_ID_MAX);
}

/* The instance an echoed TSecr names (0: none). */
static inline u8 ap_sc_owner(u32 tsecr)
{
	return tsecr & AP_SC_ID_MAX;
}

/* The MSS a SYN-ACK from A advertises instead of @mss (of @family). */
static inline u16 ap_sc_mss(u16 mss, u8 family)
{
	int to = mss - (family == AP_AF_INET ? AP_SC_OVERHEAD4 : AP_SC_OVERHEAD6);

	if (mss <= AP_SC_MSS_MIN)
		return mss;
	return to > AP_SC_MSS_MIN ? (u16)to : AP_SC_MSS_MIN;
}

/* What a segment an instance sends from A gets. */
enum ap_sc_out {
	AP_SC_OUT_NONE,
	AP_SC_OUT_MSS,		/* a SYN-ACK with timestamps: its MSS lowered (ap_sc_mss()) */
	AP_SC_OUT_STAMP,	/* its TSval stamped (ap_sc_stamp()) */
};

/*
 * For a segment with these flags and options (@auth: TCP-MD5 or TCP-AO):
 * SYNs and SYN-ACKs are never stamped; a signed segment is left whole,
 * its MSS as its TSval, since TCP-AO's MAC covers the options. A SYN-ACK
 * without timestamps keeps its MSS: its client will echo no TSecr, so
 * its connection is never forwarded.
 */
static inline enum ap_sc_out ap_sc_out(bool syn, bool ack, bool mss, bool ts, bool auth)
{
	if (auth)
		return AP_SC_OUT_NONE;
	if (syn)
		return ack && mss && ts ? AP_SC_OUT_MSS : AP_SC_OUT_NONE;
	return ts ? AP_SC_OUT_STAMP : AP_SC_OUT_NONE;
}

/* What becomes of a segment to the anycast address; only FORWARD moves it. */
enum ap_sc {
	AP_SC_FORWARD,		/* to the peer its TSecr names */
	AP_SC_TUNNEL,		/* it came from a peer: never forwarded again */
	AP_SC_SYN,		/* SYNs start connections here */
	AP_SC_NO_TS,		/* no timestamp option, no ACK, or TSecr names id 0 */
	AP_SC_SELF,		/* it names this instance: as without anypin */
	AP_SC_UNKNOWN,		/* it names no peer */
	AP_SC_NO_ADDR,		/* the peer has no address of its family */
	AP_SC_LOCAL,		/* a socket of this host takes it */
	AP_SC_MAX
};

/* What the verdict needs of a segment to A (or of the one an ICMP error quotes). */
struct ap_sc_seg {
	bool tunnel;		/* decapsulated here, from a peer */
	bool syn;		/* SYN or SYN-ACK */
	bool ts;		/* an ACK with timestamps (an error: the quoted TSval whole) */
	u8 owner;		/* the id it names: ap_sc_owner() of TSecr (TSval) */
	bool peer_addr;		/* peer @owner has an address of the segment's family */
};

/*
 * The verdict, in order, for instance @instance (not 0) whose peers' ids
 * are the bits of @peers, but for the last question: AP_SC_FORWARD means
 * "unless a socket of this host takes it" (AP_SC_LOCAL then), which the
 * datapath asks only then, as it costs a socket lookup.
 */
static inline enum ap_sc ap_sc_verdict(u8 instance, u64 peers, const struct ap_sc_seg *s)
{
	if (s->tunnel)
		return AP_SC_TUNNEL;
	if (s->syn)
		return AP_SC_SYN;
	if (!s->ts || !s->owner)
		return AP_SC_NO_TS;
	if (s->owner == instance)
		return AP_SC_SELF;
	if (s->owner > AP_SC_ID_MAX || !(peers & (u64)1 << s->owner))
		return AP_SC_UNKNOWN;
	if (!s->peer_addr)
		return AP_SC_NO_ADDR;
	return AP_SC_FORWARD;
}

#endif
