/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/* The flow table behind struct ap_table_ops, its counters, the blackhole memory. */
#ifndef ANYPIND_TABLE_H
#define ANYPIND_TABLE_H

#include <anypin/process.h>

struct table;
struct table_stats {
	u64 v[AP_MAX_PREFIXES + 1][AP_STAT_MAX];	/* last: prefixes gone */
};

/*
 * pin() is told when a flow's packets start being rewritten
 * (ap_flow_pin()) and when they stop, with the same @pin; it may be NULL.
 */
struct table_pins {
	void (*pin)(void *arg, const struct ap_pin *pin, bool add);
	void *arg;
};

/* NULL when out of memory; @pins may be NULL. */
struct table *table_new(const struct ap_conf *c, const struct table_pins *pins);
void table_set_conf(struct table *t, const struct ap_conf *c, const u8 *remap);
void table_set_now(struct table *t, u32 now);
void table_sweep(struct table *t);
u32 table_count(const struct table *t);
const struct table_stats *table_stats(const struct table *t);
/* @n more of counter @stat of prefix @prefix, counted elsewhere (second.c). */
void table_add_stat(struct table *t, u8 prefix, u8 stat, u64 n);
/*
 * The kernel rewrote @packets packets in all of the pinned flow whose
 * @out (or in) tuple is @tu: those since the last call are counted, and
 * make the flow active now.
 */
void table_pin_packets(struct table *t, u8 role, bool out, const struct ap_tuple *tu,
		       u64 packets);
/* A FIN or RST of the pinned flow with tuple @tu (either way) went by. */
void table_pin_ended(struct table *t, const struct ap_tuple *tu);
/* Tells the callback again of every pin, as if all were new. */
void table_replay(struct table *t);
void table_walk(struct table *t, void (*fn)(const struct ap_flow *f, void *arg), void *arg);
struct ap_bh_table *table_blackholes(struct table *t);
void table_free(struct table *t);
extern const struct ap_table_ops table_ops;

#endif
