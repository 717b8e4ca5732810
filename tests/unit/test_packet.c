// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * ap_parse and ap_tcp_opts. Packets are copied into heap buffers of exactly
 * the readable size, so a build with -fsanitize=address catches any read
 * past @avail.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <anypin/packet.h>
#include <anypin/rewrite.h>
#include <anypin/wire.h>
#include "pktgen.h"

static u8 pkt[PG_BUF_MAX], inner[PG_BUF_MAX];

/* Parses the first @avail bytes of @src, copied to a heap buffer of that size. */
static int parse_heap(struct ap_pkt *p, const u8 *src, u32 len, u32 avail,
		      u8 **heap)
{
	*heap = malloc(avail ? avail : 1);
	assert_non_null(*heap);
	memcpy(*heap, src, avail);
	return ap_parse(p, *heap, len, avail);
}

static void check_all_avail(const u8 *src, u32 len);

static int parse(struct ap_pkt *p, u8 *buf, u32 len)
{
	return ap_parse(p, buf, len, len);
}

static u32 rd32(const u8 *b)
{
	return (u32)b[0] << 24 | (u32)b[1] << 16 | (u32)b[2] << 8 | b[3];
}

static void wr32(u8 *b, u32 v)
{
	b[0] = (u8)(v >> 24);
	b[1] = (u8)(v >> 16);
	b[2] = (u8)(v >> 8);
	b[3] = (u8)v;
}

/* What a successful parse must satisfy, whatever the input was. */
static void check_consistent(const struct ap_pkt *p, u32 len)
{
	unsigned int alen;
	struct ap_opts o;
	const u8 *th;

	assert_true(p->len <= len);
	assert_true(p->family == AP_AF_INET || p->family == AP_AF_INET6);
	alen = ap_addr_len(p->family);
	assert_true(p->saddr_off + alen <= p->len);
	assert_true(p->daddr_off + alen <= p->len);
	assert_true(p->l4_off < p->len);
	th = p->data + p->tcp_off;
	if (p->proto == AP_IPPROTO_TCP) {
		assert_int_equal(p->tcp_off, p->l4_off);
		assert_true(p->tcp_hlen >= 20 && p->tcp_hlen <= 60);
		assert_int_equal(p->tcp_hlen % 4, 0);
		assert_int_equal(p->tcp_hlen, (th[12] >> 4) * 4);
		assert_int_equal(p->tcp_off + p->tcp_hlen + p->tcp_paylen, p->len);
		assert_true(p->tcp_off + p->tcp_hlen <= AP_HDR_MAX);
		assert_int_equal(p->tcp_flags, th[13]);
		assert_int_equal(p->ack, rd32(th + 8));
		assert_int_equal(p->in_off, 0);
		assert_int_equal(p->icmp_type, 0);
		assert_true(ap_tcp_opts(p, AP_EXID_DEFAULT, &o) == AP_OK ||
			    !o.cap);
	} else {
		assert_int_equal(p->proto, p->family == AP_AF_INET ?
				 AP_IPPROTO_ICMP : AP_IPPROTO_ICMPV6);
		assert_int_equal(p->in_off, p->l4_off + 8);
		assert_int_equal(p->in_len, p->len - p->in_off);
		assert_true(p->in_saddr_off + alen <= p->len);
		assert_true(p->in_daddr_off + alen <= p->len);
		assert_true(p->in_saddr_off > p->in_off);
		assert_true(p->tcp_off >= p->in_off + (p->family == AP_AF_INET ?
						       20 : 40));
		assert_true(p->tcp_off + 8u <= p->len);
		assert_int_equal(p->tcp_hlen, p->len - p->tcp_off >= 20 ? 20 : 0);
		assert_int_equal(p->tcp_paylen, 0);
		assert_int_equal(p->icmp_type, p->data[p->l4_off]);
		assert_int_equal(p->icmp_code, p->data[p->l4_off + 1]);
		assert_int_equal(ap_tcp_opts(p, AP_EXID_DEFAULT, &o), AP_ETCPOPT);
	}
	assert_memory_equal(&p->sport, th, 2);
	assert_memory_equal(&p->dport, th + 2, 2);
	assert_int_equal(p->seq, rd32(th + 4));
}

/* Everything but the buffer pointer and need. */
static void assert_same_parse(const struct ap_pkt *a, const struct ap_pkt *b)
{
	struct ap_pkt x = *a, y = *b;

	x.data = y.data = NULL;
	x.need = y.need = 0;
	assert_memory_equal(&x, &y, sizeof(x));
}

static void test_v4_fields(void **state)
{
	struct pg_tcp t;
	struct ap_pkt p;
	struct ap_addr a;
	u32 len;
	static const u8 mss[] = { 2, 4, 5, 0xb4 };

	(void)state;
	pg_tcp_init(&t, "192.0.2.1", "198.51.100.7", 40000, 443,
		    AP_TCP_SYN | AP_TCP_ACK);
	t.seq = 0x01020304;
	t.ack = 0xfffffffe;
	pg_tcp_add_opt(&t, mss, 4);
	t.paylen = 11;
	t.ipoptlen = 8;
	memset(t.ipopts, 1, 8);
	t.frag = 0x4000;
	len = pg_build_tcp(pkt, &t, NULL);
	assert_int_equal(len, 28 + 24 + 11);
	assert_int_equal(parse(&p, pkt, len), AP_OK);
	assert_ptr_equal(p.data, pkt);
	assert_int_equal(p.len, len);
	assert_int_equal(p.family, AP_AF_INET);
	assert_int_equal(p.proto, AP_IPPROTO_TCP);
	assert_int_equal(p.saddr_off, 12);
	assert_int_equal(p.daddr_off, 16);
	assert_int_equal(p.l4_off, 28);
	assert_int_equal(p.tcp_off, 28);
	assert_int_equal(p.tcp_hlen, 24);
	assert_int_equal(p.tcp_paylen, 11);
	assert_int_equal(p.tcp_flags, AP_TCP_SYN | AP_TCP_ACK);
	assert_int_equal(p.sport, htons(40000));
	assert_int_equal(p.dport, htons(443));
	assert_int_equal(p.seq, 0x01020304);
	assert_int_equal(p.ack, 0xfffffffe);
	assert_int_equal(p.need, 0);
	assert_int_equal(p.in_off, 0);
	assert_false(ap_pkt_is_icmp(&p));
	ap_pkt_saddr(&p, &a);
	assert_true(ap_addr_eq(&a, &t.src));
	ap_pkt_daddr(&p, &a);
	assert_true(ap_addr_eq(&a, &t.dst));
}

static void test_v6_fields(void **state)
{
	struct pg_tcp t;
	struct ap_pkt p;
	struct ap_addr a;
	u32 len;

	(void)state;
	pg_tcp_init(&t, "2001:db8::1", "2001:db8:a::53", 1234, 53, AP_TCP_SYN);
	t.seq = 77;
	t.ext[0].type = PG_IPPROTO_HOPOPTS;
	t.ext[1].type = PG_IPPROTO_ROUTING;
	t.ext[1].len8 = 2;
	t.ext[2].type = PG_IPPROTO_DSTOPTS;
	t.ext[2].len8 = 1;
	t.n_ext = 3;
	t.paylen = 3;
	len = pg_build_tcp(pkt, &t, NULL);
	assert_int_equal(parse(&p, pkt, len), AP_OK);
	assert_int_equal(p.family, AP_AF_INET6);
	assert_int_equal(p.proto, AP_IPPROTO_TCP);
	assert_int_equal(p.len, len);
	assert_int_equal(p.saddr_off, 8);
	assert_int_equal(p.daddr_off, 24);
	assert_int_equal(p.l4_off, 40 + 8 + 24 + 16);
	assert_int_equal(p.tcp_off, p.l4_off);
	assert_int_equal(p.tcp_hlen, 20);
	assert_int_equal(p.tcp_paylen, 3);
	assert_int_equal(p.seq, 77);
	ap_pkt_saddr(&p, &a);
	assert_true(ap_addr_eq(&a, &t.src));
	ap_pkt_daddr(&p, &a);
	assert_true(ap_addr_eq(&a, &t.dst));
}

