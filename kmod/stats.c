// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Per-cpu counters by slot (see anypin_conf.slot), with their bases.
 * Allocated with the first prefix, so namespaces that never use anypin pay nothing. A u64
 * read with READ_ONCE() is two loads on a 32-bit kernel and can be torn
 * by a carry in between: u64_stats_t keeps plain reads from compiling,
 * and the sync makes the reader retry instead.
 */
#include <linux/mm.h>
#include <linux/percpu.h>
#include <linux/slab.h>
#include "anypin.h"

/*
 * Per slot, its counters' sums when its current name took it: a row is
 * the sum less the base. And what the names given back counted. Read and
 * written under conf_lock, published with the counters.
 */
struct anypin_stats_base {
	u64 base[AP_NSLOTS][AP_STAT_MAX];
	u64 removed[AP_STAT_MAX];
};

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
	an->base = kvzalloc(sizeof(*an->base), GFP_KERNEL);
	if (!an->base)
		return -ENOMEM;
	stats = alloc_percpu(struct anypin_stats);
	if (!stats) {
		kvfree(an->base);
		an->base = NULL;
		return -ENOMEM;
	}
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
	kvfree(an->base);
	an->base = NULL;
}

/* Adds the counters of @slot to @v. */
static void anypin_stats_sum(struct anypin_net *an, u8 slot, u64 *v)
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

/*
 * Under conf_lock, as @slot goes to a new name, once nobody counts into it
 * for the names gone: what it counted since its base goes to the removed
 * prefixes' sum and is its new base, so it reads zero for the new name.
 * Each CPU's counters are written by that CPU alone: a remote write would
 * race its increments.
 */
void anypin_stats_retire(struct anypin_net *an, u8 slot)
{
	struct anypin_stats_base *b = an->base;
	u64 c[AP_STAT_MAX] = {};
	int i;

	lockdep_assert_held(&an->conf_lock);
	/* Pairs with smp_store_release() in anypin_stats_alloc(). */
	if (!smp_load_acquire(&an->stats) || slot >= AP_NSLOTS)
		return;
	anypin_stats_sum(an, slot, c);
	for (i = 0; i < AP_STAT_MAX; i++) {
		b->removed[i] += c[i] - b->base[slot][i];
		b->base[slot][i] = c[i];
	}
}

/* Adds to @v what @slot counted since its base; AP_SLOT_REMOVED has none. */
static void anypin_stats_read(struct anypin_net *an, u8 slot, u64 *v)
{
	struct anypin_stats_base *b = an->base;
	u64 c[AP_STAT_MAX] = {};
	int i;

	anypin_stats_sum(an, slot, c);
	for (i = 0; i < AP_STAT_MAX; i++)
		v[i] += slot < AP_NSLOTS ? c[i] - b->base[slot][i] : c[i];
}

/*
 * Under conf_lock, @m the published slots: the counters of @st, filled by
 * prefix index; its removed row with AP_SLOT_REMOVED, the slots given
 * back (what they counted for their names gone, since their base) and
 * the removed sum.
 */
void anypin_stats_fill(struct anypin_net *an, const struct ap_slots *m, struct ap_stats *st)
{
	u64 *removed = st->v[AP_STATS_REMOVED];
	unsigned int i;

	lockdep_assert_held(&an->conf_lock);
	/* Pairs with smp_store_release() in anypin_stats_alloc(). */
	if (!smp_load_acquire(&an->stats))
		return;
	for (i = 0; i < st->n; i++)
		anypin_stats_read(an, m->slot[i], st->v[i]);
	for (i = 0; i < AP_NSLOTS; i++)
		if (m->index[i] == AP_NO_SLOT)
			anypin_stats_read(an, i, removed);
	anypin_stats_read(an, AP_SLOT_REMOVED, removed);
	for (i = 0; i < AP_STAT_MAX; i++)
		removed[i] += an->base->removed[i];
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
