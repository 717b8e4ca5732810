// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * anypind's second chance programs (userspace/bpf/second.bpf.c), run by
 * the kernel on the test's frames (BPF_PROG_TEST_RUN), loaded and filled
 * by anypind's own second_set() from a parsed configuration: the stamp and
 * the MSS on the way out; on the way in, the outer header taken off what a
 * prefix's own peers send it, the forward to the peer a TSecr (an error's
 * quoted TSval) names unless a socket here takes the segment or there is
 * no route to the peer (where the device does not forward, as anypind
 * asked rtnetlink, after its notifications), and what cannot be parsed
 * left as it came; and the filters following the devices by their
 * notifications. In a network namespace of its own, so that no device
 * gets the filters but the test's own and the socket lookups and routes
 * are the test's alone; skipped where it cannot have one or load a
 * program (not root).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/if_link.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>
#include <linux/rtnetlink.h>
#include <libmnl/libmnl.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cmocka.h>

#include <anypin/second.h>
#include "pktgen.h"
#include "second.h"
#include "table.h"

#define ETH		14
#define PORT		80		/* the prefixes' one port */
#define CPORT		40000		/* the client's */

/* Instance 1 everywhere; "web" has peer 2, "other" peer 3; port 80 only. */
#define PREFIX(name, unicast, peers)					\
	"net.anypin.prefix." name ".role = responder\n"			\
	"net.anypin.prefix." name ".unicast = " unicast "\n"		\
	"net.anypin.prefix." name ".ports = 80\n"			\
	"net.anypin.prefix." name ".instance = 1\n"			\
	"net.anypin.prefix." name ".peers = " peers "\n"

#define WEB_U	"198.51.100.1 2001:db8:1::1"
#define WEB_P	"2=198.51.100.2,2001:db8:1::2"
#define OTHER_U	"198.51.100.9 2001:db8:1::9"
#define OTHER_P	"3=198.51.100.3,2001:db8:1::3"

#define CONF								\
	"net.anypin.prefixes = web=192.0.2.0/24 web6=2001:db8:a::/48"	\
	" other=203.0.113.0/24 other6=2001:db8:b::/48\n"		\
	PREFIX("web", WEB_U, WEB_P) PREFIX("web6", WEB_U, WEB_P)	\
	PREFIX("other", OTHER_U, OTHER_P) PREFIX("other6", OTHER_U, OTHER_P)

enum { WEB, WEB6, OTHER, OTHER6 };	/* the prefixes' indices */

/* The addresses of a family. */
struct fam {
	u8 family;
	u8 web, other;			/* prefix indices */
	const char *a, *a_other;	/* in web, in other */
	const char *own, *own_other;	/* their unicast addresses */
	const char *peer2, *peer3, *stranger;
	const char *client, *router, *loopback;
	u8 icmp_type, icmp_code;	/* frag needed, packet too big */
	u32 hlen;			/* an outer header */
	u16 overhead;			/* what a SYN-ACK's MSS loses */
};

static const struct fam fams[] = {
	{ AP_AF_INET, WEB, OTHER, "192.0.2.10", "203.0.113.10", "198.51.100.1",
	  "198.51.100.9", "198.51.100.2", "198.51.100.3", "198.51.100.77", "100.64.0.7",
	  "100.64.9.9", "127.0.0.1", 3, 4, 20, 20 },
	{ AP_AF_INET6, WEB6, OTHER6, "2001:db8:a::10", "2001:db8:b::10", "2001:db8:1::1",
	  "2001:db8:1::9", "2001:db8:1::2", "2001:db8:1::3", "2001:db8:1::77",
	  "2001:db8:c0::7", "2001:db8:c0::9", "::1", 2, 0, 40, 40 },
};

#define FOR_FAM(f)	for ((f) = fams; (f) < fams + 2; (f)++)

static struct ap_conf conf, limited;	/* the second: forward_rate 2 */
static struct table *tab;
static const char *skip_why;	/* no namespace or no BPF here: skipped */
static char load_err[512];	/* what refused the programs: a failure */

static u8 in[PG_BUF_MAX], out[PG_BUF_MAX], want[PG_BUF_MAX], tmp[PG_BUF_MAX];
static u32 outlen;

static void ready(void)
{
	if (skip_why)
		skip();
	if (load_err[0])
		fail_msg("%s", load_err);
}

static u16 rd16(const u8 *b)
{
	return (u16)(b[0] << 8 | b[1]);
}

static u32 rd32(const u8 *b)
{
	return (u32)rd16(b) << 16 | rd16(b + 2);
}

static void wr16(u8 *b, u32 v)
{
	b[0] = (u8)(v >> 8);
	b[1] = (u8)v;
}

static void wr32(u8 *b, u32 v)
{
	wr16(b, v >> 16);
	wr16(b + 2, v);
}

/* The counter of a prefix, the programs' added in. */
static u64 counter(u8 prefix, u8 what)
{
	second_count(tab);
	return table_stats(tab)->v[prefix][what];
}

/*
 * Runs a program on @n bytes of @fr: its verdict; the frame it left in
 * out. With a receive checksum (CHECKSUM_COMPLETE) that test_run checks
 * after the program (EBADMSG), where the kernel has the flag.
 */
static int run(bool ingress, const u8 *fr, u32 n)
{
	static u32 flags = BPF_F_TEST_SKB_CHECKSUM_COMPLETE;
	DECLARE_LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = fr, .data_size_in = n,
			    .data_out = out, .data_size_out = sizeof(out), .flags = flags);
	int fd = second_prog_fd(ingress), r = bpf_prog_test_run_opts(fd, &o);

	if (r && errno == EINVAL && flags) {
		print_message("test_run takes no CHECKSUM_COMPLETE here\n");
		o.flags = flags = 0;
		r = bpf_prog_test_run_opts(fd, &o);
	}
	if (r)
		fail_msg("test_run of %u bytes: %s", n, strerror(errno));
	outlen = o.data_size_out;
	return (int)o.retval;
}

/* The frame goes on as it came, to the device's next filter. */
static void untouched(bool ingress, const u8 *fr, u32 n, const char *what)
{
	int r = run(ingress, fr, n);

	if (r != TC_ACT_UNSPEC || outlen != n || memcmp(out, fr, n))
		fail_msg("%s, %s: verdict %d, %u bytes of %u%s", what,
			 fr[12] == 0x08 ? "IPv4" : "IPv6", r, outlen, n,
			 outlen == n ? ", changed" : "");
}

/* The frame changed into @w (@m bytes), with verdict @verdict. */
static void became(bool ingress, const u8 *fr, u32 n, int verdict, const u8 *w, u32 m)
{
	assert_int_equal(run(ingress, fr, n), verdict);
	assert_int_equal(outlen, m);
	assert_memory_equal(out, w, m);
}

/* An Ethernet header to lo's address (zeros): test_run's skb is lo's, PACKET_HOST. */
static u32 eth(u8 *fr, u8 family)
{
	memset(fr, 0, 12);
	wr16(fr + 12, family == AP_AF_INET ? 0x0800 : 0x86dd);
	return ETH;
}

static u32 frame_tcp(u8 *fr, const struct pg_tcp *t)
{
	return eth(fr, t->src.family) + pg_build_tcp(fr + ETH, t, NULL);
}

/* @ip (@n bytes, not in @fr) from @src to @dst in IP-in-IP or IPv6-in-IPv6. */
static u32 frame_ipip(u8 *fr, const char *src, const char *dst, const u8 *ip, u32 n)
{
	struct ap_addr s, d;
	u8 *o = fr + ETH;
	u32 h;

	pg_addr(&s, src);
	pg_addr(&d, dst);
	h = eth(fr, s.family);
	if (s.family == AP_AF_INET) {
		memset(o, 0, 20);
		o[0] = 0x45;
		wr16(o + 2, 20 + n);
		o[8] = 64;
		o[9] = 4;
		memcpy(o + 12, s.b, 4);
		memcpy(o + 16, d.b, 4);
		wr16(o + 10, pg_ipv4_csum(o));
		h += 20;
	} else {
		memset(o, 0, 40);
		o[0] = 0x60;
		wr16(o + 4, n);
		o[6] = 41;
		o[7] = 64;
		memcpy(o + 8, s.b, 16);
		memcpy(o + 24, d.b, 16);
		h += 40;
	}
	memcpy(fr + h, ip, n);
	return h + n;
}

