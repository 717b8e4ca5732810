// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The second chance (docs/second-chance.md) for anypind, as tc (clsact)
 * programs: its forwarded segments cannot cross userspace, and nft can
 * neither round a TSval up nor encapsulate.
 *
 *   sc_egress   stamps the instance's id in the TSval of segments from A,
 *               lowers the MSS of SYN-ACKs from A
 *   sc_ingress  takes the outer header off what a peer sent to our
 *               unicast address (never forwarded again); sends a segment
 *               to A that no socket here takes to the peer its TSecr
 *               names, and an ICMP error about a segment from A to the
 *               peer the quoted TSval names, in IP-in-IP or IPv6-in-IPv6
 *
 * The rules are the core's (anypin/sc.h); this file only parses, looks up
 * and rewrites. Ethernet devices only, untagged; IPv6 without extension
 * headers.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <anypin/sc.h>
#include <anypin/wire.h>
#include "maps.h"

#define IP_DF		0x4000
#define IP_MF		0x2000
#define IP_OFFMASK	0x1fff
#define ECN_MASK	3
#define ECN_ECT0	2
#define ECN_CE		3
#define PACKET_HOST	0
#define AF_INET		2
#define AF_INET6	10

char LICENSE[] SEC("license") = "Dual MIT/GPL";

/* A map @name of @n entries of @vtype by @ktype. */
#define MAP(name, kind, n, ktype, vtype)		\
	struct {					\
		__uint(type, kind);			\
		__uint(max_entries, n);			\
		__type(key, ktype);			\
		__type(value, vtype);			\
	} name SEC(".maps")

#define LPM(name, ktype)				\
	struct {					\
		__uint(type, BPF_MAP_TYPE_LPM_TRIE);	\
		__uint(max_entries, SC_PREFIXES);	\
		__uint(map_flags, BPF_F_NO_PREALLOC);	\
		__type(key, ktype);			\
		__type(value, __u32);			\
	} name SEC(".maps")

LPM(sc_lpm4, struct sc_lpm4);
LPM(sc_lpm6, struct sc_lpm6);
MAP(sc_prefix, BPF_MAP_TYPE_ARRAY, SC_PREFIXES, __u32, struct sc_prefix);
MAP(sc_peer, BPF_MAP_TYPE_ARRAY, SC_PREFIXES * SC_IDS, __u32, struct sc_peer);
/* Twice what one configuration fills: a refill adds the new keys before the stale go. */
MAP(sc_addr, BPF_MAP_TYPE_HASH, SC_PREFIXES * SC_IDS * 2 * 2, struct sc_addr, __u32);
MAP(sc_global, BPF_MAP_TYPE_ARRAY, 1, __u32, struct sc_global);
MAP(sc_stats, BPF_MAP_TYPE_PERCPU_ARRAY, SC_PREFIXES * SC_NSTATS, __u32, __u64);

/* The forward budget of a CPU: a one-second window. */
struct sc_budget {
	__u64 start, sent;
};

MAP(sc_budget, BPF_MAP_TYPE_PERCPU_ARRAY, 1, __u32, struct sc_budget);

static __always_inline void count(__u32 prefix, __u32 what)
{
	__u32 k = prefix * SC_NSTATS + what;
	__u64 *v = bpf_map_lookup_elem(&sc_stats, &k);

	if (v)
		*v += 1;
}

/* A packet's IP and TCP headers, copied (offsets from the MAC header). */
struct pkt {
	__u32 l4;
	__u32 end;		/* of the IP packet; 0: a quote, which may be cut */
	__u16 tot;		/* IPv4 tot_len / IPv6 payload_len */
	__u8 family;		/* AP_AF_INET, AP_AF_INET6 */
	__u8 proto;		/* IPv4 protocol / IPv6 next header */
	__u8 flags;
	__u8 ts_off, mss_off;	/* of the options in the TCP header, 0: none */
	__u8 auth;		/* TCP-MD5 or TCP-AO */
	__u8 tos;
	__u16 frag_off;
	__u32 tsval, tsecr;
	union {
		struct iphdr ip4;
		struct ipv6hdr ip6;
	};
	struct tcphdr th;
};

/* 4 bytes at @x of a 64-byte buffer, each index masked for the verifier. */
static __always_inline __u32 get32(const __u8 *b, __u32 x)
{
	return (__u32)b[x & 63] << 24 | (__u32)b[(x + 1) & 63] << 16 |
	       (__u32)b[(x + 2) & 63] << 8 | b[(x + 3) & 63];
}

