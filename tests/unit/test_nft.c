// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * anypind's nftables table as `--print-rules` shows it (nft_text() of
 * userspace/nft.c, the same rule descriptions the netlink batches are
 * built from), line by line: the sets, maps and chains it declares, which
 * packets of which prefix go to the queue, the ICMP errors, and the maps'
 * rewrites. No netlink socket is opened.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "ut.h"

#include "nft.h"

#define QUEUE	42945
#define Q	" queue num 42945 bypass"
#define RULE	"add rule inet anypin "
#define SYN	" tcp flags & (syn | ack) == syn"

/* The text for @c, malloc'd. */
static char *text(const struct ap_conf *c)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	nft_text(c, QUEUE, f);
	assert_int_equal(fclose(f), 0);
	assert_non_null(buf);
	return buf;
}

/* How many whole lines of @t are @line. */
static int lines(const char *t, const char *line)
{
	size_t n = strlen(line);
	const char *p;
	int k = 0;

	for (p = t; (p = strstr(p, line)); p += n)
		if ((p == t || p[-1] == '\n') && p[n] == '\n')
			k++;
	return k;
}

static void expect(const char *t, const char *line, int n)
{
	if (lines(t, line) != n)
		fail_msg("%d times expected, %d found: '%s' in\n%s", n, lines(t, line), line, t);
}

static void absent(const char *t, const char *s)
{
	if (strstr(t, s))
		fail_msg("'%s' in\n%s", s, t);
}

/* How many rules of @t hold @s. */
static int rules_with(const char *t, const char *s)
{
	const char *p, *end, *hit;
	int k = 0;

	for (p = t; (p = strstr(p, RULE)); p = end) {
		end = strchr(p, '\n');
		assert_non_null(end);
		hit = strstr(p, s);
		k += hit && hit < end;
	}
	return k;
}

/*
 * An IPv4 client prefix on some ports, an IPv6 one on all, a responder
 * prefix and a disabled one.
 */
static struct ap_conf *conf(void)
{
	static struct ap_conf c;

	ap_conf_init(&c);
	ut_set(&c, "net.anypin.prefixes",
	       "web=192.0.2.0/24 web6=2001:db8:a::/48 svc=198.18.0.0/24 off=203.0.113.0/24");
	ut_set(&c, "net.anypin.prefix.web.ports", "80,8000-8100");
	ut_set(&c, "net.anypin.prefix.svc.role", "responder");
	ut_set(&c, "net.anypin.prefix.svc.unicast", "198.51.100.11");
	ut_set(&c, "net.anypin.prefix.off.enabled", "0");
	return &c;
}

static int setup(void **state)
{
	*state = text(conf());
	return 0;
}

static int teardown(void **state)
{
	free(*state);
	return 0;
}

/* The declarations: "\t<kind> NAME {" lines of the table block. */
#define NAMES_MAX	32
struct names {
	char name[NAMES_MAX][32];
	bool used[NAMES_MAX];
	int n;
};

static void declared(const char *t, const char *kind, struct names *d)
{
	char pat[16];
	const char *p;
	int k = snprintf(pat, sizeof(pat), "\n\t%s ", kind);

	for (p = t; (p = strstr(p, pat)); p += k) {
		assert_true(d->n < NAMES_MAX);
		if (sscanf(p + k, "%31[a-z0-9_] {", d->name[d->n]) != 1)
			fail_msg("bad %s line at '%.40s'", kind, p + 1);
		d->used[d->n++] = false;
	}
}

static int find_name(const struct names *d, const char *name, size_t len)
{
	int i;

	for (i = 0; i < d->n; i++)
		if (strlen(d->name[i]) == len && !strncmp(d->name[i], name, len))
			return i;
	return -1;
}

/*
 * Every rule adds to a chain the table declares, and each set or map it
 * names is declared; every chain, set and map has a rule. Returns the
 * number of rules.
 */
