// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The flow table of a namespace: an rhltable keyed on the whole struct
 * ap_key (the core zeroes keys, padding included), several entries per key
 * (ap_flow_match() picks one). An entry handed to the core is locked until
 * it comes back through release() or remove(). Unlinked entries are freed
 * after an RCU grace period.
 *
 * Lock order: entry, then table; entry, then blackholes. The table lock
 * guards the eviction class lists and the count; whoever holds it takes
 * entry locks only by trylock. The blackhole lock nests in nothing but an
 * entry's and nothing nests in it.
 *
 * These rules are checked where they apply: lockdep_assert_held() (a
 * kernel with lockdep checks them at run time) and sparse's context
 * annotations (make static). An entry lock taken in find() or create() is
 * released by release() or remove(), through the core: anypin_hand_over()
 * marks where it leaves this file.
 */
#include <linux/slab.h>
#include <linux/version.h>
#include "anypin.h"

#define AP_GC_INTERVAL		(5 * HZ)
#define AP_GC_BATCH		128

static struct kmem_cache *anypin_flow_cache __read_mostly;

static const struct rhashtable_params anypin_flow_params = {
	.head_offset = offsetof(struct anypin_flow, node),
	.key_offset = offsetof(struct anypin_flow, f.key),
	.key_len = sizeof(struct ap_key),
	.automatic_shrinking = true,
};

/*
 * A cache of its own, not merged with others of its size, so slabinfo
 * counts our entries alone. Before SLAB_NO_MERGE (6.5), SLAB_NOLEAKTRACE
 * does that without the 8 bytes a constructor would add to each object.
 */
#ifdef SLAB_NO_MERGE
#define AP_SLAB_FLAGS	SLAB_NO_MERGE
#else
#define AP_SLAB_FLAGS	SLAB_NOLEAKTRACE
#endif

int anypin_flows_cache_init(void)
{
	/* Two cache lines, with the lock at its production size. */
	BUILD_BUG_ON(sizeof(struct anypin_flow) - sizeof(spinlock_t) +
		     sizeof(arch_spinlock_t) > 128);
	anypin_flow_cache = kmem_cache_create("anypin_flow", sizeof(struct anypin_flow),
					      0, AP_SLAB_FLAGS, NULL);
	return anypin_flow_cache ? 0 : -ENOMEM;
}

void anypin_flows_cache_exit(void)
{
	kmem_cache_destroy(anypin_flow_cache);
}

static void anypin_flow_free_rcu(struct rcu_head *h)
{
	kmem_cache_free(anypin_flow_cache, container_of(h, struct anypin_flow, rcu));
}

static struct anypin_flow *to_entry(struct ap_flow *f)
{
	return container_of(f, struct anypin_flow, f);
}

/* @e locked, its table lock held: out of the table, no longer findable. */
static void anypin_unlink_locked(struct anypin_table *tb, struct anypin_flow *e)
	__must_hold(&tb->lock) __must_hold(&e->lock)
{
	lockdep_assert_held(&tb->lock);
	lockdep_assert_held(&e->lock);
	e->dead = true;
	list_del(&e->lru);
	tb->count--;
	rhltable_remove(&tb->ht, &e->node, anypin_flow_params);
}

/* @e locked: unlinks it, unlocks it and frees it after a grace period. */
static void anypin_kill(struct anypin_table *tb, struct anypin_flow *e)
	__releases(&e->lock)
{
	lockdep_assert_held(&e->lock);
	spin_lock(&tb->lock);
	anypin_unlink_locked(tb, e);
	spin_unlock(&tb->lock);
	spin_unlock_bh(&e->lock);
	call_rcu(&e->rcu, anypin_flow_free_rcu);
}

/*
 * An entry found or created, locked, to the core: it keeps the lock until
 * it hands the entry back through release() or remove(). Sparse counts
 * locks per function and cannot follow one through the core's function
 * pointers, nor say "locked when not NULL": for it the lock leaves here.
 */
static struct ap_flow *anypin_hand_over(struct anypin_flow *e)
	__releases(&e->lock)
{
	lockdep_assert_held(&e->lock);
	__release(&e->lock);
	return &e->f;
}

/*
 * The counters' view of @e: its (slot, generation), as an index of today's
 * prefixes, AP_NO_SLOT if its prefix was removed since; and back.
 */
static void anypin_prefix_in(const struct anypin_ctx *x, struct anypin_flow *e)
{
	lockdep_assert_held(&e->lock);
	e->f.prefix = ap_slots_prefix(&x->kc->slots, e->slot, e->gen);
}