/*
 * The option walk, a bpf_loop() callback (5.17): as an open-coded loop
 * its states explode past the verifier's limit, each option sequence
 * being one. It reads the options as ap_tcp_opts() does: the first MSS
 * and timestamp count, and a list it cannot walk (@bad) leaves the
 * segment alone, as the core does. A quote's (@quote) as
 * ap_icmp_tsval() does: it ends at the first timestamp, whatever follows.
 */
struct opt_walk {
	__u8 opts[64];
	__u32 optlen, i;
	__u8 quote, ts_off, mss_off, auth, bad;
};

static long opt_step(__u32 idx, void *ctx)
{
	struct opt_walk *o = ctx;
	__u32 i = o->i, optlen = o->optlen;
	__u8 kind, len;

	(void)idx;
	if (i >= optlen || i >= 40)
		return 1;
	kind = o->opts[i & 63];
	if (kind == AP_TCPOPT_EOL)
		return 1;
	if (kind == AP_TCPOPT_NOP) {
		o->i = i + 1;
		return 0;
	}
	if (i + 1 >= optlen) {
		o->bad = 1;
		return 1;
	}
	len = o->opts[(i + 1) & 63];
	if (len < 2 || i + len > optlen) {
		o->bad = 1;
		return 1;
	}
	if (kind == AP_TCPOPT_MD5 || kind == AP_TCPOPT_AO)
		o->auth = 1;
	else if (kind == AP_TCPOPT_MSS && len == AP_TCPOPT_MSS_LEN && !o->mss_off)
		o->mss_off = sizeof(struct tcphdr) + i;
	else if (kind == AP_TCPOPT_TS && len == AP_TCPOPT_TS_LEN && !o->ts_off)
		o->ts_off = sizeof(struct tcphdr) + i;
	if (o->quote && o->ts_off)
		return 1;
	o->i = i + len;
	return 0;
}

/* The family of the packet after the Ethernet header, 0: neither IP. */
static __always_inline __u8 l3_family(const struct __sk_buff *skb)
{
	if (skb->protocol == bpf_htons(ETH_P_IP))
		return AP_AF_INET;
	if (skb->protocol == bpf_htons(ETH_P_IPV6))
		return AP_AF_INET6;
	return 0;
}

/*
 * The IP header at @nh (of @family) into @p, its protocol in p->proto:
 * 0, or -1 for no such header or a fragment. An ICMP error's quote
 * (@quoted) may be a first fragment, and may be cut. Another packet's IP
 * length must hold its header and fit in the frame, as ap_parse() has
 * it: tc ingress comes before the stack's own checks. 0 there is a BIG
 * TCP aggregate's, over 64 KiB.
 */
static __always_inline int parse_ip(struct __sk_buff *skb, __u32 nh, __u8 family, bool quoted,
				    struct pkt *p)
{
	__builtin_memset(&p->th, 0, sizeof(p->th));
	p->ts_off = p->mss_off = p->auth = 0;
	if (family == AP_AF_INET) {
		if (bpf_skb_load_bytes(skb, nh, &p->ip4, sizeof(p->ip4)))
			return -1;
		if (p->ip4.version != 4 || p->ip4.ihl < 5)
			return -1;
		p->frag_off = bpf_ntohs(p->ip4.frag_off);
		if (p->frag_off & (quoted ? IP_OFFMASK : IP_MF | IP_OFFMASK))
			return -1;
		p->family = AP_AF_INET;
		p->proto = p->ip4.protocol;
		p->l4 = nh + p->ip4.ihl * 4;
		p->tot = bpf_ntohs(p->ip4.tot_len);
		p->tos = p->ip4.tos;
	} else if (family == AP_AF_INET6) {
		if (bpf_skb_load_bytes(skb, nh, &p->ip6, sizeof(p->ip6)))
			return -1;
		if (p->ip6.version != 6)
			return -1;
		p->family = AP_AF_INET6;
		p->proto = p->ip6.nexthdr;
		p->l4 = nh + sizeof(struct ipv6hdr);
		p->tot = bpf_ntohs(p->ip6.payload_len);
		p->tos = p->ip6.priority << 4 | p->ip6.flow_lbl[0] >> 4;
	} else {
		return -1;
	}
	p->end = 0;
	if (!quoted) {
		__u32 have = skb->len - nh;
		__u32 len = family == AP_AF_INET ? p->tot : p->tot + sizeof(struct ipv6hdr);

		if (!p->tot)
			len = have > 0xffff ? have : 0;
		if (len < p->l4 - nh || len > have)
			return -1;
		p->end = nh + len;
	}
	return 0;
}

