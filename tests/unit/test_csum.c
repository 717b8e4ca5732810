// SPDX-License-Identifier: GPL-2.0 OR MIT
/* Checksum arithmetic of the core, against pktgen's own naive RFC 1071. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <anypin/csum.h>
#include <anypin/wire.h>
#include "pktgen.h"

static void test_add_fold_vs_naive(void **state)
{
	struct pg_rng r;
	u8 buf[2048];
	unsigned int i;

	(void)state;
	pg_rng_seed(&r, 1);
	for (i = 0; i < 5000; i++) {
		u32 len = pg_rand_below(&r, sizeof(buf) - 1) + 1, cut, j;
		u32 s;

		for (j = 0; j < len; j++)
			buf[j] = (u8)pg_rand(&r);
		/* unaligned start, odd lengths */
		j = pg_rand_below(&r, 2);
		if (j >= len)
			j = 0;
		s = ap_csum_add(0, buf + j, len - j);
		assert_int_equal(ap_csum_fold(s), pg_fold(pg_sum(0, buf + j, len - j)));
		/* chained at an even boundary: same result */
		cut = pg_rand_below(&r, len + 1) & ~1u;
		s = ap_csum_add(ap_csum_add(0, buf, cut), buf + cut, len - cut);
		assert_int_equal(ap_csum_fold(s), pg_fold(pg_sum(0, buf, len)));
	}
}

/* The bulk path (runs of 8 and 32 bytes) at every alignment and tail. */
static void test_add_lengths_offsets(void **state)
{
	static u8 buf[65536 + 8];
	struct pg_rng r;
	u32 len, off, i;

	(void)state;
	pg_rng_seed(&r, 7);
	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (u8)pg_rand(&r);
	for (len = 0; len <= 300; len++)
		for (off = 0; off < 8; off++)
			assert_int_equal(ap_csum_fold(ap_csum_add(0x1234, buf + off, len)),
					 pg_fold(pg_sum(0x1234, buf + off, len)));
	for (off = 0; off < 8; off++)
		assert_int_equal(ap_csum_fold(ap_csum_add(0, buf + off, 65535)),
				 pg_fold(pg_sum(0, buf + off, 65535)));
}

static void test_add_extremes(void **state)
{
	static u8 ff[70000];
	u32 s;

	(void)state;
	memset(ff, 0xff, sizeof(ff));
	s = ap_csum_add(0xfffffff0u, ff, sizeof(ff));
	assert_int_equal(ap_csum_fold(s), pg_fold(pg_sum(pg_fold(0xfffffff0u), ff,
							 sizeof(ff))));
	assert_int_equal(ap_csum_fold(0), 0);
	assert_int_equal(ap_csum_fold(0xffff), 0xffff);
	assert_int_equal(ap_csum_fold(0x10000), 1);
	assert_int_equal(ap_csum_fold(0x1fffe), 0xffff);
	assert_int_equal(ap_csum_fold(0xffffffffu), 0xffff);
	assert_int_equal(ap_csum_fold(0x12345678u), 0x1234 + 0x5678);
	/* odd tail is the high byte of a zero-padded word */
	assert_int_equal(ap_csum_add(0, (const u8 *)"\x12", 1), 0x1200);
	assert_int_equal(ap_csum_add(5, (const u8 *)"\x12\x34\x56", 3), 5 + 0x1234 + 0x5600);
	assert_int_equal(ap_csum_add(7, ff, 0), 7);
}

static void test_get_put16(void **state)
{
	u8 b[3] = { 0, 0, 0xaa };

	(void)state;
	ap_put16(b, 0xbeef);
	assert_int_equal(b[0], 0xbe);
	assert_int_equal(b[1], 0xef);
	assert_int_equal(b[2], 0xaa);
	assert_int_equal(ap_get16(b), 0xbeef);
	assert_int_equal(ap_get16(b + 1), 0xefaa);
}