static void test_link_padding(void **state)
{
	struct pg_tcp t;
	struct ap_pkt p;
	u32 len;

	(void)state;
	pg_tcp_init(&t, "192.0.2.1", "192.0.2.2", 1, 2, AP_TCP_ACK);
	len = pg_build_tcp(pkt, &t, NULL);
	memset(pkt + len, 0, 6);
	assert_int_equal(parse(&p, pkt, len + 6), AP_OK);
	assert_int_equal(p.len, len);
	assert_int_equal(p.tcp_paylen, 0);

	pg_tcp_init(&t, "::1", "::2", 1, 2, AP_TCP_ACK);
	t.paylen = 5;
	len = pg_build_tcp(pkt, &t, NULL);
	assert_int_equal(parse(&p, pkt, len + 9), AP_OK);
	assert_int_equal(p.len, len);
	assert_int_equal(p.tcp_paylen, 5);
}

static void test_random_valid(void **state)
{
	struct pg_rng r;
	struct pg_tcp t;
	struct pg_layout l;
	struct ap_pkt p;
	struct ap_opts o;
	unsigned int i;
	u8 *h;

	(void)state;
	pg_rng_seed(&r, 10);
	for (i = 0; i < 3000; i++) {
		u32 len;

		pg_random_tcp(&r, &t, 0, 300);
		len = pg_build_tcp(pkt, &t, &l);
		assert_int_equal(parse_heap(&p, pkt, len, len, &h), AP_OK);
		check_consistent(&p, len);
		assert_int_equal(p.len, len);
		assert_int_equal(p.family, t.src.family);
		assert_int_equal(p.tcp_off, l.tcp_off);
		assert_int_equal(p.tcp_hlen, l.tcp_hlen);
		assert_int_equal(p.tcp_paylen, t.paylen);
		assert_int_equal(p.sport, htons(t.sport));
		assert_int_equal(p.dport, htons(t.dport));
		assert_int_equal(p.seq, t.seq);
		assert_int_equal(p.ack, t.ack);
		assert_int_equal(p.tcp_flags, t.flags);
		assert_int_equal(ap_tcp_opts(&p, AP_EXID_DEFAULT, &o), AP_OK);
		assert_false(o.cap);
		free(h);
	}
}

/* ---- one test per error code ---- */

static u32 v4_syn(u8 *buf)
{
	struct pg_tcp t;

	pg_tcp_init(&t, "192.0.2.1", "198.51.100.7", 40000, 443, AP_TCP_SYN);
	t.paylen = 4;
	return pg_build_tcp(buf, &t, NULL);
}

static u32 v6_syn(u8 *buf, const struct pg_ext *ext, unsigned int n_ext)
{
	struct pg_tcp t;

	pg_tcp_init(&t, "2001:db8::1", "2001:db8:a::1", 40000, 443, AP_TCP_SYN);
	t.paylen = 4;
	if (n_ext)
		memcpy(t.ext, ext, n_ext * sizeof(*ext));
	t.n_ext = n_ext;
	return pg_build_tcp(buf, &t, NULL);
}

static int parse_copy(const u8 *src, u32 len)
{
	struct ap_pkt p;
	u8 *h;
	int rc = parse_heap(&p, src, len, len, &h);

	if (rc == AP_OK)
		check_consistent(&p, len);
	free(h);
	return rc;
}

static void test_err_short_version(void **state)
{
	u32 len;

	(void)state;
	assert_int_equal(parse_copy(pkt, 0), AP_ESHORT);
	len = v4_syn(pkt);
	assert_int_equal(parse_copy(pkt, 19), AP_ESHORT);
	assert_int_equal(parse_copy(pkt, 1), AP_ESHORT);
	len = v6_syn(pkt, NULL, 0);
	assert_int_equal(parse_copy(pkt, 39), AP_ESHORT);
	assert_int_equal(parse_copy(pkt, len), AP_OK);
	pkt[0] = 0x55;
	assert_int_equal(parse_copy(pkt, len), AP_EVERSION);
	pkt[0] = 0x05;
	assert_int_equal(parse_copy(pkt, len), AP_EVERSION);
	pkt[0] = 0xf0;
	assert_int_equal(parse_copy(pkt, 1), AP_EVERSION);
}

static void test_err_iphlen_iplen(void **state)
{
	u32 len;

	(void)state;
	len = v4_syn(pkt);
	pkt[0] = 0x44;
	assert_int_equal(parse_copy(pkt, len), AP_EIPHLEN);
	pkt[0] = 0x40;
	assert_int_equal(parse_copy(pkt, len), AP_EIPHLEN);
	/* IHL past the total length */
	pkt[0] = 0x4f;
	pkt[3] = 40;
	pkt[2] = 0;
	assert_int_equal(parse_copy(pkt, len), AP_EIPHLEN);
	len = v4_syn(pkt);
	/* total length past the buffer, or below a header */
	assert_int_equal(parse_copy(pkt, len - 1), AP_EIPLEN);
	pkt[2] = 0;
	pkt[3] = 19;
	assert_int_equal(parse_copy(pkt, len), AP_EIPLEN);
	pkt[3] = 0;
	assert_int_equal(parse_copy(pkt, len), AP_EIPLEN);

	len = v6_syn(pkt, NULL, 0);
	assert_int_equal(parse_copy(pkt, len - 1), AP_EIPLEN);
	pkt[4] = pkt[5] = 0;	/* jumbogram */
	assert_int_equal(parse_copy(pkt, len), AP_EIPLEN);
}

/* BIG TCP: IPv4 with the total length 0 past 64 KiB, IPv6 jumbograms. */
static void test_big_tcp(void **state)
{
	const struct pg_ext hbh = { .type = PG_IPPROTO_HOPOPTS };
	const u32 big = 70000;
	struct ap_pkt p;
	u8 *b, *h;
	u32 len;

	(void)state;
	b = calloc(1, big);
	assert_non_null(b);
	len = v4_syn(b);
	b[2] = b[3] = 0;
	assert_int_equal(parse_heap(&p, b, big, big, &h), AP_OK);
	check_consistent(&p, big);
	assert_int_equal(p.len, big);
	assert_int_equal(p.tcp_paylen, big - (len - 4));
	free(h);
	/* Up to 64 KiB, a total length 0 is a broken header. */
	assert_int_equal(parse_copy(b, 0xffff), AP_EIPLEN);

	memset(b, 0, big);
	len = v6_syn(b, &hbh, 1);
	assert_int_equal(len, 40 + 8 + 20 + 4);
	b[4] = b[5] = 0;
	b[42] = 0xc2;
	b[43] = 4;
	wr32(b + 44, big - 40);
	assert_int_equal(parse_heap(&p, b, big, big, &h), AP_OK);
	check_consistent(&p, big);
	assert_int_equal(p.len, big);
	assert_int_equal(p.proto, AP_IPPROTO_TCP);
	assert_int_equal(p.l4_off, 48);
	assert_int_equal(p.tcp_paylen, big - 48 - 20);
	free(h);
	/* The option alone in the first header, or headers not yet linear. */
	assert_int_equal(parse_heap(&p, b, big, 47, &h), AP_EMORE);
	assert_int_equal(p.need, 48);
	free(h);
	/* A length that is not the packet's, not past 64 KiB, another option. */
	wr32(b + 44, big - 39);
	assert_int_equal(parse_heap(&p, b, big, big, &h), AP_EIPLEN);
	free(h);
	wr32(b + 44, 0xffff);
	assert_int_equal(parse_heap(&p, b, big, big, &h), AP_EIPLEN);
	free(h);
	wr32(b + 44, big - 40);
	b[42] = 0x01;
	assert_int_equal(parse_heap(&p, b, big, big, &h), AP_EIPLEN);
	free(h);
	b[42] = 0xc2;
	b[41] = 1;
	assert_int_equal(parse_heap(&p, b, big, big, &h), AP_EIPLEN);
	free(h);
	free(b);
}