static int check_names(const char *t)
{
	struct names chains = { .n = 0 }, sets = { .n = 0 };
	const char *p, *end, *at;
	size_t n;
	int i, rules = 0;

	declared(t, "chain", &chains);
	declared(t, "set", &sets);
	declared(t, "map", &sets);
	assert_int_equal(chains.n, 6);
	assert_int_equal(sets.n, 12);
	/* The rules come after the table block that declares what they name. */
	p = strstr(t, "\n}\n");
	assert_non_null(p);
	assert_true(strstr(t, RULE) > p);
	for (p = t; (p = strstr(p, RULE)); p = end) {
		end = strchr(p, '\n');
		assert_non_null(end);
		p += strlen(RULE);
		n = strcspn(p, " ");
		i = find_name(&chains, p, n);
		if (i < 0)
			fail_msg("undeclared chain in '%.*s'", (int)(end - p), p);
		chains.used[i] = true;
		for (at = p; (at = memchr(at, '@', (size_t)(end - at))); at++) {
			n = strcspn(at + 1, " \n");
			i = find_name(&sets, at + 1, n);
			if (i < 0)
				fail_msg("undeclared set in '%.*s'", (int)(end - p), p);
			sets.used[i] = true;
		}
		rules++;
	}
	for (i = 0; i < chains.n; i++)
		if (!chains.used[i])
			fail_msg("chain %s has no rule", chains.name[i]);
	for (i = 0; i < sets.n; i++)
		if (!sets.used[i])
			fail_msg("set %s has no rule", sets.name[i]);
	return rules;
}

/* The table, created so that deleting it cannot fail, then declared whole. */
static void test_table(void **state)
{
	const char *t = *state;
	static const char *const head = "table inet anypin\ndelete table inet anypin\n"
					"table inet anypin {\n";

	assert_int_equal(strncmp(t, head, strlen(head)), 0);
	assert_int_equal(t[strlen(t) - 1], '\n');
	/* The client SYNs the kernel notes, and the pins' maps with a counter per element. */
	expect(t, "\tset syns4 {", 1);
	expect(t, "\tset syns6 {", 1);
	expect(t, "\t\ttype ipv4_addr . inet_service . inet_service", 1);
	expect(t, "\t\ttype ipv6_addr . inet_service . inet_service", 1);
	expect(t, "\t\tflags dynamic,timeout", 2);
	expect(t, "\tmap out_daddr4 {", 1);
	expect(t, "\tmap post_saddr6 {", 1);
	expect(t, "\t\ttype ipv4_addr . inet_service . ipv4_addr . inet_service : ipv4_addr", 4);
	expect(t, "\t\ttype ipv6_addr . inet_service . ipv6_addr . inet_service : ipv6_addr", 4);
	expect(t, "\t\tcounter", 8);
	/* The ends of pinned flows, noted by the kernel, bounded. */
	expect(t, "\tset ends4 {", 1);
	expect(t, "\t\ttype ipv4_addr . inet_service . ipv4_addr . inet_service", 1);
	expect(t, "\t\ttype ipv6_addr . inet_service . ipv6_addr . inet_service", 1);
	expect(t, "\t\tflags dynamic", 2);
	/* Queues before rewrites at each hook; prerouting before conntrack. */
	expect(t, "\tchain pre_queue {", 1);
	expect(t, "\t\ttype filter hook prerouting priority -399; policy accept;", 1);
	expect(t, "\t\ttype filter hook prerouting priority -398; policy accept;", 1);
	expect(t, "\t\ttype filter hook output priority 50; policy accept;", 1);
	/* A new destination is routed again. */
	expect(t, "\tchain out {", 1);
	expect(t, "\t\ttype route hook output priority 51; policy accept;", 1);
	expect(t, "\t\ttype filter hook postrouting priority 101; policy accept;", 1);
	expect(t, "\t\ttype filter hook postrouting priority 102; policy accept;", 1);
	assert_int_equal(check_names(t), 30);
}

