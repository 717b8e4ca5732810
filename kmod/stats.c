// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Per-cpu counters by slot (see anypin_conf.slot). Allocated with the
 * first prefix, so namespaces that never use anypin pay nothing.
 */
#include <linux/percpu.h>
#include "anypin.h"

/* Under dir_lock, as the first prefix comes: one allocation per namespace. */
int anypin_stats_alloc(struct anypin_net *an)
{
	lockdep_assert_held(&an->dir_lock);
	if (an->stats)
		return 0;
	an->stats = alloc_percpu(struct anypin_stats);
	return an->stats ? 0 : -ENOMEM;
}

void anypin_stats_free(struct anypin_net *an)
{
	free_percpu(an->stats);
	an->stats = NULL;
}

/*
 * Under conf_lock, which hands out the slots, and only for a slot nobody
 * counts into (anypin_remap_slots()).
 */
void anypin_stats_zero(struct anypin_net *an, u8 slot)
{
	int cpu;

	lockdep_assert_held(&an->conf_lock);
	if (!an->stats || slot >= AP_NSLOTS)
		return;
	for_each_possible_cpu(cpu)
		memset(per_cpu_ptr(an->stats, cpu)->v[slot], 0,
		       sizeof(an->stats->v[slot]));
}

void anypin_stats_inc(struct anypin_net *an, u8 slot, u8 stat)
{
	if (an->stats && slot < AP_NSLOTS && stat < AP_STAT_MAX)
		this_cpu_inc(an->stats->v[slot][stat]);
}

/* Adds the counters of @slot to @v. */
void anypin_stats_sum(struct anypin_net *an, u8 slot, u64 *v)
{
	const struct anypin_stats *s;
	int cpu, i;

	if (!an->stats || slot >= AP_NSLOTS)
		return;
	for_each_possible_cpu(cpu) {
		s = per_cpu_ptr(an->stats, cpu);
		for (i = 0; i < AP_STAT_MAX; i++)
			v[i] += READ_ONCE(s->v[slot][i]);
	}
}
