// SPDX-License-Identifier: GPL-2.0 OR MIT
/* The decisions of DESIGN.md's "Roles", transition by transition. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include <anypin/process.h>

/* Only the fields the decisions read: addresses, ports, numbers, flags. */
struct tpkt {
	u8 buf[128];
	struct ap_pkt p;
};

static struct ap_addr addr(const char *s)
{
	struct ap_addr a;
	const char *why;

	assert_int_equal(ap_addr_parse(s, strlen(s), &a, &why), 0);
	return a;
}

static void mk(struct tpkt *t, const char *src, const char *dst, u16 sport, u16 dport,
	       u8 flags, u32 seq, u32 ack)
{
	struct ap_addr s = addr(src), d = addr(dst);
	struct ap_pkt *p = &t->p;

	memset(t, 0, sizeof(*t));
	p->data = t->buf;
	p->family = s.family;
	p->proto = AP_IPPROTO_TCP;
	if (s.family == AP_AF_INET) {
		p->saddr_off = 12;
		p->daddr_off = 16;
		p->l4_off = 20;
	} else {
		p->saddr_off = 8;
		p->daddr_off = 24;
		p->l4_off = 40;
	}
	memcpy(t->buf + p->saddr_off, s.b, ap_addr_len(s.family));
	memcpy(t->buf + p->daddr_off, d.b, ap_addr_len(d.family));
	p->tcp_off = p->l4_off;
	p->tcp_hlen = 20;
	p->len = p->l4_off + 20;
	p->sport = htons(sport);
	p->dport = htons(dport);
	p->tcp_flags = flags;
	p->seq = seq;
	p->ack = ack;
}

/* An ICMP error whose embedded packet went from @isrc to @idst. */
static void mk_icmp(struct tpkt *t, const char *isrc, const char *idst, u16 sport, u16 dport)
{
	struct ap_addr s = addr(isrc), d = addr(idst);
	struct ap_pkt *p = &t->p;
	u16 in = s.family == AP_AF_INET ? 28 : 48;

	mk(t, "192.0.2.254", "203.0.113.10", 0, 0, 0, 0, 0);
	if (s.family == AP_AF_INET6)
		mk(t, "2001:db8:ffff::1", "2001:db8:c::10", 0, 0, 0, 0, 0);
	p->proto = s.family == AP_AF_INET ? AP_IPPROTO_ICMP : AP_IPPROTO_ICMPV6;
	p->in_off = in;
	p->in_saddr_off = in + (s.family == AP_AF_INET ? 12 : 8);
	p->in_daddr_off = in + (s.family == AP_AF_INET ? 16 : 24);
	memcpy(t->buf + p->in_saddr_off, s.b, ap_addr_len(s.family));
	memcpy(t->buf + p->in_daddr_off, d.b, ap_addr_len(d.family));
	p->sport = htons(sport);
	p->dport = htons(dport);
}

static struct ap_conf conf;
static const struct ap_opts no_opts, cap_opts = { .cap = true }, auth_opts = { .auth = true };

#define SYN AP_TCP_SYN
#define SYNACK (AP_TCP_SYN | AP_TCP_ACK)
#define ACK AP_TCP_ACK

static void set(const char *key, const char *val)
{
	const char *why = NULL;

	if (ap_conf_set(&conf, key, strlen(key), val, strlen(val), &why))
		fail_msg("%s = %s: %s", key, val, why);
}

static int setup(void **state)
{
	(void)state;
	ap_conf_init(&conf);
	set("net.anypin.prefixes", "svc=192.0.2.0/24 svc6=2001:db8:a::/48 other=198.18.0.0/15");
	return 0;
}

/* A client flow after its SYN: 203.0.113.10:40000 -> 192.0.2.1:80, ISN 1000. */
static void client_syn_sent(struct ap_flow *f, u32 syn_data)
{
	struct tpkt t;
	struct ap_res r;

	memset(f, 0, sizeof(*f));
	mk(&t, "203.0.113.10", "192.0.2.1", 40000, 80, SYN, 1000, 0);
	t.p.tcp_paylen = syn_data;
	ap_key_of(&t.p, AP_ROLE_CLIENT, true, &f->key);
	ap_client_syn(f, true, &t.p, &no_opts, &conf, false, 0, 10, &r);
	assert_int_equal(f->state, AP_SYN_SENT);
}

static void client_bound(struct ap_flow *f)
{
	struct tpkt t;
	struct ap_res r;

	client_syn_sent(f, 0);
	mk(&t, "198.51.100.11", "203.0.113.10", 80, 40000, SYNACK, 5000, 1001);
	ap_client_synack(f, &t.p, &no_opts, &conf, false, 11, &r);
	assert_int_equal(f->state, AP_BOUND);
}

static void test_key_of(void **state)
{
	struct tpkt t;
	struct ap_key k;
	struct ap_addr a;

	(void)state;
	mk(&t, "203.0.113.10", "192.0.2.1", 40000, 80, SYN, 1, 0);
	ap_key_of(&t.p, AP_ROLE_CLIENT, true, &k);
	a = addr("203.0.113.10");
	assert_true(ap_addr_eq(&k.addr, &a));
	assert_int_equal(ntohs(k.port), 40000);
	assert_int_equal(ntohs(k.svc_port), 80);
	assert_int_equal(k.role, AP_ROLE_CLIENT);

	mk(&t, "198.51.100.11", "203.0.113.10", 80, 40000, SYNACK, 1, 2);
	ap_key_of(&t.p, AP_ROLE_CLIENT, false, &k);
	assert_true(ap_addr_eq(&k.addr, &a));
	assert_int_equal(ntohs(k.port), 40000);
	assert_int_equal(ntohs(k.svc_port), 80);

	/* Responder: keyed on the client's end both ways. */
	mk(&t, "203.0.113.10", "192.0.2.1", 40000, 80, SYN, 1, 0);
	ap_key_of(&t.p, AP_ROLE_RESPONDER, false, &k);
	assert_true(ap_addr_eq(&k.addr, &a));
	assert_int_equal(ntohs(k.port), 40000);
	assert_int_equal(ntohs(k.svc_port), 80);
	assert_int_equal(k.role, AP_ROLE_RESPONDER);
	mk(&t, "192.0.2.1", "203.0.113.10", 80, 40000, SYNACK, 1, 2);
	ap_key_of(&t.p, AP_ROLE_RESPONDER, true, &k);
	assert_true(ap_addr_eq(&k.addr, &a));
	assert_int_equal(ntohs(k.port), 40000);
	assert_int_equal(ntohs(k.svc_port), 80);

	/* ICMP errors embed a packet we sent. */
	mk_icmp(&t, "203.0.113.10", "198.51.100.11", 40000, 80);
	ap_key_of_icmp(&t.p, AP_ROLE_CLIENT, &k);
	assert_true(ap_addr_eq(&k.addr, &a));
	assert_int_equal(ntohs(k.port), 40000);
	assert_int_equal(ntohs(k.svc_port), 80);
	mk_icmp(&t, "198.51.100.11", "203.0.113.10", 80, 40000);
	ap_key_of_icmp(&t.p, AP_ROLE_RESPONDER, &k);
	assert_true(ap_addr_eq(&k.addr, &a));
	assert_int_equal(ntohs(k.port), 40000);
	assert_int_equal(ntohs(k.svc_port), 80);

	/* IPv6 addresses land whole. */
	mk(&t, "2001:db8:c::10", "2001:db8:a::1", 40000, 443, SYN, 1, 0);
	ap_key_of(&t.p, AP_ROLE_CLIENT, true, &k);
	a = addr("2001:db8:c::10");
	assert_true(ap_addr_eq(&k.addr, &a));
}

