/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The blackhole memory of DESIGN.md's "Never worse than plain anycast":
 * anycast addresses whose capable SYNs went unanswered while the plain
 * retry was answered. A datapath keeps one table per namespace and locks
 * it around these calls (struct ap_table_ops bh_lock/bh_unlock); the
 * policy is all here.
 *
 * A detection makes the address plain for blackhole_timeout << level
 * seconds, and the record stays as long again after that ("probation"):
 * a detection while it is remembered doubles the period (level + 1, at
 * most AP_BH_MAX_LEVEL); a flow bound through the address meanwhile
 * forgets it, since the path works again.
 */
#ifndef ANYPIN_BLACKHOLE_H
#define ANYPIN_BLACKHOLE_H

#include <anypin/types.h>

/* Addresses remembered per namespace; beyond it the soonest forgotten goes. */
#define AP_BH_MAX		256
/* 2^6 = 64 times blackhole_timeout at most. */
#define AP_BH_MAX_LEVEL		6

struct ap_bh {
	struct ap_addr addr;
	u32 until;		/* plain before this time */
	u32 forget;		/* record dropped at this time: until + period */
	u32 detections;
	u8 level;		/* the period is timeout << level */
};

struct ap_bh_table {
	u32 n;			/* e[0..n) are live */
	struct ap_bh e[AP_BH_MAX];
};

/* Whether new connections to @a go plain at @now; drops expired records. */
bool ap_bh_active(struct ap_bh_table *t, const struct ap_addr *a, u32 now);

/* Capable SYNs to @a were blackholed: remember it, or double its period. */
void ap_bh_detect(struct ap_bh_table *t, const struct ap_addr *a, u32 timeout, u32 now);

/* A flow was bound through @a: the path passes anypin again. */
void ap_bh_clear(struct ap_bh_table *t, const struct ap_addr *a);

/* Drops every record forgotten by @now. */
void ap_bh_expire(struct ap_bh_table *t, u32 now);

/* Forgets everything (anypinctl blackholes flush). */
void ap_bh_flush(struct ap_bh_table *t);

/*
 * One line per record under AP_BH_HEADER, as /proc/net/anypin/blackholes
 * and anypinctl print it: the address, seconds it stays plain (0 while on
 * probation), seconds until forgotten, its period, detections. Returns
 * the length written.
 */
#define AP_BH_HEADER "addr remaining forget period detections\n"
u32 ap_bh_format(const struct ap_bh *b, u32 now, char *buf, u32 size);

#endif
