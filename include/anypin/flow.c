// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The per-flow decisions of both roles. Nothing here looks anything up or
 * allocates: the datapath owns the table and the entries.
 */
#include <anypin/blackhole.h>
#include <anypin/flow.h>
#include <anypin/wire.h>

const char *const ap_state_names[AP_STATE_MAX] = {
	[AP_SYN_SENT] = "syn_sent",
	[AP_BOUND] = "bound",
	[AP_RESPONDING] = "responding",
	[AP_CLOSING] = "closing",
	[AP_FALLBACK] = "fallback",
};

const char *const ap_stat_names[AP_STAT_MAX] = {
	[AP_STAT_SYN] = "syn",
	[AP_STAT_OPT_ADDED] = "opt_added",
	[AP_STAT_OPT_NOROOM] = "opt_noroom",
	[AP_STAT_AUTH_SKIPPED] = "auth_skipped",
	[AP_STAT_BOUND] = "bound",
	[AP_STAT_PLAIN] = "plain",
	[AP_STAT_REJ_ACK] = "rej_ack",
	[AP_STAT_REJ_PORTS] = "rej_ports",
	[AP_STAT_REJ_ANYCAST] = "rej_anycast",
	[AP_STAT_REJ_NOT_UNICAST] = "rej_not_unicast",
	[AP_STAT_REJ_RESPONDERS] = "rej_responders",
	[AP_STAT_REJ_AUTH] = "rej_auth",
	[AP_STAT_DUP_RESET] = "dup_reset",
	[AP_STAT_RESP_SYN] = "resp_syn",
	[AP_STAT_RESP_LEGACY] = "resp_legacy",
	[AP_STAT_RESP_NO_UNICAST] = "resp_no_unicast",
	[AP_STAT_REWRITTEN] = "rewritten",
	[AP_STAT_ICMP] = "icmp",
	[AP_STAT_EVICTED] = "evicted",
	[AP_STAT_EXPIRED] = "expired",
	[AP_STAT_FALLBACK] = "fallback",
	[AP_STAT_BLACKHOLED] = "blackholed",
	[AP_STAT_BH_PLAIN] = "bh_plain",
	[AP_STAT_COLLISION] = "collision",
	[AP_STAT_FLOWS] = "flows",
	[AP_STAT_SC_STAMPED] = "sc_stamped",
	[AP_STAT_SC_MSS] = "sc_mss",
	[AP_STAT_SC_FORWARDED] = "sc_forwarded",
	[AP_STAT_SC_LIMITED] = "sc_limited",
	[AP_STAT_SC_TUNNEL] = "sc_tunnel",
	[AP_STAT_SC_UNSENT] = "sc_unsent",
};

static void res_init(struct ap_res *r)
{
	memset(r, 0, sizeof(*r));
	r->act = AP_PASS;
	r->stat = AP_STAT_MAX;
}

static void res_rewrite(struct ap_res *r, u8 act, const struct ap_addr *to)
{
	r->act = act;
	r->to = *to;
	r->stat = AP_STAT_REWRITTEN;
}

static bool fin_or_rst(const struct ap_pkt *p)
{
	return p->tcp_flags & (AP_TCP_FIN | AP_TCP_RST);
}

void ap_flow_end_seen(struct ap_flow *f, u32 now)
{
	WRITE_ONCE(f->last, now);
	f->state = AP_CLOSING;
}

/* Any packet of an established flow: note it, and start closing on FIN/RST. */
static void touch(struct ap_flow *f, const struct ap_pkt *p, u32 now)
{
	if (fin_or_rst(p))
		ap_flow_end_seen(f, now);
	else
		WRITE_ONCE(f->last, now);
}

bool ap_flow_pinned(const struct ap_flow *f)
{
	return f->state == AP_BOUND || f->state == AP_CLOSING;
}

static void tuple(struct ap_tuple *t, const struct ap_addr *sa, __be16 sp,
		  const struct ap_addr *da, __be16 dp)
{
	t->saddr = *sa;
	t->sport = sp;
	t->daddr = *da;
	t->dport = dp;
}

