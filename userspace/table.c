// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The flow table: a hash table keyed on the whole struct ap_key (memcmp:
 * the core zeroes keys, padding included), several entries per key
 * (ap_flow_match() picks one), bounded by max_flows. The hash leaves out
 * the service port, so every entry of one endpoint {role, address, port}
 * shares a chain: pin_find() gets from a tuple the kernel names (its
 * counters, its ends) to the pinned flow through that endpoint. struct
 * table_pins is told of each flow's rewrites (ap_flow_pin()) as they come
 * and go: main.c keeps the kernel's maps with it.
 *
 * Entries sit on one list per eviction class (ap_flow_evict_rank()),
 * least recently active first: the core's ap_evict_room() chooses from
 * their heads, and the expiry sweep walks each head until a live entry.
 *
 * anypind is single-threaded, so the "locked until release" contract of
 * struct ap_table_ops holds trivially, and the blackhole memory needs no
 * lock either.
 */
#include <stdlib.h>
#include <sys/random.h>
#include <anypin/table.h>
#include "table.h"

#define NRANKS		AP_NRANKS
#define MIN_BUCKETS	256

struct ent {
	struct ap_flow f;
	struct ent *hnext;		/* hash chain */
	struct ent *prev, *next;	/* class list */
	u32 hash;
	u32 seen;			/* f.last when last put on its list */
	u8 rank;
	bool pinned;			/* pin was told to the callbacks */
	struct ap_pin pin;
	u64 packets[2];			/* the kernel's counts of pin.in, pin.out */
};

struct table {
	struct ent **b;
	u32 mask;
	u32 count;
	u64 seed;
	u32 now;
	const struct ap_conf *c;
	struct table_pins pins;
	struct ent lists[NRANKS];	/* sentinels */
	struct table_stats st;
	struct ap_bh_table bh;
};

static struct ent *to_ent(struct ap_flow *f)
{
	return (struct ent *)f;
}

static u32 endpoint_hash(const struct table *t, const struct ap_key *k)
{
	u64 h = t->seed;
	u32 w[4];
	int i;

	memcpy(w, k->addr.b, sizeof(w));
	for (i = 0; i < 4; i++) {
		h = (h ^ w[i]) * 0x9e3779b97f4a7c15ULL;
		h ^= h >> 29;
	}
	h = (h ^ ((u32)k->port | (u32)k->addr.family << 16 | (u32)k->role << 24)) *
	    0xbf58476d1ce4e5b9ULL;
	h ^= h >> 32;
	return (u32)h;
}

static bool same_endpoint(const struct ap_key *a, const struct ap_key *b)
{
	return a->role == b->role && a->port == b->port && ap_addr_eq(&a->addr, &b->addr);
}

static void list_del(struct ent *e)
{
	e->prev->next = e->next;
	e->next->prev = e->prev;
}

static void list_add_tail(struct table *t, struct ent *e, int rank)
{
	struct ent *h = &t->lists[rank];

	e->prev = h->prev;
	e->next = h;
	h->prev->next = e;
	h->prev = e;
	e->rank = rank;
	e->seen = e->f.last;
}

/* Back on its class list's tail: it was active now, or changed class. */
static void relist(struct table *t, struct ent *e)
{
	int rank = ap_flow_evict_rank(&e->f);

	if (rank != e->rank || e->f.last != e->seen) {
		list_del(e);
		list_add_tail(t, e, rank);
	}
}

static void count_n(struct table *t, u8 prefix, u8 stat, u64 n)
{
	if (stat >= AP_STAT_MAX)
		return;
	if (!t->c || prefix >= t->c->nprefixes)
		prefix = AP_MAX_PREFIXES;
	t->st.v[prefix][stat] += n;
}

static void count(struct table *t, u8 prefix, u8 stat)
{
	count_n(t, prefix, stat, 1);
}

