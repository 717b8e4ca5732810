// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Parsing of IPv4/IPv6 TCP packets and of the ICMP errors about them.
 * Every read is checked against @avail (what is linear) after the length
 * it depends on has been checked against the packet's length, so a
 * header outside the packet gives its own error and one that is merely
 * not linear gives AP_EMORE. Extension header walks are bounded by
 * AP_HDR_MAX, so the work per packet is bounded too.
 */
#include <anypin/bytes.h>
#include <anypin/packet.h>
#include <anypin/wire.h>

#define AP_IPPROTO_HOPOPTS	0
#define AP_IPPROTO_ROUTING	43
#define AP_IPPROTO_FRAGMENT	44
#define AP_IPPROTO_DSTOPTS	60
#define AP_IPV6_OPT_JUMBO	0xc2

const char *const ap_perr_names[AP_PERR_MAX] = {
	[AP_OK]		= "ok",
	[AP_EMORE]	= "more",
	[AP_ESHORT]	= "short",
	[AP_EVERSION]	= "version",
	[AP_EIPHLEN]	= "iphlen",
	[AP_EIPLEN]	= "iplen",
	[AP_EFRAG]	= "frag",
	[AP_EEXTHDR]	= "exthdr",
	[AP_EPROTO]	= "proto",
	[AP_ETCPHLEN]	= "tcphlen",
	[AP_ETCPOPT]	= "tcpopt",
	[AP_EICMP]	= "icmp",
	[AP_EINNER]	= "inner",
};

/* Bytes [0, @n) lie inside the packet; AP_EMORE unless they are linear. */
static int ap_pull(struct ap_pkt *p, u32 n, u32 avail)
{
	if (n <= avail)
		return AP_OK;
	p->need = n;
	return AP_EMORE;
}

/* Fills what @present (>= 8) bytes of the TCP header at @off give. */
static void ap_tcp_fields(struct ap_pkt *p, u32 off, u32 present)
{
	const u8 *th = p->data + off;

	p->tcp_off = off;
	memcpy(&p->sport, th, 2);
	memcpy(&p->dport, th + 2, 2);
	p->seq = ap_get32(th + 4);
	if (present >= 12)
		p->ack = ap_get32(th + 8);
	if (present >= 14)
		p->tcp_flags = th[13];
}

static int ap_parse_tcp(struct ap_pkt *p, u32 off, u32 avail)
{
	u32 hlen;
	int err;

	if (p->len - off < AP_TCP_HLEN_MIN)
		return AP_ETCPHLEN;
	if (off + AP_TCP_HLEN_MIN > AP_HDR_MAX)
		return AP_EEXTHDR;
	err = ap_pull(p, off + AP_TCP_HLEN_MIN, avail);
	if (err)
		return err;
	hlen = (p->data[off + 12] >> 4) * 4;
	if (hlen < AP_TCP_HLEN_MIN || hlen > p->len - off)
		return AP_ETCPHLEN;
	if (off + hlen > AP_HDR_MAX)
		return AP_EEXTHDR;
	err = ap_pull(p, off + hlen, avail);
	if (err)
		return err;
	ap_tcp_fields(p, off, hlen);
	p->tcp_hlen = hlen;
	p->tcp_paylen = p->len - off - hlen;
	return AP_OK;
}

/*
 * Walks IPv6 extension headers from *@off, the first one being *@nh, to
 * the upper-layer header; the chain must end within @end and AP_HDR_MAX.
 * The outer chain may not hold a fragment header; an embedded one (@inner)
 * may, if it is the first fragment, and its errors are AP_EINNER.
 */