/* The TCP header and options at p->l4 into @p, within p->end: 0, or -1. */
static __always_inline int parse_tcp(struct __sk_buff *skb, struct pkt *p)
{
	struct opt_walk ow = {};	/* bpf_loop's ctx must be on the stack */
	__u32 optlen;

	if (p->proto != IPPROTO_TCP)
		return -1;
	if (bpf_skb_load_bytes(skb, p->l4, &p->th, sizeof(p->th)) || p->th.doff < 5 ||
	    (p->end && p->l4 + p->th.doff * 4 > p->end))
		return -1;
	p->flags = ((__u8 *)&p->th)[13];
	/* Bounds the verifier of 6.1 can follow: 4 to 40 bytes, never 0. */
	optlen = p->th.doff * 4;
	if (optlen <= sizeof(struct tcphdr))
		return 0;
	optlen -= sizeof(struct tcphdr);
	if (optlen > 40 ||
	    bpf_skb_load_bytes(skb, p->l4 + sizeof(struct tcphdr), ow.opts, optlen))
		return -1;
	ow.optlen = optlen;
	ow.quote = !p->end;
	bpf_loop(40, opt_step, &ow, 0);
	if (ow.bad)
		return -1;
	p->ts_off = ow.ts_off;
	p->mss_off = ow.mss_off;
	p->auth = ow.auth;
	if (p->ts_off) {
		p->tsval = get32(ow.opts, p->ts_off - sizeof(struct tcphdr) + 2);
		p->tsecr = get32(ow.opts, p->ts_off - sizeof(struct tcphdr) + 6);
	}
	return 0;
}

/* An unfragmented TCP segment at @nh (of @family) into @p: 0, or -1. */
static __always_inline int parse(struct __sk_buff *skb, __u32 nh, __u8 family, struct pkt *p)
{
	return parse_ip(skb, nh, family, false, p) ? -1 : parse_tcp(skb, p);
}

/*
 * The TCP segment that @p, an ICMP error as ap_icmp_is_error() takes
 * one, quotes into @q: 0, or -1. With @whole its header and options must
 * be whole in the quote, for its TSval (the core reads what there is of
 * them); else its ports will do, as ap_parse_inner() has them, to take
 * out of the tunnel what a peer's module sent on. IPv6 without extension
 * headers.
 */
static __always_inline int parse_quote(struct __sk_buff *skb, const struct pkt *p, struct pkt *q,
				       bool whole)
{
	__u8 type;

	if (p->proto != (p->family == AP_AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6) ||
	    bpf_skb_load_bytes(skb, p->l4, &type, 1))
		return -1;
	if (p->family == AP_AF_INET ? type != 3 && type != 11 && type != 12 :
				      type < 1 || type > 4)
		return -1;
	if (parse_ip(skb, p->l4 + 8, p->family, true, q) || q->proto != IPPROTO_TCP)
		return -1;
	/* As ap_parse_inner(): the quoted header holds itself and 8 bytes. */
	if (q->family == AP_AF_INET && q->tot < q->ip4.ihl * 4 + 8)
		return -1;
	if (!whole)
		return q->l4 + 8 > p->end || bpf_skb_load_bytes(skb, q->l4, &q->th, 8) ? -1 : 0;
	if (parse_tcp(skb, q))
		return -1;
	return q->l4 + q->th.doff * 4 > p->end ? -1 : 0;
}

/*
 * The prefix that governs @addr (of @p's family), port @port, if the
 * second chance applies there: the longest configured prefix, as
 * ap_conf_match() finds it; its index in *@idx.
 */
static __always_inline struct sc_prefix *match(const struct pkt *p, const void *addr,
						__be16 port, __u32 *idx)
{
	struct sc_prefix *pr;
	__u16 h = bpf_ntohs(port);
	__u32 *i, j;

	if (p->family == AP_AF_INET) {
		struct sc_lpm4 k = { .plen = 32 };

		__builtin_memcpy(&k.addr, addr, 4);
		i = bpf_map_lookup_elem(&sc_lpm4, &k);
	} else {
		struct sc_lpm6 k = { .plen = 128 };

		__builtin_memcpy(k.addr, addr, 16);
		i = bpf_map_lookup_elem(&sc_lpm6, &k);
	}
	if (!i)
		return NULL;
	*idx = *i;
	pr = bpf_map_lookup_elem(&sc_prefix, idx);
	if (!pr || !pr->on)
		return NULL;
	if (!pr->nports)
		return pr;
	for (j = 0; j < SC_PORT_RANGES; j++)
		if (j < pr->nports && h >= pr->lo[j] && h <= pr->hi[j])
			return pr;
	return NULL;
}