/* RFC 1624 section 4: eqn. 3 gives 0x0000 where eqn. 2 gave 0xFFFF. */
static void test_rfc1624_example(void **state)
{
	u8 f[2];

	(void)state;
	ap_put16(f, 0xdd2f);
	ap_csum_replace16(f, 0x5555, 0x3285, AP_CSUM_FULL, false);
	assert_int_equal(ap_get16(f), 0x0000);
	/* and back */
	ap_csum_replace16(f, 0x3285, 0x5555, AP_CSUM_FULL, true);
	assert_int_equal(ap_get16(f), 0xdd2f);
	/* no change, no effect */
	ap_csum_replace16(f, 0x1234, 0x1234, AP_CSUM_FULL, false);
	assert_int_equal(ap_get16(f), 0xdd2f);
}

/*
 * A random buffer whose first word is its checksum; random spans at even
 * offsets change (from unaligned copies), and the incremental update must
 * equal the recomputation exactly.
 */
static void test_replace_full_random(void **state)
{
	struct pg_rng r;
	u8 buf[512], oldb[64 + 1], newb[64 + 1];
	unsigned int i, k;

	(void)state;
	pg_rng_seed(&r, 2);
	for (i = 0; i < 5000; i++) {
		u32 len = 4 + 2 * pg_rand_below(&r, 250), off, n, j;
		u16 sum;

		for (j = 0; j < len; j++)
			buf[j] = (u8)pg_rand(&r);
		if (i % 7 == 0)
			memset(buf, 0xff, len);	/* -0 words everywhere */
		buf[0] = buf[1] = 0;
		ap_put16(buf, (u16)~pg_fold(pg_sum(0, buf, len)));
		for (k = 0; k < 3; k++) {
			n = 2 + 2 * pg_rand_below(&r, 16);
			if (n > len - 2)
				n = len - 2;
			off = 2 + 2 * pg_rand_below(&r, (len - 2 - n) / 2 + 1);
			memcpy(oldb + 1, buf + off, n);
			for (j = 0; j < n; j++)
				newb[1 + j] = (u8)pg_rand(&r);
			if (k == 2)
				memset(newb + 1, 0, n);
			memcpy(buf + off, newb + 1, n);
			ap_csum_replace(buf, oldb + 1, newb + 1, n, AP_CSUM_FULL,
					pg_rand_below(&r, 2));
			/* chained updates: the field stays incremental */
			j = ap_get16(buf);
			buf[0] = buf[1] = 0;
			sum = pg_fold(pg_sum(0, buf, len));
			/*
			 * All-zero data is the one case with two answers:
			 * eqn. 3 never gives 0xffff, so it gives 0.
			 */
			assert_int_equal(j, sum ? (u16)~sum : 0);
			ap_put16(buf, (u16)j);
		}
	}
}

/* The same, checking the field computed incrementally against the truth. */
static void test_replace_full_exact(void **state)
{
	struct pg_rng r;
	u8 buf[256], cpy[256], oldb[17], newb[17];
	unsigned int i;

	(void)state;
	pg_rng_seed(&r, 3);
	for (i = 0; i < 20000; i++) {
		u32 len = 4 + 2 * pg_rand_below(&r, 120), off, n, j;
		u16 truth;

		for (j = 0; j < len; j++)
			buf[j] = (u8)pg_rand(&r);
		buf[0] = buf[1] = 0;
		ap_put16(buf, (u16)~pg_fold(pg_sum(0, buf, len)));
		n = 2 + 2 * pg_rand_below(&r, 8);
		if (n > len - 2)
			n = len - 2;
		off = 2 + 2 * pg_rand_below(&r, (len - 2 - n) / 2 + 1);
		memcpy(oldb + 1, buf + off, n);
		for (j = 0; j < n; j++)
			newb[1 + j] = (u8)pg_rand(&r);
		memcpy(buf + off, newb + 1, n);
		ap_csum_replace(buf, oldb + 1, newb + 1, n, AP_CSUM_FULL, true);
		memcpy(cpy, buf, len);
		cpy[0] = cpy[1] = 0;
		truth = (u16)~pg_fold(pg_sum(0, cpy, len));
		assert_int_equal(ap_get16(buf), truth);
	}
}