/* An error from the router to A quoting @n bytes of @quote (not in @fr). */
static u32 frame_error(u8 *fr, const struct fam *f, const u8 *quote, u32 n)
{
	struct pg_icmp e;

	pg_icmp_init(&e, f->router, f->a, f->icmp_type, f->icmp_code);
	e.rest = 1400;
	return eth(fr, f->family) + pg_build_icmp(fr + ETH, &e, quote, n, NULL);
}

/* The traffic class of the IP header at @ip, its checksum kept. */
static void set_tos(u8 *ip, u8 tos)
{
	if (ip[0] >> 4 == 4) {
		ip[1] = tos;
		wr16(ip + 10, pg_ipv4_csum(ip));
	} else {
		ip[0] = (u8)(0x60 | tos >> 4);
		ip[1] = (u8)((tos & 0xf) << 4 | (ip[1] & 0xf));
	}
}

/* Where the TCP header of a frame of @f's family starts (no IP options). */
static u32 l4(const struct fam *f)
{
	return ETH + (f->family == AP_AF_INET ? 20 : 40);
}

static void nops(struct pg_tcp *t, unsigned int n)
{
	static const u8 nop = AP_TCPOPT_NOP;

	while (n--)
		pg_tcp_add_opt(t, &nop, 1);
}

static void ts(struct pg_tcp *t, u32 tsval, u32 tsecr)
{
	u8 o[10] = { AP_TCPOPT_TS, AP_TCPOPT_TS_LEN };

	wr32(o + 2, tsval);
	wr32(o + 6, tsecr);
	pg_tcp_add_opt(t, o, sizeof(o));
}

static void mss(struct pg_tcp *t, u16 v)
{
	u8 o[4] = { AP_TCPOPT_MSS, AP_TCPOPT_MSS_LEN };

	wr16(o + 2, v);
	pg_tcp_add_opt(t, o, sizeof(o));
}

/* A segment of a connection to A: from A's port 80, or to it. */
static void from_a(struct pg_tcp *t, const struct fam *f, u8 flags)
{
	pg_tcp_init(t, f->a, f->client, PORT, CPORT, flags);
	t->seq = 0x10000000;
	t->ack = 0x20000000;
}

static void to_a(struct pg_tcp *t, const struct fam *f, u8 flags)
{
	pg_tcp_init(t, f->client, f->a, CPORT, PORT, flags);
	t->seq = 0x20000000;
	t->ack = 0x10000000;
}

/* An ACK to @a whose TSecr names @id. */
static u32 ack_to(u8 *fr, const struct fam *f, const char *a, u8 id)
{
	struct pg_tcp t;

	pg_tcp_init(&t, f->client, a, CPORT, PORT, AP_TCP_ACK);
	t.seq = 0x20000000;
	t.ack = 0x10000000;
	t.paylen = 100;
	nops(&t, 2);
	ts(&t, 7000, 64 * 1000 + id);
	return frame_tcp(fr, &t);
}

static u32 ack_naming(u8 *fr, const struct fam *f, u8 id)
{
	return ack_to(fr, f, f->a, id);
}

/* The segment from A an error quotes, whole, its TSval naming @id, in @q. */
static u32 quoted(u8 *q, const struct fam *f, u8 flags, u8 id)
{
	struct pg_tcp t;

	from_a(&t, f, flags);
	t.paylen = 200;
	nops(&t, 2);
	ts(&t, 64 * 500 + id, 7000);
	return pg_build_tcp(q, &t, NULL);
}

static void test_stamp(void **state)
{
	static const u32 fixed[] = { 1000, 1025, 0, 1, 63, 64, 0x7fffffff, 0xffffffc1u,
				     0xffffffffu };
	const struct fam *f;
	struct pg_tcp t;
	struct pg_rng r;
	u32 i, n, m, v, s, at, stamped;
	u64 before;

	(void)state;
	ready();
	pg_rng_seed(&r, 1);
	FOR_FAM(f) {
		before = counter(f->web, AP_STAT_SC_STAMPED);
		for (stamped = i = 0; i < 200; i++) {
			v = i < sizeof(fixed) / sizeof(fixed[0]) ? fixed[i] : pg_rand(&r);
			from_a(&t, f, AP_TCP_ACK | (i & 1 ? AP_TCP_PSH : 0));
			t.paylen = pg_rand_below(&r, 300);
			t.pay_seed = (u8)i;
			/* TSval at even and odd offsets, the checksum over whole words */
			nops(&t, i % 3);
			ts(&t, v, 0x12345678);
			n = frame_tcp(in, &t);
			assert_int_equal(run(false, in, n), TC_ACT_UNSPEC);
			at = l4(f) + 20 + i % 3 + 2;
			s = rd32(out + at);
			assert_int_equal(s & AP_SC_ID_MAX, 1);
			assert_true(s - v <= AP_SC_ID_MAX);	/* not smaller, mod 2^32 */
			/* pktgen's own frame with that TSval, its checksum computed anew */
			wr32(t.opts + i % 3 + 2, s);
			m = frame_tcp(want, &t);
			assert_int_equal(outlen, m);
			assert_memory_equal(out, want, m);
			assert_int_equal(pg_verify(out + ETH, outlen - ETH), 0);
			stamped += s != v;
		}
		assert_int_equal(counter(f->web, AP_STAT_SC_STAMPED) - before, stamped);
		assert_true(stamped > 150);
	}
}

static void test_mss(void **state)
{
	static const u16 from[] = { 1460, 536, 109, 100, 89, 88, 40, 9000 };
	static const u8 sackok[2] = { 4, 2 }, ws[3] = { 3, 3, 7 };
	const struct fam *f;
	struct pg_tcp t;
	u32 i, n, m, lowered;
	u64 before;
	u16 to;

	(void)state;
	ready();
	FOR_FAM(f) {
		before = counter(f->web, AP_STAT_SC_MSS);
		for (lowered = i = 0; i < 2 * sizeof(from) / sizeof(from[0]); i++) {
			from_a(&t, f, AP_TCP_SYN | AP_TCP_ACK);
			nops(&t, i & 1);	/* the MSS at an odd offset too */
			mss(&t, from[i / 2]);
			pg_tcp_add_opt(&t, sackok, 2);
			ts(&t, 64 * 9 + 5, 333);	/* a SYN-ACK's TSval stays */
			pg_tcp_add_opt(&t, ws, 3);
			n = frame_tcp(in, &t);
			to = ap_sc_mss(from[i / 2], f->family);
			if (from[i / 2] > 200)
				assert_int_equal(to, from[i / 2] - f->overhead);
			if (to == from[i / 2]) {
				untouched(false, in, n, "an MSS that cannot be lowered");
				continue;
			}
			wr16(t.opts + (i & 1) + 2, to);
			m = frame_tcp(want, &t);
			became(false, in, n, TC_ACT_UNSPEC, want, m);
			assert_int_equal(pg_verify(out + ETH, outlen - ETH), 0);
			lowered++;
		}
		assert_int_equal(counter(f->web, AP_STAT_SC_MSS) - before, lowered);

		/* without timestamps its client echoes nothing: the MSS stays */
		from_a(&t, f, AP_TCP_SYN | AP_TCP_ACK);
		mss(&t, 1460);
		pg_tcp_add_opt(&t, sackok, 2);
		untouched(false, in, frame_tcp(in, &t), "a SYN-ACK without timestamps");
		from_a(&t, f, AP_TCP_SYN | AP_TCP_ACK);
		nops(&t, 2);
		ts(&t, 64 * 9, 333);
		untouched(false, in, frame_tcp(in, &t), "a SYN-ACK without MSS");
	}
}