static void anypin_prefix_out(const struct anypin_ctx *x, struct anypin_flow *e)
{
	lockdep_assert_held(&e->lock);
	e->slot = ap_slots_slot(&x->kc->slots, e->f.prefix);
	if (e->slot < AP_NSLOTS)
		e->gen = x->kc->slots.gen[e->slot];
}

/*
 * Counts @stat of @e by the configuration of now: in its prefix's slot,
 * or in AP_SLOT_REMOVED if that prefix was removed since. Under RCU, so
 * that a slot given back is not handed out before this count is in it.
 */
static void anypin_count_entry(struct anypin_net *an, struct anypin_flow *e, u8 stat)
{
	const struct anypin_conf *kc;

	lockdep_assert_held(&e->lock);
	rcu_read_lock();
	kc = rcu_dereference(an->conf);
	anypin_stats_inc(an, ap_slots_counter(&kc->slots, e->slot, e->gen), stat);
	rcu_read_unlock();
}

static struct ap_flow *anypin_find(void *t, const struct ap_key *k,
				   const struct ap_pkt *p, enum ap_find how)
{
	struct anypin_ctx *x = t;
	struct anypin_table *tb = &x->an->table;
	struct anypin_flow *e, *best;
	struct rhlist_head *list, *pos;
	struct ap_finder fd;

	ap_find_init(&fd, &x->kc->c, p, how, x->now);
	list = rhltable_lookup(&tb->ht, k, anypin_flow_params);
	rhl_for_each_entry_rcu(e, pos, list, node) {
		spin_lock_bh(&e->lock);
		if (!e->dead && ap_find_see(&fd, e, &e->f)) {
			anypin_count_entry(x->an, e, AP_STAT_EXPIRED);
			anypin_kill(tb, e);
			continue;
		}
		spin_unlock_bh(&e->lock);
	}
	best = fd.best;
	if (!best)
		return NULL;
	/* It may have changed in between: judge it again, locked. */
	spin_lock_bh(&best->lock);
	if (best->dead || ap_flow_match(&best->f, p, how) == AP_MATCH_NONE) {
		spin_unlock_bh(&best->lock);
		return NULL;
	}
	anypin_prefix_in(x, best);
	return anypin_hand_over(best);
}

/*
 * Eviction (struct ap_evict_ops), the table lock held: the core chooses,
 * these count, look at a class list and evict.
 */
static u32 anypin_evict_count(void *t)
	__must_hold(&((struct anypin_net *)t)->table.lock)
{
	struct anypin_table *tb = &((struct anypin_net *)t)->table;

	lockdep_assert_held(&tb->lock);
	return tb->count;
}

static u32 anypin_evict_peek(void *t, int rank, void **out, u32 *last, u32 max)
	__must_hold(&((struct anypin_net *)t)->table.lock)
{
	struct anypin_table *tb = &((struct anypin_net *)t)->table;
	struct anypin_flow *e;
	u32 n = 0;

	lockdep_assert_held(&tb->lock);
	list_for_each_entry(e, &tb->lists[rank], lru) {
		if (n == max)
			break;
		out[n] = e;
		/* Its lock is not ours: another CPU may be writing it. */
		last[n++] = READ_ONCE(e->f.last);
	}
	return n;
}

/*
 * Evicts @ptr unless its lock is taken (the order is entry, then table,
 * so only a trylock); whether it did. Freed after a grace period.
 */
static bool anypin_evict_try(void *t, void *ptr)
	__must_hold(&((struct anypin_net *)t)->table.lock)
{
	struct anypin_net *an = t;
	struct anypin_flow *e = ptr;
	int locked;

	lockdep_assert_held(&an->table.lock);
	/* (Kept in an int and returned once: sparse follows a trylock no further.) */
	locked = spin_trylock(&e->lock);
	if (locked) {
		anypin_unlink_locked(&an->table, e);
		anypin_count_entry(an, e, AP_STAT_EVICTED);
		spin_unlock(&e->lock);
		call_rcu(&e->rcu, anypin_flow_free_rcu);
	}
	return locked;
}

static const struct ap_evict_ops anypin_evict_ops = {
	.count = anypin_evict_count,
	.peek = anypin_evict_peek,
	.evict = anypin_evict_try,
};

/* Counts a new entry in, evicting by the core's rule if the table is full. */
static bool anypin_reserve(struct anypin_ctx *x, u8 role)
{
	struct anypin_table *tb = &x->an->table;
	bool room;

	spin_lock_bh(&tb->lock);
	room = ap_evict_room(&anypin_evict_ops, x->an, x->kc->c.max_flows, role);
	if (room)
		tb->count++;
	spin_unlock_bh(&tb->lock);
	return room;
}