void table_add_stat(struct table *t, u8 prefix, u8 stat, u64 n)
{
	count_n(t, prefix, stat, n);
}

struct table *table_new(const struct ap_conf *c, const struct table_pins *pins)
{
	struct table *t = calloc(1, sizeof(*t));
	int i;

	if (!t)
		return NULL;
	t->b = calloc(MIN_BUCKETS, sizeof(*t->b));
	if (!t->b) {
		free(t);
		return NULL;
	}
	t->mask = MIN_BUCKETS - 1;
	if (getrandom(&t->seed, sizeof(t->seed), GRND_NONBLOCK) != sizeof(t->seed))
		t->seed = (u64)(uintptr_t)t ^ 0x5bd1e995;
	for (i = 0; i < NRANKS; i++)
		t->lists[i].prev = t->lists[i].next = &t->lists[i];
	t->c = c;
	if (pins)
		t->pins = *pins;
	return t;
}

/* Doubles the buckets when the chains get long; keeps going if it can't. */
static void grow(struct table *t)
{
	u32 n = (t->mask + 1) * 2, i;
	struct ent **b, *e, *next;

	if (n > (1u << 24))
		return;
	b = calloc(n, sizeof(*b));
	if (!b)
		return;
	for (i = 0; i <= t->mask; i++) {
		for (e = t->b[i]; e; e = next) {
			next = e->hnext;
			e->hnext = b[e->hash & (n - 1)];
			b[e->hash & (n - 1)] = e;
		}
	}
	free(t->b);
	t->b = b;
	t->mask = n - 1;
}

/* Unlinks and frees @e; its pin goes with it. */
static void remove_entry(struct table *t, struct ent *e)
{
	struct ent **pp;

	for (pp = &t->b[e->hash & t->mask]; *pp; pp = &(*pp)->hnext) {
		if (*pp == e) {
			*pp = e->hnext;
			break;
		}
	}
	if (e->pinned && t->pins.pin)
		t->pins.pin(t->pins.arg, &e->pin, false);
	list_del(e);
	t->count--;
	free(e);
}

static struct ap_flow *t_find(void *tp, const struct ap_key *k, const struct ap_pkt *p,
			      enum ap_find how)
{
	struct table *t = tp;
	u32 h = endpoint_hash(t, k);
	struct ent *e, *next;
	struct ap_finder fd;

	ap_find_init(&fd, t->c, p, how, t->now);
	for (e = t->b[h & t->mask]; e; e = next) {
		next = e->hnext;
		if (e->hash != h || memcmp(&e->f.key, k, sizeof(*k)))
			continue;
		if (ap_find_see(&fd, e, &e->f)) {
			count(t, e->f.prefix, AP_STAT_EXPIRED);
			remove_entry(t, e);
		}
	}
	return fd.best ? &((struct ent *)fd.best)->f : NULL;
}

/* Eviction by the core's rule (struct ap_evict_ops). */
static u32 ev_count(void *tp)
{
	return ((struct table *)tp)->count;
}

static u32 ev_peek(void *tp, int rank, void **out, u32 *last, u32 max)
{
	struct table *t = tp;
	struct ent *e;
	u32 n = 0;

	for (e = t->lists[rank].next; e != &t->lists[rank] && n < max; e = e->next) {
		out[n] = e;
		last[n++] = e->f.last;
	}
	return n;
}

static bool ev_evict(void *tp, void *e)
{
	count(tp, ((struct ent *)e)->f.prefix, AP_STAT_EVICTED);
	remove_entry(tp, e);
	return true;
}

static const struct ap_evict_ops evict_ops = {
	.count = ev_count,
	.peek = ev_peek,
	.evict = ev_evict,
};

static struct ap_flow *t_create(void *tp, const struct ap_key *k)
{
	struct table *t = tp;
	struct ent *e;