static void test_err_frag(void **state)
{
	struct pg_ext x[2] = { { .type = PG_IPPROTO_DSTOPTS },
			       { .type = PG_IPPROTO_FRAGMENT } };
	struct pg_tcp t;
	u32 len;

	(void)state;
	pg_tcp_init(&t, "192.0.2.1", "198.51.100.7", 1, 2, AP_TCP_ACK);
	t.frag = 0x2000;	/* MF */
	len = pg_build_tcp(pkt, &t, NULL);
	assert_int_equal(parse_copy(pkt, len), AP_EFRAG);
	t.frag = 0x0001;	/* offset 8 */
	len = pg_build_tcp(pkt, &t, NULL);
	assert_int_equal(parse_copy(pkt, len), AP_EFRAG);
	t.frag = 0x4000 | 0x1fff;
	len = pg_build_tcp(pkt, &t, NULL);
	assert_int_equal(parse_copy(pkt, len), AP_EFRAG);
	t.frag = 0x8000 | 0x4000;	/* DF and the reserved bit: not a fragment */
	len = pg_build_tcp(pkt, &t, NULL);
	assert_int_equal(parse_copy(pkt, len), AP_OK);

	/* IPv6: even an atomic fragment */
	len = v6_syn(pkt, x + 1, 1);
	assert_int_equal(parse_copy(pkt, len), AP_EFRAG);
	len = v6_syn(pkt, x, 2);
	assert_int_equal(parse_copy(pkt, len), AP_EFRAG);
}

static void test_err_exthdr(void **state)
{
	struct pg_ext x[PG_EXT_MAX];
	u32 len;

	(void)state;
	memset(x, 0, sizeof(x));
	/* hop-by-hop not first */
	x[0].type = PG_IPPROTO_DSTOPTS;
	x[1].type = PG_IPPROTO_HOPOPTS;
	len = v6_syn(pkt, x, 2);
	assert_int_equal(parse_copy(pkt, len), AP_EEXTHDR);
	/* an extension header running past the packet */
	x[0].type = PG_IPPROTO_ROUTING;
	len = v6_syn(pkt, x, 1);
	pkt[41] = 200;
	assert_int_equal(parse_copy(pkt, len), AP_EEXTHDR);
	/* one that does not even have its first 8 bytes */
	len = v6_syn(pkt, x, 0);
	pkt[6] = PG_IPPROTO_DSTOPTS;
	pkt[4] = 0;
	pkt[5] = 7;
	assert_int_equal(parse_copy(pkt, 47), AP_EEXTHDR);
	/* a chain longer than AP_HDR_MAX, inside the packet */
	x[0].type = PG_IPPROTO_DSTOPTS;
	x[0].len8 = 30;		/* 248 bytes */
	x[1].type = PG_IPPROTO_ROUTING;
	x[1].len8 = 30;
	len = v6_syn(pkt, x, 2);	/* TCP at 536 */
	assert_int_equal(parse_copy(pkt, len), AP_EEXTHDR);
	x[1].len8 = 26;		/* TCP at 40 + 248 + 216 = 504: header ends at 524 */
	len = v6_syn(pkt, x, 2);
	assert_int_equal(parse_copy(pkt, len), AP_EEXTHDR);
	x[1].len8 = 25;		/* TCP at 496: ends at 516 */
	len = v6_syn(pkt, x, 2);
	assert_int_equal(parse_copy(pkt, len), AP_EEXTHDR);
	x[1].len8 = 24;		/* TCP at 488: ends at 508 */
	len = v6_syn(pkt, x, 2);
	assert_int_equal(parse_copy(pkt, len), AP_OK);
	x[0].len8 = 255;	/* a single 2048-byte header */
	len = v6_syn(pkt, x, 1);
	assert_int_equal(parse_copy(pkt, len), AP_EEXTHDR);
	/* whatever follows the chain */
	len = v6_syn(pkt, x, 1);
	pkt[40] = 17;
	assert_int_equal(parse_copy(pkt, len), AP_EEXTHDR);
	x[0].len8 = 58;		/* ends exactly at AP_HDR_MAX */
	len = v6_syn(pkt, x, 1);
	pkt[40] = 17;
	assert_int_equal(parse_copy(pkt, len), AP_EPROTO);
	x[0].len8 = 59;
	len = v6_syn(pkt, x, 1);
	pkt[40] = 17;
	assert_int_equal(parse_copy(pkt, len), AP_EEXTHDR);
	/* a header starting at or just before AP_HDR_MAX: never ask past it */
	x[1].type = PG_IPPROTO_DSTOPTS;
	x[1].len8 = 0;
	for (x[0].len8 = 56; x[0].len8 <= 58; x[0].len8++) {
		len = v6_syn(pkt, x, 2);
		check_all_avail(pkt, len);
	}
	/* with TCP options that push the header end past AP_HDR_MAX */
	{
		struct pg_tcp t;

		pg_tcp_init(&t, "::1", "::2", 1, 2, AP_TCP_SYN);
		x[1].len8 = 24;
		memcpy(t.ext, x, sizeof(x));
		t.ext[0].len8 = 30;
		t.n_ext = 2;
		t.optlen = 8;
		t.opts[0] = AP_TCPOPT_NOP;
		len = pg_build_tcp(pkt, &t, NULL);	/* 488 + 28 */
		assert_int_equal(parse_copy(pkt, len), AP_EEXTHDR);
		t.optlen = 4;		/* 488 + 24 = 512 */
		len = pg_build_tcp(pkt, &t, NULL);
		assert_int_equal(parse_copy(pkt, len), AP_OK);
	}
}

static void test_err_proto(void **state)
{
	struct pg_tcp t;
	u32 len;

	(void)state;
	pg_tcp_init(&t, "192.0.2.1", "198.51.100.7", 1, 2, AP_TCP_ACK);
	t.proto = 17;
	len = pg_build_tcp(pkt, &t, NULL);
	assert_int_equal(parse_copy(pkt, len), AP_EPROTO);
	t.proto = AP_IPPROTO_ICMPV6;	/* ICMPv6 over IPv4 */
	len = pg_build_tcp(pkt, &t, NULL);
	assert_int_equal(parse_copy(pkt, len), AP_EPROTO);
	pg_tcp_init(&t, "::1", "::2", 1, 2, AP_TCP_ACK);
	t.proto = 59;	/* no next header */
	len = pg_build_tcp(pkt, &t, NULL);
	assert_int_equal(parse_copy(pkt, len), AP_EPROTO);
	t.proto = AP_IPPROTO_ICMP;	/* ICMPv4 over IPv6 */
	len = pg_build_tcp(pkt, &t, NULL);
	assert_int_equal(parse_copy(pkt, len), AP_EPROTO);
	t.proto = 17;
	t.ext[0].type = PG_IPPROTO_ROUTING;
	t.n_ext = 1;
	len = pg_build_tcp(pkt, &t, NULL);
	assert_int_equal(parse_copy(pkt, len), AP_EPROTO);
}