static void test_client_syn(void **state)
{
	struct tpkt t;
	struct ap_flow f;
	struct ap_res r;
	struct ap_addr a = addr("192.0.2.1");

	(void)state;
	mk(&t, "203.0.113.10", "192.0.2.1", 40000, 80, SYN, 1000, 0);

	ap_client_syn(NULL, false, &t.p, &no_opts, &conf, false, 0, 10, &r);
	assert_int_equal(r.act, AP_PASS);
	assert_int_equal(r.flags, AP_F_CREATE);
	assert_int_equal(r.stat, AP_STAT_MAX);

	memset(&f, 0xff, sizeof(f));
	ap_key_of(&t.p, AP_ROLE_CLIENT, true, &f.key);
	t.p.tcp_paylen = 7;
	ap_client_syn(&f, true, &t.p, &no_opts, &conf, false, 3, 10, &r);
	assert_int_equal(r.act, AP_PASS);
	assert_int_equal(r.flags, AP_F_ADD_OPT);
	assert_int_equal(r.stat, AP_STAT_SYN);
	assert_int_equal(f.state, AP_SYN_SENT);
	assert_int_equal(f.isn, 1000);
	assert_int_equal(f.syn_data, 7);
	assert_int_equal(f.last, 10);
	assert_int_equal(f.prefix, 3);
	assert_true(ap_addr_eq(&f.anycast, &a));
	assert_int_equal(f.unicast.family, 0);

	/* A retransmission refreshes; it already has the option this time. */
	conf.fallback_retries = 2;
	ap_client_syn(&f, false, &t.p, &cap_opts, &conf, false, 3, 12, &r);
	assert_int_equal(r.act, AP_PASS);
	assert_int_equal(r.flags, 0);
	assert_int_equal(r.stat, AP_STAT_SYN);
	assert_int_equal(f.last, 12);
	assert_int_equal(f.state, AP_SYN_SENT);

	/* A new ISN is a new connection on the same key. */
	t.p.seq = 77;
	t.p.tcp_paylen = 0;
	ap_client_syn(&f, false, &t.p, &no_opts, &conf, false, 3, 13, &r);
	assert_int_equal(f.isn, 77);
	assert_int_equal(f.syn_data, 0);
	assert_int_equal(r.flags, AP_F_ADD_OPT);
}

static void test_client_syn_auth(void **state)
{
	struct tpkt t;
	struct ap_flow f;
	struct ap_res r;

	(void)state;
	mk(&t, "203.0.113.10", "192.0.2.1", 40000, 179, SYN, 1000, 0);
	ap_client_syn(NULL, false, &t.p, &auth_opts, &conf, false, 0, 10, &r);
	assert_int_equal(r.act, AP_PASS);
	assert_int_equal(r.flags, 0);
	assert_int_equal(r.stat, AP_STAT_AUTH_SKIPPED);

	client_syn_sent(&f, 0);
	ap_client_syn(&f, false, &t.p, &auth_opts, &conf, false, 0, 10, &r);
	assert_int_equal(r.flags, AP_F_FREE);
	assert_int_equal(r.stat, AP_STAT_AUTH_SKIPPED);
}

static void test_client_syn_retry_bound(void **state)
{
	struct tpkt t;
	struct ap_flow f;
	struct ap_res r;
	struct ap_addr u1 = addr("198.51.100.11");

	(void)state;
	client_bound(&f);
	mk(&t, "203.0.113.10", "192.0.2.1", 40000, 80, SYN, 1000, 0);
	ap_client_syn(&f, false, &t.p, &no_opts, &conf, false, 0, 20, &r);
	assert_int_equal(r.act, AP_REWRITE_DST);
	assert_true(ap_addr_eq(&r.to, &u1));
	assert_int_equal(r.flags, AP_F_ADD_OPT);
	assert_int_equal(f.state, AP_BOUND);
	assert_int_equal(f.last, 20);

	/* Same ISN after close is a new attempt, not a retry. */
	f.state = AP_CLOSING;
	ap_client_syn(&f, false, &t.p, &no_opts, &conf, false, 0, 21, &r);
	assert_int_equal(r.act, AP_PASS);
	assert_int_equal(f.state, AP_SYN_SENT);
	assert_int_equal(f.unicast.family, 0);
}

static void test_client_bind(void **state)
{
	struct tpkt t;
	struct ap_flow f;
	struct ap_res r;
	struct ap_addr a = addr("192.0.2.1"), u1 = addr("198.51.100.11");

	(void)state;
	client_syn_sent(&f, 0);
	mk(&t, "198.51.100.11", "203.0.113.10", 80, 40000, SYNACK, 5000, 1001);
	ap_client_synack(&f, &t.p, &no_opts, &conf, false, 11, &r);
	assert_int_equal(r.act, AP_REWRITE_SRC);
	assert_true(ap_addr_eq(&r.to, &a));
	assert_int_equal(r.stat, AP_STAT_BOUND);
	/* The path passes capable SYNs: any blackhole record of A goes. */
	assert_int_equal(r.flags, AP_F_BH_CLEAR);
	assert_int_equal(f.state, AP_BOUND);
	assert_true(ap_addr_eq(&f.unicast, &u1));
	assert_int_equal(f.last, 11);

	/* The same instance repeating its SYN-ACK is still rewritten. */
	ap_client_synack(&f, &t.p, &no_opts, &conf, false, 12, &r);
	assert_int_equal(r.act, AP_REWRITE_SRC);
	assert_int_equal(r.stat, AP_STAT_REWRITTEN);
	assert_int_equal(f.last, 12);
}

static void test_client_bind_v6(void **state)
{
	struct tpkt t;
	struct ap_flow f;
	struct ap_res r;
	struct ap_addr a = addr("2001:db8:a::1"), u = addr("2001:db8:1::11");

	(void)state;
	memset(&f, 0, sizeof(f));
	mk(&t, "2001:db8:c::10", "2001:db8:a::1", 40000, 443, SYN, 0xfffffff0, 0);
	ap_key_of(&t.p, AP_ROLE_CLIENT, true, &f.key);
	ap_client_syn(&f, true, &t.p, &no_opts, &conf, false, 1, 1, &r);
	/* The ACK wraps past 2^32. */
	mk(&t, "2001:db8:1::11", "2001:db8:c::10", 443, 40000, SYNACK, 9, 0xfffffff1);
	ap_client_synack(&f, &t.p, &no_opts, &conf, false, 2, &r);
	assert_int_equal(r.stat, AP_STAT_BOUND);
	assert_true(ap_addr_eq(&f.unicast, &u));
	assert_true(ap_addr_eq(&r.to, &a));
}

static void expect_reject(const char *src, u16 sport, u16 dport, u32 ack,
			  const struct ap_opts *o, u8 stat, u32 syn_data)
{
	struct tpkt t;
	struct ap_flow f;
	struct ap_res r;

	client_syn_sent(&f, syn_data);
	mk(&t, src, "203.0.113.10", sport, dport, SYNACK, 5000, ack);
	ap_client_synack(&f, &t.p, o, &conf, false, 11, &r);
	assert_int_equal(r.act, AP_PASS);
	assert_int_equal(r.flags, 0);
	assert_int_equal(r.stat, stat);
	assert_int_equal(f.state, AP_SYN_SENT);
	assert_int_equal(f.unicast.family, 0);
}