	if (!ap_evict_room(&evict_ops, t, t->c->max_flows, k->role))
		return NULL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->f.key = *k;
	e->f.last = t->now;
	e->f.prefix = AP_MAX_PREFIXES;
	e->hash = endpoint_hash(t, k);
	e->hnext = t->b[e->hash & t->mask];
	t->b[e->hash & t->mask] = e;
	list_add_tail(t, e, ap_flow_evict_rank(&e->f));
	if (++t->count > t->mask + 1)
		grow(t);
	return &e->f;
}

static bool same_tuple(const struct ap_tuple *a, const struct ap_tuple *b)
{
	return ap_addr_eq(&a->saddr, &b->saddr) && ap_addr_eq(&a->daddr, &b->daddr) &&
	       a->sport == b->sport && a->dport == b->dport;
}

static bool same_pin(const struct ap_pin *a, const struct ap_pin *b)
{
	return same_tuple(&a->out, &b->out) && same_tuple(&a->in, &b->in) &&
	       ap_addr_eq(&a->out_to, &b->out_to) && ap_addr_eq(&a->in_to, &b->in_to);
}

/* The rewrites the kernel applies follow the entry's. */
static void repin(struct table *t, struct ent *e)
{
	struct ap_pin pin;
	bool now = ap_flow_pin(&e->f, &pin);

	if (e->pinned && now && same_pin(&e->pin, &pin))
		return;
	if (e->pinned && t->pins.pin)
		t->pins.pin(t->pins.arg, &e->pin, false);
	e->pinned = now;
	e->pin = pin;
	e->packets[0] = e->packets[1] = 0;
	if (now && t->pins.pin)
		t->pins.pin(t->pins.arg, &e->pin, true);
}

static void t_release(void *tp, struct ap_flow *f, u8 old_state)
{
	struct table *t = tp;
	struct ent *e = to_ent(f);

	(void)old_state;
	repin(t, e);
	relist(t, e);
}

static void t_remove(void *tp, struct ap_flow *f)
{
	remove_entry(tp, to_ent(f));
}

static void t_count(void *tp, u8 prefix, u8 stat)
{
	count(tp, prefix, stat);
}

static struct ap_bh_table *t_bh_lock(void *tp)
{
	return &((struct table *)tp)->bh;
}

static void t_bh_unlock(void *tp)
{
	(void)tp;
}

const struct ap_table_ops table_ops = {
	.find = t_find,
	.create = t_create,
	.release = t_release,
	.remove = t_remove,
	.count = t_count,
	.bh_lock = t_bh_lock,
	.bh_unlock = t_bh_unlock,
};

void table_set_now(struct table *t, u32 now)
{
	t->now = now;
}

/*
 * A new configuration: @remap[i] is the new index of old prefix i (or
 * AP_MAX_PREFIXES when it is gone), for the entries and the counters.
 * It needs no memory (its copy is on the stack), so it cannot fail and
 * leave them on the old prefixes.
 */
void table_set_conf(struct table *t, const struct ap_conf *c, const u8 *remap)
{
	struct table_stats old;
	struct ent *e;
	int r, i, j, n = t->c ? t->c->nprefixes : 0;

	if (remap) {
		old = t->st;
		memset(&t->st, 0, sizeof(t->st));
		for (i = 0; i <= AP_MAX_PREFIXES; i++) {
			j = i < n ? remap[i] : AP_MAX_PREFIXES;
			for (r = 0; r < AP_STAT_MAX; r++)
				t->st.v[j][r] += old.v[i][r];
		}
		for (r = 0; r < NRANKS; r++)
			for (e = t->lists[r].next; e != &t->lists[r]; e = e->next)
				e->f.prefix = e->f.prefix < n ? remap[e->f.prefix] :
					      AP_MAX_PREFIXES;
	}
	t->c = c;
}

/*
 * Each class list is oldest first: stop at the first live entry. Then
 * back under max_flows, if it was lowered.
 */
