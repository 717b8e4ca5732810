// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The second chance's core: the stamp's arithmetic (what PAWS and Linux's
 * undo need of it), the stamp and the MSS written into packets (checked
 * byte for byte against pktgen's packet built with the new values), the
 * decision for an arriving segment, and the peers value.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <anypin/second.h>
#include "pktgen.h"

static u8 pkt[PG_BUF_MAX], want[PG_BUF_MAX];

static void test_stamp_math(void **state)
{
	struct pg_rng r;
	u32 x, y, i;
	u8 id;

	(void)state;
	pg_rng_seed(&r, 14);
	for (i = 0; i < 200000; i++) {
		x = pg_rand(&r);
		if (i < 256)
			x = 0xffffffffu - 127 + i;	/* across the wrap */
		id = (u8)(1 + pg_rand_below(&r, AP_SC_ID_MAX));
		y = ap_sc_stamp(x, id);
		assert_int_equal(ap_sc_owner(y), id);
		/* never before x, at most AP_SC_ID_MAX after (mod 2^32) */
		assert_true(y - x <= AP_SC_ID_MAX);
		assert_int_equal(ap_sc_stamp(y, id), y);
		/* non-decreasing: a later TSval never stamps earlier */
		assert_true((s32)(ap_sc_stamp(x + pg_rand_below(&r, 1000), id) - y) >= 0);
		assert_true((s32)(ap_sc_stamp(x + 1, id) - y) >= 0);
	}
	assert_int_equal(ap_sc_stamp(0, 5), 5);
	assert_int_equal(ap_sc_stamp(5, 5), 5);
	assert_int_equal(ap_sc_stamp(6, 5), 69);
	assert_int_equal(ap_sc_stamp(0xffffffffu, 1), 1);
	assert_int_equal(ap_sc_owner(0), 0);
}

static void add_nops(struct pg_tcp *t, unsigned int n)
{
	static const u8 nop = AP_TCPOPT_NOP;

	while (n--)
		pg_tcp_add_opt(t, &nop, 1);
}

/* A timestamp option after @lead NOPs; returns where its TSval is in t->opts. */
static unsigned int add_ts_at(struct pg_tcp *t, unsigned int lead, u32 tsval, u32 tsecr)
{
	u8 o[10] = { AP_TCPOPT_TS, AP_TCPOPT_TS_LEN,
		     (u8)(tsval >> 24), (u8)(tsval >> 16), (u8)(tsval >> 8), (u8)tsval,
		     (u8)(tsecr >> 24), (u8)(tsecr >> 16), (u8)(tsecr >> 8), (u8)tsecr };

	add_nops(t, lead);
	pg_tcp_add_opt(t, o, sizeof(o));
	return t->optlen - 8u;
}

/* As Linux sends it: NOP NOP TS. */
static void add_ts(struct pg_tcp *t, u32 tsval, u32 tsecr)
{
	add_ts_at(t, 2, tsval, tsecr);
}

static void add_mss(struct pg_tcp *t, u16 mss)
{
	u8 o[4] = { AP_TCPOPT_MSS, AP_TCPOPT_MSS_LEN, (u8)(mss >> 8), (u8)mss };

	pg_tcp_add_opt(t, o, sizeof(o));
}

static void parse(struct ap_pkt *p, struct ap_opts *o, u32 len)
{
	assert_int_equal(ap_parse(p, pkt, len, len), AP_OK);
	assert_int_equal(ap_tcp_opts(p, AP_EXID_DEFAULT, o), AP_OK);
}

static void test_stamp_pkt(void **state)
{
	static const char *const fam[2][2] = {
		{ "192.0.2.1", "203.0.113.9" }, { "2001:db8:a::1", "2001:db8:c::9" },
	};
	struct pg_rng r;
	struct pg_tcp t;
	struct ap_pkt p;
	struct ap_opts o;
	enum ap_csum_mode mode;
	u32 len, tsval, i, at;
	u8 id;

	(void)state;
	pg_rng_seed(&r, 15);
	for (i = 0; i < 4000; i++) {
		mode = i & 1 ? AP_CSUM_PSEUDO : AP_CSUM_FULL;
		pg_tcp_init(&t, fam[i >> 1 & 1][0], fam[i >> 1 & 1][1], 443, 40000,
			    AP_TCP_ACK | (i % 5 ? 0 : AP_TCP_PSH));
		t.seq = pg_rand(&r);
		t.ack = pg_rand(&r);
		t.paylen = pg_rand_below(&r, 300);
		if (i % 7 == 0)
			add_mss(&t, 1460);	/* the stamp finds TS after others */
		tsval = pg_rand(&r);
		/* 0-3 NOPs before it: TSval at every offset a sender may choose */
		at = add_ts_at(&t, i >> 2 & 3, tsval, pg_rand(&r));
		len = pg_build_tcp(pkt, &t, NULL);
		if (mode == AP_CSUM_PSEUDO)
			pg_set_pseudo(pkt, len);
		parse(&p, &o, len);
		assert_int_not_equal(o.ts_off, 0);
		id = (u8)(1 + pg_rand_below(&r, AP_SC_ID_MAX));

		assert_int_equal(ap_sc_stamp_pkt(&p, &o, id, mode),
				 ap_sc_stamp(tsval, id) != tsval);
		t.opts[at + 0] = (u8)(ap_sc_stamp(tsval, id) >> 24);
		t.opts[at + 1] = (u8)(ap_sc_stamp(tsval, id) >> 16);
		t.opts[at + 2] = (u8)(ap_sc_stamp(tsval, id) >> 8);
		t.opts[at + 3] = (u8)ap_sc_stamp(tsval, id);
		assert_int_equal(pg_build_tcp(want, &t, NULL), len);
		if (mode == AP_CSUM_PSEUDO)
			pg_set_pseudo(want, len);
		assert_memory_equal(pkt, want, len);
		if (mode == AP_CSUM_FULL)
			assert_int_equal(pg_verify(pkt, len), 0);
	}
}

static void test_stamp_skips(void **state)
{
	struct pg_tcp t;
	struct ap_pkt p;
	struct ap_opts o;
	u32 len;
	u8 flags[] = { AP_TCP_SYN, AP_TCP_SYN | AP_TCP_ACK, AP_TCP_ACK };
	unsigned int i;

	(void)state;
	for (i = 0; i < 3; i++) {
		pg_tcp_init(&t, "192.0.2.1", "203.0.113.9", 443, 40000, flags[i]);
		if (i < 2)
			add_ts(&t, 1000, 0);
		len = pg_build_tcp(pkt, &t, NULL);
		memcpy(want, pkt, len);
		parse(&p, &o, len);
		/* SYN-ACKs keep a SYN cookie's bits; no option, nothing to stamp */
		assert_false(ap_sc_stamp_pkt(&p, &o, 9, AP_CSUM_FULL));
		assert_memory_equal(pkt, want, len);
	}
	pg_tcp_init(&t, "192.0.2.1", "203.0.113.9", 443, 40000, AP_TCP_ACK);
	add_ts(&t, 1000, 0);
	len = pg_build_tcp(pkt, &t, NULL);
	memcpy(want, pkt, len);
	parse(&p, &o, len);
	assert_false(ap_sc_stamp_pkt(&p, &o, 0, AP_CSUM_FULL));
	assert_false(ap_sc_stamp_pkt(&p, &o, AP_SC_ID_MAX + 1, AP_CSUM_FULL));
	assert_memory_equal(pkt, want, len);
	assert_true(ap_sc_stamp_pkt(&p, &o, 9, AP_CSUM_FULL));

	/* TCP-AO signs the options: never stamped */
	pg_tcp_init(&t, "192.0.2.1", "203.0.113.9", 443, 40000, AP_TCP_ACK);
	pg_tcp_add_opt(&t, (const u8[]){ AP_TCPOPT_AO, 4, 1, 1 }, 4);
	add_ts(&t, 1000, 0);
	len = pg_build_tcp(pkt, &t, NULL);
	memcpy(want, pkt, len);
	parse(&p, &o, len);
	assert_true(o.auth);
	assert_false(ap_sc_stamp_pkt(&p, &o, 9, AP_CSUM_FULL));
	assert_memory_equal(pkt, want, len);
}

static void test_mss(void **state)
{
	static const struct {
		const char *src, *dst;
		u8 flags;
		u16 mss, want;
	} c[] = {
		{ "192.0.2.1", "203.0.113.9", AP_TCP_SYN | AP_TCP_ACK, 1460, 1440 },
		{ "2001:db8:a::1", "2001:db8:c::9", AP_TCP_SYN | AP_TCP_ACK, 1440, 1400 },
		{ "192.0.2.1", "203.0.113.9", AP_TCP_SYN | AP_TCP_ACK, 100, AP_SC_MSS_MIN },
		{ "192.0.2.1", "203.0.113.9", AP_TCP_SYN | AP_TCP_ACK, AP_SC_MSS_MIN, AP_SC_MSS_MIN },
		{ "192.0.2.1", "203.0.113.9", AP_TCP_SYN | AP_TCP_ACK, 40, 40 },
		{ "192.0.2.1", "203.0.113.9", AP_TCP_SYN | AP_TCP_ACK, 108, 88 },
		{ "192.0.2.1", "203.0.113.9", AP_TCP_SYN | AP_TCP_ACK, 109, 89 },
		{ "2001:db8:a::1", "2001:db8:c::9", AP_TCP_SYN | AP_TCP_ACK, 128, 88 },
		{ "2001:db8:a::1", "2001:db8:c::9", AP_TCP_SYN | AP_TCP_ACK, 100, 88 },
		{ "2001:db8:a::1", "2001:db8:c::9", AP_TCP_SYN | AP_TCP_ACK, 65535, 65495 },
		{ "192.0.2.1", "203.0.113.9", AP_TCP_SYN, 1460, 1460 },
		{ "192.0.2.1", "203.0.113.9", AP_TCP_ACK, 1460, 1460 },
	};
	struct pg_tcp t;
	struct ap_pkt p;
	struct ap_opts o;
	unsigned int i, m, lead;
	u32 len;

	(void)state;
	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		for (m = 0; m < 4; m++) {
			/* m & 2: one NOP first, the MSS value at an odd offset */
			lead = m >> 1;
			pg_tcp_init(&t, c[i].src, c[i].dst, 443, 40000, c[i].flags);
			add_nops(&t, lead);
			add_mss(&t, c[i].mss);
			add_ts(&t, 77, 0);
			len = pg_build_tcp(pkt, &t, NULL);
			if (m & 1)
				pg_set_pseudo(pkt, len);
			parse(&p, &o, len);
			assert_int_equal(o.mss_off, p.tcp_off + AP_TCP_HLEN_MIN + lead);
			assert_int_equal(ap_sc_mss_pkt(&p, &o, m & 1 ? AP_CSUM_PSEUDO : AP_CSUM_FULL),
					 c[i].mss != c[i].want);
			t.optlen = 0;
			add_nops(&t, lead);
			add_mss(&t, c[i].want);
			add_ts(&t, 77, 0);
			pg_build_tcp(want, &t, NULL);
			if (m & 1)
				pg_set_pseudo(want, len);
			assert_memory_equal(pkt, want, len);
			if (!(m & 1))
				assert_int_equal(pg_verify(pkt, len), 0);
		}
	}

	/* without timestamps its connection never moves: a SYN-ACK keeps its MSS */
	pg_tcp_init(&t, "192.0.2.1", "203.0.113.9", 443, 40000, AP_TCP_SYN | AP_TCP_ACK);
	add_mss(&t, 1460);
	len = pg_build_tcp(pkt, &t, NULL);
	memcpy(want, pkt, len);
	parse(&p, &o, len);
	assert_int_equal(o.ts_off, 0);
	assert_false(ap_sc_mss_pkt(&p, &o, AP_CSUM_FULL));
	assert_memory_equal(pkt, want, len);

	/* TCP-AO signs the options: a signed SYN-ACK keeps its MSS */
	pg_tcp_init(&t, "192.0.2.1", "203.0.113.9", 443, 40000, AP_TCP_SYN | AP_TCP_ACK);
	add_mss(&t, 1460);
	add_ts(&t, 77, 0);
	pg_tcp_add_opt(&t, (const u8[]){ AP_TCPOPT_AO, 4, 1, 1 }, 4);
	len = pg_build_tcp(pkt, &t, NULL);
	memcpy(want, pkt, len);
	parse(&p, &o, len);
	assert_true(o.auth);
	assert_false(ap_sc_mss_pkt(&p, &o, AP_CSUM_FULL));
	assert_memory_equal(pkt, want, len);
}

