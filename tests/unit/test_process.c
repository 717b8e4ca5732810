// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Whole connections through ap_process(): a client host and two instance
 * hosts, each with its own configuration and flow table, exchanging real
 * packets built by pktgen. Every packet that leaves a hook is checked by
 * full checksum recomputation.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include <anypin/process.h>
#include "pktgen.h"

#define SLOTS 8

/* A small table: linear search, like the datapaths' contract says. */
struct table {
	bool used[SLOTS];
	struct ap_flow f[SLOTS];
	unsigned int locked;
	unsigned int stats[AP_MAX_PREFIXES][AP_STAT_MAX];
	bool full;
	bool bh_locked;
	struct ap_bh_table bh;
	bool local;		/* what local() answers */
	unsigned int local_calls;
	unsigned int budget;	/* forwards budget() still allows */
};

static struct table *tab(void *t)
{
	return t;
}

static struct ap_flow *t_find(void *t, const struct ap_key *k, const struct ap_pkt *p,
			      enum ap_find how)
{
	struct ap_flow *best = NULL;
	int i, m, bm = 0;

	for (i = 0; i < SLOTS; i++) {
		if (!tab(t)->used[i] || memcmp(&tab(t)->f[i].key, k, sizeof(*k)))
			continue;
		m = ap_flow_match(&tab(t)->f[i], p, how);
		if (m > bm) {
			bm = m;
			best = &tab(t)->f[i];
		}
	}
	if (best)
		tab(t)->locked++;
	return best;
}

static struct ap_flow *t_create(void *t, const struct ap_key *k)
{
	int i;

	if (tab(t)->full)
		return NULL;
	for (i = 0; i < SLOTS; i++) {
		if (tab(t)->used[i])
			continue;
		tab(t)->used[i] = true;
		memset(&tab(t)->f[i], 0, sizeof(tab(t)->f[i]));
		tab(t)->f[i].key = *k;
		tab(t)->locked++;
		return &tab(t)->f[i];
	}
	return NULL;
}

static void t_release(void *t, struct ap_flow *f, u8 old)
{
	(void)f;
	(void)old;
	assert_true(tab(t)->locked > 0);
	tab(t)->locked--;
}

static void t_remove(void *t, struct ap_flow *f)
{
	tab(t)->used[f - tab(t)->f] = false;
	t_release(t, f, 0);
}

static void t_count(void *t, u8 prefix, u8 stat)
{
	assert_true(prefix < AP_MAX_PREFIXES);
	assert_true(stat < AP_STAT_MAX);
	tab(t)->stats[prefix][stat]++;
}

static struct ap_bh_table *t_bh_lock(void *t)
{
	assert_false(tab(t)->bh_locked);
	tab(t)->bh_locked = true;
	return &tab(t)->bh;
}

static void t_bh_unlock(void *t)
{
	assert_true(tab(t)->bh_locked);
	tab(t)->bh_locked = false;
}

static bool t_local(void *t, const struct ap_pkt *p)
{
	assert_false(ap_pkt_is_icmp(p));
	tab(t)->local_calls++;
	return tab(t)->local;
}

static bool t_budget(void *t)
{
	if (!tab(t)->budget)
		return false;
	tab(t)->budget--;
	return true;
}

static const struct ap_table_ops ops = {
	.find = t_find,
	.create = t_create,
	.release = t_release,
	.remove = t_remove,
	.count = t_count,
	.bh_lock = t_bh_lock,
	.bh_unlock = t_bh_unlock,
};

/* A datapath that applies the second chance. */
static const struct ap_table_ops sc_ops = {
	.find = t_find,
	.create = t_create,
	.release = t_release,
	.remove = t_remove,
	.count = t_count,
	.bh_lock = t_bh_lock,
	.bh_unlock = t_bh_unlock,
	.local = t_local,
	.budget = t_budget,
};

struct host {
	struct ap_conf c;
	struct table t;
	bool sc;		/* its datapath applies the second chance: sc_ops */
};

static struct host client, inst1, inst2, legacy;
/* Packets the kernel model of hook() rewrote by a pin. */
static unsigned int kernel_rewrites;

/* Per family: the lab's addresses. */
struct net {
	const char *c, *a, *u1, *u2, *router;
};

static const struct net net4 = {
	"203.0.113.10", "192.0.2.1", "198.51.100.11", "198.51.100.27", "203.0.113.1"
};

static const struct net net6 = {
	"2001:db8:c::10", "2001:db8:a::1", "2001:db8:1::11", "2001:db8:2::27", "2001:db8:c::1"
};

static void set(struct ap_conf *c, const char *key, const char *val)
{
	const char *why = NULL;

	if (ap_conf_set(c, key, strlen(key), val, strlen(val), &why))
		fail_msg("%s = %s: %s", key, val, why);
}

static int setup(void **state)
{
	(void)state;
	memset(&client, 0, sizeof(client));
	memset(&inst1, 0, sizeof(inst1));
	memset(&inst2, 0, sizeof(inst2));
	memset(&legacy, 0, sizeof(legacy));
	kernel_rewrites = 0;
	ap_conf_init(&client.c);
	ap_conf_init(&inst1.c);
	ap_conf_init(&inst2.c);
	ap_conf_init(&legacy.c);
	set(&client.c, "net.anypin.prefixes", "svc=192.0.2.0/24 svc6=2001:db8:a::/48");
	set(&client.c, "net.anypin.prefix.svc.responders", "198.51.100.0/24");
	set(&inst1.c, "net.anypin.prefixes", "svc=192.0.2.0/24 svc6=2001:db8:a::/48");
	set(&inst1.c, "net.anypin.prefix.svc.role", "responder");
	set(&inst1.c, "net.anypin.prefix.svc.unicast", "198.51.100.11");
	set(&inst1.c, "net.anypin.prefix.svc6.role", "responder");
	set(&inst1.c, "net.anypin.prefix.svc6.unicast", "2001:db8:1::11");
	inst1.c.sc_supported = true;
	inst1.t.budget = 1000;
	inst2.c = inst1.c;
	inst2.t.budget = 1000;
	set(&inst2.c, "net.anypin.prefix.svc.unicast", "198.51.100.27");
	set(&inst2.c, "net.anypin.prefix.svc6.unicast", "2001:db8:2::27");
	return 0;
}

struct pkt {
	u8 buf[2048];
	struct ap_pkt p;
	struct ap_verdict v;
};

static void build(struct pkt *k, const char *src, const char *dst, u16 sport, u16 dport,
		  u8 flags, u32 seq, u32 ack, u32 paylen)
{
	struct pg_tcp t;
	u32 len;

	pg_tcp_init(&t, src, dst, sport, dport, flags);
	t.seq = seq;
	t.ack = ack;
	t.paylen = paylen;
	if (flags & AP_TCP_SYN) {
		static const u8 mss[] = { 2, 4, 0x05, 0xb4 };

		pg_tcp_add_opt(&t, mss, sizeof(mss));
	}
	len = pg_build_tcp(k->buf, &t, NULL);
	assert_int_equal(ap_parse(&k->p, k->buf, len, len), AP_OK);
}

/*
 * anypind's kernel half (userspace/nft.c): the packets that decide
 * something (SYN, FIN, RST, ICMP errors) are queued to the core; the
 * others are rewritten by the kernel from nftables maps that hold each
 * flow's ap_flow_pin(). Every packet a test sends through hook() is also
 * given to this model: for one that is not queued, the maps must do what
 * the core does; after one that is, the maps must not rewrite it again.
 */

static void tuple_of(const struct ap_pkt *p, struct ap_tuple *t)
{
	ap_pkt_saddr(p, &t->saddr);
	ap_pkt_daddr(p, &t->daddr);
	t->sport = p->sport;
	t->dport = p->dport;
}

static bool same_tuple(const struct ap_tuple *a, const struct ap_tuple *b)
{
	return ap_addr_eq(&a->saddr, &b->saddr) && ap_addr_eq(&a->daddr, &b->daddr) &&
	       a->sport == b->sport && a->dport == b->dport;
}

/*
 * The maps of @h's pinned flows at hook @hk: the client's rewrite the
 * destination leaving (output) and the source arriving (prerouting), the
 * responder's the source leaving (postrouting) and the destination arriving.
 */