static void test_client_reject(void **state)
{
	(void)state;
	expect_reject("198.51.100.11", 80, 40000, 1000, &no_opts, AP_STAT_REJ_ACK, 0);
	expect_reject("198.51.100.11", 80, 40000, 1002, &no_opts, AP_STAT_REJ_ACK, 0);
	expect_reject("198.51.100.11", 80, 40000, 0, &no_opts, AP_STAT_REJ_ACK, 0);
	/* Fast Open: up to the data the SYN carried, not beyond. */
	expect_reject("198.51.100.11", 80, 40000, 1001 + 101, &no_opts, AP_STAT_REJ_ACK, 100);
	expect_reject("198.51.100.11", 81, 40000, 1001, &no_opts, AP_STAT_REJ_PORTS, 0);
	expect_reject("198.51.100.11", 80, 40001, 1001, &no_opts, AP_STAT_REJ_PORTS, 0);
	expect_reject("198.51.100.11", 80, 40000, 1001, &auth_opts, AP_STAT_REJ_AUTH, 0);
	expect_reject("224.0.0.1", 80, 40000, 1001, &no_opts, AP_STAT_REJ_NOT_UNICAST, 0);
	expect_reject("127.0.0.1", 80, 40000, 1001, &no_opts, AP_STAT_REJ_NOT_UNICAST, 0);
	expect_reject("0.0.0.0", 80, 40000, 1001, &no_opts, AP_STAT_REJ_NOT_UNICAST, 0);
	/* Another anycast address, even of a different prefix, is no instance. */
	expect_reject("192.0.2.77", 80, 40000, 1001, &no_opts, AP_STAT_REJ_ANYCAST, 0);
	expect_reject("198.19.0.1", 80, 40000, 1001, &no_opts, AP_STAT_REJ_ANYCAST, 0);

	set("net.anypin.prefix.svc.responders", "198.51.100.0/28, 2001:db8:1::/64");
	expect_reject("198.51.100.27", 80, 40000, 1001, &no_opts, AP_STAT_REJ_RESPONDERS, 0);
	expect_reject("203.0.113.99", 80, 40000, 1001, &no_opts, AP_STAT_REJ_RESPONDERS, 0);
	set("net.anypin.prefix.svc.responders", "");
}

static void test_client_fastopen(void **state)
{
	struct tpkt t;
	struct ap_flow f;
	struct ap_res r;
	u32 ack;

	(void)state;
	/* Every ACK from ISN+1 to ISN+1+data binds. */
	for (ack = 1001; ack <= 1001 + 100; ack += 25) {
		client_syn_sent(&f, 100);
		mk(&t, "198.51.100.11", "203.0.113.10", 80, 40000, SYNACK, 5000, ack);
		ap_client_synack(&f, &t.p, &no_opts, &conf, false, 11, &r);
		assert_int_equal(r.stat, AP_STAT_BOUND);
	}
}

static void test_client_allowlist_accepts(void **state)
{
	struct tpkt t;
	struct ap_flow f;
	struct ap_res r;

	(void)state;
	set("net.anypin.prefix.svc.responders", "198.51.100.0/28");
	client_syn_sent(&f, 0);
	mk(&t, "198.51.100.11", "203.0.113.10", 80, 40000, SYNACK, 5000, 1001);
	ap_client_synack(&f, &t.p, &no_opts, &conf, false, 11, &r);
	assert_int_equal(r.stat, AP_STAT_BOUND);
	set("net.anypin.prefix.svc.responders", "");
}

static void test_client_plain(void **state)
{
	struct tpkt t;
	struct ap_flow f;
	struct ap_res r;

	(void)state;
	client_syn_sent(&f, 0);
	/* A forged answer from A cannot end the attempt. */
	mk(&t, "192.0.2.1", "203.0.113.10", 80, 40000, SYNACK, 5000, 4);
	ap_client_synack(&f, &t.p, &no_opts, &conf, false, 11, &r);
	assert_int_equal(r.stat, AP_STAT_REJ_ACK);
	assert_int_equal(r.flags, 0);

	mk(&t, "192.0.2.1", "203.0.113.10", 80, 40000, SYNACK, 5000, 1001);
	ap_client_synack(&f, &t.p, &no_opts, &conf, false, 11, &r);
	assert_int_equal(r.act, AP_PASS);
	assert_int_equal(r.flags, AP_F_FREE);
	assert_int_equal(r.stat, AP_STAT_PLAIN);
}

static void test_client_first_wins(void **state)
{
	struct tpkt t;
	struct ap_flow f;
	struct ap_res r;
	struct ap_addr u1 = addr("198.51.100.11");

	(void)state;
	client_bound(&f);
	mk(&t, "198.51.100.27", "203.0.113.10", 80, 40000, SYNACK, 7000, 1001);
	ap_client_synack(&f, &t.p, &no_opts, &conf, false, 12, &r);
	assert_int_equal(r.act, AP_DROP);
	assert_int_equal(r.flags, AP_F_SEND_RST);
	assert_int_equal(r.stat, AP_STAT_DUP_RESET);
	assert_int_equal(f.state, AP_BOUND);
	assert_true(ap_addr_eq(&f.unicast, &u1));

	/* A late answer from A itself is a loser too. */
	mk(&t, "192.0.2.1", "203.0.113.10", 80, 40000, SYNACK, 7000, 1001);
	ap_client_synack(&f, &t.p, &no_opts, &conf, false, 12, &r);
	assert_int_equal(r.act, AP_DROP);
	assert_int_equal(r.stat, AP_STAT_DUP_RESET);

	/* We never reset anyone on the word of a wrong ACK. */
	mk(&t, "198.51.100.27", "203.0.113.10", 80, 40000, SYNACK, 7000, 999);
	ap_client_synack(&f, &t.p, &no_opts, &conf, false, 12, &r);
	assert_int_equal(r.act, AP_PASS);
	assert_int_equal(r.flags, 0);
	assert_int_equal(r.stat, AP_STAT_REJ_ACK);
}

static void test_client_synack_wrong_role(void **state)
{
	struct tpkt t;
	struct ap_flow f;
	struct ap_res r;

	(void)state;
	client_syn_sent(&f, 0);
	f.state = AP_RESPONDING;
	mk(&t, "198.51.100.11", "203.0.113.10", 80, 40000, SYNACK, 5000, 1001);
	ap_client_synack(&f, &t.p, &no_opts, &conf, false, 11, &r);
	assert_int_equal(r.act, AP_PASS);
	assert_int_equal(r.flags, 0);
	assert_int_equal(f.state, AP_RESPONDING);
}

static void test_client_out_in(void **state)
{
	struct tpkt t;
	struct ap_flow f;
	struct ap_res r;
	struct ap_addr a = addr("192.0.2.1"), u1 = addr("198.51.100.11");

	(void)state;
	client_bound(&f);
	mk(&t, "203.0.113.10", "192.0.2.1", 40000, 80, ACK, 1001, 5001);
	ap_client_out(&f, &t.p, 30, &r);
	assert_int_equal(r.act, AP_REWRITE_DST);
	assert_true(ap_addr_eq(&r.to, &u1));
	assert_int_equal(r.stat, AP_STAT_REWRITTEN);
	assert_int_equal(f.last, 30);

	mk(&t, "198.51.100.11", "203.0.113.10", 80, 40000, ACK, 5001, 1001);
	ap_client_in(&f, &t.p, 31, &r);
	assert_int_equal(r.act, AP_REWRITE_SRC);
	assert_true(ap_addr_eq(&r.to, &a));
	assert_int_equal(f.last, 31);

	/* Someone else using the key's ports is left alone. */
	mk(&t, "198.51.100.27", "203.0.113.10", 80, 40000, ACK, 5001, 1001);
	ap_client_in(&f, &t.p, 32, &r);
	assert_int_equal(r.act, AP_PASS);
	assert_int_equal(f.last, 31);

	/* FIN from us: closing, still rewritten. */
	mk(&t, "203.0.113.10", "192.0.2.1", 40000, 80, ACK | AP_TCP_FIN, 1001, 5001);
	ap_client_out(&f, &t.p, 33, &r);
	assert_int_equal(r.act, AP_REWRITE_DST);
	assert_int_equal(f.state, AP_CLOSING);
	mk(&t, "198.51.100.11", "203.0.113.10", 80, 40000, ACK, 5001, 1002);
	ap_client_in(&f, &t.p, 34, &r);
	assert_int_equal(r.act, AP_REWRITE_SRC);

	/* RST from U closes too. */
	client_bound(&f);
	mk(&t, "198.51.100.11", "203.0.113.10", 80, 40000, AP_TCP_RST, 5001, 0);
	ap_client_in(&f, &t.p, 35, &r);
	assert_int_equal(r.act, AP_REWRITE_SRC);
	assert_int_equal(f.state, AP_CLOSING);
}

