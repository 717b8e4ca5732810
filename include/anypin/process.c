// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Which decision a packet gets at which hook. Client entries are made by
 * our own SYNs (OUT), responder entries by capable SYNs we receive (IN);
 * everything else only ever finds an existing entry.
 */
#include <anypin/process.h>

static enum ap_match exact_if(bool yes)
{
	return yes ? AP_MATCH_EXACT : AP_MATCH_NONE;
}

enum ap_match ap_flow_match(const struct ap_flow *f, const struct ap_pkt *p,
			    enum ap_find how)
{
	struct ap_addr a;

	switch (how) {
	case AP_FIND_OUT:
		ap_pkt_daddr(p, &a);
		return exact_if(ap_addr_eq(&a, &f->anycast));
	case AP_FIND_SYNACK:
		/* ISNs tell the attempts of one key apart. */
		return ap_flow_acks_syn(f, p) ? AP_MATCH_EXACT : AP_MATCH_KEY;
	case AP_FIND_IN:
		return exact_if(ap_flow_from_pin(f, p) || ap_flow_from_opening(f, p));
	case AP_FIND_PINNED:
		return exact_if(ap_flow_from_pin(f, p));
	case AP_FIND_RESP:
		return AP_MATCH_EXACT;
	case AP_FIND_ICMP:
		return exact_if(ap_flow_icmp_about(f, p));
	}
	return AP_MATCH_NONE;
}

struct ctx {
	const struct ap_conf *c;
	const struct ap_table_ops *ops;
	void *t;
	struct ap_pkt *p;
	enum ap_csum_mode mode;
	u32 now;
	struct ap_verdict *v;
};

static void count(const struct ctx *x, u8 prefix, u8 stat)
{
	if (stat < AP_STAT_MAX)
		x->ops->count(x->t, prefix, stat);
}

/* Remembers @f's anycast address as blackholed (@on), or forgets it. */
static void blackhole(const struct ctx *x, const struct ap_flow *f, bool on)
{
	struct ap_bh_table *bh = x->ops->bh_lock(x->t);

	if (on)
		ap_bh_detect(bh, &f->anycast, x->c->blackhole_timeout, x->now);
	else
		ap_bh_clear(bh, &f->anycast);
	x->ops->bh_unlock(x->t);
}

static bool blackholed(const struct ctx *x, const struct ap_addr *a)
{
	struct ap_bh_table *bh = x->ops->bh_lock(x->t);
	bool on = ap_bh_active(bh, a, x->now);

	x->ops->bh_unlock(x->t);
	return on;
}

/* Applies @r to the packet and hands @f (if any) back to the table. */
static void finish(const struct ctx *x, struct ap_flow *f, u8 old, u8 prefix,
		   const struct ap_res *r)
{
	struct ap_pkt *p = x->p;

	count(x, prefix, r->stat);
	if (r->flags & AP_F_SEND_RST)
		x->v->rst_len = ap_build_rst(p, x->v->rst);
	switch (r->act) {
	case AP_REWRITE_SRC:
		ap_set_saddr(p, &r->to, x->mode);
		x->v->changed = true;
		break;
	case AP_REWRITE_DST:
		ap_set_daddr(p, &r->to, x->mode);
		x->v->reroute = true;
		x->v->changed = true;
		break;
	case AP_DROP:
		x->v->drop = true;
		break;
	}
	if (f && (r->flags & (AP_F_BLACKHOLE | AP_F_BH_CLEAR)))
		blackhole(x, f, r->flags & AP_F_BLACKHOLE);
	if (r->flags & AP_F_ADD_OPT) {
		if (!ap_opt_insert(p, x->c->exid, x->mode)) {
			x->v->grew = true;
			x->v->changed = true;
			count(x, prefix, AP_STAT_OPT_ADDED);
		} else {
			count(x, prefix, AP_STAT_OPT_NOROOM);
		}
	}
	if (!f)
		return;
	if (r->flags & AP_F_FREE)
		x->ops->remove(x->t, f);
	else
		x->ops->release(x->t, f, old);
}

static void decide_syn(const struct ctx *x, enum ap_role role, struct ap_flow *f, bool fresh,
		       const struct ap_opts *o, const struct ap_pconf *pc, bool bh,
		       u8 prefix, struct ap_res *r)
{
	if (role == AP_ROLE_CLIENT)
		ap_client_syn(f, fresh, x->p, o, x->c, bh, prefix, x->now, r);
	else
		ap_resp_syn(f, fresh, x->p, o, pc, prefix, x->now, r);
}

/*
 * A SYN to a prefix of @role: our own (client), to be sent with the option,
 * or a capable client's (responder), to be answered from U. False if no
 * prefix of that role governs it.
 */
