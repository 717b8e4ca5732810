// SPDX-License-Identifier: GPL-2.0 OR MIT
/* Packet builder for the unit tests; see pktgen.h. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pktgen.h"

static void pg_die(const char *what)
{
	fprintf(stderr, "pktgen: %s\n", what);
	abort();
}

/* ---- checksum arithmetic, deliberately naive ---- */

u32 pg_sum(u32 sum, const u8 *buf, u32 len)
{
	u32 i;

	for (i = 0; i < len; i++) {
		if (i % 2 == 0)
			sum += (u32)buf[i] << 8;
		else
			sum += buf[i];
		if (sum > 0xffff)
			sum = (sum & 0xffff) + (sum >> 16);
	}
	return sum;
}

u16 pg_fold(u32 sum)
{
	while (sum > 0xffff)
		sum = (sum & 0xffff) + (sum >> 16);
	return (u16)sum;
}

static u16 rd16(const u8 *b)
{
	return (u16)(b[0] << 8 | b[1]);
}

static void wr16(u8 *b, u32 v)
{
	b[0] = (u8)(v >> 8);
	b[1] = (u8)v;
}

static void wr32(u8 *b, u32 v)
{
	wr16(b, v >> 16);
	wr16(b + 2, v & 0xffff);
}

/* Sum of @buf[0, len) with the checksum field at @csum_at taken as zero. */
static u32 pg_sum_skip(u32 sum, const u8 *buf, u32 len, u32 csum_at)
{
	sum = pg_sum(sum, buf, csum_at);
	if (len > csum_at + 2)
		sum = pg_sum(sum, buf + csum_at + 2, len - csum_at - 2);
	return sum;
}

static u32 pg_pseudo(u8 family, const u8 *ip, u8 proto, u32 l4len)
{
	u8 ph[40];
	u32 n;

	memset(ph, 0, sizeof(ph));
	if (family == AP_AF_INET) {
		memcpy(ph, ip + 12, 8);
		ph[9] = proto;
		wr16(ph + 10, l4len);
		n = 12;
	} else {
		memcpy(ph, ip + 8, 32);
		wr32(ph + 32, l4len);
		ph[39] = proto;
		n = 40;
	}
	return pg_sum(0, ph, n);
}

/* ---- spec helpers ---- */

void pg_addr(struct ap_addr *a, const char *str)
{
	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, str, a->b) == 1) {
		a->family = AP_AF_INET;
		return;
	}
	if (inet_pton(AF_INET6, str, a->b) == 1) {
		a->family = AP_AF_INET6;
		return;
	}
	pg_die("bad address");
}

void pg_tcp_init(struct pg_tcp *t, const char *src, const char *dst,
		 u16 sport, u16 dport, u8 flags)
{
	memset(t, 0, sizeof(*t));
	pg_addr(&t->src, src);
	pg_addr(&t->dst, dst);
	if (t->src.family != t->dst.family)
		pg_die("address families differ");
	t->sport = sport;
	t->dport = dport;
	t->flags = flags;
	t->window = 65535;
	t->ttl = 64;
}

void pg_tcp_add_opt(struct pg_tcp *t, const u8 *opt, u8 len)
{
	if (t->optlen + len > sizeof(t->opts))
		pg_die("TCP options overflow");
	memcpy(t->opts + t->optlen, opt, len);
	t->optlen += len;
}

void pg_icmp_init(struct pg_icmp *e, const char *src, const char *dst,
		  u8 type, u8 code)
{
	memset(e, 0, sizeof(*e));
	pg_addr(&e->src, src);
	pg_addr(&e->dst, dst);
	if (e->src.family != e->dst.family)
		pg_die("address families differ");
	e->type = type;
	e->code = code;
	e->ttl = 64;
}

/* ---- building ---- */

static u32 pad4(u32 n)
{
	return (n + 3) & ~3u;
}

static u32 pg_ext_len(const struct pg_ext *x)
{
	return x->type == PG_IPPROTO_FRAGMENT ? 8 : (x->len8 + 1u) * 8;
}

/*
 * Writes the IP header (and IPv4 options or IPv6 extension headers) for
 * @l4len bytes of protocol @proto; returns the header chain's length.
 */