static struct ap_flow *anypin_create(void *t, const struct ap_key *k)
{
	struct anypin_ctx *x = t;
	struct anypin_table *tb = &x->an->table;
	struct anypin_flow *e;

	if (!anypin_reserve(x, k->role))
		return NULL;
	e = kmem_cache_alloc(anypin_flow_cache, GFP_ATOMIC | __GFP_NOWARN);
	if (!e)
		goto unreserve;
	memset(e, 0, sizeof(*e));
	spin_lock_init(&e->lock);
	e->f.key = *k;
	e->slot = AP_NO_SLOT;
	e->rank = ap_flow_evict_rank(&e->f);
	spin_lock_bh(&e->lock);
	spin_lock(&tb->lock);
	list_add_tail(&e->lru, &tb->lists[e->rank]);
	spin_unlock(&tb->lock);
	if (rhltable_insert(&tb->ht, &e->node, anypin_flow_params)) {
		spin_lock(&tb->lock);
		list_del(&e->lru);
		tb->count--;
		spin_unlock(&tb->lock);
		spin_unlock_bh(&e->lock);
		kmem_cache_free(anypin_flow_cache, e);
		return NULL;
	}
	return anypin_hand_over(e);

unreserve:
	spin_lock_bh(&tb->lock);
	tb->count--;
	spin_unlock_bh(&tb->lock);
	return NULL;
}

/* @f came from find() or create(): its lock is the core's until now. */
static void anypin_release(void *t, struct ap_flow *f, u8 old_state)
	__releases(&to_entry(f)->lock)
{
	struct anypin_ctx *x = t;
	struct anypin_table *tb = &x->an->table;
	struct anypin_flow *e = to_entry(f);
	int rank;

	anypin_prefix_out(x, e);
	rank = ap_flow_evict_rank(f);
	if (rank != e->rank) {
		spin_lock(&tb->lock);
		list_move_tail(&e->lru, &tb->lists[rank]);
		e->rank = rank;
		spin_unlock(&tb->lock);
	}
	spin_unlock_bh(&e->lock);
}

static void anypin_remove(void *t, struct ap_flow *f)
	__releases(&to_entry(f)->lock)
{
	struct anypin_ctx *x = t;

	anypin_kill(&x->an->table, to_entry(f));
}

/* An entry's prefix beyond today's is one removed since. */
static void anypin_count(void *t, u8 prefix, u8 stat)
{
	struct anypin_ctx *x = t;

	anypin_stats_inc(x->an, ap_slots_slot(&x->kc->slots, prefix), stat);
}

/*
 * _bh: process context (LOCAL_OUT, proc, sysctl, gc) shares it with softirq.
 * Taken with or without an entry locked, never with the table lock.
 */
static struct ap_bh_table *anypin_bh_lock(void *t)
	__acquires(&((struct anypin_ctx *)t)->an->bh_lock)
{
	struct anypin_net *an = ((struct anypin_ctx *)t)->an;

	lockdep_assert_not_held(&an->table.lock);
	spin_lock_bh(&an->bh_lock);
	return an->bh;
}

static void anypin_bh_unlock(void *t)
	__releases(&((struct anypin_ctx *)t)->an->bh_lock)
{
	spin_unlock_bh(&((struct anypin_ctx *)t)->an->bh_lock);
}

const struct ap_table_ops anypin_table_ops = {
	.find = anypin_find,
	.create = anypin_create,
	.release = anypin_release,
	.remove = anypin_remove,
	.count = anypin_count,
	.bh_lock = anypin_bh_lock,
	.bh_unlock = anypin_bh_unlock,
	.local = anypin_sc_local,
	.budget = anypin_sc_budget,
};

u32 anypin_bh_snapshot(struct anypin_net *an, struct ap_bh *out, u32 now)
{
	u32 n;

	spin_lock_bh(&an->bh_lock);
	ap_bh_expire(an->bh, now);
	n = an->bh->n;
	memcpy(out, an->bh->e, n * sizeof(*out));
	spin_unlock_bh(&an->bh_lock);
	return n;
}

void anypin_bh_flush(struct anypin_net *an)
{
	spin_lock_bh(&an->bh_lock);
	ap_bh_flush(an->bh);
	spin_unlock_bh(&an->bh_lock);
}

/* Whether any entry has key @k: the hooks' cheap test before any work. */
bool anypin_flows_has_key(struct anypin_net *an, const struct ap_key *k)
{
	return rhltable_lookup(&an->table.ht, k, anypin_flow_params);
}