static bool kernel_maps(const struct host *h, enum ap_hook hk, struct ap_tuple *t)
{
	struct ap_pin pin;
	bool client;
	int i;

	for (i = 0; i < SLOTS; i++) {
		if (!h->t.used[i] || !ap_flow_pin(&h->t.f[i], &pin))
			continue;
		client = pin.role == AP_ROLE_CLIENT;
		if (hk == AP_HOOK_IN && same_tuple(t, &pin.in)) {
			*(client ? &t->saddr : &t->daddr) = pin.in_to;
			return true;
		}
		if (hk == (client ? AP_HOOK_OUT : AP_HOOK_POST) && same_tuple(t, &pin.out)) {
			*(client ? &t->daddr : &t->saddr) = pin.out_to;
			return true;
		}
	}
	return false;
}

static bool queued(const struct ap_pkt *p)
{
	return ap_pkt_is_icmp(p) || (p->tcp_flags & (AP_TCP_SYN | AP_TCP_FIN | AP_TCP_RST));
}

/*
 * Runs one hook of @h and checks that what leaves it is a sound packet,
 * its TCP checksum kept as @mode says.
 */
static void hook_mode(struct host *h, struct pkt *k, enum ap_hook hk, enum ap_csum_mode mode)
{
	u32 before = k->p.len;
	u8 old[sizeof(k->buf)];
	struct ap_tuple kernel, now;
	bool by_kernel = false, again;

	memcpy(old, k->buf, sizeof(old));
	if (!queued(&k->p)) {
		tuple_of(&k->p, &kernel);
		by_kernel = kernel_maps(h, hk, &kernel);
	}
	ap_process(&h->c, h->sc ? &sc_ops : &ops, &h->t, &k->p, hk, mode, 100, &k->v);
	if (ap_pkt_is_icmp(&k->p)) {
		/* Queued; the maps key on TCP ports. */
	} else if (!queued(&k->p)) {
		tuple_of(&k->p, &now);
		assert_true(same_tuple(&now, &kernel));
		kernel_rewrites += by_kernel;
	} else if (!k->v.drop) {
		tuple_of(&k->p, &now);
		again = kernel_maps(h, hk, &now);
		assert_false(again);
	}
	assert_int_equal(h->t.locked, 0);
	/* The datapaths hand the bytes back when, and only when, it says so. */
	assert_int_equal(k->v.changed, memcmp(old, k->buf, sizeof(old)) != 0);
	if (mode == AP_CSUM_FULL) {
		assert_int_equal(pg_verify(k->buf, k->p.len), 0);
	} else {
		assert_int_equal(pg_verify(k->buf, k->p.len) & ~PG_BAD_TCPCSUM, 0);
		assert_int_equal(ap_get16(k->buf + k->p.tcp_off + 16),
				 pg_tcp_pseudo(k->buf, k->p.len));
	}
	assert_int_equal(k->p.len, before + (k->v.grew ? AP_OPT_LEN : 0));
	/* What we changed must still parse the same way. */
	assert_int_equal(ap_parse(&k->p, k->buf, k->p.len, k->p.len), AP_OK);
	/* Only the second chance forwards, never what it changed. */
	if (k->v.forward) {
		const struct ap_pconf *pc;

		assert_true(h->sc && hk == AP_HOOK_IN && !k->v.changed && !k->v.drop);
		assert_int_equal(k->v.fwd.addr.family, k->p.family);
		/* Its prefix: a responder with an id, whose peer it goes to. */
		assert_true(k->v.fwd_prefix < h->c.nprefixes);
		pc = &h->c.prefixes[k->v.fwd_prefix];
		assert_int_equal(pc->role, AP_ROLE_RESPONDER);
		assert_int_not_equal(pc->instance, 0);
		assert_true(pc->peers.ids & (u64)1 << k->v.fwd.id);
	}
}

static void hook(struct host *h, struct pkt *k, enum ap_hook hk)
{
	hook_mode(h, k, hk, AP_CSUM_FULL);
}

static void expect_addrs(const struct pkt *k, const char *src, const char *dst)
{
	struct ap_addr s, d, ws, wd;

	pg_addr(&ws, src);
	pg_addr(&wd, dst);
	ap_pkt_saddr(&k->p, &s);
	ap_pkt_daddr(&k->p, &d);
	assert_true(ap_addr_eq(&s, &ws));
	assert_true(ap_addr_eq(&d, &wd));
}

static bool has_cap(const struct pkt *k, u16 exid)
{
	struct ap_opts o;

	assert_int_equal(ap_tcp_opts(&k->p, exid, &o), AP_OK);
	return o.cap;
}

static u8 prefix_of(const struct net *n)
{
	return n == &net4 ? 0 : 1;
}

/* Client SYN -> inst1 -> SYN-ACK from U1 -> client bound; returns nothing. */
static void handshake(const struct net *n)
{
	struct pkt k;

	build(&k, n->c, n->a, 40000, 80, AP_TCP_SYN, 1000, 0, 0);
	hook(&client, &k, AP_HOOK_OUT);
	assert_true(k.v.grew);
	assert_false(k.v.reroute);
	assert_true(has_cap(&k, AP_EXID_DEFAULT));
	expect_addrs(&k, n->c, n->a);

	hook(&inst1, &k, AP_HOOK_IN);
	assert_false(k.v.drop);
	expect_addrs(&k, n->c, n->a);

	/* inst1's stack answers from A; it leaves from U1, option echoed. */
	build(&k, n->a, n->c, 80, 40000, AP_TCP_SYN | AP_TCP_ACK, 5000, 1001, 0);
	hook(&inst1, &k, AP_HOOK_POST);
	expect_addrs(&k, n->u1, n->c);
	assert_true(has_cap(&k, AP_EXID_DEFAULT));

	hook(&client, &k, AP_HOOK_IN);
	expect_addrs(&k, n->a, n->c);
	assert_false(k.v.drop);
	assert_int_equal(client.t.stats[prefix_of(n)][AP_STAT_BOUND], 1);
}

static void connection(const struct net *n)
{
	struct pkt k;
	u8 pi = prefix_of(n);

	handshake(n);

	/* Data to A goes to U1 and arrives at inst1's socket on A. */
	build(&k, n->c, n->a, 40000, 80, AP_TCP_ACK | AP_TCP_PSH, 1001, 5001, 333);
	hook(&client, &k, AP_HOOK_OUT);
	assert_true(k.v.reroute);
	expect_addrs(&k, n->c, n->u1);
	hook(&inst1, &k, AP_HOOK_IN);
	expect_addrs(&k, n->c, n->a);

	build(&k, n->a, n->c, 80, 40000, AP_TCP_ACK, 5001, 1334, 1201);
	hook(&inst1, &k, AP_HOOK_POST);
	expect_addrs(&k, n->u1, n->c);
	hook(&client, &k, AP_HOOK_IN);
	expect_addrs(&k, n->a, n->c);
	/* Each of those four the kernel would have rewritten alike, by a pin. */
	assert_int_equal(kernel_rewrites, 4);

	/* A router on the way to U1 has a smaller MTU. */
	{
		struct pkt big, e;
		struct pg_icmp ic;
		u32 len;

		build(&big, n->c, n->a, 40000, 80, AP_TCP_ACK, 1334, 6202, 1400);
		hook(&client, &big, AP_HOOK_OUT);
		pg_icmp_init(&ic, n->router, n->c, n == &net4 ? 3 : 2, n == &net4 ? 4 : 0);
		ic.rest = 1280;
		len = pg_build_icmp(e.buf, &ic, big.buf, n == &net4 ? 28 + 20 : 1232, NULL);
		assert_int_equal(ap_parse(&e.p, e.buf, len, len), AP_OK);
		hook(&client, &e, AP_HOOK_IN);
		assert_int_equal(client.t.stats[pi][AP_STAT_ICMP], 1);
		{
			struct ap_addr in, wa;

			ap_pkt_in_daddr(&e.p, &in);
			pg_addr(&wa, n->a);
			assert_true(ap_addr_eq(&in, &wa));
		}
	}

	/* Closing: both ends' FIN still travel the pinned path. */
	build(&k, n->c, n->a, 40000, 80, AP_TCP_ACK | AP_TCP_FIN, 1334, 6202, 0);
	hook(&client, &k, AP_HOOK_OUT);
	expect_addrs(&k, n->c, n->u1);
	hook(&inst1, &k, AP_HOOK_IN);
	expect_addrs(&k, n->c, n->a);
	assert_int_equal(inst1.t.f[0].state, AP_CLOSING);

	build(&k, n->a, n->c, 80, 40000, AP_TCP_ACK | AP_TCP_FIN, 6202, 1335, 0);
	hook(&inst1, &k, AP_HOOK_POST);
	expect_addrs(&k, n->u1, n->c);
	hook(&client, &k, AP_HOOK_IN);
	expect_addrs(&k, n->a, n->c);

	assert_int_equal(client.t.stats[pi][AP_STAT_SYN], 1);
	assert_int_equal(client.t.stats[pi][AP_STAT_OPT_ADDED], 1);
	assert_int_equal(inst1.t.stats[pi][AP_STAT_RESP_SYN], 1);
	assert_int_equal(inst1.t.stats[pi][AP_STAT_OPT_ADDED], 1);
}