bool ap_flow_pin(const struct ap_flow *f, struct ap_pin *pin)
{
	const struct ap_key *k = &f->key;

	memset(pin, 0, sizeof(*pin));
	if (!f->unicast.family || !f->anycast.family)
		return false;
	pin->role = k->role;
	if (k->role == AP_ROLE_CLIENT) {
		if (!ap_flow_pinned(f))
			return false;
		/* Ours to U, and U's to us shown as from A. */
		tuple(&pin->out, &k->addr, k->port, &f->anycast, k->svc_port);
		pin->out_to = f->unicast;
		tuple(&pin->in, &f->unicast, k->svc_port, &k->addr, k->port);
		pin->in_to = f->anycast;
		return true;
	}
	if (f->state != AP_RESPONDING && f->state != AP_CLOSING)
		return false;
	/* The client's to U, as to A; ours from A, as from U. */
	tuple(&pin->in, &k->addr, k->port, &f->unicast, k->svc_port);
	pin->in_to = f->anycast;
	tuple(&pin->out, &f->anycast, k->svc_port, &k->addr, k->port);
	pin->out_to = f->unicast;
	return true;
}

bool ap_flow_opening(const struct ap_flow *f)
{
	return f->state == AP_SYN_SENT || f->state == AP_FALLBACK;
}

bool ap_flow_from_pin(const struct ap_flow *f, const struct ap_pkt *p)
{
	struct ap_addr src;

	ap_pkt_saddr(p, &src);
	return ap_flow_pinned(f) && ap_addr_eq(&src, &f->unicast);
}

bool ap_flow_from_opening(const struct ap_flow *f, const struct ap_pkt *p)
{
	struct ap_addr src;

	ap_pkt_saddr(p, &src);
	return ap_flow_opening(f) && ap_addr_eq(&src, &f->anycast);
}

bool ap_flow_icmp_about(const struct ap_flow *f, const struct ap_pkt *p)
{
	struct ap_addr a;

	if (f->key.role == AP_ROLE_CLIENT) {
		/* We sent it to U. */
		ap_pkt_in_daddr(p, &a);
		return ap_flow_pinned(f) && ap_addr_eq(&a, &f->unicast);
	}
	/* We sent it from U. */
	ap_pkt_in_saddr(p, &a);
	return ap_addr_eq(&a, &f->unicast);
}

static void fill_key(struct ap_key *k, u8 role, u8 family, const u8 *addr,
		     __be16 port, __be16 svc_port)
{
	memset(k, 0, sizeof(*k));
	k->addr.family = family;
	memcpy(k->addr.b, addr, ap_addr_len(family));
	k->port = port;
	k->svc_port = svc_port;
	k->role = role;
}

void ap_key_of(const struct ap_pkt *p, enum ap_role role, bool out, struct ap_key *k)
{
	/* Client keys on its own end, responder on the client's end. */
	bool src_side = (role == AP_ROLE_CLIENT) == out;

	if (src_side)
		fill_key(k, role, p->family, p->data + p->saddr_off, p->sport, p->dport);
	else
		fill_key(k, role, p->family, p->data + p->daddr_off, p->dport, p->sport);
}

void ap_key_of_icmp(const struct ap_pkt *p, enum ap_role role, struct ap_key *k)
{
	/* The embedded packet is one we sent. */
	if (role == AP_ROLE_CLIENT)
		fill_key(k, role, p->family, p->data + p->in_saddr_off, p->sport, p->dport);
	else
		fill_key(k, role, p->family, p->data + p->in_daddr_off, p->dport, p->sport);
}

/* Whether the SYN leaves capable: it has the option or room for it. */
static bool syn_capable(const struct ap_pkt *p, const struct ap_opts *o)
{
	return o->cap || p->tcp_hlen + AP_OPT_LEN <= AP_TCP_HLEN_MAX;
}