static void test_egress_untouched(void **state)
{
	static const u8 md5[18] = { AP_TCPOPT_MD5, 18, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
				    13, 14, 15, 16 };
	static const u8 ao[16] = { AP_TCPOPT_AO, 16, 7, 7, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
				   12 };
	const struct fam *f;
	struct pg_tcp t;

	(void)state;
	ready();
	FOR_FAM(f) {
		from_a(&t, f, AP_TCP_ACK);
		nops(&t, 2);
		ts(&t, 1000, 2000);
		pg_tcp_add_opt(&t, md5, sizeof(md5));
		untouched(false, in, frame_tcp(in, &t), "a segment with TCP-MD5");
		from_a(&t, f, AP_TCP_SYN | AP_TCP_ACK);
		mss(&t, 1460);
		nops(&t, 2);
		ts(&t, 1000, 2000);
		pg_tcp_add_opt(&t, md5, sizeof(md5));
		untouched(false, in, frame_tcp(in, &t), "a SYN-ACK with TCP-MD5");
		from_a(&t, f, AP_TCP_ACK);
		nops(&t, 2);
		ts(&t, 1000, 2000);
		pg_tcp_add_opt(&t, ao, sizeof(ao));
		untouched(false, in, frame_tcp(in, &t), "a segment with TCP-AO");

		/* from U, a capable client's flow; from another port; to A */
		pg_tcp_init(&t, f->own, f->client, PORT, CPORT, AP_TCP_ACK);
		nops(&t, 2);
		ts(&t, 1000, 2000);
		untouched(false, in, frame_tcp(in, &t), "a segment from outside the prefix");
		pg_tcp_init(&t, f->a, f->client, PORT + 1, CPORT, AP_TCP_ACK);
		nops(&t, 2);
		ts(&t, 1000, 2000);
		untouched(false, in, frame_tcp(in, &t), "a segment from another port");
		untouched(false, in, ack_naming(in, f, 2), "a segment to A");
		from_a(&t, f, AP_TCP_ACK);
		t.paylen = 10;
		untouched(false, in, frame_tcp(in, &t), "a segment without timestamps");
	}
}

static void test_decap(void **state)
{
	const struct fam *f;
	struct pg_tcp t;
	u32 n, m, ip;
	u64 before;

	(void)state;
	ready();
	FOR_FAM(f) {
		before = counter(f->web, AP_STAT_SC_TUNNEL);
		/* its TSecr names peer 2: out of the tunnel, never forwarded again */
		ip = ack_naming(tmp, f, 2) - ETH;
		n = frame_ipip(in, f->peer2, f->own, tmp + ETH, ip);
		became(true, in, n, TC_ACT_UNSPEC, tmp, ip + ETH);
		assert_int_equal(counter(f->web, AP_STAT_SC_TUNNEL) - before, 1);

		n = frame_ipip(in, f->peer3, f->own, tmp + ETH, ip);
		untouched(true, in, n, "from the other prefix's peer");
		n = frame_ipip(in, f->stranger, f->own, tmp + ETH, ip);
		untouched(true, in, n, "from no peer");
		n = frame_ipip(in, f->peer2, f->own_other, tmp + ETH, ip);
		untouched(true, in, n, "to the other prefix's unicast address");
		n = frame_ipip(in, f->peer2, f->own, tmp + ETH, ip);
		in[ETH + (f->family == AP_AF_INET ? 9 : 6)] = 17;
		untouched(true, in, n, "not IP-in-IP");
		to_a(&t, f, AP_TCP_ACK);
		t.dport = PORT + 1;
		nops(&t, 2);
		ts(&t, 1, 64 + 2);
		ip = frame_tcp(tmp, &t) - ETH;
		n = frame_ipip(in, f->peer2, f->own, tmp + ETH, ip);
		untouched(true, in, n, "to another port");
		to_a(&t, f, AP_TCP_ACK);
		nops(&t, 2);
		ts(&t, 1, 64 + 2);
		t.frag = 0x2000;	/* MF */
		t.ext[0] = (struct pg_ext){ .type = PG_IPPROTO_FRAGMENT, .frag_mf = true };
		t.n_ext = f->family == AP_AF_INET6;
		ip = frame_tcp(tmp, &t) - ETH;
		n = frame_ipip(in, f->peer2, f->own, tmp + ETH, ip);
		untouched(true, in, n, "an inner first fragment");

		/* an error about a segment from A */
		m = quoted(want, f, AP_TCP_ACK, 2);
		ip = frame_error(tmp, f, want, m) - ETH;
		n = frame_ipip(in, f->peer2, f->own, tmp + ETH, ip);
		became(true, in, n, TC_ACT_UNSPEC, tmp, ip + ETH);
		n = frame_ipip(in, f->peer3, f->own, tmp + ETH, ip);
		untouched(true, in, n, "an error from the other prefix's peer");
		/* a module peer forwards one quoting 8 bytes of TCP: its ports will do */
		ip = frame_error(tmp, f, want, f->hlen + 8) - ETH;
		n = frame_ipip(in, f->peer2, f->own, tmp + ETH, ip);
		became(true, in, n, TC_ACT_UNSPEC, tmp, ip + ETH);
		assert_int_equal(counter(f->web, AP_STAT_SC_TUNNEL) - before, 3);

		/* RFC 6040: CE outside marks an ECN-capable inside, drops another */
		ip = ack_naming(tmp, f, 2) - ETH;
		set_tos(tmp + ETH, 0x02);
		n = frame_ipip(in, f->peer2, f->own, tmp + ETH, ip);
		set_tos(in + ETH, 0x03);
		set_tos(tmp + ETH, 0x03);
		became(true, in, n, TC_ACT_UNSPEC, tmp, ip + ETH);
		assert_int_equal(pg_verify(out + ETH, outlen - ETH), 0);
		set_tos(tmp + ETH, 0x00);
		n = frame_ipip(in, f->peer2, f->own, tmp + ETH, ip);
		set_tos(in + ETH, 0x03);
		assert_int_equal(run(true, in, n), TC_ACT_SHOT);
	}
}

/* The frame @fr (@n bytes) left in an outer header from @src to @dst. */
static void encapsulated(const struct fam *f, const u8 *fr, u32 n, const char *src,
			 const char *dst)
{
	struct ap_addr s, d;
	const u8 *o = out + ETH, *i = fr + ETH;

	pg_addr(&s, src);
	pg_addr(&d, dst);
	assert_int_equal(outlen, n + f->hlen);
	assert_memory_equal(out, fr, ETH);
	assert_memory_equal(out + ETH + f->hlen, fr + ETH, n - ETH);
	if (f->family == AP_AF_INET) {
		assert_int_equal(o[0], 0x45);
		/* RFC 6040: CE inside is ECT(0) outside */
		assert_int_equal(o[1], (i[1] & 3) == 3 ? (i[1] & ~3) | 2 : i[1]);
		assert_int_equal(rd16(o + 2), rd16(i + 2) + 20);
		assert_int_equal(rd16(o + 6), rd16(i + 6) & 0x4000);	/* DF */
		if (rd16(i + 6) & 0x4000)
			assert_int_equal(rd16(o + 4), 0);
		assert_int_equal(o[8], 64);
		assert_int_equal(o[9], 4);
		assert_int_equal(rd16(o + 10), pg_ipv4_csum(o));
		assert_memory_equal(o + 12, s.b, 4);
		assert_memory_equal(o + 16, d.b, 4);
	} else {
		u8 tc = (u8)((i[0] & 0xf) << 4 | i[1] >> 4);

		tc = (tc & 3) == 3 ? (tc & ~3) | 2 : tc;
		assert_int_equal(o[0], 0x60 | tc >> 4);
		assert_int_equal(o[1], (tc & 0xf) << 4 | (i[1] & 0xf));
		assert_memory_equal(o + 2, i + 2, 2);	/* the flow label */
		assert_int_equal(rd16(o + 4), rd16(i + 4) + 40);
		assert_int_equal(o[6], 41);
		assert_int_equal(o[7], 64);
		assert_memory_equal(o + 8, s.b, 16);
		assert_memory_equal(o + 24, d.b, 16);
	}
}

