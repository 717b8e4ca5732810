/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * One packet at one hook, start to end: which role and decision applies,
 * the flow lookups, the rewrite and the counters. Both datapaths call
 * ap_process() from their hooks and provide the flow table through
 * struct ap_table_ops, so which packet goes where is decided once.
 */
#ifndef ANYPIN_PROCESS_H
#define ANYPIN_PROCESS_H

#include <anypin/flow.h>
#include <anypin/rewrite.h>
#include <anypin/blackhole.h>
#include <anypin/second.h>

enum ap_hook {
	AP_HOOK_IN,		/* received, before conntrack (PRE_ROUTING) */
	AP_HOOK_OUT,		/* sent by this host, after conntrack (LOCAL_OUT) */
	AP_HOOK_POST,		/* leaving this host (POST_ROUTING) */
};

/* What a lookup is for; see ap_flow_match(). */
enum ap_find {
	AP_FIND_OUT,		/* client: a packet to the entry's anycast address */
	AP_FIND_SYNACK,		/* client: a SYN-ACK, by the SYN it acknowledges */
	AP_FIND_IN,		/* client: a packet from the entry's unicast (or A) */
	AP_FIND_PINNED,		/* client: an entry pinned to the packet's source */
	AP_FIND_RESP,		/* responder: any packet of the key */
	AP_FIND_ICMP,		/* an ICMP error about a packet we sent */
};

/* How well an entry fits; a table's find() returns the best above NONE. */
enum ap_match {
	AP_MATCH_NONE,
	AP_MATCH_KEY,		/* by key only: a SYN-ACK whose ACK fits no attempt */
	AP_MATCH_EXACT,
};

/*
 * How well entry @f fits packet @p for lookup @how. One key can hold
 * several entries (one local port connected to two anycast addresses).
 */
enum ap_match ap_flow_match(const struct ap_flow *f, const struct ap_pkt *p,
			    enum ap_find how);

/*
 * The flow table of a datapath. Entries handed out by find() and create()
 * are locked against concurrent decisions until release() or remove().
 */
struct ap_table_ops {
	/* The entry of @k with the best ap_flow_match() above NONE, or NULL. */
	struct ap_flow *(*find)(void *t, const struct ap_key *k, const struct ap_pkt *p,
				enum ap_find how);
	/*
	 * A new entry, zero but for its key, in the table; NULL when full of
	 * entries that may not be evicted, or out of memory.
	 */
	struct ap_flow *(*create)(void *t, const struct ap_key *k);
	/* Done with @f; @old_state is its state before (for eviction order). */
	void (*release)(void *t, struct ap_flow *f, u8 old_state);
	/* Unlink and free @f. */
	void (*remove)(void *t, struct ap_flow *f);
	/* Bump counter @stat of prefix @prefix. */
	void (*count)(void *t, u8 prefix, u8 stat);
	/*
	 * The namespace's blackhole memory, locked until bh_unlock(); taken
	 * with or without an entry locked, never the other way round.
	 */
	struct ap_bh_table *(*bh_lock)(void *t);
	void (*bh_unlock)(void *t);
	/*
	 * The second chance (second.h), optional: whether a socket of this
	 * host takes @p (established, SYN-RECV, TIME-WAIT, or a listener
	 * whose SYN cookie @p completes). NULL: the datapath does not apply
	 * the second chance, and nothing of it happens.
	 */
	bool (*local)(void *t, const struct ap_pkt *p);
	/* Whether one more segment may be forwarded now; NULL: always. */
	bool (*budget)(void *t);
};

struct ap_verdict {
	bool drop;		/* drop the packet */
	bool reroute;		/* its destination changed: route it again */
	bool grew;		/* the option went in: p->len grew by AP_OPT_LEN */
	bool changed;		/* the packet's bytes changed (grew, or rewritten) */
	/* Encapsulate it to fwd.addr and send it there, not deliver it here. */
	bool forward;
	struct ap_sc_to fwd;
	/* With forward: the index in c->prefixes of the prefix that decided it. */
	u8 fwd_prefix;
	u32 rst_len;		/* a RST to send is in rst[] */
	u8 rst[AP_RST_MAX];
};

/*
 * Decides and applies. @p is parsed (ap_parse() returned AP_OK) and its
 * buffer writable: its headers, an ICMP error whole; a packet with SYN
 * set needs AP_OPT_LEN bytes of room past p->len and its whole payload in
 * the buffer. @mode is how its TCP checksum field is kept.
 */
void ap_process(const struct ap_conf *c, const struct ap_table_ops *ops, void *t,
		struct ap_pkt *p, enum ap_hook hook, enum ap_csum_mode mode, u32 now,
		struct ap_verdict *v);

#endif