/*
 * The IP packet at @nh (of @family) into @p, and the prefix that governs
 * it: a TCP segment's by its destination, an ICMP error's by the source
 * of the segment it quotes (into @q, @whole as parse_quote() has it), as
 * ap_sc_in() and ap_sc_icmp() take them. NULL for anything else; the
 * caller tells the two apart by p->proto.
 */
static __always_inline struct sc_prefix *lookup(struct __sk_buff *skb, __u32 nh, __u8 family,
						 bool whole, struct pkt *p, struct pkt *q,
						 __u32 *idx)
{
	if (parse_ip(skb, nh, family, false, p))
		return NULL;
	if (p->proto == IPPROTO_TCP) {
		if (parse_tcp(skb, p))
			return NULL;
		return match(p, family == AP_AF_INET ? (void *)&p->ip4.daddr :
						       (void *)&p->ip6.daddr,
			     p->th.dest, idx);
	}
	if (parse_quote(skb, p, q, whole))
		return NULL;
	return match(q, family == AP_AF_INET ? (void *)&q->ip4.saddr : (void *)&q->ip6.saddr,
		     q->th.source, idx);
}

/*
 * Rewrites @n (2 or 4) bytes at TCP offset @at with @to, keeping the
 * checksum whatever the alignment: the window of @win (4 or 8) bytes
 * around them starts at an even offset, so its one's-complement
 * difference is one of whole 16-bit words. bpf_l4_csum_replace() in diff
 * mode updates a full checksum and leaves a partial one alone.
 */
static __always_inline int rewrite(struct __sk_buff *skb, __u32 l4, __u32 at,
				   const __u8 *to, __u32 n, __u32 win)
{
	__u32 w = (at & 1) ? at - 1 : at - 2, j;
	__u8 old[8] = {}, new[8] = {};
	__s64 diff;

	if (win == 8 ? bpf_skb_load_bytes(skb, l4 + w, old, 8) :
		       bpf_skb_load_bytes(skb, l4 + w, old, 4))
		return -1;
	__builtin_memcpy(new, old, 8);
	/* Constant indices: a computed one became "pointer |=", refused. */
#pragma unroll
	for (j = 0; j < 4; j++) {
		if (j >= n)
			break;
		if (at & 1)
			new[1 + j] = to[j];
		else
			new[2 + j] = to[j];
	}
	if (win == 8) {
		if (bpf_skb_store_bytes(skb, l4 + w, new, 8, 0))
			return -1;
		diff = bpf_csum_diff((__be32 *)old, 8, (__be32 *)new, 8, 0);
	} else {
		if (bpf_skb_store_bytes(skb, l4 + w, new, 4, 0))
			return -1;
		diff = bpf_csum_diff((__be32 *)old, 4, (__be32 *)new, 4, 0);
	}
	if (diff < 0)
		return -1;
	return bpf_l4_csum_replace(skb, l4 + offsetof(struct tcphdr, check), 0, diff, 0);
}

/*
 * Both programs end with TC_ACT_UNSPEC unless they drop or redirect: the
 * device's other filters (an operator's, at a later priority) still run.
 * A packet with a VLAN tag in skb->vlan_* is the VLAN device's, whose own
 * filters take it: here, on the lower device, a SYN-ACK's MSS would be
 * lowered twice and a forward leave untagged.
 */
SEC("tc")
int sc_egress(struct __sk_buff *skb)
{
	struct sc_prefix *pr;
	struct pkt p;
	__u32 idx, v;
	__u8 to[4];
	__u16 mss;

	if (skb->vlan_present || parse(skb, ETH_HLEN, l3_family(skb), &p))
		return TC_ACT_UNSPEC;
	pr = match(&p, p.family == AP_AF_INET ? (void *)&p.ip4.saddr : (void *)&p.ip6.saddr,
		   p.th.source, &idx);
	if (!pr)
		return TC_ACT_UNSPEC;
	switch (ap_sc_out(p.flags & AP_TCP_SYN, p.flags & AP_TCP_ACK, p.mss_off, p.ts_off, p.auth)) {
	case AP_SC_OUT_MSS:
		if (bpf_skb_load_bytes(skb, p.l4 + p.mss_off + 2, to, 2))
			break;
		mss = (__u16)to[0] << 8 | to[1];
		if (ap_sc_mss(mss, p.family) == mss)
			break;
		mss = ap_sc_mss(mss, p.family);
		to[0] = mss >> 8;
		to[1] = mss;
		if (!rewrite(skb, p.l4, p.mss_off + 2, to, 2, 4))
			count(idx, SC_MSS);
		break;
	case AP_SC_OUT_STAMP:
		v = ap_sc_stamp(p.tsval, pr->instance);
		if (v == p.tsval)
			break;
		to[0] = v >> 24;
		to[1] = v >> 16;
		to[2] = v >> 8;
		to[3] = v;
		if (!rewrite(skb, p.l4, p.ts_off + 2, to, 4, 8))
			count(idx, SC_STAMPED);
		break;
	default:
		break;
	}
	return TC_ACT_UNSPEC;
}