static void test_forward(void **state)
{
	const struct fam *f;
	struct pg_tcp t;
	u32 n, m;
	u64 before;

	(void)state;
	ready();
	FOR_FAM(f) {
		before = counter(f->web, AP_STAT_SC_FORWARDED);
		n = ack_naming(in, f, 2);
		assert_int_equal(run(true, in, n), TC_ACT_REDIRECT);
		encapsulated(f, in, n, f->own, f->peer2);
		assert_int_equal(counter(f->web, AP_STAT_SC_FORWARDED) - before, 1);
		/* DF and CE copied, as RFC 6040 has it */
		n = ack_naming(in, f, 2);
		if (f->family == AP_AF_INET)
			wr16(in + ETH + 6, 0x4000);
		set_tos(in + ETH, 0xbb);
		assert_int_equal(run(true, in, n), TC_ACT_REDIRECT);
		encapsulated(f, in, n, f->own, f->peer2);
		/* bytes after the IP packet (Ethernet padding) go along */
		n = ack_naming(in, f, 2);
		memset(in + n, 0, 6);
		assert_int_equal(run(true, in, n + 6), TC_ACT_REDIRECT);
		encapsulated(f, in, n + 6, f->own, f->peer2);
		/* each prefix to its own peers, from its own address */
		n = ack_to(in, f, f->a_other, 3);
		assert_int_equal(run(true, in, n), TC_ACT_REDIRECT);
		encapsulated(f, in, n, f->own_other, f->peer3);
		untouched(true, in, ack_to(in, f, f->a_other, 2), "to other, naming web's peer");
		untouched(true, in, ack_naming(in, f, 1), "naming this instance");
		untouched(true, in, ack_naming(in, f, 3), "to web, naming other's peer");
		untouched(true, in, ack_naming(in, f, 9), "naming no one");
		untouched(true, in, ack_naming(in, f, 0), "naming id 0");
		n = ack_naming(in, f, 2);
		in[0] = 0x02;	/* to another host's address: PACKET_OTHERHOST */
		untouched(true, in, n, "for another host");
		to_a(&t, f, AP_TCP_SYN);
		mss(&t, 1460);
		ts(&t, 1, 64 + 2);
		untouched(true, in, frame_tcp(in, &t), "a SYN");
		to_a(&t, f, AP_TCP_ACK);
		t.paylen = 10;
		untouched(true, in, frame_tcp(in, &t), "an ACK without timestamps");
		to_a(&t, f, AP_TCP_ACK);
		t.dport = PORT + 1;
		nops(&t, 2);
		ts(&t, 1, 64 + 2);
		untouched(true, in, frame_tcp(in, &t), "to another port");

		/* an error goes by the TSval it quotes, the instance that sent it */
		before = counter(f->web, AP_STAT_SC_FORWARDED);
		m = quoted(tmp, f, AP_TCP_ACK, 2);
		n = frame_error(in, f, tmp, m);
		assert_int_equal(run(true, in, n), TC_ACT_REDIRECT);
		encapsulated(f, in, n, f->own, f->peer2);
		assert_int_equal(counter(f->web, AP_STAT_SC_FORWARDED) - before, 1);
		m = quoted(tmp, f, AP_TCP_ACK, 1);
		untouched(true, in, frame_error(in, f, tmp, m), "an error naming this instance");
		m = quoted(tmp, f, AP_TCP_ACK, 3);
		untouched(true, in, frame_error(in, f, tmp, m), "an error naming no peer");
		m = quoted(tmp, f, AP_TCP_SYN | AP_TCP_ACK, 2);
		untouched(true, in, frame_error(in, f, tmp, m), "an error about a SYN-ACK");
		quoted(tmp, f, AP_TCP_ACK, 2);
		untouched(true, in, frame_error(in, f, tmp, f->hlen + 20 + 10),
			  "an error quoting part of the options");
	}
}

static socklen_t sockaddr_of(struct sockaddr_storage *ss, u8 family, const char *addr,
			     u16 port)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (family == AP_AF_INET) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		assert_int_equal(inet_pton(AF_INET, addr, &s4->sin_addr), 1);
		return sizeof(*s4);
	}
	s6->sin6_family = AF_INET6;
	s6->sin6_port = htons(port);
	assert_int_equal(inet_pton(AF_INET6, addr, &s6->sin6_addr), 1);
	return sizeof(*s6);
}

/* A on lo, as an instance has it. */
static void add_a(const struct fam *f)
{
	int s = socket(f->family == AP_AF_INET ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	assert_true(s >= 0);
	if (f->family == AP_AF_INET) {
		struct sockaddr_in sin = { .sin_family = AF_INET };
		struct ifreq r;

		memset(&r, 0, sizeof(r));
		strcpy(r.ifr_name, "lo:1");
		/* ifr_addr has room for a sockaddr_in, not for sockaddr_of()'s storage */
		assert_int_equal(inet_pton(AF_INET, f->a, &sin.sin_addr), 1);
		memcpy(&r.ifr_addr, &sin, sizeof(sin));
		assert_int_equal(ioctl(s, SIOCSIFADDR, &r), 0);
	} else {
		struct in6_ifreq r = { .ifr6_prefixlen = 128 };

		r.ifr6_ifindex = (int)if_nametoindex("lo");
		assert_int_equal(inet_pton(AF_INET6, f->a, &r.ifr6_addr), 1);
		assert_int_equal(ioctl(s, SIOCSIFADDR, &r), 0);
	}
	close(s);
}

static void test_local(void **state)
{
	struct sockaddr_storage ss;
	const struct fam *f;
	struct pg_tcp t;
	int lsn, cli, acc;
	socklen_t len;
	u16 cport;
	u32 n, i;

	(void)state;
	ready();
	FOR_FAM(f) {
		int af = f->family == AP_AF_INET ? AF_INET : AF_INET6;

		add_a(f);
		lsn = socket(af, SOCK_STREAM | SOCK_CLOEXEC, 0);
		cli = socket(af, SOCK_STREAM | SOCK_CLOEXEC, 0);
		assert_true(lsn >= 0 && cli >= 0);
		len = sockaddr_of(&ss, f->family, f->a, PORT);
		/* an IPv6 address stays tentative until addrconf's work runs, even on lo */
		for (i = 0; bind(lsn, (struct sockaddr *)&ss, len); i++) {
			if (errno != EADDRNOTAVAIL || i == 200)
				fail_msg("bind: %s", strerror(errno));
			usleep(10000);
		}
		assert_int_equal(listen(lsn, 4), 0);
		len = sockaddr_of(&ss, f->family, f->loopback, 0);
		assert_int_equal(bind(cli, (struct sockaddr *)&ss, len), 0);
		len = sockaddr_of(&ss, f->family, f->a, PORT);
		assert_int_equal(connect(cli, (struct sockaddr *)&ss, len), 0);
		acc = accept(lsn, NULL, NULL);
		assert_true(acc >= 0);
		len = sizeof(ss);
		assert_int_equal(getsockname(cli, (struct sockaddr *)&ss, &len), 0);
		cport = ntohs(f->family == AP_AF_INET ? ((struct sockaddr_in *)&ss)->sin_port :
				((struct sockaddr_in6 *)&ss)->sin6_port);

		pg_tcp_init(&t, f->loopback, f->a, cport, PORT, AP_TCP_ACK);
		nops(&t, 2);
		ts(&t, 1, 64 * 3 + 2);
		untouched(true, in, frame_tcp(in, &t), "a segment of a connection here");
		/* the listener's, were it a SYN cookie's: none here */
		t.sport = cport ^ 1;
		n = frame_tcp(in, &t);
		assert_int_equal(run(true, in, n), TC_ACT_REDIRECT);
		encapsulated(f, in, n, f->own, f->peer2);
		close(acc);
		close(cli);
		close(lsn);
	}
}

static void set_mtu(int mtu)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct ifreq r;

	assert_true(s >= 0);
	memset(&r, 0, sizeof(r));
	strcpy(r.ifr_name, "lo");
	r.ifr_mtu = mtu;
	assert_int_equal(ioctl(s, SIOCSIFMTU, &r), 0);
	close(s);
}

/*
 * test_run's skb is lo's: the MTU a forward must fit is lo's. Not a GSO
 * packet's segments: test_run sets gso_size from its context but no
 * gso_type, and bpf_skb_adjust_room() refuses to grow a GSO packet that
 * is not TCP's (ENOTSUPP), so such a forward is never sent here.
 */