static bool syn(const struct ctx *x, enum ap_role role)
{
	bool client = role == AP_ROLE_CLIENT;
	const struct ap_pconf *pc;
	struct ap_addr dst;
	struct ap_opts o;
	struct ap_key k;
	struct ap_flow *f;
	struct ap_res r;
	u8 prefix, old;
	bool bh;

	ap_pkt_daddr(x->p, &dst);
	pc = ap_conf_match(x->c, &dst, ntohs(x->p->dport), role);
	if (!pc || ap_tcp_opts(x->p, x->c->exid, &o))
		return false;
	prefix = pc - x->c->prefixes;
	bh = client && blackholed(x, &dst);
	ap_key_of(x->p, role, client, &k);
	f = x->ops->find(x->t, &k, x->p, client ? AP_FIND_OUT : AP_FIND_RESP);
	old = f ? f->state : 0;
	decide_syn(x, role, f, false, &o, pc, bh, prefix, &r);
	if (r.flags & AP_F_CREATE) {
		f = x->ops->create(x->t, &k);
		/* Full: the SYN goes on as it would without anypin. */
		if (!f)
			return true;
		old = f->state;
		decide_syn(x, role, f, true, &o, pc, bh, prefix, &r);
	}
	finish(x, f, old, prefix, &r);
	return true;
}

/*
 * A SYN-ACK of key @k. Another attempt of the key pinned to its source
 * means binding would reuse that flow's 4-tuple; its anycast address is
 * noted first, since one entry is locked at a time.
 */
static bool client_synack(const struct ctx *x, const struct ap_key *k)
{
	struct ap_addr other = { .family = 0 };
	struct ap_flow *f;
	struct ap_opts o;
	struct ap_res r;
	u8 old;

	f = x->ops->find(x->t, k, x->p, AP_FIND_PINNED);
	if (f) {
		other = f->anycast;
		x->ops->release(x->t, f, f->state);
	}
	f = x->ops->find(x->t, k, x->p, AP_FIND_SYNACK);
	if (!f)
		return false;
	old = f->state;
	if (ap_tcp_opts(x->p, x->c->exid, &o)) {
		x->ops->release(x->t, f, old);
		return true;
	}
	ap_client_synack(f, x->p, &o, x->c,
			 other.family && !ap_addr_eq(&other, &f->anycast), x->now, &r);
	finish(x, f, old, f->prefix, &r);
	return true;
}

/*
 * The second chance (second.h) of a responder prefix that governs the
 * anycast address @a, port @port: only where this instance has an id and
 * the datapath applies it.
 */
static const struct ap_pconf *sc_prefix(const struct ctx *x, const struct ap_addr *a,
					__be16 port)
{
	const struct ap_pconf *pc;

	if (!x->ops->local)
		return NULL;
	pc = ap_conf_match(x->c, a, ntohs(port), AP_ROLE_RESPONDER);
	return pc && pc->instance ? pc : NULL;
}

/* Applies the decision for an arriving packet: forwarded within the budget. */
static void sc_apply(const struct ctx *x, const struct ap_pconf *pc, enum ap_sc v,
		     const struct ap_sc_to *to)
{
	u8 prefix = pc - x->c->prefixes;

	if (v == AP_SC_TUNNEL) {
		count(x, prefix, AP_STAT_SC_TUNNEL);
	} else if (v != AP_SC_FORWARD) {
		return;
	} else if (x->ops->budget && !x->ops->budget(x->t)) {
		count(x, prefix, AP_STAT_SC_LIMITED);
	} else {
		x->v->forward = true;
		x->v->fwd = *to;
		x->v->fwd_prefix = prefix;
		count(x, prefix, AP_STAT_SC_FORWARDED);
	}
}

/* A segment to A that no flow of ours takes: its connection may be a peer's. */
static void sc_in(const struct ctx *x)
{
	const struct ap_pconf *pc;
	struct ap_sc_to to;
	struct ap_addr dst;
	struct ap_opts o;

	ap_pkt_daddr(x->p, &dst);
	pc = sc_prefix(x, &dst, x->p->dport);
	if (!pc || ap_tcp_opts(x->p, x->c->exid, &o))
		return;
	sc_apply(x, pc, ap_sc_in(pc->instance, &pc->peers, x->p, &o, x->p->tunnel,
				 x->ops->local, x->t, &to), &to);
}

/* An ICMP error about a segment sent from A that no flow of ours takes. */
static void sc_icmp(const struct ctx *x)
{
	const struct ap_pconf *pc;
	struct ap_sc_to to;
	struct ap_addr src;

	ap_pkt_in_saddr(x->p, &src);
	pc = sc_prefix(x, &src, x->p->sport);
	if (pc)
		sc_apply(x, pc, ap_sc_icmp(pc->instance, &pc->peers, x->p, x->p->tunnel, &to),
			 &to);
}

/*
 * A segment this instance sends from A (after our own rewrites): its id
 * stamped, or, a SYN-ACK, its MSS lowered for the encapsulation.
 */
static void sc_post(const struct ctx *x)
{
	const struct ap_pconf *pc;
	struct ap_addr src;
	struct ap_opts o;
	u8 prefix;

	ap_pkt_saddr(x->p, &src);
	pc = sc_prefix(x, &src, x->p->sport);
	if (!pc || ap_tcp_opts(x->p, x->c->exid, &o))
		return;
	prefix = pc - x->c->prefixes;
	if (ap_sc_mss_pkt(x->p, &o, x->mode)) {
		x->v->changed = true;
		count(x, prefix, AP_STAT_SC_MSS);
	}
	if (ap_sc_stamp_pkt(x->p, &o, pc->instance, x->mode)) {
		x->v->changed = true;
		count(x, prefix, AP_STAT_SC_STAMPED);
	}
}