static void test_connection_v4(void **state)
{
	(void)state;
	connection(&net4);
}

static void test_connection_v6(void **state)
{
	(void)state;
	connection(&net6);
}

/* The SYN is retried and the route flips: both instances answer. */
static void test_second_responder_reset(void **state)
{
	const struct net *n = &net4;
	struct pkt k, rst;
	u32 len;

	(void)state;
	/* Two capable attempts, so the retry still carries the option. */
	set(&client.c, "net.anypin.fallback_retries", "2");
	build(&k, n->c, n->a, 40000, 80, AP_TCP_SYN, 1000, 0, 0);
	hook(&client, &k, AP_HOOK_OUT);
	hook(&inst1, &k, AP_HOOK_IN);
	build(&k, n->c, n->a, 40000, 80, AP_TCP_SYN, 1000, 0, 0);
	hook(&client, &k, AP_HOOK_OUT);
	assert_true(k.v.grew);
	expect_addrs(&k, n->c, n->a);
	hook(&inst2, &k, AP_HOOK_IN);

	build(&k, n->a, n->c, 80, 40000, AP_TCP_SYN | AP_TCP_ACK, 5000, 1001, 0);
	hook(&inst1, &k, AP_HOOK_POST);
	hook(&client, &k, AP_HOOK_IN);
	expect_addrs(&k, n->a, n->c);
	assert_int_equal(client.t.stats[0][AP_STAT_BOUND], 1);

	build(&k, n->a, n->c, 80, 40000, AP_TCP_SYN | AP_TCP_ACK, 9000, 1001, 0);
	hook(&inst2, &k, AP_HOOK_POST);
	expect_addrs(&k, n->u2, n->c);

	hook(&client, &k, AP_HOOK_IN);
	assert_true(k.v.drop);
	assert_int_equal(client.t.stats[0][AP_STAT_DUP_RESET], 1);
	len = k.v.rst_len;
	assert_true(len == 40);
	memcpy(rst.buf, k.v.rst, len);
	assert_int_equal(ap_parse(&rst.p, rst.buf, len, len), AP_OK);
	assert_int_equal(pg_verify(rst.buf, len), 0);
	expect_addrs(&rst, n->c, n->u2);
	assert_int_equal(rst.p.tcp_flags, AP_TCP_RST);
	assert_int_equal(rst.p.seq, 1001);
	assert_int_equal(ntohs(rst.p.sport), 40000);
	assert_int_equal(ntohs(rst.p.dport), 80);

	/* The RST reaches inst2 at U2 and is handed to its socket on A. */
	hook(&inst2, &rst, AP_HOOK_IN);
	expect_addrs(&rst, n->c, n->a);
}

/* Without anypin on the client: the instance answers as ever, from A. */
static void test_legacy_client(void **state)
{
	struct pkt k;

	(void)state;
	build(&k, net4.c, net4.a, 40000, 80, AP_TCP_SYN, 1000, 0, 0);
	hook(&legacy, &k, AP_HOOK_OUT);
	assert_false(k.v.grew);
	hook(&inst1, &k, AP_HOOK_IN);
	assert_int_equal(inst1.t.stats[0][AP_STAT_RESP_LEGACY], 1);
	build(&k, net4.a, net4.c, 80, 40000, AP_TCP_SYN | AP_TCP_ACK, 5000, 1001, 0);
	hook(&inst1, &k, AP_HOOK_POST);
	expect_addrs(&k, net4.a, net4.c);
	assert_false(has_cap(&k, AP_EXID_DEFAULT));
}

/* A server without the responder role answers from A: the flow is plain. */
static void test_legacy_server(void **state)
{
	struct pkt k;

	(void)state;
	build(&k, net6.c, net6.a, 40000, 80, AP_TCP_SYN, 1000, 0, 0);
	hook(&client, &k, AP_HOOK_OUT);
	hook(&legacy, &k, AP_HOOK_IN);
	build(&k, net6.a, net6.c, 80, 40000, AP_TCP_SYN | AP_TCP_ACK, 5000, 1001, 0);
	hook(&legacy, &k, AP_HOOK_POST);
	hook(&client, &k, AP_HOOK_IN);
	expect_addrs(&k, net6.a, net6.c);
	assert_int_equal(client.t.stats[1][AP_STAT_PLAIN], 1);
	assert_false(client.t.used[0]);

	/* Later packets of the connection are not touched. */
	build(&k, net6.c, net6.a, 40000, 80, AP_TCP_ACK, 1001, 5001, 10);
	hook(&client, &k, AP_HOOK_OUT);
	expect_addrs(&k, net6.c, net6.a);
	assert_false(k.v.reroute);
}

static void test_forged_synacks(void **state)
{
	struct pkt k;

	(void)state;
	build(&k, net4.c, net4.a, 40000, 80, AP_TCP_SYN, 1000, 0, 0);
	hook(&client, &k, AP_HOOK_OUT);

	/* Wrong ACK: left alone for the stack to refuse. */
	build(&k, net4.u1, net4.c, 80, 40000, AP_TCP_SYN | AP_TCP_ACK, 5000, 4242, 0);
	hook(&client, &k, AP_HOOK_IN);
	expect_addrs(&k, net4.u1, net4.c);
	assert_int_equal(client.t.stats[0][AP_STAT_REJ_ACK], 1);

	/* Outside the responders allowlist. */
	build(&k, "203.0.113.66", net4.c, 80, 40000, AP_TCP_SYN | AP_TCP_ACK, 5000, 1001, 0);
	hook(&client, &k, AP_HOOK_IN);
	expect_addrs(&k, "203.0.113.66", net4.c);
	assert_int_equal(client.t.stats[0][AP_STAT_REJ_RESPONDERS], 1);

	/* The real one still binds. */
	build(&k, net4.u1, net4.c, 80, 40000, AP_TCP_SYN | AP_TCP_ACK, 5000, 1001, 0);
	hook(&client, &k, AP_HOOK_IN);
	expect_addrs(&k, net4.a, net4.c);
	assert_int_equal(client.t.stats[0][AP_STAT_BOUND], 1);
}

/* Our SYN-ACK was lost after binding: the retried SYN goes to U1 itself. */
static void test_retried_syn_to_unicast(void **state)
{
	struct pkt k;

	(void)state;
	handshake(&net4);
	build(&k, net4.c, net4.a, 40000, 80, AP_TCP_SYN, 1000, 0, 0);
	hook(&client, &k, AP_HOOK_OUT);
	assert_true(k.v.reroute);
	expect_addrs(&k, net4.c, net4.u1);
	hook(&inst1, &k, AP_HOOK_IN);
	expect_addrs(&k, net4.c, net4.a);
}

static void test_table_full(void **state)
{
	struct pkt k;

	(void)state;
	client.t.full = true;
	build(&k, net4.c, net4.a, 40000, 80, AP_TCP_SYN, 1000, 0, 0);
	hook(&client, &k, AP_HOOK_OUT);
	assert_false(k.v.grew);
	assert_false(has_cap(&k, AP_EXID_DEFAULT));

	inst1.t.full = true;
	build(&k, net4.c, net4.a, 40001, 80, AP_TCP_SYN, 1000, 0, 0);
	hook(&client, &k, AP_HOOK_OUT);
	hook(&inst1, &k, AP_HOOK_IN);
	build(&k, net4.a, net4.c, 80, 40001, AP_TCP_SYN | AP_TCP_ACK, 5000, 1001, 0);
	hook(&inst1, &k, AP_HOOK_POST);
	expect_addrs(&k, net4.a, net4.c);
}

