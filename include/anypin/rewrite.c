// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Packet changes with incremental checksum updates (RFC 1624). Every field
 * changed here lies at an even offset from the start of the header whose
 * checksum covers it, so a change of bytes is a change of whole 16-bit
 * words of that checksum.
 */
#include <anypin/rewrite.h>
#include <anypin/wire.h>

#define AP_TCP_CSUM_OFF		16
#define AP_ICMP_CSUM_OFF	2
#define AP_IPV4_CSUM_OFF	10

/*
 * The outer TCP or ICMPv6 checksum covers the addresses through the pseudo
 * header; ICMPv4 has none.
 */
static void ap_set_addr(struct ap_pkt *p, u32 off, const struct ap_addr *a,
			enum ap_csum_mode mode)
{
	unsigned int alen = ap_addr_len(p->family);
	u8 *d = p->data;
	u8 old[16];

	if (a->family != p->family)
		return;
	memcpy(old, d + off, alen);
	memcpy(d + off, a->b, alen);
	if (p->family == AP_AF_INET)
		ap_csum_replace(d + AP_IPV4_CSUM_OFF, old, a->b, alen,
				AP_CSUM_FULL, true);
	if (p->proto == AP_IPPROTO_TCP)
		ap_csum_replace(d + p->l4_off + AP_TCP_CSUM_OFF, old, a->b,
				alen, mode, true);
	else if (p->proto == AP_IPPROTO_ICMPV6)
		ap_csum_replace(d + p->l4_off + AP_ICMP_CSUM_OFF, old, a->b,
				alen, mode, true);
}

void ap_set_saddr(struct ap_pkt *p, const struct ap_addr *a,
		  enum ap_csum_mode mode)
{
	ap_set_addr(p, p->saddr_off, a, mode);
}

void ap_set_daddr(struct ap_pkt *p, const struct ap_addr *a,
		  enum ap_csum_mode mode)
{
	ap_set_addr(p, p->daddr_off, a, mode);
}

/* Updates the checksum field at @field and the ICMP checksum covering it. */
static void ap_icmp_chain(u8 *icmp_csum, u8 *field, const u8 *from,
			  const u8 *to, u32 len)
{
	u16 before = ap_get16(field);

	ap_csum_replace(field, from, to, len, AP_CSUM_FULL, true);
	ap_csum_replace16(icmp_csum, before, ap_get16(field), AP_CSUM_FULL,
			  false);
}

static void ap_icmp_set_in_addr(struct ap_pkt *p, u32 off,
				const struct ap_addr *a)
{
	unsigned int alen = ap_addr_len(p->family);
	u8 *d = p->data;
	u8 *icmp_csum = d + p->l4_off + AP_ICMP_CSUM_OFF;
	u8 old[16];

	if (!ap_pkt_is_icmp(p) || a->family != p->family)
		return;
	memcpy(old, d + off, alen);
	memcpy(d + off, a->b, alen);
	ap_csum_replace(icmp_csum, old, a->b, alen, AP_CSUM_FULL, false);
	if (p->family == AP_AF_INET)
		ap_icmp_chain(icmp_csum, d + p->in_off + AP_IPV4_CSUM_OFF, old,
			      a->b, alen);
	/* The embedded TCP checksum is often cut off by the ICMP error. */
	if ((u32)p->tcp_off + AP_TCP_CSUM_OFF + 2 <= p->len)
		ap_icmp_chain(icmp_csum, d + p->tcp_off + AP_TCP_CSUM_OFF, old,
			      a->b, alen);
}

void ap_icmp_set_in_saddr(struct ap_pkt *p, const struct ap_addr *a)
{
	ap_icmp_set_in_addr(p, p->in_saddr_off, a);
}

void ap_icmp_set_in_daddr(struct ap_pkt *p, const struct ap_addr *a)
{
	ap_icmp_set_in_addr(p, p->in_daddr_off, a);
}

/*
 * The new option goes right after the fixed header, at an offset that is a
 * multiple of 4 from the TCP header; what follows moves by 4 bytes, keeps
 * its 16-bit alignment and so its sum. The TCP checksum changes by the new
 * option's words, the data offset word and, through the pseudo header, the
 * segment length; only the last one in AP_CSUM_PSEUDO mode.
 */
