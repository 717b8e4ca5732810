// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Sends the RST the core built for a losing responder (ap_build_rst()),
 * from any context, softirq included, routed in the packet's namespace.
 */
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/skbuff.h>
#include <net/ip.h>
#include <net/ip6_route.h>
#include <net/ipv6.h>
#include <net/route.h>
#include <net/netfilter/nf_conntrack.h>
#include "anypin.h"

static int anypin_route4(struct net *net, struct sk_buff *skb)
{
	const struct iphdr *iph = ip_hdr(skb);
	struct flowi4 fl4 = {
		.daddr = iph->daddr,
		.saddr = iph->saddr,
		.flowi4_proto = IPPROTO_TCP,
	};
	struct rtable *rt;

	rt = ip_route_output_key(net, &fl4);
	if (IS_ERR(rt))
		return PTR_ERR(rt);
	skb_dst_set(skb, &rt->dst);
	skb->protocol = htons(ETH_P_IP);
	skb_set_transport_header(skb, iph->ihl * 4);
	return 0;
}

static int anypin_route6(struct net *net, struct sk_buff *skb)
{
	const struct ipv6hdr *ip6h = ipv6_hdr(skb);
	struct flowi6 fl6 = {
		.daddr = ip6h->daddr,
		.saddr = ip6h->saddr,
		.flowi6_proto = IPPROTO_TCP,
	};
	struct dst_entry *dst;
	int err;

	dst = ip6_route_output(net, NULL, &fl6);
	err = dst->error;
	if (err) {
		dst_release(dst);
		return err;
	}
	skb_dst_set(skb, dst);
	skb->protocol = htons(ETH_P_IPV6);
	skb_set_transport_header(skb, sizeof(struct ipv6hdr));
	return 0;
}

void anypin_send_rst(struct net *net, const u8 *pkt, u32 len, u8 family)
{
	struct sk_buff *skb;
	int err;

	skb = alloc_skb(LL_MAX_HEADER + len, GFP_ATOMIC);
	if (!skb)
		return;
	skb_reserve(skb, LL_MAX_HEADER);
	skb_reset_network_header(skb);
	skb_put_data(skb, pkt, len);
	skb->ip_summed = CHECKSUM_NONE;
#if IS_ENABLED(CONFIG_NF_CONNTRACK)
	/* Conntrack never saw the SYN-ACK it answers: not a flow of its. */
	nf_ct_set(skb, NULL, IP_CT_UNTRACKED);
#endif
	err = family == AP_AF_INET ? anypin_route4(net, skb) : anypin_route6(net, skb);
	if (err) {
		kfree_skb(skb);
		return;
	}
	if (family == AP_AF_INET)
		ip_local_out(net, NULL, skb);
	else
		ip6_local_out(net, NULL, skb);
}
