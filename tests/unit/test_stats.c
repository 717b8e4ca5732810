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

/* A table count known exactly is the total's flows, whatever the rows say. */
static void test_set_flows(void **state)
{
	char got[AP_STATS_LINE_MAX], want[AP_STATS_LINE_MAX];

	(void)state;
	st.v[1][AP_STAT_SYN] = 3;
	ap_stats_add_flow(&st, 0);
	ap_stats_add_flow(&st, 0);
	ap_stats_add_flow(&st, 9);
	ap_stats_line(&st, 3, got, sizeof(got));
	assert_string_equal(got, row(want, AP_STATS_TOTAL, 3, 3));
	ap_stats_set_flows(&st, 2);
	ap_stats_line(&st, 3, got, sizeof(got));
	assert_string_equal(got, row(want, AP_STATS_TOTAL, 3, 2));
	ap_stats_line(&st, 1, got, sizeof(got));
	assert_string_equal(got, row(want, "dns", 0, 2));
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

/* Slots: a map per configuration, each made from the one before. */
static struct ap_conf sconf[2];
static struct ap_slots smap[2];
static int cur;

static void slots_set(const char *list, const bool *cooling)
{
	static const char key[] = "net.anypin.prefixes";
	const char *why = NULL;
	int n = !cur;

	ap_conf_init(&sconf[n]);
	assert_int_equal(ap_conf_set(&sconf[n], key, sizeof(key) - 1, list, strlen(list), &why), 0);
	smap[n] = smap[cur];
	ap_slots_remap(&smap[n], &smap[cur], &sconf[cur], &sconf[n], cooling);
	cur = n;
}

static int slots_setup(void **state)
{
	(void)state;
	cur = 0;
	ap_conf_init(&sconf[0]);
	ap_slots_init(&smap[0]);
	return 0;
}

/* An entry, as the module keeps it: its prefix's slot and generation. */
struct ent {
	u8 slot, gen;
};

static struct ent ent_of(u8 prefix)
{
	struct ent e = { ap_slots_slot(&smap[cur], prefix), 0 };

	assert_true(e.slot < AP_NSLOTS);
	e.gen = smap[cur].gen[e.slot];
	return e;
}

/* Names that stay keep their slot and entries, wherever they move. */
static void test_slots_keep(void **state)
{
	struct ent a, b;

	(void)state;
	slots_set("a=192.0.2.0/24 b=198.18.0.0/15", NULL);
	a = ent_of(0);
	b = ent_of(1);
	assert_int_not_equal(a.slot, b.slot);
	assert_int_equal(ap_slots_prefix(&smap[cur], a.slot, a.gen), 0);

	slots_set("c=203.0.113.0/24 b=198.18.0.0/15", NULL);
	assert_int_equal(ap_slots_prefix(&smap[cur], b.slot, b.gen), 1);
	assert_int_equal(ap_slots_counter(&smap[cur], b.slot, b.gen), b.slot);
	assert_int_equal(ap_slots_slot(&smap[cur], 1), b.slot);
	/* c takes a slot a did not have: a's entries may still count. */
	assert_int_not_equal(ap_slots_slot(&smap[cur], 0), a.slot);
	assert_int_equal(ap_slots_prefix(&smap[cur], a.slot, a.gen), AP_NO_SLOT);
	assert_int_equal(ap_slots_counter(&smap[cur], a.slot, a.gen), AP_SLOT_REMOVED);

	/* Beyond today's prefixes, and entries never given a slot: removed. */
	assert_int_equal(ap_slots_slot(&smap[cur], 2), AP_SLOT_REMOVED);
	assert_int_equal(ap_slots_slot(&smap[cur], AP_NO_SLOT), AP_SLOT_REMOVED);
	assert_int_equal(ap_slots_counter(&smap[cur], AP_NO_SLOT, 0), AP_SLOT_REMOVED);
	assert_int_equal(ap_slots_counter(&smap[cur], AP_SLOT_REMOVED, 0), AP_SLOT_REMOVED);
}

/*
 * A slot given back and handed to a new name: the entries of the name
 * gone count as removed, never as the new name's, however the table was
 * walked in between.
 */
static void test_slots_reuse(void **state)
{
	struct ent old, e;
	int i;

	(void)state;
	slots_set("a=192.0.2.0/24", NULL);
	old = ent_of(0);
	for (i = 0; i < 2 * AP_NSLOTS; i++) {
		slots_set(i % 2 ? "b=192.0.2.0/24" : "c=192.0.2.0/24", NULL);
		e = ent_of(0);
		if (e.slot == old.slot)
			break;
	}
	assert_int_equal(e.slot, old.slot);
	assert_int_not_equal(e.gen, old.gen);
	assert_int_equal(ap_slots_prefix(&smap[cur], e.slot, e.gen), 0);
	assert_int_equal(ap_slots_prefix(&smap[cur], old.slot, old.gen), AP_NO_SLOT);
	assert_int_equal(ap_slots_counter(&smap[cur], old.slot, old.gen), AP_SLOT_REMOVED);
	/* Not before every other slot had its turn. */
	assert_true(i >= AP_NSLOTS - 2);
}

/* Slots still cooling are taken last, but taken: a new name always has one. */
static void test_slots_cooling(void **state)
{
	bool cooling[AP_NSLOTS];
	char list[AP_VALUE_MAX];
	size_t o = 0;
	int i;

	(void)state;
	memset(cooling, 1, sizeof(cooling));
	cooling[77] = false;
	slots_set("a=192.0.2.0/24", cooling);
	assert_int_equal(ap_slots_slot(&smap[cur], 0), 77);
	slots_set("b=192.0.2.0/24", cooling);
	assert_true(ap_slots_slot(&smap[cur], 0) < AP_NSLOTS);
	assert_int_not_equal(ap_slots_slot(&smap[cur], 0), 77);

	/* Every prefix renamed: 2 * 64 distinct slots. */
	for (i = 0; i < AP_MAX_PREFIXES; i++)
		o += sprintf(list + o, "%sp%d=10.%d.0.0/16", i ? " " : "", i, i);
	slots_set(list, cooling);
	o = 0;
	for (i = 0; i < AP_MAX_PREFIXES; i++)
		o += sprintf(list + o, "%sq%d=10.%d.0.0/16", i ? " " : "", i, i);
	slots_set(list, cooling);
	for (i = 0; i < AP_MAX_PREFIXES; i++) {
		u8 s = ap_slots_slot(&smap[cur], i);

		assert_true(s < AP_NSLOTS);
		assert_int_equal(smap[cur].index[s], i);
		assert_int_equal(smap[!cur].index[s], AP_NO_SLOT);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_rows, setup),
		cmocka_unit_test_setup(test_removed, setup),
		cmocka_unit_test_setup(test_set_flows, setup),
		cmocka_unit_test_setup(test_line_max, setup),
		cmocka_unit_test_setup(test_slots_keep, slots_setup),
		cmocka_unit_test_setup(test_slots_reuse, slots_setup),
		cmocka_unit_test_setup(test_slots_cooling, slots_setup),
	};

	return cmocka_run_group_tests_name("stats", tests, NULL, NULL);
}