static void test_err_tcphlen(void **state)
{
	u32 len;

	(void)state;
	len = v4_syn(pkt);		/* 20 + 20 + 4 */
	pkt[32] = 0x40;			/* doff 4 */
	assert_int_equal(parse_copy(pkt, len), AP_ETCPHLEN);
	pkt[32] = 0x60;			/* 24: fits, the payload becomes options */
	assert_int_equal(parse_copy(pkt, len), AP_OK);
	pkt[32] = 0x70;			/* 28 > 24 */
	assert_int_equal(parse_copy(pkt, len), AP_ETCPHLEN);
	pkt[32] = 0xf0;
	assert_int_equal(parse_copy(pkt, len), AP_ETCPHLEN);
	/* fewer than 20 bytes of TCP */
	pkt[32] = 0x50;
	pkt[3] = 39;
	assert_int_equal(parse_copy(pkt, 39), AP_ETCPHLEN);
	pkt[3] = 20;
	assert_int_equal(parse_copy(pkt, 20), AP_ETCPHLEN);
	len = v6_syn(pkt, NULL, 0);
	pkt[52] = 0x00;
	assert_int_equal(parse_copy(pkt, len), AP_ETCPHLEN);
}

/* An ICMP error about @inlen bytes of the SYN in @inner. */
static u32 icmp_about(u8 *buf, u8 family, u8 type, const u8 *in, u32 inlen)
{
	struct pg_icmp e;

	if (family == AP_AF_INET)
		pg_icmp_init(&e, "203.0.113.1", "192.0.2.1", type, 4);
	else
		pg_icmp_init(&e, "2001:db8:ff::1", "2001:db8::1", type, 0);
	e.rest = 1400;
	return pg_build_icmp(buf, &e, in, inlen, NULL);
}

static void test_err_icmp(void **state)
{
	static const u8 bad4[] = { 0, 4, 5, 8, 13, 30, 255 };
	static const u8 bad6[] = { 0, 5, 127, 128, 129, 133, 255 };
	unsigned int i;
	u32 inlen, len;

	(void)state;
	inlen = v4_syn(inner);
	for (i = 0; i < sizeof(bad4); i++) {
		len = icmp_about(pkt, AP_AF_INET, bad4[i], inner, inlen);
		assert_int_equal(parse_copy(pkt, len), AP_EICMP);
	}
	for (i = 3; i <= 12; i += (i == 3 ? 8 : 1)) {
		len = icmp_about(pkt, AP_AF_INET, (u8)i, inner, inlen);
		assert_int_equal(parse_copy(pkt, len), AP_OK);
	}
	inlen = v6_syn(inner, NULL, 0);
	for (i = 0; i < sizeof(bad6); i++) {
		len = icmp_about(pkt, AP_AF_INET6, bad6[i], inner, inlen);
		assert_int_equal(parse_copy(pkt, len), AP_EICMP);
	}
	for (i = 1; i <= 4; i++) {
		len = icmp_about(pkt, AP_AF_INET6, (u8)i, inner, inlen);
		assert_int_equal(parse_copy(pkt, len), AP_OK);
	}
	/* an ICMP header cut short */
	len = icmp_about(pkt, AP_AF_INET, 3, inner, 0);
	pkt[3] = 27;
	assert_int_equal(parse_copy(pkt, 27), AP_ESHORT);
	len = icmp_about(pkt, AP_AF_INET6, 1, inner, 0);
	pkt[5] = 7;
	assert_int_equal(parse_copy(pkt, 47), AP_ESHORT);
}

static void test_icmp_fields(void **state)
{
	struct pg_tcp t;
	struct ap_pkt p;
	struct ap_addr a;
	u32 inlen, len, n, hl;
	int fam;

	(void)state;
	for (fam = 0; fam < 2; fam++) {
		if (!fam) {
			pg_tcp_init(&t, "192.0.2.1", "198.51.100.7", 40000,
				    443, AP_TCP_ACK | AP_TCP_PSH);
			t.ipoptlen = 12;
			hl = 32;
		} else {
			pg_tcp_init(&t, "2001:db8::1", "2001:db8:a::1", 40000,
				    443, AP_TCP_ACK | AP_TCP_PSH);
			t.ext[0].type = PG_IPPROTO_DSTOPTS;
			t.n_ext = 1;
			hl = 48;
		}
		t.seq = 0xa1b2c3d4;
		t.ack = 0x11223344;
		t.paylen = 1000;
		inlen = pg_build_tcp(inner, &t, NULL);
		for (n = hl + 8; n <= inlen; n += (n < hl + 24 ? 1 : 97)) {
			len = icmp_about(pkt, t.src.family, fam ? 2 : 3, inner, n);
			assert_int_equal(parse(&p, pkt, len), AP_OK);
			check_consistent(&p, len);
			assert_true(ap_pkt_is_icmp(&p));
			assert_int_equal(p.icmp_type, fam ? 2 : 3);
			assert_int_equal(p.icmp_code, fam ? 0 : 4);
			assert_int_equal(p.l4_off, fam ? 40 : 20);
			assert_int_equal(p.in_off, p.l4_off + 8);
			assert_int_equal(p.in_len, n);
			assert_int_equal(p.tcp_off, p.in_off + hl);
			assert_int_equal(p.tcp_hlen, n >= hl + 20 ? 20 : 0);
			assert_int_equal(p.tcp_paylen, 0);
			assert_int_equal(p.sport, htons(40000));
			assert_int_equal(p.dport, htons(443));
			assert_int_equal(p.seq, 0xa1b2c3d4);
			assert_int_equal(p.ack, n >= hl + 12 ? 0x11223344 : 0);
			assert_int_equal(p.tcp_flags, n >= hl + 14 ?
					 (AP_TCP_ACK | AP_TCP_PSH) : 0);
			ap_pkt_in_saddr(&p, &a);
			assert_true(ap_addr_eq(&a, &t.src));
			ap_pkt_in_daddr(&p, &a);
			assert_true(ap_addr_eq(&a, &t.dst));
			ap_pkt_daddr(&p, &a);
			assert_false(ap_addr_eq(&a, &t.dst));
		}
		/* 7 bytes of TCP are not enough */
		len = icmp_about(pkt, t.src.family, fam ? 1 : 3, inner, hl + 7);
		assert_int_equal(parse_copy(pkt, len), AP_EINNER);
	}
}

