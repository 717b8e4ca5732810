// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Writes the seed corpora of tests/fuzz/ (`make fuzz-seeds`): real packets
 * from pktgen, whole connections between the hosts of process.c as the
 * lab has them, configurations, and the tables the datapaths print,
 * formatted by the core itself. One file per seed, DIR/TARGET/NAME.
 *
 *	seeds DIR
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <anypin/flow.h>
#include <anypin/blackhole.h>
#include "pktgen.h"

static const char *dir;

static void out(const char *target, const char *name, const void *b, size_t n)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, target);
	if (mkdir(dir, 0755) && errno != EEXIST)
		goto fail;
	if (mkdir(path, 0755) && errno != EEXIST)
		goto fail;
	snprintf(path, sizeof(path), "%s/%s/%s", dir, target, name);
	f = fopen(path, "wb");
	if (!f || fwrite(b, 1, n, f) != n || fclose(f))
		goto fail;
	return;
fail:
	perror(path);
	exit(1);
}

/* The lab's addresses, as process.c configures its hosts. */
struct net {
	const char *c, *a, *u1, *u2, *router;
};

static const struct net net4 = {
	"203.0.113.10", "192.0.2.1", "198.51.100.11", "198.51.100.27", "203.0.113.1"
};

static const struct net net6 = {
	"2001:db8:c::10", "2001:db8:a::1", "2001:db8:1::11", "2001:db8:2::27", "2001:db8:c::1"
};

#define CAP	0x01	/* the capability option */
#define MSS	0x02	/* an MSS option */
#define MD5	0x04	/* a TCP-MD5 option */
#define TS	0x08	/* timestamps, TSval and TSecr from tcp_ts() */

static u32 tsval, tsecr;

static u32 tcp(u8 *buf, const char *src, const char *dst, u16 sport, u16 dport, u8 flags,
	       u32 seq, u32 ack, u32 paylen, unsigned int opts)
{
	static const u8 cap[] = { AP_OPT_KIND, AP_OPT_LEN, AP_EXID_DEFAULT >> 8,
				  AP_EXID_DEFAULT & 0xff };
	static const u8 mss[] = { 2, 4, 0x05, 0xb4 };
	static const u8 md5[18] = { AP_TCPOPT_MD5, 18, 0x5a };
	struct pg_tcp t;

	pg_tcp_init(&t, src, dst, sport, dport, flags);
	t.seq = seq;
	t.ack = ack;
	t.paylen = paylen;
	if (opts & CAP)
		pg_tcp_add_opt(&t, cap, sizeof(cap));
	if (opts & MSS)
		pg_tcp_add_opt(&t, mss, sizeof(mss));
	if (opts & MD5)
		pg_tcp_add_opt(&t, md5, sizeof(md5));
	if (opts & TS) {
		u8 ts[12] = { AP_TCPOPT_NOP, AP_TCPOPT_NOP, AP_TCPOPT_TS, AP_TCPOPT_TS_LEN };

		ap_put32(ts + 4, tsval);
		ap_put32(ts + 8, tsecr);
		pg_tcp_add_opt(&t, ts, sizeof(ts));
	}
	return pg_build_tcp(buf, &t, NULL);
}

/* tcp() with timestamps @val and @ecr. */
static u32 tcp_ts(u8 *buf, const char *src, const char *dst, u16 sport, u16 dport, u8 flags,
		  u32 paylen, unsigned int opts, u32 val, u32 ecr)
{
	tsval = val;
	tsecr = ecr;
	return tcp(buf, src, dst, sport, dport, flags, 7000, flags & AP_TCP_ACK ? 9000 : 0,
		   paylen, opts | TS);
}

/* An ICMP error from @router to @dst about the first @inlen bytes of @inner. */
static u32 icmp(u8 *buf, const char *router, const char *dst, bool v6, const u8 *inner,
		u32 inlen)
{
	struct pg_icmp e;

	pg_icmp_init(&e, router, dst, v6 ? 2 : 3, v6 ? 0 : 4);
	e.rest = 1280;
	return pg_build_icmp(buf, &e, inner, inlen, NULL);
}

/* ---- parse: 2 bytes of headlen, the packet ---- */

static void parse_seed(const char *name, u16 head, const u8 *pkt, u32 len)
{
	static u8 b[2 + PG_BUF_MAX];

	b[0] = (u8)(head >> 8);
	b[1] = (u8)head;
	memcpy(b + 2, pkt, len);
	out("parse", name, b, 2 + len);
}

