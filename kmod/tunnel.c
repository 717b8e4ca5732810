// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The second chance's encapsulation (docs/second-chance.md): a segment
 * the core sends to a peer leaves whole, as received, in IPv4-in-IPv4
 * (RFC 2003) or IPv6-in-IPv6 (RFC 2473) from this instance's unicast
 * address; what a peer sent this way loses its outer header in
 * PRE_ROUTING, before conntrack, and goes up the stack as if routed here.
 * No tunnel device: the module's hooks are both ends, so nothing needs
 * setting up or taking down with the keys, and the host's own tunnels
 * never see these packets.
 */
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/netfilter.h>
#include <linux/netfilter_bridge.h>
#include <linux/skbuff.h>
#include <linux/version.h>
#include <net/dsfield.h>
#include <net/inet_ecn.h>
#include <net/ip.h>
#include <net/ip6_route.h>
#include <net/ip_tunnels.h>
#include <net/ipv6.h>
#include <net/route.h>
/* The GSO helpers left skbuff.h for their own header in 6.5. */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 5, 0)
#include <net/gso.h>
#endif
#include "anypin.h"

/*
 * What ip_forward() refuses, and what we cannot carry whole: a frame
 * being bridged, a packet not addressed to this host's link address, one
 * a socket owns, an LRO'd one (its segments cannot be rebuilt), one still
 * marked encapsulated, one whose outer packet would exceed 64 KiB (BIG
 * TCP: GSO cannot split a tunnel's jumbogram).
 */
static bool anypin_carriable(const struct sk_buff *skb, unsigned int hlen)
{
#if IS_ENABLED(CONFIG_BRIDGE_NETFILTER)
	if (nf_bridge_info_exists(skb))
		return false;
#endif
	if (skb->pkt_type != PACKET_HOST || skb->sk || skb->encapsulation)
		return false;
	if (skb_is_gso(skb) && !skb_shinfo(skb)->gso_type)
		return false;
	return skb->len + hlen <= IP_MAX_MTU;
}

/* Whether @skb, @hlen bytes longer, fits the route's MTU, or its GSO segments do. */
static bool anypin_fits(const struct sk_buff *skb, unsigned int hlen, unsigned int mtu)
{
	if (mtu <= hlen)
		return false;
	if (skb_is_gso(skb))
		return skb_gso_validate_network_len(skb, mtu - hlen);
	return skb->len + hlen <= mtu;
}

/*
 * The last steps, which cannot fail once the header is private: the
 * offload state of a tunnel packet (the kernel's own helper, as its
 * tunnels do: SKB_GSO_IPXIP4/6 on a GSO packet, whose inner headers are
 * then the current ones; a checksum left to finish stays so), and room
 * for the outer header, now the network header. @skb's network header is
 * the inner packet's, @p its parse.
 */
static int anypin_encap(struct sk_buff *skb, const struct ap_pkt *p, unsigned int hlen,
			int gso_type, u8 proto)
{
	int err;

	skb_set_transport_header(skb, p->l4_off);
	skb_scrub_packet(skb, false);
	/* A receive time is no departure time (EDT qdiscs), as ip_forward() knows. */
	skb_clear_tstamp(skb);
	err = iptunnel_handle_offloads(skb, gso_type);
	if (err)
		return err;
	skb_reset_transport_header(skb);
	skb_set_inner_ipproto(skb, proto);
	/* No link header inside. */
	skb_set_inner_mac_header(skb, skb_inner_network_offset(skb));
	skb_push(skb, hlen);
	skb_reset_network_header(skb);
	return 0;
}