static __always_inline bool eq16(const void *a, const void *b)
{
	__u64 x[2], y[2];

	__builtin_memcpy(x, a, 16);
	__builtin_memcpy(y, b, 16);
	return x[0] == y[0] && x[1] == y[1];
}

/*
 * What a peer of a prefix with an instance sent to its unicast address,
 * from the peer's (as the module's anypin_from_peer() admits it): a
 * segment to A of that prefix, or an ICMP error to A about one from A
 * (ap_sc_icmp()), counted as the core's AP_SC_TUNNEL, loses its outer
 * header. Returns 1 when it took the packet (the verdict in *@act), 0
 * with the packet untouched for anything else in IP-in-IP (the host's
 * own tunnels, inner fragments, other ports, other addresses), which
 * plain anycast would pass too. @p and @q are the caller's, for the
 * stack's sake.
 */
static __always_inline int decap(struct __sk_buff *skb, struct pkt *p, struct pkt *q, int *act)
{
	struct ap_sc_seg seg = { .tunnel = true };
	__u8 outer_ecn, family = l3_family(skb);
	struct sc_addr from = { .family = family };
	__u8 to6[16] = {};
	struct sc_prefix *pr;
	__u32 to4 = 0;
	__u32 hlen, idx;

	if (family == AP_AF_INET) {
		struct iphdr o;

		if (bpf_skb_load_bytes(skb, ETH_HLEN, &o, sizeof(o)) ||
		    o.version != 4 || o.ihl < 5 || o.protocol != IPPROTO_IPIP ||
		    (o.frag_off & bpf_htons(IP_MF | IP_OFFMASK)))
			return 0;
		hlen = o.ihl * 4;
		outer_ecn = o.tos & ECN_MASK;
		to4 = o.daddr;
		__builtin_memcpy(from.addr, &o.saddr, 4);
	} else if (family == AP_AF_INET6) {
		struct ipv6hdr o;

		if (bpf_skb_load_bytes(skb, ETH_HLEN, &o, sizeof(o)) ||
		    o.version != 6 || o.nexthdr != IPPROTO_IPV6)
			return 0;
		hlen = sizeof(o);
		outer_ecn = (o.flow_lbl[0] >> 4) & ECN_MASK;
		__builtin_memcpy(to6, &o.daddr, 16);
		__builtin_memcpy(from.addr, &o.saddr, 16);
	} else {
		return 0;
	}
	/* The inner packet decides, read in place: nothing changes unless it is ours. */
	pr = lookup(skb, ETH_HLEN + hlen, family, false, p, q, &idx);
	if (!pr || ap_sc_verdict(pr->instance, pr->peers, &seg) != AP_SC_TUNNEL)
		return 0;
	if (family == AP_AF_INET ? !pr->has4 || pr->own4 != to4 :
				   !pr->has6 || !eq16(pr->own6, to6))
		return 0;
	from.prefix = idx;
	if (!bpf_map_lookup_elem(&sc_addr, &from))
		return 0;
	*act = TC_ACT_SHOT;
	/* RFC 6040: CE outside on a not-ECT packet drops it. */
	if (outer_ecn == ECN_CE && !(p->tos & ECN_MASK))
		return 1;
	/* Same family in and out: skb->protocol stays. FIXED_GSO: gso_size stays. */
	if (bpf_skb_adjust_room(skb, -(__s32)hlen, BPF_ADJ_ROOM_MAC, BPF_F_ADJ_ROOM_FIXED_GSO))
		return 1;
	/* RFC 6040: CE outside reaches the inside. */
	if (outer_ecn == ECN_CE && (p->tos & ECN_MASK) != ECN_CE) {
		__u8 b;

		if (family == AP_AF_INET) {
			__u16 old = bpf_htons((__u16)(4 << 12 | p->ip4.ihl << 8 | p->tos));
			__u16 new = bpf_htons((__u16)(4 << 12 | p->ip4.ihl << 8 | p->tos | ECN_CE));

			b = p->tos | ECN_CE;
			bpf_skb_store_bytes(skb, ETH_HLEN + 1, &b, 1, 0);
			bpf_l3_csum_replace(skb, ETH_HLEN + offsetof(struct iphdr, check),
					    old, new, 2);
		} else {
			/* No header checksum cancels it: a CHECKSUM_COMPLETE sum must follow. */
			b = p->ip6.flow_lbl[0] | ECN_CE << 4;
			bpf_skb_store_bytes(skb, ETH_HLEN + 1, &b, 1, BPF_F_RECOMPUTE_CSUM);
		}
	}
	count(idx, SC_TUNNEL);
	*act = TC_ACT_UNSPEC;	/* taken out of the tunnel: never forwarded again */
	return 1;
}