static void parse_seeds(void)
{
	static u8 p[PG_BUF_MAX], q[PG_BUF_MAX];
	static const u8 ts[] = { 1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0 };
	static const u8 md5[] = { 19, 18, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
	struct pg_tcp t;
	u32 n, m;

	n = tcp(p, net4.c, net4.a, 40000, 80, AP_TCP_SYN, 1000, 0, 0, CAP | MSS);
	parse_seed("syn4", 0, p, n);
	parse_seed("syn4-head20", 20, p, n);
	n = tcp(p, net6.c, net6.a, 40000, 80, AP_TCP_SYN, 1000, 0, 0, CAP | MSS);
	parse_seed("syn6", 0, p, n);
	parse_seed("syn6-head40", 40, p, n);
	n = tcp(p, net4.u1, net4.c, 80, 40000, AP_TCP_SYN | AP_TCP_ACK, 5000, 1001, 0, CAP);
	parse_seed("synack4", 0, p, n);
	n = tcp(p, net4.c, net4.u1, 40000, 80, AP_TCP_ACK, 1001, 5001, 100, 0);
	parse_seed("ack4-data", 30, p, n);

	/* IPv4 options, TCP options of every kind, TCP-MD5 */
	pg_tcp_init(&t, net4.c, net4.a, 40001, 443, AP_TCP_SYN);
	t.ipoptlen = 8;
	memset(t.ipopts, 1, 7);
	pg_tcp_add_opt(&t, ts, sizeof(ts));
	pg_tcp_add_opt(&t, md5, sizeof(md5));
	n = pg_build_tcp(p, &t, NULL);
	parse_seed("syn4-ipopts-md5", 24, p, n);

	/* IPv6 extension headers */
	pg_tcp_init(&t, net6.c, net6.a, 40002, 443, AP_TCP_SYN | AP_TCP_ACK);
	t.ext[0].type = PG_IPPROTO_HOPOPTS;
	t.ext[1].type = PG_IPPROTO_ROUTING;
	t.ext[1].len8 = 2;
	t.ext[2].type = PG_IPPROTO_DSTOPTS;
	t.n_ext = 3;
	t.paylen = 7;
	n = pg_build_tcp(p, &t, NULL);
	parse_seed("synack6-ext", 48, p, n);

	/* ICMP errors about TCP packets, IPv4 and IPv6 */
	tcp(q, net4.c, net4.u1, 40000, 80, AP_TCP_ACK, 1001, 5001, 1400, 0);
	n = icmp(p, net4.router, net4.c, false, q, 28);
	parse_seed("icmp4-frag-needed", 0, p, n);
	n = icmp(p, net4.router, net4.c, false, q, 48);
	parse_seed("icmp4-head36", 36, p, n);
	tcp(q, net6.c, net6.u1, 40000, 80, AP_TCP_ACK, 1001, 5001, 1400, 0);
	n = icmp(p, net6.router, net6.c, true, q, 1232);
	parse_seed("icmp6-too-big", 0, p, n);
	pg_tcp_init(&t, net6.c, net6.u1, 40000, 80, AP_TCP_SYN);
	t.ext[0].type = PG_IPPROTO_FRAGMENT;
	t.n_ext = 1;
	m = pg_build_tcp(q, &t, NULL);
	n = icmp(p, net6.router, net6.c, true, q, m);
	parse_seed("icmp6-inner-frag", 56, p, n);

	/* A jumbogram's Hop-by-Hop header, its length cut short. */
	pg_tcp_init(&t, net6.c, net6.a, 40000, 80, AP_TCP_ACK);
	t.ext[0].type = PG_IPPROTO_HOPOPTS;
	t.n_ext = 1;
	n = pg_build_tcp(p, &t, NULL);
	p[4] = p[5] = 0;
	p[40 + 2] = 0xc2;
	p[40 + 3] = 4;
	p[40 + 4] = 0;
	p[40 + 5] = 1;
	p[40 + 6] = 0;
	p[40 + 7] = 0;
	parse_seed("jumbo6-short", 0, p, n);
}

/* ---- process: records (ctl, tick, head, len16, packet) ---- */

#define H_CLIENT	0
#define H_INST		1
#define H_BOTH		2
#define K_IN		(0 << 2)
#define K_OUT		(1 << 2)
#define K_POST		(2 << 2)
#define K_TUNNEL	(3 << 2)	/* IN, decapsulated from a peer */
#define H_LOCAL		3		/* the instance, a socket taking everything */
#define PSEUDO		0x10
#define FIX		0x20
#define SWEEP		0x40
#define BIG		0x80

struct seq {
	u8 b[16384];
	size_t n;
	unsigned int extra;	/* ORed into every ctl */
};

static void rec(struct seq *s, u8 ctl, u8 tick, const u8 *pkt, u32 len)
{
	u8 *r = s->b + s->n;

	if (s->n + 5 + len > sizeof(s->b)) {
		fprintf(stderr, "seeds: a sequence is too long\n");
		exit(1);
	}
	r[0] = ctl | (u8)s->extra;
	r[1] = tick;
	r[2] = 0;
	r[3] = (u8)(len >> 8);
	r[4] = (u8)len;
	memcpy(r + 5, pkt, len);
	s->n += 5 + len;
}

/* A whole pinned connection, the way test_process.c's connection() goes. */
static void connection(struct seq *s, const struct net *n, bool v6)
{
	static u8 p[PG_BUF_MAX], q[PG_BUF_MAX];
	u32 len;

	len = tcp(p, n->c, n->a, 40000, 80, AP_TCP_SYN, 1000, 0, 0, MSS);
	rec(s, H_CLIENT | K_OUT, 0, p, len);
	len = tcp(p, n->c, n->a, 40000, 80, AP_TCP_SYN, 1000, 0, 0, CAP | MSS);
	rec(s, H_INST | K_IN, 0, p, len);
	len = tcp(p, n->a, n->c, 80, 40000, AP_TCP_SYN | AP_TCP_ACK, 5000, 1001, 0, MSS);
	rec(s, H_INST | K_POST, 0, p, len);
	len = tcp(p, n->u1, n->c, 80, 40000, AP_TCP_SYN | AP_TCP_ACK, 5000, 1001, 0, CAP | MSS);
	rec(s, H_CLIENT | K_IN, 1, p, len);
	len = tcp(p, n->c, n->a, 40000, 80, AP_TCP_ACK | AP_TCP_PSH, 1001, 5001, 33, 0);
	rec(s, H_CLIENT | K_OUT, 0, p, len);
	len = tcp(p, n->c, n->u1, 40000, 80, AP_TCP_ACK | AP_TCP_PSH, 1001, 5001, 33, 0);
	rec(s, H_INST | K_IN, 0, p, len);
	len = tcp(p, n->a, n->c, 80, 40000, AP_TCP_ACK, 5001, 1034, 120, 0);
	rec(s, H_INST | K_POST, 1, p, len);
	len = tcp(p, n->u1, n->c, 80, 40000, AP_TCP_ACK, 5001, 1034, 120, 0);
	rec(s, H_CLIENT | K_IN, 0, p, len);
	/* errors about packets to U1 (at the client) and from U1 (at inst1) */
	tcp(q, n->c, n->u1, 40000, 80, AP_TCP_ACK, 1034, 5121, 1400, 0);
	len = icmp(p, n->router, n->c, v6, q, v6 ? 1232 : 48);
	rec(s, H_CLIENT | K_IN, 0, p, len);
	tcp(q, n->u1, n->c, 80, 40000, AP_TCP_ACK, 5121, 1034, 1400, 0);
	len = icmp(p, n->router, n->u1, v6, q, v6 ? 1232 : 28);
	rec(s, H_INST | K_IN, 0, p, len);
	/* closing */
	len = tcp(p, n->c, n->a, 40000, 80, AP_TCP_ACK | AP_TCP_FIN, 1034, 5121, 0, 0);
	rec(s, H_CLIENT | K_OUT, 0, p, len);
	len = tcp(p, n->c, n->u1, 40000, 80, AP_TCP_ACK | AP_TCP_FIN, 1034, 5121, 0, 0);
	rec(s, H_INST | K_IN, 0, p, len);
	len = tcp(p, n->a, n->c, 80, 40000, AP_TCP_ACK | AP_TCP_FIN, 5121, 1035, 0, 0);
	rec(s, H_INST | K_POST, 2, p, len);
	len = tcp(p, n->u1, n->c, 80, 40000, AP_TCP_ACK | AP_TCP_FIN, 5121, 1035, 0, 0);
	rec(s, H_CLIENT | K_IN, 0, p, len);
	len = tcp(p, n->c, n->a, 40000, 80, AP_TCP_ACK, 1035, 5122, 0, 0);
	rec(s, H_CLIENT | K_OUT, 6, p, len);
}

/* A second instance answers too: dropped, and reset with a RST. */
static void second_responder(struct seq *s, const struct net *n)
{
	static u8 p[PG_BUF_MAX];
	u32 len;

	len = tcp(p, n->c, n->a, 40000, 80, AP_TCP_SYN, 1000, 0, 0, MSS);
	rec(s, H_CLIENT | K_OUT, 0, p, len);
	len = tcp(p, n->u1, n->c, 80, 40000, AP_TCP_SYN | AP_TCP_ACK, 5000, 1001, 0, CAP);
	rec(s, H_CLIENT | K_IN, 0, p, len);
	len = tcp(p, n->u2, n->c, 80, 40000, AP_TCP_SYN | AP_TCP_ACK, 9000, 1001, 0, CAP);
	rec(s, H_CLIENT | K_IN, 0, p, len);
	/* the RST reaches the second instance (the "both" host) at U2 */
	len = tcp(p, n->c, n->a, 40000, 80, AP_TCP_SYN, 1000, 0, 0, CAP | MSS);
	rec(s, H_BOTH | K_IN, 0, p, len);
	len = tcp(p, n->c, n->u2, 40000, 80, AP_TCP_RST, 1001, 0, 0, 0);
	rec(s, H_BOTH | K_IN, 0, p, len);
}

/* The SYN-ACK from U is lost; the retried SYN goes plain; A is a blackhole. */
static void fallback(struct seq *s, const struct net *n)
{
	static u8 p[PG_BUF_MAX];
	u32 len;

	len = tcp(p, n->c, n->a, 40000, 80, AP_TCP_SYN, 1000, 0, 0, MSS);
	rec(s, H_CLIENT | K_OUT, 0, p, len);
	rec(s, H_CLIENT | K_OUT, 1, p, len);
	len = tcp(p, n->c, n->a, 40000, 80, AP_TCP_SYN, 1000, 0, 0, CAP | MSS);
	rec(s, H_INST | K_IN, 0, p, len);
	len = tcp(p, n->c, n->a, 40000, 80, AP_TCP_SYN, 1000, 0, 0, MSS);
	rec(s, H_INST | K_IN, 1, p, len);
	len = tcp(p, n->a, n->c, 80, 40000, AP_TCP_SYN | AP_TCP_ACK, 5000, 1001, 0, MSS);
	rec(s, H_CLIENT | K_IN, 0, p, len);
	len = tcp(p, n->c, n->a, 40001, 80, AP_TCP_SYN, 7000, 0, 0, MSS);
	rec(s, H_CLIENT | K_OUT, 3, p, len);
	/* past the blackhole's period: capable again */
	rec(s, H_CLIENT | K_OUT | SWEEP, 30, p, len);
}

/* On probation after a blackhole: capable again, blackholed again, for longer. */
static void fallback_again(struct seq *s)
{
	static u8 p[PG_BUF_MAX];
	u32 len;
	int i;

	for (i = 0; i < 2; i++) {
		len = tcp(p, net4.c, net4.a, (u16)(40000 + i), 80, AP_TCP_SYN,
			  1000u * (i + 1), 0, 0, MSS);
		rec(s, H_CLIENT | K_OUT, i ? 12 : 0, p, len);
		rec(s, H_CLIENT | K_OUT, 1, p, len);
		len = tcp(p, net4.a, net4.c, 80, (u16)(40000 + i), AP_TCP_SYN | AP_TCP_ACK,
			  5000, 1000u * (i + 1) + 1, 0, MSS);
		rec(s, H_CLIENT | K_IN, 0, p, len);
	}
}

/* One local port to two anycast addresses answered by the same instance. */
static void collision(struct seq *s)
{
	static u8 p[PG_BUF_MAX];
	u32 len;

	len = tcp(p, net4.c, net4.a, 40000, 80, AP_TCP_SYN, 1000, 0, 0, MSS);
	rec(s, H_CLIENT | K_OUT, 0, p, len);
	len = tcp(p, net4.u1, net4.c, 80, 40000, AP_TCP_SYN | AP_TCP_ACK, 5000, 1001, 0, CAP);
	rec(s, H_CLIENT | K_IN, 0, p, len);
	len = tcp(p, net4.c, "192.0.2.2", 40000, 80, AP_TCP_SYN, 3000, 0, 0, MSS);
	rec(s, H_CLIENT | K_OUT, 0, p, len);
	len = tcp(p, net4.u1, net4.c, 80, 40000, AP_TCP_SYN | AP_TCP_ACK, 8000, 3001, 0, CAP);
	rec(s, H_CLIENT | K_IN, 0, p, len);
	/* and a SYN-ACK signed with TCP-MD5, not ours to bind */
	len = tcp(p, net6.c, net6.a, 40000, 80, AP_TCP_SYN, 1000, 0, 0, MSS);
	rec(s, H_CLIENT | K_OUT, 0, p, len);
	len = tcp(p, net6.u1, net6.c, 80, 40000, AP_TCP_SYN | AP_TCP_ACK, 5000, 1001, 0,
		  CAP | MD5);
	rec(s, H_CLIENT | K_IN, 0, p, len);
}

/* Bound flows are never evicted: with max_flows of them, a new SYN goes plain. */
static void full(struct seq *s)
{
	static u8 p[PG_BUF_MAX];
	u32 len;
	u16 i;

	for (i = 0; i < 7; i++) {
		len = tcp(p, net4.c, net4.a, 42000 + i, 80, AP_TCP_SYN, 1000, 0, 0, MSS);
		rec(s, H_CLIENT | K_OUT, 0, p, len);
		len = tcp(p, net4.u1, net4.c, 80, 42000 + i, AP_TCP_SYN | AP_TCP_ACK, 5000, 1001,
			  0, CAP);
		rec(s, H_CLIENT | K_IN, 0, p, len);
	}
}

/* The host with both roles retries its SYN to dns: twice capable, then plain. */
static void retries(struct seq *s)
{
	static u8 p[PG_BUF_MAX];
	u32 len;

	len = tcp(p, "198.51.100.27", "203.0.113.53", 50000, 53, AP_TCP_SYN, 1, 0, 0, MSS);
	rec(s, H_BOTH | K_OUT, 0, p, len);
	rec(s, H_BOTH | K_OUT, 1, p, len);
	rec(s, H_BOTH | K_OUT, 2, p, len);
	len = tcp(p, "203.0.113.53", "198.51.100.27", 53, 50000, AP_TCP_SYN | AP_TCP_ACK,
		  7, 2, 0, MSS);
	rec(s, H_BOTH | K_IN, 0, p, len);
}

/* More attempts than max_flows, then time for them to expire. */
static void churn(struct seq *s)
{
	static u8 p[PG_BUF_MAX];
	u32 len;
	u16 i;

	for (i = 0; i < 8; i++) {
		len = tcp(p, net4.c, i & 1 ? "192.0.2.200" : net4.a, 41000 + i, 80, AP_TCP_SYN,
			  100 * i, 0, 0, MSS);
		rec(s, H_CLIENT | K_OUT, 0, p, len);
		len = tcp(p, net4.c, net4.a, 41000 + i, 80, AP_TCP_SYN, 100 * i, 0, 0, CAP);
		rec(s, H_INST | K_IN, 0, p, len);
	}
	len = tcp(p, net4.u1, net4.c, 80, 41006, AP_TCP_SYN | AP_TCP_ACK, 5000, 601, 0, CAP);
	rec(s, H_CLIENT | K_IN, 0, p, len);
	rec(s, H_CLIENT | SWEEP, 10, p, 0);
	rec(s, H_INST | SWEEP, 10, p, 0);
}

/* The host with both roles: a client of dns, a responder of svc. */
static void both(struct seq *s)
{
	static u8 p[PG_BUF_MAX];
	u32 len;

	len = tcp(p, "198.51.100.27", "203.0.113.53", 50000, 53, AP_TCP_SYN, 1, 0, 0, 0);
	rec(s, H_BOTH | K_OUT, 0, p, len);
	len = tcp(p, "198.51.100.99", "198.51.100.27", 53, 50000,
		  AP_TCP_SYN | AP_TCP_ACK, 77, 2, 0, CAP);
	rec(s, H_BOTH | K_IN, 0, p, len);
	len = tcp(p, "203.0.113.10", "192.0.2.1", 40000, 80, AP_TCP_SYN, 1, 0, 0, CAP);
	rec(s, H_BOTH | K_IN, 0, p, len);
	len = tcp(p, "192.0.2.1", "203.0.113.10", 80, 40000, AP_TCP_SYN | AP_TCP_ACK,
		  9, 2, 0, 0);
	rec(s, H_BOTH | K_POST, 0, p, len);
}

/*
 * The second chance: a client without anypin, answered by the instance
 * (id 1) from A, its MSS lowered and later segments stamped; the route
 * flips and the other host (id 2) sends its segments on, within its
 * budget; the instance gets one through the tunnel; an ICMP error about
 * a stamped segment reaches id 2 too.
 */
static void second_chance(struct seq *s, const struct net *n, bool v6)
{
	static u8 p[PG_BUF_MAX], q[PG_BUF_MAX];
	u32 len;
	int i;

	len = tcp_ts(p, n->c, n->a, 40000, 80, AP_TCP_SYN, 0, MSS, 1000, 0);
	rec(s, H_INST | K_IN, 0, p, len);
	len = tcp_ts(p, n->a, n->c, 80, 40000, AP_TCP_SYN | AP_TCP_ACK, 0, MSS, 5000, 1000);
	rec(s, H_INST | K_POST, 0, p, len);
	len = tcp_ts(p, n->a, n->c, 80, 40000, AP_TCP_ACK | AP_TCP_PSH, 100, 0, 5003, 1000);
	rec(s, H_INST | K_POST, 0, p, len);
	/* TSecr 5057 names id 1 */
	len = tcp_ts(p, n->c, n->a, 40000, 80, AP_TCP_ACK, 20, 0, 1001, 5057);
	rec(s, H_INST | K_IN, 0, p, len);
	for (i = 0; i < 3; i++)
		rec(s, H_BOTH | K_IN, 0, p, len);
	rec(s, H_INST | K_TUNNEL, 1, p, len);
	/* naming id 2 where a socket takes it */
	len = tcp_ts(p, n->c, n->a, 40001, 80, AP_TCP_ACK, 0, 0, 1001, 64 + 2);
	rec(s, H_LOCAL | K_IN, 0, p, len);
	rec(s, H_INST | K_IN, 0, p, len);
	tcp_ts(q, n->a, n->c, 80, 40000, AP_TCP_ACK, 1400, 0, 5057, 1001);
	len = icmp(p, n->router, n->a, v6, q, v6 ? 1232 : 60);
	rec(s, H_BOTH | K_IN, 1, p, len);
}

static void process_seed(const char *name, void (*fn)(struct seq *s), unsigned int extra)
{
	static struct seq s;

	s.n = 0;
	s.extra = extra;
	fn(&s);
	out("process", name, s.b, s.n);
}

static void conn4(struct seq *s) { connection(s, &net4, false); }
static void conn6(struct seq *s) { connection(s, &net6, true); }
static void second4(struct seq *s) { second_responder(s, &net4); }
static void second6(struct seq *s) { second_responder(s, &net6); }
static void fallback4(struct seq *s) { fallback(s, &net4); }
static void fallback6(struct seq *s) { fallback(s, &net6); }
static void sc4(struct seq *s) { second_chance(s, &net4, false); }
static void sc6(struct seq *s) { second_chance(s, &net6, true); }

/* BIG TCP: IPv4 with total length 0, IPv6 with a Jumbo Payload option. */
static void big(struct seq *s)
{
	static u8 p[PG_BUF_MAX];
	struct pg_tcp t;
	u32 len;

	len = tcp(p, net4.c, net4.a, 40000, 80, AP_TCP_SYN, 1000, 0, 0, MSS);
	rec(s, H_CLIENT | K_OUT, 0, p, len);
	len = tcp(p, net4.u1, net4.c, 80, 40000, AP_TCP_SYN | AP_TCP_ACK, 5000, 1001, 0, CAP);
	rec(s, H_CLIENT | K_IN, 0, p, len);
	len = tcp(p, net4.c, net4.a, 40000, 80, AP_TCP_ACK, 1001, 5001, 0, 0);
	p[2] = p[3] = 0;
	rec(s, H_CLIENT | K_OUT | BIG, 0, p, len);
	/* no room for the option in a SYN that big */
	len = tcp(p, net4.c, net4.a, 40001, 80, AP_TCP_SYN, 1000, 0, 0, MSS);
	p[2] = p[3] = 0;
	rec(s, H_CLIENT | K_OUT | BIG, 0, p, len);

	pg_tcp_init(&t, net6.c, net6.a, 40000, 80, AP_TCP_ACK);
	t.ext[0].type = PG_IPPROTO_HOPOPTS;
	t.n_ext = 1;
	len = pg_build_tcp(p, &t, NULL);
	p[4] = p[5] = 0;
	p[40 + 2] = 0xc2;
	p[40 + 3] = 4;
	p[40 + 4] = 0;
	p[40 + 5] = 1;
	p[40 + 6] = 0;
	p[40 + 7] = 0x18;
	rec(s, H_CLIENT | K_OUT | BIG, 0, p, len);
}

static void process_seeds(void)
{
	process_seed("conn4", conn4, 0);
	process_seed("conn6", conn6, 0);
	process_seed("conn4-csum", conn4, FIX);
	process_seed("conn6-pseudo", conn6, FIX | PSEUDO);
	process_seed("second4", second4, FIX);
	process_seed("second6", second6, 0);
	process_seed("fallback4", fallback4, FIX);
	process_seed("fallback6", fallback6, FIX | PSEUDO);
	process_seed("fallback-again", fallback_again, FIX);
	process_seed("collision", collision, FIX);
	process_seed("retries", retries, PSEUDO | FIX);
	process_seed("full", full, 0);
	process_seed("churn", churn, 0);
	process_seed("both", both, FIX);
	process_seed("big", big, 0);
	process_seed("sc4", sc4, FIX);
	process_seed("sc6-pseudo", sc6, FIX | PSEUDO);
}

/* ---- conf_parse: texts; conf_set: base, size, key=value ---- */

static void text_seed(const char *target, const char *name, const char *s)
{
	out(target, name, s, strlen(s));
}

static void conf_seeds(void)
{
	static const struct {
		const char *name, *ok, *bad;
	} sets[] = {
		{ "prefixes", "net.anypin.prefixes=svc=192.0.2.0/24 new=10.0.0.0/8",
		  "net.anypin.prefixes=svc=192.0.2.0/24 svc=10.0.0.0/8" },
		{ "max_flows", "net.anypin.max_flows=100", "net.anypin.max_flows=0" },
		{ "exid", "net/anypin/exid=0xA7C1", "net/anypin/exid=0x10000" },
		{ "syn_timeout", "net.anypin.syn_timeout=75", "net.anypin.syn_timeout=3601" },
		{ "idle_timeout", "net.anypin.idle_timeout=2592000", "net.anypin.idle_timeout=-1" },
		{ "fin_timeout", "net.anypin.fin_timeout = 60\n", "net.anypin.fin_timeout=1 2" },
		{ "fallback", "net.anypin.fallback_retries=10", "net.anypin.fallback_retries=11" },
		{ "blackhole", "net.anypin.blackhole_timeout=86400",
		  "net.anypin.blackhole_timeout=4294967296" },
		{ "role", "net.anypin.prefix.svc.role=responder", "net.anypin.prefix.svc.role=server" },
		{ "unicast", "net.anypin.prefix.svc.unicast=198.51.100.7, 2001:db8:1::7",
		  "net.anypin.prefix.svc.unicast=198.51.100.7 198.51.100.8" },
		{ "responders", "net.anypin.prefix.svc.responders=198.51.100.0/24,2001:db8::/32",
		  "net.anypin.prefix.svc.responders=198.51.100.0/33" },
		{ "ports", "net.anypin.prefix.web.ports=53,443,8000-8100",
		  "net.anypin.prefix.web.ports=8100-8000" },
		{ "enabled", "net/anypin/prefix/svc6/enabled=0", "net/anypin/prefix/svc6/enabled=2" },
	};
	/* On the base of a datapath that applies the second chance (3), and not (2). */
	static const struct {
		const char *name, *kv;
		char base;
	} sc_sets[] = {
		{ "instance", "net.anypin.prefix.svc6.instance=7", 3 },
		{ "instance-bad", "net.anypin.prefix.svc.instance=64", 3 },
		{ "instance-unsupported", "net.anypin.prefix.svc.instance=1", 2 },
		{ "peers", "net.anypin.prefix.svc.peers=1=198.51.100.1,2001:db8:1::1 2=198.51.100.2",
		  3 },
		{ "peers-bad", "net.anypin.prefix.svc.peers=1=198.51.100.1 1=198.51.100.2", 3 },
		{ "forward_rate", "net.anypin.forward_rate=10000000", 3 },
		{ "forward_rate-bad", "net.anypin.forward_rate=0", 1 },
	};
	char b[512], name[64];
	size_t i;
	int base;

	/* Each key written right on both base configurations, and wrong. */
	for (i = 0; i < sizeof(sets) / sizeof(sets[0]); i++) {
		for (base = 0; base < 3; base++) {
			b[0] = (char)(base ? base : 1);
			b[1] = (char)(i * 7);
			snprintf(b + 2, sizeof(b) - 2, "%s", base ? sets[i].ok : sets[i].bad);
			snprintf(name, sizeof(name), "%s-%s%d", sets[i].name, base ? "" : "bad",
				 base ? base : 1);
			out("conf_set", name, b, 2 + strlen(b + 2));
		}
	}

	for (i = 0; i < sizeof(sc_sets) / sizeof(sc_sets[0]); i++) {
		b[0] = sc_sets[i].base;
		b[1] = (char)(i * 11);
		snprintf(b + 2, sizeof(b) - 2, "%s", sc_sets[i].kv);
		out("conf_set", sc_sets[i].name, b, 2 + strlen(b + 2));
	}

	text_seed("conf_parse", "client",
		  "# a client of two services\n"
		  "net.anypin.prefixes = dns=192.0.2.0/24 web6=2001:db8:a::/48\n"
		  "net.anypin.prefix.dns.responders = 198.51.100.0/24\n"
		  "-net.anypin.prefix.web6.ports = 443\n"
		  "; the rest are defaults\n"
		  "net/anypin/max_flows = 65536\n");
	text_seed("conf_parse", "responder",
		  "net.anypin.prefixes = svc=192.0.2.0/24 svc6=2001:db8:a::/48\n"
		  "net.anypin.prefix.svc.role = responder\n"
		  "net.anypin.prefix.svc.unicast = 198.51.100.11\n"
		  "net.anypin.prefix.svc6.role = responder\n"
		  "net.anypin.prefix.svc6.unicast = 198.51.100.11, 2001:db8:1::11\n");
	text_seed("conf_parse", "carve",
		  "net.anypin.prefixes = all=10.0.0.0/8 local=10.1.0.0/16 v6=::/0\n"
		  "net.anypin.prefix.local.enabled = 0\n"
		  "net.anypin.exid = 0x1234\n"
		  "net.anypin.fallback_retries = 0\n"
		  "net.anypin.blackhole_timeout = 3600\n"
		  "net.anypin.syn_timeout = 30\n"
		  "net.anypin.idle_timeout = 600\n"
		  "net.anypin.fin_timeout = 10\n");
	text_seed("conf_parse", "refused",
		  "net.anypin.prefixes = svc=192.0.2.0/24\n"
		  "net.anypin.prefix.svc.role = responder\n");
	text_seed("conf_parse", "second-chance",
		  "net.anypin.prefixes = svc=192.0.2.0/24 svc6=2001:db8:a::/48\n"
		  "net.anypin.prefix.svc.role = responder\n"
		  "net.anypin.prefix.svc.unicast = 198.51.100.11 2001:db8:1::11\n"
		  "net.anypin.prefix.svc.instance = 1\n"
		  "net.anypin.prefix.svc.peers = 2=198.51.100.27,2001:db8:2::27 3=198.51.100.99\n"
		  "net.anypin.prefix.svc6.role = responder\n"
		  "net.anypin.prefix.svc6.unicast = 2001:db8:1::11\n"
		  "net.anypin.forward_rate = 5000\n");
	text_seed("conf_parse", "second-chance-refused",
		  "net.anypin.prefixes = svc=192.0.2.0/24\n"
		  "net.anypin.prefix.svc.role = responder\n"
		  "net.anypin.prefix.svc.unicast = 198.51.100.11\n"
		  "net.anypin.prefix.svc.instance = 1\n"
		  "net.anypin.prefix.svc.peers = 2=192.0.2.2\n");
	text_seed("conf_parse", "crlf",
		  "  net.anypin.prefixes=a=2001:db8::/32\r\n"
		  "-net.anypin.prefix.zz.enabled = 1\r\n"
		  "net.anypin.prefix.a.ports = 1-65535\r\n");
}

/* ---- tab: size for text_show, then a table as the datapath prints it ---- */

static void tab_seeds(void)
{
	char b[8192];
	u32 n = 1;
	struct ap_conf c;
	struct ap_flow f;
	struct ap_bh bh;
	u64 v[AP_STAT_MAX];
	const char *why;
	int i;

	ap_conf_init(&c);
	if (ap_conf_set(&c, "net.anypin.prefixes", 19, "svc=192.0.2.0/24", 16, &why))
		exit(1);

	b[0] = 40;
	n += (u32)snprintf(b + n, sizeof(b) - n, "%s", AP_FLOW_HEADER);
	memset(&f, 0, sizeof(f));
	pg_addr(&f.key.addr, net4.c);
	f.key.port = htons(40000);
	f.key.svc_port = htons(80);
	pg_addr(&f.anycast, net4.a);
	pg_addr(&f.unicast, net4.u1);
	f.state = 1;
	f.last = 90;
	n += ap_flow_format(&f, &c, 100, b + n, sizeof(b) - n);
	f.key.role = AP_ROLE_RESPONDER;
	pg_addr(&f.key.addr, net6.c);
	memset(&f.anycast, 0, sizeof(f.anycast));
	n += ap_flow_format(&f, &c, 100, b + n, sizeof(b) - n);
	out("tab", "flows", b, n);

	n = 1;
	b[0] = 12;
	n += ap_stats_header(b + n, sizeof(b) - n);
	for (i = 0; i < AP_STAT_MAX; i++)
		v[i] = (u64)i * 1000003u;
	n += ap_stats_row("svc", v, b + n, sizeof(b) - n);
	v[0] = ~0ULL;
	n += ap_stats_row("total", v, b + n, sizeof(b) - n);
	out("tab", "stats", b, n);

	n = 1;
	b[0] = (char)255;
	n += (u32)snprintf(b + n, sizeof(b) - n, "%s", AP_BH_HEADER);
	memset(&bh, 0, sizeof(bh));
	pg_addr(&bh.addr, net6.a);
	bh.until = 160;
	bh.forget = 220;
	bh.detections = 3;
	n += ap_bh_format(&bh, 100, b + n, sizeof(b) - n);
	out("tab", "blackholes", b, n);

	/* Cells no datapath prints: escapes, UTF-8 and not, numbers that are not. */
	text_seed("tab", "odd",
		  "\x08name \"q\" back\\slash caf\xc3\xa9\n"
		  "0123 18446744073709551616 \xed\xa0\x80\xff \t-\r\n"
		  "\n"
		  "0 1 \xf0\x9f\x98\x80 \x01\x7f\n");
	text_seed("tab", "bad", "\x10" "a b c\n1 2\n");
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: seeds DIR\n");
		return 2;
	}
	dir = argv[1];
	parse_seeds();
	process_seeds();
	conf_seeds();
	tab_seeds();
	return 0;
}
