// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * anypind's flow table (userspace/table.c) through struct ap_table_ops, as
 * ap_process() uses it: entries in and found again, the endpoints' first
 * and last, counters following a new configuration's prefixes, and what
 * happens when memory runs out (malloc and calloc are wrapped, -Wl,--wrap).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "table.h"
#include "pktgen.h"
#include "ut.h"

/* Allocations that succeed before the next ones fail; -1: all succeed. */
static int alloc_left = -1;

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);

static bool alloc_ok(void)
{
	if (alloc_left < 0)
		return true;
	if (!alloc_left)
		return false;
	alloc_left--;
	return true;
}

void *__wrap_malloc(size_t n)
{
	return alloc_ok() ? __real_malloc(n) : NULL;
}

void *__wrap_calloc(size_t n, size_t size)
{
	return alloc_ok() ? __real_calloc(n, size) : NULL;
}

/* The endpoints' first and last, as the kernel sets would hold them. */
#define EP_MAX	1024
struct sets {
	struct ap_key k[EP_MAX];
	int n, firsts, lasts;
};

static bool same_endpoint(const struct ap_key *a, const struct ap_key *b)
{
	return a->role == b->role && a->port == b->port && ap_addr_eq(&a->addr, &b->addr);
}

static int set_find(const struct sets *s, const struct ap_key *k)
{
	int i;

	for (i = 0; i < s->n; i++)
		if (same_endpoint(&s->k[i], k))
			return i;
	return -1;
}

static void ep_first(void *arg, const struct ap_key *k)
{
	struct sets *s = arg;

	assert_int_equal(set_find(s, k), -1);
	assert_true(s->n < EP_MAX);
	s->k[s->n++] = *k;
	s->firsts++;
}

static void ep_last(void *arg, const struct ap_key *k)
{
	struct sets *s = arg;
	int i = set_find(s, k);

	assert_true(i >= 0);
	s->k[i] = s->k[--s->n];
	s->lasts++;
}

struct fixture {
	struct ap_conf c, c2;
	struct sets sets;
	struct table *t;
};

static int setup(void **state)
{
	struct fixture *x = calloc(1, sizeof(*x));
	struct table_endpoints ep = { ep_first, ep_last, NULL, NULL };

	assert_non_null(x);
	ap_conf_init(&x->c);
	ut_set(&x->c, "net.anypin.prefixes", "a=192.0.2.0/24 b=198.51.100.0/24 c=2001:db8::/32");
	ep.arg = &x->sets;
	x->t = table_new(&x->c, &ep);
	assert_non_null(x->t);
	table_set_now(x->t, 1000);
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *x = *state;

	alloc_left = -1;
	table_free(x->t);
	free(x);
	return 0;
}

/* A responder key: AP_FIND_RESP matches on the key alone. */
static void key(struct ap_key *k, const char *addr, u16 port, u16 svc)
{
	memset(k, 0, sizeof(*k));
	pg_addr(&k->addr, addr);
	k->port = htons(port);
	k->svc_port = htons(svc);
	k->role = AP_ROLE_RESPONDER;
}

static struct ap_flow *create(struct fixture *x, const struct ap_key *k, u8 prefix)
{
	struct ap_flow *f = table_ops.create(x->t, k);

	assert_non_null(f);
	assert_memory_equal(&f->key, k, sizeof(*k));
	f->state = AP_RESPONDING;
	f->prefix = prefix;
	table_ops.release(x->t, f, 0);
	return f;
}

static struct ap_flow *find(struct fixture *x, const struct ap_key *k)
{
	struct ap_flow *f = table_ops.find(x->t, k, NULL, AP_FIND_RESP);

	if (f)
		table_ops.release(x->t, f, f->state);
	return f;
}

static void count_flow(const struct ap_flow *f, void *arg)
{
	(void)f;
	(*(u32 *)arg)++;
}

static void test_insert_lookup(void **state)
{
	struct fixture *x = *state;
	struct ap_key k1, k2, k3;
	struct ap_flow *f1, *f2;
	u32 n = 0;

	key(&k1, "203.0.113.1", 40000, 80);
	key(&k2, "203.0.113.1", 40001, 80);
	key(&k3, "2001:db8:c::1", 40000, 80);
	assert_null(find(x, &k1));
	f1 = create(x, &k1, 0);
	f2 = create(x, &k2, 1);
	assert_ptr_equal(find(x, &k1), f1);
	assert_ptr_equal(find(x, &k2), f2);
	assert_null(find(x, &k3));
	assert_int_equal(table_count(x->t), 2);
	table_walk(x->t, count_flow, &n);
	assert_int_equal(n, 2);

	table_ops.remove(x->t, find(x, &k1));
	assert_null(find(x, &k1));
	assert_ptr_equal(find(x, &k2), f2);
	assert_int_equal(table_count(x->t), 1);
}

