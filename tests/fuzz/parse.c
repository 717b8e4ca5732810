// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * libFuzzer target: ap_parse() and ap_tcp_opts() on arbitrary bytes, and
 * the second chance's writes and decisions on what they parse.
 *
 * Input: 2 bytes (big-endian) of "headlen", then the IP packet. The packet
 * is parsed once linear (avail = len), then as the module does it with a
 * non-linear skb: from min(headlen, len) linear bytes, pulling p->need more
 * on AP_EMORE. The linear part lives in a buffer of exactly that size, so
 * a read past avail is an ASan report. Both must agree.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <anypin/packet.h>
#include <anypin/second.h>

#define CHECK(x)	do { if (!(x)) abort(); } while (0)

static bool in_opts(const struct ap_pkt *p, u16 off, u32 len)
{
	return off >= p->tcp_off + AP_TCP_HLEN_MIN && off + len <= (u32)p->tcp_off + p->tcp_hlen;
}

static bool in_field(u32 i, u16 off, u32 from, u32 len)
{
	return off && i >= off + from && i < off + from + len;
}

/* The TCP checksum of @p (complemented; 0 verifies a complete one). */
static u16 tcp_sum(const struct ap_pkt *p)
{
	return ap_l4_csum(p->family, p->data + p->saddr_off, p->data + p->daddr_off,
			  AP_IPPROTO_TCP, p->data + p->tcp_off, p->len - p->tcp_off);
}

/* Peers of every even id, with an IPv4 address. */
static void even_peers(struct ap_peers *pe)
{
	u32 i;

	memset(pe, 0, sizeof(*pe));
	for (i = 2; i <= AP_SC_ID_MAX; i += 2) {
		pe->ids |= (u64)1 << i;
		pe->peer[i].addr4.family = AP_AF_INET;
	}
}

/*
 * The stamp and the MSS write their field and the checksum (not even that
 * in AP_CSUM_PSEUDO mode), nothing else, and a complete checksum stays
 * true; the decision stays in its range.
 */
static void check_second(const struct ap_pkt *lin, const struct ap_opts *o)
{
	enum ap_csum_mode mode = lin->len & 1 ? AP_CSUM_FULL : AP_CSUM_PSEUDO;
	u32 i, csum = lin->tcp_off + 16;
	struct ap_peers pe;
	struct ap_sc_to to;
	struct ap_pkt p = *lin;
	u8 *copy = malloc(lin->len ? lin->len : 1), *orig = malloc(lin->len ? lin->len : 1);

	CHECK(copy && orig);
	memcpy(copy, lin->data, lin->len);
	p.data = copy;
	if (mode == AP_CSUM_FULL) {
		ap_put16(copy + csum, 0);
		ap_put16(copy + csum, tcp_sum(&p));
	}
	memcpy(orig, copy, lin->len);
	ap_sc_stamp_pkt(&p, o, (u8)(1 + lin->seq % AP_SC_ID_MAX), mode);
	ap_sc_mss_pkt(&p, o, mode);
	for (i = 0; i < lin->len; i++)
		if (copy[i] != orig[i])
			CHECK(in_field(i, o->ts_off, 2, 4) || in_field(i, o->mss_off, 2, 2) ||
			      (mode == AP_CSUM_FULL && (i == csum || i == csum + 1)));
	if (mode == AP_CSUM_FULL)
		CHECK(tcp_sum(&p) == 0);
	free(orig);
	even_peers(&pe);
	i = ap_sc_in(1, &pe, &p, o, false, NULL, NULL, &to);
	CHECK(i < AP_SC_MAX);
	CHECK(i != AP_SC_FORWARD || (to.addr.family == p.family && !(to.id & 1)));
	free(copy);
}

/*
 * The TSval of a quoted segment comes from an option inside the quote and
 * the quoted header's data offset, and only the family's peers get it.
 */