/* changed: set by every rewrite and by the option, by nothing else. */
static void test_changed(void **state)
{
	struct pkt k;

	(void)state;
	build(&k, net4.c, net4.a, 40000, 80, AP_TCP_SYN, 1000, 0, 0);
	hook(&client, &k, AP_HOOK_OUT);
	assert_true(k.v.grew && k.v.changed);
	/* The instance takes the SYN as it is, answers from U. */
	hook(&inst1, &k, AP_HOOK_IN);
	assert_false(k.v.changed);
	build(&k, net4.a, net4.c, 80, 40000, AP_TCP_SYN | AP_TCP_ACK, 5000, 1001, 0);
	hook(&inst1, &k, AP_HOOK_POST);
	assert_true(k.v.changed);
	hook(&client, &k, AP_HOOK_IN);
	assert_true(k.v.changed);
	/* The client's ACK: A to U, nothing grows. */
	build(&k, net4.c, net4.a, 40000, 80, AP_TCP_ACK, 1001, 5001, 0);
	hook(&client, &k, AP_HOOK_OUT);
	assert_true(k.v.changed && !k.v.grew);
	/* A packet of no flow, and a legacy SYN: counted, not changed. */
	build(&k, net4.c, "203.0.113.99", 40001, 80, AP_TCP_ACK, 1, 1, 10);
	hook(&client, &k, AP_HOOK_OUT);
	assert_false(k.v.changed);
	build(&k, net4.c, net4.a, 40002, 80, AP_TCP_SYN, 1000, 0, 0);
	hook(&inst1, &k, AP_HOOK_IN);
	assert_false(k.v.changed);
	assert_int_equal(inst1.t.stats[0][AP_STAT_RESP_LEGACY], 1);
}

/* A GSO/CHECKSUM_PARTIAL packet: only the pseudo-header sum is kept. */
static void test_partial_checksum(void **state)
{
	struct pkt k;

	(void)state;
	handshake(&net6);
	build(&k, net6.c, net6.a, 40000, 80, AP_TCP_ACK, 1001, 5001, 1000);
	pg_set_pseudo(k.buf, k.p.len);
	ap_process(&client.c, &ops, &client.t, &k.p, AP_HOOK_OUT, AP_CSUM_PSEUDO, 100, &k.v);
	assert_true(k.v.changed);
	expect_addrs(&k, net6.c, net6.u1);
	assert_int_equal(ap_get16(k.buf + k.p.tcp_off + 16), pg_tcp_pseudo(k.buf, k.p.len));
}

/* A port outside the prefix's ports, and a disabled prefix: untouched. */
static void test_not_ours(void **state)
{
	struct pkt k;

	(void)state;
	set(&client.c, "net.anypin.prefix.svc.ports", "443,8000-8100");
	build(&k, net4.c, net4.a, 40000, 80, AP_TCP_SYN, 1000, 0, 0);
	hook(&client, &k, AP_HOOK_OUT);
	assert_false(k.v.grew);
	build(&k, net4.c, net4.a, 40000, 8080, AP_TCP_SYN, 1000, 0, 0);
	hook(&client, &k, AP_HOOK_OUT);
	assert_true(k.v.grew);

	set(&client.c, "net.anypin.prefix.svc6.enabled", "0");
	build(&k, net6.c, net6.a, 40000, 80, AP_TCP_SYN, 1000, 0, 0);
	hook(&client, &k, AP_HOOK_OUT);
	assert_false(k.v.grew);

	/* Outgoing ICMP and the POST hook of a client change nothing. */
	build(&k, net4.c, net4.a, 40000, 8080, AP_TCP_ACK, 1001, 1, 0);
	hook(&client, &k, AP_HOOK_POST);
	expect_addrs(&k, net4.c, net4.a);

	/* A SYN-ACK for a port that sent no SYN passes as it came. */
	build(&k, net4.u1, net4.c, 80, 40001, AP_TCP_SYN | AP_TCP_ACK, 7, 1001, 0);
	hook(&client, &k, AP_HOOK_IN);
	expect_addrs(&k, net4.u1, net4.c);
	assert_false(k.v.drop);
}

/*
 * Errors about packets inst1 sent from U1 reach its socket as about A, and
 * are addressed to A (conntrack relates them only then).
 */
static void test_responder_icmp(void **state)
{
	struct pkt big, e;
	struct pg_icmp ic;
	struct ap_addr in, wa;
	const struct net *n;
	u32 len;
	int f;

	(void)state;
	for (f = 0; f < 2; f++) {
		n = f ? &net6 : &net4;
		handshake(n);
		build(&big, n->a, n->c, 80, 40000, AP_TCP_ACK, 5001, 1001, 1400);
		hook(&inst1, &big, AP_HOOK_POST);
		expect_addrs(&big, n->u1, n->c);
		pg_icmp_init(&ic, n->router, n->u1, f ? 2 : 3, f ? 0 : 4);
		ic.rest = 1280;
		len = pg_build_icmp(e.buf, &ic, big.buf, f ? 1232 : 48, NULL);
		assert_int_equal(ap_parse(&e.p, e.buf, len, len), AP_OK);
		hook(&inst1, &e, AP_HOOK_IN);
		pg_addr(&wa, n->a);
		ap_pkt_in_saddr(&e.p, &in);
		assert_true(ap_addr_eq(&in, &wa));
		expect_addrs(&e, n->router, n->a);
		assert_int_equal(inst1.t.stats[f][AP_STAT_ICMP], 1);
	}

	/* An error about a connection nobody tracks is left alone. */
	pg_icmp_init(&ic, "198.51.100.1", net4.c, 3, 4);
	build(&big, net4.c, "198.51.100.99", 41000, 22, AP_TCP_ACK, 1, 1, 1400);
	len = pg_build_icmp(e.buf, &ic, big.buf, 48, NULL);
	assert_int_equal(ap_parse(&e.p, e.buf, len, len), AP_OK);
	hook(&client, &e, AP_HOOK_IN);
	ap_pkt_in_daddr(&e.p, &in);
	pg_addr(&wa, "198.51.100.99");
	assert_true(ap_addr_eq(&in, &wa));
}

/* A SYN whose 40 bytes of options leave no room goes out as it was. */
static void test_syn_options_full(void **state)
{
	u8 nops[40];
	struct pg_tcp t;
	struct pkt k;
	u32 len;

	(void)state;
	memset(nops, AP_TCPOPT_NOP, sizeof(nops));
	pg_tcp_init(&t, net4.c, net4.a, 40000, 80, AP_TCP_SYN);
	t.seq = 1000;
	pg_tcp_add_opt(&t, nops, sizeof(nops));
	len = pg_build_tcp(k.buf, &t, NULL);
	assert_int_equal(ap_parse(&k.p, k.buf, len, len), AP_OK);
	hook(&client, &k, AP_HOOK_OUT);
	assert_false(k.v.grew);
	assert_int_equal(client.t.stats[0][AP_STAT_OPT_NOROOM], 1);
	assert_int_equal(client.t.stats[0][AP_STAT_OPT_ADDED], 0);
	assert_true(client.t.used[0]);
}

/* A SYN-ACK with a broken option list is not ours to judge. */
static void test_synack_bad_options(void **state)
{
	static const u8 bad[4] = { 8, 10, 0, 0 };	/* timestamps, length past the end */
	struct pg_tcp t;
	struct pkt k;
	u32 len;

	(void)state;
	build(&k, net4.c, net4.a, 40000, 80, AP_TCP_SYN, 1000, 0, 0);
	hook(&client, &k, AP_HOOK_OUT);
	pg_tcp_init(&t, net4.u1, net4.c, 80, 40000, AP_TCP_SYN | AP_TCP_ACK);
	t.seq = 5000;
	t.ack = 1001;
	pg_tcp_add_opt(&t, bad, sizeof(bad));
	len = pg_build_tcp(k.buf, &t, NULL);
	assert_int_equal(ap_parse(&k.p, k.buf, len, len), AP_OK);
	hook(&client, &k, AP_HOOK_IN);
	expect_addrs(&k, net4.u1, net4.c);
	assert_int_equal(client.t.f[0].state, AP_SYN_SENT);
}

/* The pinned instance repeats its SYN-ACK; A refuses another attempt. */
static void test_repeats_and_refusals(void **state)
{
	struct pkt k;

	(void)state;
	handshake(&net4);
	build(&k, net4.u1, net4.c, 80, 40000, AP_TCP_SYN | AP_TCP_ACK, 5000, 1001, 0);
	hook(&client, &k, AP_HOOK_IN);
	expect_addrs(&k, net4.a, net4.c);
	assert_false(k.v.drop);

	build(&k, net4.c, net4.a, 40001, 80, AP_TCP_SYN, 3000, 0, 0);
	hook(&client, &k, AP_HOOK_OUT);
	assert_true(client.t.used[1]);
	build(&k, net4.a, net4.c, 80, 40001, AP_TCP_RST | AP_TCP_ACK, 0, 3001, 0);
	hook(&client, &k, AP_HOOK_IN);
	assert_false(client.t.used[1]);
	assert_true(client.t.used[0]);
}

