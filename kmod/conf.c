// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The configuration of a namespace: an immutable struct anypin_conf that
 * the hooks read under RCU. A write copies it, applies one key with the
 * core's ap_conf_set() (the only place values are parsed) and publishes
 * the copy; a refused value leaves the old one in place.
 */
#include <linux/mm.h>
#include <linux/rcupdate.h>
#include <linux/slab.h>
#include "anypin.h"

static struct anypin_conf *anypin_conf_alloc(void)
{
	return kvmalloc(sizeof(struct anypin_conf), GFP_KERNEL);
}

int anypin_conf_init(struct anypin_net *an)
{
	struct anypin_conf *kc = anypin_conf_alloc();

	if (!kc)
		return -ENOMEM;
	memset(kc->slot, AP_NO_SLOT, sizeof(kc->slot));
	memset(kc->index, AP_NO_SLOT, sizeof(kc->index));
	ap_conf_init(&kc->c);
	RCU_INIT_POINTER(an->conf, kc);
	return 0;
}

/* The namespace is going: no hook, handler or proc file is left to read it. */
void anypin_conf_exit(struct anypin_net *an)
{
	kvfree(rcu_dereference_protected(an->conf, 1));
	RCU_INIT_POINTER(an->conf, NULL);
}

/*
 * A slot neither configuration uses, in turn, so reuse comes late. Under
 * conf_lock, which guards next_slot with the configuration.
 */
static u8 anypin_free_slot(struct anypin_net *an, const struct anypin_conf *old,
			   const struct anypin_conf *new)
{
	unsigned int i;
	u8 s;

	lockdep_assert_held(&an->conf_lock);
	for (i = 0; i < AP_NSLOTS; i++) {
		s = (an->next_slot + i) % AP_NSLOTS;
		if (old->index[s] == AP_NO_SLOT && new->index[s] == AP_NO_SLOT) {
			an->next_slot = (s + 1) % AP_NSLOTS;
			return s;
		}
	}
	return AP_NO_SLOT;	/* cannot happen: AP_NSLOTS is twice the prefixes */
}

/*
 * Counter slots of @new by name: names that stay keep their counters, a
 * new name takes a slot neither configuration uses (zero since it was
 * given back). Under conf_lock: @old is the published configuration.
 */
static void anypin_remap_slots(struct anypin_net *an, const struct anypin_conf *old,
			       struct anypin_conf *new)
{
	const struct ap_pconf *pc;
	unsigned int i;
	int j;

	lockdep_assert_held(&an->conf_lock);
	memset(new->slot, AP_NO_SLOT, sizeof(new->slot));
	memset(new->index, AP_NO_SLOT, sizeof(new->index));
	for (i = 0; i < new->c.nprefixes; i++) {
		pc = &new->c.prefixes[i];
		j = ap_conf_find(&old->c, pc->name, strlen(pc->name));
		if (j < 0)
			continue;
		new->slot[i] = old->slot[j];
		if (new->slot[i] != AP_NO_SLOT)
			new->index[new->slot[i]] = i;
	}
	for (i = 0; i < new->c.nprefixes; i++) {
		if (new->slot[i] != AP_NO_SLOT)
			continue;
		new->slot[i] = anypin_free_slot(an, old, new);
		if (new->slot[i] != AP_NO_SLOT)
			new->index[new->slot[i]] = i;
	}
}

/* An entry of a name gone counts as removed from now on. */
static bool anypin_retire_flow(struct anypin_flow *e, void *arg)
{
	const struct anypin_conf *kc = arg;

	lockdep_assert_held(&e->lock);
	if (e->slot < AP_NSLOTS && kc->index[e->slot] == AP_NO_SLOT)
		e->slot = AP_SLOT_REMOVED;
	return false;
}

/*
 * @new is published; the slots of names it dropped go back. Once the
 * readers of @old are gone (they count by its slots), the entries of
 * those names move to AP_SLOT_REMOVED and what the slots counted to the
 * removed prefixes' sum: the total keeps it, and no later name inherits
 * it. Under conf_lock.
 */
static void anypin_retire_slots(struct anypin_net *an, const struct anypin_conf *old,
				const struct anypin_conf *new)
{
	bool gone = false;
	unsigned int s;

	lockdep_assert_held(&an->conf_lock);
	for (s = 0; s < AP_NSLOTS; s++)
		gone |= old->index[s] != AP_NO_SLOT && new->index[s] == AP_NO_SLOT;
	if (!gone)
		return;
	synchronize_rcu();
	anypin_flows_walk(an, anypin_retire_flow, (void *)new);
	for (s = 0; s < AP_NSLOTS; s++)
		if (old->index[s] != AP_NO_SLOT && new->index[s] == AP_NO_SLOT)
			anypin_stats_retire(an, s);
}

int anypin_conf_set(struct anypin_net *an, const char *key, u32 klen,
		    const char *val, u32 vlen, anypin_prepare_t prepare)
{
	struct anypin_conf *old, *new;
	const char *why = NULL;
	int err;

	new = anypin_conf_alloc();
	if (!new)
		return -ENOMEM;
	mutex_lock(&an->conf_lock);
	old = rcu_dereference_protected(an->conf, lockdep_is_held(&an->conf_lock));
	memcpy(new, old, sizeof(*new));
	if (ap_conf_set(&new->c, key, klen, val, vlen, &why)) {
		mutex_unlock(&an->conf_lock);
		kvfree(new);
		pr_info_ratelimited("anypin: %.*s: %s\n", (int)klen, key,
				    why ? why : "invalid value");
		return -EINVAL;
	}
	anypin_remap_slots(an, old, new);
	err = prepare ? prepare(an, &new->c) : 0;
	if (err) {
		mutex_unlock(&an->conf_lock);
		kvfree(new);
		return err;
	}
	rcu_assign_pointer(an->conf, new);
	anypin_retire_slots(an, old, new);
	mutex_unlock(&an->conf_lock);
	kvfree_rcu(old, rcu);
	return 0;
}

int anypin_conf_get(struct anypin_net *an, const char *key, u32 klen,
		    char *buf, u32 size)
{
	const struct anypin_conf *kc;
	int n;

	rcu_read_lock();
	kc = rcu_dereference(an->conf);
	n = ap_conf_get(&kc->c, key, klen, buf, size);
	rcu_read_unlock();
	return n;
}