struct local_ctx {
	bool answer;
	unsigned int calls;
};

static bool local_fn(void *ctx, const struct ap_pkt *p)
{
	struct local_ctx *l = ctx;

	(void)p;
	l->calls++;
	return l->answer;
}

static struct ap_peers peers(const char *s)
{
	struct ap_peers pe;
	const char *why = NULL;

	assert_int_equal(ap_peers_parse(s, (u32)strlen(s), &pe, &why), 0);
	return pe;
}

/* The verdict for a segment from the client to A; *calls set to local_fn's. */
static enum ap_sc decide(const char *src, const char *dst, u8 flags, bool ts, u32 tsecr,
			 bool tunnel, bool local, unsigned int *calls, struct ap_sc_to *to)
{
	struct ap_peers pe = peers("2=198.51.100.2,2001:db8:1::2 3=198.51.100.3");
	struct local_ctx l = { local, 0 };
	struct pg_tcp t;
	struct ap_pkt p;
	struct ap_opts o;
	enum ap_sc v;
	u32 len;

	pg_tcp_init(&t, src, dst, 40000, 443, flags);
	if (ts)
		add_ts(&t, 5000, tsecr);
	len = pg_build_tcp(pkt, &t, NULL);
	parse(&p, &o, len);
	memset(to, 0, sizeof(*to));
	v = ap_sc_in(1, &pe, &p, &o, tunnel, local_fn, &l, to);
	*calls = l.calls;
	return v;
}