static unsigned int anypin_forward4(struct net *net, struct sk_buff *skb,
				    const struct ap_pkt *p, __be32 saddr, __be32 daddr)
{
	const unsigned int hlen = sizeof(struct iphdr);
	struct flowi4 fl4 = {
		.daddr = daddr,
		.saddr = saddr,
		.flowi4_proto = IPPROTO_IPIP,
		.flowi4_mark = skb->mark,
	};
	struct iphdr *iph = ip_hdr(skb);
	__be16 df = iph->frag_off & htons(IP_DF);
	u8 dsfield = ipv4_get_dsfield(iph);
	struct rtable *rt;

	rt = ip_route_output_key(net, &fl4);
	if (IS_ERR(rt))
		return NF_ACCEPT;
	if (rt->rt_type != RTN_UNICAST || !anypin_fits(skb, hlen, dst_mtu(&rt->dst)) ||
	    skb_cow_head(skb, LL_RESERVED_SPACE(rt->dst.dev) + rt->dst.header_len + hlen)) {
		ip_rt_put(rt);
		return NF_ACCEPT;
	}
	if (anypin_encap(skb, p, hlen, SKB_GSO_IPXIP4, IPPROTO_IPIP)) {
		ip_rt_put(rt);
		kfree_skb(skb);
		return NF_STOLEN;
	}
	skb_dst_set(skb, &rt->dst);
	memset(IPCB(skb), 0, sizeof(*IPCB(skb)));
	skb->protocol = htons(ETH_P_IP);

	iph = ip_hdr(skb);
	iph->version = 4;
	iph->ihl = hlen / 4;
	/* RFC 6040's normal mode: the DSCP and ECT copied, CE not. */
	iph->tos = INET_ECN_encapsulate(dsfield, dsfield);
	iph->frag_off = df;
	iph->ttl = ip4_dst_hoplimit(&rt->dst);
	iph->protocol = IPPROTO_IPIP;
	iph->saddr = fl4.saddr;
	iph->daddr = fl4.daddr;
	/* The length and the checksum are ip_local_out()'s. */
	ip_select_ident(net, skb, NULL);
	ip_local_out(net, NULL, skb);
	return NF_STOLEN;
}

static unsigned int anypin_forward6(struct net *net, struct sk_buff *skb,
				    const struct ap_pkt *p, const struct in6_addr *saddr,
				    const struct in6_addr *daddr)
{
	const unsigned int hlen = sizeof(struct ipv6hdr);
	struct flowi6 fl6 = {
		.daddr = *daddr,
		.saddr = *saddr,
		.flowi6_proto = IPPROTO_IPV6,
		.flowi6_mark = skb->mark,
	};
	u8 dsfield = ipv6_get_dsfield(ipv6_hdr(skb));
	struct dst_entry *dst;
	struct ipv6hdr *ip6h;
	__be32 label;

	dst = ip6_dst_lookup_flow(net, NULL, &fl6, NULL);
	if (IS_ERR(dst))
		return NF_ACCEPT;
	/* A peer address of this host's own would loop. */
	if ((dst->dev->flags & IFF_LOOPBACK) || !anypin_fits(skb, hlen, dst_mtu(dst)) ||
	    skb_cow_head(skb, LL_RESERVED_SPACE(dst->dev) + dst->header_len + hlen)) {
		dst_release(dst);
		return NF_ACCEPT;
	}
	/* The inner flow's hash, so that ECMP keeps a connection on one path. */
	label = ip6_make_flowlabel(net, skb, 0, true, &fl6);
	if (anypin_encap(skb, p, hlen, SKB_GSO_IPXIP6, IPPROTO_IPV6)) {
		dst_release(dst);
		kfree_skb(skb);
		return NF_STOLEN;
	}
	skb_dst_set(skb, dst);
	memset(IP6CB(skb), 0, sizeof(*IP6CB(skb)));
	skb->protocol = htons(ETH_P_IPV6);

	ip6h = ipv6_hdr(skb);
	ip6_flow_hdr(ip6h, INET_ECN_encapsulate(dsfield, dsfield), label);
	ip6h->nexthdr = IPPROTO_IPV6;
	ip6h->hop_limit = ip6_dst_hoplimit(dst);
	ip6h->saddr = fl6.saddr;
	ip6h->daddr = fl6.daddr;
	/* The payload length is ip6_local_out()'s. */
	ip6_local_out(net, NULL, skb);
	return NF_STOLEN;
}