/* A thousand entries: the buckets double, every entry stays found. */
static void test_many(void **state)
{
	struct fixture *x = *state;
	struct ap_flow *f[1000];
	struct ap_key k;
	char a[32];
	int i;

	for (i = 0; i < 1000; i++) {
		snprintf(a, sizeof(a), "10.0.%d.%d", i / 250, i % 250 + 1);
		key(&k, a, 1024 + i, 443);
		f[i] = create(x, &k, 0);
	}
	for (i = 0; i < 1000; i++) {
		snprintf(a, sizeof(a), "10.0.%d.%d", i / 250, i % 250 + 1);
		key(&k, a, 1024 + i, 443);
		assert_ptr_equal(find(x, &k), f[i]);
	}
	assert_int_equal(table_count(x->t), 1000);
}

/* One endpoint, two services: first with the first entry, last with the last. */
static void test_endpoints(void **state)
{
	struct fixture *x = *state;
	struct ap_key k80, k443, other;
	struct ap_flow *f;

	key(&k80, "203.0.113.1", 40000, 80);
	key(&k443, "203.0.113.1", 40000, 443);
	key(&other, "203.0.113.1", 40000, 80);
	other.role = AP_ROLE_CLIENT;

	create(x, &k80, 0);
	assert_int_equal(x->sets.firsts, 1);
	create(x, &k443, 0);
	assert_int_equal(x->sets.firsts, 1);
	/* The same address and port in the other role is another endpoint. */
	f = table_ops.create(x->t, &other);
	assert_non_null(f);
	table_ops.release(x->t, f, 0);
	assert_int_equal(x->sets.firsts, 2);

	table_ops.remove(x->t, find(x, &k80));
	assert_int_equal(x->sets.lasts, 0);
	table_ops.remove(x->t, find(x, &k443));
	assert_int_equal(x->sets.lasts, 1);
	assert_int_equal(set_find(&x->sets, &k80), -1);
	assert_int_equal(x->sets.n, 1);
}

/* Counters go to their prefix; one no longer configured, to the last row. */
static void test_counters(void **state)
{
	struct fixture *x = *state;
	const struct table_stats *st = table_stats(x->t);

	table_ops.count(x->t, 1, AP_STAT_RESP_SYN);
	table_ops.count(x->t, 1, AP_STAT_RESP_SYN);
	table_ops.count(x->t, 7, AP_STAT_RESP_SYN);
	table_ops.count(x->t, AP_MAX_PREFIXES, AP_STAT_EXPIRED);
	table_ops.count(x->t, 0, AP_STAT_MAX);
	assert_int_equal(st->v[1][AP_STAT_RESP_SYN], 2);
	assert_int_equal(st->v[AP_MAX_PREFIXES][AP_STAT_RESP_SYN], 1);
	assert_int_equal(st->v[AP_MAX_PREFIXES][AP_STAT_EXPIRED], 1);
	assert_ptr_equal(table_blackholes(x->t), table_ops.bh_lock(x->t));
	table_ops.bh_unlock(x->t);
}

/*
 * A new configuration: "b" stays (index 1 to 0), "a" goes, "d" comes.
 * Counters and entries follow the names; those of "a" go to the last row.
 */
static void reconfigure(struct fixture *x)
{
	u8 remap[AP_MAX_PREFIXES] = { AP_MAX_PREFIXES, 0, 2 };

	ap_conf_init(&x->c2);
	ut_set(&x->c2, "net.anypin.prefixes", "b=198.51.100.0/24 d=192.0.2.0/25 c=2001:db8::/32");
	table_set_conf(x->t, &x->c2, remap);
}

