// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * libFuzzer target: ap_process() over a sequence of packets, on three
 * hosts with anypind's real flow table (userspace/table.c): a client, a
 * responder instance, and a host with both roles. Small max_flows and
 * short timeouts, so that eviction, expiry and the blackhole memory come
 * into play within a few packets. The two instances are each other's
 * peers for the second chance, and their ops apply it: local() answers
 * no but for host 3, budget() allows two forwards per second of the clock.
 *
 * Input: records of
 *	u8 ctl		bits 0-1: host (3 is the instance whose sockets take
 *			every segment: local() answers yes)
 *			bits 2-3: hook (IN, OUT, POST; 3 is IN with p->tunnel,
 *			decapsulated from a peer)
 *			bit 4: AP_CSUM_PSEUDO, else AP_CSUM_FULL
 *			bit 5: complete the checksums first, and check them after
 *			bit 6: table_sweep() first
 *			bit 7: 64 KiB of payload after the bytes (BIG TCP)
 *	u8 tick		seconds the clock moves on first
 *	u8 head		linear bytes to parse from, as the module does (0: all)
 *	u16 len		big-endian, then len bytes of the IP packet
 *
 * The core gets the bytes a datapath makes writable (kmod/hooks.c
 * anypin_make_writable, userspace/queue.c), in a buffer of exactly that
 * size: the headers; an ICMP error whole; a SYN whole with AP_OPT_LEN bytes
 * of room. ASan catches a byte read or written past them. After each packet:
 * its length moved by AP_OPT_LEN exactly when it grew, what it changed
 * still parses to what the core was left with, nothing past the headers
 * changed but for the option, checksums that were right still are, the RST
 * is sound, the table stays within max_flows, and the pins it tells of
 * (struct table_pins) pair up and are those of its pinned flows; a
 * forward is to a configured peer of the packet's family, at IN, of a
 * packet left as it came, not decapsulated, and only when budget() just
 * allowed it. table.c seeds its hash from getrandom(): that moves entries
 * between buckets, never changes which entry a lookup finds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "table.h"
#include "pktgen.h"

#define CHECK(x)	do { if (!(x)) abort(); } while (0)

#define NHOSTS		3
#define REC_HDR		5
#define PAD		65536
#define START		1000
/* Pins a host's kernel maps hold at once: max_flows at most. */
#define PIN_MAX		16
/* Forwards budget() allows per second of the clock. */
#define BUDGET		2

static const char *const conf_text[NHOSTS] = {
	/* the client */
	"net.anypin.max_flows = 6\n"
	"net.anypin.syn_timeout = 5\n"
	"net.anypin.fin_timeout = 5\n"
	"net.anypin.idle_timeout = 60\n"
	"net.anypin.blackhole_timeout = 10\n"
	"net.anypin.prefixes = svc=192.0.2.0/24 svc6=2001:db8:a::/48 "
	"web=192.0.2.128/25 off=2001:db8:a:ff::/64\n"
	"net.anypin.prefix.svc.responders = 198.51.100.0/24\n"
	"net.anypin.prefix.svc6.responders = 2001:db8::/36, 2001:db8:2::/48\n"
	"net.anypin.prefix.web.ports = 80,443,8000-8100\n"
	"net.anypin.prefix.off.enabled = 0\n",
	/* a responder instance */
	"net.anypin.max_flows = 4\n"
	"net.anypin.syn_timeout = 5\n"
	"net.anypin.fin_timeout = 5\n"
	"net.anypin.idle_timeout = 60\n"
	"net.anypin.prefixes = svc=192.0.2.0/24 svc6=2001:db8:a::/48\n"
	"net.anypin.prefix.svc.role = responder\n"
	"net.anypin.prefix.svc.unicast = 198.51.100.11\n"
	"net.anypin.prefix.svc6.role = responder\n"
	"net.anypin.prefix.svc6.unicast = 2001:db8:1::11\n"
	"net.anypin.prefix.svc.instance = 1\n"
	"net.anypin.prefix.svc.peers = 2=198.51.100.27,2001:db8:2::27 3=198.51.100.99\n"
	"net.anypin.prefix.svc6.instance = 1\n"
	"net.anypin.prefix.svc6.peers = 2=2001:db8:2::27 4=198.51.100.44\n",
	/* both roles: another instance that is also a client */
	"net.anypin.max_flows = 3\n"
	"net.anypin.syn_timeout = 3\n"
	"net.anypin.fin_timeout = 3\n"
	"net.anypin.idle_timeout = 20\n"
	"net.anypin.fallback_retries = 2\n"
	"net.anypin.blackhole_timeout = 5\n"
	"net.anypin.prefixes = svc=192.0.2.0/24 svc6=2001:db8:a::/48 "
	"dns=203.0.113.0/24 dns6=2001:db8:c::/48\n"
	"net.anypin.prefix.svc.role = responder\n"
	"net.anypin.prefix.svc.unicast = 198.51.100.27 2001:db8:2::27\n"
	"net.anypin.prefix.svc.ports = 80\n"
	"net.anypin.prefix.svc6.role = responder\n"
	"net.anypin.prefix.svc6.unicast = 198.51.100.27, 2001:db8:2::27\n"
	"net.anypin.prefix.svc.instance = 2\n"
	"net.anypin.prefix.svc.peers = 1=198.51.100.11,2001:db8:1::11\n"
	"net.anypin.prefix.svc6.instance = 2\n"
	"net.anypin.prefix.svc6.peers = 1=2001:db8:1::11 3=2001:db8:3::99\n",
};

