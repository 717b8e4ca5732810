// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The netfilter hooks: parse, make the bytes the core may change linear
 * and writable, run ap_process(), then do what its verdict asks (grow the
 * skb, send a RST, drop, route again, forward to a peer). A packet anypin
 * cannot parse is passed untouched. At PRE_ROUTING, what a peer forwarded
 * loses its outer header first (tunnel.c).
 *
 * Where they sit (see docs/kmod.md):
 *   PRE_ROUTING  -399  after defragmentation, before the raw table and
 *                      conntrack, so both see one consistent connection;
 *   LOCAL_OUT      51  after conntrack and every table (filter, security),
 *                      which all see the anycast address the socket uses;
 *   POST_ROUTING  101  after source NAT, before conntrack's confirmation.
 */
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/netfilter.h>
#include <linux/netfilter_ipv4.h>
#include <linux/netfilter_ipv6.h>
#include <linux/skbuff.h>
#include <net/checksum.h>
#include <net/ip.h>
#include <net/ipv6.h>
#include "anypin.h"

/* Enough for any header chain the parser accepts (AP_HDR_MAX). */
#define AP_PULL_TRIES	8

/* Only TCP and the ICMP errors that may carry it go further. */
static bool anypin_wanted(const struct sk_buff *skb, u8 pf)
{
	if (pf == NFPROTO_IPV4) {
		const struct iphdr *iph = ip_hdr(skb);

		return iph->protocol == IPPROTO_TCP || iph->protocol == IPPROTO_ICMP;
	}
	switch (ipv6_hdr(skb)->nexthdr) {
	case IPPROTO_TCP:
	case IPPROTO_ICMPV6:
	case NEXTHDR_HOP:
	case NEXTHDR_ROUTING:
	case NEXTHDR_DEST:
		return true;	/* the parser walks the extension headers */
	}
	return false;
}

/*
 * ap_parse() of the packet @ohl bytes past the network header (0, or the
 * inner packet of a tunnel), pulling what it asks for into the linear part.
 */
int anypin_parse(struct sk_buff *skb, unsigned int ohl, struct ap_pkt *p)
{
	unsigned int off = skb_network_offset(skb) + ohl;
	int i, err = AP_EMORE;

	if (!pskb_may_pull(skb, off))
		return AP_ESHORT;
	for (i = 0; i < AP_PULL_TRIES; i++) {
		err = ap_parse(p, skb_network_header(skb) + ohl, skb->len - off,
			       skb_headlen(skb) - off);
		if (err != AP_EMORE)
			break;
		if (p->need <= skb_headlen(skb) - off ||
		    !pskb_may_pull(skb, off + p->need))
			break;
	}
	return err;
}

/*
 * Whether ap_process() might change or count @p: a SYN to a configured
 * prefix, a packet with a key the table holds, or, where a responder
 * prefix has an instance id (the second chance), a segment to or from
 * its anycast address and an ICMP error about one. Everything else (the
 * host's other TCP traffic) is spared the copy of a cloned header.
 */
static bool anypin_maybe_ours(const struct anypin_ctx *x, const struct ap_pkt *p,
			      enum ap_hook hook)
{
	struct anypin_net *an = x->an;
	struct ap_addr dst;
	struct ap_key k;

	if (ap_pkt_is_icmp(p)) {
		if (hook != AP_HOOK_IN)
			return false;
		if (anypin_sc_prefix(x->kc, p, hook))
			return true;
		if (!anypin_flows_count(an))
			return false;
		ap_key_of_icmp(p, AP_ROLE_CLIENT, &k);
		if (anypin_flows_has_key(an, &k))
			return true;
		ap_key_of_icmp(p, AP_ROLE_RESPONDER, &k);
		return anypin_flows_has_key(an, &k);
	}
	if ((p->tcp_flags & (AP_TCP_SYN | AP_TCP_ACK)) == AP_TCP_SYN &&
	    hook != AP_HOOK_POST) {
		ap_pkt_daddr(p, &dst);
		if (ap_conf_in_anycast(&x->kc->c, &dst))
			return true;
	}
	if (hook != AP_HOOK_OUT && anypin_sc_prefix(x->kc, p, hook))
		return true;
	if (!anypin_flows_count(an))
		return false;
	switch (hook) {
	case AP_HOOK_IN:
		ap_key_of(p, AP_ROLE_CLIENT, false, &k);
		if (anypin_flows_has_key(an, &k))
			return true;
		ap_key_of(p, AP_ROLE_RESPONDER, false, &k);
		return anypin_flows_has_key(an, &k);
	case AP_HOOK_OUT:
		ap_key_of(p, AP_ROLE_CLIENT, true, &k);
		return anypin_flows_has_key(an, &k);
	case AP_HOOK_POST:
		ap_key_of(p, AP_ROLE_RESPONDER, true, &k);
		return anypin_flows_has_key(an, &k);
	}
	return false;
}