/* A forward of @mtu bytes with the outer header goes, one of a byte more stays: @what. */
static void mtu_edge(const struct fam *f, u32 mtu, const char *what)
{
	u64 fwd = counter(f->web, AP_STAT_SC_FORWARDED);
	u64 unsent = counter(f->web, AP_STAT_SC_UNSENT);
	struct pg_tcp t;
	u32 n;

	to_a(&t, f, AP_TCP_ACK);
	nops(&t, 2);
	ts(&t, 1, 64 + 2);
	t.paylen = mtu - 2 * f->hlen - 32;
	n = frame_tcp(in, &t);
	assert_int_equal(run(true, in, n), TC_ACT_REDIRECT);
	encapsulated(f, in, n, f->own, f->peer2);
	t.paylen++;
	untouched(true, in, frame_tcp(in, &t), what);
	assert_int_equal(counter(f->web, AP_STAT_SC_FORWARDED) - fwd, 2);
	assert_int_equal(counter(f->web, AP_STAT_SC_UNSENT) - unsent, 1);
}

static void set_forwarding(const struct fam *f, bool on);

/*
 * The device's MTU, on its own: where the device does not forward, the
 * kernel looks no route up (and so checks no route MTU) for the programs.
 */
static void test_mtu(void **state)
{
	const struct fam *f;

	(void)state;
	ready();
	set_mtu(1500);
	FOR_FAM(f) {
		set_forwarding(f, false);
		mtu_edge(f, 1500, "a forward too big for the MTU, not forwarding");
		set_forwarding(f, true);
		mtu_edge(f, 1500, "a forward too big for the MTU");
	}
	set_mtu(65536);
}

/* A request @cmd in @buf, that creates what does not exist yet when @create. */
static struct nlmsghdr *request(char *buf, u16 cmd, bool create)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);

	nlh->nlmsg_type = cmd;
	if (create)
		nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
	return nlh;
}

/* @nlh sent to rtnetlink, which must acknowledge it: an errno, 0 when done. */
static int rtnl(struct nlmsghdr *nlh)
{
	struct mnl_socket *nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	char buf[MNL_SOCKET_BUFFER_SIZE];
	ssize_t n;
	int e = 0;

	if (!nl)
		return errno;
	nlh->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = 1;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) ||
	    mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		e = errno;
	else if ((n = mnl_socket_recvfrom(nl, buf, sizeof(buf))) < 0 ||
		 mnl_cb_run(buf, (size_t)n, 1, mnl_socket_get_portid(nl), NULL, NULL) < 0)
		e = errno;
	mnl_socket_close(nl);
	return e;
}

/*
 * A host route to @addr in the main table, through lo (test_run's device,
 * so the output device the programs look up with): @type RTN_UNICAST,
 * with a locked @mtu unless 0, or a reject route. RTM_DELROUTE for @cmd
 * deletes it: an errno, 0 when done.
 */
static int route(u16 cmd, const char *addr, u8 type, u32 mtu)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	struct ap_addr a;
	struct nlattr *m;
	struct rtmsg *rt;

	pg_addr(&a, addr);
	nlh = request(buf, cmd, cmd == RTM_NEWROUTE);
	rt = mnl_nlmsg_put_extra_header(nlh, sizeof(*rt));
	rt->rtm_family = a.family == AP_AF_INET ? AF_INET : AF_INET6;
	rt->rtm_dst_len = a.family == AP_AF_INET ? 32 : 128;
	rt->rtm_table = RT_TABLE_MAIN;
	rt->rtm_protocol = RTPROT_BOOT;
	rt->rtm_type = type;
	rt->rtm_scope = type == RTN_UNICAST ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE;
	mnl_attr_put(nlh, RTA_DST, a.family == AP_AF_INET ? 4 : 16, a.b);
	if (type == RTN_UNICAST)
		mnl_attr_put_u32(nlh, RTA_OIF, if_nametoindex("lo"));
	if (mtu) {
		m = mnl_attr_nest_start(nlh, RTA_METRICS);
		mnl_attr_put_u32(nlh, RTAX_MTU, mtu);
		mnl_attr_put_u32(nlh, RTAX_LOCK, 1u << RTAX_MTU);
		mnl_attr_nest_end(nlh, m);
	}
	return rtnl(nlh);
}

/* @addr on lo (RTM_NEWADDR for @cmd) or off it (RTM_DELADDR): an errno, 0 when done. */
static int address(u16 cmd, const char *addr)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = request(buf, cmd, cmd == RTM_NEWADDR);
	struct ifaddrmsg *ifa;
	struct ap_addr a;

	pg_addr(&a, addr);
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = a.family == AP_AF_INET ? AF_INET : AF_INET6;
	ifa->ifa_prefixlen = a.family == AP_AF_INET ? 32 : 128;
	ifa->ifa_flags = IFA_F_NODAD;
	ifa->ifa_index = if_nametoindex("lo");
	mnl_attr_put(nlh, IFA_LOCAL, ap_addr_len(a.family), a.b);
	mnl_attr_put(nlh, IFA_ADDRESS, ap_addr_len(a.family), a.b);
	return rtnl(nlh);
}

/* @addr's route replaced by one of @type (0: none), as route() has it. */
static void reroute(const char *addr, u8 old, u8 type, u32 mtu)
{
	int e = old ? route(RTM_DELROUTE, addr, old, 0) : 0;

	if (!e && type)
		e = route(RTM_NEWROUTE, addr, type, mtu);
	if (e)
		fail_msg("the route to %s: %s", addr, strerror(e));
}

/* A sysctl of the test's namespace: 0, or errno. */
static int write_sysctl(const char *path, const char *v)
{
	FILE *f = fopen(path, "we");
	int e = 0;

	if (!f)
		return errno;
	if (fputs(v, f) < 0)
		e = errno;
	if (fclose(f) && !e)
		e = errno;
	return e;
}

static const char *const forwarding[2] = { "/proc/sys/net/ipv4/conf/all/forwarding",
					   "/proc/sys/net/ipv6/conf/all/forwarding" };

static void set_forwarding(const struct fam *f, bool on)
{
	assert_int_equal(write_sysctl(forwarding[f->family == AP_AF_INET6], on ? "1" : "0"), 0);
}

/*
 * A forward with no route to the peer stays here, counted sc_unsent, as
 * in the module: the host answers it as plain anycast does, where a
 * forward the kernel cannot route would be lost. So does one too big for
 * the route's MTU. setup() gave every peer a route through lo and turned
 * forwarding on, without which the kernel does not look a route up for
 * the programs (test_unforwarded).
 */
static void test_unrouted(void **state)
{
	static const u8 rejects[] = { RTN_UNREACHABLE, RTN_BLACKHOLE, RTN_PROHIBIT, 0 };
	const struct fam *f;
	u64 fwd, unsent;
	u8 old;
	u32 i, n;

	(void)state;
	ready();
	FOR_FAM(f) {
		fwd = counter(f->web, AP_STAT_SC_FORWARDED);
		unsent = counter(f->web, AP_STAT_SC_UNSENT);
		for (old = RTN_UNICAST, i = 0; i < sizeof(rejects); old = rejects[i++]) {
			reroute(f->peer2, old, rejects[i], 0);
			untouched(true, in, ack_naming(in, f, 2), "a forward with no route");
			n = quoted(tmp, f, AP_TCP_ACK, 2);
			untouched(true, in, frame_error(in, f, tmp, n), "an error with no route");
		}
		assert_int_equal(counter(f->web, AP_STAT_SC_FORWARDED) - fwd, 8);
		assert_int_equal(counter(f->web, AP_STAT_SC_UNSENT) - unsent, 8);
		/* the other prefix's peer keeps its route */
		n = ack_to(in, f, f->a_other, 3);
		assert_int_equal(run(true, in, n), TC_ACT_REDIRECT);
		encapsulated(f, in, n, f->own_other, f->peer3);

		/* the route's MTU, smaller than lo's */
		reroute(f->peer2, 0, RTN_UNICAST, 1400);
		mtu_edge(f, 1400, "a forward too big for the route's MTU");
		reroute(f->peer2, RTN_UNICAST, RTN_UNICAST, 0);
	}
}