static void test_icmp_inner_frag(void **state)
{
	struct pg_tcp t;
	u32 inlen, len;

	(void)state;
	/* an IPv4 first fragment is fine; a later one is not ours */
	pg_tcp_init(&t, "192.0.2.1", "198.51.100.7", 1, 2, AP_TCP_ACK);
	t.paylen = 100;
	t.frag = 0x2000;
	inlen = pg_build_tcp(inner, &t, NULL);
	len = icmp_about(pkt, AP_AF_INET, 3, inner, inlen);
	assert_int_equal(parse_copy(pkt, len), AP_OK);
	t.frag = 0x2001;
	inlen = pg_build_tcp(inner, &t, NULL);
	len = icmp_about(pkt, AP_AF_INET, 3, inner, inlen);
	assert_int_equal(parse_copy(pkt, len), AP_EINNER);

	pg_tcp_init(&t, "2001:db8::1", "2001:db8::2", 1, 2, AP_TCP_ACK);
	t.ext[0].type = PG_IPPROTO_HOPOPTS;
	t.ext[1].type = PG_IPPROTO_FRAGMENT;
	t.ext[1].frag_mf = true;
	t.n_ext = 2;
	inlen = pg_build_tcp(inner, &t, NULL);
	len = icmp_about(pkt, AP_AF_INET6, 2, inner, inlen);
	assert_int_equal(parse_copy(pkt, len), AP_OK);
	t.ext[1].frag_off = 1;
	inlen = pg_build_tcp(inner, &t, NULL);
	len = icmp_about(pkt, AP_AF_INET6, 2, inner, inlen);
	assert_int_equal(parse_copy(pkt, len), AP_EINNER);
}

static void test_err_inner(void **state)
{
	struct pg_tcp t;
	u32 inlen, len;

	(void)state;
	inlen = v4_syn(inner);
	/* fewer than 20 bytes of IP header */
	len = icmp_about(pkt, AP_AF_INET, 3, inner, 19);
	assert_int_equal(parse_copy(pkt, len), AP_EINNER);
	len = icmp_about(pkt, AP_AF_INET, 3, inner, 0);
	assert_int_equal(parse_copy(pkt, len), AP_EINNER);
	/* IPv6 inside ICMPv4 */
	inlen = v6_syn(inner, NULL, 0);
	len = icmp_about(pkt, AP_AF_INET, 3, inner, inlen);
	assert_int_equal(parse_copy(pkt, len), AP_EINNER);
	/* IPv4 inside ICMPv6 */
	inlen = v4_syn(inner);
	len = icmp_about(pkt, AP_AF_INET6, 1, inner, inlen);
	assert_int_equal(parse_copy(pkt, len), AP_EINNER);
	/* bad IHL, IHL past the data, total length below header + 8 */
	inner[0] = 0x44;
	len = icmp_about(pkt, AP_AF_INET, 3, inner, inlen);
	assert_int_equal(parse_copy(pkt, len), AP_EINNER);
	inner[0] = 0x4f;
	len = icmp_about(pkt, AP_AF_INET, 3, inner, 40);
	assert_int_equal(parse_copy(pkt, len), AP_EINNER);
	inner[0] = 0x45;
	inner[2] = 0;
	inner[3] = 27;
	len = icmp_about(pkt, AP_AF_INET, 3, inner, inlen);
	assert_int_equal(parse_copy(pkt, len), AP_EINNER);
	inner[3] = 28;
	len = icmp_about(pkt, AP_AF_INET, 3, inner, inlen);
	assert_int_equal(parse_copy(pkt, len), AP_OK);
	/* embedded total length larger than what is present: normal */
	inner[2] = 0x20;
	len = icmp_about(pkt, AP_AF_INET, 3, inner, 28);
	assert_int_equal(parse_copy(pkt, len), AP_OK);
	/* embedded UDP or ICMP: not ours */
	inlen = v4_syn(inner);
	inner[9] = 17;
	len = icmp_about(pkt, AP_AF_INET, 3, inner, inlen);
	assert_int_equal(parse_copy(pkt, len), AP_EPROTO);
	inner[9] = AP_IPPROTO_ICMP;
	len = icmp_about(pkt, AP_AF_INET, 3, inner, inlen);
	assert_int_equal(parse_copy(pkt, len), AP_EPROTO);

	/* IPv6 embedded: short, bad chains, wrong protocol */
	inlen = v6_syn(inner, NULL, 0);
	len = icmp_about(pkt, AP_AF_INET6, 1, inner, 39);
	assert_int_equal(parse_copy(pkt, len), AP_EINNER);
	inner[6] = AP_IPPROTO_ICMPV6;
	len = icmp_about(pkt, AP_AF_INET6, 1, inner, inlen);
	assert_int_equal(parse_copy(pkt, len), AP_EPROTO);
	pg_tcp_init(&t, "2001:db8::1", "2001:db8::2", 1, 2, AP_TCP_ACK);
	t.ext[0].type = PG_IPPROTO_ROUTING;
	t.ext[1].type = PG_IPPROTO_HOPOPTS;
	t.n_ext = 2;
	inlen = pg_build_tcp(inner, &t, NULL);
	len = icmp_about(pkt, AP_AF_INET6, 1, inner, inlen);
	assert_int_equal(parse_copy(pkt, len), AP_EINNER);
	t.n_ext = 1;
	t.ext[0].len8 = 3;
	inlen = pg_build_tcp(inner, &t, NULL);
	len = icmp_about(pkt, AP_AF_INET6, 1, inner, 40 + 7);
	assert_int_equal(parse_copy(pkt, len), AP_EINNER);
	len = icmp_about(pkt, AP_AF_INET6, 1, inner, 40 + 31);
	assert_int_equal(parse_copy(pkt, len), AP_EINNER);
	len = icmp_about(pkt, AP_AF_INET6, 1, inner, 40 + 32 + 7);
	assert_int_equal(parse_copy(pkt, len), AP_EINNER);
	len = icmp_about(pkt, AP_AF_INET6, 1, inner, 40 + 32 + 8);
	assert_int_equal(parse_copy(pkt, len), AP_OK);
	/* an embedded chain too long for AP_HDR_MAX */
	t.ext[0].len8 = 52;	/* 424 bytes: TCP at 48 + 40 + 424 = 512 */
	inlen = pg_build_tcp(inner, &t, NULL);
	len = icmp_about(pkt, AP_AF_INET6, 1, inner, inlen);
	assert_int_equal(parse_copy(pkt, len), AP_EINNER);
	t.ext[0].len8 = 50;	/* TCP at 496 */
	inlen = pg_build_tcp(inner, &t, NULL);
	len = icmp_about(pkt, AP_AF_INET6, 1, inner, inlen);
	assert_int_equal(parse_copy(pkt, len), AP_EINNER);
	t.ext[0].len8 = 49;	/* TCP at 488: ends at 508 */
	inlen = pg_build_tcp(inner, &t, NULL);
	len = icmp_about(pkt, AP_AF_INET6, 1, inner, inlen);
	assert_int_equal(parse_copy(pkt, len), AP_OK);
	t.ext[0].len8 = 255;	/* past AP_HDR_MAX while walking */
	inlen = pg_build_tcp(inner, &t, NULL);
	len = icmp_about(pkt, AP_AF_INET6, 1, inner, inlen);
	assert_int_equal(parse_copy(pkt, len), AP_EINNER);
}

/* An outer IPv6 chain that leaves no room for the ICMPv6 header. */
static void test_err_icmp6_outer_chain(void **state)
{
	struct pg_icmp e;
	u32 inlen, len;

	(void)state;
	inlen = v6_syn(inner, NULL, 0);
	pg_icmp_init(&e, "2001:db8:ff::1", "2001:db8::1", 1, 0);
	e.ext[0].type = PG_IPPROTO_DSTOPTS;
	e.ext[0].len8 = 58;	/* ICMPv6 header at 512 */
	e.n_ext = 1;
	len = pg_build_icmp(pkt, &e, inner, inlen, NULL);
	assert_int_equal(parse_copy(pkt, len), AP_EEXTHDR);
	e.ext[0].len8 = 57;	/* ICMPv6 at 504, embedded at 512 */
	len = pg_build_icmp(pkt, &e, inner, inlen, NULL);
	assert_int_equal(parse_copy(pkt, len), AP_EINNER);
	for (e.ext[0].len8 = 50; e.ext[0].len8 <= 58; e.ext[0].len8++) {
		len = pg_build_icmp(pkt, &e, inner, inlen, NULL);
		check_all_avail(pkt, len);
	}
}

