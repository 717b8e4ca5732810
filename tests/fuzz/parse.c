// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * libFuzzer target: ap_parse() and ap_tcp_opts() on arbitrary bytes.
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

#define CHECK(x)	do { if (!(x)) abort(); } while (0)

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
		if (ap_tcp_opts(p, AP_EXID_DEFAULT, &o) == AP_OK && o.cap)
			CHECK(o.cap_off >= p->tcp_off + AP_TCP_HLEN_MIN &&
			      (u32)o.cap_off + AP_OPT_LEN <= (u32)p->tcp_off + p->tcp_hlen);
		return;
	}
	CHECK(p->in_off == p->l4_off + 8 && (u32)p->in_off + p->in_len == p->len);
	CHECK((u32)p->in_saddr_off + alen <= p->len && (u32)p->in_daddr_off + alen <= p->len);
	CHECK((u32)p->tcp_off + 8 <= p->len);
	CHECK(p->tcp_hlen == 0 || p->tcp_hlen == AP_TCP_HLEN_MIN);
	CHECK(ap_tcp_opts(p, AP_EXID_DEFAULT, &o) == AP_ETCPOPT);
	ap_pkt_in_saddr(p, &a);
	ap_pkt_in_daddr(p, &a);
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