static int ap_ipv6_walk(struct ap_pkt *p, u32 *off, u8 *nh, u32 end,
			u32 avail, bool inner)
{
	int bad = inner ? AP_EINNER : AP_EEXTHDR;
	u32 o = *off, start = *off, hl;
	u8 h = *nh;
	int err;

	for (;;) {
		switch (h) {
		case AP_IPPROTO_HOPOPTS:
			if (o != start)
				return bad;
			break;
		case AP_IPPROTO_ROUTING:
		case AP_IPPROTO_DSTOPTS:
			break;
		case AP_IPPROTO_FRAGMENT:
			if (!inner)
				return AP_EFRAG;
			break;
		default:
			*off = o;
			*nh = h;
			return AP_OK;
		}
		if (o + 8 > end || o + 8 > AP_HDR_MAX)
			return bad;
		err = ap_pull(p, o + 8, avail);
		if (err)
			return err;
		if (h == AP_IPPROTO_FRAGMENT) {
			if (ap_get16(p->data + o + 2) & 0xfff8)
				return AP_EINNER;
			hl = 8;
		} else {
			hl = (p->data[o + 1] + 1) * 8;
		}
		h = p->data[o];
		o += hl;
		if (o > end || o > AP_HDR_MAX)
			return bad;
	}
}

/* The packet embedded in an ICMP error, at @in. */
static int ap_parse_inner(struct ap_pkt *p, u32 in, u32 avail)
{
	const u8 *d = p->data;
	u32 end = p->len, th, hlen, n;
	u8 nh;
	int err;

	if (p->family == AP_AF_INET) {
		if (end - in < AP_IPV4_HLEN_MIN)
			return AP_EINNER;
		err = ap_pull(p, in + AP_IPV4_HLEN_MIN, avail);
		if (err)
			return err;
		hlen = (d[in] & 0xf) * 4;
		if (d[in] >> 4 != 4 || hlen < AP_IPV4_HLEN_MIN ||
		    hlen > end - in || ap_get16(d + in + 2) < hlen + 8)
			return AP_EINNER;
		if (ap_get16(d + in + 6) & 0x1fff)
			return AP_EINNER;
		err = ap_pull(p, in + hlen, avail);
		if (err)
			return err;
		if (d[in + 9] != AP_IPPROTO_TCP)
			return AP_EPROTO;
		p->in_saddr_off = in + 12;
		p->in_daddr_off = in + 16;
		th = in + hlen;
	} else {
		if (end - in < AP_IPV6_HLEN || in + AP_IPV6_HLEN > AP_HDR_MAX)
			return AP_EINNER;
		err = ap_pull(p, in + AP_IPV6_HLEN, avail);
		if (err)
			return err;
		if (d[in] >> 4 != 6)
			return AP_EINNER;
		th = in + AP_IPV6_HLEN;
		nh = d[in + 6];
		err = ap_ipv6_walk(p, &th, &nh, end, avail, true);
		if (err)
			return err;
		if (nh != AP_IPPROTO_TCP)
			return AP_EPROTO;
		p->in_saddr_off = in + 8;
		p->in_daddr_off = in + 24;
	}
	/* ICMP keeps at least 8 bytes of the offending packet: ports, seq */
	if (end - th < 8 || th + AP_TCP_HLEN_MIN > AP_HDR_MAX)
		return AP_EINNER;
	n = end - th < AP_TCP_HLEN_MIN ? end - th : AP_TCP_HLEN_MIN;
	err = ap_pull(p, th + n, avail);
	if (err)
		return err;
	ap_tcp_fields(p, th, n);
	p->tcp_hlen = n == AP_TCP_HLEN_MIN ? AP_TCP_HLEN_MIN : 0;
	p->in_off = in;
	p->in_len = end - in;
	return AP_OK;
}

static bool ap_icmp_is_error(u8 family, u8 type)
{
	if (family == AP_AF_INET)
		return type == 3 || type == 11 || type == 12;
	return type >= 1 && type <= 4;
}

static int ap_parse_icmp(struct ap_pkt *p, u32 off, u32 avail)
{
	int err;

	if (p->len - off < 8)
		return AP_ESHORT;
	if (off + 8 > AP_HDR_MAX)
		return AP_EEXTHDR;
	err = ap_pull(p, off + 8, avail);
	if (err)
		return err;
	p->icmp_type = p->data[off];
	p->icmp_code = p->data[off + 1];
	if (!ap_icmp_is_error(p->family, p->icmp_type))
		return AP_EICMP;
	return ap_parse_inner(p, off + 8, avail);
}