/* What conf() queues and rewrites: whole lines, and what no line holds. */
static const char *const want[] = {
	/* client prefixes: their SYNs, a rule per port range, noted and queued */
	RULE "out_queue ip daddr 192.0.2.0/24" SYN " tcp dport 80-80"
	     " update @syns4 { ip saddr . tcp sport . tcp dport timeout 75s }" Q,
	RULE "out_queue ip daddr 192.0.2.0/24" SYN " tcp dport 8000-8100"
	     " update @syns4 { ip saddr . tcp sport . tcp dport timeout 75s }" Q,
	RULE "out_queue ip6 daddr 2001:db8:a::/48" SYN
	     " update @syns6 { ip6 saddr . tcp sport . tcp dport timeout 75s }" Q,
	/* a responder prefix: every SYN arriving for it, capable or legacy */
	RULE "pre_queue ip daddr 198.18.0.0/24" SYN Q,
	/* what answers a noted SYN; our abort of one */
	RULE "pre_queue meta nfproto ipv4 tcp flags & (syn | rst) != 0 "
	     "ip daddr . tcp dport . tcp sport @syns4" Q,
	RULE "out_queue meta nfproto ipv6 tcp flags & rst != 0 "
	     "ip6 saddr . tcp sport . tcp dport @syns6" Q,
	/* a responder flow's SYN-ACK, by its pin */
	RULE "post_queue meta nfproto ipv4 tcp flags & syn != 0 "
	     "ip saddr . tcp sport . ip daddr . tcp dport @post_saddr4" Q,
	/* a pinned flow's FIN or RST is noted before its rewrite */
	RULE "pre tcp flags & (fin | rst) != 0 ip saddr . tcp sport . ip daddr . tcp dport "
	     "@in_saddr4 add @ends4 { ip saddr . tcp sport . ip daddr . tcp dport }",
	RULE "post tcp flags & (fin | rst) != 0 ip6 saddr . tcp sport . ip6 daddr . tcp dport "
	     "@post_saddr6 add @ends6 { ip6 saddr . tcp sport . ip6 daddr . tcp dport }",
	/* the ICMP errors the core rewrites: unreachable, time exceeded, ... */
	RULE "pre_queue icmp type 3-3" Q,
	RULE "pre_queue icmp type 11-11" Q,
	RULE "pre_queue icmp type 12-12" Q,
	RULE "pre_queue icmpv6 type 1-4" Q,
	/*
	 * the pinned flows' packets, by their four-tuple: a client's to A
	 * leave to U, U's arrive from A; a responder's to U arrive to A,
	 * its own from A leave from U
	 */
	RULE "out ip daddr set ip saddr . tcp sport . ip daddr . tcp dport map @out_daddr4",
	RULE "pre ip saddr set ip saddr . tcp sport . ip daddr . tcp dport map @in_saddr4",
	RULE "pre ip daddr set ip saddr . tcp sport . ip daddr . tcp dport map @in_daddr4",
	RULE "post ip saddr set ip saddr . tcp sport . ip daddr . tcp dport map @post_saddr4",
	RULE "out ip6 daddr set ip6 saddr . tcp sport . ip6 daddr . tcp dport map @out_daddr6",
	RULE "pre ip6 saddr set ip6 saddr . tcp sport . ip6 daddr . tcp dport map @in_saddr6",
	RULE "pre ip6 daddr set ip6 saddr . tcp sport . ip6 daddr . tcp dport map @in_daddr6",
	RULE "post ip6 saddr set ip6 saddr . tcp sport . ip6 daddr . tcp dport map @post_saddr6",
};

static void test_lines(void **state)
{
	const char *t = *state;
	unsigned int i;

	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		expect(t, want[i], 1);
	/* The disabled prefix: nothing. */
	absent(t, "203.0.113.0/24");
	/* A responder's SYNs are theirs, not ours to send; ICMP errors only. */
	absent(t, "out_queue ip daddr 198.18.0.0/24");
	absent(t, "icmp type 0");
	absent(t, "icmpv6 type 128");
	absent(t, " dport 1-65535");
}