static u32 pg_ip(u8 *buf, const struct ap_addr *src, const struct ap_addr *dst,
		 u8 proto, u8 ttl, const u8 *ipopts, u8 ipoptlen, u16 frag,
		 u16 ipid, const struct pg_ext *ext, unsigned int n_ext,
		 u32 l4len)
{
	u32 hl, i, off, xl;

	if (src->family == AP_AF_INET) {
		if (ipoptlen > 40)
			pg_die("IPv4 options too long");
		hl = 20 + pad4(ipoptlen);
		if (hl + l4len > 65535)
			pg_die("IPv4 packet too long");
		memset(buf, 0, hl);
		buf[0] = (u8)(0x40 | hl / 4);
		wr16(buf + 2, hl + l4len);
		wr16(buf + 4, ipid);
		wr16(buf + 6, frag);
		buf[8] = ttl;
		buf[9] = proto;
		memcpy(buf + 12, src->b, 4);
		memcpy(buf + 16, dst->b, 4);
		memcpy(buf + 20, ipopts, ipoptlen);
		wr16(buf + 10, (u16)~pg_fold(pg_sum(0, buf, hl)));
		return hl;
	}
	if (n_ext > PG_EXT_MAX)
		pg_die("too many extension headers");
	hl = 40;
	for (i = 0; i < n_ext; i++)
		hl += pg_ext_len(&ext[i]);
	if (hl - 40 + l4len > 65535)
		pg_die("IPv6 payload too long");
	memset(buf, 0, hl);
	buf[0] = 0x60;
	wr16(buf + 4, hl - 40 + l4len);
	buf[6] = n_ext ? ext[0].type : proto;
	buf[7] = ttl;
	memcpy(buf + 8, src->b, 16);
	memcpy(buf + 24, dst->b, 16);
	off = 40;
	for (i = 0; i < n_ext; i++) {
		u8 *x = buf + off;

		xl = pg_ext_len(&ext[i]);
		x[0] = i + 1 < n_ext ? ext[i + 1].type : proto;
		if (ext[i].type == PG_IPPROTO_FRAGMENT) {
			wr16(x + 2, (u32)ext[i].frag_off << 3 | ext[i].frag_mf);
			wr32(x + 4, 0xdeadbeef);
		} else if (ext[i].type == PG_IPPROTO_ROUTING) {
			x[1] = ext[i].len8;
			x[2] = 253;	/* RFC 4727 experimental type */
			x[3] = 0;	/* segments left */
		} else {
			/* one PadN option fills the rest */
			x[1] = ext[i].len8;
			x[2] = 1;
			x[3] = (u8)(xl - 4);
		}
		off += xl;
	}
	return hl;
}

u32 pg_build_tcp(u8 *buf, const struct pg_tcp *t, struct pg_layout *l)
{
	u32 olen = pad4(t->optlen), thl = 20 + olen, hl, i, seglen;
	u8 proto = t->proto ? t->proto : AP_IPPROTO_TCP;
	u8 *th;

	if (t->optlen > 40)
		pg_die("TCP options too long");
	seglen = thl + t->paylen;
	hl = pg_ip(buf, &t->src, &t->dst, proto, t->ttl, t->ipopts,
		   t->ipoptlen, t->frag, t->ipid, t->ext, t->n_ext, seglen);
	th = buf + hl;
	memset(th, 0, thl);
	wr16(th, t->sport);
	wr16(th + 2, t->dport);
	wr32(th + 4, t->seq);
	wr32(th + 8, t->ack);
	th[12] = (u8)(thl / 4 << 4);
	th[13] = t->flags;
	wr16(th + 14, t->window);
	memcpy(th + 20, t->opts, t->optlen);
	for (i = 0; i < t->paylen; i++)
		th[thl + i] = pg_pay_byte(t->pay_seed, i);
	wr16(th + 16, (u16)~pg_fold(pg_sum(pg_pseudo(t->src.family, buf,
				 AP_IPPROTO_TCP, seglen), th, seglen)));
	if (l) {
		memset(l, 0, sizeof(*l));
		l->len = hl + seglen;
		l->family = t->src.family;
		l->proto = proto;
		l->l4_off = hl;
		l->tcp_off = hl;
		l->tcp_hlen = thl;
		l->pay_off = hl + thl;
	}
	return hl + seglen;
}