static void test_decide(void **state)
{
	const char *c4 = "203.0.113.9", *a4 = "192.0.2.1";
	const char *c6 = "2001:db8:c::9", *a6 = "2001:db8:a::1";
	struct ap_sc_to to;
	struct ap_addr want;
	unsigned int calls;

	(void)state;
	assert_int_equal(decide(c4, a4, AP_TCP_ACK, true, 2, false, false, &calls, &to),
			 AP_SC_FORWARD);
	pg_addr(&want, "198.51.100.2");
	assert_true(ap_addr_eq(&to.addr, &want));
	assert_int_equal(to.id, 2);
	assert_int_equal(calls, 1);
	assert_int_equal(decide(c6, a6, AP_TCP_ACK | AP_TCP_PSH, true, 64 * 1000 + 2, false,
				false, &calls, &to), AP_SC_FORWARD);
	pg_addr(&want, "2001:db8:1::2");
	assert_true(ap_addr_eq(&to.addr, &want));
	assert_int_equal(to.id, 2);
	/* a RST and a FIN of a moved connection go to their owner too */
	assert_int_equal(decide(c4, a4, AP_TCP_ACK | AP_TCP_RST, true, 3, false, false,
				&calls, &to), AP_SC_FORWARD);
	assert_int_equal(decide(c4, a4, AP_TCP_ACK | AP_TCP_FIN, true, 3, false, false,
				&calls, &to), AP_SC_FORWARD);

	/* a local socket (or SYN cookie) wins, asked only when it would move */
	assert_int_equal(decide(c4, a4, AP_TCP_ACK, true, 2, false, true, &calls, &to),
			 AP_SC_LOCAL);
	assert_int_equal(calls, 1);
	assert_int_equal(to.addr.family, 0);
	assert_int_equal(to.id, 0);
	assert_int_equal(decide(c4, a4, AP_TCP_ACK, true, 2, true, false, &calls, &to),
			 AP_SC_TUNNEL);
	assert_int_equal(calls, 0);
	assert_int_equal(decide(c4, a4, AP_TCP_SYN, true, 2, false, false, &calls, &to),
			 AP_SC_SYN);
	assert_int_equal(decide(c4, a4, AP_TCP_SYN | AP_TCP_ACK, true, 2, false, false,
				&calls, &to), AP_SC_SYN);
	assert_int_equal(decide(c4, a4, AP_TCP_ACK, false, 0, false, false, &calls, &to),
			 AP_SC_NO_TS);
	assert_int_equal(decide(c4, a4, AP_TCP_ACK, true, 0, false, false, &calls, &to),
			 AP_SC_NO_TS);
	assert_int_equal(decide(c4, a4, AP_TCP_ACK, true, 64 * 77, false, false, &calls, &to),
			 AP_SC_NO_TS);
	/* without ACK, TSecr means nothing (RFC 7323) */
	assert_int_equal(decide(c4, a4, AP_TCP_RST, true, 2, false, false, &calls, &to),
			 AP_SC_NO_TS);
	assert_int_equal(calls, 0);
	assert_int_equal(decide(c4, a4, AP_TCP_ACK, true, 1, false, false, &calls, &to),
			 AP_SC_SELF);
	assert_int_equal(calls, 0);
	assert_int_equal(decide(c4, a4, AP_TCP_ACK, true, 4, false, false, &calls, &to),
			 AP_SC_UNKNOWN);
	assert_int_equal(calls, 0);
	/* peer 3 has no IPv6 address */
	assert_int_equal(decide(c6, a6, AP_TCP_ACK, true, 3, false, false, &calls, &to),
			 AP_SC_NO_ADDR);
	assert_int_equal(calls, 0);
	assert_int_equal(to.addr.family, 0);
	assert_string_equal(ap_sc_names[AP_SC_NO_ADDR], "no_addr");
}

