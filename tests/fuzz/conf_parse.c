// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * libFuzzer target: ap_conf_parse() on arbitrary text (a sysctl.d file or
 * anypind.conf) into a fresh configuration.
 *
 * A refusal names a line of the text (or 0, the whole-file check) and a
 * reason. An accepted configuration, written back as text through
 * ap_conf_get() key by key, parses again into the same bytes. Both are
 * of a datapath that applies the second chance, so that instance and
 * peers take values.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <anypin/conf.h>

#define CHECK(x)	do { if (!(x)) abort(); } while (0)

/* The longest dump: every key of every prefix at its longest, and more. */
#define DUMP_MAX	(AP_VALUE_MAX * 8 + AP_MAX_PREFIXES * 8 * (AP_VALUE_MAX / 4))

struct out {
	char *buf;
	u32 len;
};

/* Appends "KEY = VALUE\n" for @key as ap_conf_get() reads it. */
static void put(struct out *o, const struct ap_conf *c, const char *key)
{
	u32 klen = (u32)strlen(key);
	int n;

	CHECK(o->len + klen + 3 + AP_VALUE_MAX + 1 < DUMP_MAX);
	memcpy(o->buf + o->len, key, klen);
	memcpy(o->buf + o->len + klen, " = ", 3);
	o->len += klen + 3;
	n = ap_conf_get(c, key, klen, o->buf + o->len, AP_VALUE_MAX);
	CHECK(n >= 0 && n < AP_VALUE_MAX && !o->buf[o->len + n]);
	o->len += (u32)n;
	o->buf[o->len++] = '\n';
}

/* The whole configuration as text, global keys first ("prefixes" first). */
static u32 dump(const struct ap_conf *c, char *buf)
{
	struct out o = { buf, 0 };
	char key[128];
	int i, k;

	for (k = 0; ap_conf_global_keys[k]; k++) {
		snprintf(key, sizeof(key), "net.anypin.%s", ap_conf_global_keys[k]);
		put(&o, c, key);
	}
	for (i = 0; i < c->nprefixes; i++) {
		for (k = 0; ap_conf_prefix_keys[k]; k++) {
			snprintf(key, sizeof(key), "net.anypin.prefix.%s.%s", c->prefixes[i].name,
				 ap_conf_prefix_keys[k]);
			put(&o, c, key);
		}
	}
	return o.len;
}

static struct ap_conf c, again;
static char text[DUMP_MAX], text2[DUMP_MAX];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ap_conf_err e = { 12345, NULL };
	const char *why;
	u32 lines = 1, i, n, n2;

	if (size > 65536)
		return 0;
	for (i = 0; i < size; i++)
		lines += data[i] == '\n';
	ap_conf_init(&c);
	c.sc_supported = true;
	if (ap_conf_parse(&c, (const char *)data, (u32)size, &e)) {
		CHECK(e.why && e.line <= lines);
		return 0;
	}
	CHECK(!e.why && !e.line);
	CHECK(c.nprefixes <= AP_MAX_PREFIXES && !ap_conf_check(&c, &why));

	n = dump(&c, text);
	ap_conf_init(&again);
	again.sc_supported = true;
	if (ap_conf_parse(&again, text, n, &e)) {
		fprintf(stderr, "dump refused, line %u: %s\n%.*s", e.line, e.why, (int)n, text);
		abort();
	}
	n2 = dump(&again, text2);
	CHECK(n2 == n && !memcmp(text, text2, n));
	CHECK(!memcmp(&c, &again, sizeof(c)));
	return 0;
}