u32 pg_build_icmp(u8 *buf, const struct pg_icmp *e, const u8 *inner,
		  u32 inlen, struct pg_layout *l)
{
	u8 family = e->src.family;
	u8 proto = family == AP_AF_INET ? AP_IPPROTO_ICMP : AP_IPPROTO_ICMPV6;
	u32 hl, sum, len;
	u8 *ih;

	hl = pg_ip(buf, &e->src, &e->dst, proto, e->ttl, e->ipopts,
		   e->ipoptlen, 0, 0, e->ext, e->n_ext, 8 + inlen);
	ih = buf + hl;
	ih[0] = e->type;
	ih[1] = e->code;
	wr16(ih + 2, 0);
	wr32(ih + 4, e->rest);
	memmove(ih + 8, inner, inlen);
	sum = family == AP_AF_INET ? 0 : pg_pseudo(family, buf, proto, 8 + inlen);
	wr16(ih + 2, (u16)~pg_fold(pg_sum(sum, ih, 8 + inlen)));
	len = hl + 8 + inlen;
	if (l && pg_locate(buf, len, l))
		memset(l, 0, sizeof(*l));
	return len;
}

/* ---- locating ---- */

/* IP header chain at @ip (@len bytes): upper-layer offset and protocol. */
static int pg_walk(const u8 *ip, u32 len, u32 *l4, u8 *proto, u8 *family)
{
	u32 off, hl;
	u8 nh;

	if (len < 1)
		return -1;
	if (ip[0] >> 4 == 4) {
		hl = (ip[0] & 0xfu) * 4;
		if (len < 20 || hl < 20 || hl > len)
			return -1;
		*family = AP_AF_INET;
		*l4 = hl;
		*proto = ip[9];
		return 0;
	}
	if (ip[0] >> 4 != 6 || len < 40)
		return -1;
	*family = AP_AF_INET6;
	off = 40;
	nh = ip[6];
	while (nh == PG_IPPROTO_HOPOPTS || nh == PG_IPPROTO_ROUTING ||
	       nh == PG_IPPROTO_FRAGMENT || nh == PG_IPPROTO_DSTOPTS) {
		if (off + 8 > len)
			return -1;
		hl = nh == PG_IPPROTO_FRAGMENT ? 8 : (ip[off + 1] + 1u) * 8;
		nh = ip[off];
		off += hl;
		if (off > len)
			return -1;
	}
	*l4 = off;
	*proto = nh;
	return 0;
}

int pg_locate(const u8 *pkt, u32 len, struct pg_layout *l)
{
	u32 in_l4;
	u8 in_proto, in_family;

	memset(l, 0, sizeof(*l));
	l->len = len;
	if (pg_walk(pkt, len, &l->l4_off, &l->proto, &l->family))
		return -1;
	if (l->proto == AP_IPPROTO_TCP) {
		l->tcp_off = l->l4_off;
		if (len - l->tcp_off < 20)
			return -1;
		l->tcp_hlen = (pkt[l->tcp_off + 12] >> 4) * 4u;
		if (l->tcp_hlen < 20 || l->tcp_hlen > len - l->tcp_off)
			return -1;
		l->pay_off = l->tcp_off + l->tcp_hlen;
		return 0;
	}
	if (l->proto != AP_IPPROTO_ICMP && l->proto != AP_IPPROTO_ICMPV6)
		return -1;
	if (len - l->l4_off < 8)
		return -1;
	l->in_off = l->l4_off + 8;
	l->in_len = len - l->in_off;
	if (pg_walk(pkt + l->in_off, l->in_len, &in_l4, &in_proto, &in_family))
		return -1;
	if (in_proto != AP_IPPROTO_TCP || in_family != l->family)
		return -1;
	l->tcp_off = l->in_off + in_l4;
	if (len - l->tcp_off >= 20)
		l->tcp_hlen = (pkt[l->tcp_off + 12] >> 4) * 4u;
	return 0;
}

/* ---- recomputation ---- */

u16 pg_ipv4_csum(const u8 *iph)
{
	return (u16)~pg_fold(pg_sum_skip(0, iph, (iph[0] & 0xfu) * 4, 10));
}

u16 pg_tcp_csum(const u8 *pkt, u32 len)
{
	struct pg_layout l;
	u32 seg;

	if (pg_locate(pkt, len, &l) || l.proto != AP_IPPROTO_TCP)
		pg_die("pg_tcp_csum: not a TCP packet");
	seg = len - l.tcp_off;
	return (u16)~pg_fold(pg_sum_skip(pg_pseudo(l.family, pkt,
					 AP_IPPROTO_TCP, seg),
					 pkt + l.tcp_off, seg, 16));
}

