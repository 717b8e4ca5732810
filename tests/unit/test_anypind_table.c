// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * anypind's flow table (userspace/table.c) through struct ap_table_ops, as
 * ap_process() uses it: entries in and found again, the pins of flows
 * the kernel rewrites and its counts of them,
 * counters following a new configuration's prefixes, and what happens
 * when memory runs out (malloc and calloc are wrapped, -Wl,--wrap).
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

/*
 * The pins as the kernel's maps would hold them: an element is added once
 * and deleted once, as it was added, or the kernel refuses the batch.
 */
#define PIN_MAX	64
struct maps {
	struct ap_pin pin[PIN_MAX];
	int npins, adds, removes;
};

static bool same_tuple(const struct ap_tuple *a, const struct ap_tuple *b)
{
	return ap_addr_eq(&a->saddr, &b->saddr) && a->sport == b->sport &&
	       ap_addr_eq(&a->daddr, &b->daddr) && a->dport == b->dport;
}

static int pin_find(const struct maps *s, const struct ap_pin *p)
{
	int i;

	for (i = 0; i < s->npins; i++)
		if (s->pin[i].role == p->role && same_tuple(&s->pin[i].out, &p->out) &&
		    same_tuple(&s->pin[i].in, &p->in) && ap_addr_eq(&s->pin[i].out_to, &p->out_to) &&
		    ap_addr_eq(&s->pin[i].in_to, &p->in_to))
			return i;
	return -1;
}

static void pin_update(void *arg, const struct ap_pin *p, bool add)
{
	struct maps *s = arg;
	int i = pin_find(s, p);

	if (add) {
		assert_int_equal(i, -1);
		assert_true(s->npins < PIN_MAX);
		s->pin[s->npins++] = *p;
		s->adds++;
	} else {
		assert_true(i >= 0);
		s->pin[i] = s->pin[--s->npins];
		s->removes++;
	}
}

struct fixture {
	struct ap_conf c, c2;
	struct maps maps;
	struct table *t;
	u32 now;
	int pinned;		/* table_walk()'s count of pinned flows */
	bool plain;		/* SYNs come without the option */
};

static int setup(void **state)
{
	struct fixture *x = calloc(1, sizeof(*x));
	struct table_pins pins = { pin_update, NULL };

	assert_non_null(x);
	ap_conf_init(&x->c);
	ut_set(&x->c, "net.anypin.prefixes", "a=192.0.2.0/24 b=198.51.100.0/24 c=2001:db8::/32");
	pins.arg = &x->maps;
	x->t = table_new(&x->c, &pins);
	assert_non_null(x->t);
	x->now = 1000;
	table_set_now(x->t, x->now);
	*state = x;
	return 0;
}

/* Each pinned flow of the table has its pin in the kernel's maps. */
static void in_maps(const struct ap_flow *f, void *arg)
{
	struct fixture *x = arg;
	struct ap_pin pin;

	if (!ap_flow_pin(f, &pin))
		return;
	assert_true(pin_find(&x->maps, &pin) >= 0);
	x->pinned++;
}

