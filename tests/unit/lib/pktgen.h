/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Packet builder for the unit tests: IPv4 (with options) or IPv6 (with an
 * extension header chain) carrying TCP, and ICMP/ICMPv6 errors embedding a
 * prefix of such a packet. Checksums are computed with pktgen's own plain
 * RFC 1071 code, independent of the core's csum.c, so the tests can check
 * the core against it. pktgen also locates headers by itself (pg_locate) so
 * a verifier does not depend on ap_parse.
 *
 * Typical use:
 *	struct pg_tcp t;
 *	u8 buf[PG_BUF_MAX];
 *	pg_tcp_init(&t, "192.0.2.1", "198.51.100.7", 40000, 443, AP_TCP_SYN);
 *	t.seq = 1000;
 *	u32 len = pg_build_tcp(buf, &t, NULL);
 */
#ifndef ANYPIN_TEST_PKTGEN_H
#define ANYPIN_TEST_PKTGEN_H

#include <anypin/types.h>
#include <anypin/wire.h>

/* Room for any packet pktgen builds, plus slack for ap_opt_insert. */
#define PG_BUF_MAX	(65535 + 40 + 64)
#define PG_EXT_MAX	8

#define PG_IPPROTO_HOPOPTS	0
#define PG_IPPROTO_ROUTING	43
#define PG_IPPROTO_FRAGMENT	44
#define PG_IPPROTO_DSTOPTS	60

/* One IPv6 extension header. */
struct pg_ext {
	u8 type;		/* PG_IPPROTO_* above */
	u8 len8;		/* Hdr Ext Len: (len8 + 1) * 8 bytes; not for 44 */
	u16 frag_off;		/* fragment header: offset in 8-byte units */
	bool frag_mf;		/* fragment header: more fragments */
};

/* A TCP packet. Fields left zero by pg_tcp_init get sensible values. */
struct pg_tcp {
	struct ap_addr src, dst;	/* both AP_AF_INET or both AP_AF_INET6 */
	u16 sport, dport;		/* host order */
	u32 seq, ack;
	u8 flags;			/* AP_TCP_* */
	u16 window;
	u8 opts[40];			/* TCP option bytes ... */
	u8 optlen;			/* ... padded with EOL to a multiple of 4 */
	u32 paylen;			/* payload bytes, pattern pg_pay_byte() */
	u8 pay_seed;
	u8 proto;			/* IP protocol / last next header; 0: TCP */
	u8 ttl;				/* TTL / hop limit */
	/* IPv4 only */
	u8 ipopts[40];			/* IPv4 option bytes, padded with EOL */
	u8 ipoptlen;
	u16 frag;			/* raw flags + fragment offset, host order */
	u16 ipid;			/* identification */
	/* IPv6 only */
	struct pg_ext ext[PG_EXT_MAX];
	unsigned int n_ext;
};

/* An ICMP (IPv4) or ICMPv6 error, of the family of src. */
struct pg_icmp {
	struct ap_addr src, dst;	/* outer addresses */
	u8 type, code;
	u32 rest;			/* the 4 bytes after the checksum (MTU...) */
	u8 ttl;
	u8 ipopts[40];			/* outer IPv4 options */
	u8 ipoptlen;
	struct pg_ext ext[PG_EXT_MAX];	/* outer IPv6 extension headers */
	unsigned int n_ext;
};

/* Where things are in a built (or located) packet. */
struct pg_layout {
	u32 len;		/* the whole IP packet */
	u8 family;
	u8 proto;		/* outer L4 protocol */
	u32 l4_off;		/* TCP or ICMP header */
	u32 tcp_off;		/* TCP header (the embedded one in an ICMP error) */
	u32 tcp_hlen;		/* from its data offset (0 if not present) */
	u32 pay_off;		/* TCP payload (not for embedded) */
	u32 in_off;		/* ICMP error: embedded IP header, else 0 */
	u32 in_len;		/* ICMP error: embedded bytes present */
};