static int ap_parse_l4(struct ap_pkt *p, u32 off, u32 avail)
{
	u8 icmp = p->family == AP_AF_INET ? AP_IPPROTO_ICMP : AP_IPPROTO_ICMPV6;

	p->l4_off = off;
	if (p->proto == AP_IPPROTO_TCP)
		return ap_parse_tcp(p, off, avail);
	if (p->proto == icmp)
		return ap_parse_icmp(p, off, avail);
	return AP_EPROTO;
}

static int ap_parse_ipv4(struct ap_pkt *p, u32 len, u32 avail)
{
	const u8 *d = p->data;
	u32 hlen, tot;
	int err;

	if (len < AP_IPV4_HLEN_MIN)
		return AP_ESHORT;
	err = ap_pull(p, AP_IPV4_HLEN_MIN, avail);
	if (err)
		return err;
	hlen = (d[0] & 0xf) * 4;
	if (hlen < AP_IPV4_HLEN_MIN)
		return AP_EIPHLEN;
	tot = ap_get16(d + 2);
	/* BIG TCP: a GSO packet over 64 KiB has the total length 0. */
	if (!tot && len > 0xffff)
		tot = len;
	if (tot < AP_IPV4_HLEN_MIN || tot > len)
		return AP_EIPLEN;
	if (hlen > tot)
		return AP_EIPHLEN;
	if (ap_get16(d + 6) & 0x3fff)
		return AP_EFRAG;
	err = ap_pull(p, hlen, avail);
	if (err)
		return err;
	p->len = tot;
	p->family = AP_AF_INET;
	p->proto = d[9];
	p->saddr_off = 12;
	p->daddr_off = 16;
	return ap_parse_l4(p, hlen, avail < tot ? avail : tot);
}

/*
 * The payload length of a jumbogram (RFC 2675; BIG TCP's GSO packets over
 * 64 KiB): 0 in the header, the Jumbo Payload option alone in a first
 * 8-byte Hop-by-Hop header. 0 if it is not one, AP_EMORE via @err.
 */
static u32 ap_ipv6_jumbo(struct ap_pkt *p, u32 len, u32 avail, int *err)
{
	const u8 *d = p->data;
	u32 jumbo;

	if (d[6] != AP_IPPROTO_HOPOPTS || len < AP_IPV6_HLEN + 8)
		return 0;
	*err = ap_pull(p, AP_IPV6_HLEN + 8, avail);
	if (*err)
		return 0;
	d += AP_IPV6_HLEN;
	if (d[1] != 0 || d[2] != AP_IPV6_OPT_JUMBO || d[3] != 4)
		return 0;
	jumbo = ap_get32(d + 4);
	if (jumbo <= 0xffff || jumbo > len - AP_IPV6_HLEN)
		return 0;
	return jumbo;
}

static int ap_parse_ipv6(struct ap_pkt *p, u32 len, u32 avail)
{
	const u8 *d = p->data;
	u32 plen, off = AP_IPV6_HLEN;
	u8 nh;
	int err;

	if (len < AP_IPV6_HLEN)
		return AP_ESHORT;
	err = ap_pull(p, AP_IPV6_HLEN, avail);
	if (err)
		return err;
	plen = ap_get16(d + 4);
	if (!plen) {
		plen = ap_ipv6_jumbo(p, len, avail, &err);
		if (err)
			return err;
	}
	if (!plen || AP_IPV6_HLEN + plen > len)
		return AP_EIPLEN;
	p->len = AP_IPV6_HLEN + plen;
	p->family = AP_AF_INET6;
	p->saddr_off = 8;
	p->daddr_off = 24;
	if (avail > p->len)
		avail = p->len;
	nh = d[6];
	err = ap_ipv6_walk(p, &off, &nh, p->len, avail, false);
	if (err)
		return err;
	p->proto = nh;
	return ap_parse_l4(p, off, avail);
}