/* The verdicts' order over parsed fields (sc.h), what the BPF programs run too. */
static void test_verdict(void **state)
{
	struct ap_sc_seg s = { .ts = true, .owner = 2, .peer_addr = true };
	u64 peers = 1u << 2 | 1u << 3;

	(void)state;
	assert_int_equal(ap_sc_verdict(1, peers, &s), AP_SC_FORWARD);
	s.peer_addr = false;
	assert_int_equal(ap_sc_verdict(1, peers, &s), AP_SC_NO_ADDR);
	s.owner = 4;
	assert_int_equal(ap_sc_verdict(1, peers, &s), AP_SC_UNKNOWN);
	s.owner = 1;
	assert_int_equal(ap_sc_verdict(1, peers, &s), AP_SC_SELF);
	/* an owner past the ids names no peer, whatever the bits */
	s.owner = AP_SC_ID_MAX + 1;
	assert_int_equal(ap_sc_verdict(1, ~0ull, &s), AP_SC_UNKNOWN);
	s.owner = 0;
	assert_int_equal(ap_sc_verdict(1, peers, &s), AP_SC_NO_TS);
	s.owner = 2;
	s.peer_addr = true;
	s.ts = false;
	assert_int_equal(ap_sc_verdict(1, peers, &s), AP_SC_NO_TS);
	/* each earlier question wins over every later one */
	s.syn = true;
	assert_int_equal(ap_sc_verdict(1, peers, &s), AP_SC_SYN);
	s.tunnel = true;
	assert_int_equal(ap_sc_verdict(1, peers, &s), AP_SC_TUNNEL);

	assert_int_equal(ap_sc_out(true, true, true, true, false), AP_SC_OUT_MSS);
	/* no timestamps: no TSecr will name an owner, nothing to make room for */
	assert_int_equal(ap_sc_out(true, true, true, false, false), AP_SC_OUT_NONE);
	assert_int_equal(ap_sc_out(true, true, false, true, false), AP_SC_OUT_NONE);
	assert_int_equal(ap_sc_out(true, false, true, true, false), AP_SC_OUT_NONE);
	assert_int_equal(ap_sc_out(false, true, true, true, false), AP_SC_OUT_STAMP);
	assert_int_equal(ap_sc_out(false, true, false, true, true), AP_SC_OUT_NONE);
	/* signed: neither stamped nor its MSS lowered, in the BPF programs too */
	assert_int_equal(ap_sc_out(true, true, true, true, true), AP_SC_OUT_NONE);
	assert_int_equal(ap_sc_out(false, true, false, false, false), AP_SC_OUT_NONE);

	assert_int_equal(ap_sc_mss(1460, AP_AF_INET), 1440);
	assert_int_equal(ap_sc_mss(1440, AP_AF_INET6), 1400);
	assert_int_equal(ap_sc_mss(100, AP_AF_INET6), AP_SC_MSS_MIN);
	assert_int_equal(ap_sc_mss(AP_SC_MSS_MIN, AP_AF_INET), AP_SC_MSS_MIN);
	assert_int_equal(ap_sc_mss(40, AP_AF_INET), 40);
}