static void test_client_unanswered(void **state)
{
	struct tpkt t;
	struct ap_flow f;
	struct ap_res r;

	(void)state;
	client_syn_sent(&f, 0);
	mk(&t, "203.0.113.10", "192.0.2.1", 40000, 80, ACK, 1001, 0);
	ap_client_out(&f, &t.p, 11, &r);
	assert_int_equal(r.act, AP_PASS);
	assert_int_equal(r.flags, 0);

	mk(&t, "203.0.113.10", "192.0.2.1", 40000, 80, AP_TCP_RST, 1001, 0);
	ap_client_out(&f, &t.p, 11, &r);
	assert_int_equal(r.act, AP_PASS);
	assert_int_equal(r.flags, AP_F_FREE);

	/* A refuses: its RST passes and the attempt is forgotten. */
	mk(&t, "192.0.2.1", "203.0.113.10", 80, 40000, AP_TCP_RST | ACK, 0, 1001);
	ap_client_in(&f, &t.p, 11, &r);
	assert_int_equal(r.act, AP_PASS);
	assert_int_equal(r.flags, AP_F_FREE);

	/* Data from A before any answer is not ours to touch. */
	mk(&t, "192.0.2.1", "203.0.113.10", 80, 40000, ACK, 0, 1001);
	ap_client_in(&f, &t.p, 11, &r);
	assert_int_equal(r.act, AP_PASS);
	assert_int_equal(r.flags, 0);
}

static void resp_conf(void)
{
	set("net.anypin.prefix.svc.role", "responder");
	set("net.anypin.prefix.svc.unicast", "198.51.100.11");
}

static void test_resp(void **state)
{
	struct tpkt t;
	struct ap_flow f;
	struct ap_res r;
	const struct ap_pconf *pc;
	struct ap_addr a = addr("192.0.2.1"), u1 = addr("198.51.100.11");

	(void)state;
	resp_conf();
	pc = &conf.prefixes[ap_conf_find(&conf, "svc", 3)];

	mk(&t, "203.0.113.10", "192.0.2.1", 40000, 80, SYN, 1000, 0);
	ap_resp_syn(NULL, false, &t.p, &cap_opts, pc, 0, 10, &r);
	assert_int_equal(r.act, AP_PASS);
	assert_int_equal(r.flags, AP_F_CREATE);

	memset(&f, 0, sizeof(f));
	ap_key_of(&t.p, AP_ROLE_RESPONDER, false, &f.key);
	ap_resp_syn(&f, true, &t.p, &cap_opts, pc, 0, 10, &r);
	assert_int_equal(r.act, AP_PASS);
	assert_int_equal(r.flags, 0);
	assert_int_equal(r.stat, AP_STAT_RESP_SYN);
	assert_int_equal(f.state, AP_RESPONDING);
	assert_true(ap_addr_eq(&f.anycast, &a));
	assert_true(ap_addr_eq(&f.unicast, &u1));

	/* Retransmitted SYN: refreshed, not counted again. */
	ap_resp_syn(&f, false, &t.p, &cap_opts, pc, 0, 11, &r);
	assert_int_equal(r.stat, AP_STAT_MAX);
	assert_int_equal(f.last, 11);

	/* Our SYN-ACK leaves from U, with the option echoed. */
	mk(&t, "192.0.2.1", "203.0.113.10", 80, 40000, SYNACK, 5000, 1001);
	ap_resp_out(&f, &t.p, 12, &r);
	assert_int_equal(r.act, AP_REWRITE_SRC);
	assert_true(ap_addr_eq(&r.to, &u1));
	assert_int_equal(r.flags, AP_F_ADD_OPT);

	mk(&t, "192.0.2.1", "203.0.113.10", 80, 40000, ACK, 5001, 1001);
	ap_resp_out(&f, &t.p, 13, &r);
	assert_int_equal(r.act, AP_REWRITE_SRC);
	assert_int_equal(r.flags, 0);

	/* Not from A (another local address): untouched. */
	mk(&t, "198.51.100.11", "203.0.113.10", 80, 40000, ACK, 5001, 1001);
	ap_resp_out(&f, &t.p, 13, &r);
	assert_int_equal(r.act, AP_PASS);

	mk(&t, "203.0.113.10", "198.51.100.11", 40000, 80, ACK, 1001, 5001);
	ap_resp_in(&f, &t.p, 14, &r);
	assert_int_equal(r.act, AP_REWRITE_DST);
	assert_true(ap_addr_eq(&r.to, &a));
	assert_int_equal(f.last, 14);

	/* To A itself: nothing to undo. */
	mk(&t, "203.0.113.10", "192.0.2.1", 40000, 80, ACK, 1001, 5001);
	ap_resp_in(&f, &t.p, 15, &r);
	assert_int_equal(r.act, AP_PASS);

	mk(&t, "203.0.113.10", "198.51.100.11", 40000, 80, ACK | AP_TCP_FIN, 1001, 5001);
	ap_resp_in(&f, &t.p, 16, &r);
	assert_int_equal(f.state, AP_CLOSING);

	/* A new SYN on the closing key starts over. */
	mk(&t, "203.0.113.10", "192.0.2.1", 40000, 80, SYN, 1000, 0);
	ap_resp_syn(&f, false, &t.p, &cap_opts, pc, 0, 17, &r);
	assert_int_equal(f.state, AP_RESPONDING);
	assert_int_equal(r.stat, AP_STAT_RESP_SYN);
	t.p.seq = 3000;
	ap_resp_syn(&f, false, &t.p, &cap_opts, pc, 0, 18, &r);
	assert_int_equal(f.isn, 3000);
	assert_int_equal(r.stat, AP_STAT_RESP_SYN);
}

static void test_resp_legacy(void **state)
{
	struct tpkt t;
	struct ap_flow f;
	struct ap_res r;
	const struct ap_pconf *pc;

	(void)state;
	resp_conf();
	pc = &conf.prefixes[ap_conf_find(&conf, "svc", 3)];
	mk(&t, "203.0.113.10", "192.0.2.1", 40000, 80, SYN, 1000, 0);
	ap_resp_syn(NULL, false, &t.p, &no_opts, pc, 0, 10, &r);
	assert_int_equal(r.act, AP_PASS);
	assert_int_equal(r.flags, 0);
	assert_int_equal(r.stat, AP_STAT_RESP_LEGACY);

	memset(&f, 0, sizeof(f));
	ap_resp_syn(&f, false, &t.p, &no_opts, pc, 0, 10, &r);
	assert_int_equal(r.flags, AP_F_FREE);
	ap_resp_syn(&f, false, &t.p, &auth_opts, pc, 0, 10, &r);
	assert_int_equal(r.stat, AP_STAT_RESP_LEGACY);

	/* Capable, but no unicast address of the family: answer as before. */
	mk(&t, "2001:db8:c::10", "2001:db8:a::1", 40000, 80, SYN, 1000, 0);
	ap_resp_syn(NULL, false, &t.p, &cap_opts, pc, 0, 10, &r);
	assert_int_equal(r.act, AP_PASS);
	assert_int_equal(r.flags, 0);
	assert_int_equal(r.stat, AP_STAT_RESP_NO_UNICAST);
}

