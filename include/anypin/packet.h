/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Parsing of the packets anypin looks at: IPv4 (with options) or IPv6 (with
 * hop-by-hop, routing and destination-options headers) carrying TCP, or
 * ICMP/ICMPv6 errors that embed the start of such a packet.
 *
 * The parser never reads past @avail bytes and never trusts a length field:
 * every truncated or inconsistent header gives a reason code. When a header
 * lies past @avail but within @len (the kernel's non-linear skb), it returns
 * AP_EMORE and sets p->need; the caller makes that many bytes linear and
 * calls again.
 */
#ifndef ANYPIN_PACKET_H
#define ANYPIN_PACKET_H

#include <anypin/types.h>
#include <anypin/wire.h>

enum ap_perr {
	AP_OK = 0,
	AP_EMORE,		/* need p->need linear bytes, then call again */
	AP_ESHORT,		/* buffer shorter than a header */
	AP_EVERSION,		/* not IPv4 or IPv6 */
	AP_EIPHLEN,		/* IPv4 IHL < 5 or past the packet */
	AP_EIPLEN,		/* IP total/payload length inconsistent with buffer */
	AP_EFRAG,		/* a fragment: never ours */
	AP_EEXTHDR,		/* bad or unsupported IPv6 extension header chain */
	AP_EPROTO,		/* not TCP, and not an ICMP error carrying TCP */
	AP_ETCPHLEN,		/* TCP data offset < 5 or past the packet */
	AP_ETCPOPT,		/* malformed TCP option list */
	AP_EICMP,		/* ICMP message that is not an error we handle */
	AP_EINNER,		/* truncated or inconsistent embedded header */
	AP_PERR_MAX
};

extern const char *const ap_perr_names[AP_PERR_MAX];

/* A parsed packet: offsets into one buffer that starts at the IP header. */
struct ap_pkt {
	u8 *data;
	u32 len;		/* bytes of the IP packet (link padding trimmed) */
	u32 need;		/* with AP_EMORE */
	u8 family;		/* AP_AF_INET or AP_AF_INET6 */
	u8 proto;		/* AP_IPPROTO_TCP, _ICMP or _ICMPV6 */
	u16 saddr_off, daddr_off;	/* address fields in the IP header */
	u16 l4_off;		/* TCP or ICMP header */

	/* TCP, or the embedded TCP header of an ICMP error */
	u16 tcp_off;
	u16 tcp_hlen;		/* 0 for an embedded header shorter than 20 */
	u32 tcp_paylen;		/* payload bytes (0 inside ICMP) */
	u8 tcp_flags;
	__be16 sport, dport;
	u32 seq, ack;		/* host order */

	/* ICMP/ICMPv6 error only */
	u8 icmp_type, icmp_code;
	u16 in_off;		/* embedded IP header */
	u16 in_saddr_off, in_daddr_off;
	u16 in_len;		/* bytes of the embedded packet present */

	/* Set by the datapath: it came from a peer, decapsulated (second.h). */
	bool tunnel;
};

int ap_parse(struct ap_pkt *p, u8 *data, u32 len, u32 avail);

void ap_pkt_saddr(const struct ap_pkt *p, struct ap_addr *a);
void ap_pkt_daddr(const struct ap_pkt *p, struct ap_addr *a);
/* The embedded packet's addresses of an ICMP error. */
void ap_pkt_in_saddr(const struct ap_pkt *p, struct ap_addr *a);
void ap_pkt_in_daddr(const struct ap_pkt *p, struct ap_addr *a);

static inline bool ap_pkt_is_icmp(const struct ap_pkt *p)
{
	return p->proto != AP_IPPROTO_TCP;
}

/* What a TCP header carries in its options; the first of each counts. */
struct ap_opts {
	bool cap;		/* kind 253 with our ExID */
	bool auth;		/* TCP-MD5 (19) or TCP-AO (29) */
	u16 cap_off;		/* offset of our option in the packet */
	u16 mss_off;		/* of the MSS option, 0: none */
	u16 ts_off;		/* of the timestamp option, 0: none */
};

/* Walks the option list of a (non-embedded) TCP header: AP_OK or AP_ETCPOPT. */
int ap_tcp_opts(const struct ap_pkt *p, u16 exid, struct ap_opts *o);

/*
 * The TSval of the timestamp option of the TCP header an ICMP error
 * quotes, if the option lies whole within the quoted bytes and the
 * header's data offset. Reads the error up to p->len: it must be linear.
 */
bool ap_icmp_tsval(const struct ap_pkt *p, u32 *tsval);

#endif
