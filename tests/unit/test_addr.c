// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Addresses, prefixes and port lists: parsers against glibc's inet_pton,
 * formatters against inet_ntop (RFC 5952 both), round trips, and prefix
 * matching against a bit-by-bit reference.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include <anypin/addr.h>

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint32_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 16);
}

static int parse_s(const char *s, struct ap_addr *a, const char **why)
{
	*why = NULL;
	return ap_addr_parse(s, (u32)strlen(s), a, why);
}

static void expect_addr_bad(const char *s, const char *why_expected)
{
	struct ap_addr a;
	const char *why;

	memset(&a, 0x5a, sizeof(a));
	if (parse_s(s, &a, &why) == 0)
		fail_msg("\"%s\" accepted", s);
	assert_non_null(why);
	if (strcmp(why, why_expected))
		fail_msg("\"%s\": why \"%s\", expected \"%s\"", s, why, why_expected);
	/* refused input leaves the result alone */
	assert_int_equal(a.b[0], 0x5a);
	assert_int_equal(a.family, 0x5a);
}

static void expect_addr_good(const char *s, const char *canon)
{
	struct ap_addr a;
	const char *why;
	char buf[AP_ADDR_STRLEN];
	unsigned char ref[16];
	int fam;

	if (parse_s(s, &a, &why))
		fail_msg("\"%s\" refused: %s", s, why);
	fam = strchr(s, ':') ? AF_INET6 : AF_INET;
	assert_int_equal(inet_pton(fam, s, ref), 1);
	assert_int_equal(a.family, fam == AF_INET ? AP_AF_INET : AP_AF_INET6);
	assert_memory_equal(a.b, ref, fam == AF_INET ? 4 : 16);
	if (fam == AF_INET)
		assert_memory_equal(a.b + 4, "\0\0\0\0\0\0\0\0\0\0\0\0", 12);
	ap_addr_format(&a, buf, sizeof(buf));
	assert_string_equal(buf, canon);
}

static void test_addr_parse_v4(void **state)
{
	(void)state;
	expect_addr_good("192.0.2.1", "192.0.2.1");
	expect_addr_good("0.0.0.0", "0.0.0.0");
	expect_addr_good("255.255.255.255", "255.255.255.255");
	expect_addr_good("10.0.0.10", "10.0.0.10");
	expect_addr_good("1.20.255.0", "1.20.255.0");

	expect_addr_bad("", "empty address");
	expect_addr_bad("1.2.3", "bad IPv4 address");
	expect_addr_bad("1.2.3.4.5", "bad IPv4 address");
	expect_addr_bad("1.2.3.", "bad IPv4 address");
	expect_addr_bad(".1.2.3", "bad IPv4 address");
	expect_addr_bad("1..2.3", "bad IPv4 address");
	expect_addr_bad("256.1.1.1", "bad IPv4 address");
	expect_addr_bad("1.1.1.1000", "bad IPv4 address");
	expect_addr_bad("01.1.1.1", "bad IPv4 address");
	expect_addr_bad("1.1.1.00", "bad IPv4 address");
	expect_addr_bad(" 1.1.1.1", "bad IPv4 address");
	expect_addr_bad("1.1.1.1 ", "bad IPv4 address");
	expect_addr_bad("1.1.1.-1", "bad IPv4 address");
	expect_addr_bad("+1.1.1.1", "bad IPv4 address");
	expect_addr_bad("0x1.1.1.1", "bad IPv4 address");
	expect_addr_bad("1", "bad IPv4 address");
	expect_addr_bad("1.2.3.4/24", "bad IPv4 address");
	expect_addr_bad("99999999999.1.1.1", "bad IPv4 address");
}