/* A forward to peer 2, and an error's, go: by the kernel's route where it does not look one up. */
static void forwarded(const struct fam *f)
{
	u32 n = ack_naming(in, f, 2);

	assert_int_equal(run(true, in, n), TC_ACT_REDIRECT);
	encapsulated(f, in, n, f->own, f->peer2);
	n = frame_error(in, f, tmp, quoted(tmp, f, AP_TCP_ACK, 2));
	assert_int_equal(run(true, in, n), TC_ACT_REDIRECT);
	encapsulated(f, in, n, f->own, f->peer2);
}

/* Both stay here, as without anypin: @what. */
static void unsent(const struct fam *f, const char *what)
{
	u64 fwd = counter(f->web, AP_STAT_SC_FORWARDED);
	u64 uns = counter(f->web, AP_STAT_SC_UNSENT);
	u32 n;

	untouched(true, in, ack_naming(in, f, 2), what);
	n = quoted(tmp, f, AP_TCP_ACK, 2);
	untouched(true, in, frame_error(in, f, tmp, n), what);
	assert_int_equal(counter(f->web, AP_STAT_SC_FORWARDED) - fwd, 2);
	assert_int_equal(counter(f->web, AP_STAT_SC_UNSENT) - uns, 2);
}

/*
 * Where the device does not forward, the kernel looks no route up for
 * the programs: anypind asks rtnetlink instead, from the prefix's
 * unicast address to each peer, when a configuration is set and after
 * the notifications of routes and addresses (second_monitor_run(), as
 * its loop runs it), and a forward with none stays here, sc_unsent, as
 * where the device forwards. Without that, it would leave unchecked, and
 * the kernel would lose it.
 */
static void test_unforwarded(void **state)
{
	static const u8 rejects[] = { RTN_UNREACHABLE, RTN_BLACKHOLE, RTN_PROHIBIT, RTN_THROW, 0 };
	const struct fam *f;
	char err[512];
	u32 i, n;
	u8 old;

	(void)state;
	ready();
	FOR_FAM(f) {
		set_forwarding(f, false);
		forwarded(f);
		/* a reject route, then none at all */
		for (old = RTN_UNICAST, i = 0; i < sizeof(rejects); old = rejects[i++]) {
			reroute(f->peer2, old, rejects[i], 0);
			second_monitor_run();
			unsent(f, rejects[i] ? "a reject route to the peer, not forwarding" :
					       "no route to the peer, not forwarding");
		}
		/* the other prefix's peer keeps its route */
		n = ack_to(in, f, f->a_other, 3);
		assert_int_equal(run(true, in, n), TC_ACT_REDIRECT);
		encapsulated(f, in, n, f->own_other, f->peer3);
		/* the route back */
		reroute(f->peer2, 0, RTN_UNICAST, 0);
		second_monitor_run();
		forwarded(f);

		/* a configuration set asks too, before any notification is read */
		reroute(f->peer2, RTN_UNICAST, RTN_UNREACHABLE, 0);
		assert_int_equal(second_set(&conf, err, sizeof(err)), 0);
		unsent(f, "no route when the configuration was set");
		reroute(f->peer2, RTN_UNREACHABLE, RTN_UNICAST, 0);
		assert_int_equal(second_set(&conf, err, sizeof(err)), 0);
		forwarded(f);
		second_monitor_run();

		/* IPv4 routes nothing from an address that is not this host's */
		if (f->family == AP_AF_INET) {
			assert_int_equal(address(RTM_DELADDR, f->own), 0);
			second_monitor_run();
			unsent(f, "the unicast address gone from this host");
			assert_int_equal(address(RTM_NEWADDR, f->own), 0);
			second_monitor_run();
			forwarded(f);
		}
		set_forwarding(f, true);
	}
}

/*
 * After test_unforwarded, failed or not, what the tests after it expect:
 * forwarding on, this instance's unicast addresses and the routes to
 * peer 2 as setup() made them, and anypind told.
 */
static int unforwarded_done(void **state)
{
	static const u8 types[] = { RTN_UNICAST, RTN_UNREACHABLE, RTN_BLACKHOLE, RTN_PROHIBIT,
				    RTN_THROW };
	const struct fam *f;
	int e = 0, r;
	u32 i;

	(void)state;
	FOR_FAM(f) {
		for (i = 0; i < sizeof(types); i++)
			route(RTM_DELROUTE, f->peer2, types[i], 0);
		r = address(RTM_NEWADDR, f->own);
		if ((r && r != EEXIST) || route(RTM_NEWROUTE, f->peer2, RTN_UNICAST, 0))
			e = -1;
	}
	second_monitor_run();
	return e || write_sysctl(forwarding[0], "1") || write_sysctl(forwarding[1], "1") ? -1 : 0;
}

/*
 * Ways to break a segment that would be forwarded (stamped, on the way
 * out). Not a cut IP header: test_run refuses a frame shorter than its
 * ethertype's IP header (EINVAL on 6.18); one inside IP-in-IP is tested.
 */
enum bad {
	CUT_TCP, CUT_OPTS, DOFF_BIG, DOFF_SMALL, VERSION, LEN_BIG, LEN_SMALL, LEN_ZERO,
	IHL, MF, OFFSET,	/* IPv4's alone */
	NBAD
};

static const char *const bad_names[NBAD] = {
	"a cut TCP header", "cut TCP options", "a TCP header past the end",
	"a TCP header under 20 bytes", "another IP version", "an IP length past the end",
	"an IP length short of the TCP header", "an IP length of 0 under 64 KiB",
	"an IPv4 header under 20 bytes", "an IPv4 first fragment", "an IPv4 later fragment",
};

static u32 nbad(const struct fam *f)
{
	return f->family == AP_AF_INET ? NBAD : IHL;
}

/* A segment to A naming peer 2 (@ingress), or from A to be stamped, options @tail last. */
static u32 good(u8 *fr, const struct fam *f, bool ingress, const u8 *tail, u8 tlen)
{
	struct pg_tcp t;

	if (ingress)
		to_a(&t, f, AP_TCP_ACK);
	else
		from_a(&t, f, AP_TCP_ACK);
	t.paylen = 100;
	nops(&t, 2);
	ts(&t, ingress ? 7000 : 64 * 100 + 9, 64 * 1000 + 2);
	pg_tcp_add_opt(&t, tail, tlen);
	return frame_tcp(fr, &t);
}

/* The IP length of the frame @fr cut to @m bytes. */
static u32 cut(u8 *fr, const struct fam *f, u32 m)
{
	if (f->family == AP_AF_INET)
		wr16(fr + ETH + 2, m - ETH);
	else
		wr16(fr + ETH + 4, m - ETH - 40);
	return m;
}

/* @fr (@n bytes) broken @how; its new length. */
static u32 breaking(u8 *fr, u32 n, const struct fam *f, enum bad how)
{
	u8 *ip = fr + ETH, *th = fr + l4(f);

	switch (how) {
	case CUT_TCP:
		n = cut(fr, f, l4(f) + 19);
		break;
	case CUT_OPTS:
		n = cut(fr, f, l4(f) + 20 + 6);
		break;
	case DOFF_BIG:
		th[12] = 15 << 4;
		n = cut(fr, f, l4(f) + 20 + 12 + 20);
		break;
	case DOFF_SMALL:
		th[12] = 4 << 4;
		break;
	case VERSION:
		ip[0] ^= 0x20;
		break;
	case IHL:
		ip[0] = 0x44;
		break;
	case LEN_BIG:
		wr16(ip + (f->family == AP_AF_INET ? 2 : 4), n - ETH + 1);
		break;
	case LEN_SMALL:
		wr16(ip + (f->family == AP_AF_INET ? 2 : 4),
		     f->family == AP_AF_INET ? 20 + 20 : 20);
		break;
	case LEN_ZERO:
		wr16(ip + (f->family == AP_AF_INET ? 2 : 4), 0);
		break;
	case MF:
		wr16(ip + 6, 0x2000);
		break;
	case OFFSET:
		wr16(ip + 6, 100);
		break;
	default:
		break;
	}
	if (f->family == AP_AF_INET)
		wr16(ip + 10, pg_ipv4_csum(ip));
	return n;
}