int ap_parse(struct ap_pkt *p, u8 *data, u32 len, u32 avail)
{
	memset(p, 0, sizeof(*p));
	p->data = data;
	p->len = len;
	if (avail > len)
		avail = len;
	if (!len)
		return AP_ESHORT;
	if (!avail) {
		p->need = len < AP_IPV4_HLEN_MIN ? len : AP_IPV4_HLEN_MIN;
		return AP_EMORE;
	}
	switch (data[0] >> 4) {
	case 4:
		return ap_parse_ipv4(p, len, avail);
	case 6:
		return ap_parse_ipv6(p, len, avail);
	default:
		return AP_EVERSION;
	}
}

static void ap_pkt_addr(const struct ap_pkt *p, u32 off, struct ap_addr *a)
{
	memset(a, 0, sizeof(*a));
	a->family = p->family;
	memcpy(a->b, p->data + off, ap_addr_len(p->family));
}

void ap_pkt_saddr(const struct ap_pkt *p, struct ap_addr *a)
{
	ap_pkt_addr(p, p->saddr_off, a);
}

void ap_pkt_daddr(const struct ap_pkt *p, struct ap_addr *a)
{
	ap_pkt_addr(p, p->daddr_off, a);
}

void ap_pkt_in_saddr(const struct ap_pkt *p, struct ap_addr *a)
{
	ap_pkt_addr(p, p->in_saddr_off, a);
}

void ap_pkt_in_daddr(const struct ap_pkt *p, struct ap_addr *a)
{
	ap_pkt_addr(p, p->in_daddr_off, a);
}

int ap_tcp_opts(const struct ap_pkt *p, u16 exid, struct ap_opts *o)
{
	const u8 *d = p->data;
	u32 i, end, l;

	o->cap = false;
	o->auth = false;
	o->cap_off = 0;
	o->mss_off = 0;
	o->ts_off = 0;
	if (p->proto != AP_IPPROTO_TCP || p->tcp_hlen < AP_TCP_HLEN_MIN)
		return AP_ETCPOPT;
	i = p->tcp_off + AP_TCP_HLEN_MIN;
	end = p->tcp_off + p->tcp_hlen;
	while (i < end) {
		u8 kind = d[i];

		if (kind == AP_TCPOPT_EOL)
			break;
		if (kind == AP_TCPOPT_NOP) {
			i++;
			continue;
		}
		if (end - i < 2)
			return AP_ETCPOPT;
		l = d[i + 1];
		if (l < 2 || l > end - i)
			return AP_ETCPOPT;
		if (kind == AP_OPT_KIND && l == AP_OPT_LEN &&
		    ap_get16(d + i + 2) == exid && !o->cap) {
			o->cap = true;
			o->cap_off = i;
		} else if (kind == AP_TCPOPT_MD5 || kind == AP_TCPOPT_AO) {
			o->auth = true;
		} else if (kind == AP_TCPOPT_MSS && l == AP_TCPOPT_MSS_LEN && !o->mss_off) {
			o->mss_off = i;
		} else if (kind == AP_TCPOPT_TS && l == AP_TCPOPT_TS_LEN && !o->ts_off) {
			o->ts_off = i;
		}
		i += l;
	}
	return AP_OK;
}

bool ap_icmp_tsval(const struct ap_pkt *p, u32 *tsval)
{
	const u8 *d = p->data;
	u32 i, end, l;

	if (!ap_pkt_is_icmp(p) || p->tcp_hlen < AP_TCP_HLEN_MIN)
		return false;
	end = p->tcp_off + (d[p->tcp_off + 12] >> 4) * 4;
	if (end > p->len)
		end = p->len;
	for (i = p->tcp_off + AP_TCP_HLEN_MIN; i < end; i += l) {
		if (d[i] == AP_TCPOPT_EOL)
			return false;
		l = 1;
		if (d[i] == AP_TCPOPT_NOP)
			continue;
		if (end - i < 2)
			return false;
		l = d[i + 1];
		if (l < 2 || l > end - i)
			return false;
		if (d[i] == AP_TCPOPT_TS && l == AP_TCPOPT_TS_LEN) {
			*tsval = ap_get32(d + i + 2);
			return true;
		}
	}
	return false;
}