/* ---- linearity: AP_EMORE ---- */

/*
 * For every @avail, parse with exactly @avail readable bytes; each AP_EMORE
 * asks for more, within the packet and AP_HDR_MAX, and following the asks
 * ends with the result of a fully linear parse.
 */
static void check_all_avail(const u8 *src, u32 len)
{
	struct ap_pkt full, p;
	u32 avail, rounds;
	int want, rc;
	u8 *h;

	want = ap_parse(&full, (u8 *)src, len, len);
	assert_int_not_equal(want, AP_EMORE);
	for (avail = 0; avail <= len; avail++) {
		rc = parse_heap(&p, src, len, avail, &h);
		free(h);
		for (rounds = 0; rc == AP_EMORE; rounds++) {
			u32 need = p.need;

			assert_true(need > avail);
			assert_true(need <= len);
			assert_true(need <= AP_HDR_MAX);
			assert_true(rounds < 16);
			avail = need;
			rc = parse_heap(&p, src, len, avail, &h);
			free(h);
		}
		assert_int_equal(rc, want);
		if (rc == AP_OK) {
			p.data = full.data;
			assert_same_parse(&p, &full);
		}
	}
}

static void test_emore_sweep(void **state)
{
	struct pg_rng r;
	struct pg_tcp t;
	struct pg_icmp e;
	unsigned int i;
	u32 len, inlen;

	(void)state;
	pg_rng_seed(&r, 11);
	for (i = 0; i < 300; i++) {
		pg_random_tcp(&r, &t, 0, 40);
		len = pg_build_tcp(pkt, &t, NULL);
		check_all_avail(pkt, len);
		pg_random_icmp(&r, &e, t.src.family);
		t.frag &= 0x4000;
		inlen = pg_build_tcp(inner, &t, NULL);
		inlen = pg_rand_below(&r, inlen + 1);
		len = pg_build_icmp(pkt, &e, inner, inlen, NULL);
		check_all_avail(pkt, len);
	}
}

/* The typical case: the TCP options lie past the linear part. */
static void test_emore_once(void **state)
{
	struct pg_tcp t;
	struct ap_pkt p;
	u32 len, hdr;
	u8 *h;

	(void)state;
	pg_tcp_init(&t, "192.0.2.1", "198.51.100.7", 1, 2, AP_TCP_SYN);
	t.optlen = 20;
	memset(t.opts, AP_TCPOPT_NOP, 20);
	t.paylen = 100;
	len = pg_build_tcp(pkt, &t, NULL);
	hdr = 20 + 40;
	assert_int_equal(parse_heap(&p, pkt, len, hdr - 1, &h), AP_EMORE);
	assert_int_equal(p.need, hdr);
	free(h);
	assert_int_equal(parse_heap(&p, pkt, len, p.need, &h), AP_OK);
	assert_int_equal(p.len, len);
	assert_int_equal(p.tcp_paylen, 100);
	free(h);
	assert_int_equal(parse_heap(&p, pkt, len, 39, &h), AP_EMORE);
	assert_int_equal(p.need, 40);
	free(h);
	/* nothing linear at all */
	assert_int_equal(parse_heap(&p, pkt, len, 0, &h), AP_EMORE);
	assert_int_equal(p.need, 20);
	free(h);
	assert_int_equal(parse_heap(&p, pkt, 7, 0, &h), AP_EMORE);
	assert_int_equal(p.need, 7);
	free(h);
	/* a header past the packet is its error, not AP_EMORE */
	assert_int_equal(parse_heap(&p, pkt, 10, 5, &h), AP_ESHORT);
	free(h);
	/* avail above len is clamped */
	assert_int_equal(ap_parse(&p, pkt, len, len + 1000), AP_OK);
	assert_int_equal(p.len, len);
}

/* ---- truncation and corruption ---- */

static void fix_iplen(u8 *b, u32 len)
{
	if (len >= 4 && b[0] >> 4 == 4) {
		b[2] = (u8)(len >> 8);
		b[3] = (u8)len;
	} else if (len >= 6 && b[0] >> 4 == 6 && len >= 40) {
		b[4] = (u8)((len - 40) >> 8);
		b[5] = (u8)(len - 40);
	}
}

static void check_truncations(const u8 *src, u32 full)
{
	struct ap_pkt p;
	u32 len;
	int rc;
	u8 *h;

	for (len = 0; len <= full; len++) {
		rc = parse_heap(&p, src, len, len, &h);
		assert_int_not_equal(rc, AP_EMORE);
		assert_true(rc >= 0 && rc < AP_PERR_MAX);
		if (rc == AP_OK)
			check_consistent(&p, len);
		free(h);
		/* the same with the IP length made to agree: parsing goes deeper */
		h = malloc(len ? len : 1);
		assert_non_null(h);
		memcpy(h, src, len);
		fix_iplen(h, len);
		rc = ap_parse(&p, h, len, len);
		assert_int_not_equal(rc, AP_EMORE);
		if (rc == AP_OK) {
			check_consistent(&p, len);
			assert_int_equal(p.len, len);
		}
		free(h);
	}
}

static void test_truncations(void **state)
{
	struct pg_rng r;
	struct pg_tcp t;
	struct pg_icmp e;
	unsigned int i;
	u32 len, inlen;

	(void)state;
	pg_rng_seed(&r, 12);
	for (i = 0; i < 300; i++) {
		pg_random_tcp(&r, &t, 0, 30);
		t.frag &= 0x4000;
		len = pg_build_tcp(pkt, &t, NULL);
		check_truncations(pkt, len);
		pg_random_icmp(&r, &e, t.src.family);
		inlen = pg_build_tcp(inner, &t, NULL);
		len = pg_build_icmp(pkt, &e, inner, inlen, NULL);
		check_truncations(pkt, len);
	}
}

/*
 * Random bytes in the headers: any result but a crash or an inconsistent
 * success, and what succeeds can be rewritten without going out of bounds.
 */
