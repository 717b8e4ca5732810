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
#define AP_STATS_LINE_MAX	640
/*
 * A row: the name, " " and 20 digits per counter, "\n", NUL. A counter
 * added must not make it outgrow AP_STATS_LINE_MAX (the header's names
 * are checked by the unit test).
 */
static_assert(AP_STATS_LINE_MAX >= AP_NAME_MAX + AP_STAT_MAX * (1 + 20) + 2,
	      "AP_STATS_LINE_MAX holds no row of every counter");

struct ap_stats {
	u8 n;			/* configured prefixes */
	char name[AP_MAX_PREFIXES][AP_NAME_MAX + 1];
	/* By prefix index, then AP_STATS_REMOVED; flows: AP_STAT_FLOWS. */
	u64 v[AP_MAX_PREFIXES + 1][AP_STAT_MAX];
};

/* Zero counters and the names of @c's prefixes. */
void ap_stats_init(struct ap_stats *s, const struct ap_conf *c);
/* The row counts of prefix @prefix go to: its own, or AP_STATS_REMOVED. */
u8 ap_stats_row_of(const struct ap_stats *s, u8 prefix);
/* An entry of @prefix is in the table (the flows gauge). */
void ap_stats_add_flow(struct ap_stats *s, u8 prefix);
/*
 * Line @i of the table (0: the header, then the rows, then "total") into
 * @buf of @size, NUL-terminated; its length, 0 past the last line.
 */
u32 ap_stats_line(const struct ap_stats *s, u32 i, char *buf, u32 size);

#endif