/* A SYN and its retransmissions: capable, then plain (fallback_retries 1). */
static void test_client_fallback(void **state)
{
	struct tpkt t;
	struct ap_flow f;
	struct ap_res r;

	(void)state;
	client_syn_sent(&f, 0);
	assert_int_equal(f.tries, 1);
	mk(&t, "203.0.113.10", "192.0.2.1", 40000, 80, SYN, 1000, 0);
	ap_client_syn(&f, false, &t.p, &no_opts, &conf, false, 0, 11, &r);
	assert_int_equal(r.act, AP_PASS);
	assert_int_equal(r.flags, 0);
	assert_int_equal(r.stat, AP_STAT_FALLBACK);
	assert_int_equal(f.state, AP_FALLBACK);
	assert_int_equal(f.last, 11);

	/* Later retransmissions stay plain, counted once. */
	ap_client_syn(&f, false, &t.p, &no_opts, &conf, false, 0, 13, &r);
	assert_int_equal(r.flags, 0);
	assert_int_equal(r.stat, AP_STAT_MAX);
	assert_int_equal(f.state, AP_FALLBACK);
	assert_int_equal(f.last, 13);

	/* Answered from A: A blackholes capable SYNs on this path. */
	mk(&t, "192.0.2.1", "203.0.113.10", 80, 40000, SYNACK, 5000, 1001);
	ap_client_synack(&f, &t.p, &no_opts, &conf, false, 14, &r);
	assert_int_equal(r.act, AP_PASS);
	assert_int_equal(r.flags, AP_F_FREE | AP_F_BLACKHOLE);
	assert_int_equal(r.stat, AP_STAT_BLACKHOLED);
}

static void test_client_fallback_retries(void **state)
{
	struct tpkt t;
	struct ap_flow f;
	struct ap_res r;
	int i;

	(void)state;
	conf.fallback_retries = 2;
	client_syn_sent(&f, 0);
	mk(&t, "203.0.113.10", "192.0.2.1", 40000, 80, SYN, 1000, 0);
	ap_client_syn(&f, false, &t.p, &no_opts, &conf, false, 0, 11, &r);
	assert_int_equal(r.flags, AP_F_ADD_OPT);
	assert_int_equal(r.stat, AP_STAT_SYN);
	assert_int_equal(f.tries, 2);
	ap_client_syn(&f, false, &t.p, &no_opts, &conf, false, 0, 12, &r);
	assert_int_equal(r.flags, 0);
	assert_int_equal(f.state, AP_FALLBACK);

	/* 0: never. */
	conf.fallback_retries = 0;
	client_syn_sent(&f, 0);
	for (i = 0; i < 300; i++) {
		ap_client_syn(&f, false, &t.p, &no_opts, &conf, false, 0, 12, &r);
		assert_int_equal(r.flags, AP_F_ADD_OPT);
		assert_int_equal(f.state, AP_SYN_SENT);
	}
	assert_int_equal(f.tries, 0xff);
}

/* A SYN with no room for the option was never capable: no fallback. */
static void test_client_fallback_noroom(void **state)
{
	struct tpkt t;
	struct ap_flow f;
	struct ap_res r;

	(void)state;
	memset(&f, 0, sizeof(f));
	mk(&t, "203.0.113.10", "192.0.2.1", 40000, 80, SYN, 1000, 0);
	t.p.tcp_hlen = 60;
	ap_key_of(&t.p, AP_ROLE_CLIENT, true, &f.key);
	ap_client_syn(&f, true, &t.p, &no_opts, &conf, false, 0, 10, &r);
	assert_int_equal(f.tries, 0);
	t.p.tcp_hlen = 57;
	ap_client_syn(&f, false, &t.p, &no_opts, &conf, false, 0, 11, &r);
	assert_int_equal(f.state, AP_SYN_SENT);
	assert_int_equal(f.tries, 0);
	t.p.tcp_hlen = 56;
	ap_client_syn(&f, false, &t.p, &no_opts, &conf, false, 0, 12, &r);
	assert_int_equal(f.tries, 1);
	ap_client_syn(&f, false, &t.p, &no_opts, &conf, false, 0, 13, &r);
	assert_int_equal(f.state, AP_FALLBACK);
}

static void test_client_blackholed(void **state)
{
	struct tpkt t;
	struct ap_flow f;
	struct ap_res r;

	(void)state;
	mk(&t, "203.0.113.10", "192.0.2.1", 40001, 80, SYN, 3000, 0);
	ap_client_syn(NULL, false, &t.p, &no_opts, &conf, true, 0, 10, &r);
	assert_int_equal(r.act, AP_PASS);
	assert_int_equal(r.flags, 0);
	assert_int_equal(r.stat, AP_STAT_BH_PLAIN);

	/* A new connection on a key with an entry: the entry goes. */
	client_syn_sent(&f, 0);
	ap_client_syn(&f, false, &t.p, &no_opts, &conf, true, 0, 11, &r);
	assert_int_equal(r.flags, AP_F_FREE);
	assert_int_equal(r.stat, AP_STAT_BH_PLAIN);

	/* An attempt begun before the detection goes on as it was. */
	client_syn_sent(&f, 0);
	mk(&t, "203.0.113.10", "192.0.2.1", 40000, 80, SYN, 1000, 0);
	ap_client_syn(&f, false, &t.p, &no_opts, &conf, true, 0, 11, &r);
	assert_int_equal(r.stat, AP_STAT_FALLBACK);
	client_bound(&f);
	ap_client_syn(&f, false, &t.p, &no_opts, &conf, true, 0, 12, &r);
	assert_int_equal(r.act, AP_REWRITE_DST);

	/* An auth SYN is left alone before anything else. */
	ap_client_syn(NULL, false, &t.p, &auth_opts, &conf, true, 0, 12, &r);
	assert_int_equal(r.stat, AP_STAT_AUTH_SKIPPED);
}

/*
 * A SYN-ACK from U after the plain retry left: dropped (its responder may
 * have ended its entry), and the path did answer, so no blackhole.
 */
static void test_client_fallback_late(void **state)
{
	struct tpkt t;
	struct ap_flow f;
	struct ap_res r;

	(void)state;
	client_syn_sent(&f, 0);
	mk(&t, "203.0.113.10", "192.0.2.1", 40000, 80, SYN, 1000, 0);
	ap_client_syn(&f, false, &t.p, &no_opts, &conf, false, 0, 11, &r);
	mk(&t, "198.51.100.11", "203.0.113.10", 80, 40000, SYNACK, 5000, 1001);
	ap_client_synack(&f, &t.p, &no_opts, &conf, false, 12, &r);
	assert_int_equal(r.act, AP_DROP);
	assert_int_equal(r.flags, 0);
	assert_int_equal(r.stat, AP_STAT_MAX);
	assert_int_equal(f.state, AP_FALLBACK);
	assert_true(f.flags & AP_FLOW_ANSWERED);

	/* Checks still come first. */
	mk(&t, "198.51.100.11", "203.0.113.10", 80, 40000, SYNACK, 5000, 999);
	ap_client_synack(&f, &t.p, &no_opts, &conf, false, 12, &r);
	assert_int_equal(r.act, AP_PASS);
	assert_int_equal(r.stat, AP_STAT_REJ_ACK);

	mk(&t, "192.0.2.1", "203.0.113.10", 80, 40000, SYNACK, 5000, 1001);
	ap_client_synack(&f, &t.p, &no_opts, &conf, false, 13, &r);
	assert_int_equal(r.flags, AP_F_FREE);
	assert_int_equal(r.stat, AP_STAT_PLAIN);
}