static __always_inline int budget(void)
{
	struct sc_global *g;
	struct sc_budget *b;
	__u32 zero = 0;
	__u64 now;

	g = bpf_map_lookup_elem(&sc_global, &zero);
	b = bpf_map_lookup_elem(&sc_budget, &zero);
	if (!g || !b)
		return 0;
	now = bpf_ktime_get_ns();
	if (now - b->start >= 1000000000ULL) {
		b->start = now;
		b->sent = 0;
	}
	if (b->sent >= g->forward_rate)
		return 0;
	b->sent++;
	return 1;
}

/*
 * Whether a socket of this host takes the segment: a non-listener for
 * its four-tuple (established, SYN-RECV, TIME-WAIT), or a listener whose
 * SYN cookie it completes.
 */
static __always_inline int local(struct __sk_buff *skb, struct pkt *p)
{
	struct bpf_sock_tuple t = {};
	struct bpf_sock *sk;
	__u32 tlen;
	long r;

	if (p->family == AP_AF_INET) {
		t.ipv4.saddr = p->ip4.saddr;
		t.ipv4.daddr = p->ip4.daddr;
		t.ipv4.sport = p->th.source;
		t.ipv4.dport = p->th.dest;
		tlen = sizeof(t.ipv4);
	} else {
		__builtin_memcpy(t.ipv6.saddr, &p->ip6.saddr, 16);
		__builtin_memcpy(t.ipv6.daddr, &p->ip6.daddr, 16);
		t.ipv6.sport = p->th.source;
		t.ipv6.dport = p->th.dest;
		tlen = sizeof(t.ipv6);
	}
	sk = bpf_skc_lookup_tcp(skb, &t, tlen, BPF_F_CURRENT_NETNS, 0);
	if (!sk)
		return 0;
	if (sk->state != BPF_TCP_LISTEN) {
		bpf_sk_release(sk);
		return 1;
	}
	if (p->family == AP_AF_INET)
		r = bpf_tcp_check_syncookie(sk, &p->ip4, sizeof(p->ip4), &p->th, sizeof(p->th));
	else
		r = bpf_tcp_check_syncookie(sk, &p->ip6, sizeof(p->ip6), &p->th, sizeof(p->th));
	bpf_sk_release(sk);
	return r == 0;
}

static __always_inline __u16 fold(__s64 csum)
{
	__u32 s = (__u32)csum;

	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (__u16)~s;
}

/* RFC 6040, normal mode: the outer ECN copies the inner, CE as ECT(0). */
static __always_inline __u8 ecn_encap(__u8 tos)
{
	return (tos & ECN_MASK) == ECN_CE ? (tos & ~ECN_MASK) | ECN_ECT0 : tos;
}

/*
 * What must fit the MTU of the way out: @p, @len bytes of IP, or each of
 * its GSO segments, with @hlen bytes more. Neither adjust_room nor
 * redirect_neigh checks, and a GRO'd packet of a connection whose MSS was
 * never lowered would leave as segments too big.
 */
static __always_inline __u32 outer_len(const struct __sk_buff *skb, const struct pkt *p,
				       __u32 len, __u32 hlen)
{
	__u32 seg;

	if (skb->gso_size) {
		seg = p->l4 - ETH_HLEN + p->th.doff * 4 + skb->gso_size;
		if (seg < len)
			len = seg;
	}
	return len + hlen;
}

/*
 * Whether @tot bytes fit the MTU of the device the packet came in on.
 * bpf_check_mtu() only reads the device's MTU here: its own verdict
 * passes any GSO packet, and cannot add a header to a GSO packet's segments.
 */
static __always_inline int fits(struct __sk_buff *skb, __u32 tot)
{
	__u32 mtu = 0;

	if (bpf_check_mtu(skb, skb->ingress_ifindex, &mtu, 0, 0) < 0)
		return 0;
	return tot <= mtu;
}