static void check_icmp_second(const struct ap_pkt *p)
{
	u32 tsval, end = p->tcp_off + (p->tcp_hlen ? (p->data[p->tcp_off + 12] >> 4) * 4 : 0);
	struct ap_peers pe;
	struct ap_sc_to to;
	enum ap_sc v;
	u32 i;

	if (end > p->len)
		end = p->len;
	if (ap_icmp_tsval(p, &tsval)) {
		CHECK(p->tcp_hlen == AP_TCP_HLEN_MIN);
		for (i = p->tcp_off + AP_TCP_HLEN_MIN; i + AP_TCPOPT_TS_LEN <= end; i++)
			if (p->data[i] == AP_TCPOPT_TS && p->data[i + 1] == AP_TCPOPT_TS_LEN &&
			    ap_get32(p->data + i + 2) == tsval)
				break;
		CHECK(i + AP_TCPOPT_TS_LEN <= end);
	}
	even_peers(&pe);
	v = ap_sc_icmp(1, &pe, p, false, &to);
	CHECK(v < AP_SC_MAX && v != AP_SC_LOCAL && v != AP_SC_TUNNEL);
	CHECK(v != AP_SC_FORWARD || (p->family == AP_AF_INET && !(to.id & 1)));
	CHECK(ap_sc_icmp(1, &pe, p, true, &to) == AP_SC_TUNNEL);
}

/* Every offset the parser handed out lies inside the packet. */
static void check_pkt(const struct ap_pkt *p)
{
	u32 alen = ap_addr_len(p->family);
	struct ap_addr a;
	struct ap_opts o;

	CHECK(p->family == AP_AF_INET || p->family == AP_AF_INET6);
	CHECK((u32)p->saddr_off + alen <= p->len && (u32)p->daddr_off + alen <= p->len);
	CHECK(p->l4_off < p->len && p->tcp_off >= p->l4_off);
	ap_pkt_saddr(p, &a);
	ap_pkt_daddr(p, &a);
	if (!ap_pkt_is_icmp(p)) {
		CHECK(p->tcp_off == p->l4_off);
		CHECK(p->tcp_hlen >= AP_TCP_HLEN_MIN && p->tcp_hlen <= AP_TCP_HLEN_MAX);
		CHECK((u32)p->tcp_off + p->tcp_hlen + p->tcp_paylen == p->len);
		if (ap_tcp_opts(p, AP_EXID_DEFAULT, &o) != AP_OK)
			return;
		if (o.cap)
			CHECK(in_opts(p, o.cap_off, AP_OPT_LEN));
		if (o.mss_off)
			CHECK(in_opts(p, o.mss_off, AP_TCPOPT_MSS_LEN));
		if (o.ts_off)
			CHECK(in_opts(p, o.ts_off, AP_TCPOPT_TS_LEN));
		check_second(p, &o);
		return;
	}
	CHECK(p->in_off == p->l4_off + 8 && (u32)p->in_off + p->in_len == p->len);
	CHECK((u32)p->in_saddr_off + alen <= p->len && (u32)p->in_daddr_off + alen <= p->len);
	CHECK((u32)p->tcp_off + 8 <= p->len);
	CHECK(p->tcp_hlen == 0 || p->tcp_hlen == AP_TCP_HLEN_MIN);
	CHECK(ap_tcp_opts(p, AP_EXID_DEFAULT, &o) == AP_ETCPOPT);
	ap_pkt_in_saddr(p, &a);
	ap_pkt_in_daddr(p, &a);
	check_icmp_second(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ap_pkt lin, p;
	u32 len, avail, head;
	u8 *pkt, *part;
	int err, lerr, tries;

	if (size < 2)
		return 0;
	head = (u32)data[0] << 8 | data[1];
	len = (u32)(size - 2);
	pkt = malloc(len ? len : 1);
	CHECK(pkt);
	memcpy(pkt, data + 2, len);

	lerr = ap_parse(&lin, pkt, len, len);
	CHECK(lerr >= AP_OK && lerr < AP_PERR_MAX && lerr != AP_EMORE);
	if (lerr == AP_OK) {
		CHECK(lin.len <= len);
		check_pkt(&lin);
	}

	/* The module's way: ask, pull what it says, ask again. */
	avail = head < len ? head : len;
	for (tries = 0;; tries++) {
		part = malloc(avail ? avail : 1);
		CHECK(part);
		memcpy(part, pkt, avail);
		err = ap_parse(&p, part, len, avail);
		free(part);
		if (err != AP_EMORE)
			break;
		/* Progress, within the packet and the headers' bound. */
		CHECK(p.need > avail && p.need <= len && p.need <= AP_HDR_MAX);
		CHECK(tries < AP_HDR_MAX);
		avail = p.need;
	}
	CHECK(err == lerr);
	if (err == AP_OK) {
		p.data = lin.data;
		CHECK(!memcmp(&p, &lin, sizeof(p)));
	}
	free(pkt);
	return 0;
}