static void test_client_collision(void **state)
{
	struct tpkt t;
	struct ap_flow f;
	struct ap_res r;

	(void)state;
	client_syn_sent(&f, 0);
	mk(&t, "198.51.100.11", "203.0.113.10", 80, 40000, SYNACK, 5000, 1001);
	ap_client_synack(&f, &t.p, &no_opts, &conf, true, 11, &r);
	assert_int_equal(r.act, AP_DROP);
	assert_int_equal(r.stat, AP_STAT_COLLISION);
	assert_int_equal(f.state, AP_FALLBACK);
	assert_int_equal(f.unicast.family, 0);

	/* The plain retry's answer from A is no blackhole. */
	mk(&t, "192.0.2.1", "203.0.113.10", 80, 40000, SYNACK, 5000, 1001);
	ap_client_synack(&f, &t.p, &no_opts, &conf, false, 12, &r);
	assert_int_equal(r.flags, AP_F_FREE);
	assert_int_equal(r.stat, AP_STAT_PLAIN);

	/* A rejected source is rejected, collision or not. */
	client_syn_sent(&f, 0);
	mk(&t, "192.0.2.77", "203.0.113.10", 80, 40000, SYNACK, 5000, 1001);
	ap_client_synack(&f, &t.p, &no_opts, &conf, true, 11, &r);
	assert_int_equal(r.act, AP_PASS);
	assert_int_equal(r.stat, AP_STAT_REJ_ANYCAST);
	assert_int_equal(f.state, AP_SYN_SENT);
}

/* The client's plain retry of a capable SYN ends the responder's entry. */
static void test_resp_fallback(void **state)
{
	struct tpkt t;
	struct ap_flow f;
	struct ap_res r;
	const struct ap_pconf *pc;

	(void)state;
	resp_conf();
	pc = &conf.prefixes[ap_conf_find(&conf, "svc", 3)];
	mk(&t, "203.0.113.10", "192.0.2.1", 40000, 80, SYN, 1000, 0);
	memset(&f, 0, sizeof(f));
	ap_key_of(&t.p, AP_ROLE_RESPONDER, false, &f.key);
	ap_resp_syn(&f, true, &t.p, &cap_opts, pc, 0, 10, &r);
	ap_resp_syn(&f, false, &t.p, &no_opts, pc, 0, 11, &r);
	assert_int_equal(r.act, AP_PASS);
	assert_int_equal(r.flags, AP_F_FREE);
	assert_int_equal(r.stat, AP_STAT_FALLBACK);

	/* A middlebox reset our SYN-ACK first: still its fallback. */
	ap_resp_syn(&f, true, &t.p, &cap_opts, pc, 0, 10, &r);
	mk(&t, "203.0.113.10", "198.51.100.11", 40000, 80, AP_TCP_RST, 1001, 0);
	ap_resp_in(&f, &t.p, 10, &r);
	assert_int_equal(f.state, AP_CLOSING);
	mk(&t, "203.0.113.10", "192.0.2.1", 40000, 80, SYN, 1000, 0);
	ap_resp_syn(&f, false, &t.p, &no_opts, pc, 0, 11, &r);
	assert_int_equal(r.flags, AP_F_FREE);
	assert_int_equal(r.stat, AP_STAT_FALLBACK);

	/* Another ISN: a new, legacy connection on the key. */
	ap_resp_syn(&f, true, &t.p, &cap_opts, pc, 0, 10, &r);
	t.p.seq = 2000;
	ap_resp_syn(&f, false, &t.p, &no_opts, pc, 0, 11, &r);
	assert_int_equal(r.flags, AP_F_FREE);
	assert_int_equal(r.stat, AP_STAT_RESP_LEGACY);

	/* TCP-MD5 on the retry is no fallback either. */
	t.p.seq = 1000;
	ap_resp_syn(&f, true, &t.p, &cap_opts, pc, 0, 10, &r);
	ap_resp_syn(&f, false, &t.p, &auth_opts, pc, 0, 11, &r);
	assert_int_equal(r.stat, AP_STAT_RESP_LEGACY);
}

/*
 * ap_flow_pin(): what a datapath that leaves established packets to the
 * kernel (anypind's nftables maps) rewrites, state by state, both
 * families. Each tuple is written out whole, as the packet carries it.
 */
struct pin_net {
	const char *c, *a, *u, *a2;
	const char *prefix;
};

static const struct pin_net pin_nets[] = {
	{ "203.0.113.10", "192.0.2.1", "198.51.100.11", "192.0.2.2", "svc" },
	{ "2001:db8:c::10", "2001:db8:a::1", "2001:db8:1::11", "2001:db8:a::2", "svc6" },
};

/* A tuple as the packet carries it, and the address the rewrite puts in. */
struct want_rw {
	const char *s;
	u16 sp;
	const char *d;
	u16 dp;
	const char *to;
};

static void expect_rw(const struct ap_tuple *t, const struct ap_addr *to, struct want_rw w)
{
	struct ap_addr ws = addr(w.s), wd = addr(w.d), wt = addr(w.to);

	assert_true(ap_addr_eq(&t->saddr, &ws));
	assert_int_equal(ntohs(t->sport), w.sp);
	assert_true(ap_addr_eq(&t->daddr, &wd));
	assert_int_equal(ntohs(t->dport), w.dp);
	assert_true(ap_addr_eq(to, &wt));
}

static void expect_pin(const struct ap_flow *f, u8 role, struct want_rw out, struct want_rw in)
{
	struct ap_pin pin;

	memset(&pin, 0xa5, sizeof(pin));
	assert_true(ap_flow_pin(f, &pin));
	assert_int_equal(pin.role, role);
	expect_rw(&pin.out, &pin.out_to, out);
	expect_rw(&pin.in, &pin.in_to, in);
}

static void expect_no_pin(const struct ap_flow *f)
{
	struct ap_pin pin;

	assert_false(ap_flow_pin(f, &pin));
}

/*
 * One packet of a flow's life and where it leaves the flow: the packet's
 * ends by name (c: the client, a and 2: two anycast addresses, u: the
 * instance's unicast address), the decision it goes to, the state after,
 * and the anycast address the flow is then pinned through (0: none).
 */
enum { PIN_CLIENT_SYN, PIN_CLIENT_SYNACK, PIN_CLIENT_OUT, PIN_RESP_SYN, PIN_RESP_IN };

struct pin_step {
	u8 decide;
	char src, dst;
	u8 flags;
	u32 seq, ack;
	u8 state;
	char pinned;
};

static const struct pin_step client_life[] = {
	{ PIN_CLIENT_SYN, 'c', 'a', SYN, 1000, 0, AP_SYN_SENT, 0 },
	/* Bound: ours go to U, U's come back as from A. */
	{ PIN_CLIENT_SYNACK, 'u', 'c', SYNACK, 5000, 1001, AP_BOUND, 'a' },
	/* Closing: the same rewrites until the entry goes. */
	{ PIN_CLIENT_OUT, 'c', 'a', ACK | AP_TCP_FIN, 1001, 5001, AP_CLOSING, 'a' },
	/* A new connection on the key: not pinned until its SYN-ACK ... */
	{ PIN_CLIENT_SYN, 'c', '2', SYN, 7000, 0, AP_SYN_SENT, 0 },
	/* ... and its retransmission goes plain: fallen back, never pinned. */
	{ PIN_CLIENT_SYN, 'c', '2', SYN, 7000, 0, AP_FALLBACK, 0 },
};

static const struct pin_step resp_life[] = {
	/* Ours from A leave from U; the client's to U reach A. */
	{ PIN_RESP_SYN, 'c', 'a', SYN, 1000, 0, AP_RESPONDING, 'a' },
	{ PIN_RESP_IN, 'c', 'u', ACK | AP_TCP_FIN, 1001, 5001, AP_CLOSING, 'a' },
	/* The client's port again, to another address of the prefix. */
	{ PIN_RESP_SYN, 'c', '2', SYN, 9000, 0, AP_RESPONDING, '2' },
};

