// SPDX-License-Identifier: GPL-2.0 OR MIT
/* The blackhole memory: created, doubled, capped, expired, bounded, listed. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include <anypin/blackhole.h>
#include "pktgen.h"

static struct ap_bh_table *new_table(void)
{
	struct ap_bh_table *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	return t;
}

static struct ap_addr addr(const char *s)
{
	struct ap_addr a;

	pg_addr(&a, s);
	return a;
}

static void test_detect_expire(void **state)
{
	struct ap_bh_table *t = new_table();
	struct ap_addr a = addr("192.0.2.1"), b = addr("2001:db8:a::1");

	(void)state;
	assert_false(ap_bh_active(t, &a, 100));
	ap_bh_detect(t, &a, 60, 100);
	assert_int_equal(t->n, 1);
	assert_true(ap_bh_active(t, &a, 100));
	assert_true(ap_bh_active(t, &a, 159));
	assert_false(ap_bh_active(t, &b, 120));
	/* Plain no longer, but remembered: on probation until 220. */
	assert_false(ap_bh_active(t, &a, 160));
	assert_int_equal(t->n, 1);
	assert_false(ap_bh_active(t, &a, 220));
	assert_int_equal(t->n, 0);
	free(t);
}

static void test_double_and_cap(void **state)
{
	struct ap_bh_table *t = new_table();
	struct ap_addr a = addr("192.0.2.1");
	u32 now = 1000, i;

	(void)state;
	ap_bh_detect(t, &a, 60, now);
	/* Detected again on probation: twice as long. */
	now += 61;
	ap_bh_detect(t, &a, 60, now);
	assert_int_equal(t->e[0].level, 1);
	assert_int_equal(t->e[0].until, now + 120);
	assert_int_equal(t->e[0].forget, now + 240);
	assert_int_equal(t->e[0].detections, 2);
	for (i = 0; i < 10; i++)
		ap_bh_detect(t, &a, 60, now);
	assert_int_equal(t->e[0].level, AP_BH_MAX_LEVEL);
	assert_int_equal(t->e[0].until, now + 64 * 60);
	assert_int_equal(t->e[0].detections, 12);
	assert_int_equal(t->n, 1);

	/* Forgotten, a new detection starts over. */
	now += 2 * 64 * 60;
	ap_bh_detect(t, &a, 60, now);
	assert_int_equal(t->e[0].level, 0);
	assert_int_equal(t->e[0].detections, 1);
	assert_int_equal(t->e[0].until, now + 60);
	free(t);
}

/* Clock wrap: times compare as serial numbers. */
static void test_wrap(void **state)
{
	struct ap_bh_table *t = new_table();
	struct ap_addr a = addr("192.0.2.1");

	(void)state;
	ap_bh_detect(t, &a, 60, 0xffffffe0);
	assert_true(ap_bh_active(t, &a, 0xfffffff0));
	assert_true(ap_bh_active(t, &a, 10));
	assert_false(ap_bh_active(t, &a, 40));
	ap_bh_expire(t, 80);
	assert_int_equal(t->n, 1);
	ap_bh_expire(t, 90);
	assert_int_equal(t->n, 0);
	free(t);
}

static void test_bounded(void **state)
{
	struct ap_bh_table *t = new_table();
	struct ap_addr a = addr("2001:db8:a::"), last, second;
	u32 i;

	(void)state;
	/* Newest first: the last one added is forgotten soonest. */
	for (i = 0; i < AP_BH_MAX; i++) {
		a.b[14] = (u8)(i >> 8);
		a.b[15] = (u8)i;
		ap_bh_detect(t, &a, 60, 100 + AP_BH_MAX - i);
	}
	last = a;
	second = a;
	second.b[15]--;
	assert_int_equal(t->n, AP_BH_MAX);
	a.b[13] = 1;
	ap_bh_detect(t, &a, 60, 150);
	assert_int_equal(t->n, AP_BH_MAX);
	assert_true(ap_bh_active(t, &a, 151));
	assert_false(ap_bh_active(t, &last, 151));
	assert_true(ap_bh_active(t, &second, 151));

	/* Forgotten by 269: those detected at 149 and before (i >= 207). */
	ap_bh_expire(t, 269);
	assert_int_equal(t->n, AP_BH_MAX - 48);
	ap_bh_expire(t, 100 + AP_BH_MAX + 120);
	assert_int_equal(t->n, 0);
	ap_bh_detect(t, &a, 60, 150);
	ap_bh_flush(t);
	assert_int_equal(t->n, 0);
	assert_false(ap_bh_active(t, &a, 151));
	free(t);
}

static void test_clear(void **state)
{
	struct ap_bh_table *t = new_table();
	struct ap_addr a = addr("192.0.2.1"), b = addr("192.0.2.2"), c = addr("192.0.2.3");

	(void)state;
	ap_bh_detect(t, &a, 60, 10);
	ap_bh_detect(t, &b, 60, 10);
	ap_bh_detect(t, &c, 60, 10);
	ap_bh_clear(t, &a);
	ap_bh_clear(t, &a);
	assert_int_equal(t->n, 2);
	assert_false(ap_bh_active(t, &a, 11));
	assert_true(ap_bh_active(t, &b, 11));
	assert_true(ap_bh_active(t, &c, 11));
	free(t);
}

static void test_format(void **state)
{
	struct ap_bh_table *t = new_table();
	struct ap_addr a = addr("2001:db8:a::1");
	char buf[128];

	(void)state;
	ap_bh_detect(t, &a, 60, 100);
	ap_bh_detect(t, &a, 60, 110);
	assert_int_equal(ap_bh_format(&t->e[0], 130, buf, sizeof(buf)),
			 strlen("2001:db8:a::1 100 220 120 2\n"));
	assert_string_equal(buf, "2001:db8:a::1 100 220 120 2\n");
	ap_bh_format(&t->e[0], 300, buf, sizeof(buf));
	assert_string_equal(buf, "2001:db8:a::1 0 50 120 2\n");
	ap_bh_format(&t->e[0], 400, buf, sizeof(buf));
	assert_string_equal(buf, "2001:db8:a::1 0 0 120 2\n");
	ap_bh_format(&t->e[0], 130, buf, 8);
	assert_string_equal(buf, "2001:db");
	assert_int_equal(ap_bh_format(&t->e[0], 130, buf, 0), 0);
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_detect_expire),
		cmocka_unit_test(test_double_and_cap),
		cmocka_unit_test(test_wrap),
		cmocka_unit_test(test_bounded),
		cmocka_unit_test(test_clear),
		cmocka_unit_test(test_format),
	};

	return cmocka_run_group_tests_name("blackhole", tests, NULL, NULL);
}
