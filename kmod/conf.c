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
	ap_slots_init(&kc->slots);
	ap_conf_init(&kc->c);
	/* The hooks apply it (hooks.c, tunnel.c): instance and peers are taken. */
	kc->c.sc_supported = true;
	kc->sc = false;
	RCU_INIT_POINTER(an->conf, kc);
	return 0;
}

/* The namespace is going: no hook, handler or proc file is left to read it. */
void anypin_conf_exit(struct anypin_net *an)
{
	kvfree(rcu_dereference_protected(an->conf, 1));
	RCU_INIT_POINTER(an->conf, NULL);
}

/* Which slots given back may still be counted into for their old name. */
static void anypin_slots_cooling(struct anypin_net *an, bool *cooling)
{
	unsigned int s;

	lockdep_assert_held(&an->conf_lock);
	for (s = 0; s < AP_NSLOTS; s++) {
		if (an->slot_cooling[s] && poll_state_synchronize_rcu(an->slot_gp[s]))
			an->slot_cooling[s] = false;
		cooling[s] = an->slot_cooling[s];
	}
}

/*
 * Before @new is published: the slots it hands to new names. The core
 * took a slot still cooling only if no other was free (a burst of writes
 * within a grace period): wait for it then. What a slot counted for its
 * names gone goes to the removed sum, so it reads zero for its new name.
 */
static void anypin_slots_take(struct anypin_net *an, const struct anypin_conf *old,
			      const struct anypin_conf *new)
{
	unsigned int s;

	lockdep_assert_held(&an->conf_lock);
	for (s = 0; s < AP_NSLOTS; s++) {
		if (new->slots.index[s] == AP_NO_SLOT || old->slots.index[s] != AP_NO_SLOT)
			continue;
		if (an->slot_cooling[s])
			cond_synchronize_rcu(an->slot_gp[s]);
		an->slot_cooling[s] = false;
		anypin_stats_retire(an, s);
	}
}

/*
 * @new is published: the slots of names it dropped cool until the readers
 * of @old, which count by its slots, are gone. Their entries need no
 * visit: their slot's generation is no longer @new's, so they count as
 * removed (ap_slots_counter()).
 */
static void anypin_slots_give_back(struct anypin_net *an, const struct anypin_conf *old,
				   const struct anypin_conf *new)
{
	unsigned long gp = 0;
	bool started = false;
	unsigned int s;

	lockdep_assert_held(&an->conf_lock);
	for (s = 0; s < AP_NSLOTS; s++) {
		if (old->slots.index[s] == AP_NO_SLOT || new->slots.index[s] != AP_NO_SLOT)
			continue;
		if (!started)
			gp = start_poll_synchronize_rcu();
		started = true;
		an->slot_gp[s] = gp;
		an->slot_cooling[s] = true;
	}
}

/*
 * Whether a prefix of @c has an instance id. The hooks then look at more
 * than our flows, and the forward budget is allocated before @c is
 * published: under conf_lock, once per namespace, freed with it.
 */
static int anypin_conf_sc(struct anypin_net *an, struct anypin_conf *kc)
{
	unsigned int i;

	lockdep_assert_held(&an->conf_lock);
	kc->sc = false;
	for (i = 0; i < kc->c.nprefixes; i++)
		kc->sc |= kc->c.prefixes[i].instance != 0;
	return kc->sc ? anypin_sc_alloc(an) : 0;
}

int anypin_conf_set(struct anypin_net *an, const char *key, u32 klen,
		    const char *val, u32 vlen, anypin_prepare_t prepare)
{
	struct anypin_conf *old, *new;
	bool cooling[AP_NSLOTS];
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
	anypin_slots_cooling(an, cooling);
	ap_slots_remap(&new->slots, &old->slots, &old->c, &new->c, cooling);
	err = anypin_conf_sc(an, new);
	if (!err && prepare)
		err = prepare(an, &new->c);
	if (err) {
		mutex_unlock(&an->conf_lock);
		kvfree(new);
		return err;
	}
	anypin_slots_take(an, old, new);
	rcu_assign_pointer(an->conf, new);
	anypin_slots_give_back(an, old, new);
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