static const char *pin_end(const struct pin_net *n, char c)
{
	switch (c) {
	case 'c':
		return n->c;
	case 'a':
		return n->a;
	case 'u':
		return n->u;
	}
	return n->a2;
}

/* What the flow's pin must be, through anycast @a: the tuples written out. */
static void expect_pinned(const struct ap_flow *f, const struct pin_net *n, const char *a)
{
	if (f->key.role == AP_ROLE_CLIENT)
		expect_pin(f, AP_ROLE_CLIENT, (struct want_rw){ n->c, 40000, a, 80, n->u },
			   (struct want_rw){ n->u, 80, n->c, 40000, a });
	else
		expect_pin(f, AP_ROLE_RESPONDER, (struct want_rw){ a, 80, n->c, 40000, n->u },
			   (struct want_rw){ n->c, 40000, n->u, 80, a });
}

/* Runs @life on a flow of @role, from nothing, in both families. */
static void live(const struct pin_step *life, unsigned int steps, u8 role, struct ap_flow *f)
{
	const struct pin_step *st;
	const struct pin_net *n;
	const struct ap_pconf *pc;
	unsigned int i, j;
	struct tpkt t;
	struct ap_res r;
	bool out;

	for (i = 0; i < 2; i++) {
		n = &pin_nets[i];
		pc = &conf.prefixes[ap_conf_find(&conf, n->prefix, strlen(n->prefix))];
		memset(f, 0, sizeof(*f));
		for (j = 0; j < steps; j++) {
			st = &life[j];
			out = st->src == 'c';
			mk(&t, pin_end(n, st->src), pin_end(n, st->dst), out ? 40000 : 80,
			   out ? 80 : 40000, st->flags, st->seq, st->ack);
			if (!j)
				ap_key_of(&t.p, role, role == AP_ROLE_CLIENT, &f->key);
			switch (st->decide) {
			case PIN_CLIENT_SYN:
				ap_client_syn(f, !j, &t.p, &no_opts, &conf, false, (u8)i, 10 + j, &r);
				break;
			case PIN_CLIENT_SYNACK:
				ap_client_synack(f, &t.p, &no_opts, &conf, false, 10 + j, &r);
				break;
			case PIN_CLIENT_OUT:
				ap_client_out(f, &t.p, 10 + j, &r);
				break;
			case PIN_RESP_SYN:
				ap_resp_syn(f, !j, &t.p, &cap_opts, pc, (u8)i, 10 + j, &r);
				break;
			default:
				ap_resp_in(f, &t.p, 10 + j, &r);
			}
			assert_int_equal(f->state, st->state);
			if (st->pinned)
				expect_pinned(f, n, pin_end(n, st->pinned));
			else
				expect_no_pin(f);
		}
	}
}

static void test_pin_client(void **state)
{
	struct ap_flow f;

	(void)state;
	live(client_life, sizeof(client_life) / sizeof(client_life[0]), AP_ROLE_CLIENT, &f);

	/* Bound or closing with no unicast address is nothing to rewrite to. */
	client_bound(&f);
	memset(&f.unicast, 0, sizeof(f.unicast));
	expect_no_pin(&f);
	f.state = AP_CLOSING;
	expect_no_pin(&f);
}

static void test_pin_resp(void **state)
{
	struct ap_flow f;

	(void)state;
	set("net.anypin.prefix.svc.role", "responder");
	set("net.anypin.prefix.svc.unicast", pin_nets[0].u);
	set("net.anypin.prefix.svc6.role", "responder");
	set("net.anypin.prefix.svc6.unicast", pin_nets[1].u);
	live(resp_life, sizeof(resp_life) / sizeof(resp_life[0]), AP_ROLE_RESPONDER, &f);

	/* Client states on a responder entry pin nothing. */
	f.state = AP_SYN_SENT;
	expect_no_pin(&f);
	f.state = AP_BOUND;
	expect_no_pin(&f);
}

static void test_icmp(void **state)
{
	struct tpkt t;
	struct ap_flow f;
	struct ap_res r;
	struct ap_addr a = addr("192.0.2.1");

	(void)state;
	client_syn_sent(&f, 0);
	mk_icmp(&t, "203.0.113.10", "198.51.100.11", 40000, 80);
	ap_icmp_in(&f, &t.p, &r);
	assert_int_equal(r.act, AP_PASS);

	client_bound(&f);
	ap_icmp_in(&f, &t.p, &r);
	assert_int_equal(r.act, AP_REWRITE_DST);
	assert_true(ap_addr_eq(&r.to, &a));
	assert_int_equal(r.stat, AP_STAT_ICMP);

	/* About a packet to A: already what the socket knows. */
	mk_icmp(&t, "203.0.113.10", "192.0.2.1", 40000, 80);
	ap_icmp_in(&f, &t.p, &r);
	assert_int_equal(r.act, AP_PASS);

	memset(&f, 0, sizeof(f));
	f.key.role = AP_ROLE_RESPONDER;
	f.state = AP_RESPONDING;
	f.anycast = a;
	f.unicast = addr("198.51.100.11");
	mk_icmp(&t, "198.51.100.11", "203.0.113.10", 80, 40000);
	ap_icmp_in(&f, &t.p, &r);
	assert_int_equal(r.act, AP_REWRITE_SRC);
	assert_true(ap_addr_eq(&r.to, &a));
	mk_icmp(&t, "192.0.2.1", "203.0.113.10", 80, 40000);
	ap_icmp_in(&f, &t.p, &r);
	assert_int_equal(r.act, AP_PASS);
}

/*
 * A lookup finds an entry exactly when the decision it is for acts on it:
 * the match rules are the decisions' own, for every state and source.
 */
static void test_match_rules(void **state)
{
	static const u8 states[] = { AP_SYN_SENT, AP_BOUND, AP_CLOSING, AP_FALLBACK };
	static const char *const srcs[] = { "198.51.100.11", "192.0.2.1", "198.51.100.27" };
	struct ap_flow f, g;
	struct tpkt t;
	struct ap_res r;
	unsigned int i, j;
	bool acts;

	(void)state;
	for (i = 0; i < sizeof(states); i++) {
		for (j = 0; j < 3; j++) {
			client_bound(&f);
			f.state = states[i];
			mk(&t, srcs[j], "203.0.113.10", 80, 40000, AP_TCP_RST, 5001, 1001);
			g = f;
			ap_client_in(&g, &t.p, 20, &r);
			acts = r.act != AP_PASS || r.flags;
			assert_int_equal(ap_flow_match(&f, &t.p, AP_FIND_IN),
					 acts ? AP_MATCH_EXACT : AP_MATCH_NONE);
			assert_int_equal(ap_flow_match(&f, &t.p, AP_FIND_PINNED),
					 r.act == AP_REWRITE_SRC ? AP_MATCH_EXACT : AP_MATCH_NONE);

			mk_icmp(&t, "203.0.113.10", srcs[j], 40000, 80);
			ap_icmp_in(&f, &t.p, &r);
			assert_int_equal(ap_flow_match(&f, &t.p, AP_FIND_ICMP),
					 r.act != AP_PASS ? AP_MATCH_EXACT : AP_MATCH_NONE);

			f.key.role = AP_ROLE_RESPONDER;
			f.state = AP_RESPONDING;
			mk_icmp(&t, srcs[j], "203.0.113.10", 80, 40000);
			ap_icmp_in(&f, &t.p, &r);
			assert_int_equal(ap_flow_match(&f, &t.p, AP_FIND_ICMP),
					 r.act != AP_PASS ? AP_MATCH_EXACT : AP_MATCH_NONE);
		}
	}
	/* A lookup of no known kind matches nothing. */
	assert_int_equal(ap_flow_match(&f, &t.p, (enum ap_find)99), AP_MATCH_NONE);
}