static struct ap_conf conf[NHOSTS];

/* The kernel maps of the host whose table is being called. */
static struct ap_pin pins[NHOSTS][PIN_MAX];
static int npins[NHOSTS], cur;

static bool same_tuple(const struct ap_tuple *a, const struct ap_tuple *b)
{
	return ap_addr_eq(&a->saddr, &b->saddr) && a->sport == b->sport &&
	       ap_addr_eq(&a->daddr, &b->daddr) && a->dport == b->dport;
}

static int pin_find(const struct ap_pin *p)
{
	const struct ap_pin *q;
	int i;

	for (i = 0; i < npins[cur]; i++) {
		q = &pins[cur][i];
		if (q->role == p->role && same_tuple(&q->out, &p->out) &&
		    same_tuple(&q->in, &p->in) && ap_addr_eq(&q->out_to, &p->out_to) &&
		    ap_addr_eq(&q->in_to, &p->in_to))
			return i;
	}
	return -1;
}

/* An element is added once and deleted once, as it was added. */
static void pin(void *arg, const struct ap_pin *p, bool add)
{
	int i = pin_find(p);

	(void)arg;
	if (add) {
		CHECK(i < 0 && npins[cur] < PIN_MAX);
		pins[cur][npins[cur]++] = *p;
	} else {
		CHECK(i >= 0);
		pins[cur][i] = pins[cur][--npins[cur]];
	}
}

static const struct table_pins kernel_maps = { pin, NULL };

/*
 * The second chance's ops: what local() answers, what budget() allowed
 * in host @cur's second sc_clock, and in all.
 */
static struct ap_table_ops sc_ops;
static bool local_yes;
static u32 sc_clock, budget_at[NHOSTS];
static unsigned int budget_used[NHOSTS], granted;

static bool sc_local(void *t, const struct ap_pkt *p)
{
	(void)t;
	CHECK(!ap_pkt_is_icmp(p) && !p->tunnel);
	return local_yes;
}

static bool sc_budget(void *t)
{
	(void)t;
	if (sc_clock != budget_at[cur]) {
		budget_at[cur] = sc_clock;
		budget_used[cur] = 0;
	}
	if (budget_used[cur] == BUDGET)
		return false;
	budget_used[cur]++;
	granted++;
	return true;
}

/* Whether @v's forward goes to a peer of the prefix that decided it, by its id. */
static bool is_peer(const struct ap_conf *c, const struct ap_verdict *v)
{
	const struct ap_pconf *pc;
	const struct ap_addr *a;

	if (v->fwd_prefix >= c->nprefixes)
		return false;
	pc = &c->prefixes[v->fwd_prefix];
	if (!pc->instance || !(pc->peers.ids & (u64)1 << v->fwd.id))
		return false;
	a = v->fwd.addr.family == AP_AF_INET ? &pc->peers.peer[v->fwd.id].addr4 :
	    &pc->peers.peer[v->fwd.id].addr6;
	return ap_addr_eq(a, &v->fwd.addr);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct ap_conf_err e;
	int h;

	(void)argc;
	(void)argv;
	for (h = 0; h < NHOSTS; h++) {
		ap_conf_init(&conf[h]);
		conf[h].sc_supported = true;
		CHECK(!ap_conf_parse(&conf[h], conf_text[h], strlen(conf_text[h]), &e));
		CHECK(conf[h].max_flows <= PIN_MAX);
	}
	sc_ops = table_ops;
	sc_ops.local = sc_local;
	sc_ops.budget = sc_budget;
	return 0;
}

