/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The rules every flow table follows, whatever it is built of: which
 * entry a lookup returns, with expired entries removed when met and never
 * returned, and which entry goes when the table is full. The datapaths
 * store the entries and apply what these say; entries are the datapath's
 * own (void *), each with its struct ap_flow.
 */
#ifndef ANYPIN_TABLE_H
#define ANYPIN_TABLE_H

#include <anypin/process.h>

/* A lookup of one key: ap_find_see() on each entry of the key. */
struct ap_finder {
	const struct ap_conf *c;
	const struct ap_pkt *p;
	enum ap_find how;
	u32 now;
	void *best;		/* the entry find() returns, or NULL */
	enum ap_match score;
};

void ap_find_init(struct ap_finder *fd, const struct ap_conf *c, const struct ap_pkt *p,
		  enum ap_find how, u32 now);
/*
 * Entry @e of the key, @f its flow, locked. True when it has expired: the
 * datapath counts AP_STAT_EXPIRED and removes it. Else it becomes the best
 * if it fits better than those before (of equals, the first stays).
 */
bool ap_find_see(struct ap_finder *fd, void *e, const struct ap_flow *f);

/* Eviction classes: ap_flow_evict_rank() is 0 to AP_NRANKS - 1. */
#define AP_NRANKS	4
/* Entries at the head of a class looked at for the one idle longest. */
#define AP_EVICT_SCAN	8
/* Evictions one new entry may cause (below max_flows lowered: the rest by trim). */
#define AP_EVICT_MAX	4

/*
 * A table as eviction sees it: one list per class, in the order entries
 * came into the class (or, as anypind keeps them, last became active).
 */
struct ap_evict_ops {
	/* Entries in the table. */
	u32 (*count)(void *t);
	/*
	 * Up to @max entries from the head of class @rank into @e, with the
	 * time of their last packet (read without their locks) into @last;
	 * how many.
	 */
	u32 (*peek)(void *t, int rank, void **e, u32 *last, u32 max);
	/* Removes @e, counting AP_STAT_EVICTED, unless it is busy; whether it did. */
	bool (*evict)(void *t, void *e);
};

/*
 * Room for a new entry of @role under @max_flows: evicts, at most
 * AP_EVICT_MAX times, from the lowest class up. A client entry may push
 * out opening and closing entries; a responder entry also responder
 * entries (a flood of capable SYNs churns its own); a bound client flow
 * never goes. False: no room, the SYN goes on without anypin.
 */
bool ap_evict_room(const struct ap_evict_ops *ops, void *t, u32 max_flows, enum ap_role role);
/*
 * After max_flows was lowered: evicts one entry above @max_flows by the
 * responder's rule; whether it did (call again until it does not).
 */
bool ap_evict_trim(const struct ap_evict_ops *ops, void *t, u32 max_flows);

#endif
