// SPDX-License-Identifier: GPL-2.0 OR MIT
/* Text helpers of the parsers and formatters (text.h). */
#include <anypin/text.h>

int ap_err(const char **why, const char *msg)
{
	if (why)
		*why = msg;
	return -1;
}

static bool ap_blank(char c)
{
	return c == ' ' || c == '\t';
}

static bool ap_space(char c)
{
	return ap_blank(c) || c == '\n' || c == '\r';
}

void ap_trim(const char **s, u32 *n)
{
	while (*n && ap_space(**s)) {
		(*s)++;
		(*n)--;
	}
	while (*n && ap_space((*s)[*n - 1]))
		(*n)--;
}

bool ap_token(const char *s, u32 n, u32 *pos, bool commas, const char **tok, u32 *tlen)
{
	u32 i = *pos, start;

	while (i < n && (ap_blank(s[i]) || (commas && s[i] == ',')))
		i++;
	if (i == n) {
		*pos = i;
		return false;
	}
	start = i;
	while (i < n && !ap_blank(s[i]) && !(commas && s[i] == ','))
		i++;
	*tok = s + start;
	*tlen = i - start;
	*pos = i;
	return true;
}

void ap_putc(struct ap_out *o, char c)
{
	if (o->len + 1 < o->size)
		o->buf[o->len++] = c;
}

void ap_puts(struct ap_out *o, const char *s)
{
	while (*s)
		ap_putc(o, *s++);
}

void ap_putu(struct ap_out *o, u32 v, u32 base, u32 width)
{
	static const char digits[] = "0123456789ABCDEF";
	char d[32];
	u32 n = 0;

	do {
		d[n++] = digits[v % base];
		v /= base;
	} while ((v || n < width) && n < sizeof(d));
	while (n)
		ap_putc(o, d[--n]);
}

u32 ap_out_end(struct ap_out *o)
{
	if (o->size)
		o->buf[o->len] = '\0';
	return o->len;
}