/*
 * The verdict's forward, at PRE_ROUTING: @skb (as received, unchanged by
 * the core; @p parsed it) goes to the peer at @to, from the unicast
 * address of its prefix. NF_STOLEN once it is sent (or, past the point
 * of no return, freed); NF_ACCEPT when it cannot go (no own address of
 * its family, no route, too big, no memory for the header): then the
 * host takes it as it would without anypin (docs/kmod.md says why).
 */
static unsigned int anypin_forward_from(struct net *net, struct sk_buff *skb,
					const struct ap_pkt *p, const struct ap_pconf *pc,
					const struct ap_sc_to *to)
{
	const struct ap_addr *src = p->family == AP_AF_INET ? &pc->unicast4 : &pc->unicast6;

	if (src->family != p->family || to->addr.family != p->family)
		return NF_ACCEPT;
	if (p->family == AP_AF_INET) {
		if (!anypin_carriable(skb, sizeof(struct iphdr)))
			return NF_ACCEPT;
		return anypin_forward4(net, skb, p, src->v4, to->addr.v4);
	}
	if (!anypin_carriable(skb, sizeof(struct ipv6hdr)))
		return NF_ACCEPT;
	return anypin_forward6(net, skb, p, (const struct in6_addr *)src->b,
			       (const struct in6_addr *)to->addr.b);
}

/*
 * @v's forward: its prefix is the one that decided it, in the
 * configuration the core decided with (x->kc, read once by the hook).
 */
unsigned int anypin_forward(const struct anypin_ctx *x, struct sk_buff *skb,
			    const struct ap_pkt *p, const struct ap_verdict *v)
{
	unsigned int verdict;

	verdict = anypin_forward_from(x->an->net, skb, p, &x->kc->c.prefixes[v->fwd_prefix],
				      &v->fwd);
	/* sc_forwarded counted the core's decision; this, what did not go */
	if (verdict == NF_ACCEPT)
		anypin_stats_inc(x->an, ap_slots_slot(&x->kc->slots, v->fwd_prefix),
				 AP_STAT_SC_UNSENT);
	return verdict;
}

/* Whether @a is the address of a peer of @pc. */
static bool anypin_is_peer(const struct ap_pconf *pc, const struct ap_addr *a)
{
	u64 ids = pc->peers.ids;
	unsigned int id;

	for (id = 1; id <= AP_SC_ID_MAX; id++) {
		if (!(ids & (u64)1 << id))
			continue;
		if (ap_addr_eq(a, a->family == AP_AF_INET ? &pc->peers.peer[id].addr4 :
						      &pc->peers.peer[id].addr6))
			return true;
	}
	return false;
}

/*
 * The inner packet of @skb, @ohl bytes past its network header, parsed
 * into @p without a byte of @skb changed (pulled into the linear part at
 * most): whole and sound, and what a peer of its prefix may send us.
 */
static bool anypin_from_peer(const struct anypin_ctx *x, struct sk_buff *skb, u8 pf,
			     unsigned int ohl, struct ap_pkt *p)
{
	unsigned int off = skb_network_offset(skb) + ohl;
	const struct ap_pconf *pc;
	struct ap_addr a;

	if (anypin_parse(skb, ohl, p) != AP_OK || p->len != skb->len - off)
		return false;
	if (pf == NFPROTO_IPV4) {
		const struct iphdr *iph = (const struct iphdr *)p->data;

		/* ip_rcv() checked the outer header only. */
		if (p->family != AP_AF_INET || ip_fast_csum(iph, iph->ihl))
			return false;
	} else {
		/* ip6_rcv_core() alone parses a hop-by-hop header. */
		if (p->family != AP_AF_INET6 || ((struct ipv6hdr *)p->data)->nexthdr == NEXTHDR_HOP)
			return false;
	}
	pc = anypin_sc_prefix(x->kc, p, AP_HOOK_IN);
	if (!pc)
		return false;
	/* To this instance's address, from a peer's (the outer header). */
	a.family = p->family;
	memset(a.b, 0, sizeof(a.b));
	if (pf == NFPROTO_IPV4) {
		a.v4 = ip_hdr(skb)->daddr;
		if (!ap_addr_eq(&a, &pc->unicast4))
			return false;
		a.v4 = ip_hdr(skb)->saddr;
	} else {
		memcpy(a.b, &ipv6_hdr(skb)->daddr, 16);
		if (!ap_addr_eq(&a, &pc->unicast6))
			return false;
		memcpy(a.b, &ipv6_hdr(skb)->saddr, 16);
	}
	return anypin_is_peer(pc, &a);
}

