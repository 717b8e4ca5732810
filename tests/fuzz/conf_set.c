// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * libFuzzer target: ap_conf_set() with a fuzzed key and value on a valid
 * configuration, as a sysctl write or `anypinctl set` does it.
 *
 * Input: u8 base (which configuration), u8 size (of a short read-back),
 * then KEY=VALUE (the key up to the first '=', any bytes).
 *
 * A refused write leaves the configuration byte for byte as it was. An
 * accepted one reads back with ap_conf_get(), and writing the value read
 * back is accepted and changes nothing. A read-back into a short buffer
 * is the start of the whole one, NUL-terminated.
 *
 * The last base is of a datapath that applies the second chance
 * (sc_supported), with instance and peers set; the others take only their
 * defaults. The VALUE is also given to ap_peers_parse() alone, with the
 * same promises: a refusal leaves the table as it was, and what it writes
 * back parses into the same table.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <anypin/conf.h>
#include <anypin/second.h>

#define CHECK(x)	do { if (!(x)) abort(); } while (0)

static const char *const base_text[] = {
	"",
	"net.anypin.prefixes = svc=192.0.2.0/24 svc6=2001:db8:a::/48 web=192.0.2.128/25\n"
	"net.anypin.prefix.svc.responders = 198.51.100.0/24 2001:db8::/32\n"
	"net.anypin.prefix.web.ports = 80,443,8000-8100\n"
	"net.anypin.prefix.svc6.enabled = 0\n",
	"net.anypin.max_flows = 1000\n"
	"net.anypin.exid = 0x1234\n"
	"net.anypin.fallback_retries = 0\n"
	"net.anypin.prefixes = svc=192.0.2.0/24 svc6=2001:db8:a::/48 web=10.0.0.0/8 "
	"d=fd00::/8\n"
	"net.anypin.prefix.svc.role = responder\n"
	"net.anypin.prefix.svc.unicast = 198.51.100.11 2001:db8:1::11\n"
	"net.anypin.prefix.svc6.role = responder\n"
	"net.anypin.prefix.svc6.unicast = 2001:db8:1::11\n"
	"net.anypin.prefix.svc6.responders = 2001:db8:1::/48\n"
	"net.anypin.prefix.web.enabled = 0\n",
	"net.anypin.forward_rate = 1000\n"
	"net.anypin.prefixes = svc=192.0.2.0/24 svc6=2001:db8:a::/48 cl=203.0.113.0/24\n"
	"net.anypin.prefix.svc.role = responder\n"
	"net.anypin.prefix.svc.unicast = 198.51.100.11 2001:db8:1::11\n"
	"net.anypin.prefix.svc.instance = 1\n"
	"net.anypin.prefix.svc.peers = 2=198.51.100.27,2001:db8:2::27 63=10.0.0.63\n"
	"net.anypin.prefix.svc6.role = responder\n"
	"net.anypin.prefix.svc6.unicast = 2001:db8:1::11\n"
	"net.anypin.prefix.svc6.instance = 63\n",
};
#define NBASE	(sizeof(base_text) / sizeof(base_text[0]))

static struct ap_conf base[NBASE], c, saved, again;
static char val[AP_VALUE_MAX], shortv[256];

static struct ap_peers pe, pe_saved, pe_again;
static char ptext[AP_SC_PEERS_STRLEN];

static void check_peers(const char *v, u32 vlen)
{
	const char *why = NULL;
	u32 n;

	memset(&pe, 0xa5, sizeof(pe));
	memcpy(&pe_saved, &pe, sizeof(pe));
	if (ap_peers_parse(v, vlen, &pe, &why)) {
		CHECK(why && !memcmp(&pe, &pe_saved, sizeof(pe)));
		return;
	}
	n = ap_peers_format(&pe, ptext, sizeof(ptext));
	CHECK(n + 1 < sizeof(ptext) && !ptext[n]);
	CHECK(!ap_peers_parse(ptext, n, &pe_again, NULL));
	CHECK(!memcmp(&pe, &pe_again, sizeof(pe)));
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct ap_conf_err e;
	size_t i;

	(void)argc;
	(void)argv;
	for (i = 0; i < NBASE; i++) {
		ap_conf_init(&base[i]);
		base[i].sc_supported = i == NBASE - 1;
		CHECK(!ap_conf_parse(&base[i], base_text[i], (u32)strlen(base_text[i]), &e));
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *key, *v, *why = NULL, *eq;
	u32 klen, vlen, ssize;
	int n, m;

	if (size < 2 || size > 8192)
		return 0;
	memcpy(&c, &base[data[0] % NBASE], sizeof(c));
	ssize = data[1] % sizeof(shortv);
	key = (const char *)data + 2;
	eq = memchr(key, '=', size - 2);
	klen = eq ? (u32)(eq - key) : (u32)(size - 2);
	v = eq ? eq + 1 : key + klen;
	vlen = (u32)(size - 2 - klen - (eq ? 1 : 0));

	check_peers(v, vlen);
	memcpy(&saved, &c, sizeof(c));
	if (ap_conf_set(&c, key, klen, v, vlen, &why)) {
		CHECK(why && !memcmp(&c, &saved, sizeof(c)));
		return 0;
	}
	n = ap_conf_get(&c, key, klen, val, sizeof(val));
	CHECK(n >= 0 && (u32)n < sizeof(val) && !val[n]);

	m = ap_conf_get(&c, key, klen, shortv, ssize);
	CHECK(m <= n && (!ssize || (!shortv[m] && (u32)m < ssize && !memcmp(shortv, val, m))));

	memcpy(&again, &c, sizeof(c));
	why = NULL;
	CHECK(!ap_conf_set(&again, key, klen, val, (u32)n, &why));
	CHECK(!memcmp(&again, &c, sizeof(c)));
	return 0;
}
