// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Addresses, prefixes and port lists: strict text parsers (what the
 * operator wrote must mean exactly one thing), RFC 5952 formatters, and
 * the matching the datapaths do per packet.
 */
#include <anypin/addr.h>
#include <anypin/bytes.h>
#include <anypin/text.h>

static bool ap_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int ap_hex_val(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decimal without sign or leading zeros, at most @max (< 2^28); else -1. */
static s32 ap_dec(const char *s, u32 n, u32 max)
{
	u32 i, v = 0;

	if (n == 0 || (n > 1 && s[0] == '0'))
		return -1;
	for (i = 0; i < n; i++) {
		if (!ap_is_digit(s[i]))
			return -1;
		v = v * 10 + (u32)(s[i] - '0');
		if (v > max)
			return -1;
	}
	return (s32)v;
}

static int ap_parse_v4(const char *s, u32 n, u8 *out)
{
	u32 i = 0, part, start;
	s32 v;

	for (part = 0; part < 4; part++) {
		start = i;
		while (i < n && s[i] != '.')
			i++;
		v = ap_dec(s + start, i - start, 255);
		if (v < 0)
			return -1;
		out[part] = (u8)v;
		if (part < 3) {
			if (i == n)
				return -1;
			i++;
		}
	}
	return i == n ? 0 : -1;
}

/* RFC 4291 section 2.2 text; @out is 16 zeroed bytes. */
static int ap_parse_v6(const char *s, u32 n, u8 *out)
{
	u32 i = 0, pos = 0, start, digits, val;
	s32 gap = -1;
	int h;

	if (n >= 1 && s[0] == ':') {
		if (n < 2 || s[1] != ':')
			return -1;
		gap = 0;
		i = 2;
	}
	while (i < n) {
		start = i;
		val = 0;
		digits = 0;
		while (i < n && (h = ap_hex_val(s[i])) >= 0) {
			if (digits < 4)
				val = val << 4 | (u32)h;
			digits++;
			i++;
		}
		if (i < n && s[i] == '.') {
			/* A dotted IPv4 tail fills the last 32 bits. */
			if (pos > 12 || ap_parse_v4(s + start, n - start, out + pos))
				return -1;
			pos += 4;
			break;
		}
		if (digits == 0 || digits > 4 || pos == 16)
			return -1;
		out[pos++] = (u8)(val >> 8);
		out[pos++] = (u8)val;
		if (i == n)
			break;
		if (s[i] != ':')
			return -1;
		i++;
		if (i < n && s[i] == ':') {
			if (gap >= 0)
				return -1;
			gap = (s32)pos;
			i++;
		} else if (i == n) {
			return -1;
		}
	}
	if (gap >= 0) {
		/* "::" stands for at least one group of zeros. */
		if (pos == 16)
			return -1;
		memmove(out + 16 - (pos - (u32)gap), out + gap, pos - (u32)gap);
		memset(out + gap, 0, 16 - pos);
	} else if (pos != 16) {
		return -1;
	}
	return 0;
}

int ap_addr_parse(const char *s, u32 n, struct ap_addr *a, const char **why)
{
	struct ap_addr t;
	u32 i;
	bool colon = false;

	memset(&t, 0, sizeof(t));
	if (n == 0)
		return ap_err(why, "empty address");
	for (i = 0; i < n; i++)
		if (s[i] == ':')
			colon = true;
	if (!colon) {
		if (ap_parse_v4(s, n, t.b))
			return ap_err(why, "bad IPv4 address");
		t.family = AP_AF_INET;
	} else {
		for (i = 0; i < n; i++)
			if (s[i] == '%')
				return ap_err(why, "IPv6 zone index not allowed");
		if (ap_parse_v6(s, n, t.b))
			return ap_err(why, "bad IPv6 address");
		t.family = AP_AF_INET6;
	}
	*a = t;
	return 0;
}

static u8 ap_mask_byte(u32 len, u32 k)
{
	if (len >= 8 * (k + 1))
		return 0xff;
	if (len <= 8 * k)
		return 0;
	return (u8)(0xff << (8 - (len - 8 * k)));
}

int ap_prefix_parse(const char *s, u32 n, struct ap_prefix *p, const char **why)
{
	struct ap_prefix t;
	u32 i, max;
	s32 len;

	memset(&t, 0, sizeof(t));
	for (i = 0; i < n && s[i] != '/'; i++)
		;
	if (ap_addr_parse(s, i, &t.addr, why))
		return -1;
	max = t.addr.family == AP_AF_INET ? 32 : 128;
	if (i == n) {
		len = (s32)max;
	} else {
		len = ap_dec(s + i + 1, n - i - 1, max);
		if (len < 0)
			return ap_err(why, max == 32 ? "bad prefix length (0 to 32)" :
				      "bad prefix length (0 to 128)");
	}
	t.len = (u8)len;
	for (i = 0; i < 16; i++)
		if (t.addr.b[i] & (u8)~ap_mask_byte(t.len, i))
			return ap_err(why, "host bits set");
	*p = t;
	return 0;
}

int ap_ports_parse(const char *s, u32 n, struct ap_ports *pl, const char **why)
{
	struct ap_ports t;
	u32 i = 0, start, dash;
	s32 lo, hi;

	memset(&t, 0, sizeof(t));
	while (n) {
		start = i;
		while (i < n && s[i] != ',')
			i++;
		if (i == start)
			return ap_err(why, "empty item in port list");
		if (t.n == AP_MAX_PORT_RANGES)
			return ap_err(why, "too many port ranges (at most 16)");
		for (dash = start; dash < i && s[dash] != '-'; dash++)
			;
		lo = ap_dec(s + start, dash - start, 65535);
		hi = dash == i ? lo : ap_dec(s + dash + 1, i - dash - 1, 65535);
		if (lo < 1 || hi < 1)
			return ap_err(why, "bad port (1 to 65535)");
		if (lo > hi)
			return ap_err(why, "port range reversed");
		t.r[t.n].lo = (u16)lo;
		t.r[t.n].hi = (u16)hi;
		t.n++;
		if (i == n)
			break;
		i++;
	}
	*pl = t;
	return 0;
}

/* RFC 5952 hex: lower case, no leading zeros. */
static void ap_putx(struct ap_out *o, u32 v)
{
	static const char hex[] = "0123456789abcdef";
	int shift = 12;

	while (shift > 0 && !(v >> shift & 0xf))
		shift -= 4;
	for (; shift >= 0; shift -= 4)
		ap_putc(o, hex[v >> shift & 0xf]);
}

static void ap_put_v4(struct ap_out *o, const u8 *b)
{
	int i;

	for (i = 0; i < 4; i++) {
		if (i)
			ap_putc(o, '.');
		ap_putu(o, b[i], 10, 0);
	}
}

static void ap_put_v6(struct ap_out *o, const u8 *b)
{
	u32 w[8];
	int i, best = -1, bestlen = 0, run;

	for (i = 0; i < 8; i++)
		w[i] = ap_get16(b + 2 * i);
	if (!w[0] && !w[1] && !w[2] && !w[3] && !w[4] && w[5] == 0xffff) {
		ap_puts(o, "::ffff:");
		ap_put_v4(o, b + 12);
		return;
	}
	for (i = 0; i < 8; i += run ? run : 1) {
		for (run = 0; i + run < 8 && !w[i + run]; run++)
			;
		if (run >= 2 && run > bestlen) {
			best = i;
			bestlen = run;
		}
	}
	for (i = 0; i < 8; i++) {
		if (i == best) {
			ap_puts(o, "::");
			i += bestlen - 1;
			continue;
		}
		if (i && i != best + bestlen)
			ap_putc(o, ':');
		ap_putx(o, w[i]);
	}
}

u32 ap_addr_format(const struct ap_addr *a, char *buf, u32 size)
{
	struct ap_out o = { buf, size, 0 };

	if (a->family == AP_AF_INET)
		ap_put_v4(&o, a->b);
	else if (a->family == AP_AF_INET6)
		ap_put_v6(&o, a->b);
	return ap_out_end(&o);
}

u32 ap_prefix_format(const struct ap_prefix *p, char *buf, u32 size)
{
	struct ap_out o = { buf, size, 0 };

	if (p->addr.family == AP_AF_INET)
		ap_put_v4(&o, p->addr.b);
	else if (p->addr.family == AP_AF_INET6)
		ap_put_v6(&o, p->addr.b);
	else
		return ap_out_end(&o);
	ap_putc(&o, '/');
	ap_putu(&o, p->len, 10, 0);
	return ap_out_end(&o);
}

u32 ap_ports_format(const struct ap_ports *pl, char *buf, u32 size)
{
	struct ap_out o = { buf, size, 0 };
	u32 i;

	for (i = 0; i < pl->n && i < AP_MAX_PORT_RANGES; i++) {
		if (i)
			ap_putc(&o, ',');
		ap_putu(&o, pl->r[i].lo, 10, 0);
		if (pl->r[i].hi != pl->r[i].lo) {
			ap_putc(&o, '-');
			ap_putu(&o, pl->r[i].hi, 10, 0);
		}
	}
	return ap_out_end(&o);
}

bool ap_prefix_contains(const struct ap_prefix *p, const struct ap_addr *a)
{
	u32 k;

	if (!a->family || p->addr.family != a->family)
		return false;
	for (k = 0; k < 16 && 8 * k < p->len; k++)
		if ((a->b[k] ^ p->addr.b[k]) & ap_mask_byte(p->len, k))
			return false;
	return true;
}

bool ap_ports_match(const struct ap_ports *pl, u16 port)
{
	u32 i;

	if (!pl->n)
		return true;
	for (i = 0; i < pl->n && i < AP_MAX_PORT_RANGES; i++)
		if (port >= pl->r[i].lo && port <= pl->r[i].hi)
			return true;
	return false;
}

int ap_prefix_lpm(const void *set, u32 n, u32 stride, const struct ap_addr *a)
{
	const u8 *pos = set;
	int best = -1, bestlen = -1;
	u32 i;

	for (i = 0; i < n; i++, pos += stride) {
		const struct ap_prefix *p = (const void *)pos;

		if ((int)p->len > bestlen && ap_prefix_contains(p, a)) {
			best = (int)i;
			bestlen = p->len;
		}
	}
	return best;
}

bool ap_addr_is_unicast(const struct ap_addr *a)
{
	const u8 *b = a->b;
	int i;

	if (a->family == AP_AF_INET)
		return b[0] != 0 && b[0] != 127 && !(b[0] == 169 && b[1] == 254) &&
		       b[0] < 224;
	if (a->family != AP_AF_INET6)
		return false;
	/* ::/96 (::, ::1, IPv4-compatible) and ::ffff:0:0/96 (IPv4-mapped) */
	for (i = 0; i < 10 && !b[i]; i++)
		;
	if (i == 10 && ((!b[10] && !b[11]) || (b[10] == 0xff && b[11] == 0xff)))
		return false;
	if (b[0] == 0xff)
		return false;
	if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)
		return false;
	return true;
}