/*
 * Makes the bytes the core may write linear and private: the headers; an
 * ICMP error whole; a SYN whole, with room for the option after it.
 * Returns the length of the region that may change, or 0 on failure.
 */
static unsigned int anypin_make_writable(struct sk_buff *skb, struct ap_pkt *p)
{
	unsigned int off = skb_network_offset(skb);
	unsigned int n = p->tcp_off + p->tcp_hlen;
	int room;

	if (ap_pkt_is_icmp(p)) {
		n = p->len;
	} else if (p->tcp_flags & AP_TCP_SYN) {
		/* The option goes in at the end of the IP packet's bytes. */
		if (p->len != skb->len - off || skb_linearize(skb))
			return 0;
		n = p->len;
	}
	if (skb_ensure_writable(skb, off + n))
		return 0;
	if (!ap_pkt_is_icmp(p) && (p->tcp_flags & AP_TCP_SYN)) {
		room = AP_OPT_LEN - (int)skb_tailroom(skb);
		if (room > 0 && pskb_expand_head(skb, 0, room, GFP_ATOMIC))
			return 0;
	}
	p->data = skb_network_header(skb);
	return n;
}

static int anypin_reroute(struct net *net, struct sk_buff *skb,
			  const struct nf_hook_state *st)
{
	if (st->pf == NFPROTO_IPV4)
		return ip_route_me_harder(net, st->sk, skb, RTN_UNSPEC);
	return ip6_route_me_harder(net, st->sk, skb);
}

static unsigned int anypin_hook(struct sk_buff *skb, const struct nf_hook_state *st,
				enum ap_hook hook)
{
	struct anypin_ctx x = { .an = anypin_pernet(st->net), .skb = skb };
	enum ap_csum_mode mode;
	bool tunnel = false;
	struct ap_verdict v;
	struct ap_pkt p;
	unsigned int n;
	__wsum before = 0;
	int err;

	x.kc = rcu_dereference(x.an->conf);
	if (!x.kc->c.nprefixes && !anypin_flows_count(x.an))
		return NF_ACCEPT;
	if (hook == AP_HOOK_IN && x.kc->sc) {
		switch (anypin_decap(&x, skb, st->pf)) {
		case ANYPIN_DECAP_NONE:
			break;
		case ANYPIN_DECAP_DONE:
			tunnel = true;
			break;
		case ANYPIN_DECAP_DROP:
			return NF_DROP;
		}
	}
	if (!anypin_wanted(skb, st->pf))
		return NF_ACCEPT;
	if (anypin_parse(skb, 0, &p) != AP_OK)
		return NF_ACCEPT;
	/* It came from a peer: the core counts it, and never forwards it again. */
	p.tunnel = tunnel;
	if (!tunnel && !anypin_maybe_ours(&x, &p, hook))
		return NF_ACCEPT;
	n = anypin_make_writable(skb, &p);
	if (!n)
		return NF_ACCEPT;

	mode = skb->ip_summed == CHECKSUM_PARTIAL || skb_is_gso(skb) ?
	       AP_CSUM_PSEUDO : AP_CSUM_FULL;
	/*
	 * CHECKSUM_COMPLETE (received only) covers the packet from the
	 * network header: patch it by the difference of the bytes that may
	 * change, so the device's verification stays valid.
	 */
	if (skb->ip_summed == CHECKSUM_COMPLETE)
		before = csum_partial(p.data, n, 0);