/* The stack retransmits the SYN of the attempt @f is opening. */
static void client_syn_again(struct ap_flow *f, const struct ap_pkt *p,
			     const struct ap_opts *o, const struct ap_conf *c,
			     struct ap_res *r)
{
	if (f->state == AP_FALLBACK)
		return;
	if (c->fallback_retries && f->tries >= c->fallback_retries) {
		/* Its capable SYNs went unanswered: try as plain anycast. */
		f->state = AP_FALLBACK;
		r->stat = AP_STAT_FALLBACK;
		return;
	}
	r->flags = o->cap ? 0 : AP_F_ADD_OPT;
	r->stat = AP_STAT_SYN;
	if (syn_capable(p, o) && f->tries < 0xff)
		f->tries++;
}

void ap_client_syn(struct ap_flow *f, bool fresh, const struct ap_pkt *p,
		   const struct ap_opts *o, const struct ap_conf *c, bool blackholed,
		   u8 prefix, u32 now, struct ap_res *r)
{
	res_init(r);
	if (o->auth) {
		/* The MAC covers the addresses: never ours to move. */
		r->flags = f ? AP_F_FREE : 0;
		r->stat = AP_STAT_AUTH_SKIPPED;
		return;
	}
	if (f && !fresh && p->seq == f->isn && f->state != AP_CLOSING) {
		WRITE_ONCE(f->last, now);
		if (f->state == AP_BOUND) {
			/* Answered already: send it where we are pinned. */
			res_rewrite(r, AP_REWRITE_DST, &f->unicast);
			r->flags = o->cap ? 0 : AP_F_ADD_OPT;
			r->stat = AP_STAT_SYN;
		} else {
			client_syn_again(f, p, o, c, r);
		}
		return;
	}
	if (blackholed) {
		/* A new connection on a path known to drop ours: plain at once. */
		r->flags = f ? AP_F_FREE : 0;
		r->stat = AP_STAT_BH_PLAIN;
		return;
	}
	if (!f) {
		r->flags = AP_F_CREATE;
		return;
	}
	r->flags = o->cap ? 0 : AP_F_ADD_OPT;
	r->stat = AP_STAT_SYN;

	/* A new connection on this key. */
	ap_pkt_daddr(p, &f->anycast);
	memset(&f->unicast, 0, sizeof(f->unicast));
	f->isn = p->seq;
	f->syn_data = p->tcp_paylen;
	WRITE_ONCE(f->last, now);
	f->state = AP_SYN_SENT;
	f->prefix = prefix;
	f->tries = syn_capable(p, o);
	f->flags = 0;
}

bool ap_flow_acks_syn(const struct ap_flow *f, const struct ap_pkt *p)
{
	/* ISN+1, or up to ISN+1+data when the server took TCP Fast Open data. */
	return p->ack - (f->isn + 1) <= f->syn_data;
}

static u8 synack_check(const struct ap_flow *f, const struct ap_pkt *p,
		       const struct ap_opts *o, const struct ap_conf *c,
		       const struct ap_addr *src)
{
	const struct ap_pconf *pc;

	if (p->dport != f->key.port || p->sport != f->key.svc_port)
		return AP_STAT_REJ_PORTS;
	if (o->auth)
		return AP_STAT_REJ_AUTH;
	if (!ap_addr_is_unicast(src))
		return AP_STAT_REJ_NOT_UNICAST;
	if (ap_conf_in_anycast(c, src))
		return AP_STAT_REJ_ANYCAST;

	/* Judge by today's configuration, not the one the SYN saw. */
	pc = ap_conf_match(c, &f->anycast, ntohs(f->key.svc_port), AP_ROLE_CLIENT);
	if (pc && pc->nresponders &&
	    ap_prefix_lpm(pc->responders, pc->nresponders,
			  sizeof(pc->responders[0]), src) < 0)
		return AP_STAT_REJ_RESPONDERS;
	return AP_STAT_MAX;
}

