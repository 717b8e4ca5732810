// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Configuration keys: values and their read-back, refused writes leaving
 * the configuration byte-identical, the in-place rewrite of "prefixes",
 * sysctl.d text, and which prefix governs a connection.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <anypin/conf.h>

static uint64_t rng_state = 0x2545f4914f6cdd1dULL;

static uint32_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 16);
}

static struct ap_conf *new_conf(void)
{
	struct ap_conf *c = malloc(sizeof(*c));

	assert_non_null(c);
	/* garbage first: init must set every byte the tests compare */
	memset(c, 0xa5, sizeof(*c));
	ap_conf_init(c);
	return c;
}

static int set(struct ap_conf *c, const char *key, const char *val, const char **why)
{
	const char *w = NULL;
	int r = ap_conf_set(c, key, (u32)strlen(key), val, (u32)strlen(val), &w);

	if (why)
		*why = w;
	if (r)
		assert_non_null(w);
	return r;
}

static void set_ok(struct ap_conf *c, const char *key, const char *val)
{
	const char *why;

	if (set(c, key, val, &why))
		fail_msg("%s = \"%s\" refused: %s", key, val, why);
}

static const char *get(const struct ap_conf *c, const char *key)
{
	static char buf[AP_VALUE_MAX];
	int n = ap_conf_get(c, key, (u32)strlen(key), buf, sizeof(buf));

	if (n < 0)
		return NULL;
	assert_int_equal(n, strlen(buf));
	return buf;
}

static void expect_get(const struct ap_conf *c, const char *key, const char *val)
{
	const char *got = get(c, key);

	if (!got)
		fail_msg("%s: no such key", key);
	if (strcmp(got, val))
		fail_msg("%s reads \"%s\", expected \"%s\"", key, got, val);
}

/* A refused write: the reason, and not one byte of the configuration changed. */
static void expect_refused(struct ap_conf *c, const char *key, const char *val,
			   const char *why_expected)
{
	struct ap_conf *before = malloc(sizeof(*c));
	const char *why;

	memcpy(before, c, sizeof(*c));
	if (set(c, key, val, &why) == 0)
		fail_msg("%s = \"%s\" accepted", key, val);
	if (why_expected && strcmp(why, why_expected))
		fail_msg("%s = \"%s\": why \"%s\", expected \"%s\"", key, val, why,
			 why_expected);
	if (memcmp(before, c, sizeof(*c)))
		fail_msg("%s = \"%s\" changed the configuration", key, val);
	free(before);
}

static void test_defaults(void **state)
{
	struct ap_conf *c = new_conf();
	int i;

	(void)state;
	assert_int_equal(c->max_flows, 65536);
	assert_int_equal(c->syn_timeout, 75);
	assert_int_equal(c->idle_timeout, 432000);
	assert_int_equal(c->fin_timeout, 60);
	assert_int_equal(c->exid, 0xA7C1);
	assert_int_equal(c->forward_rate, 100000);
	assert_false(c->sc_supported);
	assert_int_equal(c->nprefixes, 0);
	for (i = 0; i < (int)sizeof(c->prefixes); i++)
		assert_int_equal(((const u8 *)c->prefixes)[i], 0);
	expect_get(c, "net.anypin.prefixes", "");
	expect_get(c, "net.anypin.max_flows", "65536");
	expect_get(c, "net.anypin.syn_timeout", "75");
	expect_get(c, "net.anypin.idle_timeout", "432000");
	expect_get(c, "net.anypin.fin_timeout", "60");
	expect_get(c, "net.anypin.exid", "0xA7C1");
	expect_get(c, "net.anypin.fallback_retries", "1");
	expect_get(c, "net.anypin.blackhole_timeout", "60");
	expect_get(c, "net.anypin.forward_rate", "100000");
	set_ok(c, "net.anypin.prefixes", "x=192.0.2.0/24");
	expect_get(c, "net.anypin.prefix.x.instance", "0");
	expect_get(c, "net.anypin.prefix.x.peers", "");
	assert_int_equal(ap_conf_check(c, NULL), 0);
	free(c);
}

static void test_key_names(void **state)
{
	static const char *const g[] = {
		"prefixes", "max_flows", "syn_timeout", "idle_timeout", "fin_timeout", "exid",
		"fallback_retries", "blackhole_timeout", "forward_rate",
	};
	static const char *const p[] = {
		"enabled", "role", "responders", "unicast", "ports", "instance", "peers",
	};
	struct ap_conf *c = new_conf();
	char key[64];
	int i;

	(void)state;
	set_ok(c, "net.anypin.prefixes", "x=192.0.2.0/24");
	for (i = 0; i < 9; i++) {
		assert_non_null(ap_conf_global_keys[i]);
		assert_string_equal(ap_conf_global_keys[i], g[i]);
		snprintf(key, sizeof(key), "net.anypin.%s", g[i]);
		assert_non_null(get(c, key));
		snprintf(key, sizeof(key), "net/anypin/%s", g[i]);
		assert_non_null(get(c, key));
	}
	assert_null(ap_conf_global_keys[9]);
	for (i = 0; i < 7; i++) {
		assert_non_null(ap_conf_prefix_keys[i]);
		assert_string_equal(ap_conf_prefix_keys[i], p[i]);
		snprintf(key, sizeof(key), "net.anypin.prefix.x.%s", p[i]);
		assert_non_null(get(c, key));
		snprintf(key, sizeof(key), "net/anypin/prefix/x/%s", p[i]);
		assert_non_null(get(c, key));
		snprintf(key, sizeof(key), "net.anypin.prefix.y.%s", p[i]);
		assert_null(get(c, key));
	}
	assert_null(ap_conf_prefix_keys[7]);

	set_ok(c, "net/anypin/max_flows", "100");
	expect_get(c, "net.anypin.max_flows", "100");
	set_ok(c, "net/anypin.prefix/x.role", "responder");
	expect_get(c, "net.anypin.prefix.x.role", "responder");

	expect_refused(c, "net.ipv4.ip_forward", "1", "not an anypin key");
	expect_refused(c, "net", "1", "not an anypin key");
	expect_refused(c, "", "1", "not an anypin key");
	expect_refused(c, "net.anypinx.max_flows", "1", "not an anypin key");
	expect_refused(c, "Net.anypin.max_flows", "1", "not an anypin key");
	expect_refused(c, "net.anypin", "1", "unknown key");
	expect_refused(c, "net.anypin.", "1", "unknown key");
	expect_refused(c, "net.anypin.max_flow", "1", "unknown key");
	expect_refused(c, "net.anypin.max_flows.", "1", "unknown key");
	expect_refused(c, "net.anypin.max_flowsx", "1", "unknown key");
	expect_refused(c, "net.anypin.prefix", "1", "unknown key");
	expect_refused(c, "net.anypin.prefix.x", "1", "unknown key");
	expect_refused(c, "net.anypin.prefix.x.colour", "1", "unknown key");
	expect_refused(c, "net.anypin.prefix.x.enabled.y", "1", "unknown key");
	expect_refused(c, "net.anypin.prefix.x.enabled.y.z", "1", "unknown key");
	expect_refused(c, "net.anypin.prefixx.x.enabled", "1", "unknown key");
	expect_refused(c, "net.anypin.prefix.y.enabled", "1",
		       "no such prefix (set net.anypin.prefixes first)");
	expect_refused(c, "net.anypin.prefix.X.enabled", "1",
		       "no such prefix (set net.anypin.prefixes first)");
	expect_refused(c, "net.anypin.prefix.0123456789abcdefg.enabled", "1",
		       "no such prefix (set net.anypin.prefixes first)");
	assert_int_equal(ap_conf_get(c, "net.anypin.nope", 15, key, sizeof(key)), -1);
	assert_int_equal(ap_conf_get(c, "kernel.x", 8, key, sizeof(key)), -1);
	/* the key is taken by length, not up to a NUL */
	assert_int_equal(ap_conf_get(c, "net.anypin.exidXYZ", 15, key, sizeof(key)), 6);
	assert_string_equal(key, "0xA7C1");
	free(c);
}

