/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The configuration of one network namespace (or one anypind), set key by
 * key with the names of DESIGN.md: "net.anypin.max_flows",
 * "net.anypin.prefix.dns.responders", ... ('/' may stand for '.', as in
 * sysctl.d). The kernel's sysctl handlers and anypind's config file both go
 * through ap_conf_set(), so a value is valid for one exactly when it is
 * valid for the other.
 */
#ifndef ANYPIN_CONF_H
#define ANYPIN_CONF_H

#include <anypin/addr.h>
#include <anypin/second.h>

#define AP_NAME_MAX		15
#define AP_MAX_PREFIXES		64
#define AP_MAX_RESPONDERS	16
/* Longest text of "prefixes", with the NUL. */
#define AP_PREFIXES_STRLEN	(AP_MAX_PREFIXES * (AP_NAME_MAX + 1 + AP_PREFIX_STRLEN) + 1)
/* Longest value text ap_conf_get() writes, with the NUL: "prefixes" or "peers". */
#define AP_VALUE_MAX		(AP_PREFIXES_STRLEN > AP_SC_PEERS_STRLEN ? \
				 AP_PREFIXES_STRLEN : AP_SC_PEERS_STRLEN)

struct ap_pconf {
	char name[AP_NAME_MAX + 1];
	struct ap_prefix prefix;	/* ap_prefix_lpm() walks these */
	u8 enabled;
	u8 role;			/* enum ap_role */
	u8 nresponders;
	struct ap_prefix responders[AP_MAX_RESPONDERS];
	struct ap_addr unicast4, unicast6;	/* family 0: unset */
	struct ap_ports ports;
	u8 instance;			/* second chance: this instance's id, 0: off */
	struct ap_peers peers;
};

struct ap_conf {
	u32 max_flows;
	u32 syn_timeout, idle_timeout, fin_timeout;	/* seconds */
	u16 exid;
	u8 fallback_retries;	/* capable SYNs per attempt; 0: never fall back */
	u32 blackhole_timeout;	/* seconds */
	u32 forward_rate;	/* segments a CPU may forward to peers per second */
	/*
	 * Not a key: the datapath applies the second chance. Without it,
	 * instance and peers take only their defaults.
	 */
	bool sc_supported;
	u8 nprefixes;
	struct ap_pconf prefixes[AP_MAX_PREFIXES];
};

/* Defaults of DESIGN.md, no prefixes. */
void ap_conf_init(struct ap_conf *c);

/*
 * Sets one key from its text value (@vlen bytes; surrounding blanks and a
 * trailing newline are ignored). Returns 0, or -1 with *why set and @c
 * unchanged. Writing "prefixes" keeps the settings of names that stay,
 * gives new names the defaults, and removes the others.
 */
int ap_conf_set(struct ap_conf *c, const char *key, u32 klen,
		const char *val, u32 vlen, const char **why);

/*
 * Writes the value of a key as text (what sysctl reads back), truncated to
 * fit @size and NUL-terminated; returns its length, or -1 if no key.
 */
int ap_conf_get(const struct ap_conf *c, const char *key, u32 klen,
		char *buf, u32 size);

/*
 * Checks a whole configuration (a responder has a unicast address, ...).
 * *why is a static string that names no prefix.
 */
int ap_conf_check(const struct ap_conf *c, const char **why);

struct ap_conf_err {
	u32 line;		/* 1-based */
	const char *why;
};

/*
 * Applies a text in sysctl.d syntax ("key = value" lines, '#' and ';'
 * comments, blank lines) line by line, then ap_conf_check(). Keys outside
 * net.anypin are refused; a line starting with '-' may fail without
 * failing the file, as systemd-sysctl allows. On error @e says where
 * (line 0 for the whole-file check) and @c is partly applied: callers
 * parse into a fresh ap_conf_init()ed copy and keep it only on success.
 */
int ap_conf_parse(struct ap_conf *c, const char *text, u32 n, struct ap_conf_err *e);

/* Index of the prefix named @name (@n bytes), or -1. */
int ap_conf_find(const struct ap_conf *c, const char *name, u32 n);

/*
 * The prefix that governs a connection to @a, port @port (host order), for
 * @role: the longest configured prefix containing @a, if it is enabled, has
 * that role, and its ports admit @port; else NULL. A disabled or
 * other-role longer prefix carves its range out of a shorter one.
 */
const struct ap_pconf *ap_conf_match(const struct ap_conf *c, const struct ap_addr *a,
				     u16 port, enum ap_role role);

/* Whether @a lies in any configured prefix, enabled or not. */
bool ap_conf_in_anycast(const struct ap_conf *c, const struct ap_addr *a);

/*
 * The short names of every key, in the order sysctl lists them, NULL-ended:
 * net.anypin.<global key> and net.anypin.prefix.<name>.<prefix key>.
 */
extern const char *const ap_conf_global_keys[];
extern const char *const ap_conf_prefix_keys[];

#endif