/* The module's anypin_parse(): from @head linear bytes, pulling on AP_EMORE. */
static int parse(struct ap_pkt *p, u8 *d, u32 len, u32 head)
{
	u32 avail = head && head < len ? head : len;
	int err;

	for (;;) {
		err = ap_parse(p, d, len, avail);
		if (err != AP_EMORE || p->need <= avail)
			return err;
		avail = p->need;
	}
}

/* Whether every checksum of @d is right, as @mode keeps a TCP one. */
static bool csum_ok(const u8 *d, u32 len, bool tcp, enum ap_csum_mode mode)
{
	unsigned int bad = pg_verify(d, len);
	struct pg_layout l;

	if (!tcp || mode == AP_CSUM_FULL)
		return !bad;
	if ((bad & ~PG_BAD_TCPCSUM) || pg_locate(d, len, &l))
		return false;
	return ap_get16(d + l.tcp_off + 16) == pg_tcp_pseudo(d, len);
}

/*
 * Completes the checksums of the parsed packet as @mode keeps them; false
 * where pktgen sees the packet otherwise than the core (a jumbogram, say),
 * and then they are not checked.
 */
static bool fix_csums(const struct ap_pkt *p, enum ap_csum_mode mode)
{
	struct pg_layout l;
	u8 *d = p->data;
	bool tcp = !ap_pkt_is_icmp(p);

	if (pg_locate(d, p->len, &l) || l.family != p->family || l.tcp_off != p->tcp_off)
		return false;
	if (p->family == AP_AF_INET)
		ap_put16(d + 10, pg_ipv4_csum(d));
	if (tcp) {
		ap_put16(d + p->tcp_off + 16, mode == AP_CSUM_FULL ? pg_tcp_csum(d, p->len) :
			 pg_tcp_pseudo(d, p->len));
	} else {
		if (p->family == AP_AF_INET)
			ap_put16(d + p->in_off + 10, pg_ipv4_csum(d + p->in_off));
		ap_put16(d + p->l4_off + 2, pg_icmp_csum(d, p->len));
	}
	return csum_ok(d, p->len, tcp, mode);
}

/* The RST for a losing responder: a sound packet of its own. */
static void check_rst(const struct ap_verdict *v, const struct ap_pkt *synack)
{
	u8 b[AP_RST_MAX];
	struct ap_pkt r;

	CHECK(v->rst_len <= AP_RST_MAX);
	memcpy(b, v->rst, v->rst_len);
	CHECK(ap_parse(&r, b, v->rst_len, v->rst_len) == AP_OK);
	CHECK(r.family == synack->family && !ap_pkt_is_icmp(&r) && r.tcp_flags == AP_TCP_RST);
	CHECK(r.sport == synack->dport && r.dport == synack->sport);
	CHECK(!pg_verify(b, v->rst_len));
}

struct walk {
	const struct ap_conf *c;
	u32 now, n;
	int pinned;
};

/* Each entry prints as one line of the 9 columns of AP_FLOW_HEADER. */
static void show(const struct ap_flow *f, void *arg)
{
	struct walk *w = arg;
	struct ap_pin p;
	char line[256];
	u32 len = ap_flow_format(f, w->c, w->now, line, sizeof(line)), i, sp = 0;

	CHECK(len > 0 && len < sizeof(line) && line[len - 1] == '\n' && !line[len]);
	for (i = 0; i < len; i++)
		sp += line[i] == ' ';
	CHECK(sp == 8);
	w->n++;
	/* The kernel's maps hold its pin. */
	if (ap_flow_pin(f, &p)) {
		CHECK(pin_find(&p) >= 0);
		w->pinned++;
	}
}

static void check_table(struct table *t, const struct ap_conf *c, u32 now)
{
	struct walk w = { c, now, 0, 0 };
	struct ap_bh_table *bh = table_blackholes(t);
	char line[256];
	u32 i;

	CHECK(table_count(t) <= c->max_flows);
	table_walk(t, show, &w);
	CHECK(w.n == table_count(t) && w.pinned == npins[cur]);
	CHECK(bh->n <= AP_BH_MAX);
	for (i = 0; i < bh->n; i++)
		CHECK(ap_bh_format(&bh->e[i], now, line, sizeof(line)) < sizeof(line));
}