/*
 * A middlebox drops SYN-ACKs from U (NAT, a firewall that admits A only):
 * the capable SYN is answered from U1 and lost; the retransmission goes
 * plain, ends inst1's entry, and is answered from A. A is remembered, so
 * the next connection goes plain at once.
 */
static void fallback_through(const struct net *n)
{
	u8 pf = prefix_of(n);
	struct pkt k;

	build(&k, n->c, n->a, 40000, 80, AP_TCP_SYN, 1000, 0, 0);
	hook(&client, &k, AP_HOOK_OUT);
	assert_true(has_cap(&k, AP_EXID_DEFAULT));
	hook(&inst1, &k, AP_HOOK_IN);
	build(&k, n->a, n->c, 80, 40000, AP_TCP_SYN | AP_TCP_ACK, 5000, 1001, 0);
	hook(&inst1, &k, AP_HOOK_POST);
	expect_addrs(&k, n->u1, n->c);	/* ... and the middlebox drops it */

	build(&k, n->c, n->a, 40000, 80, AP_TCP_SYN, 1000, 0, 0);
	hook(&client, &k, AP_HOOK_OUT);
	assert_false(k.v.grew);
	assert_false(has_cap(&k, AP_EXID_DEFAULT));
	expect_addrs(&k, n->c, n->a);
	assert_int_equal(client.t.stats[pf][AP_STAT_FALLBACK], 1);
	assert_int_equal(client.t.f[0].state, AP_FALLBACK);
	hook(&inst1, &k, AP_HOOK_IN);
	assert_int_equal(inst1.t.stats[pf][AP_STAT_FALLBACK], 1);
	assert_false(inst1.t.used[0]);

	/* inst1's stack repeats its SYN-ACK, now from A, and the rest too. */
	build(&k, n->a, n->c, 80, 40000, AP_TCP_SYN | AP_TCP_ACK, 5000, 1001, 0);
	hook(&inst1, &k, AP_HOOK_POST);
	expect_addrs(&k, n->a, n->c);
	assert_false(has_cap(&k, AP_EXID_DEFAULT));
	hook(&client, &k, AP_HOOK_IN);
	expect_addrs(&k, n->a, n->c);
	assert_false(k.v.drop);
	assert_int_equal(client.t.stats[pf][AP_STAT_BLACKHOLED], 1);
	assert_false(client.t.used[0]);
	assert_int_equal(client.t.bh.n, 1);

	build(&k, n->c, n->a, 40000, 80, AP_TCP_ACK, 1001, 5001, 10);
	hook(&client, &k, AP_HOOK_OUT);
	expect_addrs(&k, n->c, n->a);

	/* The next connection: plain from its first SYN, no entry anywhere. */
	build(&k, n->c, n->a, 40001, 80, AP_TCP_SYN, 7000, 0, 0);
	hook(&client, &k, AP_HOOK_OUT);
	assert_false(k.v.grew);
	assert_false(has_cap(&k, AP_EXID_DEFAULT));
	assert_int_equal(client.t.stats[pf][AP_STAT_BH_PLAIN], 1);
	assert_false(client.t.used[0]);
	hook(&inst1, &k, AP_HOOK_IN);
	assert_int_equal(inst1.t.stats[pf][AP_STAT_RESP_LEGACY], 1);
	assert_int_equal(client.t.stats[pf][AP_STAT_FALLBACK], 1);
}

static void test_fallback_v4(void **state)
{
	(void)state;
	fallback_through(&net4);
}

static void test_fallback_v6(void **state)
{
	(void)state;
	fallback_through(&net6);
}

/*
 * The option stripped on the path: inst1 sees a plain SYN and answers from
 * A; no retransmission, no blackhole, the next connection capable again.
 */
static void test_option_stripped(void **state)
{
	static const u8 mss[] = { 2, 4, 0x05, 0xb4 };
	struct pg_tcp t;
	struct pkt k;
	u32 len;

	(void)state;
	build(&k, net4.c, net4.a, 40000, 80, AP_TCP_SYN, 1000, 0, 0);
	hook(&client, &k, AP_HOOK_OUT);
	assert_true(k.v.grew);
	pg_tcp_init(&t, net4.c, net4.a, 40000, 80, AP_TCP_SYN);
	t.seq = 1000;
	pg_tcp_add_opt(&t, mss, sizeof(mss));
	len = pg_build_tcp(k.buf, &t, NULL);
	assert_int_equal(ap_parse(&k.p, k.buf, len, len), AP_OK);
	hook(&inst1, &k, AP_HOOK_IN);
	assert_false(inst1.t.used[0]);

	build(&k, net4.a, net4.c, 80, 40000, AP_TCP_SYN | AP_TCP_ACK, 5000, 1001, 0);
	hook(&inst1, &k, AP_HOOK_POST);
	hook(&client, &k, AP_HOOK_IN);
	expect_addrs(&k, net4.a, net4.c);
	assert_int_equal(client.t.stats[0][AP_STAT_PLAIN], 1);
	assert_int_equal(client.t.stats[0][AP_STAT_BLACKHOLED], 0);
	assert_int_equal(client.t.bh.n, 0);

	build(&k, net4.c, net4.a, 40001, 80, AP_TCP_SYN, 2000, 0, 0);
	hook(&client, &k, AP_HOOK_OUT);
	assert_true(k.v.grew);
}

/*
 * A fallen-back attempt is plain for ICMP errors and RSTs: nothing is
 * rewritten, and A's refusal ends the entry.
 */
static void test_fallback_icmp_rst(void **state)
{
	struct pkt k, e;
	struct pg_icmp ic;
	u32 len;

	(void)state;
	build(&k, net4.c, net4.a, 40000, 80, AP_TCP_SYN, 1000, 0, 0);
	hook(&client, &k, AP_HOOK_OUT);
	build(&k, net4.c, net4.a, 40000, 80, AP_TCP_SYN, 1000, 0, 0);
	hook(&client, &k, AP_HOOK_OUT);
	assert_int_equal(client.t.f[0].state, AP_FALLBACK);

	pg_icmp_init(&ic, net4.router, net4.c, 3, 1);
	len = pg_build_icmp(e.buf, &ic, k.buf, k.p.len, NULL);
	assert_int_equal(ap_parse(&e.p, e.buf, len, len), AP_OK);
	hook(&client, &e, AP_HOOK_IN);
	assert_int_equal(client.t.stats[0][AP_STAT_ICMP], 0);
	assert_int_equal(pg_verify(e.buf, len), 0);
	assert_true(client.t.used[0]);

	/* A late SYN-ACK from U1 is dropped: its entry may be gone already. */
	build(&k, net4.u1, net4.c, 80, 40000, AP_TCP_SYN | AP_TCP_ACK, 5000, 1001, 0);
	hook(&client, &k, AP_HOOK_IN);
	assert_true(k.v.drop);
	assert_int_equal(client.t.stats[0][AP_STAT_BOUND], 0);

	build(&k, net4.a, net4.c, 80, 40000, AP_TCP_RST | AP_TCP_ACK, 0, 1001, 0);
	hook(&client, &k, AP_HOOK_IN);
	expect_addrs(&k, net4.a, net4.c);
	assert_false(client.t.used[0]);
	assert_int_equal(client.t.stats[0][AP_STAT_BLACKHOLED], 0);

	/* The application gives up during a fallback: its RST ends it too. */
	build(&k, net4.c, net4.a, 40002, 80, AP_TCP_SYN, 3000, 0, 0);
	hook(&client, &k, AP_HOOK_OUT);
	hook(&client, &k, AP_HOOK_OUT);
	assert_int_equal(client.t.f[0].state, AP_FALLBACK);
	build(&k, net4.c, net4.a, 40002, 80, AP_TCP_RST, 3001, 0, 0);
	hook(&client, &k, AP_HOOK_OUT);
	assert_false(client.t.used[0]);
}

/*
 * One local port to two anycast addresses that the same instance answers:
 * the second binding would reuse {client, 40000, U1, 80}, so that attempt
 * stays plain.
 */