static int teardown(void **state)
{
	struct fixture *x = *state;

	alloc_left = -1;
	/* The maps hold the table's pins, no more. */
	x->pinned = 0;
	table_walk(x->t, in_maps, x);
	assert_int_equal(x->pinned, x->maps.npins);
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

/*
 * One endpoint, two services, and the same address and port in the other
 * role: one chain (the hash leaves out the service port), three keys.
 */
static void test_same_endpoint(void **state)
{
	struct fixture *x = *state;
	struct ap_key k80, k443, other;
	struct ap_flow *f80, *f443, *f;

	key(&k80, "203.0.113.1", 40000, 80);
	key(&k443, "203.0.113.1", 40000, 443);
	key(&other, "203.0.113.1", 40000, 80);
	other.role = AP_ROLE_CLIENT;

	f80 = create(x, &k80, 0);
	f443 = create(x, &k443, 0);
	f = table_ops.create(x->t, &other);
	assert_non_null(f);
	table_ops.release(x->t, f, 0);
	assert_int_equal(table_count(x->t), 3);
	assert_ptr_equal(find(x, &k80), f80);
	assert_ptr_equal(find(x, &k443), f443);

	table_ops.remove(x->t, find(x, &k80));
	assert_null(find(x, &k80));
	assert_ptr_equal(find(x, &k443), f443);
	assert_ptr_equal(table_ops.find(x->t, &other, NULL, AP_FIND_RESP), f);
	table_ops.release(x->t, f, f->state);
	assert_int_equal(table_count(x->t), 2);
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

/* No entry; the table goes on as before. */
static void test_create_no_memory(void **state)
{
	struct fixture *x = *state;
	struct ap_key k;

	key(&k, "203.0.113.1", 40000, 80);
	alloc_left = 0;
	assert_null(table_ops.create(x->t, &k));
	alloc_left = -1;
	assert_int_equal(table_count(x->t), 0);
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
	assert_int_equal(table_count(x->t), 300);
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
	assert_int_equal(table_count(x->t), 4);
	assert_int_equal(table_stats(x->t)->v[0][AP_STAT_EVICTED], 6);
}

/*
 * Pins: a client at 203.0.113.10 (fd00:c::10) connecting to prefix a
 * (c), instances answering from unicast addresses outside the prefixes;
 * prefix b is made a responder's where a test needs one.
 */
#define C4	"203.0.113.10"
#define A4	"192.0.2.1"
#define U4	"203.0.113.200"
#define U4B	"203.0.113.201"
#define C6	"fd00:c::10"
#define A6	"2001:db8::1"
#define U6	"fd00:1::11"

/* One packet through ap_process() at x->now, as anypind's queue hands it on. */
static void packet(struct fixture *x, enum ap_hook hook, const char *src, const char *dst,
		   u16 sport, u16 dport, u8 flags, u32 seq, u32 ack)
{
	static const u8 cap[4] = { AP_OPT_KIND, AP_OPT_LEN, 0xa7, 0xc1 };
	struct pg_tcp t;
	struct ap_pkt p;
	struct ap_verdict v;
	u8 buf[256];
	u32 len;

	pg_tcp_init(&t, src, dst, sport, dport, flags);
	t.seq = seq;
	t.ack = ack;
	/* A client with anypin asks for the responder's rewrites. */
	if (flags == AP_TCP_SYN && hook == AP_HOOK_IN && !x->plain)
		pg_tcp_add_opt(&t, cap, sizeof(cap));
	len = pg_build_tcp(buf, &t, NULL);
	assert_int_equal(ap_parse(&p, buf, len, len), AP_OK);
	table_set_now(x->t, x->now);
	ap_process(&x->c, &table_ops, x->t, &p, hook, AP_CSUM_FULL, x->now, &v);
}

/* Our SYN from @c:@port to @a:80, answered by @u: bound. */
static void bound(struct fixture *x, const char *c, u16 port, const char *a, const char *u,
		 u32 isn)
{
	packet(x, AP_HOOK_OUT, c, a, port, 80, AP_TCP_SYN, isn, 0);
	packet(x, AP_HOOK_IN, u, c, 80, port, AP_TCP_SYN | AP_TCP_ACK, 5000, isn + 1);
}

static void tuple(struct ap_tuple *t, const char *s, u16 sp, const char *d, u16 dp)
{
	pg_addr(&t->saddr, s);
	pg_addr(&t->daddr, d);
	t->sport = htons(sp);
	t->dport = htons(dp);
}

/*
 * Whether the maps hold the pin of a flow between @c:@port and @a:80,
 * through @u: a client's, or a responder's.
 */
static bool pinned(const struct fixture *x, u8 role, const char *c, u16 port, const char *a,
		   const char *u)
{
	struct ap_pin p = { .role = role };

	if (role == AP_ROLE_CLIENT) {
		tuple(&p.out, c, port, a, 80);
		tuple(&p.in, u, 80, c, port);
	} else {
		tuple(&p.out, a, 80, c, port);
		tuple(&p.in, c, port, u, 80);
	}
	pg_addr(&p.out_to, u);
	pg_addr(&p.in_to, a);
	return pin_find(&x->maps, &p) >= 0;
}

static bool client_pinned(const struct fixture *x, const char *c, u16 port, const char *a,
			  const char *u)
{
	return pinned(x, AP_ROLE_CLIENT, c, port, a, u);
}

static u64 rewritten(const struct fixture *x, u8 prefix)
{
	return table_stats(x->t)->v[prefix][AP_STAT_REWRITTEN];
}

/* The kernel's count for the packets leaving a client flow @c:@port -> @a:80. */
static void kernel_count(struct fixture *x, const char *c, u16 port, const char *a, u64 packets)
{
	struct ap_tuple t;

	tuple(&t, c, port, a, 80);
	table_pin_packets(x->t, AP_ROLE_CLIENT, true, &t, packets);
}

/* Bound: pinned once; the repeated SYN-ACK and the FIN leave the pin as it is. */
static void test_pin_client(void **state)
{
	struct fixture *x = *state;

	/* The SYN: an entry, nothing for the kernel. */
	packet(x, AP_HOOK_OUT, C4, A4, 40000, 80, AP_TCP_SYN, 1000, 0);
	assert_int_equal(table_count(x->t), 1);
	assert_int_equal(x->maps.adds, 0);
	packet(x, AP_HOOK_IN, U4, C4, 80, 40000, AP_TCP_SYN | AP_TCP_ACK, 5000, 1001);
	assert_int_equal(x->maps.adds, 1);
	assert_true(client_pinned(x, C4, 40000, A4, U4));

	bound(x, C6, 40000, A6, U6, 1000);
	assert_int_equal(x->maps.adds, 2);
	assert_true(client_pinned(x, C6, 40000, A6, U6));

	packet(x, AP_HOOK_IN, U4, C4, 80, 40000, AP_TCP_SYN | AP_TCP_ACK, 5000, 1001);
	packet(x, AP_HOOK_OUT, C4, A4, 40000, 80, AP_TCP_ACK | AP_TCP_FIN, 1001, 5001);
	packet(x, AP_HOOK_IN, U4, C4, 80, 40000, AP_TCP_ACK | AP_TCP_FIN, 5001, 1002);
	assert_int_equal(x->maps.adds, 2);
	assert_int_equal(x->maps.removes, 0);

	/* Closed and gone by the sweep: the pin with it. */
	x->now += x->c.fin_timeout + 1;
	table_set_now(x->t, x->now);
	table_sweep(x->t);
	assert_false(client_pinned(x, C4, 40000, A4, U4));
	assert_int_equal(x->maps.removes, 1);
	assert_int_equal(x->maps.npins, 1);
}

/*
 * A new connection on a pinned key: the old pin goes at its SYN, the new
 * one comes with its SYN-ACK. A closed flow found expired by the next
 * packet of its key loses its pin too.
 */
static void test_pin_new_connection(void **state)
{
	struct fixture *x = *state;

	bound(x, C4, 40000, A4, U4, 1000);
	kernel_count(x, C4, 40000, A4, 10);
	bound(x, C4, 40000, A4, U4B, 3000);
	assert_int_equal(x->maps.adds, 2);
	assert_int_equal(x->maps.removes, 1);
	assert_false(client_pinned(x, C4, 40000, A4, U4));
	assert_true(client_pinned(x, C4, 40000, A4, U4B));
	/* The same tuple out, but a new element: it counts from zero. */
	kernel_count(x, C4, 40000, A4, 3);
	assert_int_equal(rewritten(x, 0), 13);

	packet(x, AP_HOOK_OUT, C4, A4, 40000, 80, AP_TCP_RST, 3001, 0);
	x->now += x->c.fin_timeout + 1;
	packet(x, AP_HOOK_OUT, C4, A4, 40000, 80, AP_TCP_SYN, 7000, 0);
	assert_int_equal(x->maps.npins, 0);
	assert_int_equal(x->maps.removes, 2);
	assert_int_equal(table_stats(x->t)->v[0][AP_STAT_EXPIRED], 1);
	assert_int_equal(table_count(x->t), 1);
}

/*
 * A responder's pin: from the capable SYN; the client's next connection
 * from the same port to another anycast address replaces it; its plain
 * retry (fallback) ends it.
 */
static void test_pin_responder(void **state)
{
	struct fixture *x = *state;

	ut_set(&x->c, "net.anypin.prefix.b.role", "responder");
	ut_set(&x->c, "net.anypin.prefix.b.unicast", U4);
	packet(x, AP_HOOK_IN, C4, "198.51.100.1", 40000, 80, AP_TCP_SYN, 1000, 0);
	assert_true(pinned(x, AP_ROLE_RESPONDER, C4, 40000, "198.51.100.1", U4));

	/* Retransmitted: nothing new. */
	packet(x, AP_HOOK_IN, C4, "198.51.100.1", 40000, 80, AP_TCP_SYN, 1000, 0);
	assert_int_equal(x->maps.adds, 1);

	packet(x, AP_HOOK_IN, C4, "198.51.100.2", 40000, 80, AP_TCP_SYN, 2000, 0);
	assert_int_equal(x->maps.adds, 2);
	assert_int_equal(x->maps.removes, 1);
	assert_false(pinned(x, AP_ROLE_RESPONDER, C4, 40000, "198.51.100.1", U4));
	assert_true(pinned(x, AP_ROLE_RESPONDER, C4, 40000, "198.51.100.2", U4));

	/* The same SYN without the option: the client fell back. */
	x->plain = true;
	packet(x, AP_HOOK_IN, C4, "198.51.100.2", 40000, 80, AP_TCP_SYN, 2000, 0);
	assert_int_equal(x->maps.npins, 0);
	assert_int_equal(x->maps.removes, 2);
}

/*
 * The kernel's counts: what came since the last call counts as rewritten
 * for the flow's prefix, and keeps an idle pinned flow alive; the same
 * count again is no activity.
 */
static void test_pin_packets(void **state)
{
	struct fixture *x = *state;
	struct ap_tuple t;

	x->c.idle_timeout = 100;
	bound(x, C4, 40000, A4, U4, 1000);
	bound(x, C4, 40001, A4, U4, 2000);
	bound(x, C6, 40000, A6, U6, 1000);

	x->now += 90;
	table_set_now(x->t, x->now);
	kernel_count(x, C4, 40000, A4, 5);
	assert_int_equal(rewritten(x, 0), 5);
	kernel_count(x, C4, 40000, A4, 12);
	assert_int_equal(rewritten(x, 0), 12);
	/* U's packets to us, as the in map counts them. */
	tuple(&t, U6, 80, C6, 40000);
	table_pin_packets(x->t, AP_ROLE_CLIENT, false, &t, 3);
	assert_int_equal(rewritten(x, 2), 3);

	/* Nobody's: no flow of that tuple, or not in that role or direction. */
	kernel_count(x, C4, 40002, A4, 100);
	tuple(&t, C4, 40000, A4, 80);
	table_pin_packets(x->t, AP_ROLE_RESPONDER, true, &t, 100);
	table_pin_packets(x->t, AP_ROLE_CLIENT, false, &t, 100);
	assert_int_equal(rewritten(x, 0), 12);

	/* 150 s idle by the core's reckoning, 60 s by the kernel's. */
	x->now += 60;
	table_set_now(x->t, x->now);
	table_sweep(x->t);
	assert_true(client_pinned(x, C4, 40000, A4, U4));
	assert_true(client_pinned(x, C6, 40000, A6, U6));
	assert_false(client_pinned(x, C4, 40001, A4, U4));
	assert_int_equal(table_count(x->t), 2);

	/* No packet since: the same counts are no sign of life. */
	x->now += 45;
	table_set_now(x->t, x->now);
	kernel_count(x, C4, 40000, A4, 12);
	table_pin_packets(x->t, AP_ROLE_CLIENT, false, &t, 3);
	table_sweep(x->t);
	assert_int_equal(table_count(x->t), 0);
	assert_int_equal(rewritten(x, 0), 12);
	assert_int_equal(x->maps.npins, 0);
}

/*
 * A FIN the kernel let by, either way, closes its pinned flow as if the
 * core had seen it: fin_timeout from then on, and the pin goes with it.
 */
static void test_pin_ended(void **state)
{
	struct fixture *x = *state;
	struct ap_tuple t;

	x->c.idle_timeout = 1000;
	x->c.fin_timeout = 10;
	bound(x, C4, 40000, A4, U4, 1000);
	bound(x, C4, 40001, A4, U4, 2000);
	bound(x, C6, 40000, A6, U6, 1000);

	x->now += 5;
	table_set_now(x->t, x->now);
	/* Ours to A, as the out map knows it; U's to us, as the in map does. */
	tuple(&t, C4, 40000, A4, 80);
	table_pin_ended(x->t, &t);
	tuple(&t, U6, 80, C6, 40000);
	table_pin_ended(x->t, &t);
	/* Nobody's: nothing happens. */
	tuple(&t, C4, 40002, A4, 80);
	table_pin_ended(x->t, &t);
	assert_int_equal(table_count(x->t), 3);

	x->now += 11;
	table_set_now(x->t, x->now);
	table_sweep(x->t);
	assert_false(client_pinned(x, C4, 40000, A4, U4));
	assert_false(client_pinned(x, C6, 40000, A6, U6));
	assert_true(client_pinned(x, C4, 40001, A4, U4));
	assert_int_equal(table_count(x->t), 1);
	assert_int_equal(x->maps.npins, 1);
}

/*
 * Pinned flows pushed out by max_flows take their pins along: responding
 * ones by new responder entries, or when max_flows is lowered; a closing
 * client flow by a new client SYN.
 */
static void test_pin_evicted(void **state)
{
	struct fixture *x = *state;
	u16 i;

	ut_set(&x->c, "net.anypin.prefix.b.role", "responder");
	ut_set(&x->c, "net.anypin.prefix.b.unicast", U4);
	x->c.max_flows = 3;
	for (i = 0; i < 5; i++) {
		x->now++;
		packet(x, AP_HOOK_IN, C4, "198.51.100.1", 40000 + i, 80, AP_TCP_SYN, 1000, 0);
	}
	assert_int_equal(table_stats(x->t)->v[1][AP_STAT_EVICTED], 2);
	assert_int_equal(x->maps.removes, 2);
	assert_int_equal(x->maps.npins, 3);
	assert_false(pinned(x, AP_ROLE_RESPONDER, C4, 40001, "198.51.100.1", U4));
	assert_true(pinned(x, AP_ROLE_RESPONDER, C4, 40004, "198.51.100.1", U4));

	x->c.max_flows = 1;
	table_sweep(x->t);
	assert_int_equal(x->maps.npins, 1);
	assert_true(pinned(x, AP_ROLE_RESPONDER, C4, 40004, "198.51.100.1", U4));

	x->c.max_flows = 2;
	bound(x, C4, 40000, A4, U4B, 1000);
	packet(x, AP_HOOK_OUT, C4, A4, 40000, 80, AP_TCP_ACK | AP_TCP_FIN, 1001, 5001);
	x->now++;
	packet(x, AP_HOOK_OUT, C4, A4, 40001, 80, AP_TCP_SYN, 1000, 0);
	assert_false(client_pinned(x, C4, 40000, A4, U4B));
	assert_int_equal(table_stats(x->t)->v[0][AP_STAT_EVICTED], 1);
	assert_int_equal(x->maps.npins, 1);
}

/*
 * The table put back in the kernel (deleted under us, or a batch
 * refused): every pin again, none for a flow still opening, and counts
 * that start from zero in the new elements.
 */
static void test_replay(void **state)
{
	struct fixture *x = *state;

	ut_set(&x->c, "net.anypin.prefix.b.role", "responder");
	ut_set(&x->c, "net.anypin.prefix.b.unicast", U4B);
	bound(x, C4, 40000, A4, U4, 1000);
	/* The same endpoint to another service, and one still opening. */
	packet(x, AP_HOOK_OUT, C4, A4, 40000, 443, AP_TCP_SYN, 3000, 0);
	packet(x, AP_HOOK_IN, U4, C4, 443, 40000, AP_TCP_SYN | AP_TCP_ACK, 5000, 3001);
	packet(x, AP_HOOK_OUT, C4, A4, 40001, 80, AP_TCP_SYN, 4000, 0);
	packet(x, AP_HOOK_IN, "192.0.2.99", "198.51.100.1", 5555, 80, AP_TCP_SYN, 1, 0);
	assert_int_equal(x->maps.npins, 3);
	kernel_count(x, C4, 40000, A4, 10);
	assert_int_equal(rewritten(x, 0), 10);

	/* A new, empty table in the kernel: four entries, three pins. */
	memset(&x->maps, 0, sizeof(x->maps));
	table_replay(x->t);
	assert_int_equal(table_count(x->t), 4);
	assert_int_equal(x->maps.adds, 3);
	assert_int_equal(x->maps.npins, 3);
	assert_true(client_pinned(x, C4, 40000, A4, U4));

	/* The new element counts from zero: 2 more, not 2^64 - 8. */
	kernel_count(x, C4, 40000, A4, 2);
	assert_int_equal(rewritten(x, 0), 12);
	kernel_count(x, C4, 40000, A4, 7);
	assert_int_equal(rewritten(x, 0), 17);
}

int main(void)
{
#define T(test)	cmocka_unit_test_setup_teardown(test, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_insert_lookup), T(test_many), T(test_same_endpoint), T(test_counters),
		T(test_set_conf), T(test_set_conf_no_memory),
		cmocka_unit_test(test_new_no_memory), T(test_create_no_memory),
		T(test_grow_no_memory), T(test_bounded), T(test_pin_client),
		T(test_pin_new_connection), T(test_pin_responder), T(test_pin_packets), T(test_pin_ended),
		T(test_pin_evicted), T(test_replay),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