/*
 * The route from @pr's unicast address to @peer's for an outer packet of
 * @tot bytes, as the module's ip_route_output_key() and
 * ip6_dst_lookup_flow() find it (an output route, the packet's mark
 * aside), but with the device the packet came in on as the output device
 * (OUTPUT): IPv4 takes no route through another, IPv6 prefers one through
 * it. 1 with the device it chose in *@ifindex and the next hop in @nh;
 * -1 where the module would not send either: no route, a reject route,
 * too small an MTU (the route's if locked, one learned toward the peer,
 * or the device's). The helper will not look on a device that does not
 * forward (FWD_DISABLED, OUTPUT or not): there anypind's own lookup
 * decides (@peer's noroute flags, rtnetlink's answer), -1 for no route,
 * 0 for one, the forward then routed by the kernel. skb->ifindex is
 * ingress_ifindex at tc ingress, and the one test_run sets.
 */
static __always_inline int route(struct __sk_buff *skb, const struct pkt *p,
				 const struct sc_prefix *pr, const struct sc_peer *peer, __u32 tot,
				 struct bpf_redir_neigh *nh, __u32 *ifindex)
{
	struct bpf_fib_lookup f = {};
	long r;

	f.ifindex = skb->ifindex;
	f.tot_len = tot;
	if (p->family == AP_AF_INET) {
		f.family = AF_INET;
		f.l4_protocol = IPPROTO_IPIP;
		f.ipv4_src = pr->own4;
		f.ipv4_dst = peer->addr4;
	} else {
		f.family = AF_INET6;
		f.l4_protocol = IPPROTO_IPV6;
		__builtin_memcpy(f.ipv6_src, pr->own6, 16);
		__builtin_memcpy(f.ipv6_dst, peer->addr6, 16);
	}
	r = bpf_fib_lookup(skb, &f, sizeof(f), BPF_FIB_LOOKUP_OUTPUT);
	if (r == BPF_FIB_LKUP_RET_FWD_DISABLED)
		return (p->family == AP_AF_INET ? peer->noroute4 : peer->noroute6) ? -1 : 0;
	if (r != BPF_FIB_LKUP_RET_SUCCESS && r != BPF_FIB_LKUP_RET_NO_NEIGH)
		return -1;
	__builtin_memset(nh, 0, sizeof(*nh));
	/* An IPv4 route may have an IPv6 gateway: the family is the lookup's. */
	nh->nh_family = f.family;
	if (f.family == AF_INET)
		nh->ipv4_nh = f.ipv4_dst;
	else
		__builtin_memcpy(nh->ipv6_nh, f.ipv6_dst, 16);
	*ifindex = f.ifindex;
	return 1;
}

/*
 * @p in an outer header from @pr's unicast address to @peer's, which
 * route() finds (*@ifindex 0: the helper did not look): 0, -1 with the
 * packet as it was, or -2 with it broken. adjust_room leaves zeros,
 * which a CHECKSUM_COMPLETE sum does not see; the header written over
 * them goes into the sum (BPF_F_RECOMPUTE_CSUM), for whatever receives
 * this skb with it (a veth's peer).
 */
static __always_inline int encap(struct __sk_buff *skb, const struct pkt *p,
				 const struct sc_prefix *pr, const struct sc_peer *peer,
				 struct bpf_redir_neigh *nh, __u32 *ifindex)
{
	/* The SYN-ACK's MSS left room for the header: gso_size stays. */
	__u64 fl = BPF_F_ADJ_ROOM_FIXED_GSO;
	__u32 hlen = p->family == AP_AF_INET ? sizeof(struct iphdr) : sizeof(struct ipv6hdr);
	/*
	 * The inner packet's IP length. A BIG TCP aggregate over 64 KiB (IPv4
	 * from 6.3; IPv6 where GRO adds no jumbo option) has 0 there: the
	 * frame's length says it, and what would make an outer packet over
	 * 64 KiB is refused, as in the module (GSO splits no tunnel's jumbogram).
	 */
	__u32 len = !p->tot ? skb->len - ETH_HLEN :
		    p->family == AP_AF_INET ? p->tot : p->tot + sizeof(struct ipv6hdr);
	__u32 tot;

