// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * What the core's second chance (include/anypin/second.h) asks of the
 * module: whether a socket of this host takes a segment, and a budget of
 * segments each CPU may forward per second. The core decides the rest.
 */
#include <linux/jiffies.h>
#include <linux/percpu.h>
#include <linux/tcp.h>
#include <linux/version.h>
#include <net/inet6_hashtables.h>
#include <net/inet_hashtables.h>
#include <net/ip.h>
#include <net/ipv6.h>
#include <net/tcp.h>
#include "anypin.h"

/* One CPU's forwards in a one-second window. */
struct anypin_budget {
	unsigned long start;	/* jiffies */
	u32 sent;
};

/*
 * Whether the listener on the segment's address and port may have sent a
 * SYN cookie that this ACK completes: the kernel's own conditions
 * (cookie_v4_check()), without building the socket. No reference is
 * taken: listeners are freed after RCU, and we hold it.
 */
static bool anypin_cookie4(struct net *net, struct inet_hashinfo *h,
			   const struct iphdr *iph, const struct tcphdr *th,
			   int dif, int sdif)
{
#if IS_ENABLED(CONFIG_SYN_COOKIES)
	struct sock *sk;

	if (!READ_ONCE(net->ipv4.sysctl_tcp_syncookies) || !th->ack || th->rst || th->syn)
		return false;
	sk = __inet_lookup_listener(net, h, NULL, 0, iph->saddr, th->source,
				    iph->daddr, ntohs(th->dest), dif, sdif);
	if (!sk || tcp_synq_no_recent_overflow(sk))
		return false;
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 8, 0)
	return __cookie_v4_check(iph, th) != 0;
#else
	return __cookie_v4_check(iph, th, ntohl(th->ack_seq) - 1) != 0;
#endif
#else
	return false;
#endif
}

static bool anypin_cookie6(struct net *net, struct inet_hashinfo *h,
			   const struct ipv6hdr *ip6h, const struct tcphdr *th,
			   int dif, int sdif)
{
#if IS_ENABLED(CONFIG_SYN_COOKIES) && IS_ENABLED(CONFIG_IPV6)
	struct sock *sk;

	if (!READ_ONCE(net->ipv4.sysctl_tcp_syncookies) || !th->ack || th->rst || th->syn)
		return false;
	sk = inet6_lookup_listener(net, h, NULL, 0, &ip6h->saddr, th->source,
				   &ip6h->daddr, ntohs(th->dest), dif, sdif);
	if (!sk || tcp_synq_no_recent_overflow(sk))
		return false;
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 8, 0)
	return __cookie_v6_check(ip6h, th) != 0;
#else
	return __cookie_v6_check(ip6h, th, ntohl(th->ack_seq) - 1) != 0;
#endif
#else
	return false;
#endif
}

/*
 * The op local(): a socket of this namespace in the established hash
 * (established, SYN-RECV request, TIME-WAIT) for the segment's 4-tuple,
 * or a listener whose SYN cookie it completes. From the IN hook, under
 * the RCU read lock that netfilter holds; the established lookup takes a
 * reference, which sock_gen_put() drops whatever the socket's kind.
 */
bool anypin_sc_local(void *t, const struct ap_pkt *p)
{
	const struct anypin_ctx *x = t;
	struct sk_buff *skb = x->skb;
	struct net *net = x->an->net;
	struct inet_hashinfo *h = net->ipv4.tcp_death_row.hashinfo;
	const struct tcphdr *th = (const struct tcphdr *)(p->data + p->tcp_off);
	int dif = skb->skb_iif;
	struct sock *sk;

	RCU_LOCKDEP_WARN(!rcu_read_lock_held(), "anypin: socket lookup outside RCU");
	if (p->family == AP_AF_INET) {
		const struct iphdr *iph = ip_hdr(skb);
		int sdif = inet_sdif(skb);

		sk = __inet_lookup_established(net, h, iph->saddr, th->source,
					       iph->daddr, ntohs(th->dest), dif, sdif);
		if (!sk)
			return anypin_cookie4(net, h, iph, th, dif, sdif);
	} else {
		const struct ipv6hdr *ip6h = ipv6_hdr(skb);
		int sdif = inet6_sdif(skb);

		sk = __inet6_lookup_established(net, h, &ip6h->saddr, th->source,
						&ip6h->daddr, ntohs(th->dest), dif, sdif);
		if (!sk)
			return anypin_cookie6(net, h, ip6h, th, dif, sdif);
	}
	sock_gen_put(sk);
	return true;
}

/*
 * The op budget(): forward_rate segments per second and CPU. The window
 * is per CPU, so the hook calls ap_process() with BHs off (hooks.c): on
 * a CPU, one packet at a time counts.
 */
bool anypin_sc_budget(void *t)
{
	const struct anypin_ctx *x = t;
	/* Pairs with smp_store_release() in anypin_sc_alloc(). */
	struct anypin_budget __percpu *pb = smp_load_acquire(&x->an->budget);
	unsigned long now = jiffies;
	struct anypin_budget *b;

	lockdep_assert_in_softirq();
	if (!pb)
		return false;
	b = this_cpu_ptr(pb);
	/* (Also when the window lies ahead: a CPU idle for a jiffies wrap.) */
	if (!time_in_range_open(now, b->start, b->start + HZ)) {
		b->start = now;
		b->sent = 0;
	}
	if (b->sent >= x->kc->c.forward_rate)
		return false;
	b->sent++;
	return true;
}

/* Before a configuration with an instance id is published. */
int anypin_sc_alloc(struct anypin_net *an)
{
	struct anypin_budget __percpu *b;

	lockdep_assert_held(&an->conf_lock);
	if (an->budget)
		return 0;
	b = alloc_percpu(struct anypin_budget);
	if (!b)
		return -ENOMEM;
	/* Pairs with the hooks' smp_load_acquire(): zeroed first. */
	smp_store_release(&an->budget, b);
	return 0;
}

/* The namespace is going: no hook runs any more. */
void anypin_sc_free(struct anypin_net *an)
{
	free_percpu(an->budget);
	an->budget = NULL;
}

/*
 * The responder prefix with an instance id that governs @p, found as the
 * core finds it: a segment by its destination at IN, by its source at
 * POST; an ICMP error by the segment it quotes, sent from A.
 */
const struct ap_pconf *anypin_sc_prefix(const struct anypin_conf *kc, const struct ap_pkt *p,
					enum ap_hook hook)
{
	const struct ap_pconf *pc;
	struct ap_addr a;
	__be16 port;

	if (!kc->sc)
		return NULL;
	if (ap_pkt_is_icmp(p)) {
		ap_pkt_in_saddr(p, &a);
		port = p->sport;
	} else if (hook == AP_HOOK_POST) {
		ap_pkt_saddr(p, &a);
		port = p->sport;
	} else {
		ap_pkt_daddr(p, &a);
		port = p->dport;
	}
	pc = ap_conf_match(&kc->c, &a, ntohs(port), AP_ROLE_RESPONDER);
	return pc && pc->instance ? pc : NULL;
}
