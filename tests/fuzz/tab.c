// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * libFuzzer target: anypinctl's table parser (tools/text.c) on arbitrary
 * text, as the datapath hands it over (/proc/net/anypin/flows, stats,
 * blackholes, anypind's status), and its JSON output.
 *
 * Input: u8 size (for text_show), then the table. Every row of a table
 * that parses prints, with json_row(), as one valid JSON object (RFC 8259,
 * UTF-8) whatever bytes its cells hold; text_show() fits its buffer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "anypinctl.h"

#define CHECK(x)	do { if (!(x)) abort(); } while (0)

static const char *const strcols[] = { "role", "prefix", "state", "addr", "anycast", NULL };

static size_t hex4(const char *s, size_t i, size_t n)
{
	size_t k;

	CHECK(i + 4 <= n);
	for (k = 0; k < 4; k++)
		CHECK(strchr("0123456789abcdefABCDEF", s[i + k]) && s[i + k]);
	return i + 4;
}

/* A JSON string at s[i]; returns the index past it. */
static size_t jstring(const char *s, size_t i, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t len, k;

	CHECK(i < n && s[i++] == '"');
	for (;;) {
		CHECK(i < n);
		if (u[i] == '"')
			return i + 1;
		CHECK(u[i] >= 0x20);
		if (u[i] == '\\') {
			CHECK(i + 1 < n);
			if (s[i + 1] == 'u') {
				i = hex4(s, i + 2, n);
				continue;
			}
			CHECK(strchr("\"\\/bfnrt", s[i + 1]) && s[i + 1]);
			i += 2;
			continue;
		}
		if (u[i] < 0x80) {
			i++;
			continue;
		}
		/* UTF-8 (RFC 3629): no overlong forms, surrogates, or past U+10FFFF. */
		len = u[i] >= 0xf0 ? 4 : u[i] >= 0xe0 ? 3 : 2;
		CHECK(u[i] >= 0xc2 && u[i] <= 0xf4 && i + len <= n);
		for (k = 1; k < len; k++)
			CHECK(u[i + k] >= 0x80 && u[i + k] <= 0xbf);
		CHECK(!(u[i] == 0xe0 && u[i + 1] < 0xa0) && !(u[i] == 0xed && u[i + 1] > 0x9f));
		CHECK(!(u[i] == 0xf0 && u[i + 1] < 0x90) && !(u[i] == 0xf4 && u[i + 1] > 0x8f));
		i += len;
	}
}

/* What json_row() writes: {"k": "v" or unsigned integer, ...}, exactly. */
static void check_json(const char *s, size_t n)
{
	size_t i = 0, d;

	CHECK(n >= 2 && s[i++] == '{');
	if (s[i] == '}')
		goto end;
	for (;;) {
		i = jstring(s, i, n);
		CHECK(i + 2 <= n && s[i] == ':' && s[i + 1] == ' ');
		i += 2;
		if (i < n && s[i] == '"') {
			i = jstring(s, i, n);
		} else {
			for (d = 0; i + d < n && s[i + d] >= '0' && s[i + d] <= '9'; d++)
				;
			CHECK(d && (d == 1 || s[i] != '0'));
			i += d;
		}
		CHECK(i < n);
		if (s[i] == '}')
			break;
		CHECK(i + 2 <= n && s[i] == ',' && s[i + 1] == ' ');
		i += 2;
	}
end:
	CHECK(i + 1 == n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data + 1;
	size_t r, c, jlen;
	char err[256], *json, *str, shown[256];
	struct tab t;
	FILE *f;
	int row;

	if (size < 1)
		return 0;
	err[0] = 0;
	if (tab_parse(&t, text, size - 1, err, sizeof(err))) {
		CHECK(err[0] && !t.buf && !t.head && !t.cells);
		/* An error message shows text as it is. */
		text_show(shown, data[0], err);
		return 0;
	}
	CHECK(t.ncols > 0);
	for (c = 0; c < t.ncols; c++) {
		CHECK(t.head[c][0] && tab_col(&t, t.head[c]) <= (int)c);
		CHECK(tab_col(&t, t.head[c]) >= 0);
	}
	for (r = 0; r < t.nrows; r++) {
		row = tab_find_row(&t, tab_cell(&t, r, 0));
		CHECK(row >= (int)r && (size_t)row < t.nrows);
		f = open_memstream(&json, &jlen);
		CHECK(f);
		json_row(f, &t, r, strcols);
		CHECK(!fclose(f));
		check_json(json, jlen);
		free(json);
	}

	/* text_show() of the first cell, into data[0] bytes. */
	str = t.nrows ? (char *)tab_cell(&t, 0, 0) : t.head[0];
	memset(shown, 0x5a, sizeof(shown));
	text_show(shown, data[0], str);
	if (data[0])
		CHECK(memchr(shown, 0, data[0]));
	tab_free(&t);
	return 0;
}