/* Parses an address ("192.0.2.1" or "2001:db8::1"); aborts if invalid. */
void pg_addr(struct ap_addr *a, const char *str);
/* Clears @t and sets addresses, ports, flags; window 65535, TTL 64. */
void pg_tcp_init(struct pg_tcp *t, const char *src, const char *dst,
		 u16 sport, u16 dport, u8 flags);
/* Appends option bytes to t->opts; aborts on overflow. */
void pg_tcp_add_opt(struct pg_tcp *t, const u8 *opt, u8 len);
void pg_icmp_init(struct pg_icmp *e, const char *src, const char *dst,
		  u8 type, u8 code);

/* Payload byte @i of a packet built with @seed. */
static inline u8 pg_pay_byte(u8 seed, u32 i)
{
	return (u8)(i * 131u + seed * 7u + (i >> 8));
}

/*
 * Builds the packet in @buf (PG_BUF_MAX bytes are always enough) with all
 * checksums complete; returns its length and fills @l if not NULL.
 */
u32 pg_build_tcp(u8 *buf, const struct pg_tcp *t, struct pg_layout *l);
/* An error embedding the first @inlen bytes of @inner. */
u32 pg_build_icmp(u8 *buf, const struct pg_icmp *e, const u8 *inner,
		  u32 inlen, struct pg_layout *l);

/* pktgen's own checksum arithmetic (RFC 1071, byte-wise, no shortcuts). */
u32 pg_sum(u32 sum, const u8 *buf, u32 len);
u16 pg_fold(u32 sum);

/*
 * Locates the headers of a packet pktgen could have built (no trust in
 * lengths beyond @len). Returns 0, or -1 if it cannot.
 */
int pg_locate(const u8 *pkt, u32 len, struct pg_layout *l);

/* Expected values of checksum fields, by full recomputation. */
u16 pg_ipv4_csum(const u8 *iph);	/* the header at @iph, IHL from it */
u16 pg_tcp_csum(const u8 *pkt, u32 len);	/* outer TCP, complemented */
u16 pg_tcp_pseudo(const u8 *pkt, u32 len);	/* folded pseudo-header sum */
u16 pg_icmp_csum(const u8 *pkt, u32 len);	/* ICMP/ICMPv6 */

/* What pg_verify found wrong (a bit mask; 0 is all right). */
#define PG_BAD_LAYOUT		0x01	/* pg_locate failed */
#define PG_BAD_IPCSUM		0x02	/* outer IPv4 header checksum */
#define PG_BAD_TCPCSUM		0x04	/* TCP checksum */
#define PG_BAD_ICMPCSUM		0x08	/* ICMP/ICMPv6 checksum */
#define PG_BAD_INIPCSUM		0x10	/* embedded IPv4 header checksum */
#define PG_BAD_IPLEN		0x20	/* IP length field != @len */

/* Recomputes every checksum of a TCP packet or ICMP error. */
unsigned int pg_verify(const u8 *pkt, u32 len);

/* Sets the TCP checksum field to the pseudo-header sum (CHECKSUM_PARTIAL). */
void pg_set_pseudo(u8 *pkt, u32 len);

/* Deterministic PRNG (xorshift64*) for random packets. */
struct pg_rng {
	u64 s;
};
void pg_rng_seed(struct pg_rng *r, u64 seed);
u32 pg_rand(struct pg_rng *r);
u32 pg_rand_below(struct pg_rng *r, u32 n);	/* 0 .. n-1, n > 0 */

/*
 * A random, valid TCP packet spec of @family (0: either): random addresses,
 * ports, seq/ack, flags; sometimes IPv4 options or an IPv6 extension chain
 * (hop-by-hop, routing, destination options), TCP options (MSS, WS, SACK-OK,
 * timestamps, NOPs, other), payload 0 .. @maxpay bytes (odd lengths too).
 */
void pg_random_tcp(struct pg_rng *r, struct pg_tcp *t, u8 family, u32 maxpay);
/* A random ICMP error header of @family: type/code an error we handle. */
void pg_random_icmp(struct pg_rng *r, struct pg_icmp *e, u8 family);

#endif
