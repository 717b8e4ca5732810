// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * anypinctl's pure parts (tools/text.c): tables read by column name, JSON
 * strings valid for any bytes, numbers only where JSON reads them back.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <anypin/flow.h>
#include <anypin/blackhole.h>
#include "anypinctl.h"

/* What @fn writes to a FILE, as a malloc'ed string. */
#define CAPTURE(out, stmt)                                        \
	do {                                                      \
		size_t cap_len_;                                  \
		FILE *f = open_memstream(&(out), &cap_len_);      \
		assert_non_null(f);                               \
		stmt;                                             \
		assert_int_equal(fclose(f), 0);                   \
	} while (0)

static char *jstr(const char *s, size_t n)
{
	char *out = NULL;

	CAPTURE(out, json_str(f, s, n));
	return out;
}

static void test_tab_by_name(void **state)
{
	/* The columns in another order than the core's: names decide. */
	const char *text = "idle role  prefix\n5 client web\n\n  7\tresponder dns \n";
	struct tab t;
	char err[128];

	(void)state;
	assert_int_equal(tab_parse(&t, text, strlen(text), err, sizeof(err)), 0);
	assert_int_equal(t.ncols, 3);
	assert_int_equal(t.nrows, 2);
	assert_int_equal(tab_col(&t, "prefix"), 2);
	assert_int_equal(tab_col(&t, "idle"), 0);
	assert_int_equal(tab_col(&t, "unicast"), -1);
	assert_string_equal(tab_cell(&t, 1, tab_col(&t, "prefix")), "dns");
	assert_string_equal(tab_cell(&t, 1, tab_col(&t, "idle")), "7");
	assert_int_equal(tab_find_row(&t, "5"), 0);
	assert_int_equal(tab_find_row(&t, "web"), -1);
	tab_free(&t);
}

static void test_tab_core_formats(void **state)
{
	char hdr[1024], row[1024], *text = NULL;
	u64 v[AP_STAT_MAX];
	struct tab t;
	char err[128];
	int i;

	(void)state;
	for (i = 0; i < AP_STAT_MAX; i++)
		v[i] = 1000 + i;
	ap_stats_header(hdr, sizeof(hdr));
	ap_stats_row("web", v, row, sizeof(row));
	assert_true(asprintf(&text, "%s%stotal%s", hdr, row, strchr(row, ' ')) > 0);
	assert_int_equal(tab_parse(&t, text, strlen(text), err, sizeof(err)), 0);
	assert_int_equal(t.ncols, AP_STAT_MAX + 1);
	assert_int_equal(t.nrows, 2);
	for (i = 0; i < AP_STAT_MAX; i++)
		assert_int_equal(atoi(tab_cell(&t, tab_find_row(&t, "total"),
					       tab_col(&t, ap_stat_names[i]))), 1000 + i);
	tab_free(&t);
	free(text);

	assert_int_equal(tab_parse(&t, AP_FLOW_HEADER, strlen(AP_FLOW_HEADER), err,
				   sizeof(err)), 0);
	assert_int_equal(t.nrows, 0);
	assert_int_equal(tab_col(&t, "svc_port"), 6);
	tab_free(&t);
}

/* anypinctl blackholes: the core's lines, the address a string. */
static void test_tab_blackholes(void **state)
{
	static const char *const strcols[] = { "addr", NULL };
	struct ap_bh b = { .until = 1060, .forget = 1120, .detections = 3, .level = 2 };
	char line[128], *text = NULL, *s = NULL;
	struct tab t;
	char err[64];

	(void)state;
	assert_int_equal(ap_addr_parse("2001:db8::1", 11, &b.addr, NULL), 0);
	ap_bh_format(&b, 1000, line, sizeof(line));
	assert_true(asprintf(&text, "%s%s", AP_BH_HEADER, line) > 0);
	assert_int_equal(tab_parse(&t, text, strlen(text), err, sizeof(err)), 0);
	assert_int_equal(t.nrows, 1);
	CAPTURE(s, json_row(f, &t, 0, strcols));
	assert_string_equal(s, "{\"addr\": \"2001:db8::1\", \"remaining\": 60, "
			       "\"forget\": 120, \"period\": 60, \"detections\": 3}");
	free(s);
	tab_free(&t);
	free(text);
}

static void test_tab_errors(void **state)
{
	struct tab t;
	char err[128];

	(void)state;
	assert_int_equal(tab_parse(&t, "a b\n1 2 3\n", 10, err, sizeof(err)), -1);
	assert_string_equal(err, "line 2 has 3 fields, the header 2");
	assert_null(t.cells);
	assert_int_equal(tab_parse(&t, "a b\n1\n", 6, err, sizeof(err)), -1);
	assert_int_equal(tab_parse(&t, "", 0, err, sizeof(err)), -1);
	assert_string_equal(err, "no header line");
	assert_int_equal(tab_parse(&t, "\n a\n", 4, err, sizeof(err)), -1);
	assert_int_equal(tab_parse(&t, "a\0b\n", 4, err, sizeof(err)), -1);
	assert_string_equal(err, "NUL byte in the table");
	/* Only the first @len bytes count. */
	assert_int_equal(tab_parse(&t, "a b\n1 2 3\n", 4, err, sizeof(err)), 0);
	assert_int_equal(t.nrows, 0);
	tab_free(&t);
}