/* The verdict for an error about @quote bytes of a segment from A, TSval @tsval. */
static enum ap_sc decide_icmp(bool v6, u8 flags, u32 tsval, u32 quote, bool tunnel,
			      struct ap_sc_to *to)
{
	struct ap_peers pe = peers("2=198.51.100.2,2001:db8:1::2 3=198.51.100.3");
	struct pg_tcp t;
	struct pg_icmp e;
	struct ap_pkt p;
	u32 len;

	pg_tcp_init(&t, v6 ? "2001:db8:a::1" : "192.0.2.1", v6 ? "2001:db8:c::9" : "203.0.113.9",
		    443, 40000, flags);
	add_ts(&t, tsval, 77);
	t.paylen = 1400;
	len = pg_build_tcp(want, &t, NULL);
	pg_icmp_init(&e, v6 ? "2001:db8:c::1" : "203.0.113.1", v6 ? "2001:db8:a::1" : "192.0.2.1",
		     v6 ? 2 : 3, v6 ? 0 : 4);
	len = pg_build_icmp(pkt, &e, want, quote < len ? quote : len, NULL);
	assert_int_equal(ap_parse(&p, pkt, len, len), AP_OK);
	memset(to, 0, sizeof(*to));
	return ap_sc_icmp(1, &pe, &p, tunnel, to);
}