void ap_client_synack(struct ap_flow *f, const struct ap_pkt *p, const struct ap_opts *o,
		      const struct ap_conf *c, bool collide, u32 now, struct ap_res *r)
{
	struct ap_addr src;
	u8 why;

	res_init(r);
	ap_pkt_saddr(p, &src);

	if (ap_flow_pinned(f)) {
		if (ap_flow_from_pin(f, p)) {
			/* Our ACK was lost and the pinned instance repeats. */
			touch(f, p, now);
			res_rewrite(r, AP_REWRITE_SRC, &f->anycast);
			return;
		}
		/* Another instance answered too: first responder wins. */
		if (!ap_flow_acks_syn(f, p)) {
			r->stat = AP_STAT_REJ_ACK;
			return;
		}
		r->act = AP_DROP;
		r->flags = AP_F_SEND_RST;
		r->stat = AP_STAT_DUP_RESET;
		return;
	}
	if (!ap_flow_opening(f))
		return;

	if (!ap_flow_acks_syn(f, p)) {
		r->stat = AP_STAT_REJ_ACK;
		return;
	}
	if (ap_addr_eq(&src, &f->anycast)) {
		r->flags = AP_F_FREE;
		r->stat = AP_STAT_PLAIN;
		if (f->state == AP_FALLBACK && !(f->flags & AP_FLOW_ANSWERED)) {
			/* Only the plain retry got through: the path drops ours. */
			r->flags |= AP_F_BLACKHOLE;
			r->stat = AP_STAT_BLACKHOLED;
		}
		return;
	}
	why = synack_check(f, p, o, c, &src);
	if (why != AP_STAT_MAX) {
		r->stat = why;
		return;
	}
	if (f->state == AP_FALLBACK || collide) {
		/*
		 * A late answer to a capable SYN after the plain retry left (its
		 * responder may have ended its entry already), or one that would
		 * reuse a pinned flow's 4-tuple: the attempt stays plain.
		 */
		f->flags |= AP_FLOW_ANSWERED;
		r->act = AP_DROP;
		if (collide && f->state != AP_FALLBACK) {
			f->state = AP_FALLBACK;
			r->stat = AP_STAT_COLLISION;
		}
		return;
	}
	f->unicast = src;
	f->state = AP_BOUND;
	WRITE_ONCE(f->last, now);
	res_rewrite(r, AP_REWRITE_SRC, &f->anycast);
	r->flags = AP_F_BH_CLEAR;
	r->stat = AP_STAT_BOUND;
}

void ap_client_out(struct ap_flow *f, const struct ap_pkt *p, u32 now, struct ap_res *r)
{
	res_init(r);
	if (ap_flow_pinned(f)) {
		touch(f, p, now);
		res_rewrite(r, AP_REWRITE_DST, &f->unicast);
		return;
	}
	/* Not answered yet: an abort ends the attempt. */
	if (ap_flow_opening(f) && (p->tcp_flags & AP_TCP_RST))
		r->flags = AP_F_FREE;
}

void ap_client_in(struct ap_flow *f, const struct ap_pkt *p, u32 now, struct ap_res *r)
{
	res_init(r);
	if (ap_flow_from_pin(f, p)) {
		touch(f, p, now);
		res_rewrite(r, AP_REWRITE_SRC, &f->anycast);
		return;
	}
	/* A refused the connection: an ordinary reset, forget the attempt. */
	if (ap_flow_from_opening(f, p) && (p->tcp_flags & AP_TCP_RST))
		r->flags = AP_F_FREE;
}

static const struct ap_addr *pconf_unicast(const struct ap_pconf *pc, u8 family)
{
	const struct ap_addr *u = family == AP_AF_INET ? &pc->unicast4 : &pc->unicast6;

	return u->family ? u : NULL;
}