/* The one integer key where 0 means something: never fall back. */
static void test_fallback_retries(void **state)
{
	static const char range[] = "fallback_retries must be 0 to 10";
	struct ap_conf *c = new_conf();

	(void)state;
	set_ok(c, "net.anypin.fallback_retries", "0");
	expect_get(c, "net.anypin.fallback_retries", "0");
	assert_int_equal(c->fallback_retries, 0);
	set_ok(c, "net.anypin.fallback_retries", " 10\n");
	expect_get(c, "net.anypin.fallback_retries", "10");
	expect_refused(c, "net.anypin.fallback_retries", "11", range);
	expect_refused(c, "net.anypin.fallback_retries", "256", range);
	expect_refused(c, "net.anypin.fallback_retries", "4294967297", range);
	expect_refused(c, "net.anypin.fallback_retries", "-1", "not a decimal number");
	expect_refused(c, "net.anypin.fallback_retries", "0x1", "not a decimal number");
	expect_refused(c, "net.anypin.fallback_retries", "", "not a decimal number");
	expect_get(c, "net.anypin.fallback_retries", "10");
	free(c);
}

static void test_integers(void **state)
{
	static const struct {
		const char *key;
		const char *range;
		u32 max;
	} k[] = {
		{ "net.anypin.max_flows", "max_flows must be 1 to 16777216", 16777216 },
		{ "net.anypin.syn_timeout", "syn_timeout must be 1 to 3600 (seconds)", 3600 },
		{ "net.anypin.idle_timeout", "idle_timeout must be 1 to 2592000 (seconds)",
		  2592000 },
		{ "net.anypin.fin_timeout", "fin_timeout must be 1 to 3600 (seconds)", 3600 },
		{ "net.anypin.blackhole_timeout",
		  "blackhole_timeout must be 1 to 86400 (seconds)", 86400 },
		{ "net.anypin.forward_rate",
		  "forward_rate must be 1 to 10000000 (segments per second)", 10000000 },
	};
	struct ap_conf *c = new_conf();
	char v[32];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(k) / sizeof(k[0]); i++) {
		set_ok(c, k[i].key, "1");
		expect_get(c, k[i].key, "1");
		snprintf(v, sizeof(v), "%u", k[i].max);
		set_ok(c, k[i].key, v);
		expect_get(c, k[i].key, v);
		snprintf(v, sizeof(v), " \t%u\n", k[i].max - 1);
		set_ok(c, k[i].key, v);
		snprintf(v, sizeof(v), "%u", k[i].max - 1);
		expect_get(c, k[i].key, v);
		set_ok(c, k[i].key, "0042\r\n");
		expect_get(c, k[i].key, "42");

		snprintf(v, sizeof(v), "%u", k[i].max + 1);
		expect_refused(c, k[i].key, v, k[i].range);
		expect_refused(c, k[i].key, "0", k[i].range);
		expect_refused(c, k[i].key, "4294967296", k[i].range);
		expect_refused(c, k[i].key, "4294967337", k[i].range);
		expect_refused(c, k[i].key, "99999999999999999999999", k[i].range);
		expect_refused(c, k[i].key, "", "not a decimal number");
		expect_refused(c, k[i].key, "\n", "not a decimal number");
		expect_refused(c, k[i].key, "+5", "not a decimal number");
		expect_refused(c, k[i].key, "-5", "not a decimal number");
		expect_refused(c, k[i].key, "5 5", "not a decimal number");
		expect_refused(c, k[i].key, "0x10", "not a decimal number");
		expect_refused(c, k[i].key, "1e3", "not a decimal number");
	}
	assert_int_equal(c->max_flows, 42);
	assert_int_equal(c->idle_timeout, 42);
	assert_int_equal(c->forward_rate, 42);
	free(c);
}

static void test_exid(void **state)
{
	struct ap_conf *c = new_conf();
	const char *range = "exid must be 1 to 65535 (0x0001 to 0xFFFF)";

	(void)state;
	set_ok(c, "net.anypin.exid", "0x1234");
	expect_get(c, "net.anypin.exid", "0x1234");
	set_ok(c, "net.anypin.exid", "0XabCd");
	expect_get(c, "net.anypin.exid", "0xABCD");
	assert_int_equal(c->exid, 0xabcd);
	set_ok(c, "net.anypin.exid", "1");
	expect_get(c, "net.anypin.exid", "0x0001");
	set_ok(c, "net.anypin.exid", "65535");
	expect_get(c, "net.anypin.exid", "0xFFFF");
	set_ok(c, "net.anypin.exid", " 0x00a7c1 \n");
	expect_get(c, "net.anypin.exid", "0xA7C1");
	set_ok(c, "net.anypin.exid", "4096");
	expect_get(c, "net.anypin.exid", "0x1000");

	expect_refused(c, "net.anypin.exid", "0", range);
	expect_refused(c, "net.anypin.exid", "0x0", range);
	expect_refused(c, "net.anypin.exid", "0x10000", range);
	expect_refused(c, "net.anypin.exid", "65536", range);
	expect_refused(c, "net.anypin.exid", "0xffffffffffffffffff", range);
	expect_refused(c, "net.anypin.exid", "0x", "not a number");
	expect_refused(c, "net.anypin.exid", "0xg", "not a number");
	expect_refused(c, "net.anypin.exid", "abcd", "not a number");
	expect_refused(c, "net.anypin.exid", "", "not a number");
	expect_refused(c, "net.anypin.exid", "-1", "not a number");
	free(c);
}

/* A configuration with every kind of setting, for the refusal tests. */
static struct ap_conf *full_conf(void)
{
	struct ap_conf *c = new_conf();