static void test_decide_icmp(void **state)
{
	struct ap_sc_to to;
	struct ap_addr want_addr;

	(void)state;
	assert_int_equal(decide_icmp(false, AP_TCP_ACK, 64 * 9 + 2, 1000, false, &to),
			 AP_SC_FORWARD);
	pg_addr(&want_addr, "198.51.100.2");
	assert_true(ap_addr_eq(&to.addr, &want_addr));
	assert_int_equal(to.id, 2);
	assert_int_equal(decide_icmp(true, AP_TCP_ACK | AP_TCP_PSH, 2, 1232, false, &to),
			 AP_SC_FORWARD);
	pg_addr(&want_addr, "2001:db8:1::2");
	assert_true(ap_addr_eq(&to.addr, &want_addr));
	/* a quote that ends before the option's last byte, and one that holds it */
	assert_int_equal(decide_icmp(false, AP_TCP_ACK, 2, 20 + 20 + 11, false, &to),
			 AP_SC_NO_TS);
	assert_int_equal(decide_icmp(false, AP_TCP_ACK, 2, 20 + 20 + 12, false, &to),
			 AP_SC_FORWARD);
	assert_int_equal(decide_icmp(false, AP_TCP_ACK, 2, 28, false, &to), AP_SC_NO_TS);
	assert_int_equal(decide_icmp(false, AP_TCP_ACK, 2, 1000, true, &to), AP_SC_TUNNEL);
	/* a SYN-ACK's TSval holds a cookie's bits or a random start, no id */
	assert_int_equal(decide_icmp(false, AP_TCP_SYN | AP_TCP_ACK, 2, 1000, false, &to),
			 AP_SC_SYN);
	assert_int_equal(decide_icmp(false, AP_TCP_ACK, 64, 1000, false, &to), AP_SC_NO_TS);
	assert_int_equal(decide_icmp(false, AP_TCP_ACK, 1, 1000, false, &to), AP_SC_SELF);
	assert_int_equal(decide_icmp(false, AP_TCP_ACK, 4, 1000, false, &to), AP_SC_UNKNOWN);
	assert_int_equal(decide_icmp(true, AP_TCP_ACK, 3, 1232, false, &to), AP_SC_NO_ADDR);
	assert_int_equal(to.addr.family, 0);
	assert_int_equal(to.id, 0);
}

