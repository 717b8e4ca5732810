/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Addresses, prefixes and port lists in text and in matching. The text
 * parsers take a length (no NUL needed), accept exactly one item, and say
 * why they refused one; the formatters write RFC 5952 text.
 */
#ifndef ANYPIN_ADDR_H
#define ANYPIN_ADDR_H

#include <anypin/types.h>

struct ap_prefix {
	struct ap_addr addr;	/* host bits zero */
	u8 len;
};

#define AP_MAX_PORT_RANGES	16

struct ap_ports {
	u8 n;			/* 0: every port */
	struct {
		u16 lo, hi;
	} r[AP_MAX_PORT_RANGES];
};

/* Longest text of an address, of a prefix ("/128"), with the NUL. */
#define AP_ADDR_STRLEN		46
#define AP_PREFIX_STRLEN	50
#define AP_PORTS_STRLEN		(AP_MAX_PORT_RANGES * 12)

/* Return 0, or -1 with *why set to a short reason. */
int ap_addr_parse(const char *s, u32 n, struct ap_addr *a, const char **why);
int ap_prefix_parse(const char *s, u32 n, struct ap_prefix *p, const char **why);
/* "53,443,8000-8100"; the empty string means every port. */
int ap_ports_parse(const char *s, u32 n, struct ap_ports *pl, const char **why);

/* Write NUL-terminated text into @buf of @size; return its length. */
u32 ap_addr_format(const struct ap_addr *a, char *buf, u32 size);
u32 ap_prefix_format(const struct ap_prefix *p, char *buf, u32 size);
u32 ap_ports_format(const struct ap_ports *pl, char *buf, u32 size);

bool ap_prefix_contains(const struct ap_prefix *p, const struct ap_addr *a);
bool ap_ports_match(const struct ap_ports *pl, u16 port);

/*
 * Index of the longest prefix among @n at @set containing @a, or -1.
 * @stride is the distance in bytes between consecutive prefixes, so the
 * set can be a field of an array of larger structures.
 */
int ap_prefix_lpm(const void *set, u32 n, u32 stride, const struct ap_addr *a);

/*
 * Whether @a may be a responder's own address: a global or private unicast
 * address (not unspecified, loopback, multicast, broadcast, link-local,
 * IPv4-mapped, or the reserved 240.0.0.0/4 and 0.0.0.0/8).
 */
bool ap_addr_is_unicast(const struct ap_addr *a);

#endif