/* Whether a flow of ours takes the segment; it is decided and applied then. */
static bool in_flow(const struct ctx *x)
{
	struct ap_key k;
	struct ap_flow *f;
	struct ap_res r;
	u8 flags = x->p->tcp_flags & (AP_TCP_SYN | AP_TCP_ACK | AP_TCP_RST);
	u8 old;

	if (flags == AP_TCP_SYN && syn(x, AP_ROLE_RESPONDER))
		return true;

	ap_key_of(x->p, AP_ROLE_CLIENT, false, &k);
	if (flags == (AP_TCP_SYN | AP_TCP_ACK)) {
		if (client_synack(x, &k))
			return true;
	} else {
		f = x->ops->find(x->t, &k, x->p, AP_FIND_IN);
		if (f) {
			old = f->state;
			ap_client_in(f, x->p, x->now, &r);
			finish(x, f, old, f->prefix, &r);
			return true;
		}
	}

	/* To U of a connection we answer from U (a retried SYN included). */
	ap_key_of(x->p, AP_ROLE_RESPONDER, false, &k);
	f = x->ops->find(x->t, &k, x->p, AP_FIND_RESP);
	if (!f)
		return false;
	old = f->state;
	ap_resp_in(f, x->p, x->now, &r);
	finish(x, f, old, f->prefix, &r);
	return true;
}

static void in_tcp(const struct ctx *x)
{
	if (!in_flow(x))
		sc_in(x);
}

static void in_icmp(const struct ctx *x)
{
	static const u8 roles[] = { AP_ROLE_CLIENT, AP_ROLE_RESPONDER };
	struct ap_addr dst;
	struct ap_key k;
	struct ap_flow *f;
	struct ap_res r;
	unsigned int i;

	for (i = 0; i < sizeof(roles); i++) {
		ap_key_of_icmp(x->p, roles[i], &k);
		f = x->ops->find(x->t, &k, x->p, AP_FIND_ICMP);
		if (!f)
			continue;
		ap_icmp_in(f, x->p, &r);
		if (r.act == AP_REWRITE_SRC) {
			ap_icmp_set_in_saddr(x->p, &r.to);
			x->v->changed = true;
			/*
			 * An error about A's packet goes to A: conntrack relates
			 * an error only to the end it is addressed to.
			 */
			ap_pkt_daddr(x->p, &dst);
			if (ap_addr_eq(&dst, &f->unicast)) {
				ap_set_daddr(x->p, &r.to, AP_CSUM_FULL);
				x->v->reroute = true;
			}
		} else if (r.act == AP_REWRITE_DST) {
			ap_icmp_set_in_daddr(x->p, &r.to);
			x->v->changed = true;
		}
		count(x, f->prefix, r.stat);
		x->ops->release(x->t, f, f->state);
		return;
	}
	sc_icmp(x);
}

static void out_tcp(const struct ctx *x)
{
	struct ap_key k;
	struct ap_flow *f;
	struct ap_res r;
	u8 old;

	if ((x->p->tcp_flags & (AP_TCP_SYN | AP_TCP_ACK)) == AP_TCP_SYN &&
	    syn(x, AP_ROLE_CLIENT))
		return;
	ap_key_of(x->p, AP_ROLE_CLIENT, true, &k);
	f = x->ops->find(x->t, &k, x->p, AP_FIND_OUT);
	if (!f)
		return;
	old = f->state;
	ap_client_out(f, x->p, x->now, &r);
	finish(x, f, old, f->prefix, &r);
}

static void post_tcp(const struct ctx *x)
{
	struct ap_key k;
	struct ap_flow *f;
	struct ap_res r;
	u8 old;

	ap_key_of(x->p, AP_ROLE_RESPONDER, true, &k);
	f = x->ops->find(x->t, &k, x->p, AP_FIND_RESP);
	if (f) {
		old = f->state;
		ap_resp_out(f, x->p, x->now, &r);
		finish(x, f, old, f->prefix, &r);
	}
	sc_post(x);
}

void ap_process(const struct ap_conf *c, const struct ap_table_ops *ops, void *t,
		struct ap_pkt *p, enum ap_hook hook, enum ap_csum_mode mode, u32 now,
		struct ap_verdict *v)
{
	struct ctx x = { c, ops, t, p, mode, now, v };

	memset(v, 0, sizeof(*v));
	if (ap_pkt_is_icmp(p)) {
		if (hook == AP_HOOK_IN)
			in_icmp(&x);
		return;
	}
	switch (hook) {
	case AP_HOOK_IN:
		in_tcp(&x);
		break;
	case AP_HOOK_OUT:
		out_tcp(&x);
		break;
	case AP_HOOK_POST:
		post_tcp(&x);
		break;
	}
}