/*
 * At PRE_ROUTING: a segment (or ICMP error) a peer forwarded to us loses
 * its outer header; the other IP-in-IP packets of the host are left as
 * they are, unchanged. The skb then holds the inner packet as ip_rcv()
 * leaves one for the hooks (network and transport headers, protocol, no
 * route yet, CHECKSUM_COMPLETE less the outer header), and the stack goes
 * on with it: ip_rcv_finish() and ip6_rcv_finish() route and demux by the
 * current headers. The outer ECN marks are merged (RFC 6040).
 */
enum anypin_decap anypin_decap(const struct anypin_ctx *x, struct sk_buff *skb, u8 pf)
{
	unsigned int ohl, ihl;
	int iif = skb->skb_iif;
	u8 outer_ds, inner_ds;
	struct ap_pkt p;
	__be16 proto;

	if (pf == NFPROTO_IPV4) {
		const struct iphdr *iph = ip_hdr(skb);

		if (iph->protocol != IPPROTO_IPIP || ip_is_fragment(iph))
			return ANYPIN_DECAP_NONE;
		ohl = ip_hdrlen(skb);
		proto = htons(ETH_P_IP);
	} else {
		if (ipv6_hdr(skb)->nexthdr != IPPROTO_IPV6)
			return ANYPIN_DECAP_NONE;
		ohl = sizeof(struct ipv6hdr);
		proto = htons(ETH_P_IPV6);
	}
#if IS_ENABLED(CONFIG_BRIDGE_NETFILTER)
	if (nf_bridge_info_exists(skb))
		return ANYPIN_DECAP_NONE;
#endif
	if (skb->pkt_type != PACKET_HOST || !anypin_from_peer(x, skb, pf, ohl, &p))
		return ANYPIN_DECAP_NONE;
	ihl = pf == NFPROTO_IPV4 ? ((const struct iphdr *)p.data)->ihl * 4 :
				   sizeof(struct ipv6hdr);
	/* Both IP headers private: the ECN merge may write the inner one. */
	if (skb_ensure_writable(skb, skb_network_offset(skb) + ohl + ihl))
		return ANYPIN_DECAP_NONE;
	if (pf == NFPROTO_IPV4) {
		outer_ds = ipv4_get_dsfield(ip_hdr(skb));
		inner_ds = ipv4_get_dsfield((struct iphdr *)(skb_network_header(skb) + ohl));
	} else {
		outer_ds = ipv6_get_dsfield(ipv6_hdr(skb));
		inner_ds = ipv6_get_dsfield((struct ipv6hdr *)(skb_network_header(skb) + ohl));
	}

	/* From here on, the skb is the inner packet's or dropped. */
	if (iptunnel_pull_header(skb, ohl, proto, false))
		return ANYPIN_DECAP_DROP;
	skb_reset_network_header(skb);
	skb_set_transport_header(skb, ihl);
	/* As the stack received it: sockets bound to a device match. */
	skb->skb_iif = iif;
	if (pf == NFPROTO_IPV6)
		IP6CB(skb)->nhoff = offsetof(struct ipv6hdr, nexthdr);
	/* Outer CE on a not-ECT inner packet: RFC 6040 drops it. */
	if (INET_ECN_decapsulate(skb, outer_ds, inner_ds) > 1)
		return ANYPIN_DECAP_DROP;
	return ANYPIN_DECAP_DONE;
}