static void check_reconfigured(struct fixture *x, struct ap_flow *fa, struct ap_flow *fb)
{
	const struct table_stats *st = table_stats(x->t);

	assert_int_equal(st->v[0][AP_STAT_RESP_SYN], 2);	/* b's */
	assert_int_equal(st->v[1][AP_STAT_RESP_SYN], 0);	/* d's: new */
	assert_int_equal(st->v[2][AP_STAT_RESP_SYN], 4);	/* c's */
	assert_int_equal(st->v[AP_MAX_PREFIXES][AP_STAT_RESP_SYN], 1 + 3);
	assert_int_equal(fa->prefix, AP_MAX_PREFIXES);
	assert_int_equal(fb->prefix, 0);
	/* Counted from now on against the new prefixes. */
	table_ops.count(x->t, 1, AP_STAT_RESP_SYN);
	assert_int_equal(st->v[1][AP_STAT_RESP_SYN], 1);
}

static void counted(struct fixture *x, struct ap_flow **fa, struct ap_flow **fb)
{
	struct ap_key k;
	int i;

	key(&k, "203.0.113.1", 40000, 80);
	*fa = create(x, &k, 0);
	key(&k, "203.0.113.2", 40000, 80);
	*fb = create(x, &k, 1);
	for (i = 0; i < 3; i++)
		table_ops.count(x->t, 0, AP_STAT_RESP_SYN);
	for (i = 0; i < 2; i++)
		table_ops.count(x->t, 1, AP_STAT_RESP_SYN);
	for (i = 0; i < 4; i++)
		table_ops.count(x->t, 2, AP_STAT_RESP_SYN);
	table_ops.count(x->t, 9, AP_STAT_RESP_SYN);
}

static void test_set_conf(void **state)
{
	struct fixture *x = *state;
	struct ap_flow *fa, *fb;

	counted(x, &fa, &fb);
	reconfigure(x);
	check_reconfigured(x, fa, fb);
}

/* Out of memory: the new configuration is applied whole all the same. */
static void test_set_conf_no_memory(void **state)
{
	struct fixture *x = *state;
	struct ap_flow *fa, *fb;

	counted(x, &fa, &fb);
	alloc_left = 0;
	reconfigure(x);
	alloc_left = -1;
	check_reconfigured(x, fa, fb);
}

static void test_new_no_memory(void **state)
{
	struct ap_conf c;
	int i;

	(void)state;
	ap_conf_init(&c);
	for (i = 0; i < 2; i++) {
		alloc_left = i;
		assert_null(table_new(&c, NULL));
	}
	alloc_left = -1;
}

/* No entry, no endpoint; the table goes on as before. */
static void test_create_no_memory(void **state)
{
	struct fixture *x = *state;
	struct ap_key k;

	key(&k, "203.0.113.1", 40000, 80);
	alloc_left = 0;
	assert_null(table_ops.create(x->t, &k));
	alloc_left = -1;
	assert_int_equal(table_count(x->t), 0);
	assert_int_equal(x->sets.firsts, 0);
	assert_null(find(x, &k));
	create(x, &k, 0);
	assert_non_null(find(x, &k));
}

/* Buckets that cannot double: longer chains, every entry still found. */
static void test_grow_no_memory(void **state)
{
	struct fixture *x = *state;
	struct ap_flow *f[300];
	struct ap_key k;
	int i;

	for (i = 0; i < 300; i++) {
		key(&k, "203.0.113.1", 1024 + i, 80);
		/* Each entry's own allocation, then none: no growing. */
		alloc_left = 1;
		f[i] = create(x, &k, 0);
	}
	alloc_left = -1;
	for (i = 0; i < 300; i++) {
		key(&k, "203.0.113.1", 1024 + i, 80);
		assert_ptr_equal(find(x, &k), f[i]);
	}
	assert_int_equal(x->sets.n, 300);
}

/* max_flows bounds the table: a full table of responder entries churns. */
static void test_bounded(void **state)
{
	struct fixture *x = *state;
	struct ap_key k;
	int i;

	x->c.max_flows = 4;
	for (i = 0; i < 10; i++) {
		key(&k, "203.0.113.1", 1024 + i, 80);
		create(x, &k, 0);
		assert_true(table_count(x->t) <= 4);
	}
	assert_int_equal(x->sets.n, 4);
	assert_int_equal(x->sets.lasts, 6);
	assert_int_equal(table_stats(x->t)->v[0][AP_STAT_EVICTED], 6);
}

int main(void)
{
#define T(test)	cmocka_unit_test_setup_teardown(test, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_insert_lookup), T(test_many), T(test_endpoints), T(test_counters),
		T(test_set_conf), T(test_set_conf_no_memory),
		cmocka_unit_test(test_new_no_memory), T(test_create_no_memory),
		T(test_grow_no_memory), T(test_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