	if (len + hlen > 0xffff)
		return -1;
	tot = outer_len(skb, p, len, hlen);
	*ifindex = 0;
	if (!fits(skb, tot) || route(skb, p, pr, peer, tot, nh, ifindex) < 0)
		return -1;
	if (p->family == AP_AF_INET) {
		struct iphdr o = {};

		if (bpf_skb_adjust_room(skb, sizeof(o), BPF_ADJ_ROOM_MAC,
					fl | BPF_F_ADJ_ROOM_ENCAP_L3_IPV4))
			return -1;
		o.version = 4;
		o.ihl = 5;
		o.tos = ecn_encap(p->tos);
		o.tot_len = bpf_htons(len + sizeof(o));
		o.frag_off = bpf_htons(p->frag_off & IP_DF);
		o.id = (p->frag_off & IP_DF) ? 0 : (__u16)bpf_get_prandom_u32();
		o.ttl = 64;
		o.protocol = IPPROTO_IPIP;
		o.saddr = pr->own4;
		o.daddr = peer->addr4;
		o.check = fold(bpf_csum_diff(0, 0, (__be32 *)&o, sizeof(o), 0));
		return bpf_skb_store_bytes(skb, ETH_HLEN, &o, sizeof(o), BPF_F_RECOMPUTE_CSUM) ?
			       -2 : 0;
	} else {
		struct ipv6hdr o = {};
		__u8 tc = ecn_encap(p->tos);

		if (bpf_skb_adjust_room(skb, sizeof(o), BPF_ADJ_ROOM_MAC,
					fl | BPF_F_ADJ_ROOM_ENCAP_L3_IPV6))
			return -1;
		o.version = 6;
		o.priority = tc >> 4;
		o.flow_lbl[0] = (tc & 0xf) << 4 | (p->ip6.flow_lbl[0] & 0xf);
		o.flow_lbl[1] = p->ip6.flow_lbl[1];
		o.flow_lbl[2] = p->ip6.flow_lbl[2];
		o.payload_len = bpf_htons(len);
		o.nexthdr = IPPROTO_IPV6;
		o.hop_limit = 64;
		__builtin_memcpy(&o.saddr, pr->own6, 16);
		__builtin_memcpy(&o.daddr, peer->addr6, 16);
		return bpf_skb_store_bytes(skb, ETH_HLEN, &o, sizeof(o), BPF_F_RECOMPUTE_CSUM) ?
			       -2 : 0;
	}
}

/*
 * A segment to A, or an ICMP error to A about a segment from A (as the
 * core's ap_sc_in() and ap_sc_icmp() take them), that goes to a peer:
 * to the peer its TSecr names, unless a socket here takes it; an error
 * by the TSval it quotes, which names the instance that sent the segment.
 */
SEC("tc")
int sc_ingress(struct __sk_buff *skb)
{
	struct ap_sc_seg seg = {};
	struct bpf_redir_neigh nh;
	struct sc_prefix *pr;
	struct sc_peer *peer;
	struct pkt p, q;
	__u32 idx, k, ifindex = 0;
	bool error;
	int act, r;

	if (skb->pkt_type != PACKET_HOST || skb->vlan_present)
		return TC_ACT_UNSPEC;
	if (decap(skb, &p, &q, &act))
		return act;
	pr = lookup(skb, ETH_HLEN, l3_family(skb), true, &p, &q, &idx);
	if (!pr)
		return TC_ACT_UNSPEC;
	error = p.proto != IPPROTO_TCP;
	if (!error) {
		seg.syn = p.flags & AP_TCP_SYN;
		seg.ts = p.ts_off && (p.flags & AP_TCP_ACK);
		seg.owner = seg.ts ? ap_sc_owner(p.tsecr) : 0;
	} else {
		seg.syn = q.flags & AP_TCP_SYN;
		seg.ts = !seg.syn && q.ts_off;
		seg.owner = seg.ts ? ap_sc_owner(q.tsval) : 0;
	}
	k = idx * SC_IDS + seg.owner;
	peer = bpf_map_lookup_elem(&sc_peer, &k);
	if (!peer)
		return TC_ACT_UNSPEC;
	seg.peer_addr = p.family == AP_AF_INET ? peer->has4 : peer->has6;
	if (ap_sc_verdict(pr->instance, pr->peers, &seg) != AP_SC_FORWARD ||
	    (!error && local(skb, &p)))
		return TC_ACT_UNSPEC;
	if (!budget()) {
		count(idx, SC_LIMITED);
		return TC_ACT_UNSPEC;
	}
	/* As the module counts: the decision, then a send that failed. */
	count(idx, SC_FORWARDED);
	/* With no own address of the family, no outer header can be sent. */
	r = (p.family == AP_AF_INET ? pr->has4 : pr->has6) ?
		    encap(skb, &p, pr, peer, &nh, &ifindex) : -1;
	if (r) {
		count(idx, SC_UNSENT);
		return r == -1 ? TC_ACT_UNSPEC : TC_ACT_SHOT;
	}
	/*
	 * By the route encap() checked, to its next hop, not by the redirect's
	 * own lookup: that one may find another (a multipath route's other
	 * leg, a route changed since), and loses a packet it cannot route.
	 */
	if (ifindex)
		return bpf_redirect_neigh(ifindex, &nh, sizeof(nh), 0);
	/* By anypind's lookup: routed to the peer by the kernel, out of the device it came in on. */
	return bpf_redirect_neigh(skb->ingress_ifindex, NULL, 0, 0);
}