static void test_replace_odd_len(void **state)
{
	u8 buf[8] = { 0, 0, 0x11, 0x22, 0x33, 0x44, 0x55, 0 };
	u8 from[3], to[3] = { 0xab, 0xcd, 0xef };
	u8 cpy[8];

	(void)state;
	ap_put16(buf, (u16)~pg_fold(pg_sum(0, buf, 8)));
	memcpy(from, buf + 2, 3);
	memcpy(buf + 2, to, 3);
	ap_csum_replace(buf, from, to, 3, AP_CSUM_FULL, false);
	memcpy(cpy, buf, 8);
	cpy[0] = cpy[1] = 0;
	assert_int_equal(ap_get16(buf), (u16)~pg_fold(pg_sum(0, cpy, 8)));
}

static void test_replace_pseudo_mode(void **state)
{
	u8 f[2], before[2];
	u8 a[4] = { 192, 0, 2, 1 }, b[4] = { 198, 51, 100, 7 };
	u8 zero[4] = { 0 };
	u16 want;

	(void)state;
	want = pg_fold(pg_sum(0, b, 4) + 0x1234);
	ap_put16(f, pg_fold(pg_sum(0, a, 4) + 0x1234));
	memcpy(before, f, 2);
	/* not part of the pseudo header: untouched */
	ap_csum_replace(f, a, b, 4, AP_CSUM_PSEUDO, false);
	assert_memory_equal(f, before, 2);
	ap_csum_replace16(f, 1, 2, AP_CSUM_PSEUDO, false);
	assert_memory_equal(f, before, 2);
	ap_csum_replace(f, a, b, 4, AP_CSUM_PSEUDO, true);
	assert_int_equal(ap_get16(f), want);
	/* to all zero and back: never the +0 representation */
	ap_put16(f, 0x0001);
	ap_csum_replace16(f, 0x0001, 0x0000, AP_CSUM_PSEUDO, true);
	assert_int_equal(ap_get16(f), 0xffff);
	ap_csum_replace(f, zero, a, 4, AP_CSUM_PSEUDO, true);
	assert_int_equal(ap_get16(f), pg_fold(pg_sum(0, a, 4)));
}

static void test_ipv4_hdr_csum(void **state)
{
	struct pg_rng r;
	struct pg_tcp t;
	static u8 buf[PG_BUF_MAX];
	unsigned int i;

	(void)state;
	pg_rng_seed(&r, 4);
	for (i = 0; i < 2000; i++) {
		u32 hl;

		pg_random_tcp(&r, &t, AP_AF_INET, 64);
		pg_build_tcp(buf, &t, NULL);
		hl = (buf[0] & 0xf) * 4u;
		assert_int_equal(ap_ipv4_hdr_csum(buf, hl), ap_get16(buf + 10));
		assert_int_equal(ap_ipv4_hdr_csum(buf, hl), pg_ipv4_csum(buf));
		buf[8]++;
		assert_int_not_equal(ap_ipv4_hdr_csum(buf, hl), ap_get16(buf + 10));
	}
}

static void test_l4_and_pseudo(void **state)
{
	struct pg_rng r;
	struct pg_tcp t;
	struct pg_layout l;
	static u8 buf[PG_BUF_MAX];
	unsigned int i;

	(void)state;
	pg_rng_seed(&r, 5);
	for (i = 0; i < 3000; i++) {
		u32 len, seg, a, alen;
		u16 c;

		pg_random_tcp(&r, &t, 0, 1500);
		len = pg_build_tcp(buf, &t, &l);
		seg = len - l.tcp_off;
		alen = ap_addr_len(l.family);
		a = l.family == AP_AF_INET ? 12 : 8;
		/* verifying: 0 */
		assert_int_equal(ap_l4_csum(l.family, buf + a, buf + a + alen,
					    AP_IPPROTO_TCP, buf + l.tcp_off, seg), 0);
		c = ap_get16(buf + l.tcp_off + 16);
		ap_put16(buf + l.tcp_off + 16, 0);
		assert_int_equal(ap_l4_csum(l.family, buf + a, buf + a + alen,
					    AP_IPPROTO_TCP, buf + l.tcp_off, seg), c);
		assert_int_equal(ap_pseudo_sum(l.family, buf + a, buf + a + alen,
					       AP_IPPROTO_TCP, seg),
				 pg_tcp_pseudo(buf, len));
	}
}