u16 pg_tcp_pseudo(const u8 *pkt, u32 len)
{
	struct pg_layout l;

	if (pg_locate(pkt, len, &l) || l.proto != AP_IPPROTO_TCP)
		pg_die("pg_tcp_pseudo: not a TCP packet");
	return pg_fold(pg_pseudo(l.family, pkt, AP_IPPROTO_TCP,
				 len - l.tcp_off));
}

u16 pg_icmp_csum(const u8 *pkt, u32 len)
{
	struct pg_layout l;
	u32 sum = 0, n;

	if (pg_locate(pkt, len, &l) || !l.in_off)
		pg_die("pg_icmp_csum: not an ICMP error");
	n = len - l.l4_off;
	if (l.family == AP_AF_INET6)
		sum = pg_pseudo(l.family, pkt, AP_IPPROTO_ICMPV6, n);
	return (u16)~pg_fold(pg_sum_skip(sum, pkt + l.l4_off, n, 2));
}

unsigned int pg_verify(const u8 *pkt, u32 len)
{
	struct pg_layout l;
	unsigned int bad = 0;
	const u8 *in;

	if (pg_locate(pkt, len, &l))
		return PG_BAD_LAYOUT;
	if (l.family == AP_AF_INET) {
		if (rd16(pkt + 2) != len)
			bad |= PG_BAD_IPLEN;
		if (rd16(pkt + 10) != pg_ipv4_csum(pkt))
			bad |= PG_BAD_IPCSUM;
	} else if (rd16(pkt + 4) + 40u != len) {
		bad |= PG_BAD_IPLEN;
	}
	if (l.proto == AP_IPPROTO_TCP) {
		if (rd16(pkt + l.tcp_off + 16) != pg_tcp_csum(pkt, len))
			bad |= PG_BAD_TCPCSUM;
		return bad;
	}
	if (rd16(pkt + l.l4_off + 2) != pg_icmp_csum(pkt, len))
		bad |= PG_BAD_ICMPCSUM;
	in = pkt + l.in_off;
	if (l.family == AP_AF_INET && rd16(in + 10) != pg_ipv4_csum(in))
		bad |= PG_BAD_INIPCSUM;
	return bad;
}

void pg_set_pseudo(u8 *pkt, u32 len)
{
	struct pg_layout l;

	if (pg_locate(pkt, len, &l) || l.proto != AP_IPPROTO_TCP)
		pg_die("pg_set_pseudo: not a TCP packet");
	wr16(pkt + l.tcp_off + 16, pg_tcp_pseudo(pkt, len));
}

/* ---- random packets ---- */

void pg_rng_seed(struct pg_rng *r, u64 seed)
{
	r->s = seed * 0x9e3779b97f4a7c15ull + 0x2545f4914f6cdd1dull;
	if (!r->s)
		r->s = 1;
}

u32 pg_rand(struct pg_rng *r)
{
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return (u32)((r->s * 0x2545f4914f6cdd1dull) >> 32);
}

u32 pg_rand_below(struct pg_rng *r, u32 n)
{
	return (u32)(((u64)pg_rand(r) * n) >> 32);
}

static void pg_rand_bytes(struct pg_rng *r, u8 *b, u32 n)
{
	u32 i;

	for (i = 0; i < n; i++)
		b[i] = (u8)pg_rand(r);
}

static void pg_rand_addr(struct pg_rng *r, struct ap_addr *a, u8 family)
{
	memset(a, 0, sizeof(*a));
	a->family = family;
	pg_rand_bytes(r, a->b, ap_addr_len(family));
}

