// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The flow tables' policies (table.c): which entry a lookup returns and
 * which one goes when the table is full, on a table of arrays.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include <anypin/table.h>

#define N 32

/* Entries in the order they came into their class. */
struct tab {
	struct ap_flow f[N];
	bool used[N], busy[N];
	int order[N];
	int n;
	int evicted[N];
	int nevicted;
};

static struct tab tb;

static int add(u8 state, u32 last)
{
	int i = tb.n++;

	tb.used[i] = true;
	tb.f[i].state = state;
	tb.f[i].last = last;
	return i;
}

static u32 t_count(void *t)
{
	u32 i, n = 0;

	(void)t;
	for (i = 0; i < (u32)tb.n; i++)
		n += tb.used[i];
	return n;
}

static u32 t_peek(void *t, int rank, void **e, u32 *last, u32 max)
{
	u32 n = 0;
	int i;

	(void)t;
	for (i = 0; i < tb.n && n < max; i++) {
		if (!tb.used[i] || ap_flow_evict_rank(&tb.f[i]) != rank)
			continue;
		e[n] = &tb.f[i];
		last[n++] = tb.f[i].last;
	}
	return n;
}

static bool t_evict(void *t, void *e)
{
	int i = (int)((struct ap_flow *)e - tb.f);

	(void)t;
	assert_true(tb.used[i]);
	if (tb.busy[i])
		return false;
	tb.used[i] = false;
	tb.evicted[tb.nevicted++] = i;
	return true;
}

static const struct ap_evict_ops ops = {
	.count = t_count,
	.peek = t_peek,
	.evict = t_evict,
};

static int setup(void **state)
{
	(void)state;
	memset(&tb, 0, sizeof(tb));
	return 0;
}

static void test_room_order(void **state)
{
	int syn, closing, resp, bound;

	(void)state;
	bound = add(AP_BOUND, 1);
	resp = add(AP_RESPONDING, 2);
	closing = add(AP_CLOSING, 3);
	syn = add(AP_SYN_SENT, 4);

	/* Not full: nothing goes. */
	assert_true(ap_evict_room(&ops, NULL, 5, AP_ROLE_CLIENT));
	assert_int_equal(tb.nevicted, 0);

	/* Opening first, though the closing entry is older; then closing. */
	assert_true(ap_evict_room(&ops, NULL, 4, AP_ROLE_CLIENT));
	assert_int_equal(tb.evicted[0], syn);
	assert_true(ap_evict_room(&ops, NULL, 3, AP_ROLE_CLIENT));
	assert_int_equal(tb.evicted[1], closing);

	/* A client never pushes out a responder entry; a responder does. */
	assert_false(ap_evict_room(&ops, NULL, 2, AP_ROLE_CLIENT));
	assert_true(ap_evict_room(&ops, NULL, 2, AP_ROLE_RESPONDER));
	assert_int_equal(tb.evicted[2], resp);

	/* A bound client flow, never. */
	assert_false(ap_evict_room(&ops, NULL, 1, AP_ROLE_RESPONDER));
	assert_true(tb.used[bound]);
	assert_int_equal(tb.nevicted, 3);

	/* Fallback entries are opening ones. */
	syn = add(AP_FALLBACK, 5);
	assert_true(ap_evict_room(&ops, NULL, 2, AP_ROLE_CLIENT));
	assert_int_equal(tb.evicted[3], syn);
}

static void test_room_bounded(void **state)
{
	int i;

	(void)state;
	for (i = 0; i < 10; i++)
		add(AP_SYN_SENT, (u32)i);
	/* max_flows lowered to 3: one new entry evicts 4, then gives up. */
	assert_false(ap_evict_room(&ops, NULL, 3, AP_ROLE_CLIENT));
	assert_int_equal(tb.nevicted, AP_EVICT_MAX);
	assert_int_equal(t_count(NULL), 10 - AP_EVICT_MAX);

	/* The trim brings it back under, one entry at a time. */
	for (i = 0; ap_evict_trim(&ops, NULL, 3); i++)
		;
	assert_int_equal(i, 10 - AP_EVICT_MAX - 3);
	assert_int_equal(t_count(NULL), 3);
	assert_false(ap_evict_trim(&ops, NULL, 3));
}

static void test_trim_keeps_bound(void **state)
{
	int bound;

	(void)state;
	bound = add(AP_BOUND, 0);
	add(AP_RESPONDING, 1);
	add(AP_CLOSING, 2);
	while (ap_evict_trim(&ops, NULL, 0))
		;
	assert_int_equal(t_count(NULL), 1);
	assert_true(tb.used[bound]);
}

