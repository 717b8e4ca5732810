// SPDX-License-Identifier: GPL-2.0 OR MIT
/* The counters' table (stats.c): its rows, the total, removed prefixes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include <anypin/stats.h>

static struct ap_conf conf;
static struct ap_stats st;

/* A fresh configuration with these prefixes, and its empty table. */
static void prefixes(const char *list)
{
	static const char key[] = "net.anypin.prefixes";
	const char *why = NULL;

	ap_conf_init(&conf);
	assert_int_equal(ap_conf_set(&conf, key, sizeof(key) - 1, list, strlen(list), &why), 0);
	ap_stats_init(&st, &conf);
}

static int setup(void **state)
{
	(void)state;
	prefixes("dns=192.0.2.0/24 web=198.18.0.0/15");
	return 0;
}

/* The whole table, line by line, as the datapaths print it. */
static char *table(char *out, size_t size)
{
	char line[AP_STATS_LINE_MAX];
	size_t o = 0;
	u32 i, n;

	for (i = 0; (n = ap_stats_line(&st, i, line, sizeof(line))); i++) {
		assert_int_equal(n, strlen(line));
		assert_true(o + n < size);
		memcpy(out + o, line, n + 1);
		o += n;
	}
	return out;
}

/* "NAME v0 v1 ...\n" with @syn in "syn", @flows in "flows", 0 elsewhere. */
static char *row(char *out, const char *name, u64 syn, u64 flows)
{
	char *w = out;
	int i;

	w += sprintf(w, "%s", name);
	for (i = 0; i < AP_STAT_MAX; i++)
		w += sprintf(w, " %llu", (unsigned long long)(i == AP_STAT_SYN ? syn :
							     i == AP_STAT_FLOWS ? flows : 0));
	sprintf(w, "\n");
	return out;
}

static void test_rows(void **state)
{
	char got[4096], want[4096], hdr[AP_STATS_LINE_MAX], r[3][AP_STATS_LINE_MAX];

	(void)state;
	assert_int_equal(st.n, 2);
	assert_string_equal(st.name[0], "dns");
	assert_string_equal(st.name[1], "web");

	st.v[0][AP_STAT_SYN] = 5;
	st.v[1][AP_STAT_SYN] = 7;
	ap_stats_add_flow(&st, 1);
	ap_stats_add_flow(&st, 1);
	ap_stats_header(hdr, sizeof(hdr));
	snprintf(want, sizeof(want), "%s%s%s%s", hdr, row(r[0], "dns", 5, 0),
		 row(r[1], "web", 7, 2), row(r[2], "total", 12, 2));
	assert_string_equal(table(got, sizeof(got)), want);
	assert_int_equal(ap_stats_line(&st, 4, got, sizeof(got)), 0);
}

/* Removed prefixes: no row of their own, in the total. */
static void test_removed(void **state)
{
	char got[4096], want[4096], hdr[AP_STATS_LINE_MAX], r[2][AP_STATS_LINE_MAX];

	(void)state;
	assert_int_equal(ap_stats_row_of(&st, 0), 0);
	assert_int_equal(ap_stats_row_of(&st, 1), 1);
	assert_int_equal(ap_stats_row_of(&st, 2), AP_STATS_REMOVED);
	assert_int_equal(ap_stats_row_of(&st, 0xff), AP_STATS_REMOVED);

	st.v[0][AP_STAT_SYN] = 1;
	st.v[AP_STATS_REMOVED][AP_STAT_SYN] = 40;
	ap_stats_add_flow(&st, 0);
	ap_stats_add_flow(&st, 9);
	ap_stats_add_flow(&st, 0xff);

	/* web removed: what it counted stays in the total. */
	st.n = 1;
	ap_stats_header(hdr, sizeof(hdr));
	snprintf(want, sizeof(want), "%s%s%s", hdr, row(r[0], "dns", 1, 1),
		 row(r[1], AP_STATS_TOTAL, 41, 3));
	assert_string_equal(table(got, sizeof(got)), want);

	/* No prefix at all: the header and the total of the removed row. */
	st.n = 0;
	assert_int_equal(ap_stats_line(&st, 1, got, sizeof(got)), strlen(row(want, "total", 40, 2)));
	assert_string_equal(got, want);
	assert_int_equal(ap_stats_line(&st, 2, got, sizeof(got)), 0);
}

/* The longest lines fit AP_STATS_LINE_MAX, and a short buffer truncates. */
static void test_line_max(void **state)
{
	char line[AP_STATS_LINE_MAX + 1];
	int i;

	(void)state;
	prefixes("abcdefghijklmno=192.0.2.0/24");
	for (i = 0; i < AP_STAT_MAX; i++)
		st.v[0][i] = UINT64_MAX;
	assert_true(ap_stats_line(&st, 0, line, sizeof(line)) < AP_STATS_LINE_MAX - 1);
	assert_true(ap_stats_line(&st, 1, line, sizeof(line)) < AP_STATS_LINE_MAX - 1);
	assert_int_equal(line[strlen(line) - 1], '\n');
	assert_int_equal(ap_stats_line(&st, 1, line, 6), 5);
	assert_string_equal(line, "abcde");
	assert_int_equal(ap_stats_line(&st, 2, line, 0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_rows, setup),
		cmocka_unit_test_setup(test_removed, setup),
		cmocka_unit_test_setup(test_line_max, setup),
	};

	return cmocka_run_group_tests_name("stats", tests, NULL, NULL);
}