	set_ok(c, "net.anypin.prefixes",
	       "dns=192.0.2.0/24 web6=2001:db8:a::/48 edge=203.0.113.0/25");
	set_ok(c, "net.anypin.prefix.dns.responders", "198.51.100.0/24 2001:db8::/32");
	set_ok(c, "net.anypin.prefix.dns.ports", "53,853");
	set_ok(c, "net.anypin.prefix.web6.role", "responder");
	set_ok(c, "net.anypin.prefix.web6.unicast", "198.51.100.1 2001:db8:1::1");
	set_ok(c, "net.anypin.prefix.edge.enabled", "0");
	set_ok(c, "net.anypin.max_flows", "1000");
	return c;
}

/* Responder prefixes of a datapath that applies the second chance. */
static struct ap_conf *sc_conf(void)
{
	struct ap_conf *c = new_conf();

	c->sc_supported = true;
	set_ok(c, "net.anypin.prefixes", "svc=192.0.2.0/24 svc6=2001:db8:a::/48 cl=203.0.113.0/24");
	set_ok(c, "net.anypin.prefix.svc.role", "responder");
	set_ok(c, "net.anypin.prefix.svc.unicast", "198.51.100.1");
	set_ok(c, "net.anypin.prefix.svc6.role", "responder");
	set_ok(c, "net.anypin.prefix.svc6.unicast", "2001:db8:1::1");
	set_ok(c, "net.anypin.prefix.svc.instance", "1");
	set_ok(c, "net.anypin.prefix.svc.peers", "3=198.51.100.3 2=2001:db8:1::2,198.51.100.2");
	return c;
}

static const char sc_off[] = "this datapath does not apply the second chance (instance, peers)";

static void test_prefix_values(void **state)
{
	struct ap_conf *c = full_conf();

	(void)state;
	expect_get(c, "net.anypin.prefixes",
		   "dns=192.0.2.0/24 web6=2001:db8:a::/48 edge=203.0.113.0/25");
	expect_get(c, "net.anypin.prefix.dns.enabled", "1");
	expect_get(c, "net.anypin.prefix.dns.role", "client");
	expect_get(c, "net.anypin.prefix.dns.responders", "198.51.100.0/24 2001:db8::/32");
	expect_get(c, "net.anypin.prefix.dns.unicast", "");
	expect_get(c, "net.anypin.prefix.dns.ports", "53,853");
	expect_get(c, "net.anypin.prefix.web6.role", "responder");
	expect_get(c, "net.anypin.prefix.web6.unicast", "198.51.100.1 2001:db8:1::1");
	expect_get(c, "net.anypin.prefix.web6.responders", "");
	expect_get(c, "net.anypin.prefix.web6.ports", "");
	expect_get(c, "net.anypin.prefix.edge.enabled", "0");

	set_ok(c, "net.anypin.prefix.edge.enabled", "1\n");
	expect_get(c, "net.anypin.prefix.edge.enabled", "1");
	set_ok(c, "net.anypin.prefix.edge.role", " client ");
	expect_get(c, "net.anypin.prefix.edge.role", "client");

	/* responders: blanks or commas; empty clears */
	set_ok(c, "net.anypin.prefix.edge.responders", "10.0.0.0/8,\t10.1.0.0/16 , 2001:DB8::1");
	expect_get(c, "net.anypin.prefix.edge.responders",
		   "10.0.0.0/8 10.1.0.0/16 2001:db8::1/128");
	assert_int_equal(c->prefixes[2].nresponders, 3);
	set_ok(c, "net.anypin.prefix.edge.responders",
	       "1.0.0.0/8 2.0.0.0/8 3.0.0.0/8 4.0.0.0/8 5.0.0.0/8 6.0.0.0/8 7.0.0.0/8 "
	       "8.0.0.0/8 9.0.0.0/8 10.0.0.0/8 11.0.0.0/8 12.0.0.0/8 13.0.0.0/8 14.0.0.0/8 "
	       "15.0.0.0/8 16.0.0.0/8");
	assert_int_equal(c->prefixes[2].nresponders, 16);
	set_ok(c, "net.anypin.prefix.edge.responders", "  ");
	expect_get(c, "net.anypin.prefix.edge.responders", "");
	assert_int_equal(c->prefixes[2].nresponders, 0);

	/* unicast: either order, one of each family; writing replaces both */
	set_ok(c, "net.anypin.prefix.edge.unicast", "2001:db8:2::2, 198.51.100.2");
	expect_get(c, "net.anypin.prefix.edge.unicast", "198.51.100.2 2001:db8:2::2");
	set_ok(c, "net.anypin.prefix.edge.unicast", "2001:db8:2::3");
	expect_get(c, "net.anypin.prefix.edge.unicast", "2001:db8:2::3");
	assert_int_equal(c->prefixes[2].unicast4.family, 0);
	set_ok(c, "net.anypin.prefix.edge.unicast", "203.0.113.128");	/* just outside /25 */
	expect_get(c, "net.anypin.prefix.edge.unicast", "203.0.113.128");
	set_ok(c, "net.anypin.prefix.edge.unicast", "");
	expect_get(c, "net.anypin.prefix.edge.unicast", "");
	assert_int_equal(c->prefixes[2].unicast4.family, 0);
	assert_int_equal(c->prefixes[2].unicast6.family, 0);

	set_ok(c, "net.anypin.prefix.edge.ports", "443,8000-8100 \n");
	expect_get(c, "net.anypin.prefix.edge.ports", "443,8000-8100");
	set_ok(c, "net.anypin.prefix.edge.ports", "");
	expect_get(c, "net.anypin.prefix.edge.ports", "");
	free(c);
}