static void test_collision(void **state)
{
	const char *a2 = "192.0.2.2";
	struct pkt k;

	(void)state;
	handshake(&net4);
	build(&k, net4.c, a2, 40000, 80, AP_TCP_SYN, 3000, 0, 0);
	hook(&client, &k, AP_HOOK_OUT);
	assert_true(k.v.grew);
	hook(&inst1, &k, AP_HOOK_IN);
	build(&k, a2, net4.c, 80, 40000, AP_TCP_SYN | AP_TCP_ACK, 8000, 3001, 0);
	hook(&inst1, &k, AP_HOOK_POST);
	expect_addrs(&k, net4.u1, net4.c);
	hook(&client, &k, AP_HOOK_IN);
	assert_true(k.v.drop);
	assert_int_equal(client.t.stats[0][AP_STAT_COLLISION], 1);
	assert_int_equal(client.t.stats[0][AP_STAT_BOUND], 1);

	/* The pinned flow is untouched. */
	build(&k, net4.u1, net4.c, 80, 40000, AP_TCP_ACK, 5001, 1001, 10);
	hook(&client, &k, AP_HOOK_IN);
	expect_addrs(&k, net4.a, net4.c);

	/* The plain retry, answered from A2, is no blackhole. */
	build(&k, net4.c, a2, 40000, 80, AP_TCP_SYN, 3000, 0, 0);
	hook(&client, &k, AP_HOOK_OUT);
	assert_false(k.v.grew);
	hook(&inst1, &k, AP_HOOK_IN);
	assert_int_equal(inst1.t.stats[0][AP_STAT_FALLBACK], 1);
	build(&k, a2, net4.c, 80, 40000, AP_TCP_SYN | AP_TCP_ACK, 8000, 3001, 0);
	hook(&inst1, &k, AP_HOOK_POST);
	expect_addrs(&k, a2, net4.c);
	hook(&client, &k, AP_HOOK_IN);
	expect_addrs(&k, a2, net4.c);
	assert_false(k.v.drop);
	assert_int_equal(client.t.stats[0][AP_STAT_PLAIN], 1);
	assert_int_equal(client.t.stats[0][AP_STAT_BLACKHOLED], 0);
	assert_int_equal(client.t.bh.n, 0);
}

/* A blackhole record goes when a flow binds through the address again. */
static void test_blackhole_cleared(void **state)
{
	struct ap_addr a;

	(void)state;
	pg_addr(&a, net4.a);
	ap_bh_detect(&client.t.bh, &a, 60, 10);
	assert_int_equal(client.t.bh.n, 1);
	/* On probation (after 60 s, before 120 s) a capable SYN goes out again. */
	client.t.bh.e[0].until = 50;
	handshake(&net4);
	assert_int_equal(client.t.bh.n, 0);
}

/*
 * The second chance: inst1 (id 1) and inst2 (id 2) are each other's peers,
 * on both prefixes; their datapaths apply it (sc_ops).
 */
static void sc_setup(void)
{
	static const char *const pfx[] = { "svc", "svc6" };
	char key[64];
	int i;

	for (i = 0; i < 2; i++) {
		snprintf(key, sizeof(key), "net.anypin.prefix.%s.instance", pfx[i]);
		set(&inst1.c, key, "1");
		set(&inst2.c, key, "2");
		snprintf(key, sizeof(key), "net.anypin.prefix.%s.peers", pfx[i]);
		set(&inst1.c, key, "2=198.51.100.27,2001:db8:2::27");
		set(&inst2.c, key, "1=198.51.100.11,2001:db8:1::11");
	}
	assert_int_equal(ap_conf_check(&inst1.c, NULL), 0);
	assert_int_equal(ap_conf_check(&inst2.c, NULL), 0);
	inst1.sc = true;
	inst2.sc = true;
}

/* A segment with the timestamp option (NOP NOP TS), an MSS first on a SYN. */
static void build_ts(struct pkt *k, const char *src, const char *dst, u16 sport, u16 dport,
		     u8 flags, u32 paylen, u32 tsval, u32 tsecr, enum ap_csum_mode mode)
{
	u8 ts[12] = { AP_TCPOPT_NOP, AP_TCPOPT_NOP, AP_TCPOPT_TS, AP_TCPOPT_TS_LEN };
	struct pg_tcp t;
	u32 len;

	ap_put32(ts + 4, tsval);
	ap_put32(ts + 8, tsecr);
	pg_tcp_init(&t, src, dst, sport, dport, flags);
	t.seq = 7000;
	t.ack = flags & AP_TCP_ACK ? 9000 : 0;
	t.paylen = paylen;
	if (flags & AP_TCP_SYN) {
		static const u8 mss[] = { 2, 4, 0x05, 0xb4 };

		pg_tcp_add_opt(&t, mss, sizeof(mss));
	}
	pg_tcp_add_opt(&t, ts, sizeof(ts));
	len = pg_build_tcp(k->buf, &t, NULL);
	if (mode == AP_CSUM_PSEUDO)
		pg_set_pseudo(k->buf, len);
	assert_int_equal(ap_parse(&k->p, k->buf, len, len), AP_OK);
}

static u32 tsval_of(const struct pkt *k)
{
	struct ap_opts o;

	assert_int_equal(ap_tcp_opts(&k->p, AP_EXID_DEFAULT, &o), AP_OK);
	assert_int_not_equal(o.ts_off, 0);
	return ap_get32(k->buf + o.ts_off + 2);
}

static u16 mss_of(const struct pkt *k)
{
	struct ap_opts o;

	assert_int_equal(ap_tcp_opts(&k->p, AP_EXID_DEFAULT, &o), AP_OK);
	assert_int_not_equal(o.mss_off, 0);
	return ap_get16(k->buf + o.mss_off + 2);
}

static unsigned int sc_count(const struct host *h, u8 stat)
{
	unsigned int i, n = 0;

	for (i = 0; i < AP_MAX_PREFIXES; i++)
		n += h->t.stats[i][stat];
	return n;
}

static void expect_sc_counts(const struct host *h, u8 pi, unsigned int stamped,
			     unsigned int mss, unsigned int fwd, unsigned int limited,
			     unsigned int tunnel)
{
	assert_int_equal(h->t.stats[pi][AP_STAT_SC_STAMPED], stamped);
	assert_int_equal(h->t.stats[pi][AP_STAT_SC_MSS], mss);
	assert_int_equal(h->t.stats[pi][AP_STAT_SC_FORWARDED], fwd);
	assert_int_equal(h->t.stats[pi][AP_STAT_SC_LIMITED], limited);
	assert_int_equal(h->t.stats[pi][AP_STAT_SC_TUNNEL], tunnel);
	assert_int_equal(sc_count(h, AP_STAT_SC_STAMPED), stamped);
	assert_int_equal(sc_count(h, AP_STAT_SC_FORWARDED), fwd);
}

/* Forwarded to peer @id at @addr, decided by prefix @pi (its index). */
static void expect_fwd(const struct pkt *k, u8 pi, u8 id, const char *addr)
{
	struct ap_addr a;

	assert_true(k->v.forward);
	assert_int_equal(k->v.fwd_prefix, pi);
	assert_int_equal(k->v.fwd.id, id);
	pg_addr(&a, addr);
	assert_true(ap_addr_eq(&k->v.fwd.addr, &a));
}

/*
 * A client that runs no anypin, timestamps on: inst1 answers from A with
 * its MSS lowered and its id in every later TSval; the route flips, and
 * inst2 sends the client's segments on to inst1.
 */