static void test_peers_text(void **state)
{
	static const struct {
		const char *in, *out;
	} ok[] = {
		{ "", "" },
		{ " \t\n", "" },
		{ "1=198.51.100.1", "1=198.51.100.1" },
		{ "2=2001:db8:1::2,198.51.100.2  1=198.51.100.1\n",
		  "1=198.51.100.1 2=198.51.100.2,2001:db8:1::2" },
		{ "63=10.0.0.63 9=2001:DB8::9", "9=2001:db8::9 63=10.0.0.63" },
	};
	static const char *const bad[] = {
		"0=198.51.100.1", "64=198.51.100.1", "100=198.51.100.1", "01=198.51.100.1",
		"=198.51.100.1", "1", "1=", "1=198.51.100.1,", "1=,198.51.100.1",
		"1:198.51.100.1", "x=198.51.100.1", "1=198.51.100.1,198.51.100.2",
		"1=2001:db8::1,2001:db8::2", "1=198.51.100.1 1=198.51.100.2",
		"1=198.51.100.1 2=198.51.100.1", "1=127.0.0.1", "1=224.0.0.1",
		"1=fe80::1", "1=198.51.100.1,,2001:db8::1", "1=198.51.100.0/24",
		"-1=198.51.100.1", "1=198.51.100.1 2",
	};
	struct ap_peers pe, before;
	char buf[AP_SC_PEERS_STRLEN], small[8];
	const char *why;
	unsigned int i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(ap_peers_parse(ok[i].in, (u32)strlen(ok[i].in), &pe, NULL), 0);
		assert_int_equal(ap_peers_format(&pe, buf, sizeof(buf)), strlen(ok[i].out));
		assert_string_equal(buf, ok[i].out);
		before = pe;
		assert_int_equal(ap_peers_parse(buf, (u32)strlen(buf), &pe, NULL), 0);
		assert_memory_equal(&pe, &before, sizeof(pe));
	}
	before = peers("5=198.51.100.5");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		pe = before;
		why = NULL;
		assert_int_equal(ap_peers_parse(bad[i], (u32)strlen(bad[i]), &pe, &why), -1);
		assert_non_null(why);
		assert_memory_equal(&pe, &before, sizeof(pe));
	}
	/* the length bounds the text: no NUL needed, nothing read past it */
	assert_int_equal(ap_peers_parse("1=198.51.100.1x", 14, &pe, NULL), 0);
	/* a short buffer keeps the start of the text */
	pe = peers("1=198.51.100.1");
	assert_int_equal(ap_peers_format(&pe, small, sizeof(small)), 7);
	assert_string_equal(small, "1=198.5");
	assert_int_equal(ap_peers_format(&pe, small, 0), 0);

	/* every id, both families: the longest value fits its bound */
	memset(&pe, 0, sizeof(pe));
	for (i = 1; i <= AP_SC_ID_MAX; i++) {
		pe.ids |= (u64)1 << i;
		pg_addr(&pe.peer[i].addr4, "223.255.255.254");
		pe.peer[i].addr4.b[2] = (u8)i;
		pg_addr(&pe.peer[i].addr6, "2001:db8:ffff:ffff:ffff:ffff:ffff:ff00");
		pe.peer[i].addr6.b[15] = (u8)i;
	}
	assert_true(ap_peers_format(&pe, buf, sizeof(buf)) < sizeof(buf) - 1);
	assert_int_equal(ap_peers_parse(buf, (u32)strlen(buf), &before, NULL), 0);
	assert_memory_equal(&pe, &before, sizeof(pe));
}

static void test_check(void **state)
{
	struct ap_peers none, two = peers("2=198.51.100.2 3=198.51.100.3");
	const char *why;

	(void)state;
	memset(&none, 0, sizeof(none));
	assert_int_equal(ap_sc_check(0, &none, NULL), 0);
	assert_int_equal(ap_sc_check(1, &none, NULL), 0);
	assert_int_equal(ap_sc_check(1, &two, NULL), 0);
	assert_int_equal(ap_sc_check(63, &two, NULL), 0);
	why = NULL;
	assert_int_equal(ap_sc_check(2, &two, &why), -1);
	assert_string_equal(why, "a peer has this instance's own id");
	assert_int_equal(ap_sc_check(0, &two, &why), -1);
	assert_string_equal(why, "peers need an instance id");
	assert_int_equal(ap_sc_check(64, &none, &why), -1);
}

static void test_opts_first(void **state)
{
	struct pg_tcp t;
	struct ap_pkt p;
	struct ap_opts o;
	u32 len;
	u8 bad_ts[8] = { AP_TCPOPT_TS, 8, 0, 0, 0, 1, AP_TCPOPT_NOP, AP_TCPOPT_NOP };

	(void)state;
	pg_tcp_init(&t, "192.0.2.1", "203.0.113.9", 443, 40000, AP_TCP_ACK);
	pg_tcp_add_opt(&t, bad_ts, sizeof(bad_ts));	/* wrong length: not taken */
	add_ts(&t, 1, 2);
	add_ts(&t, 3, 4);
	len = pg_build_tcp(pkt, &t, NULL);
	parse(&p, &o, len);
	assert_int_equal(o.ts_off, p.tcp_off + AP_TCP_HLEN_MIN + 8 + 2);
	assert_int_equal(o.mss_off, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stamp_math),
		cmocka_unit_test(test_stamp_pkt),
		cmocka_unit_test(test_stamp_skips),
		cmocka_unit_test(test_mss),
		cmocka_unit_test(test_decide),
		cmocka_unit_test(test_verdict),
		cmocka_unit_test(test_decide_icmp),
		cmocka_unit_test(test_peers_text),
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_opts_first),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