void ap_resp_syn(struct ap_flow *f, bool fresh, const struct ap_pkt *p,
		 const struct ap_opts *o, const struct ap_pconf *pc, u8 prefix,
		 u32 now, struct ap_res *r)
{
	const struct ap_addr *u = pconf_unicast(pc, p->family);

	res_init(r);
	if (!o->cap || o->auth || !u) {
		/* A legacy client: answer from A, as without anypin. */
		r->stat = o->cap && !o->auth ? AP_STAT_RESP_NO_UNICAST : AP_STAT_RESP_LEGACY;
		if (!f)
			return;
		r->flags = AP_F_FREE;
		/*
		 * Its retry of a capable SYN (closing if a middlebox reset our
		 * SYN-ACK): our SYN-ACKs never reached it.
		 */
		if (!o->cap && !o->auth && p->seq == f->isn)
			r->stat = AP_STAT_FALLBACK;
		return;
	}
	if (!f) {
		r->flags = AP_F_CREATE;
		return;
	}
	if (fresh || p->seq != f->isn || f->state == AP_CLOSING) {
		ap_pkt_daddr(p, &f->anycast);
		f->isn = p->seq;
		f->syn_data = 0;
		f->state = AP_RESPONDING;
		f->prefix = prefix;
		r->stat = AP_STAT_RESP_SYN;
	}
	f->unicast = *u;
	WRITE_ONCE(f->last, now);
}

void ap_resp_out(struct ap_flow *f, const struct ap_pkt *p, u32 now, struct ap_res *r)
{
	struct ap_addr src;

	res_init(r);
	ap_pkt_saddr(p, &src);
	if (!ap_addr_eq(&src, &f->anycast))
		return;
	touch(f, p, now);
	res_rewrite(r, AP_REWRITE_SRC, &f->unicast);
	if ((p->tcp_flags & (AP_TCP_SYN | AP_TCP_ACK)) == (AP_TCP_SYN | AP_TCP_ACK))
		r->flags = AP_F_ADD_OPT;
}

void ap_resp_in(struct ap_flow *f, const struct ap_pkt *p, u32 now, struct ap_res *r)
{
	struct ap_addr dst;

	res_init(r);
	ap_pkt_daddr(p, &dst);
	if (!ap_addr_eq(&dst, &f->unicast))
		return;
	touch(f, p, now);
	res_rewrite(r, AP_REWRITE_DST, &f->anycast);
}

void ap_icmp_in(const struct ap_flow *f, const struct ap_pkt *p, struct ap_res *r)
{
	res_init(r);
	if (!ap_flow_icmp_about(f, p))
		return;
	/* The socket knows A: as the destination (client) or source (responder). */
	res_rewrite(r, f->key.role == AP_ROLE_CLIENT ? AP_REWRITE_DST : AP_REWRITE_SRC,
		    &f->anycast);
	r->stat = AP_STAT_ICMP;
}

static u32 state_timeout(const struct ap_flow *f, const struct ap_conf *c)
{
	switch (f->state) {
	case AP_SYN_SENT:
	case AP_FALLBACK:
		return c->syn_timeout;
	case AP_CLOSING:
		return c->fin_timeout;
	default:
		return c->idle_timeout;
	}
}

/*
 * Seconds since @f's last packet. A datapath reads its clock before it
 * finds the entry, so another CPU may have touched it since: a @now before
 * the last packet is no idle time at all, not four billion seconds.
 */
static u32 idle_time(const struct ap_flow *f, u32 now)
{
	s32 d = (s32)(now - f->last);

	return d > 0 ? (u32)d : 0;
}

bool ap_flow_expired(const struct ap_flow *f, const struct ap_conf *c, u32 now)
{
	return idle_time(f, now) > state_timeout(f, c);
}

int ap_flow_evict_rank(const struct ap_flow *f)
{
	switch (f->state) {
	case AP_SYN_SENT:
	case AP_FALLBACK:
		return 0;
	case AP_CLOSING:
		return 1;
	case AP_RESPONDING:
		return 2;
	default:
		return 3;
	}
}

/*
 * The tables' text forms (flows, counters, blackholes), which the proc
 * files and anypind's control socket give alike.
 */

/* Appends @s to @buf of @size at *@pos, always NUL-terminated. */
static void put(char *buf, u32 size, u32 *pos, const char *s)
{
	while (*s && *pos + 1 < size)
		buf[(*pos)++] = *s++;
	buf[*pos] = 0;
}