static void test_refusals_leave_conf_alone(void **state)
{
	struct ap_conf *c = full_conf();
	const char *p = "net.anypin.prefix.dns.";
	char key[64];

	(void)state;
#define PK(k) (snprintf(key, sizeof(key), "%s%s", p, k), key)
	expect_refused(c, PK("enabled"), "2", "enabled must be 0 or 1");
	expect_refused(c, PK("enabled"), "", "enabled must be 0 or 1");
	expect_refused(c, PK("enabled"), "01", "enabled must be 0 or 1");
	expect_refused(c, PK("enabled"), "yes", "enabled must be 0 or 1");
	expect_refused(c, PK("role"), "server", "role must be client or responder");
	expect_refused(c, PK("role"), "Client", "role must be client or responder");
	expect_refused(c, PK("role"), "", "role must be client or responder");
	expect_refused(c, PK("responders"), "10.0.0.0/8 10.0.0.1/8", "host bits set");
	expect_refused(c, PK("responders"), "10.0.0.0/8 banana", "bad IPv4 address");
	expect_refused(c, PK("responders"), "10.0.0.0/8;11.0.0.0/8",
		       "bad prefix length (0 to 32)");
	expect_refused(c, PK("responders"), "2001:db8::/200", "bad prefix length (0 to 128)");
	expect_refused(c, PK("responders"),
		       "1.0.0.0/8 2.0.0.0/8 3.0.0.0/8 4.0.0.0/8 5.0.0.0/8 6.0.0.0/8 7.0.0.0/8 "
		       "8.0.0.0/8 9.0.0.0/8 10.0.0.0/8 11.0.0.0/8 12.0.0.0/8 13.0.0.0/8 "
		       "14.0.0.0/8 15.0.0.0/8 16.0.0.0/8 17.0.0.0/8",
		       "too many responders (at most 16)");
	expect_refused(c, PK("unicast"), "198.51.100.1 198.51.100.2",
		       "at most one IPv4 and one IPv6 unicast address");
	expect_refused(c, PK("unicast"), "2001:db8::1,2001:db8::2",
		       "at most one IPv4 and one IPv6 unicast address");
	expect_refused(c, PK("unicast"), "192.0.2.1", "unicast address inside the prefix itself");
	expect_refused(c, PK("unicast"), "192.0.2.0", "unicast address inside the prefix itself");
	expect_refused(c, PK("unicast"), "198.51.100.0/24", "bad IPv4 address");
	expect_refused(c, PK("unicast"), "fe80::1%eth0", "IPv6 zone index not allowed");
	expect_refused(c, PK("unicast"), "127.0.0.1", "not a unicast address");
	expect_refused(c, PK("unicast"), "224.0.0.1", "not a unicast address");
	expect_refused(c, PK("unicast"), "255.255.255.255", "not a unicast address");
	expect_refused(c, PK("unicast"), "0.0.0.0", "not a unicast address");
	expect_refused(c, PK("unicast"), "169.254.1.1", "not a unicast address");
	expect_refused(c, PK("unicast"), "::", "not a unicast address");
	expect_refused(c, PK("unicast"), "::1", "not a unicast address");
	expect_refused(c, PK("unicast"), "::ffff:198.51.100.1", "not a unicast address");
	expect_refused(c, PK("unicast"), "fe80::1", "not a unicast address");
	expect_refused(c, PK("unicast"), "ff02::1", "not a unicast address");
	expect_refused(c, PK("ports"), "0", "bad port (1 to 65535)");
	expect_refused(c, PK("ports"), "53,", "empty item in port list");
	expect_refused(c, PK("ports"), "53 443", "bad port (1 to 65535)");
	expect_refused(c, PK("ports"), "9-8", "port range reversed");
	expect_refused(c, PK("ports"), "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17",
		       "too many port ranges (at most 16)");
	snprintf(key, sizeof(key), "net.anypin.prefix.web6.unicast");
	expect_refused(c, key, "2001:db8:a:ffff::1", "unicast address inside the prefix itself");
#undef PK

	expect_refused(c, "net.anypin.prefixes", "dns", "expected name=prefix");
	expect_refused(c, "net.anypin.prefixes", "dns=192.0.2.0/24 web6", "expected name=prefix");
	expect_refused(c, "net.anypin.prefixes", "=192.0.2.0/24",
		       "bad prefix name (1 to 15 of a-z 0-9 _ -)");
	expect_refused(c, "net.anypin.prefixes", "DNS=192.0.2.0/24",
		       "bad prefix name (1 to 15 of a-z 0-9 _ -)");
	expect_refused(c, "net.anypin.prefixes", "d.s=192.0.2.0/24",
		       "bad prefix name (1 to 15 of a-z 0-9 _ -)");
	expect_refused(c, "net.anypin.prefixes", "d/s=192.0.2.0/24",
		       "bad prefix name (1 to 15 of a-z 0-9 _ -)");
	expect_refused(c, "net.anypin.prefixes", "abcdefghijklmnop=192.0.2.0/24",
		       "bad prefix name (1 to 15 of a-z 0-9 _ -)");
	expect_refused(c, "net.anypin.prefixes", "dns=192.0.2.0/24 dns=192.0.3.0/24",
		       "duplicate prefix name");
	expect_refused(c, "net.anypin.prefixes", "a=192.0.2.0/24 b=192.0.3.0/24 a=10.0.0.0/8",
		       "duplicate prefix name");
	expect_refused(c, "net.anypin.prefixes", "a=192.0.2.0/24 b=192.0.2.0/24",
		       "duplicate prefix");
	expect_refused(c, "net.anypin.prefixes", "a=2001:db8::/32 b=2001:DB8:0::/32",
		       "duplicate prefix");
	expect_refused(c, "net.anypin.prefixes", "a=192.0.2.1/24", "host bits set");
	expect_refused(c, "net.anypin.prefixes", "a=192.0.2.0/24,b=192.0.3.0/24",
		       "bad prefix length (0 to 32)");
	expect_refused(c, "net.anypin.prefixes", "a=192.0.2.0/24 b=", "empty address");
	expect_refused(c, "net.anypin.prefixes", "a=192.0.2.0/24 b==10.0.0.0/8",
		       "bad IPv4 address");
	free(c);
}

static void test_too_many_prefixes(void **state)
{
	struct ap_conf *c = full_conf();
	char v[AP_VALUE_MAX + 64], *e = v;
	int i;

	(void)state;
	for (i = 0; i < 64; i++)
		e += sprintf(e, "%sp%d=10.%d.0.0/16", i ? " " : "", i, i);
	set_ok(c, "net.anypin.prefixes", v);
	assert_int_equal(c->nprefixes, 64);
	assert_non_null(get(c, "net.anypin.prefix.p63.enabled"));
	assert_int_equal(strlen(get(c, "net.anypin.prefixes")), strlen(v));
	sprintf(e, " p64=11.0.0.0/8");
	expect_refused(c, "net.anypin.prefixes", v, "too many prefixes (at most 64)");
	/* the longest value fits AP_VALUE_MAX */
	e = v;
	for (i = 0; i < 64; i++)
		e += sprintf(e, "%s%015d=ffff:ffff:ffff:ffff:ffff:ffff:ffff:%x/128",
			     i ? " " : "", i, 0xff00 + i);
	assert_true(strlen(v) < AP_VALUE_MAX);
	set_ok(c, "net.anypin.prefixes", v);
	expect_get(c, "net.anypin.prefixes", v);
	set_ok(c, "net.anypin.prefixes", "\n");
	assert_int_equal(c->nprefixes, 0);
	expect_get(c, "net.anypin.prefixes", "");
	free(c);
}

/* Prefix entries at and after nprefixes are all zero. */
static void assert_tail_zero(const struct ap_conf *c)
{
	const u8 *b = (const u8 *)&c->prefixes[c->nprefixes];
	size_t i, n = (AP_MAX_PREFIXES - c->nprefixes) * sizeof(struct ap_pconf);

	for (i = 0; i < n; i++)
		if (b[i])
			fail_msg("byte %zu after the last prefix is %u", i, b[i]);
}