static void test_corruption(void **state)
{
	struct pg_rng r;
	struct pg_tcp t;
	struct pg_icmp e;
	struct pg_layout l;
	struct ap_pkt p;
	struct ap_addr a;
	unsigned int i, k, hits[AP_PERR_MAX] = { 0 };
	u32 len, inlen, span, avail;
	int rc;
	u8 *h;

	(void)state;
	pg_rng_seed(&r, 13);
	for (i = 0; i < 20000; i++) {
		pg_random_tcp(&r, &t, 0, 20);
		if (i & 1) {
			len = pg_build_tcp(pkt, &t, &l);
			span = l.pay_off;
		} else {
			pg_random_icmp(&r, &e, t.src.family);
			inlen = pg_build_tcp(inner, &t, NULL);
			inlen = pg_rand_below(&r, inlen + 1);
			len = pg_build_icmp(pkt, &e, inner, inlen, &l);
			span = len;
		}
		for (k = pg_rand_below(&r, 4) + 1; k; k--) {
			u32 at = pg_rand_below(&r, span);

			pkt[at] = pg_rand_below(&r, 3) ? (u8)pg_rand(&r) :
				  (u8)(pkt[at] ^ (1u << pg_rand_below(&r, 8)));
		}
		if (i % 5 == 0)
			len = pg_rand_below(&r, len + 1);
		avail = i % 3 ? len : pg_rand_below(&r, len + 1);
		rc = parse_heap(&p, pkt, len, avail, &h);
		assert_true(rc >= 0 && rc < AP_PERR_MAX);
		hits[rc]++;
		if (rc == AP_EMORE) {
			assert_true(p.need > avail && p.need <= len);
			free(h);
			rc = parse_heap(&p, pkt, len, len, &h);
		}
		if (rc == AP_OK) {
			/* the whole packet may be rewritten: give it all */
			free(h);
			h = malloc(len + 4);
			assert_non_null(h);
			memcpy(h, pkt, len);
			assert_int_equal(ap_parse(&p, h, len, len), AP_OK);
			check_consistent(&p, len);
			memset(&a, 0x5a, sizeof(a));
			a.family = p.family;
			if (ap_pkt_is_icmp(&p)) {
				ap_icmp_set_in_saddr(&p, &a);
				ap_icmp_set_in_daddr(&p, &a);
			} else {
				ap_set_saddr(&p, &a, AP_CSUM_FULL);
				ap_set_daddr(&p, &a, AP_CSUM_PSEUDO);
				if (ap_opt_insert(&p, 0x1234, AP_CSUM_FULL) == 0)
					check_consistent(&p, p.len);
			}
		}
		free(h);
	}
	/* the corruption reached most of the parser */
	for (k = 0; k < AP_PERR_MAX; k++)
		if (k != AP_ETCPOPT && k != AP_EMORE)
			assert_true(hits[k] > 0);
	assert_true(hits[AP_EMORE] > 0);
}

/* Fully random bytes after a plausible first byte. */
static void test_random_bytes(void **state)
{
	struct pg_rng r;
	struct ap_pkt p;
	unsigned int i;
	u32 len, j;
	int rc;
	u8 *h;

	(void)state;
	pg_rng_seed(&r, 14);
	for (i = 0; i < 20000; i++) {
		len = pg_rand_below(&r, 120);
		for (j = 0; j < len; j++)
			pkt[j] = (u8)pg_rand(&r);
		if (len) {
			pkt[0] = (u8)((i & 1 ? 0x40 : 0x60) | (pkt[0] & 0xf));
			fix_iplen(pkt, len);
		}
		rc = parse_heap(&p, pkt, len, len, &h);
		assert_true(rc >= 0 && rc < AP_PERR_MAX && rc != AP_EMORE);
		if (rc == AP_OK)
			check_consistent(&p, len);
		free(h);
	}
}

/* ---- options ---- */

static int opts_of(const u8 *opt, u8 optlen, u16 exid, struct ap_opts *o,
		   struct ap_pkt *p)
{
	struct pg_tcp t;
	u32 len;
	int rc;
	u8 *h;

	/* no payload: the options end where the buffer ends */
	pg_tcp_init(&t, "192.0.2.1", "198.51.100.7", 1, 2, AP_TCP_SYN);
	pg_tcp_add_opt(&t, opt, optlen);
	len = pg_build_tcp(pkt, &t, NULL);
	assert_int_equal(parse_heap(p, pkt, len, len, &h), AP_OK);
	rc = ap_tcp_opts(p, exid, o);
	free(h);
	p->data = pkt;
	return rc;
}

static void test_opts(void **state)
{
	static const u8 none[] = { 0 };
	static const u8 ours[] = { 1, 1, 253, 4, 0xa7, 0xc1, 1, 1 };
	static const u8 after_eol[] = { 0, 0, 253, 4, 0xa7, 0xc1, 0, 0 };
	static const u8 other[] = { 253, 4, 0x12, 0x34, 1, 1, 1, 1 };
	static const u8 other_then_ours[] = { 253, 4, 0x12, 0x34, 253, 4, 0xa7, 0xc1 };
	static const u8 two[] = { 253, 4, 0xa7, 0xc1, 253, 4, 0xa7, 0xc1 };
	static const u8 long253[] = { 253, 6, 0xa7, 0xc1, 0, 0, 1, 1 };
	static const u8 short253[] = { 253, 2, 1, 1 };
	static const u8 md5[20] = { 19, 18 };
	static const u8 ao[] = { 1, 1, 29, 6, 0, 0, 0, 0 };
	static const u8 mss_ts[] = { 2, 4, 5, 0xb4, 1, 1, 8, 10, 1, 2, 3, 4,
				     5, 6, 7, 8 };
	struct ap_opts o;
	struct ap_pkt p;

	(void)state;
	assert_int_equal(opts_of(none, 0, AP_EXID_DEFAULT, &o, &p), AP_OK);
	assert_false(o.cap);
	assert_false(o.auth);
	assert_int_equal(opts_of(none, 1, AP_EXID_DEFAULT, &o, &p), AP_OK);
	assert_false(o.cap);

	assert_int_equal(opts_of(ours, sizeof(ours), AP_EXID_DEFAULT, &o, &p), AP_OK);
	assert_true(o.cap);
	assert_false(o.auth);
	assert_int_equal(o.cap_off, p.tcp_off + 22);
	assert_int_equal(pkt[o.cap_off], 253);
	/* another ExID configured: not ours */
	assert_int_equal(opts_of(ours, sizeof(ours), 0xa7c2, &o, &p), AP_OK);
	assert_false(o.cap);

	assert_int_equal(opts_of(after_eol, 8, AP_EXID_DEFAULT, &o, &p), AP_OK);
	assert_false(o.cap);
	assert_int_equal(opts_of(other, 8, AP_EXID_DEFAULT, &o, &p), AP_OK);
	assert_false(o.cap);
	assert_int_equal(opts_of(other, 8, 0x1234, &o, &p), AP_OK);
	assert_true(o.cap);
	assert_int_equal(o.cap_off, p.tcp_off + 20);
	assert_int_equal(opts_of(other_then_ours, 8, AP_EXID_DEFAULT, &o, &p), AP_OK);
	assert_true(o.cap);
	assert_int_equal(o.cap_off, p.tcp_off + 24);
	assert_int_equal(opts_of(two, 8, AP_EXID_DEFAULT, &o, &p), AP_OK);
	assert_int_equal(o.cap_off, p.tcp_off + 20);
	assert_int_equal(opts_of(long253, 8, AP_EXID_DEFAULT, &o, &p), AP_OK);
	assert_false(o.cap);
	assert_int_equal(opts_of(short253, 4, AP_EXID_DEFAULT, &o, &p), AP_OK);
	assert_false(o.cap);

	assert_int_equal(opts_of(md5, sizeof(md5), AP_EXID_DEFAULT, &o, &p), AP_OK);
	assert_true(o.auth);
	assert_false(o.cap);
	assert_int_equal(opts_of(ao, sizeof(ao), AP_EXID_DEFAULT, &o, &p), AP_OK);
	assert_true(o.auth);
	assert_int_equal(opts_of(mss_ts, sizeof(mss_ts), AP_EXID_DEFAULT, &o, &p), AP_OK);
	assert_false(o.auth);
	assert_false(o.cap);
}

