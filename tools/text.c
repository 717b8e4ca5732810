// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The pure parts of anypinctl: the datapath's tables read by column name
 * (a column added or moved later does not break them), and JSON output
 * that stays valid whatever bytes a value holds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "anypinctl.h"

static bool blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* Splits one line in place; returns the number of fields, up to @max stored. */
static size_t split(char *l, char **out, size_t max)
{
	size_t n = 0;

	for (;;) {
		while (blank(*l))
			l++;
		if (!*l)
			return n;
		if (n < max)
			out[n] = l;
		n++;
		while (*l && !blank(*l))
			l++;
		if (*l)
			*l++ = 0;
	}
}

int tab_parse(struct tab *t, const char *text, size_t len, char *err, size_t errlen)
{
	char *l, *nl, **cells;
	size_t lines = 1, i, n, line = 0;

	memset(t, 0, sizeof(*t));
	if (memchr(text, 0, len)) {
		snprintf(err, errlen, "NUL byte in the table");
		return -1;
	}
	for (i = 0; i < len; i++)
		lines += text[i] == '\n';
	t->buf = malloc(len + 1);
	/* A line of n bytes has at most n/2 + 1 fields. */
	t->head = calloc(len / 2 + 2, sizeof(char *));
	if (!t->buf || !t->head)
		goto oom;
	memcpy(t->buf, text, len);
	t->buf[len] = 0;
	for (l = t->buf; l; l = nl) {
		nl = strchr(l, '\n');
		if (nl)
			*nl++ = 0;
		line++;
		if (!t->ncols) {
			t->ncols = split(l, t->head, len / 2 + 2);
			if (!t->ncols)
				break;
			t->cells = calloc(lines * t->ncols, sizeof(char *));
			if (!t->cells)
				goto oom;
			continue;
		}
		cells = t->cells + t->nrows * t->ncols;
		n = split(l, cells, t->ncols);
		if (!n)
			continue;
		if (n != t->ncols) {
			snprintf(err, errlen, "line %zu has %zu fields, the header %zu", line, n,
				 t->ncols);
			tab_free(t);
			return -1;
		}
		t->nrows++;
	}
	if (!t->ncols) {
		snprintf(err, errlen, "no header line");
		tab_free(t);
		return -1;
	}
	return 0;
oom:
	snprintf(err, errlen, "out of memory");
	tab_free(t);
	return -1;
}

int tab_col(const struct tab *t, const char *name)
{
	size_t i;

	for (i = 0; i < t->ncols; i++)
		if (!strcmp(t->head[i], name))
			return (int)i;
	return -1;
}

int tab_find_row(const struct tab *t, const char *first)
{
	size_t r;

	for (r = t->nrows; r-- > 0;)
		if (!strcmp(tab_cell(t, r, 0), first))
			return (int)r;
	return -1;
}

const char *tab_cell(const struct tab *t, size_t row, size_t col)
{
	return t->cells[row * t->ncols + col];
}

void tab_free(struct tab *t)
{
	free(t->buf);
	free(t->head);
	free(t->cells);
	memset(t, 0, sizeof(*t));
}

/* Length of the valid UTF-8 sequence at @s (RFC 3629), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	size_t len, i;

	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4;
	else
		return 0;
	/* No overlong forms, no surrogates, nothing above U+10FFFF. */
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

void json_str(FILE *f, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, k;

	fputc('"', f);
	while (i < n) {
		if (u[i] == '"' || u[i] == '\\') {
			fputc('\\', f);
			fputc(u[i++], f);
		} else if (u[i] == '\n') {
			fputs("\\n", f);
			i++;
		} else if (u[i] == '\t') {
			fputs("\\t", f);
			i++;
		} else if (u[i] < 0x20) {
			fprintf(f, "\\u%04x", u[i++]);
		} else if (u[i] < 0x80) {
			fputc(u[i++], f);
		} else if ((k = utf8_len(u + i, n - i))) {
			fwrite(u + i, 1, k, f);
			i += k;
		} else {
			/* Not UTF-8: the replacement character, as decoders do. */
			fputs("\\ufffd", f);
			i++;
		}
	}
	fputc('"', f);
}

bool json_is_uint(const char *s)
{
	size_t n = strspn(s, "0123456789");

	return n && !s[n] && n <= 20 && (s[0] != '0' || n == 1);
}

void json_value(FILE *f, const char *s, bool numeric)
{
	if (numeric && json_is_uint(s))
		fputs(s, f);
	else
		json_str(f, s, strlen(s));
}

static bool listed(const char *const *l, const char *s)
{
	for (; l && *l; l++)
		if (!strcmp(*l, s))
			return true;
	return false;
}

void json_row(FILE *f, const struct tab *t, size_t row, const char *const *strcols)
{
	size_t c;

	fputc('{', f);
	for (c = 0; c < t->ncols; c++) {
		if (c)
			fputs(", ", f);
		json_str(f, t->head[c], strlen(t->head[c]));
		fputs(": ", f);
		json_value(f, tab_cell(t, row, c), !listed(strcols, t->head[c]));
	}
	fputc('}', f);
}

/* The printable form of one byte, in @e (at least 5 bytes). */
static size_t show_byte(unsigned char c, char *e)
{
	if (c == '\n')
		return (size_t)sprintf(e, "\\n");
	if (c == '\t')
		return (size_t)sprintf(e, "\\t");
	if (c == '\\')
		return (size_t)sprintf(e, "\\\\");
	if (c < 0x20 || c == 0x7f)
		return (size_t)sprintf(e, "\\x%02x", c);
	e[0] = (char)c;
	e[1] = 0;
	return 1;
}

void text_show(char *out, size_t size, const char *s)
{
	size_t o = 0, k, total = 0, i;
	char e[8];

	if (!size)
		return;
	for (i = 0; s[i]; i++)
		total += show_byte((unsigned char)s[i], e);
	for (i = 0; s[i]; i++) {
		k = show_byte((unsigned char)s[i], e);
		/* All of it if it fits, else what fits before "...". */
		if (total + 1 > size && o + k + 4 > size) {
			snprintf(out + o, size - o, "...");
			return;
		}
		memcpy(out + o, e, k);
		o += k;
	}
	out[o] = 0;
}