static void test_victim(void **state)
{
	int i;

	(void)state;
	/* The first AP_EVICT_SCAN of the class; the clock wraps among them. */
	for (i = 0; i < AP_EVICT_SCAN; i++)
		add(AP_SYN_SENT, 0xfffffff0u + (u32)i * 7);
	tb.f[3].last = 0xffffffe0u;
	/* Idle longer, but beyond the scan. */
	add(AP_SYN_SENT, 0xffffff00u);
	assert_true(ap_evict_room(&ops, NULL, AP_EVICT_SCAN + 1, AP_ROLE_CLIENT));
	assert_int_equal(tb.evicted[0], 3);

	/* The one idle longest is busy: the first of the others that is not. */
	memset(&tb, 0, sizeof(tb));
	add(AP_SYN_SENT, 10);
	add(AP_SYN_SENT, 5);
	add(AP_SYN_SENT, 20);
	add(AP_SYN_SENT, 30);
	tb.busy[0] = tb.busy[1] = true;
	assert_true(ap_evict_room(&ops, NULL, 4, AP_ROLE_CLIENT));
	assert_int_equal(tb.evicted[0], 2);

	/* A class all busy: the next class. */
	memset(&tb, 0, sizeof(tb));
	add(AP_SYN_SENT, 0);
	tb.busy[0] = true;
	i = add(AP_CLOSING, 0);
	assert_true(ap_evict_room(&ops, NULL, 2, AP_ROLE_CLIENT));
	assert_int_equal(tb.evicted[0], i);
	assert_false(ap_evict_room(&ops, NULL, 1, AP_ROLE_CLIENT));
}

/* The packet the lookups judge: from 198.51.100.11 to us. */
static void mkpkt(struct ap_pkt *p, u8 *buf)
{
	static const u8 u[4] = { 198, 51, 100, 11 };

	memset(p, 0, sizeof(*p));
	memset(buf, 0, 40);
	p->data = buf;
	p->family = AP_AF_INET;
	p->saddr_off = 12;
	p->daddr_off = 16;
	memcpy(buf + 12, u, 4);
	p->ack = 1001;
}

static void test_find(void **state)
{
	struct ap_conf c;
	struct ap_finder fd;
	struct ap_pkt p;
	u8 buf[40];
	int plain, key, exact, exact2, old;

	(void)state;
	ap_conf_init(&c);
	mkpkt(&p, buf);
	plain = add(AP_BOUND, 100);
	key = add(AP_SYN_SENT, 100);
	tb.f[key].isn = 5;
	old = add(AP_SYN_SENT, 0);
	tb.f[old].isn = 1000;
	exact = add(AP_SYN_SENT, 100);
	tb.f[exact].isn = 1000;
	exact2 = add(AP_SYN_SENT, 100);
	tb.f[exact2].isn = 1000;

	ap_find_init(&fd, &c, &p, AP_FIND_SYNACK, 100);
	assert_null(fd.best);
	assert_false(ap_find_see(&fd, &tb.f[plain], &tb.f[plain]));
	assert_ptr_equal(fd.best, &tb.f[plain]);
	assert_int_equal(fd.score, AP_MATCH_KEY);
	assert_false(ap_find_see(&fd, &tb.f[key], &tb.f[key]));
	assert_ptr_equal(fd.best, &tb.f[plain]);
	/* Expired: never the answer, however well it fits. */
	assert_true(ap_find_see(&fd, &tb.f[old], &tb.f[old]));
	assert_ptr_equal(fd.best, &tb.f[plain]);
	assert_false(ap_find_see(&fd, &tb.f[exact], &tb.f[exact]));
	assert_false(ap_find_see(&fd, &tb.f[exact2], &tb.f[exact2]));
	assert_ptr_equal(fd.best, &tb.f[exact]);
	assert_int_equal(fd.score, AP_MATCH_EXACT);

	/* No fit at all: nothing. */
	ap_find_init(&fd, &c, &p, AP_FIND_PINNED, 100);
	assert_false(ap_find_see(&fd, &tb.f[key], &tb.f[key]));
	assert_null(fd.best);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_room_order, setup),
		cmocka_unit_test_setup(test_room_bounded, setup),
		cmocka_unit_test_setup(test_trim_keeps_bound, setup),
		cmocka_unit_test_setup(test_victim, setup),
		cmocka_unit_test_setup(test_find, setup),
	};

	return cmocka_run_group_tests_name("table", tests, NULL, NULL);
}