static void test_prefixes_rewrite(void **state)
{
	struct ap_conf *c = full_conf();

	(void)state;
	/* reorder, change a prefix, add a name, drop a name */
	set_ok(c, "net.anypin.prefixes",
	       "web6=2001:db8:b::/48\tnew=10.0.0.0/8   dns=192.0.2.0/24");
	expect_get(c, "net.anypin.prefixes",
		   "web6=2001:db8:b::/48 new=10.0.0.0/8 dns=192.0.2.0/24");
	assert_int_equal(c->nprefixes, 3);
	assert_tail_zero(c);
	expect_get(c, "net.anypin.prefix.web6.role", "responder");
	expect_get(c, "net.anypin.prefix.web6.unicast", "198.51.100.1 2001:db8:1::1");
	expect_get(c, "net.anypin.prefix.dns.responders", "198.51.100.0/24 2001:db8::/32");
	expect_get(c, "net.anypin.prefix.dns.ports", "53,853");
	expect_get(c, "net.anypin.prefix.new.enabled", "1");
	expect_get(c, "net.anypin.prefix.new.role", "client");
	expect_get(c, "net.anypin.prefix.new.responders", "");
	expect_get(c, "net.anypin.prefix.new.unicast", "");
	expect_get(c, "net.anypin.prefix.new.ports", "");
	assert_null(get(c, "net.anypin.prefix.edge.enabled"));

	/* a name that comes back gets the defaults, not its old settings */
	set_ok(c, "net.anypin.prefixes", "edge=203.0.113.0/25 dns=192.0.2.0/24");
	expect_get(c, "net.anypin.prefix.edge.enabled", "1");
	expect_get(c, "net.anypin.prefix.dns.ports", "53,853");
	assert_tail_zero(c);

	/* the same value again changes nothing */
	{
		struct ap_conf *before = malloc(sizeof(*c));

		memcpy(before, c, sizeof(*c));
		set_ok(c, "net.anypin.prefixes", " edge=203.0.113.0/25 dns=192.0.2.0/24 \n");
		assert_memory_equal(before, c, sizeof(*c));
		free(before);
	}
	set_ok(c, "net.anypin.prefixes", "");
	assert_int_equal(c->nprefixes, 0);
	assert_tail_zero(c);
	free(c);
}

/*
 * Random rewrites against a model: each name carries a marker (its ports)
 * that must survive as long as the name stays listed.
 */
static void test_prefixes_rewrite_random(void **state)
{
	struct ap_conf *c = new_conf();
	bool listed[80];
	u16 marker[80];
	int order[80], n, i, j, round, t;
	char v[80 * 32], *e, key[64], port[16];
	const char *why;

	(void)state;
	memset(listed, 0, sizeof(listed));
	for (round = 0; round < 3000; round++) {
		/* a random subset of 80 names in a random order */
		for (i = 0; i < 80; i++)
			order[i] = i;
		for (i = 79; i > 0; i--) {
			j = (int)(rnd() % (u32)(i + 1));
			t = order[i];
			order[i] = order[j];
			order[j] = t;
		}
		n = (int)(rnd() % 70);
		e = v;
		*e = '\0';
		for (i = 0; i < n; i++)
			e += sprintf(e, "%sn%d=%d.%d.0.0/16", i ? " " : "", order[i],
				     10 + order[i], (int)(rnd() % 256));
		if (n > AP_MAX_PREFIXES) {
			expect_refused(c, "net.anypin.prefixes", v,
				       "too many prefixes (at most 64)");
			continue;
		}
		if (set(c, "net.anypin.prefixes", v, &why))
			fail_msg("refused: %s", why);
		for (i = 0; i < 80; i++) {
			bool now = false;

			for (j = 0; j < n; j++)
				now |= order[j] == i;
			if (!now) {
				listed[i] = false;
				continue;
			}
			snprintf(key, sizeof(key), "net.anypin.prefix.n%d.ports", i);
			if (listed[i]) {
				snprintf(port, sizeof(port), "%u", marker[i]);
				expect_get(c, key, port);
			} else {
				expect_get(c, key, "");
			}
			listed[i] = true;
			if (rnd() % 2) {
				marker[i] = (u16)(1 + rnd() % 65535);
				snprintf(port, sizeof(port), "%u", marker[i]);
				set_ok(c, key, port);
			} else {
				set_ok(c, key, "");
				listed[i] = false;	/* reads back "" like a new name */
			}
		}
		assert_int_equal(c->nprefixes, n);
		for (j = 0; j < n; j++) {
			snprintf(key, sizeof(key), "n%d", order[j]);
			assert_string_equal(c->prefixes[j].name, key);
		}
		expect_get(c, "net.anypin.prefixes", v);
		assert_tail_zero(c);
	}
	free(c);
}

static void test_get_truncates(void **state)
{
	struct ap_conf *c = full_conf();
	char buf[128];
	const char *full = "dns=192.0.2.0/24 web6=2001:db8:a::/48 edge=203.0.113.0/25";
	u32 size, n = (u32)strlen(full);
	int r;

	(void)state;
	for (size = 0; size <= n + 2; size++) {
		memset(buf, '#', sizeof(buf));
		r = ap_conf_get(c, "net.anypin.prefixes", 19, buf, size);
		if (!size) {
			assert_int_equal(r, 0);
			assert_int_equal(buf[0], '#');
			continue;
		}
		assert_int_equal(r, size - 1 < n ? size - 1 : n);
		assert_int_equal(strlen(buf), r);
		assert_memory_equal(buf, full, r);
		assert_int_equal(buf[size], '#');
	}
	r = ap_conf_get(c, "net.anypin.prefix.web6.unicast", 30, buf, 15);
	assert_int_equal(r, 14);
	assert_string_equal(buf, "198.51.100.1 2");
	r = ap_conf_get(c, "net.anypin.exid", 15, buf, 4);
	assert_string_equal(buf, "0xA");
	assert_int_equal(r, 3);
	free(c);
}

/* Every value read back is accepted again and reads back the same. */
static void roundtrip(struct ap_conf *c)
{
	struct ap_conf *d = new_conf();
	char key[64], val[AP_VALUE_MAX];
	int i, k;

	d->sc_supported = c->sc_supported;
	for (i = 0; ap_conf_global_keys[i]; i++) {
		snprintf(key, sizeof(key), "net.anypin.%s", ap_conf_global_keys[i]);
		strcpy(val, get(c, key));
		set_ok(d, key, val);
	}
	for (k = 0; k < c->nprefixes; k++)
		for (i = 0; ap_conf_prefix_keys[i]; i++) {
			snprintf(key, sizeof(key), "net.anypin.prefix.%s.%s", c->prefixes[k].name,
				 ap_conf_prefix_keys[i]);
			strcpy(val, get(c, key));
			set_ok(d, key, val);
		}
	assert_memory_equal(c, d, sizeof(*c));
	free(c);
	free(d);
}

static void test_get_set_roundtrip(void **state)
{
	(void)state;
	roundtrip(full_conf());
	roundtrip(sc_conf());
}

static int parse(struct ap_conf *c, const char *text, struct ap_conf_err *e)
{
	e->line = 12345;
	e->why = "unset";
	return ap_conf_parse(c, text, (u32)strlen(text), e);
}