/* Options that break a list of 16 bytes they end, as the core walks it. */
static const struct {
	u8 o[4], n;
	const char *what;
} opts[] = {
	{ { 5, 0 }, 2, "an option of length 0" },
	{ { 5, 1 }, 2, "an option of length 1" },
	{ { 5, 7 }, 2, "an option past the options" },
	{ { 1, 1, 1, 5 }, 4, "an option without its length" },
};

static void test_malformed(void **state)
{
	const struct fam *f;
	struct pg_tcp t;
	u32 n, m, i;
	int dir, r;

	(void)state;
	ready();
	FOR_FAM(f) {
		for (dir = 0; dir < 2; dir++) {
			bool ingress = dir;

			/* whole, it is forwarded or stamped */
			n = good(in, f, ingress, NULL, 0);
			r = run(ingress, in, n);
			assert_int_equal(r, ingress ? TC_ACT_REDIRECT : TC_ACT_UNSPEC);
			assert_true(outlen != n || memcmp(out, in, n));
			for (i = 0; i < nbad(f); i++) {
				n = good(in, f, ingress, NULL, 0);
				untouched(ingress, in, breaking(in, n, f, i), bad_names[i]);
			}
			for (i = 0; i < sizeof(opts) / sizeof(opts[0]); i++)
				untouched(ingress, in, good(in, f, ingress, opts[i].o, opts[i].n),
					  opts[i].what);
			n = eth(in, f->family);
			wr16(in + 12, 0x0806);
			memset(in + n, 0, 28);
			untouched(ingress, in, n + 28, "ARP");
		}

		/* IP-in-IP from peer 2 to U, what is inside broken */
		n = good(tmp, f, true, NULL, 0);
		untouched(true, in, frame_ipip(in, f->peer2, f->own, tmp + ETH, f->hlen - 8),
			  "IP-in-IP with a cut inner IP header");
		for (i = 0; i < nbad(f); i++) {
			n = good(tmp, f, true, NULL, 0);
			m = breaking(tmp, n, f, i);
			untouched(true, in, frame_ipip(in, f->peer2, f->own, tmp + ETH, m - ETH),
				  bad_names[i]);
		}
		for (i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
			n = good(tmp, f, true, opts[i].o, opts[i].n);
			untouched(true, in, frame_ipip(in, f->peer2, f->own, tmp + ETH, n - ETH),
				  opts[i].what);
		}

		/* an error whose IP length ends inside the quote's options */
		m = quoted(tmp, f, AP_TCP_ACK, 2);
		n = frame_error(in, f, tmp, m);
		cut(in, f, l4(f) + 8 + f->hlen + 20 + 6);
		if (f->family == AP_AF_INET)
			wr16(in + ETH + 10, pg_ipv4_csum(in + ETH));
		untouched(true, in, n, "an error whose IP length cuts the quote");

		/* IPv6 extension headers before TCP: not parsed (docs/second-chance.md) */
		if (f->family == AP_AF_INET6) {
			to_a(&t, f, AP_TCP_ACK);
			t.ext[0].type = PG_IPPROTO_HOPOPTS;
			t.n_ext = 1;
			nops(&t, 2);
			ts(&t, 1, 64 + 2);
			untouched(true, in, frame_tcp(in, &t), "IPv6 with a hop-by-hop header");
		}
	}
}

/* What the core decides for the error @fr (@n bytes), which prefix web governs. */
static enum ap_sc core_icmp(const struct fam *f, u8 *fr, u32 n)
{
	const struct ap_pconf *pc = &conf.prefixes[f->web];
	struct ap_sc_to to;
	struct ap_pkt p;

	assert_int_equal(ap_parse(&p, fr + ETH, n - ETH, n - ETH), AP_OK);
	return ap_sc_icmp(pc->instance, &pc->peers, &p, false, &to);
}

/*
 * An error whose quoted options hold one the core cannot walk goes where
 * the core sends it: after the timestamp, to the peer its TSval names,
 * since ap_icmp_tsval() reads no further; before it, nowhere.
 */
static void test_quote_options(void **state)
{
	const struct fam *f;
	struct pg_tcp t;
	bool after;
	u32 n, i;

	(void)state;
	ready();
	FOR_FAM(f) {
		for (i = 0; i < 2 * sizeof(opts) / sizeof(opts[0]); i++) {
			after = i & 1;
			from_a(&t, f, AP_TCP_ACK);
			t.paylen = 200;
			if (!after)
				pg_tcp_add_opt(&t, opts[i / 2].o, opts[i / 2].n);
			nops(&t, 2);
			ts(&t, 64 * 500 + 2, 7000);
			if (after)
				pg_tcp_add_opt(&t, opts[i / 2].o, opts[i / 2].n);
			n = frame_error(in, f, tmp, pg_build_tcp(tmp, &t, NULL));
			assert_int_equal(core_icmp(f, in, n), after ? AP_SC_FORWARD : AP_SC_NO_TS);
			if (!after) {
				untouched(true, in, n, opts[i / 2].what);
				continue;
			}
			if (run(true, in, n) != TC_ACT_REDIRECT)
				fail_msg("%s after the timestamp, %s: not forwarded",
					 opts[i / 2].what, f->family == AP_AF_INET ? "IPv4" : "IPv6");
			encapsulated(f, in, n, f->own, f->peer2);
		}
	}
}

/* Forwards over forward_rate stay here, counted; a new configuration refills the maps. */
static void test_budget(void **state)
{
	const struct fam *f = &fams[0];
	u64 fwd, lim, sent = 0;
	cpu_set_t all, one;
	char err[512];
	u32 i, n;
	int r;

	(void)state;
	ready();
	assert_int_equal(second_set(&limited, err, sizeof(err)), 0);
	/*
	 * The budget is per CPU and second: of 6 in a moment, 2 at most, 4
	 * if a second starts in between. Past the window the tests before
	 * may have used, so that one at least must go.
	 */
	usleep(1100000);
	assert_int_equal(sched_getaffinity(0, sizeof(all), &all), 0);
	CPU_ZERO(&one);
	CPU_SET(sched_getcpu(), &one);
	assert_int_equal(sched_setaffinity(0, sizeof(one), &one), 0);
	fwd = counter(f->web, AP_STAT_SC_FORWARDED);
	lim = counter(f->web, AP_STAT_SC_LIMITED);
	for (i = 0; i < 6; i++) {
		n = ack_naming(in, f, 2);
		r = run(true, in, n);
		if (r == TC_ACT_REDIRECT) {
			sent++;
			continue;
		}
		assert_int_equal(r, TC_ACT_UNSPEC);
		assert_int_equal(outlen, n);
		assert_memory_equal(out, in, n);
	}
	assert_int_equal(sched_setaffinity(0, sizeof(all), &all), 0);
	assert_true(sent >= 1 && sent <= 4);
	assert_int_equal(counter(f->web, AP_STAT_SC_FORWARDED) - fwd, sent);
	assert_int_equal(counter(f->web, AP_STAT_SC_LIMITED) - lim, 6 - sent);
	assert_int_equal(second_set(&conf, err, sizeof(err)), 0);
}

/*
 * `ip link add NAME [index INDEX] type KIND` (@kind), `ip link set NAME
 * master M` (@master an index, 0 for nomaster, -1 for neither) or `ip
 * link del NAME` (RTM_DELLINK): 0, or an errno.
 */
static int link_req(u16 type, const char *name, const char *kind, int index, int master)
{
	struct mnl_socket *nl = mnl_socket_open(NETLINK_ROUTE);
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifinfomsg *ifi;
	struct nlattr *info;
	ssize_t n;
	int e = 0;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | (kind ? NLM_F_CREATE | NLM_F_EXCL : 0);
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_index = index;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	if (kind) {
		info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
		mnl_attr_put_strz(nlh, IFLA_INFO_KIND, kind);
		mnl_attr_nest_end(nlh, info);
	}
	if (master >= 0)
		mnl_attr_put_u32(nlh, IFLA_MASTER, (u32)master);
	if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) ||
	    mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0 ||
	    (n = mnl_socket_recvfrom(nl, buf, sizeof(buf))) < 0 ||
	    mnl_cb_run(buf, (size_t)n, 0, 0, NULL, NULL) < 0)
		e = errno;
	if (nl)
		mnl_socket_close(nl);
	return e;
}

