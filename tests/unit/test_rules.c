// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The iptables-restore input anypind installs (userspace/rules.c), line by
 * line: its chains and jumps, which packets of which prefix go to the
 * queue, the ports in multiport chunks, and the sets and ICMP errors.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "ut.h"

#include "rules.h"

#define Q " -j NFQUEUE --queue-num 42945 --queue-bypass"

static const struct rules_cmd rc = { "iptables", "ip6tables", 42945 };

/* The rules of @family for @c, malloc'd. */
static char *text(const struct ap_conf *c, int family)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	rules_text(&rc, c, family, f);
	fclose(f);
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

static struct ap_conf *conf(void)
{
	static struct ap_conf c;

	ap_conf_init(&c);
	ut_set(&c, "net.anypin.prefixes",
	    "web=192.0.2.0/24 web6=2001:db8:a::/48 svc=198.18.0.0/24 off=203.0.113.0/24");
	ut_set(&c, "net.anypin.prefix.web.ports", "80,443");
	ut_set(&c, "net.anypin.prefix.svc.role", "responder");
	ut_set(&c, "net.anypin.prefix.svc.unicast", "198.51.100.11");
	ut_set(&c, "net.anypin.prefix.off.enabled", "0");
	return &c;
}

/* The rules of conf() for both families. */
struct texts {
	char *v4, *v6;
};

static int setup(void **state)
{
	static struct texts x;

	x.v4 = text(conf(), 4);
	x.v6 = text(conf(), 6);
	*state = &x;
	return 0;
}

static int teardown(void **state)
{
	struct texts *x = *state;

	free(x->v4);
	free(x->v6);
	return 0;
}

/* Three chains in two tables, each reached by one jump, each table committed. */
static void test_chains(void **state)
{
	const char *t = ((struct texts *)*state)->v4;

	assert_int_equal(strncmp(t, "*raw\n:ANYPIN-IN - [0:0]\n-I PREROUTING 1 -j ANYPIN-IN\n", 52), 0);
	expect(t, "*raw", 1);
	expect(t, "*mangle", 1);
	expect(t, ":ANYPIN-OUT - [0:0]", 1);
	expect(t, "-I OUTPUT 1 -j ANYPIN-OUT", 1);
	expect(t, ":ANYPIN-POST - [0:0]", 1);
	expect(t, "-I POSTROUTING 1 -j ANYPIN-POST", 1);
	expect(t, "COMMIT", 2);
	assert_int_equal(t[strlen(t) - 1], '\n');
}

/* What conf() sends to the queue: whole lines, and what no line holds. */
#define LINE(family, line)	{ family, line, NULL }
#define NONE(family, text)	{ family, NULL, text }
static const struct {
	int family;
	const char *line, *absent;
} want[] = {
	/* client prefixes: their SYNs, on their ports; their flows by the set */
	LINE(4, "-A ANYPIN-OUT -d 192.0.2.0/24 -p tcp --syn -m multiport --dports 80,443" Q),
	LINE(4, "-A ANYPIN-OUT -p tcp -m set --match-set anypin-client4 src,src" Q),
	LINE(4, "-A ANYPIN-IN -p tcp -m set --match-set anypin-client4 dst,dst" Q),
	LINE(6, "-A ANYPIN-OUT -d 2001:db8:a::/48 -p tcp --syn" Q),
	LINE(6, "-A ANYPIN-OUT -p tcp -m set --match-set anypin-client6 src,src" Q),
	/* a disabled prefix, and the other family's: nothing */
	NONE(4, "203.0.113.0/24"),
	NONE(4, "2001:db8:a::/48"),
	NONE(6, "192.0.2.0/24"),
	/*
	 * responder prefixes: every SYN, capable or legacy (the core counts
	 * resp_legacy, as in the module); a legacy SYN makes no entry, so
	 * only SYNs come without the set
	 */
	LINE(4, "-A ANYPIN-IN -d 198.18.0.0/24 -p tcp --syn" Q),
	NONE(4, "--tcp-option"),
	/* responder flows both ways, by the set of their clients */
	LINE(4, "-A ANYPIN-IN -p tcp -m set --match-set anypin-resp4 src,src" Q),
	LINE(4, "-A ANYPIN-POST -p tcp -m set --match-set anypin-resp4 dst,dst" Q),
	LINE(6, "-A ANYPIN-POST -p tcp -m set --match-set anypin-resp6 dst,dst" Q),
	NONE(4, "-A ANYPIN-OUT -d 198.18.0.0/24"),
	/* the ICMP errors the core rewrites, and no other type */
	LINE(4, "-A ANYPIN-IN -p icmp --icmp-type 3" Q),
	LINE(4, "-A ANYPIN-IN -p icmp --icmp-type 11" Q),
	LINE(4, "-A ANYPIN-IN -p icmp --icmp-type 12" Q),
	NONE(4, "--icmp-type 0"),
	LINE(6, "-A ANYPIN-IN -p ipv6-icmp --icmpv6-type 1" Q),
	LINE(6, "-A ANYPIN-IN -p ipv6-icmp --icmpv6-type 4" Q),
	NONE(6, "--icmpv6-type 128"),
};

static void test_lines(void **state)
{
	const struct texts *x = *state;
	unsigned int i;

	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const char *t = want[i].family == 4 ? x->v4 : x->v6;

		if (want[i].line)
			expect(t, want[i].line, 1);
		else if (strstr(t, want[i].absent))
			fail_msg("'%s' in\n%s", want[i].absent, t);
	}
}

/* multiport takes 15 ports, a range counting two: one rule per chunk. */
static void test_port_chunks(void **state)
{
	struct ap_conf *c = conf();
	char *t;

	(void)state;
	ut_set(c, "net.anypin.prefix.web.ports",
	    "1,2,3,4,5,6,7,8,9,10,11,12,13,100-200,14,15");
	t = text(c, 4);
	expect(t, "-A ANYPIN-OUT -d 192.0.2.0/24 -p tcp --syn -m multiport --dports "
		  "1,2,3,4,5,6,7,8,9,10,11,12,13,100:200" Q, 1);
	expect(t, "-A ANYPIN-OUT -d 192.0.2.0/24 -p tcp --syn -m multiport --dports "
		  "14,15" Q, 1);
	free(t);
}

/* No prefix: the chains and the set rules, no prefix rule. */
static void test_empty(void **state)
{
	struct ap_conf c;
	char *t;

	(void)state;
	ap_conf_init(&c);
	t = text(&c, 4);
	assert_null(strstr(t, " -d "));
	expect(t, "COMMIT", 2);
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_chains, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lines, setup, teardown),
		cmocka_unit_test(test_port_chunks),
		cmocka_unit_test(test_empty),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