/* Every rule to the queue names this queue, the others rewrite by a map. */
static void test_every_rule(void **state)
{
	const char *t = *state, *p, *end;
	int queued = 0;
	size_t n;

	for (p = t; (p = strstr(p, RULE)); p = end + 1) {
		end = strchr(p, '\n');
		n = (size_t)(end - p);
		if (n > strlen(Q) && !strncmp(end - strlen(Q), Q, strlen(Q)))
			queued++;
	}
	assert_int_equal(queued, 14);
	assert_int_equal(rules_with(t, " map @"), 8);
	assert_int_equal(rules_with(t, " add @ends"), 8);
	assert_int_equal(queued + 8 + 8, check_names(t));
}

/*
 * IPv4 prefixes only: no IPv6 SYN rule, but the sets, maps and ICMP errors
 * of both families keep their rules (a flow outlives its prefix).
 */
static void test_one_family(void **state)
{
	struct ap_conf c;
	char *t;

	(void)state;
	ap_conf_init(&c);
	ut_set(&c, "net.anypin.prefixes", "web=192.0.2.0/24");
	t = text(&c);
	assert_int_equal(check_names(t), 1 + 2 * 3 + 3 + 1 + 2 * (4 + 4));
	expect(t, RULE "out_queue ip daddr 192.0.2.0/24" SYN
	       " update @syns4 { ip saddr . tcp sport . tcp dport timeout 75s }" Q, 1);
	expect(t, RULE "pre_queue icmp type 3-3" Q, 1);
	expect(t, RULE "pre_queue icmpv6 type 1-4" Q, 1);
	absent(t, "ip6 daddr 2001");
	assert_int_equal(rules_with(t, " ip6 "), 3 + 4 + 4);
	free(t);

	/* The other way round. */
	ut_set(&c, "net.anypin.prefixes", "web6=2001:db8:a::/48");
	t = text(&c);
	assert_int_equal(check_names(t), 1 + 2 * 3 + 3 + 1 + 2 * (4 + 4));
	expect(t, RULE "pre_queue icmpv6 type 1-4" Q, 1);
	absent(t, "ip daddr 192");
	assert_int_equal(rules_with(t, " ip "), 3 + 4 + 4);
	free(t);
}

/* No prefix: the table, the flows' rules and their ICMP errors, no SYN rule. */
static void test_empty(void **state)
{
	struct ap_conf c;
	char *t;

	(void)state;
	ap_conf_init(&c);
	t = text(&c);
	assert_int_equal(check_names(t), 2 * 3 + 3 + 1 + 2 * (4 + 4));
	absent(t, SYN);
	free(t);
}

/* A range is one rule, however wide; a single port is a range of one. */
static void test_ports(void **state)
{
	struct ap_conf *c = conf();
	char *t;

	(void)state;
	ut_set(c, "net.anypin.prefix.svc.ports", "1,2,3,4,5,6,7,8,9,10,11,12,13,100-200,14,15");
	t = text(c);
	expect(t, RULE "pre_queue ip daddr 198.18.0.0/24" SYN " tcp dport 7-7" Q, 1);
	expect(t, RULE "pre_queue ip daddr 198.18.0.0/24" SYN " tcp dport 100-200" Q, 1);
	expect(t, RULE "pre_queue ip daddr 198.18.0.0/24" SYN Q, 0);
	assert_int_equal(check_names(t), 30 - 1 + 16);
	free(t);
}

int main(void)
{
#define T(test)	cmocka_unit_test_setup_teardown(test, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_table), T(test_lines), T(test_every_rule),
		cmocka_unit_test(test_one_family), cmocka_unit_test(test_empty),
		cmocka_unit_test(test_ports),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