/* Random valid TCP options, at most @room bytes, padded by the builder. */
static void pg_rand_opts(struct pg_rng *r, struct pg_tcp *t, u32 room)
{
	u8 o[40];
	u32 n;

	t->optlen = 0;
	for (;;) {
		switch (pg_rand_below(r, 7)) {
		case 0:		/* MSS */
			o[0] = 2;
			o[1] = 4;
			wr16(o + 2, 536 + pg_rand_below(r, 9000));
			n = 4;
			break;
		case 1:		/* window scale */
			o[0] = 3;
			o[1] = 3;
			o[2] = (u8)pg_rand_below(r, 15);
			n = 3;
			break;
		case 2:		/* SACK permitted */
			o[0] = 4;
			o[1] = 2;
			n = 2;
			break;
		case 3:		/* timestamps */
			o[0] = 8;
			o[1] = 10;
			pg_rand_bytes(r, o + 2, 8);
			n = 10;
			break;
		case 4:
			o[0] = AP_TCPOPT_NOP;
			n = 1;
			break;
		case 5:		/* some other kind, with a length */
			n = 2 + pg_rand_below(r, 7);
			o[0] = (u8)(30 + pg_rand_below(r, 200));
			o[1] = (u8)n;
			pg_rand_bytes(r, o + 2, n - 2);
			break;
		default:
			return;
		}
		if (t->optlen + n > room)
			return;
		pg_tcp_add_opt(t, o, (u8)n);
	}
}

static void pg_rand_ext(struct pg_rng *r, struct pg_ext *ext,
			unsigned int *n_ext)
{
	static const u8 types[] = { PG_IPPROTO_ROUTING, PG_IPPROTO_DSTOPTS };
	unsigned int i, n = 1 + pg_rand_below(r, 3);

	for (i = 0; i < n; i++) {
		memset(&ext[i], 0, sizeof(ext[i]));
		if (i == 0 && pg_rand_below(r, 2))
			ext[i].type = PG_IPPROTO_HOPOPTS;
		else
			ext[i].type = types[pg_rand_below(r, 2)];
		ext[i].len8 = (u8)pg_rand_below(r, 4);
	}
	*n_ext = n;
}

static u8 pg_rand_family(struct pg_rng *r, u8 family)
{
	if (family)
		return family;
	return pg_rand_below(r, 2) ? AP_AF_INET6 : AP_AF_INET;
}

void pg_random_tcp(struct pg_rng *r, struct pg_tcp *t, u8 family, u32 maxpay)
{
	family = pg_rand_family(r, family);
	memset(t, 0, sizeof(*t));
	pg_rand_addr(r, &t->src, family);
	pg_rand_addr(r, &t->dst, family);
	t->sport = (u16)pg_rand(r);
	t->dport = (u16)pg_rand(r);
	t->seq = pg_rand(r);
	t->ack = pg_rand(r);
	t->flags = (u8)pg_rand(r);
	t->window = (u16)pg_rand(r);
	t->ttl = (u8)(1 + pg_rand_below(r, 255));
	t->ipid = (u16)pg_rand(r);
	t->pay_seed = (u8)pg_rand(r);
	if (pg_rand_below(r, 4))
		pg_rand_opts(r, t, 1 + pg_rand_below(r, 40));
	t->paylen = pg_rand_below(r, maxpay + 1);
	if (family == AP_AF_INET) {
		t->frag = pg_rand_below(r, 2) ? 0x4000 : 0;
		if (!pg_rand_below(r, 3)) {
			t->ipoptlen = (u8)(4 * (1 + pg_rand_below(r, 10)));
			pg_rand_bytes(r, t->ipopts, t->ipoptlen);
		}
	} else if (pg_rand_below(r, 2)) {
		pg_rand_ext(r, t->ext, &t->n_ext);
	}
}

void pg_random_icmp(struct pg_rng *r, struct pg_icmp *e, u8 family)
{
	static const u8 t4[] = { 3, 11, 12 };
	static const u8 t6[] = { 1, 2, 3, 4 };

	family = pg_rand_family(r, family);
	memset(e, 0, sizeof(*e));
	pg_rand_addr(r, &e->src, family);
	pg_rand_addr(r, &e->dst, family);
	e->ttl = 64;
	e->rest = pg_rand(r);
	e->code = (u8)pg_rand_below(r, 6);
	if (family == AP_AF_INET) {
		e->type = t4[pg_rand_below(r, 3)];
		if (!pg_rand_below(r, 4)) {
			e->ipoptlen = (u8)(4 * (1 + pg_rand_below(r, 10)));
			pg_rand_bytes(r, e->ipopts, e->ipoptlen);
		}
	} else {
		e->type = t6[pg_rand_below(r, 4)];
		if (!pg_rand_below(r, 4))
			pg_rand_ext(r, e->ext, &e->n_ext);
	}
}
