/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Types shared by every part of the core. The core uses no libc and no
 * kernel API: each datapath provides <anypin_port.h> with the fixed-width
 * types (u8 ... u64, __be16, __be32), bool, size_t, NULL, memcpy, memmove,
 * memset, memcmp, ntohs/htons/ntohl/htonl, static_assert(), and
 * WRITE_ONCE() for a field that a datapath may read unlocked (struct
 * ap_flow.last).
 */
#ifndef ANYPIN_TYPES_H
#define ANYPIN_TYPES_H

#include <anypin_port.h>

#define AP_AF_INET	4
#define AP_AF_INET6	6

/* An IPv4 or IPv6 address; an IPv4 address lives in v4 with the rest zero. */
struct ap_addr {
	union {
		__be32 v4;
		__be32 w[4];
		u8 b[16];
	};
	u8 family;		/* 0 (none), AP_AF_INET or AP_AF_INET6 */
};

static inline bool ap_addr_eq(const struct ap_addr *a, const struct ap_addr *b)
{
	return a->family == b->family && !memcmp(a->b, b->b, 16);
}

static inline unsigned int ap_addr_len(u8 family)
{
	return family == AP_AF_INET ? 4 : 16;
}

enum ap_role {
	AP_ROLE_CLIENT,
	AP_ROLE_RESPONDER,
};

#endif