static void test_expiry(void **state)
{
	struct ap_flow f;

	(void)state;
	memset(&f, 0, sizeof(f));
	f.last = 0xfffffff0;	/* the clock wraps */

	f.state = AP_SYN_SENT;
	assert_false(ap_flow_expired(&f, &conf, f.last + 75));
	assert_true(ap_flow_expired(&f, &conf, f.last + 76));
	f.state = AP_FALLBACK;
	assert_false(ap_flow_expired(&f, &conf, f.last + 75));
	assert_true(ap_flow_expired(&f, &conf, f.last + 76));
	f.state = AP_CLOSING;
	assert_false(ap_flow_expired(&f, &conf, f.last + 60));
	assert_true(ap_flow_expired(&f, &conf, f.last + 61));
	f.state = AP_BOUND;
	assert_false(ap_flow_expired(&f, &conf, f.last + 432000));
	assert_true(ap_flow_expired(&f, &conf, f.last + 432001));
	f.state = AP_RESPONDING;
	assert_false(ap_flow_expired(&f, &conf, f.last + 432000));
	assert_true(ap_flow_expired(&f, &conf, f.last + 432001));

	set("net.anypin.syn_timeout", "5");
	f.state = AP_SYN_SENT;
	assert_true(ap_flow_expired(&f, &conf, f.last + 6));

	/*
	 * A clock read before another CPU touched the entry: behind its last
	 * packet, which is no idle time. It used to read as 2^32 - 1 seconds
	 * and killed live bound flows under load.
	 */
	f.state = AP_BOUND;
	f.last = 1000;
	assert_false(ap_flow_expired(&f, &conf, 999));
	assert_false(ap_flow_expired(&f, &conf, 1000 - 2592001));
	f.state = AP_SYN_SENT;
	assert_false(ap_flow_expired(&f, &conf, 999));
}

static void test_evict_rank(void **state)
{
	struct ap_flow f;
	int syn, closing, resp, bound;

	(void)state;
	memset(&f, 0, sizeof(f));
	f.state = AP_SYN_SENT;
	syn = ap_flow_evict_rank(&f);
	f.state = AP_CLOSING;
	closing = ap_flow_evict_rank(&f);
	f.state = AP_RESPONDING;
	resp = ap_flow_evict_rank(&f);
	f.state = AP_BOUND;
	bound = ap_flow_evict_rank(&f);
	f.state = AP_FALLBACK;
	assert_int_equal(ap_flow_evict_rank(&f), syn);
	assert_true(syn < closing);
	assert_true(closing < resp);
	assert_true(resp < bound);
}

static void test_format(void **state)
{
	struct ap_flow f;
	char buf[256];
	u32 n;

	(void)state;
	client_bound(&f);
	n = ap_flow_format(&f, &conf, 42, buf, sizeof(buf));
	assert_string_equal(buf,
		"client svc bound 203.0.113.10 40000 192.0.2.1 80 198.51.100.11 31\n");
	assert_int_equal(n, strlen(buf));
	assert_int_equal(strlen(AP_FLOW_HEADER) > 0, 1);

	client_syn_sent(&f, 0);
	n = ap_flow_format(&f, &conf, 10, buf, sizeof(buf));
	assert_string_equal(buf, "client svc syn_sent 203.0.113.10 40000 192.0.2.1 80 - 0\n");

	/* A prefix removed since: the flow is still listed. */
	set("net.anypin.prefixes", "svc6=2001:db8:a::/48");
	ap_flow_format(&f, &conf, 10, buf, sizeof(buf));
	assert_string_equal(buf, "client - syn_sent 203.0.113.10 40000 192.0.2.1 80 - 0\n");

	/* Truncation keeps the NUL inside the buffer. */
	memset(buf, 'x', sizeof(buf));
	n = ap_flow_format(&f, &conf, 10, buf, 8);
	assert_int_equal(n, 7);
	assert_int_equal(buf[7], 0);
	assert_int_equal(buf[8], 'x');
	assert_int_equal(ap_flow_format(&f, &conf, 10, buf, 0), 0);
}

static void test_stats_format(void **state)
{
	u64 v[AP_STAT_MAX];
	char buf[1024], want[1024], *w = want;
	int i;

	(void)state;
	ap_stats_header(buf, sizeof(buf));
	w += sprintf(w, "prefix");
	for (i = 0; i < AP_STAT_MAX; i++)
		w += sprintf(w, " %s", ap_stat_names[i]);
	sprintf(w, "\n");
	assert_string_equal(buf, want);

	for (i = 0; i < AP_STAT_MAX; i++)
		v[i] = (u64)i * 1000003ULL * (i & 1 ? 1 : 4294967311ULL);
	v[0] = 0;
	v[1] = UINT64_MAX;
	v[2] = 10000000000000000000ULL;
	v[3] = 9;
	v[4] = 10;
	w = want;
	w += sprintf(w, "dns");
	for (i = 0; i < AP_STAT_MAX; i++)
		w += sprintf(w, " %llu", (unsigned long long)v[i]);
	sprintf(w, "\n");
	assert_int_equal(ap_stats_row("dns", v, buf, sizeof(buf)), strlen(want));
	assert_string_equal(buf, want);

	assert_int_equal(ap_stats_row("dns", v, buf, 4), 3);
	assert_string_equal(buf, "dns");
	assert_int_equal(ap_stats_row("dns", v, buf, 0), 0);
	assert_int_equal(ap_stats_header(buf, 0), 0);
}

static void test_names(void **state)
{
	int i;

	(void)state;
	for (i = 0; i < AP_STAT_MAX; i++)
		assert_non_null(ap_stat_names[i]);
	for (i = 0; i < AP_STATE_MAX; i++)
		assert_non_null(ap_state_names[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_key_of, setup),
		cmocka_unit_test_setup(test_client_syn, setup),
		cmocka_unit_test_setup(test_client_syn_auth, setup),
		cmocka_unit_test_setup(test_client_syn_retry_bound, setup),
		cmocka_unit_test_setup(test_client_bind, setup),
		cmocka_unit_test_setup(test_client_bind_v6, setup),
		cmocka_unit_test_setup(test_client_reject, setup),
		cmocka_unit_test_setup(test_client_fastopen, setup),
		cmocka_unit_test_setup(test_client_allowlist_accepts, setup),
		cmocka_unit_test_setup(test_client_plain, setup),
		cmocka_unit_test_setup(test_client_first_wins, setup),
		cmocka_unit_test_setup(test_client_synack_wrong_role, setup),
		cmocka_unit_test_setup(test_client_out_in, setup),
		cmocka_unit_test_setup(test_client_unanswered, setup),
		cmocka_unit_test_setup(test_resp, setup),
		cmocka_unit_test_setup(test_resp_legacy, setup),
		cmocka_unit_test_setup(test_client_fallback, setup),
		cmocka_unit_test_setup(test_client_fallback_retries, setup),
		cmocka_unit_test_setup(test_client_fallback_noroom, setup),
		cmocka_unit_test_setup(test_client_blackholed, setup),
		cmocka_unit_test_setup(test_client_fallback_late, setup),
		cmocka_unit_test_setup(test_client_collision, setup),
		cmocka_unit_test_setup(test_resp_fallback, setup),
		cmocka_unit_test_setup(test_pin_client, setup),
		cmocka_unit_test_setup(test_pin_resp, setup),
		cmocka_unit_test_setup(test_icmp, setup),
		cmocka_unit_test_setup(test_match_rules, setup),
		cmocka_unit_test_setup(test_expiry, setup),
		cmocka_unit_test_setup(test_evict_rank, setup),
		cmocka_unit_test_setup(test_format, setup),
		cmocka_unit_test(test_stats_format),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests_name("flow", tests, NULL, NULL);
}