static void expect_parse_error(const char *text, u32 line, const char *why)
{
	struct ap_conf *c = new_conf();
	struct ap_conf_err e;

	if (parse(c, text, &e) == 0)
		fail_msg("accepted:\n%s", text);
	if (e.line != line || strcmp(e.why, why))
		fail_msg("line %u \"%s\", expected line %u \"%s\"", e.line, e.why, line, why);
	free(c);
}

static void test_parse_text(void **state)
{
	struct ap_conf *c = new_conf(), *d = full_conf();
	struct ap_conf_err e;
	const char *text =
		"# anypin\n"
		"   ; also a comment\n"
		"\n"
		"net.anypin.prefixes = dns=192.0.2.0/24 web6=2001:db8:a::/48 edge=203.0.113.0/25\n"
		"net.anypin.prefix.dns.responders=198.51.100.0/24 2001:db8::/32\n"
		"  net/anypin/prefix/dns/ports   =   53,853   \n"
		"\t\n"
		"net.anypin.prefix.web6.role= responder\n"
		"-net.anypin.prefix.gone.enabled = 1\n"
		"- net.anypin.prefix.web6.enabled = maybe\n"
		"-kernel.sysrq = 1\n"
		"-net.anypin.bogus = 1\n"
		"net.anypin.prefix.web6.unicast =198.51.100.1 2001:db8:1::1\n"
		"net.anypin.prefix.edge.enabled = 0\n"
		"net.anypin.max_flows = 1000";	/* no final newline */

	(void)state;
	assert_int_equal(parse(c, text, &e), 0);
	assert_int_equal(e.line, 0);
	assert_null(e.why);
	assert_memory_equal(c, d, sizeof(*c));

	/* the same with CRLF line ends */
	{
		char crlf[2048], *o = crlf;
		const char *i;

		for (i = text; *i; i++) {
			if (*i == '\n')
				*o++ = '\r';
			*o++ = *i;
		}
		*o = '\0';
		ap_conf_init(c);
		assert_int_equal(parse(c, crlf, &e), 0);
		assert_memory_equal(c, d, sizeof(*c));
	}
	/* the text is taken by length: a NUL-less buffer, cut after line 4 */
	{
		const char *cut = strstr(text, "net.anypin.prefix.dns.responders");
		char *copy = malloc((size_t)(cut - text));

		memcpy(copy, text, (size_t)(cut - text));
		ap_conf_init(c);
		assert_int_equal(ap_conf_parse(c, copy, (u32)(cut - text), &e), 0);
		expect_get(c, "net.anypin.prefixes",
			   "dns=192.0.2.0/24 web6=2001:db8:a::/48 edge=203.0.113.0/25");
		expect_get(c, "net.anypin.prefix.dns.responders", "");
		free(copy);
	}
	ap_conf_init(c);
	assert_int_equal(ap_conf_parse(c, "", 0, NULL), 0);
	assert_int_equal(ap_conf_parse(c, "\n\n# x\n", 6, &e), 0);
	assert_int_equal(ap_conf_parse(c, "net.anypin.exid=0x1\r\n", 21, &e), 0);
	assert_int_equal(c->exid, 1);
	free(c);
	free(d);
}

static void test_parse_errors(void **state)
{
	struct ap_conf *c = new_conf();

	(void)state;
	expect_parse_error("net.anypin.max_flows 5\n", 1, "expected 'key = value'");
	expect_parse_error("# c\n\nnet.anypin.max_flows\n", 3, "expected 'key = value'");
	expect_parse_error("-net.anypin.max_flows\n", 1, "expected 'key = value'");
	expect_parse_error("= 5\n", 1, "expected 'key = value'");
	expect_parse_error("-\n", 1, "expected 'key = value'");
	expect_parse_error("\n\nkernel.sysrq = 1\n", 3, "not an anypin key");
	expect_parse_error("net.anypin.max_flows = 1\r\nnet.anypin.bogus = 1\r\n", 2,
			   "unknown key");
	expect_parse_error("net.anypin.prefix.dns.enabled = 1\n", 1,
			   "no such prefix (set net.anypin.prefixes first)");
	expect_parse_error("net.anypin.prefixes = dns=192.0.2.0/24\n"
			   "net.anypin.prefix.dns.enabled = 2", 2, "enabled must be 0 or 1");
	expect_parse_error("net.anypin.max_flows = 0\n", 1, "max_flows must be 1 to 16777216");
	expect_parse_error("net.anypin.prefixes = dns=192.0.2.1/24\n", 1, "host bits set");
	expect_parse_error("net.anypin.max_flows = 1 # comment\n", 1, "not a decimal number");
	/* the whole-file check reports line 0 */
	expect_parse_error("net.anypin.prefixes = dns=192.0.2.0/24\n"
			   "net.anypin.prefix.dns.role = responder\n", 0,
			   "a responder prefix has no unicast IPv4 address");
	expect_parse_error("net.anypin.prefixes = a=192.0.2.0/24 b=198.51.100.0/24\n"
			   "net.anypin.prefix.a.unicast = 198.51.100.7\n", 0,
			   "a unicast address lies inside an anycast prefix");
	/* a failing line stops the file: later lines are not applied */
	{
		struct ap_conf_err e;

		assert_int_equal(parse(c, "net.anypin.max_flows = 7\nbad\n"
				       "net.anypin.syn_timeout = 9\n", &e), -1);
		assert_int_equal(e.line, 2);
		assert_int_equal(c->max_flows, 7);
		assert_int_equal(c->syn_timeout, 75);
		assert_int_equal(ap_conf_parse(c, "x", 1, NULL), -1);
	}
	free(c);
}

static void test_check(void **state)
{
	struct ap_conf *c = new_conf();
	const char *why = NULL;

	(void)state;
	set_ok(c, "net.anypin.prefixes", "a=192.0.2.0/24 b=2001:db8:a::/48 c=198.51.100.0/24");
	assert_int_equal(ap_conf_check(c, &why), 0);
	set_ok(c, "net.anypin.prefix.b.role", "responder");
	assert_int_equal(ap_conf_check(c, &why), -1);
	assert_string_equal(why, "a responder prefix has no unicast IPv6 address");
	set_ok(c, "net.anypin.prefix.b.unicast", "203.0.113.1");
	assert_int_equal(ap_conf_check(c, &why), -1);
	assert_string_equal(why, "a responder prefix has no unicast IPv6 address");
	set_ok(c, "net.anypin.prefix.b.unicast", "2001:db8:b::1");
	assert_int_equal(ap_conf_check(c, NULL), 0);
	set_ok(c, "net.anypin.prefix.a.role", "responder");
	assert_int_equal(ap_conf_check(c, &why), -1);
	assert_string_equal(why, "a responder prefix has no unicast IPv4 address");
	set_ok(c, "net.anypin.prefix.a.unicast", "2001:db8:b::1 203.0.113.1");
	assert_int_equal(ap_conf_check(c, &why), 0);
	/* a unicast address in another anycast prefix, even a disabled one */
	set_ok(c, "net.anypin.prefix.c.enabled", "0");
	set_ok(c, "net.anypin.prefix.a.unicast", "198.51.100.1");
	assert_int_equal(ap_conf_check(c, &why), -1);
	assert_string_equal(why, "a unicast address lies inside an anycast prefix");
	set_ok(c, "net.anypin.prefix.a.unicast", "203.0.113.1");
	set_ok(c, "net.anypin.prefix.c.unicast", "2001:db8:a::99");
	assert_int_equal(ap_conf_check(c, &why), -1);
	assert_string_equal(why, "a unicast address lies inside an anycast prefix");
	set_ok(c, "net.anypin.prefix.c.unicast", "");
	/* a prefix rewritten over its own unicast address */
	set_ok(c, "net.anypin.prefixes", "a=203.0.113.0/24 b=2001:db8:a::/48");
	assert_int_equal(ap_conf_check(c, &why), -1);
	assert_string_equal(why, "a unicast address lies inside an anycast prefix");
	free(c);
}