static void test_addr_parse_v6(void **state)
{
	(void)state;
	expect_addr_good("::", "::");
	expect_addr_good("::1", "::1");
	expect_addr_good("1::", "1::");
	expect_addr_good("2001:DB8::1", "2001:db8::1");
	expect_addr_good("2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1");
	expect_addr_good("1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8");
	expect_addr_good("1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0");
	expect_addr_good("::2:3:4:5:6:7:8", "0:2:3:4:5:6:7:8");
	expect_addr_good("1:0:0:2::3", "1:0:0:2::3");
	expect_addr_good("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1");
	expect_addr_good("::ffff:192.0.2.1", "::ffff:192.0.2.1");
	expect_addr_good("::FFFF:c000:0201", "::ffff:192.0.2.1");
	expect_addr_good("1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:102:304");
	expect_addr_good("::1.2.3.4", "::102:304");
	expect_addr_good("fe80::a:B:c:D", "fe80::a:b:c:d");

	expect_addr_bad(":", "bad IPv6 address");
	expect_addr_bad(":::", "bad IPv6 address");
	expect_addr_bad(":1::", "bad IPv6 address");
	expect_addr_bad("1:", "bad IPv6 address");
	expect_addr_bad("1::2::3", "bad IPv6 address");
	expect_addr_bad("1:::2", "bad IPv6 address");
	expect_addr_bad("::1:", "bad IPv6 address");
	expect_addr_bad("1:2:3:4:5:6:7", "bad IPv6 address");
	expect_addr_bad("1:2:3:4:5:6:7:8:9", "bad IPv6 address");
	expect_addr_bad("1:2:3:4::5:6:7:8", "bad IPv6 address");
	expect_addr_bad("::1:2:3:4:5:6:7:8", "bad IPv6 address");
	expect_addr_bad("12345::", "bad IPv6 address");
	expect_addr_bad("g::", "bad IPv6 address");
	expect_addr_bad("1:2:3:4:5:6:7:1.2.3.4", "bad IPv6 address");
	expect_addr_bad("::1.2.3.4:5", "bad IPv6 address");
	expect_addr_bad("::1.2.3", "bad IPv6 address");
	expect_addr_bad("::1a.2.3.4", "bad IPv6 address");
	expect_addr_bad("::01.2.3.4", "bad IPv6 address");
	expect_addr_bad(":: 1", "bad IPv6 address");
	expect_addr_bad("[::1]", "bad IPv6 address");
	expect_addr_bad("fe80::1%eth0", "IPv6 zone index not allowed");
	expect_addr_bad("1.2.3.4%1", "bad IPv4 address");
}

/* Our parser accepts a string exactly when glibc's inet_pton does, with the same bytes. */
static void check_against_pton(const char *s, size_t n)
{
	char z[64];
	unsigned char r4[4], r6[16];
	struct ap_addr a;
	const char *why = NULL;
	int ok4, ok6, ours;

	memcpy(z, s, n);
	z[n] = '\0';
	ok4 = inet_pton(AF_INET, z, r4) == 1;
	ok6 = inet_pton(AF_INET6, z, r6) == 1;
	/* no NUL after the text: the parser must stay within n */
	ours = ap_addr_parse(s, (u32)n, &a, &why) == 0;
	if (ours != (ok4 || ok6))
		fail_msg("\"%s\": ours %d, glibc %d/%d", z, ours, ok4, ok6);
	if (!ours) {
		assert_non_null(why);
		return;
	}
	if (ok4) {
		assert_int_equal(a.family, AP_AF_INET);
		assert_memory_equal(a.b, r4, 4);
	} else {
		assert_int_equal(a.family, AP_AF_INET6);
		assert_memory_equal(a.b, r6, 16);
	}
}

static void test_addr_parse_vs_glibc(void **state)
{
	static const char alpha[] = "0123456789abcdefABCDEF:.::::..0000ffg ";
	char *s;
	size_t n, i;
	int round, accepted = 0;
	unsigned char bin[16];
	char txt[INET6_ADDRSTRLEN];

	(void)state;
	for (round = 0; round < 200000; round++) {
		n = rnd() % 24;
		s = malloc(n ? n : 1);
		for (i = 0; i < n; i++)
			s[i] = alpha[rnd() % (sizeof(alpha) - 1)];
		check_against_pton(s, n);
		free(s);
	}
	/* valid texts, then mutated by one character */
	for (round = 0; round < 50000; round++) {
		for (i = 0; i < 16; i++)
			bin[i] = rnd() % 3 ? 0 : (unsigned char)rnd();
		if (round & 1)
			inet_ntop(AF_INET6, bin, txt, sizeof(txt));
		else
			inet_ntop(AF_INET, bin, txt, sizeof(txt));
		n = strlen(txt);
		s = malloc(n);
		memcpy(s, txt, n);
		check_against_pton(s, n);
		accepted++;
		s[rnd() % n] = alpha[rnd() % (sizeof(alpha) - 1)];
		check_against_pton(s, n);
		free(s);
	}
	assert_true(accepted > 0);
}

