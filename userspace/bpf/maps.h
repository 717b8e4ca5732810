/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The maps of the second chance's BPF programs (second.bpf.c), as anypind
 * (userspace/second.c) fills them from the configuration. Addresses in
 * network order, ports in host order.
 */
#ifndef ANYPIN_BPF_MAPS_H
#define ANYPIN_BPF_MAPS_H

#include <linux/types.h>

#define SC_PREFIXES	64		/* AP_MAX_PREFIXES */
#define SC_IDS		64		/* ids 0 to AP_SC_ID_MAX */
#define SC_PORT_RANGES	16		/* AP_MAX_PORT_RANGES */

/* Map sc_lpm4 and sc_lpm6: every configured prefix, to its index. */
struct sc_lpm4 {
	__u32 plen;
	__u32 addr;
};

struct sc_lpm6 {
	__u32 plen;
	__u8 addr[16];
};

/* Map sc_prefix, by index: what the second chance needs of a prefix. */
struct sc_prefix {
	__u64 peers;			/* bit i: peer i is set */
	__u32 own4;			/* this instance's unicast addresses: */
	__u8 own6[16];			/* the outer source */
	__u8 on;			/* an enabled responder with an instance */
	__u8 instance;
	__u8 has4, has6;		/* own4, own6 set */
	__u8 nports;			/* 0: every port */
	__u8 pad[3];
	__u16 lo[SC_PORT_RANGES], hi[SC_PORT_RANGES];
};

/* Map sc_peer, by prefix index * SC_IDS + id. */
struct sc_peer {
	__u32 addr4;
	__u8 addr6[16];
	__u8 has4, has6;
	/*
	 * No route from the prefix's unicast address to addr4, addr6, as
	 * anypind asked rtnetlink: what the programs go by where the kernel
	 * looks no route up for them (a device that does not forward).
	 */
	__u8 noroute4, noroute6;
};

/*
 * Map sc_addr: the addresses of each prefix's peers, the outer sources
 * the decapsulation admits for it (value 1, a __u32).
 */
struct sc_addr {
	__u8 family;			/* 4 or 6 */
	__u8 prefix;			/* the prefix's index */
	__u8 pad[2];
	__u8 addr[16];			/* IPv4: the first 4 */
};

/* Map sc_global, its one entry. */
struct sc_global {
	__u32 forward_rate;		/* segments per second and CPU */
};

/* Map sc_stats, per CPU, by prefix index * SC_NSTATS + counter. */
enum sc_stat {
	SC_STAMPED,			/* the core's sc_stamped */
	SC_MSS,				/* sc_mss */
	SC_FORWARDED,			/* sc_forwarded */
	SC_LIMITED,			/* sc_limited */
	SC_TUNNEL,			/* sc_tunnel */
	SC_UNSENT,			/* sc_unsent */
	SC_NSTATS
};

#endif
