/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The counters' table: /proc/net/anypin/stats and anypind's "stats". A
 * header line (ap_stats_header()), one row per configured prefix in
 * configuration order, then the row "total" (ap_stats_row() each). A
 * datapath keeps the counters its own way (per-cpu slots, an array) and
 * fills a struct ap_stats from them; the text is made here, so both give
 * the same bytes for the same counts.
 *
 * Counts of prefixes removed since, and of their entries that live on,
 * go to the row AP_STATS_REMOVED: not printed, but in the total. So the
 * total is all that was counted in the namespace since the datapath
 * started there: it never goes backwards when a prefix goes, and its
 * flows are every entry of the table. What the prefixes' rows do not
 * add up to is what removed prefixes counted.
 */
#ifndef ANYPIN_STATS_H
#define ANYPIN_STATS_H

#include <anypin/flow.h>

#define AP_STATS_REMOVED	AP_MAX_PREFIXES
#define AP_STATS_TOTAL		"total"
/* Longest line, NUL included: the header, or a name and 20-digit counters. */
#define AP_STATS_LINE_MAX	768
/*
 * A row: the name, " " and 20 digits per counter, "\n", NUL. A counter
 * added must not make it outgrow AP_STATS_LINE_MAX (the header's names
 * are checked by the unit test).
 */
static_assert(AP_STATS_LINE_MAX >= AP_NAME_MAX + AP_STAT_MAX * (1 + 20) + 2,
	      "AP_STATS_LINE_MAX holds no row of every counter");

/*
 * Counter slots, for a datapath whose entries outlive the configuration
 * they were counted under and are not all revisited when it changes (the
 * module's table, read under RCU). A prefix keeps its slot while its name
 * stays in "prefixes"; a new name takes a slot neither the old nor the
 * new configuration uses, so twice as many slots as prefixes suffice.
 * When a name goes, its slot's generation changes: an entry keeps its
 * prefix's slot and that generation, and one whose pair is not today's
 * is of a prefix removed since. It counts in AP_SLOT_REMOVED (the row
 * AP_STATS_REMOVED), whichever name has its slot now.
 */
#define AP_NSLOTS		(2 * AP_MAX_PREFIXES)
#define AP_SLOT_REMOVED		AP_NSLOTS
#define AP_NO_SLOT		0xff

struct ap_slots {
	u8 slot[AP_MAX_PREFIXES];	/* of each prefix, or AP_NO_SLOT */
	u8 index[AP_NSLOTS];		/* prefix owning each slot, or AP_NO_SLOT */
	u8 gen[AP_NSLOTS];		/* changes when the slot's name goes */
	u8 next;			/* where the search for a free slot starts */
};

/* No prefix, no slot taken. */
void ap_slots_init(struct ap_slots *m);
/*
 * @m, a copy of @old (the slots of @oc), becomes the slots of @nc: names
 * that stay keep their slot, the slots of names gone are given back (their
 * generation changes), new names take free slots in turn, preferring those
 * @cooling (AP_NSLOTS flags, or NULL) does not mark: a datapath marks the
 * slots it cannot hand out yet without waiting (readers of an older
 * configuration may still count into them).
 */
void ap_slots_remap(struct ap_slots *m, const struct ap_slots *old, const struct ap_conf *oc,
		    const struct ap_conf *nc, const bool *cooling);
/* The slot prefix @prefix counts in: its own, or AP_SLOT_REMOVED. */
u8 ap_slots_slot(const struct ap_slots *m, u8 prefix);
/* The prefix of an entry that kept (@slot, @gen), or AP_NO_SLOT: removed. */
u8 ap_slots_prefix(const struct ap_slots *m, u8 slot, u8 gen);
/* The slot such an entry counts in: @slot, or AP_SLOT_REMOVED. */
u8 ap_slots_counter(const struct ap_slots *m, u8 slot, u8 gen);

struct ap_stats {
	u8 n;			/* configured prefixes */
	char name[AP_MAX_PREFIXES][AP_NAME_MAX + 1];
	/* By prefix index, then AP_STATS_REMOVED; flows: AP_STAT_FLOWS. */
	u64 v[AP_MAX_PREFIXES + 1][AP_STAT_MAX];
	bool flows_known;	/* the total's flows are @flows, not the rows' sum */
	u64 flows;
};

/* Zero counters and the names of @c's prefixes. */
void ap_stats_init(struct ap_stats *s, const struct ap_conf *c);
/* The row counts of prefix @prefix go to: its own, or AP_STATS_REMOVED. */
u8 ap_stats_row_of(const struct ap_stats *s, u8 prefix);
/* An entry of @prefix is in the table (the flows gauge). */
void ap_stats_add_flow(struct ap_stats *s, u8 prefix);
/*
 * The table holds @n entries: the total's flows, whatever the rows add up
 * to (a datapath whose walk may miss or repeat entries of a table that
 * changes under it knows its count exactly).
 */
void ap_stats_set_flows(struct ap_stats *s, u64 n);
/*
 * Line @i of the table (0: the header, then the rows, then "total") into
 * @buf of @size, NUL-terminated; its length, 0 past the last line.
 */
u32 ap_stats_line(const struct ap_stats *s, u32 i, char *buf, u32 size);

#endif
