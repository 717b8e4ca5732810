// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Per-cpu counters by slot (see anypin_conf.slot). Allocated with the
 * first prefix, so namespaces that never use anypin pay nothing. A u64
 * read with READ_ONCE() is two loads on a 32-bit kernel and can be torn
 * by a carry in between: u64_stats_t keeps plain reads from compiling,
 * and the sync makes the reader retry instead.
 */
#include <linux/percpu.h>
#include "anypin.h"

/*
 * Under dir_lock, as the first prefix comes: one allocation per namespace.
 * The hooks may already run: the counters are published initialised
 * (release), and whoever finds them reads them after (acquire, or an
 * address dependency on the pointer).
 */
int anypin_stats_alloc(struct anypin_net *an)
{
	struct anypin_stats __percpu *stats;
	int cpu;

	BUILD_BUG_ON(sizeof(struct anypin_stats) > PCPU_MIN_UNIT_SIZE);
	lockdep_assert_held(&an->dir_lock);
	if (an->stats)
		return 0;
	stats = alloc_percpu(struct anypin_stats);
	if (!stats)
		return -ENOMEM;
	for_each_possible_cpu(cpu)
		u64_stats_init(&per_cpu_ptr(stats, cpu)->syncp);
	/* Pairs with the readers' smp_load_acquire(): initialised first. */
	smp_store_release(&an->stats, stats);
	return 0;
}

void anypin_stats_free(struct anypin_net *an)
{
	free_percpu(an->stats);
	an->stats = NULL;
}

/*
 * Under conf_lock, once nobody counts into @slot: what it counted goes to
 * the removed prefixes' sum, and it is zero for the next name. Readers
 * hold conf_lock too.
 */
void anypin_stats_retire(struct anypin_net *an, u8 slot)
{
	struct anypin_stats *s;
	int cpu, i;

	lockdep_assert_held(&an->conf_lock);
	if (!an->stats || slot >= AP_NSLOTS)
		return;
	anypin_stats_sum(an, slot, an->removed);
	for_each_possible_cpu(cpu) {
		s = per_cpu_ptr(an->stats, cpu);
		for (i = 0; i < AP_STAT_MAX; i++)
			u64_stats_set(&s->v[slot][i], 0);
	}
}

/*
 * Any context. The CPU's writers must not nest on 32-bit (a softirq
 * interrupting an update from process context): irqsave keeps them
 * apart there, and costs nothing on 64-bit.
 */
void anypin_stats_inc(struct anypin_net *an, u8 slot, u8 stat)
{
	struct anypin_stats __percpu *stats = READ_ONCE(an->stats);
	struct anypin_stats *s;
	unsigned long flags;

	if (!stats || slot > AP_SLOT_REMOVED || stat >= AP_STAT_MAX)
		return;
	s = get_cpu_ptr(stats);
	flags = u64_stats_update_begin_irqsave(&s->syncp);
	u64_stats_inc(&s->v[slot][stat]);
	u64_stats_update_end_irqrestore(&s->syncp, flags);
	put_cpu_ptr(stats);
}

/* Adds the counters of @slot to @v. */
void anypin_stats_sum(struct anypin_net *an, u8 slot, u64 *v)
{
	/* Pairs with smp_store_release() in anypin_stats_alloc(). */
	struct anypin_stats __percpu *stats = smp_load_acquire(&an->stats);
	const struct anypin_stats *s;
	u64 c[AP_STAT_MAX];
	unsigned int start;
	int cpu, i;

	if (!stats || slot > AP_SLOT_REMOVED)
		return;
	for_each_possible_cpu(cpu) {
		s = per_cpu_ptr(stats, cpu);
		do {
			start = u64_stats_fetch_begin(&s->syncp);
			for (i = 0; i < AP_STAT_MAX; i++)
				c[i] = u64_stats_read(&s->v[slot][i]);
		} while (u64_stats_fetch_retry(&s->syncp, start));
		for (i = 0; i < AP_STAT_MAX; i++)
			v[i] += c[i];
	}
}