static void test_opts_bad(void **state)
{
	static const u8 len0[] = { 2, 0, 0, 0 };
	static const u8 len1[] = { 1, 1, 8, 1 };
	static const u8 past[] = { 1, 2, 4, 0 };	/* 2 + 4 > 4 */
	static const u8 past2[] = { 8, 10, 0, 0, 0, 0, 0, 0 };
	static const u8 nolen[] = { 1, 1, 1, 19 };	/* kind in the last byte */
	static const u8 ok_exact[] = { 1, 1, 30, 2, 30, 4, 0, 0 };
	struct ap_opts o;
	struct ap_pkt p;
	struct pg_tcp t;
	u32 len;

	(void)state;
	assert_int_equal(opts_of(len0, 4, AP_EXID_DEFAULT, &o, &p), AP_ETCPOPT);
	assert_int_equal(opts_of(len1, 4, AP_EXID_DEFAULT, &o, &p), AP_ETCPOPT);
	assert_int_equal(opts_of(past, 4, AP_EXID_DEFAULT, &o, &p), AP_ETCPOPT);
	assert_int_equal(opts_of(past2, 8, AP_EXID_DEFAULT, &o, &p), AP_ETCPOPT);
	assert_int_equal(opts_of(nolen, 4, AP_EXID_DEFAULT, &o, &p), AP_ETCPOPT);
	assert_int_equal(opts_of(ok_exact, 8, AP_EXID_DEFAULT, &o, &p), AP_OK);

	/* an ICMP error has no options to walk */
	pg_tcp_init(&t, "192.0.2.1", "198.51.100.7", 1, 2, AP_TCP_SYN);
	len = pg_build_tcp(inner, &t, NULL);
	len = icmp_about(pkt, AP_AF_INET, 3, inner, len);
	assert_int_equal(parse(&p, pkt, len), AP_OK);
	assert_int_equal(ap_tcp_opts(&p, AP_EXID_DEFAULT, &o), AP_ETCPOPT);
	assert_false(o.cap);
}

/* An ICMP error's quoted TSval: only from an option the quote holds whole. */
static void icmp_tsval_of(const u8 *in, u32 inlen, u8 family, u32 *tsval, bool *found)
{
	struct ap_pkt p;
	u32 len = icmp_about(pkt, family, family == AP_AF_INET ? 3 : 2, in, inlen);
	u8 *h;

	assert_int_equal(parse_heap(&p, pkt, len, len, &h), AP_OK);
	*found = ap_icmp_tsval(&p, tsval);
	free(h);
}

static void test_icmp_tsval(void **state)
{
	static const u8 mss_ts[] = { 2, 4, 5, 0xb4, 1, 1, 8, 10, 0xa1, 0xb2, 0xc3, 0xd4,
				     0, 0, 0, 7 };
	static const u8 bad_first[] = { 30, 0, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2 };
	static const u8 eol_first[] = { 0, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2 };
	static const u8 short_ts[] = { 8, 6, 0, 0, 0, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2 };
	struct pg_tcp t;
	struct ap_pkt p;
	u32 inlen, n, hl, tsval;
	bool found;
	int fam;

	(void)state;
	for (fam = 0; fam < 2; fam++) {
		if (!fam)
			pg_tcp_init(&t, "192.0.2.1", "198.51.100.7", 443, 40000, AP_TCP_ACK);
		else
			pg_tcp_init(&t, "2001:db8:a::1", "2001:db8::7", 443, 40000, AP_TCP_ACK);
		pg_tcp_add_opt(&t, mss_ts, sizeof(mss_ts));
		t.paylen = 1200;
		inlen = pg_build_tcp(inner, &t, NULL);
		hl = fam ? 40 : 20;
		/* every cut of the quote: the option counts once its 10 bytes are in */
		for (n = hl + 8; n <= hl + 60; n++) {
			tsval = 0;
			icmp_tsval_of(inner, n, t.src.family, &tsval, &found);
			assert_int_equal(found, n >= hl + 20 + 16);
			assert_int_equal(tsval, found ? 0xa1b2c3d4 : 0);
		}
		icmp_tsval_of(inner, inlen, t.src.family, &tsval, &found);
		assert_true(found);
		/* the data offset ends the options before it, or is below 5 */
		inner[hl + 12] = 0x80;
		icmp_tsval_of(inner, inlen, t.src.family, &tsval, &found);
		assert_false(found);
		inner[hl + 12] = 0x90;
		icmp_tsval_of(inner, inlen, t.src.family, &tsval, &found);
		assert_true(found);
		inner[hl + 12] = 0x20;
		icmp_tsval_of(inner, inlen, t.src.family, &tsval, &found);
		assert_false(found);
	}
	/* a broken or ended list, and a timestamp option of the wrong length */
	pg_tcp_init(&t, "192.0.2.1", "198.51.100.7", 443, 40000, AP_TCP_ACK);
	pg_tcp_add_opt(&t, bad_first, sizeof(bad_first));
	inlen = pg_build_tcp(inner, &t, NULL);
	icmp_tsval_of(inner, inlen, AP_AF_INET, &tsval, &found);
	assert_false(found);
	t.optlen = 0;
	pg_tcp_add_opt(&t, eol_first, sizeof(eol_first));
	inlen = pg_build_tcp(inner, &t, NULL);
	icmp_tsval_of(inner, inlen, AP_AF_INET, &tsval, &found);
	assert_false(found);
	t.optlen = 0;
	pg_tcp_add_opt(&t, short_ts, sizeof(short_ts));
	inlen = pg_build_tcp(inner, &t, NULL);
	tsval = 0;
	icmp_tsval_of(inner, inlen, AP_AF_INET, &tsval, &found);
	assert_true(found);
	assert_int_equal(tsval, 1);
	/* a TCP segment is no ICMP error */
	assert_int_equal(parse(&p, inner, inlen), AP_OK);
	assert_false(ap_icmp_tsval(&p, &tsval));
}

static void test_perr_names(void **state)
{
	unsigned int i, j;

	(void)state;
	for (i = 0; i < AP_PERR_MAX; i++) {
		assert_non_null(ap_perr_names[i]);
		assert_true(strlen(ap_perr_names[i]) > 0);
		for (j = 0; j < i; j++)
			assert_string_not_equal(ap_perr_names[i], ap_perr_names[j]);
	}
	assert_string_equal(ap_perr_names[AP_OK], "ok");
	assert_string_equal(ap_perr_names[AP_EMORE], "more");
	assert_string_equal(ap_perr_names[AP_ESHORT], "short");
	assert_string_equal(ap_perr_names[AP_EINNER], "inner");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v4_fields),
		cmocka_unit_test(test_v6_fields),
		cmocka_unit_test(test_link_padding),
		cmocka_unit_test(test_random_valid),
		cmocka_unit_test(test_err_short_version),
		cmocka_unit_test(test_err_iphlen_iplen),
		cmocka_unit_test(test_big_tcp),
		cmocka_unit_test(test_err_frag),
		cmocka_unit_test(test_err_exthdr),
		cmocka_unit_test(test_err_proto),
		cmocka_unit_test(test_err_tcphlen),
		cmocka_unit_test(test_err_icmp),
		cmocka_unit_test(test_icmp_fields),
		cmocka_unit_test(test_icmp_inner_frag),
		cmocka_unit_test(test_err_inner),
		cmocka_unit_test(test_err_icmp6_outer_chain),
		cmocka_unit_test(test_emore_sweep),
		cmocka_unit_test(test_emore_once),
		cmocka_unit_test(test_truncations),
		cmocka_unit_test(test_corruption),
		cmocka_unit_test(test_random_bytes),
		cmocka_unit_test(test_opts),
		cmocka_unit_test(test_opts_bad),
		cmocka_unit_test(test_icmp_tsval),
		cmocka_unit_test(test_perr_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