/* glibc's inet_ntop also follows RFC 5952, except in ::/96 (see below). */
static void test_addr_format_vs_glibc(void **state)
{
	struct ap_addr a;
	char ours[AP_ADDR_STRLEN], ref[INET6_ADDRSTRLEN];
	int round, i, tested = 0;
	bool v4compat;
	u32 len;

	(void)state;
	for (round = 0; round < 100000; round++) {
		memset(&a, 0, sizeof(a));
		a.family = AP_AF_INET6;
		for (i = 0; i < 8; i++) {
			if (rnd() % 2)
				continue;
			a.b[2 * i] = rnd() % 4 ? 0 : (u8)rnd();
			a.b[2 * i + 1] = (u8)rnd();
		}
		if (round % 16 == 0) {
			memset(a.b, 0, 10);
			a.b[10] = a.b[11] = 0xff;
		}
		for (i = 0; i < 12 && !a.b[i]; i++)
			;
		v4compat = i == 12 && (a.b[12] | a.b[13] | a.b[14] || a.b[15] > 1);
		if (v4compat)
			continue;
		len = ap_addr_format(&a, ours, sizeof(ours));
		assert_non_null(inet_ntop(AF_INET6, a.b, ref, sizeof(ref)));
		assert_string_equal(ours, ref);
		assert_int_equal(len, strlen(ref));
		tested++;
	}
	assert_true(tested > 50000);
	for (round = 0; round < 10000; round++) {
		memset(&a, 0, sizeof(a));
		a.family = AP_AF_INET;
		a.v4 = rnd();
		ap_addr_format(&a, ours, sizeof(ours));
		inet_ntop(AF_INET, a.b, ref, sizeof(ref));
		assert_string_equal(ours, ref);
	}
}

static void expect_format6(const char *in, const char *out)
{
	struct ap_addr a;
	char buf[AP_ADDR_STRLEN];

	memset(&a, 0, sizeof(a));
	a.family = AP_AF_INET6;
	assert_int_equal(inet_pton(AF_INET6, in, a.b), 1);
	ap_addr_format(&a, buf, sizeof(buf));
	assert_string_equal(buf, out);
}