static void test_sc_keys(void **state)
{
	static const char range[] = "instance must be 0 (off) to 63";
	static const char *const inst = "net.anypin.prefix.svc.instance";
	static const char *const peers = "net.anypin.prefix.svc.peers";
	struct ap_conf *c = sc_conf();
	char v[AP_VALUE_MAX], *e;
	int i;

	(void)state;
	expect_get(c, inst, "1");
	expect_get(c, peers, "2=198.51.100.2,2001:db8:1::2 3=198.51.100.3");
	expect_get(c, "net.anypin.prefix.svc6.instance", "0");
	expect_get(c, "net.anypin.prefix.svc6.peers", "");
	assert_int_equal(c->prefixes[0].instance, 1);
	assert_int_equal(c->prefixes[0].peers.ids, 1u << 2 | 1u << 3);
	assert_int_equal(ap_conf_check(c, NULL), 0);

	set_ok(c, inst, " 063\n");
	expect_get(c, inst, "63");
	set_ok(c, inst, "0");
	expect_get(c, inst, "0");
	set_ok(c, inst, "1");
	expect_refused(c, inst, "64", range);
	expect_refused(c, inst, "256", range);
	expect_refused(c, inst, "4294967297", range);
	expect_refused(c, inst, "-1", "not a decimal number");
	expect_refused(c, inst, "", "not a decimal number");
	expect_refused(c, inst, "0x3", "not a decimal number");
	expect_refused(c, inst, "1 2", "not a decimal number");

	expect_refused(c, peers, "0=198.51.100.9", "a peer id is 1-63");
	expect_refused(c, peers, "9=198.51.100.9 9=198.51.100.8", "a peer id given twice");
	expect_refused(c, peers, "9=198.51.100.9 8=198.51.100.9", "two peers with one address");
	expect_refused(c, peers, "9=127.0.0.1", "a peer address is not unicast");
	expect_refused(c, peers, "9=198.51.100.9,198.51.100.8",
		       "a peer has one IPv4 and one IPv6 address at most");
	expect_refused(c, peers, "9:198.51.100.9", "a peer is ID=ADDR[,ADDR]");
	expect_refused(c, peers, "9=198.51.100.9 banana", "a peer is ID=ADDR[,ADDR]");
	set_ok(c, peers, " \n");
	expect_get(c, peers, "");
	assert_int_equal(c->prefixes[0].peers.ids, 0);

	/* the longest value reads back whole: AP_VALUE_MAX holds it */
	e = v;
	for (i = 1; i <= AP_SC_ID_MAX; i++)
		e += sprintf(e, "%s%d=223.255.255.%d,2001:db8:ffff:ffff:ffff:ffff:ffff:%x",
			     i > 1 ? " " : "", i, 100 + i, 0xff00 + i);
	assert_true(strlen(v) < AP_VALUE_MAX);
	/* (all 63 ids: this instance has none for a moment) */
	set_ok(c, peers, "");
	set_ok(c, inst, "0");
	set_ok(c, peers, v);
	expect_get(c, peers, v);

	/* a name that goes and comes back starts without them */
	set_ok(c, "net.anypin.prefixes", "svc6=2001:db8:a::/48");
	set_ok(c, "net.anypin.prefixes", "svc=192.0.2.0/24 svc6=2001:db8:a::/48");
	expect_get(c, inst, "0");
	expect_get(c, peers, "");
	assert_tail_zero(c);

	/* where the datapath does not apply them, only their defaults */
	c->sc_supported = false;
	set_ok(c, inst, "0");
	set_ok(c, peers, "");
	expect_refused(c, inst, "5", sc_off);
	expect_refused(c, peers, "2=198.51.100.2", sc_off);
	expect_refused(c, inst, "64", range);
	expect_get(c, inst, "0");
	free(c);
}

static void check_fails(const struct ap_conf *c, const char *why_expected)
{
	const char *why = NULL;

	assert_int_equal(ap_conf_check(c, &why), -1);
	assert_string_equal(why, why_expected);
}

static void test_sc_check(void **state)
{
	static const char *const inst = "net.anypin.prefix.svc.instance";
	static const char *const peers = "net.anypin.prefix.svc.peers";
	static const char inside[] = "a peer address lies inside an anycast prefix";
	struct ap_conf *c = sc_conf();

	(void)state;
	assert_int_equal(ap_conf_check(c, NULL), 0);
	/* refused as written, whichever key comes last */
	expect_refused(c, inst, "2", "a peer has this instance's own id");
	expect_refused(c, peers, "1=198.51.100.9", "a peer has this instance's own id");
	expect_refused(c, peers, "4=192.0.2.9", "a peer address inside the prefix itself");
	expect_refused(c, peers, "4=198.51.100.4,2001:db8:a::4 5=192.0.2.200",
		       "a peer address inside the prefix itself");
	/* what only the whole configuration tells */
	c->prefixes[0].instance = 2;
	check_fails(c, "a peer has this instance's own id");
	set_ok(c, inst, "0");
	check_fails(c, "peers need an instance id");
	set_ok(c, inst, "1");

	/* a peer in an anycast prefix (any, enabled or not), or at our own address */
	set_ok(c, peers, "2=203.0.113.7");
	check_fails(c, inside);
	set_ok(c, "net.anypin.prefix.cl.enabled", "0");
	check_fails(c, inside);
	set_ok(c, peers, "2=198.51.100.2,2001:db8:a::7");
	check_fails(c, inside);
	set_ok(c, peers, "2=198.51.100.1");
	check_fails(c, "a peer has this instance's unicast address");
	set_ok(c, peers, "2=198.51.100.2");
	set_ok(c, "net.anypin.prefix.svc6.instance", "4");
	set_ok(c, "net.anypin.prefix.svc6.peers", "2=2001:db8:1::1");
	check_fails(c, "a peer has this instance's unicast address");
	/* another prefix's unicast address may be a peer's: it is only ours there */
	set_ok(c, "net.anypin.prefix.svc6.peers", "2=198.51.100.1,2001:db8:1::2");
	assert_int_equal(ap_conf_check(c, NULL), 0);
	/* a prefix rewritten over a peer's address */
	set_ok(c, "net.anypin.prefixes",
	       "svc=192.0.2.0/24 svc6=2001:db8:a::/48 cl=203.0.113.0/24 p=198.51.100.2/32");
	check_fails(c, inside);
	set_ok(c, "net.anypin.prefixes", "svc=192.0.2.0/24 svc6=2001:db8:a::/48 cl=203.0.113.0/24");
	assert_int_equal(ap_conf_check(c, NULL), 0);

	/* client prefixes have no instance */
	set_ok(c, "net.anypin.prefix.cl.instance", "3");
	check_fails(c, "instance and peers are for responder prefixes");
	set_ok(c, "net.anypin.prefix.cl.instance", "0");
	set_ok(c, "net.anypin.prefix.cl.peers", "2=198.51.100.2");
	check_fails(c, "instance and peers are for responder prefixes");
	set_ok(c, "net.anypin.prefix.cl.peers", "");
	set_ok(c, "net.anypin.prefix.svc.role", "client");
	check_fails(c, "instance and peers are for responder prefixes");
	set_ok(c, "net.anypin.prefix.svc.role", "responder");
	assert_int_equal(ap_conf_check(c, NULL), 0);

	/* a datapath that stops applying them refuses what it would ignore */
	c->sc_supported = false;
	check_fails(c, sc_off);
	free(c);

	expect_parse_error("net.anypin.prefixes = s=192.0.2.0/24\n"
			   "net.anypin.prefix.s.role = responder\n"
			   "net.anypin.prefix.s.unicast = 198.51.100.1\n"
			   "net.anypin.prefix.s.instance = 1\n", 4, sc_off);
	expect_parse_error("net.anypin.prefixes = s=192.0.2.0/24\n"
			   "net.anypin.prefix.s.peers = 1=198.51.100.2\n", 2, sc_off);
}