static void sc_connection(const struct net *n, enum ap_csum_mode mode)
{
	u8 pi = prefix_of(n);
	struct pkt k;
	u32 ts;

	sc_setup();
	build_ts(&k, n->c, n->a, 40000, 80, AP_TCP_SYN, 0, 1000, 0, mode);
	hook_mode(&inst1, &k, AP_HOOK_IN, mode);
	assert_false(k.v.changed || k.v.forward);
	assert_int_equal(inst1.t.stats[pi][AP_STAT_RESP_LEGACY], 1);

	/* The SYN-ACK: its MSS lowered by the outer header, its TSval left. */
	build_ts(&k, n->a, n->c, 80, 40000, AP_TCP_SYN | AP_TCP_ACK, 0, 5000, 1000, mode);
	hook_mode(&inst1, &k, AP_HOOK_POST, mode);
	assert_true(k.v.changed);
	expect_addrs(&k, n->a, n->c);
	assert_int_equal(mss_of(&k), n == &net4 ? 1460 - 20 : 1460 - 40);
	assert_int_equal(tsval_of(&k), 5000);

	/* Data from A: stamped with id 1, never earlier than it was. */
	build_ts(&k, n->a, n->c, 80, 40000, AP_TCP_ACK | AP_TCP_PSH, 700, 5003, 1000, mode);
	hook_mode(&inst1, &k, AP_HOOK_POST, mode);
	assert_true(k.v.changed);
	ts = tsval_of(&k);
	assert_int_equal(ts, ap_sc_stamp(5003, 1));
	assert_int_equal(ts & AP_SC_ID_MAX, 1);
	/* One already ending in the id is left as it is. */
	build_ts(&k, n->a, n->c, 80, 40000, AP_TCP_ACK, 0, ts, 1000, mode);
	hook_mode(&inst1, &k, AP_HOOK_POST, mode);
	assert_false(k.v.changed);
	expect_sc_counts(&inst1, pi, 1, 1, 0, 0, 0);

	/* The client echoes it; where it lands still, nothing moves. */
	build_ts(&k, n->c, n->a, 40000, 80, AP_TCP_ACK, 10, 1001, ts, mode);
	hook_mode(&inst1, &k, AP_HOOK_IN, mode);
	assert_false(k.v.forward || k.v.changed);
	assert_int_equal(inst1.t.local_calls, 0);

	/* The route flips: inst2 has no socket for it and sends it to inst1. */
	build_ts(&k, n->c, n->a, 40000, 80, AP_TCP_ACK | AP_TCP_PSH, 10, 1001, ts, mode);
	hook_mode(&inst2, &k, AP_HOOK_IN, mode);
	expect_fwd(&k, pi, 1, n->u1);
	expect_addrs(&k, n->c, n->a);
	assert_int_equal(inst2.t.local_calls, 1);
	expect_sc_counts(&inst2, pi, 0, 0, 1, 0, 0);

	/* inst1 gets it decapsulated: for its socket, never sent on again. */
	k.p.tunnel = true;
	hook_mode(&inst1, &k, AP_HOOK_IN, mode);
	assert_false(k.v.forward || k.v.changed);
	expect_sc_counts(&inst1, pi, 1, 1, 0, 0, 1);

	/* Its answer leaves from A, stamped again. */
	build_ts(&k, n->a, n->c, 80, 40000, AP_TCP_ACK, 100, ts + 1, 1001, mode);
	hook_mode(&inst1, &k, AP_HOOK_POST, mode);
	assert_int_equal(tsval_of(&k), ts + 64);
	expect_sc_counts(&inst1, pi, 2, 1, 0, 0, 1);
	assert_int_equal(inst1.t.local_calls, 0);
}

static void test_sc_connection(void **state)
{
	static const struct {
		const struct net *n;
		enum ap_csum_mode mode;
	} c[] = {
		{ &net4, AP_CSUM_FULL }, { &net6, AP_CSUM_FULL },
		{ &net4, AP_CSUM_PSEUDO }, { &net6, AP_CSUM_PSEUDO },
	};
	unsigned int i;

	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		setup(state);
		sc_connection(c[i].n, c[i].mode);
	}
}

/* A datapath that does not apply it (no local op): nothing of it happens. */
static void test_sc_not_applied(void **state)
{
	struct pkt k;
	int f;

	(void)state;
	sc_setup();
	inst1.sc = false;
	inst2.sc = false;
	for (f = 0; f < 2; f++) {
		const struct net *n = f ? &net6 : &net4;

		build_ts(&k, n->a, n->c, 80, 40000, AP_TCP_SYN | AP_TCP_ACK, 0, 5000, 1000,
			 AP_CSUM_FULL);
		hook(&inst1, &k, AP_HOOK_POST);
		assert_false(k.v.changed);
		assert_int_equal(mss_of(&k), 1460);
		build_ts(&k, n->a, n->c, 80, 40000, AP_TCP_ACK, 10, 5003, 1000, AP_CSUM_FULL);
		hook(&inst1, &k, AP_HOOK_POST);
		assert_false(k.v.changed);
		build_ts(&k, n->c, n->a, 40000, 80, AP_TCP_ACK, 10, 1001, 5057, AP_CSUM_FULL);
		hook(&inst2, &k, AP_HOOK_IN);
		assert_false(k.v.forward);
		k.p.tunnel = true;
		hook(&inst2, &k, AP_HOOK_IN);
		assert_false(k.v.forward);
		expect_sc_counts(&inst1, prefix_of(n), 0, 0, 0, 0, 0);
		expect_sc_counts(&inst2, prefix_of(n), 0, 0, 0, 0, 0);
	}
	/* Nor where the prefix has no id, or the segment is to another port. */
	setup(state);
	sc_setup();
	set(&inst1.c, "net.anypin.prefix.svc.peers", "");
	set(&inst1.c, "net.anypin.prefix.svc.instance", "0");
	build_ts(&k, net4.a, net4.c, 80, 40000, AP_TCP_ACK, 10, 5003, 1000, AP_CSUM_FULL);
	hook(&inst1, &k, AP_HOOK_POST);
	assert_false(k.v.changed);
	/* A's segments are matched by their source port, the service's */
	set(&inst1.c, "net.anypin.prefix.svc6.ports", "80");
	build_ts(&k, net6.a, net6.c, 80, 40000, AP_TCP_ACK, 10, 5003, 1000, AP_CSUM_FULL);
	hook(&inst1, &k, AP_HOOK_POST);
	assert_int_equal(tsval_of(&k), ap_sc_stamp(5003, 1));
	build_ts(&k, net6.a, net6.c, 443, 80, AP_TCP_ACK, 10, 5003, 1000, AP_CSUM_FULL);
	hook(&inst1, &k, AP_HOOK_POST);
	assert_false(k.v.changed);
	set(&inst2.c, "net.anypin.prefix.svc.ports", "443");
	build_ts(&k, net4.c, net4.a, 40000, 80, AP_TCP_ACK, 10, 1001, 5057, AP_CSUM_FULL);
	hook(&inst2, &k, AP_HOOK_IN);
	assert_false(k.v.forward);
	build_ts(&k, net4.c, net4.a, 40000, 443, AP_TCP_ACK, 10, 1001, 5057, AP_CSUM_FULL);
	hook(&inst2, &k, AP_HOOK_IN);
	expect_fwd(&k, prefix_of(&net4), 1, net4.u1);
	expect_sc_counts(&inst1, 1, 1, 0, 0, 0, 0);
}

/* SYNs are never stamped, nor forwarded; a SYN-ACK is not stamped either. */
static void test_sc_syns(void **state)
{
	struct pkt k;

	(void)state;
	sc_setup();
	build_ts(&k, net4.a, net4.c, 80, 40000, AP_TCP_SYN, 0, 5000, 0, AP_CSUM_FULL);
	hook(&inst1, &k, AP_HOOK_POST);
	assert_false(k.v.changed);
	build_ts(&k, net6.a, net6.c, 80, 40000, AP_TCP_SYN | AP_TCP_ACK, 0, 5000, 7, AP_CSUM_FULL);
	hook(&inst1, &k, AP_HOOK_POST);
	assert_int_equal(tsval_of(&k), 5000);
	build_ts(&k, net4.c, net4.a, 40000, 80, AP_TCP_SYN, 0, 5000, 0, AP_CSUM_FULL);
	hook(&inst2, &k, AP_HOOK_IN);
	assert_false(k.v.forward);
	build_ts(&k, net4.c, net4.a, 40001, 80, AP_TCP_SYN | AP_TCP_ACK, 0, 5000, 1, AP_CSUM_FULL);
	hook(&inst2, &k, AP_HOOK_IN);
	assert_false(k.v.forward);
	expect_sc_counts(&inst1, 1, 0, 1, 0, 0, 0);
	expect_sc_counts(&inst2, 0, 0, 0, 0, 0, 0);
	assert_int_equal(inst2.t.local_calls, 0);
}

