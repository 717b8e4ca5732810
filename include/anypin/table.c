// SPDX-License-Identifier: GPL-2.0 OR MIT
/* Lookup and eviction: the policies of every flow table. */
#include <anypin/table.h>

void ap_find_init(struct ap_finder *fd, const struct ap_conf *c, const struct ap_pkt *p,
		  enum ap_find how, u32 now)
{
	fd->c = c;
	fd->p = p;
	fd->how = how;
	fd->now = now;
	fd->best = NULL;
	fd->score = AP_MATCH_NONE;
}

bool ap_find_see(struct ap_finder *fd, void *e, const struct ap_flow *f)
{
	enum ap_match m;

	if (ap_flow_expired(f, fd->c, fd->now))
		return true;
	m = ap_flow_match(f, fd->p, fd->how);
	if (m > fd->score) {
		fd->best = e;
		fd->score = m;
	}
	return false;
}

/* The highest class an entry of @role may push out. */
static int evict_limit(enum ap_role role)
{
	struct ap_flow f = { .state = role == AP_ROLE_RESPONDER ? AP_RESPONDING : AP_CLOSING };

	return ap_flow_evict_rank(&f);
}

/*
 * One entry of the classes up to @maxrank, lowest class first: of the
 * first few of a class the one idle longest, else (it is busy) the first
 * of them that is not.
 */
static bool evict_one(const struct ap_evict_ops *ops, void *t, int maxrank)
{
	void *e[AP_EVICT_SCAN];
	u32 last[AP_EVICT_SCAN], n, i, best;
	int r;

	for (r = 0; r <= maxrank; r++) {
		n = ops->peek(t, r, e, last, AP_EVICT_SCAN);
		if (!n)
			continue;
		best = 0;
		for (i = 1; i < n; i++)
			if ((s32)(last[i] - last[best]) < 0)
				best = i;
		if (ops->evict(t, e[best]))
			return true;
		for (i = 0; i < n; i++)
			if (i != best && ops->evict(t, e[i]))
				return true;
	}
	return false;
}

bool ap_evict_room(const struct ap_evict_ops *ops, void *t, u32 max_flows, enum ap_role role)
{
	int n = 0;

	while (ops->count(t) >= max_flows)
		if (n++ == AP_EVICT_MAX || !evict_one(ops, t, evict_limit(role)))
			return false;
	return true;
}

bool ap_evict_trim(const struct ap_evict_ops *ops, void *t, u32 max_flows)
{
	return ops->count(t) > max_flows && evict_one(ops, t, evict_limit(AP_ROLE_RESPONDER));
}