/*
 * 1 to 4 bytes written at even and odd offsets from the TCP header: the
 * field must be what a full recomputation gives. In AP_CSUM_PSEUDO mode
 * the field keeps the pseudo-header sum.
 */
static void test_write(void **state)
{
	struct pg_rng r;
	struct pg_tcp t;
	struct pg_layout l;
	static u8 buf[PG_BUF_MAX];
	u8 to[4], *th;
	unsigned int i, odd;

	(void)state;
	pg_rng_seed(&r, 6);
	for (i = 0; i < 3000; i++) {
		u32 len, seg, a, alen, n, at, j;
		u16 c;

		pg_random_tcp(&r, &t, 0, 64);
		len = pg_build_tcp(buf, &t, &l);
		seg = len - l.tcp_off;
		th = buf + l.tcp_off;
		alen = ap_addr_len(l.family);
		a = l.family == AP_AF_INET ? 12 : 8;
		n = 1 + pg_rand_below(&r, 4);
		for (odd = 0; odd < 2; odd++) {
			/* anywhere but in the words of the checksum field */
			do
				at = odd + 2 * pg_rand_below(&r, (seg - odd - n) / 2 + 1);
			while (at < 18 && at + n > 16);
			for (j = 0; j < n; j++)
				to[j] = (u8)pg_rand(&r);
			ap_csum_write(th + 16, th, th + at, to, n, AP_CSUM_FULL);
			assert_memory_equal(th + at, to, n);
			assert_int_equal(ap_l4_csum(l.family, buf + a, buf + a + alen,
						    AP_IPPROTO_TCP, th, seg), 0);
			c = ap_get16(th + 16);
			ap_put16(th + 16, 0);
			assert_int_equal(ap_l4_csum(l.family, buf + a, buf + a + alen,
						    AP_IPPROTO_TCP, th, seg), c);
			ap_put16(th + 16, c);
		}
		pg_build_tcp(buf, &t, NULL);
		pg_set_pseudo(buf, len);
		c = ap_get16(th + 16);
		for (j = 0; j < n; j++)
			to[j] = (u8)~th[at + j];
		ap_csum_write(th + 16, th, th + at, to, n, AP_CSUM_PSEUDO);
		assert_memory_equal(th + at, to, n);
		assert_int_equal(ap_get16(th + 16), c);
	}
}

/* The IPv6 pseudo header has a 32-bit length. */
static void test_pseudo_long(void **state)
{
	u8 s[16], d[16], ph[40];
	u32 l4len = 0x12345;

	(void)state;
	memset(s, 0xa5, 16);
	memset(d, 0x3c, 16);
	memcpy(ph, s, 16);
	memcpy(ph + 16, d, 16);
	ph[32] = 0;
	ph[33] = 0x01;
	ph[34] = 0x23;
	ph[35] = 0x45;
	ph[36] = ph[37] = ph[38] = 0;
	ph[39] = 6;
	assert_int_equal(ap_pseudo_sum(AP_AF_INET6, s, d, 6, l4len),
			 pg_fold(pg_sum(0, ph, 40)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_fold_vs_naive),
		cmocka_unit_test(test_add_lengths_offsets),
		cmocka_unit_test(test_add_extremes),
		cmocka_unit_test(test_get_put16),
		cmocka_unit_test(test_rfc1624_example),
		cmocka_unit_test(test_replace_full_random),
		cmocka_unit_test(test_replace_full_exact),
		cmocka_unit_test(test_replace_odd_len),
		cmocka_unit_test(test_replace_pseudo_mode),
		cmocka_unit_test(test_ipv4_hdr_csum),
		cmocka_unit_test(test_l4_and_pseudo),
		cmocka_unit_test(test_write),
		cmocka_unit_test(test_pseudo_long),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