unsigned int anypin_flows_count(struct anypin_net *an)
{
	return READ_ONCE(an->table.count);
}

void anypin_flows_walk(struct anypin_net *an,
		       bool (*fn)(struct anypin_flow *e, void *arg), void *arg)
{
	struct rhashtable_iter it;
	struct anypin_flow *e;
	unsigned int n = 0;

	rhashtable_walk_enter(&an->table.ht.ht, &it);
	rhashtable_walk_start(&it);
	while ((e = rhashtable_walk_next(&it))) {
		if (IS_ERR(e)) {
			if (PTR_ERR(e) == -EAGAIN)
				continue;
			break;
		}
		spin_lock_bh(&e->lock);
		if (!e->dead && fn(e, arg))
			anypin_kill(&an->table, e);
		else
			spin_unlock_bh(&e->lock);
		if (++n % AP_GC_BATCH == 0) {
			rhashtable_walk_stop(&it);
			cond_resched();
			rhashtable_walk_start(&it);
		}
	}
	rhashtable_walk_stop(&it);
	rhashtable_walk_exit(&it);
}

/*
 * Expired entries go. An entry of a prefix removed since is marked so
 * (it counts as removed either way), which keeps it so even if its slot's
 * generation comes round again while it lives.
 */
static bool anypin_gc_one(struct anypin_flow *e, void *arg)
{
	struct anypin_net *an = arg;
	const struct anypin_conf *kc = rcu_dereference(an->conf);

	lockdep_assert_held(&e->lock);
	if (ap_slots_prefix(&kc->slots, e->slot, e->gen) == AP_NO_SLOT)
		e->slot = AP_SLOT_REMOVED;
	if (!ap_flow_expired(&e->f, &kc->c, anypin_now()))
		return false;
	anypin_count_entry(an, e, AP_STAT_EXPIRED);
	return true;
}

/* Back under max_flows after it was lowered (ap_evict_trim()). */
static void anypin_trim(struct anypin_net *an)
{
	struct anypin_table *tb = &an->table;
	unsigned int n = 0;
	bool evicted;
	u32 max;

	for (;;) {
		rcu_read_lock();
		max = rcu_dereference(an->conf)->c.max_flows;
		rcu_read_unlock();
		spin_lock_bh(&tb->lock);
		evicted = ap_evict_trim(&anypin_evict_ops, an, max);
		spin_unlock_bh(&tb->lock);
		if (!evicted)
			return;
		if (++n % AP_GC_BATCH == 0)
			cond_resched();
	}
}

static void anypin_gc(struct work_struct *w)
{
	struct anypin_net *an = container_of(to_delayed_work(w), struct anypin_net, gc);

	if (anypin_flows_count(an)) {
		anypin_flows_walk(an, anypin_gc_one, an);
		anypin_trim(an);
	}
	spin_lock_bh(&an->bh_lock);
	ap_bh_expire(an->bh, anypin_now());
	spin_unlock_bh(&an->bh_lock);
	queue_delayed_work(system_power_efficient_wq, &an->gc, AP_GC_INTERVAL);
}

void anypin_flows_gc_start(struct anypin_net *an)
{
	queue_delayed_work(system_power_efficient_wq, &an->gc, AP_GC_INTERVAL);
}

int anypin_flows_init(struct anypin_net *an)
{
	struct anypin_table *tb = &an->table;
	int i, err;

	spin_lock_init(&tb->lock);
	for (i = 0; i < AP_NRANKS; i++)
		INIT_LIST_HEAD(&tb->lists[i]);
	tb->count = 0;
	spin_lock_init(&an->bh_lock);
	an->bh = kvzalloc(sizeof(*an->bh), GFP_KERNEL);
	if (!an->bh)
		return -ENOMEM;
	INIT_DELAYED_WORK(&an->gc, anypin_gc);
	err = rhltable_init(&tb->ht, &anypin_flow_params);
	if (err) {
		kvfree(an->bh);
		an->bh = NULL;
	}
	return err;
}

static void anypin_flow_destroy(void *ptr, void *arg)
{
	kmem_cache_free(anypin_flow_cache, ptr);
}

/* The hooks and proc files are gone: nobody else can see an entry now. */
void anypin_flows_exit(struct anypin_net *an)
{
	cancel_delayed_work_sync(&an->gc);
	rhltable_free_and_destroy(&an->table.ht, anypin_flow_destroy, NULL);
	kvfree(an->bh);
	an->bh = NULL;
}