static const struct ap_pconf *match(const struct ap_conf *c, const char *addr, u16 port,
				    enum ap_role role)
{
	struct ap_addr a;
	const char *why;

	assert_int_equal(ap_addr_parse(addr, (u32)strlen(addr), &a, &why), 0);
	return ap_conf_match(c, &a, port, role);
}

static bool in_anycast(const struct ap_conf *c, const char *addr)
{
	struct ap_addr a;
	const char *why;

	assert_int_equal(ap_addr_parse(addr, (u32)strlen(addr), &a, &why), 0);
	return ap_conf_in_anycast(c, &a);
}

static void test_match(void **state)
{
	struct ap_conf *c = new_conf();
	const struct ap_pconf *p;

	(void)state;
	assert_null(match(c, "192.0.2.1", 53, AP_ROLE_CLIENT));
	set_ok(c, "net.anypin.prefixes",
	       "wide=10.0.0.0/8 off=10.1.0.0/16 web=10.2.0.0/16 srv=10.3.0.0/16 "
	       "host=10.2.3.4/32 v6=2001:db8::/32 v6in=2001:db8:1::/48");
	set_ok(c, "net.anypin.prefix.off.enabled", "0");
	set_ok(c, "net.anypin.prefix.web.ports", "80,443,8000-8100");
	set_ok(c, "net.anypin.prefix.srv.role", "responder");
	set_ok(c, "net.anypin.prefix.v6in.ports", "53");

	p = match(c, "10.9.9.9", 1, AP_ROLE_CLIENT);
	assert_non_null(p);
	assert_string_equal(p->name, "wide");
	assert_null(match(c, "10.9.9.9", 1, AP_ROLE_RESPONDER));
	/* a disabled longer prefix carves its range out of "wide" */
	assert_null(match(c, "10.1.2.3", 80, AP_ROLE_CLIENT));
	assert_null(match(c, "10.1.2.3", 80, AP_ROLE_RESPONDER));
	/* so do ports */
	assert_string_equal(match(c, "10.2.0.1", 443, AP_ROLE_CLIENT)->name, "web");
	assert_string_equal(match(c, "10.2.0.1", 8000, AP_ROLE_CLIENT)->name, "web");
	assert_string_equal(match(c, "10.2.0.1", 8100, AP_ROLE_CLIENT)->name, "web");
	assert_null(match(c, "10.2.0.1", 22, AP_ROLE_CLIENT));
	assert_null(match(c, "10.2.0.1", 8101, AP_ROLE_CLIENT));
	/* and another role */
	assert_string_equal(match(c, "10.3.0.1", 22, AP_ROLE_RESPONDER)->name, "srv");
	assert_null(match(c, "10.3.0.1", 22, AP_ROLE_CLIENT));
	/* the longest wins, whatever the order written */
	assert_string_equal(match(c, "10.2.3.4", 22, AP_ROLE_CLIENT)->name, "host");
	assert_string_equal(match(c, "10.2.3.5", 80, AP_ROLE_CLIENT)->name, "web");
	assert_null(match(c, "11.0.0.1", 80, AP_ROLE_CLIENT));
	assert_string_equal(match(c, "2001:db8:2::1", 22, AP_ROLE_CLIENT)->name, "v6");
	assert_string_equal(match(c, "2001:db8:1::1", 53, AP_ROLE_CLIENT)->name, "v6in");
	assert_null(match(c, "2001:db8:1::1", 54, AP_ROLE_CLIENT));
	assert_null(match(c, "::ffff:10.2.0.1", 80, AP_ROLE_CLIENT));

	assert_true(in_anycast(c, "10.1.2.3"));
	assert_true(in_anycast(c, "10.255.0.1"));
	assert_true(in_anycast(c, "2001:db8:ffff::1"));
	assert_false(in_anycast(c, "11.0.0.1"));
	assert_false(in_anycast(c, "2001:db9::1"));

	set_ok(c, "net.anypin.prefix.off.enabled", "1");
	assert_string_equal(match(c, "10.1.2.3", 80, AP_ROLE_CLIENT)->name, "off");
	assert_int_equal(ap_conf_find(c, "srv", 3), 3);
	assert_int_equal(ap_conf_find(c, "srvx", 3), 3);
	assert_int_equal(ap_conf_find(c, "sr", 2), -1);
	assert_int_equal(ap_conf_find(c, "v6inx", 5), -1);
	assert_int_equal(ap_conf_find(c, "0123456789abcdefgh", 18), -1);
	free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_key_names),
		cmocka_unit_test(test_integers),
		cmocka_unit_test(test_fallback_retries),
		cmocka_unit_test(test_exid),
		cmocka_unit_test(test_prefix_values),
		cmocka_unit_test(test_refusals_leave_conf_alone),
		cmocka_unit_test(test_too_many_prefixes),
		cmocka_unit_test(test_prefixes_rewrite),
		cmocka_unit_test(test_prefixes_rewrite_random),
		cmocka_unit_test(test_get_truncates),
		cmocka_unit_test(test_get_set_roundtrip),
		cmocka_unit_test(test_parse_text),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_sc_keys),
		cmocka_unit_test(test_sc_check),
		cmocka_unit_test(test_match),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