static bool filtered(const char *name, enum bpf_tc_attach_point at)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, h, .ifindex = (int)if_nametoindex(name),
			    .attach_point = at);
	/* anypind's handle and priority (docs/second-chance.md). */
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, o, .handle = 0x616e7970, .priority = 0x6170);

	return !bpf_tc_query(&h, &o);
}

/* How many of our two filters device @name has (libbpf quiet: none is no news). */
static int filters(const char *name)
{
	libbpf_print_fn_t print = libbpf_set_print(NULL);
	int n = filtered(name, BPF_TC_INGRESS) + filtered(name, BPF_TC_EGRESS);

	libbpf_set_print(print);
	return n;
}

/*
 * The filters follow the devices by their notifications, in the test's
 * namespace: a device that comes gets them, one that joins a bridge loses
 * them and gets them back when it leaves, one that goes is forgotten (a
 * new one on its index gets them), and after notifications were lost a
 * dump finds what they told.
 */
static void test_devices(void **state)
{
	static const char *const burst[] = { "sct2", "sct3", "sct4", "sct5" };
	int fd, idx, tiny = 1;
	size_t i;

	(void)state;
	ready();
	fd = second_monitor_fd();
	assert_true(fd >= 0);
	assert_int_equal(link_req(RTM_NEWLINK, "sct0", "veth", 0, -1), 0);
	assert_int_equal(link_req(RTM_NEWLINK, "sctbr", "bridge", 0, -1), 0);
	second_monitor_run();
	assert_int_equal(filters("sct0"), 2);
	assert_int_equal(filters("sctbr"), 2);

	assert_int_equal(link_req(RTM_NEWLINK, "sct0", NULL, 0, (int)if_nametoindex("sctbr")), 0);
	second_monitor_run();
	assert_int_equal(filters("sct0"), 0);
	assert_int_equal(filters("sctbr"), 2);
	assert_int_equal(link_req(RTM_NEWLINK, "sct0", NULL, 0, 0), 0);
	second_monitor_run();
	assert_int_equal(filters("sct0"), 2);

	idx = (int)if_nametoindex("sct0");
	assert_int_equal(link_req(RTM_DELLINK, "sct0", NULL, 0, -1), 0);
	assert_int_equal(link_req(RTM_NEWLINK, "sct1", "bridge", idx, -1), 0);
	assert_int_equal((int)if_nametoindex("sct1"), idx);
	second_monitor_run();
	assert_int_equal(filters("sct1"), 2);

	/* The socket's smallest buffer: one notification fits, the rest are lost. */
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &tiny, sizeof(tiny)), 0);
	for (i = 0; i < sizeof(burst) / sizeof(burst[0]); i++)
		assert_int_equal(link_req(RTM_NEWLINK, burst[i], "bridge", 0, -1), 0);
	second_monitor_run();
	for (i = 0; i < sizeof(burst) / sizeof(burst[0]); i++)
		assert_int_equal(filters(burst[i]), 2);

	for (i = 0; i < sizeof(burst) / sizeof(burst[0]); i++)
		assert_int_equal(link_req(RTM_DELLINK, burst[i], NULL, 0, -1), 0);
	assert_int_equal(link_req(RTM_DELLINK, "sct1", NULL, 0, -1), 0);
	assert_int_equal(link_req(RTM_DELLINK, "sctbr", NULL, 0, -1), 0);
	second_monitor_run();
}

/* errno of loading a program that returns 0, or 0. */
static int probe(void)
{
	const struct bpf_insn prog[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	int fd = bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, NULL, "GPL", prog, 2, NULL);

	if (fd < 0)
		return -fd;
	close(fd);
	return 0;
}

/* The configuration from @text, as anypind reads its file: 0, or -1 with load_err. */
static int parse(struct ap_conf *c, const char *text)
{
	struct ap_conf_err e = { 0, NULL };

	ap_conf_init(c);
	c->sc_supported = true;
	if (!ap_conf_parse(c, text, (u32)strlen(text), &e))
		return 0;
	snprintf(load_err, sizeof(load_err), "configuration, line %u: %s", e.line, e.why);
	return -1;
}

/* lo up, for test_local's sockets: 0, or errno. */
static int lo_up(void)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), e = 0;
	struct ifreq r;

	memset(&r, 0, sizeof(r));
	strcpy(r.ifr_name, "lo");
	if (s < 0 || ioctl(s, SIOCGIFFLAGS, &r))
		e = errno;
	r.ifr_flags |= IFF_UP;
	if (!e && ioctl(s, SIOCSIFFLAGS, &r))
		e = errno;
	if (s >= 0)
		close(s);
	return e;
}

/*
 * Forwarding on and a route to every peer through lo, as an instance that
 * routes has them, so that the programs look them up (test_unrouted),
 * and the prefixes' unicast addresses on lo, as an instance has them;
 * then anypind's loop reads what changed (test_unforwarded): 0, or errno.
 */
static int routes(void)
{
	static const char *const peers[] = { "198.51.100.2", "198.51.100.3", "2001:db8:1::2",
					     "2001:db8:1::3" };
	static const char *const own[] = { "198.51.100.1", "198.51.100.9", "2001:db8:1::1",
					   "2001:db8:1::9" };
	int e = write_sysctl(forwarding[0], "1");
	u32 i;

	if (!e)
		e = write_sysctl(forwarding[1], "1");
	for (i = 0; !e && i < sizeof(peers) / sizeof(peers[0]); i++)
		e = route(RTM_NEWROUTE, peers[i], RTN_UNICAST, 0);
	for (i = 0; !e && i < sizeof(own) / sizeof(own[0]); i++)
		e = address(RTM_NEWADDR, own[i]);
	second_monitor_run();
	return e;
}

/*
 * A network namespace of the test's own before anything loads: no device
 * in it gets second_set()'s filters (lo is not Ethernet), and test_run's
 * skb is its lo's.
 */
static void setup(void)
{
	int e;

	if (unshare(CLONE_NEWNET)) {
		if (errno == EPERM || errno == ENOSYS)
			skip_why = "no network namespace of its own (needs root)";
		else
			snprintf(load_err, sizeof(load_err), "unshare: %s", strerror(errno));
		return;
	}
	e = probe();
	if (e == EPERM || e == ENOSYS) {
		skip_why = "no BPF (needs CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN)";
		return;
	}
	if (parse(&conf, CONF) || parse(&limited, CONF "net.anypin.forward_rate = 2\n"))
		return;
	tab = table_new(&conf, NULL);
	if (!tab) {
		snprintf(load_err, sizeof(load_err), "table_new: out of memory");
		return;
	}
	if (second_set(&conf, load_err, sizeof(load_err)))
		return;
	load_err[0] = 0;
	e = lo_up();
	if (e) {
		snprintf(load_err, sizeof(load_err), "lo: %s", strerror(e));
		return;
	}
	e = routes();
	if (e)
		snprintf(load_err, sizeof(load_err), "routes to the peers: %s", strerror(e));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stamp),
		cmocka_unit_test(test_mss),
		cmocka_unit_test(test_egress_untouched),
		cmocka_unit_test(test_decap),
		cmocka_unit_test(test_forward),
		cmocka_unit_test(test_local),
		cmocka_unit_test(test_mtu),
		cmocka_unit_test(test_unrouted),
		cmocka_unit_test_teardown(test_unforwarded, unforwarded_done),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_quote_options),
		cmocka_unit_test(test_budget),
		cmocka_unit_test(test_devices),
	};
	int r;

	setup();
	if (skip_why)
		fprintf(stderr, "test_second_bpf: skipped: %s\n", skip_why);
	r = cmocka_run_group_tests(tests, NULL, NULL);
	second_close();
	if (tab)
		table_free(tab);
	return r;
}