void table_sweep(struct table *t)
{
	struct ent *e;
	int r;

	for (r = 0; r < NRANKS; r++) {
		while ((e = t->lists[r].next) != &t->lists[r] &&
		       ap_flow_expired(&e->f, t->c, t->now)) {
			count(t, e->f.prefix, AP_STAT_EXPIRED);
			remove_entry(t, e);
		}
	}
	while (ap_evict_trim(&evict_ops, t, t->c->max_flows))
		;
	ap_bh_expire(&t->bh, t->now);
}

struct ap_bh_table *table_blackholes(struct table *t)
{
	return &t->bh;
}

u32 table_count(const struct table *t)
{
	return t->count;
}

const struct table_stats *table_stats(const struct table *t)
{
	return &t->st;
}

/* The pinned entry whose @out (or in) tuple is @tu, or NULL. */
static struct ent *pin_find(struct table *t, u8 role, bool out, const struct ap_tuple *tu)
{
	struct ap_key k = { .role = role };
	struct ent *e;

	/* The endpoint: the client's address and port are ours, or the peer's. */
	if ((role == AP_ROLE_CLIENT) == out) {
		k.addr = tu->saddr;
		k.port = tu->sport;
	} else {
		k.addr = tu->daddr;
		k.port = tu->dport;
	}
	for (e = t->b[endpoint_hash(t, &k) & t->mask]; e; e = e->hnext)
		if (e->pinned && same_endpoint(&e->f.key, &k) &&
		    same_tuple(out ? &e->pin.out : &e->pin.in, tu))
			return e;
	return NULL;
}

void table_pin_packets(struct table *t, u8 role, bool out, const struct ap_tuple *tu,
		       u64 packets)
{
	struct ent *e = pin_find(t, role, out, tu);
	u64 d;

	if (!e)
		return;
	/* A count below ours is a new element's (counting from zero). */
	d = packets >= e->packets[out] ? packets - e->packets[out] : packets;
	if (!d)
		return;
	e->packets[out] = packets;
	count_n(t, e->f.prefix, AP_STAT_REWRITTEN, d);
	e->f.last = t->now;
	relist(t, e);
}

void table_pin_ended(struct table *t, const struct ap_tuple *tu)
{
	static const struct { u8 role; bool out; } ways[] = {
		{ AP_ROLE_CLIENT, true }, { AP_ROLE_CLIENT, false },
		{ AP_ROLE_RESPONDER, true }, { AP_ROLE_RESPONDER, false },
	};
	struct ent *e;
	size_t i;

	for (i = 0; i < sizeof(ways) / sizeof(ways[0]); i++) {
		e = pin_find(t, ways[i].role, ways[i].out, tu);
		if (e) {
			ap_flow_end_seen(&e->f, t->now);
			relist(t, e);
			return;
		}
	}
}

void table_replay(struct table *t)
{
	struct ent *e;
	int r;

	for (r = 0; r < NRANKS; r++) {
		for (e = t->lists[r].next; e != &t->lists[r]; e = e->next) {
			if (!e->pinned)
				continue;
			/* New elements count from zero. */
			e->packets[0] = e->packets[1] = 0;
			if (t->pins.pin)
				t->pins.pin(t->pins.arg, &e->pin, true);
		}
	}
}

void table_walk(struct table *t, void (*fn)(const struct ap_flow *f, void *arg), void *arg)
{
	struct ent *e;
	int r;

	for (r = 0; r < NRANKS; r++)
		for (e = t->lists[r].next; e != &t->lists[r]; e = e->next)
			fn(&e->f, arg);
}

void table_free(struct table *t)
{
	struct ent *e, *next;
	int r;

	if (!t)
		return;
	for (r = 0; r < NRANKS; r++) {
		for (e = t->lists[r].next; e != &t->lists[r]; e = next) {
			next = e->next;
			free(e);
		}
	}
	free(t->b);
	free(t);
}