	x.now = anypin_now();
	/*
	 * The forward budget is per CPU (second.c). PRE_ROUTING runs in
	 * softirq or with BHs off, but for a packet netfilter reinjects
	 * from a queue (nf_reinject() runs the later hooks in process
	 * context): BHs off here keep the CPU, and the budget, ours.
	 */
	if (hook == AP_HOOK_IN)
		local_bh_disable();
	ap_process(&x.kc->c, &anypin_table_ops, &x, &p, hook, mode, x.now, &v);
	if (hook == AP_HOOK_IN)
		local_bh_enable();

	if (v.grew) {
		skb_put(skb, AP_OPT_LEN);
		if (skb->ip_summed == CHECKSUM_COMPLETE)
			skb->ip_summed = CHECKSUM_NONE;
	}
	if (skb->ip_summed == CHECKSUM_COMPLETE)
		skb->csum = csum_add(csum_sub(skb->csum, before), csum_partial(p.data, n, 0));
	if (v.rst_len)
		anypin_send_rst(st->net, v.rst, v.rst_len, p.family);
	if (v.drop)
		return NF_DROP;
	/* Only at IN, never for a packet from a peer (the core's rule). */
	if (v.forward && hook == AP_HOOK_IN)
		return anypin_forward(&x, skb, &p, &v);
	if (v.reroute) {
		if (hook == AP_HOOK_OUT) {
			err = anypin_reroute(st->net, skb, st);
			if (err < 0)
				return NF_DROP_ERR(err);
		} else if (hook == AP_HOOK_IN) {
			/* A route found for the old destination (loopback). */
			skb_dst_drop(skb);
		}
	}
	return NF_ACCEPT;
}

static unsigned int anypin_in(void *priv, struct sk_buff *skb,
			      const struct nf_hook_state *st)
{
	return anypin_hook(skb, st, AP_HOOK_IN);
}

static unsigned int anypin_out(void *priv, struct sk_buff *skb,
			       const struct nf_hook_state *st)
{
	return anypin_hook(skb, st, AP_HOOK_OUT);
}

static unsigned int anypin_post(void *priv, struct sk_buff *skb,
				const struct nf_hook_state *st)
{
	return anypin_hook(skb, st, AP_HOOK_POST);
}

static const struct nf_hook_ops anypin_hook_ops[] = {
	{
		.hook = anypin_in,
		.pf = NFPROTO_IPV4,
		.hooknum = NF_INET_PRE_ROUTING,
		.priority = NF_IP_PRI_CONNTRACK_DEFRAG + 1,
	},
	{
		.hook = anypin_out,
		.pf = NFPROTO_IPV4,
		.hooknum = NF_INET_LOCAL_OUT,
		.priority = NF_IP_PRI_SECURITY + 1,
	},
	{
		.hook = anypin_post,
		.pf = NFPROTO_IPV4,
		.hooknum = NF_INET_POST_ROUTING,
		.priority = NF_IP_PRI_NAT_SRC + 1,
	},
	{
		.hook = anypin_in,
		.pf = NFPROTO_IPV6,
		.hooknum = NF_INET_PRE_ROUTING,
		.priority = NF_IP6_PRI_CONNTRACK_DEFRAG + 1,
	},
	{
		.hook = anypin_out,
		.pf = NFPROTO_IPV6,
		.hooknum = NF_INET_LOCAL_OUT,
		.priority = NF_IP6_PRI_SECURITY + 1,
	},
	{
		.hook = anypin_post,
		.pf = NFPROTO_IPV6,
		.hooknum = NF_INET_POST_ROUTING,
		.priority = NF_IP6_PRI_NAT_SRC + 1,
	},
};

/*
 * With the first prefix of a namespace, under dir_lock; they stay until
 * the namespace goes, since pinned flows outlive their prefix.
 */
int anypin_hooks_register(struct anypin_net *an)
{
	int err;

	lockdep_assert_held(&an->dir_lock);
	if (an->hooks)
		return 0;
	err = nf_register_net_hooks(an->net, anypin_hook_ops, ARRAY_SIZE(anypin_hook_ops));
	if (err)
		return err;
	an->hooks = true;
	anypin_flows_gc_start(an);
	return 0;
}

void anypin_hooks_unregister(struct anypin_net *an)
{
	if (!an->hooks)
		return;
	nf_unregister_net_hooks(an->net, anypin_hook_ops, ARRAY_SIZE(anypin_hook_ops));
	an->hooks = false;
}