static u8 full[0xffff + PAD];

/* One packet of @n bytes at @d through host @h. */
static void one(struct table *t, int h, u8 ctl, u32 now, u32 head, const u8 *d, u32 n)
{
	enum ap_hook hook = (ctl >> 2 & 3) == 3 ? AP_HOOK_IN : (enum ap_hook)(ctl >> 2 & 3);
	enum ap_csum_mode mode = ctl & 0x10 ? AP_CSUM_PSEUDO : AP_CSUM_FULL;
	bool tunnel = (ctl >> 2 & 3) == 3;
	unsigned int grants = granted;
	struct ap_pkt p, q;
	struct ap_verdict v;
	u32 len = n, w, hdr, old;
	bool syn, icmp, checked, changed;
	u8 *buf;

	memcpy(full, d, n);
	if (ctl & 0x80) {
		memset(full + n, 0xa5, PAD);
		len += PAD;
	}
	if (parse(&p, full, len, head) != AP_OK)
		return;
	icmp = ap_pkt_is_icmp(&p);
	syn = !icmp && (p.tcp_flags & AP_TCP_SYN);
	checked = (ctl & 0x20) && fix_csums(&p, mode);
	hdr = (u32)p.tcp_off + p.tcp_hlen;
	old = p.len;
	w = icmp ? p.len : syn ? p.len + AP_OPT_LEN : hdr;
	buf = malloc(w);
	CHECK(buf);
	memcpy(buf, full, w < p.len ? w : p.len);
	if (w > p.len)
		memset(buf + p.len, 0, w - p.len);
	p.data = buf;
	p.tunnel = tunnel;

	ap_process(&conf[h], &sc_ops, t, &p, hook, mode, now, &v);

	CHECK(p.len == old + (v.grew ? AP_OPT_LEN : 0));
	CHECK(!v.grew || syn);
	if (v.rst_len)
		check_rst(&v, &p);
	changed = v.grew || memcmp(buf, full, w < old ? w : old);
	CHECK(v.changed == changed);
	if (changed) {
		CHECK(ap_parse(&q, buf, p.len, w < p.len ? w : p.len) == AP_OK);
		q.tunnel = p.tunnel;
		CHECK(!memcmp(&q, &p, sizeof(q)));
	}
	CHECK(granted - grants == v.forward);
	if (v.forward) {
		CHECK(hook == AP_HOOK_IN && !tunnel && !changed && !v.drop && !v.rst_len);
		CHECK(v.fwd.addr.family == p.family && is_peer(&conf[h], &v));
		CHECK(icmp || !local_yes);
	}
	/* Past the headers only the option moves the payload on. */
	if (syn)
		CHECK(!memcmp(buf + hdr + (v.grew ? AP_OPT_LEN : 0), full + hdr, old - hdr));
	if (checked) {
		if (!icmp && !syn) {
			memcpy(full, buf, w);
			CHECK(csum_ok(full, p.len, true, mode));
		} else {
			CHECK(csum_ok(buf, p.len, !icmp, mode));
		}
	}
	free(buf);
	check_table(t, &conf[h], now);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct table *t[NHOSTS];
	u32 now = START, n, recs = 0;
	int h;
	u8 ctl;

	for (h = 0; h < NHOSTS; h++) {
		t[h] = table_new(&conf[h], &kernel_maps);
		CHECK(t[h]);
		npins[h] = 0;
		budget_at[h] = 0;
		budget_used[h] = 0;
	}
	while (size >= REC_HDR && recs++ < 64) {
		ctl = data[0];
		now += data[1];
		n = (u32)data[3] << 8 | data[4];
		if (n > size - REC_HDR)
			n = (u32)(size - REC_HDR);
		h = ctl & 3;
		local_yes = h == 3;
		if (h == 3)
			h = 1;
		cur = h;
		sc_clock = now;
		table_set_now(t[h], now);
		if (ctl & 0x40)
			table_sweep(t[h]);
		one(t[h], h, ctl, now, data[2], data + REC_HDR, n);
		data += REC_HDR + n;
		size -= REC_HDR + n;
	}
	for (h = 0; h < NHOSTS; h++)
		table_free(t[h]);
	return 0;
}