static void test_json_escapes(void **state)
{
	static const struct {
		const char *in;
		size_t n;
		const char *out;
	} cases[] = {
		{ "", 0, "\"\"" },
		{ "web", 3, "\"web\"" },
		{ "a\"b\\c/", 6, "\"a\\\"b\\\\c/\"" },
		{ "\n\t\r\b\f\x01\x1f\x7f", 8, "\"\\n\\t\\u000d\\u0008\\u000c\\u0001\\u001f\x7f\"" },
		{ "a\0b", 3, "\"a\\u0000b\"" },
		/* Valid UTF-8 passes: 2, 3 and 4 byte forms, U+FFFF, U+10FFFF. */
		{ "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9, "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"" },
		{ "\xef\xbf\xbf\xf4\x8f\xbf\xbf", 7, "\"\xef\xbf\xbf\xf4\x8f\xbf\xbf\"" },
		/* Anything else becomes U+FFFD, one per byte. */
		{ "\xff", 1, "\"\\ufffd\"" },
		{ "\x80x", 2, "\"\\ufffdx\"" },
		{ "\xc0\xaf", 2, "\"\\ufffd\\ufffd\"" },		/* overlong '/' */
		{ "\xe0\x80\xaf", 3, "\"\\ufffd\\ufffd\\ufffd\"" },	/* overlong */
		{ "\xed\xa0\x80", 3, "\"\\ufffd\\ufffd\\ufffd\"" },	/* surrogate */
		{ "\xf4\x90\x80\x80", 4, "\"\\ufffd\\ufffd\\ufffd\\ufffd\"" }, /* > U+10FFFF */
		{ "\xc3", 1, "\"\\ufffd\"" },				/* cut short */
		{ "\xe2\x82", 2, "\"\\ufffd\\ufffd\"" },
		{ "\xc3\xa9\xc3", 3, "\"\xc3\xa9\\ufffd\"" },
	};
	size_t i;
	char *s;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		s = jstr(cases[i].in, cases[i].n);
		assert_string_equal(s, cases[i].out);
		free(s);
	}
}

/* Every byte value, alone and after a lead byte: the output is valid JSON text. */
static void test_json_any_byte(void **state)
{
	unsigned char in[3];
	size_t i, j;
	char *s;

	(void)state;
	for (i = 0; i < 256; i++) {
		for (j = 0; j < 256; j += 17) {
			in[0] = (unsigned char)i;
			in[1] = (unsigned char)j;
			in[2] = 0xbf;
			s = jstr((const char *)in, 3);
			assert_true(s[0] == '"' && s[strlen(s) - 1] == '"');
			for (const unsigned char *p = (const unsigned char *)s + 1; p[1]; p++) {
				assert_true(*p >= 0x20);
				if (*p == '"')
					fail_msg("unescaped quote for %02zx %02zx", i, j);
				if (*p == '\\') {
					p++;
					assert_non_null(strchr("\"\\ntu", *p));
					if (*p == 'u')
						p += 4;
				}
			}
			free(s);
		}
	}
}

static void test_json_numbers(void **state)
{
	char *s = NULL;

	(void)state;
	assert_true(json_is_uint("0"));
	assert_true(json_is_uint("18446744073709551615"));
	assert_false(json_is_uint(""));
	assert_false(json_is_uint("007"));
	assert_false(json_is_uint("-1"));
	assert_false(json_is_uint("1.5"));
	assert_false(json_is_uint("12a"));
	assert_false(json_is_uint("0x10"));
	assert_false(json_is_uint("123456789012345678901"));
	CAPTURE(s, (json_value(f, "42", true), json_value(f, "42", false),
		    json_value(f, "04", true)));
	assert_string_equal(s, "42\"42\"\"04\"");
	free(s);
}

static void test_json_row(void **state)
{
	static const char *const strcols[] = { "prefix", NULL };
	const char *text = "prefix syn flows\n123 4 0\nweb 5 x\"y\n";
	struct tab t;
	char err[64], *s = NULL;

	(void)state;
	assert_int_equal(tab_parse(&t, text, strlen(text), err, sizeof(err)), 0);
	CAPTURE(s, (json_row(f, &t, 0, strcols), json_row(f, &t, 1, strcols)));
	/* A numeric prefix name stays a string; a counter that is none, too. */
	assert_string_equal(s, "{\"prefix\": \"123\", \"syn\": 4, \"flows\": 0}"
			       "{\"prefix\": \"web\", \"syn\": 5, \"flows\": \"x\\\"y\"}");
	free(s);
	tab_free(&t);
}

static void test_text_show(void **state)
{
	char out[16];

	(void)state;
	text_show(out, sizeof(out), "web");
	assert_string_equal(out, "web");
	text_show(out, sizeof(out), "a\nb\\\x01\x7f");
	assert_string_equal(out, "a\\nb\\\\\\x01\\x7f");
	text_show(out, sizeof(out), "0123456789abcdefghij");
	assert_string_equal(out, "0123456789ab...");
	text_show(out, sizeof(out), "0123456789abcde");
	assert_string_equal(out, "0123456789abcde");
	text_show(out, 4, "abcd");
	assert_string_equal(out, "...");
	text_show(out, 4, "abc");
	assert_string_equal(out, "abc");
	text_show(out, 3, "abcd");
	assert_string_equal(out, "..");
	text_show(out, sizeof(out), "");
	assert_string_equal(out, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tab_by_name),
		cmocka_unit_test(test_tab_core_formats),
		cmocka_unit_test(test_tab_blackholes),
		cmocka_unit_test(test_tab_errors),
		cmocka_unit_test(test_json_escapes),
		cmocka_unit_test(test_json_any_byte),
		cmocka_unit_test(test_json_numbers),
		cmocka_unit_test(test_json_row),
		cmocka_unit_test(test_text_show),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