static void test_addr_format_rfc5952(void **state)
{
	struct ap_addr a;
	struct ap_prefix p;
	char buf[AP_ADDR_STRLEN];

	(void)state;
	/* RFC 5952 section 4 examples */
	expect_format6("2001:db8:0:0:0:0:2:1", "2001:db8::2:1");
	expect_format6("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1");
	expect_format6("2001:0:0:1:0:0:0:1", "2001:0:0:1::1");
	expect_format6("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1");
	expect_format6("2001:DB8::AB:CD", "2001:db8::ab:cd");
	expect_format6("0:0:0:0:0:0:0:0", "::");
	expect_format6("::1", "::1");
	expect_format6("1:0:0:0:0:0:0:0", "1::");
	expect_format6("::ffff:0:0", "::ffff:0.0.0.0");
	expect_format6("::ffff:ffff:ffff", "::ffff:255.255.255.255");
	/*
	 * IPv4-compatible (deprecated, ::/96): glibc writes "::1.2.3.4"; RFC
	 * 5952 section 5 asks for mixed notation only where the format is
	 * known, and the only one anypin knows is IPv4-mapped.
	 */
	expect_format6("::1.2.3.4", "::102:304");
	expect_format6("::2", "::2");
	expect_format6("0:0:0:0:0:1:0:0", "::1:0:0");
	expect_format6("0:0:0:0:1:ffff:0:0", "::1:ffff:0:0");

	memset(&a, 0, sizeof(a));
	assert_int_equal(ap_addr_format(&a, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
	memset(&p, 0, sizeof(p));
	p.len = 24;
	assert_int_equal(ap_prefix_format(&p, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
}

static void check_truncation(const char *full, u32 (*fmt)(const void *, char *, u32),
			     const void *obj)
{
	char buf[256];
	u32 size, len, n = (u32)strlen(full);

	for (size = 0; size <= n + 2; size++) {
		memset(buf, '#', sizeof(buf));
		len = fmt(obj, buf, size);
		if (size == 0) {
			assert_int_equal(len, 0);
			assert_int_equal(buf[0], '#');
			continue;
		}
		assert_int_equal(len, size - 1 < n ? size - 1 : n);
		assert_int_equal(strlen(buf), len);
		assert_memory_equal(buf, full, len);
		assert_int_equal(buf[size], '#');
	}
}

static u32 fmt_addr(const void *o, char *b, u32 s)
{
	return ap_addr_format(o, b, s);
}

static u32 fmt_prefix(const void *o, char *b, u32 s)
{
	return ap_prefix_format(o, b, s);
}

static u32 fmt_ports(const void *o, char *b, u32 s)
{
	return ap_ports_format(o, b, s);
}

static void test_format_truncation(void **state)
{
	struct ap_addr a;
	struct ap_prefix p;
	struct ap_ports pl;
	const char *why;
	static const char *const addrs[] = {
		"1111:2222:3333:4444:5555:6666:7777:8888", "::ffff:255.255.255.255",
		"255.255.255.255", "2001:db8::1", "::",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++) {
		assert_int_equal(parse_s(addrs[i], &a, &why), 0);
		check_truncation(addrs[i], fmt_addr, &a);
		assert_true(strlen(addrs[i]) < AP_ADDR_STRLEN);
	}
	assert_int_equal(ap_prefix_parse("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fff0/124", 43, &p,
					 &why), 0);
	check_truncation("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fff0/124", fmt_prefix, &p);
	assert_int_equal(ap_ports_parse("1,20-30,40000-65535", 19, &pl, &why), 0);
	check_truncation("1,20-30,40000-65535", fmt_ports, &pl);
}

static void random_addr(struct ap_addr *a, u8 family)
{
	int i;

	memset(a, 0, sizeof(*a));
	a->family = family;
	for (i = 0; i < (family == AP_AF_INET ? 4 : 16); i++)
		a->b[i] = rnd() % 4 ? (u8)rnd() : 0;
	if (family == AP_AF_INET6 && rnd() % 8 == 0) {
		memset(a->b, 0, 10);
		a->b[10] = a->b[11] = 0xff;
	}
}

/* Independent of the code under test: bit by bit. */
static bool ref_contains(const struct ap_prefix *p, const struct ap_addr *a)
{
	unsigned int i;

	if (p->addr.family != a->family)
		return false;
	for (i = 0; i < p->len; i++)
		if ((p->addr.b[i / 8] >> (7 - i % 8) & 1) != (a->b[i / 8] >> (7 - i % 8) & 1))
			return false;
	return true;
}

static void make_prefix(struct ap_prefix *p, const struct ap_addr *a, unsigned int len)
{
	unsigned int i;

	memset(p, 0, sizeof(*p));
	p->addr.family = a->family;
	p->len = (u8)len;
	for (i = 0; i < len; i++)
		p->addr.b[i / 8] |= a->b[i / 8] & (0x80 >> (i % 8));
}

static void test_roundtrip(void **state)
{
	struct ap_addr a, b;
	struct ap_prefix p, q;
	char buf[AP_PREFIX_STRLEN];
	const char *why;
	u32 len;
	int round;
	u8 fam;

	(void)state;
	for (round = 0; round < 20000; round++) {
		fam = round & 1 ? AP_AF_INET6 : AP_AF_INET;
		random_addr(&a, fam);
		len = ap_addr_format(&a, buf, sizeof(buf));
		assert_true(len < AP_ADDR_STRLEN);
		assert_int_equal(ap_addr_parse(buf, len, &b, &why), 0);
		assert_memory_equal(&a.b, &b.b, 16);
		assert_int_equal(a.family, b.family);

		make_prefix(&p, &a, rnd() % (fam == AP_AF_INET ? 33 : 129));
		len = ap_prefix_format(&p, buf, sizeof(buf));
		assert_true(len < AP_PREFIX_STRLEN);
		assert_int_equal(ap_prefix_parse(buf, len, &q, &why), 0);
		assert_memory_equal(&p.addr.b, &q.addr.b, 16);
		assert_int_equal(p.addr.family, q.addr.family);
		assert_int_equal(p.len, q.len);
		assert_true(ref_contains(&p, &a));
		assert_true(ap_prefix_contains(&p, &a));
	}
}

static void expect_prefix(const char *s, const char *canon, const char *why_expected)
{
	struct ap_prefix p;
	const char *why = NULL;
	char buf[AP_PREFIX_STRLEN];
	int r = ap_prefix_parse(s, (u32)strlen(s), &p, &why);

	if (why_expected) {
		if (r == 0)
			fail_msg("\"%s\" accepted", s);
		assert_string_equal(why, why_expected);
		return;
	}
	if (r)
		fail_msg("\"%s\" refused: %s", s, why);
	ap_prefix_format(&p, buf, sizeof(buf));
	assert_string_equal(buf, canon);
}

static void test_prefix_parse(void **state)
{
	(void)state;
	expect_prefix("192.0.2.0/24", "192.0.2.0/24", NULL);
	expect_prefix("0.0.0.0/0", "0.0.0.0/0", NULL);
	expect_prefix("192.0.2.7", "192.0.2.7/32", NULL);
	expect_prefix("10.0.0.0/8", "10.0.0.0/8", NULL);
	expect_prefix("192.0.2.128/25", "192.0.2.128/25", NULL);
	expect_prefix("2001:DB8:A::/48", "2001:db8:a::/48", NULL);
	expect_prefix("::/0", "::/0", NULL);
	expect_prefix("2001:db8::1", "2001:db8::1/128", NULL);
	expect_prefix("2001:db8::8000/113", "2001:db8::8000/113", NULL);

	expect_prefix("192.0.2.1/24", NULL, "host bits set");
	expect_prefix("192.0.2.128/24", NULL, "host bits set");
	expect_prefix("192.0.2.0/33", NULL, "bad prefix length (0 to 32)");
	expect_prefix("192.0.2.0/024", NULL, "bad prefix length (0 to 32)");
	expect_prefix("192.0.2.0/", NULL, "bad prefix length (0 to 32)");
	expect_prefix("192.0.2.0/-1", NULL, "bad prefix length (0 to 32)");
	expect_prefix("192.0.2.0/24/", NULL, "bad prefix length (0 to 32)");
	expect_prefix("192.0.2.0/ 24", NULL, "bad prefix length (0 to 32)");
	expect_prefix("2001:db8::/129", NULL, "bad prefix length (0 to 128)");
	expect_prefix("2001:db8::/1a", NULL, "bad prefix length (0 to 128)");
	expect_prefix("2001:db8::1/64", NULL, "host bits set");
	expect_prefix("2001:db9::/31", NULL, "host bits set");
	expect_prefix("2001:db8::/29", "2001:db8::/29", NULL);
	expect_prefix("/24", NULL, "empty address");
	expect_prefix("", NULL, "empty address");
	expect_prefix("192.0.2/24", NULL, "bad IPv4 address");
	expect_prefix("2001:db8:::/48", NULL, "bad IPv6 address");
}

static void expect_ports(const char *s, const char *canon, const char *why_expected)
{
	struct ap_ports pl;
	const char *why = NULL;
	char buf[AP_PORTS_STRLEN];
	int r;

	memset(&pl, 0x77, sizeof(pl));
	r = ap_ports_parse(s, (u32)strlen(s), &pl, &why);
	if (why_expected) {
		if (r == 0)
			fail_msg("\"%s\" accepted", s);
		assert_string_equal(why, why_expected);
		assert_int_equal(pl.n, 0x77);
		return;
	}
	if (r)
		fail_msg("\"%s\" refused: %s", s, why);
	ap_ports_format(&pl, buf, sizeof(buf));
	assert_string_equal(buf, canon);
}

static void test_ports_parse(void **state)
{
	struct ap_ports pl;
	const char *why;

	(void)state;
	expect_ports("", "", NULL);
	expect_ports("53", "53", NULL);
	expect_ports("53,443,8000-8100", "53,443,8000-8100", NULL);
	expect_ports("1-65535", "1-65535", NULL);
	expect_ports("80-80", "80", NULL);
	expect_ports("1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16",
		     "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16", NULL);

	expect_ports("1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17", NULL,
		     "too many port ranges (at most 16)");
	expect_ports("0", NULL, "bad port (1 to 65535)");
	expect_ports("65536", NULL, "bad port (1 to 65535)");
	expect_ports("99999999999", NULL, "bad port (1 to 65535)");
	expect_ports("080", NULL, "bad port (1 to 65535)");
	expect_ports("53, 443", NULL, "bad port (1 to 65535)");
	expect_ports("-5", NULL, "bad port (1 to 65535)");
	expect_ports("5-", NULL, "bad port (1 to 65535)");
	expect_ports("1-2-3", NULL, "bad port (1 to 65535)");
	expect_ports("http", NULL, "bad port (1 to 65535)");
	expect_ports("0-10", NULL, "bad port (1 to 65535)");
	expect_ports("100-99", NULL, "port range reversed");
	expect_ports("53,", NULL, "empty item in port list");
	expect_ports(",53", NULL, "empty item in port list");
	expect_ports("53,,54", NULL, "empty item in port list");

	assert_int_equal(ap_ports_parse("53,443,8000-8100", 16, &pl, &why), 0);
	assert_true(ap_ports_match(&pl, 53));
	assert_true(ap_ports_match(&pl, 443));
	assert_true(ap_ports_match(&pl, 8000));
	assert_true(ap_ports_match(&pl, 8050));
	assert_true(ap_ports_match(&pl, 8100));
	assert_false(ap_ports_match(&pl, 52));
	assert_false(ap_ports_match(&pl, 54));
	assert_false(ap_ports_match(&pl, 7999));
	assert_false(ap_ports_match(&pl, 8101));
	assert_false(ap_ports_match(&pl, 0));
	assert_int_equal(ap_ports_parse("", 0, &pl, &why), 0);
	assert_int_equal(pl.n, 0);
	assert_true(ap_ports_match(&pl, 0));
	assert_true(ap_ports_match(&pl, 65535));
}

static void test_ports_random(void **state)
{
	struct ap_ports pl, q;
	char buf[AP_PORTS_STRLEN];
	const char *why;
	int round, i;
	u32 len, port;
	bool in;

	(void)state;
	for (round = 0; round < 5000; round++) {
		memset(&pl, 0, sizeof(pl));
		pl.n = (u8)(rnd() % (AP_MAX_PORT_RANGES + 1));
		for (i = 0; i < pl.n; i++) {
			pl.r[i].lo = (u16)(1 + rnd() % 65535);
			pl.r[i].hi = rnd() % 2 ? pl.r[i].lo :
				     (u16)(pl.r[i].lo + rnd() % (65536 - pl.r[i].lo));
		}
		len = ap_ports_format(&pl, buf, sizeof(buf));
		assert_true(len < AP_PORTS_STRLEN);
		assert_int_equal(ap_ports_parse(buf, len, &q, &why), 0);
		assert_memory_equal(&pl, &q, sizeof(pl));
		for (i = 0; i < 20; i++) {
			port = i == 0 && pl.n ? pl.r[0].hi : rnd() % 65536;
			in = pl.n == 0;
			for (len = 0; len < pl.n; len++)
				in |= port >= pl.r[len].lo && port <= pl.r[len].hi;
			assert_int_equal(ap_ports_match(&pl, (u16)port), in);
		}
	}
}

struct wrapped {
	char before[7];
	struct ap_prefix prefix;
	int after;
};

static void test_lpm_vs_bruteforce(void **state)
{
	struct wrapped set[40];
	struct ap_addr a, seeds[8];
	int round, i, j, n, got, want, wantlen;
	u8 fam;

	(void)state;
	for (round = 0; round < 3000; round++) {
		for (i = 0; i < 8; i++)
			random_addr(&seeds[i], i % 2 ? AP_AF_INET6 : AP_AF_INET);
		n = (int)(rnd() % 41);
		memset(set, 0xee, sizeof(set));
		for (i = 0; i < n; i++) {
			const struct ap_addr *s = &seeds[rnd() % 8];

			make_prefix(&set[i].prefix, s,
				    rnd() % (s->family == AP_AF_INET ? 33 : 129));
		}
		for (j = 0; j < 200; j++) {
			a = seeds[rnd() % 8];
			fam = a.family;
			/* flip a few bits so that only some prefixes still contain it */
			if (rnd() % 2)
				a.b[rnd() % (fam == AP_AF_INET ? 4 : 16)] ^= (u8)(1 << rnd() % 8);
			if (j == 0)
				random_addr(&a, fam);
			want = -1;
			wantlen = -1;
			for (i = 0; i < n; i++) {
				assert_int_equal(ap_prefix_contains(&set[i].prefix, &a),
						 ref_contains(&set[i].prefix, &a));
				if (ref_contains(&set[i].prefix, &a) &&
				    set[i].prefix.len > wantlen) {
					want = i;
					wantlen = set[i].prefix.len;
				}
			}
			got = ap_prefix_lpm(&set[0].prefix, (u32)n, sizeof(set[0]), &a);
			assert_int_equal(got, want);
		}
	}
	memset(&a, 0, sizeof(a));
	assert_int_equal(ap_prefix_lpm(&set[0].prefix, 0, sizeof(set[0]), &a), -1);
}

static void test_contains_edges(void **state)
{
	struct ap_prefix p;
	struct ap_addr a;
	const char *why;

	(void)state;
	assert_int_equal(ap_prefix_parse("0.0.0.0/0", 9, &p, &why), 0);
	assert_int_equal(parse_s("255.1.2.3", &a, &why), 0);
	assert_true(ap_prefix_contains(&p, &a));
	assert_int_equal(parse_s("::ffff:255.1.2.3", &a, &why), 0);
	assert_false(ap_prefix_contains(&p, &a));	/* families never mix */
	assert_int_equal(ap_prefix_parse("::/0", 4, &p, &why), 0);
	assert_true(ap_prefix_contains(&p, &a));
	assert_int_equal(ap_prefix_parse("192.0.2.0/25", 12, &p, &why), 0);
	assert_int_equal(parse_s("192.0.2.127", &a, &why), 0);
	assert_true(ap_prefix_contains(&p, &a));
	assert_int_equal(parse_s("192.0.2.128", &a, &why), 0);
	assert_false(ap_prefix_contains(&p, &a));
	memset(&a, 0, sizeof(a));
	assert_false(ap_prefix_contains(&p, &a));	/* family 0 */
}

static void test_unicast(void **state)
{
	static const struct {
		const char *addr;
		bool unicast;
	} t[] = {
		{ "0.0.0.0", false }, { "0.1.2.3", false }, { "0.255.255.255", false },
		{ "1.0.0.0", true }, { "10.1.2.3", true }, { "126.255.255.255", true },
		{ "127.0.0.1", false }, { "127.255.255.255", false }, { "128.0.0.0", true },
		{ "169.253.255.255", true }, { "169.254.0.1", false },
		{ "169.254.255.255", false }, { "169.255.0.0", true },
		{ "172.16.0.1", true }, { "192.168.1.1", true }, { "198.51.100.1", true },
		{ "223.255.255.255", true }, { "224.0.0.1", false }, { "239.255.255.255", false },
		{ "240.0.0.1", false }, { "255.255.255.255", false },
		{ "::", false }, { "::1", false }, { "::2", false }, { "::1.2.3.4", false },
		{ "::ffff:0:0", false }, { "::ffff:192.0.2.1", false },
		{ "::fffe:192.0.2.1", true }, { "::1:0:0:0", true }, { "0:0:0:0:1::", true },
		{ "100::", true }, { "64:ff9b::192.0.2.1", true },
		{ "2001:db8::1", true }, { "fc00::1", true }, { "fd12:3456::1", true },
		{ "fe7f:ffff::", true }, { "fe80::1", false }, { "febf:ffff::1", false },
		{ "fec0::1", true }, { "feff::1", true }, { "ff00::", false }, { "ff02::1", false },
		{ "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false },
	};
	struct ap_addr a;
	const char *why;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		assert_int_equal(parse_s(t[i].addr, &a, &why), 0);
		if (ap_addr_is_unicast(&a) != t[i].unicast)
			fail_msg("%s: expected %sunicast", t[i].addr, t[i].unicast ? "" : "not ");
	}
	memset(&a, 0, sizeof(a));
	assert_false(ap_addr_is_unicast(&a));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_addr_parse_v4),
		cmocka_unit_test(test_addr_parse_v6),
		cmocka_unit_test(test_addr_parse_vs_glibc),
		cmocka_unit_test(test_addr_format_vs_glibc),
		cmocka_unit_test(test_addr_format_rfc5952),
		cmocka_unit_test(test_format_truncation),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_prefix_parse),
		cmocka_unit_test(test_ports_parse),
		cmocka_unit_test(test_ports_random),
		cmocka_unit_test(test_lpm_vs_bruteforce),
		cmocka_unit_test(test_contains_edges),
		cmocka_unit_test(test_unicast),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