int ap_opt_insert(struct ap_pkt *p, u16 exid, enum ap_csum_mode mode)
{
	static const u8 zero[AP_OPT_LEN];
	u8 *d = p->data;
	u8 *th = d + p->tcp_off;
	u8 *csum = th + AP_TCP_CSUM_OFF;
	u32 seglen = p->len - p->tcp_off;
	u16 lenoff = p->family == AP_AF_INET ? 2 : 4;
	/*
	 * The length field's value, from the packet's length: a BIG TCP
	 * packet's field is 0, and must not pass for a short packet.
	 */
	u32 iplen = p->family == AP_AF_INET ? p->len : p->len - AP_IPV6_HLEN;
	u16 word;

	if (p->proto != AP_IPPROTO_TCP || p->tcp_hlen < AP_TCP_HLEN_MIN ||
	    p->tcp_hlen + AP_OPT_LEN > AP_TCP_HLEN_MAX ||
	    iplen > 0xffff - AP_OPT_LEN)
		return -1;
	memmove(th + AP_TCP_HLEN_MIN + AP_OPT_LEN, th + AP_TCP_HLEN_MIN,
		seglen - AP_TCP_HLEN_MIN);
	th[AP_TCP_HLEN_MIN] = AP_OPT_KIND;
	th[AP_TCP_HLEN_MIN + 1] = AP_OPT_LEN;
	ap_put16(th + AP_TCP_HLEN_MIN + 2, exid);
	ap_csum_replace(csum, zero, th + AP_TCP_HLEN_MIN, AP_OPT_LEN, mode,
			false);

	word = ap_get16(th + 12);
	th[12] += (AP_OPT_LEN / 4) << 4;
	ap_csum_replace16(csum, word, ap_get16(th + 12), mode, false);
	ap_csum_replace16(csum, (u16)seglen, (u16)(seglen + AP_OPT_LEN), mode,
			  true);

	ap_put16(d + lenoff, (u16)(iplen + AP_OPT_LEN));
	if (p->family == AP_AF_INET)
		ap_csum_replace16(d + AP_IPV4_CSUM_OFF, (u16)iplen,
				  (u16)(iplen + AP_OPT_LEN), AP_CSUM_FULL, true);
	p->len += AP_OPT_LEN;
	p->tcp_hlen += AP_OPT_LEN;
	return 0;
}

u32 ap_build_rst(const struct ap_pkt *synack, u8 *buf)
{
	unsigned int alen = ap_addr_len(synack->family);
	const u8 *s = synack->data;
	u32 hlen, len;
	u8 *th;

	if (synack->family == AP_AF_INET) {
		hlen = AP_IPV4_HLEN_MIN;
		len = hlen + AP_TCP_HLEN_MIN;
		memset(buf, 0, len);
		buf[0] = 0x45;
		ap_put16(buf + 2, len);
		buf[6] = 0x40;		/* DF */
		buf[8] = 64;
		buf[9] = AP_IPPROTO_TCP;
		memcpy(buf + 12, s + synack->daddr_off, alen);
		memcpy(buf + 16, s + synack->saddr_off, alen);
		ap_put16(buf + AP_IPV4_CSUM_OFF, ap_ipv4_hdr_csum(buf, hlen));
	} else {
		hlen = AP_IPV6_HLEN;
		len = hlen + AP_TCP_HLEN_MIN;
		memset(buf, 0, len);
		buf[0] = 0x60;
		ap_put16(buf + 4, AP_TCP_HLEN_MIN);
		buf[6] = AP_IPPROTO_TCP;
		buf[7] = 64;
		memcpy(buf + 8, s + synack->daddr_off, alen);
		memcpy(buf + 24, s + synack->saddr_off, alen);
	}
	th = buf + hlen;
	memcpy(th, &synack->dport, 2);
	memcpy(th + 2, &synack->sport, 2);
	ap_put32(th + 4, synack->ack);
	th[12] = (AP_TCP_HLEN_MIN / 4) << 4;
	th[13] = AP_TCP_RST;
	ap_put16(th + AP_TCP_CSUM_OFF,
		 ap_l4_csum(synack->family, buf + hlen - 2 * alen,
			    buf + hlen - alen, AP_IPPROTO_TCP, th,
			    AP_TCP_HLEN_MIN));
	return len;
}