/* Decimal without 64-bit division, which 32-bit kernels lack. */
static void put_u64(char *buf, u32 size, u32 *pos, u64 v)
{
	char t[21];
	u64 p = 10000000000000000000ULL;
	int i = 0;
	char d;

	while (p > 1 && p > v)
		p /= 10;
	for (; p; p = p == 1 ? 0 : p / 10) {
		for (d = '0'; v >= p; v -= p)
			d++;
		t[i++] = d;
	}
	t[i] = 0;
	put(buf, size, pos, t);
}

static void put_u32(char *buf, u32 size, u32 *pos, u32 v)
{
	put_u64(buf, size, pos, v);
}

static void put_addr(char *buf, u32 size, u32 *pos, const struct ap_addr *a)
{
	char t[AP_ADDR_STRLEN];

	if (!a->family) {
		put(buf, size, pos, "-");
		return;
	}
	ap_addr_format(a, t, sizeof(t));
	put(buf, size, pos, t);
}

u32 ap_flow_format(const struct ap_flow *f, const struct ap_conf *c, u32 now,
		   char *buf, u32 size)
{
	u32 pos = 0;
	int i;

	if (!size)
		return 0;
	buf[0] = 0;
	put(buf, size, &pos, f->key.role == AP_ROLE_CLIENT ? "client " : "responder ");
	i = ap_prefix_lpm(&c->prefixes[0].prefix, c->nprefixes, sizeof(c->prefixes[0]),
			  &f->anycast);
	put(buf, size, &pos, i >= 0 ? c->prefixes[i].name : "-");
	put(buf, size, &pos, " ");
	put(buf, size, &pos, f->state < AP_STATE_MAX ? ap_state_names[f->state] : "?");
	put(buf, size, &pos, " ");
	put_addr(buf, size, &pos, &f->key.addr);
	put(buf, size, &pos, " ");
	put_u32(buf, size, &pos, ntohs(f->key.port));
	put(buf, size, &pos, " ");
	put_addr(buf, size, &pos, &f->anycast);
	put(buf, size, &pos, " ");
	put_u32(buf, size, &pos, ntohs(f->key.svc_port));
	put(buf, size, &pos, " ");
	put_addr(buf, size, &pos, &f->unicast);
	put(buf, size, &pos, " ");
	put_u32(buf, size, &pos, idle_time(f, now));
	put(buf, size, &pos, "\n");
	return pos;
}

u32 ap_stats_header(char *buf, u32 size)
{
	u32 pos = 0;
	int i;

	if (!size)
		return 0;
	buf[0] = 0;
	put(buf, size, &pos, "prefix");
	for (i = 0; i < AP_STAT_MAX; i++) {
		put(buf, size, &pos, " ");
		put(buf, size, &pos, ap_stat_names[i]);
	}
	put(buf, size, &pos, "\n");
	return pos;
}

u32 ap_stats_row(const char *name, const u64 *v, char *buf, u32 size)
{
	u32 pos = 0;
	int i;

	if (!size)
		return 0;
	buf[0] = 0;
	put(buf, size, &pos, name);
	for (i = 0; i < AP_STAT_MAX; i++) {
		put(buf, size, &pos, " ");
		put_u64(buf, size, &pos, v[i]);
	}
	put(buf, size, &pos, "\n");
	return pos;
}

u32 ap_bh_format(const struct ap_bh *b, u32 now, char *buf, u32 size)
{
	u32 pos = 0;

	if (!size)
		return 0;
	buf[0] = 0;
	put_addr(buf, size, &pos, &b->addr);
	put(buf, size, &pos, " ");
	put_u32(buf, size, &pos, (s32)(b->until - now) > 0 ? b->until - now : 0);
	put(buf, size, &pos, " ");
	put_u32(buf, size, &pos, (s32)(b->forget - now) > 0 ? b->forget - now : 0);
	put(buf, size, &pos, " ");
	put_u32(buf, size, &pos, b->forget - b->until);
	put(buf, size, &pos, " ");
	put_u32(buf, size, &pos, b->detections);
	put(buf, size, &pos, "\n");
	return pos;
}