/* A local socket, the budget, an unknown id: each keeps the segment here. */
static void test_sc_kept(void **state)
{
	struct pkt k;

	(void)state;
	sc_setup();
	inst2.t.local = true;
	build_ts(&k, net6.c, net6.a, 40000, 80, AP_TCP_ACK, 10, 1001, 64 + 1, AP_CSUM_FULL);
	hook(&inst2, &k, AP_HOOK_IN);
	assert_false(k.v.forward);
	assert_int_equal(inst2.t.local_calls, 1);
	inst2.t.local = false;

	/* Naming itself, no instance or an unknown one: no socket is asked. */
	build_ts(&k, net6.c, net6.a, 40000, 80, AP_TCP_ACK, 10, 1001, 64 + 2, AP_CSUM_FULL);
	hook(&inst2, &k, AP_HOOK_IN);
	build_ts(&k, net6.c, net6.a, 40000, 80, AP_TCP_ACK, 10, 1001, 64, AP_CSUM_FULL);
	hook(&inst2, &k, AP_HOOK_IN);
	build_ts(&k, net6.c, net6.a, 40000, 80, AP_TCP_ACK, 10, 1001, 64 + 9, AP_CSUM_FULL);
	hook(&inst2, &k, AP_HOOK_IN);
	assert_false(k.v.forward);
	assert_int_equal(inst2.t.local_calls, 1);
	expect_sc_counts(&inst2, 1, 0, 0, 0, 0, 0);

	/* The budget allows one more: the next is counted and stays. */
	inst2.t.budget = 1;
	build_ts(&k, net6.c, net6.a, 40000, 80, AP_TCP_ACK, 10, 1001, 64 + 1, AP_CSUM_FULL);
	hook(&inst2, &k, AP_HOOK_IN);
	expect_fwd(&k, prefix_of(&net6), 1, net6.u1);
	hook(&inst2, &k, AP_HOOK_IN);
	assert_false(k.v.forward);
	expect_sc_counts(&inst2, 1, 0, 0, 1, 1, 0);
}

/*
 * Our own flows keep their handling: a capable client's connection is
 * answered from U, neither stamped nor its MSS lowered, and a segment of
 * a responder flow's key is not sent on.
 */
static void test_sc_own_flows(void **state)
{
	struct pkt k;
	u8 pi;
	int f;

	(void)state;
	sc_setup();
	for (f = 0; f < 2; f++) {
		const struct net *n = f ? &net6 : &net4;

		pi = prefix_of(n);
		build(&k, n->c, n->a, 40000, 80, AP_TCP_SYN, 1000, 0, 0);
		hook(&client, &k, AP_HOOK_OUT);
		hook(&inst1, &k, AP_HOOK_IN);
		build_ts(&k, n->a, n->c, 80, 40000, AP_TCP_SYN | AP_TCP_ACK, 0, 5000, 1000,
			 AP_CSUM_FULL);
		hook(&inst1, &k, AP_HOOK_POST);
		expect_addrs(&k, n->u1, n->c);
		assert_true(has_cap(&k, AP_EXID_DEFAULT));
		assert_int_equal(mss_of(&k), 1460);
		assert_int_equal(tsval_of(&k), 5000);
		build_ts(&k, n->a, n->c, 80, 40000, AP_TCP_ACK, 100, 5003, 1000, AP_CSUM_FULL);
		hook(&inst1, &k, AP_HOOK_POST);
		expect_addrs(&k, n->u1, n->c);
		assert_int_equal(tsval_of(&k), 5003);
		expect_sc_counts(&inst1, pi, 0, 0, 0, 0, 0);

		/* inst2 answers a capable SYN from U2: its key is that flow's */
		build(&k, n->c, n->a, 40001, 80, AP_TCP_SYN, 3000, 0, 0);
		hook(&client, &k, AP_HOOK_OUT);
		hook(&inst2, &k, AP_HOOK_IN);
		assert_int_equal(inst2.t.stats[pi][AP_STAT_RESP_SYN], 1);
		build_ts(&k, n->c, n->a, 40001, 80, AP_TCP_ACK, 10, 3001, 1, AP_CSUM_FULL);
		hook(&inst2, &k, AP_HOOK_IN);
		assert_false(k.v.forward);
		expect_sc_counts(&inst2, pi, 0, 0, 0, 0, 0);
		setup(state);
		sc_setup();
	}
}

/*
 * An ICMP error about a segment a peer sent from A goes to that peer;
 * about our own, or a SYN-ACK, or cut before the timestamps, it stays.
 */
static void test_sc_icmp(void **state)
{
	struct pkt seg, e;
	struct pg_icmp ic;
	const struct net *n;
	u32 len;
	int f;

	(void)state;
	sc_setup();
	for (f = 0; f < 2; f++) {
		n = f ? &net6 : &net4;
		build_ts(&seg, n->a, n->c, 80, 40000, AP_TCP_ACK, 1400, 64 * 7 + 1, 9,
			 AP_CSUM_FULL);
		pg_icmp_init(&ic, n->router, n->a, f ? 2 : 3, f ? 0 : 4);
		ic.rest = 1280;
		len = pg_build_icmp(e.buf, &ic, seg.buf, f ? 1232 : 60, NULL);
		assert_int_equal(ap_parse(&e.p, e.buf, len, len), AP_OK);
		hook(&inst2, &e, AP_HOOK_IN);
		expect_fwd(&e, prefix_of(n), 1, n->u1);
		assert_false(e.v.changed);
		assert_int_equal(inst2.t.stats[f][AP_STAT_SC_FORWARDED], 1);
		/* at inst1, whose it is: nothing; through the tunnel: counted */
		assert_int_equal(ap_parse(&e.p, e.buf, len, len), AP_OK);
		hook(&inst1, &e, AP_HOOK_IN);
		assert_false(e.v.forward);
		e.p.tunnel = true;
		hook(&inst1, &e, AP_HOOK_IN);
		assert_false(e.v.forward);
		expect_sc_counts(&inst1, f, 0, 0, 0, 0, 1);
		/* the quote ends inside the timestamp option */
		len = pg_build_icmp(e.buf, &ic, seg.buf, (f ? 40 : 20) + 20 + 11, NULL);
		assert_int_equal(ap_parse(&e.p, e.buf, len, len), AP_OK);
		hook(&inst2, &e, AP_HOOK_IN);
		assert_false(e.v.forward);
		/* a SYN-ACK's TSval names no instance */
		build_ts(&seg, n->a, n->c, 80, 40000, AP_TCP_SYN | AP_TCP_ACK, 0, 64 * 7 + 1, 9,
			 AP_CSUM_FULL);
		len = pg_build_icmp(e.buf, &ic, seg.buf, seg.p.len, NULL);
		assert_int_equal(ap_parse(&e.p, e.buf, len, len), AP_OK);
		hook(&inst2, &e, AP_HOOK_IN);
		assert_false(e.v.forward);
		assert_int_equal(inst2.t.stats[f][AP_STAT_SC_FORWARDED], 1);
	}
	assert_int_equal(inst2.t.local_calls, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_connection_v4, setup),
		cmocka_unit_test_setup(test_connection_v6, setup),
		cmocka_unit_test_setup(test_second_responder_reset, setup),
		cmocka_unit_test_setup(test_legacy_client, setup),
		cmocka_unit_test_setup(test_legacy_server, setup),
		cmocka_unit_test_setup(test_forged_synacks, setup),
		cmocka_unit_test_setup(test_retried_syn_to_unicast, setup),
		cmocka_unit_test_setup(test_table_full, setup),
		cmocka_unit_test_setup(test_changed, setup),
		cmocka_unit_test_setup(test_partial_checksum, setup),
		cmocka_unit_test_setup(test_not_ours, setup),
		cmocka_unit_test_setup(test_responder_icmp, setup),
		cmocka_unit_test_setup(test_syn_options_full, setup),
		cmocka_unit_test_setup(test_synack_bad_options, setup),
		cmocka_unit_test_setup(test_repeats_and_refusals, setup),
		cmocka_unit_test_setup(test_fallback_v4, setup),
		cmocka_unit_test_setup(test_fallback_v6, setup),
		cmocka_unit_test_setup(test_option_stripped, setup),
		cmocka_unit_test_setup(test_fallback_icmp_rst, setup),
		cmocka_unit_test_setup(test_collision, setup),
		cmocka_unit_test_setup(test_blackhole_cleared, setup),
		cmocka_unit_test_setup(test_sc_connection, setup),
		cmocka_unit_test_setup(test_sc_not_applied, setup),
		cmocka_unit_test_setup(test_sc_syns, setup),
		cmocka_unit_test_setup(test_sc_kept, setup),
		cmocka_unit_test_setup(test_sc_own_flows, setup),
		cmocka_unit_test_setup(test_sc_icmp, setup),
	};

	return cmocka_run_group_tests_name("process", tests, NULL, NULL);
}
