// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Internet checksum arithmetic. Words are read byte-wise in network order,
 * or, for long runs, summed as they lie in memory and the sum read back in
 * network order; neither alignment nor the host's byte order matter.
 */
#include <anypin/csum.h>

/*
 * The sum of @len bytes (a multiple of 8), folded, in network order. The
 * words are summed as they lie in memory, 64 bits at a time into four sums
 * (which compilers vectorize), and the folded sum is read back from memory:
 * a one's complement sum is the same in either byte order (RFC 1071, 2.B).
 */
static u16 ap_csum_bulk(const u8 *b, u32 len)
{
	u64 s[4] = { 0 }, x;
	u8 w[2];
	u16 h;
	int i;

	for (; len >= 32; len -= 32, b += 32) {
		for (i = 0; i < 4; i++) {
			memcpy(&x, b + 8 * i, 8);
			s[i] += (x & 0xffffffff) + (x >> 32);
		}
	}
	for (; len; len -= 8, b += 8) {
		memcpy(&x, b, 8);
		s[0] += (x & 0xffffffff) + (x >> 32);
	}
	s[0] += s[1] + s[2] + s[3];
	while (s[0] >> 16)
		s[0] = (s[0] & 0xffff) + (s[0] >> 16);
	h = (u16)s[0];
	memcpy(w, &h, 2);
	return ap_get16(w);
}

u32 ap_csum_add(u32 sum, const void *buf, u32 len)
{
	const u8 *b = buf;
	u32 i = len & ~7u;
	u64 s = sum;

	if (i)
		s += ap_csum_bulk(b, i);
	for (; i + 1 < len; i += 2)
		s += (u32)b[i] << 8 | b[i + 1];
	if (len & 1)
		s += (u32)b[len - 1] << 8;
	while (s >> 32)
		s = (s & 0xffffffffu) + (s >> 32);
	return (u32)s;
}

u16 ap_csum_fold(u32 sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (u16)sum;
}

/*
 * AP_CSUM_FULL: RFC 1624 eqn. 3, HC' = ~(~HC + ~m + m').
 * AP_CSUM_PSEUDO: the field holds the uncomplemented pseudo-header sum, so
 * HC' = HC + ~m + m' (as inet_proto_csum_replace4() does for
 * CHECKSUM_PARTIAL).
 */
void ap_csum_replace(u8 *field, const void *from, const void *to, u32 len,
		     enum ap_csum_mode mode, bool pseudo)
{
	const u8 *f = from, *t = to;
	u32 sum, i;
	u16 res;

	if (mode == AP_CSUM_PSEUDO && !pseudo)
		return;
	sum = ap_get16(field);
	if (mode == AP_CSUM_FULL)
		sum = ~sum & 0xffff;
	for (i = 0; i + 1 < len; i += 2) {
		sum += ~((u32)f[i] << 8 | f[i + 1]) & 0xffff;
		sum += (u32)t[i] << 8 | t[i + 1];
	}
	if (len & 1) {
		sum += ~((u32)f[len - 1] << 8) & 0xffff;
		sum += (u32)t[len - 1] << 8;
	}
	res = ap_csum_fold(sum);
	if (mode == AP_CSUM_FULL)
		res = ~res;
	ap_put16(field, res);
}

void ap_csum_replace16(u8 *field, u16 from, u16 to, enum ap_csum_mode mode,
		       bool pseudo)
{
	u8 f[2], t[2];

	ap_put16(f, from);
	ap_put16(t, to);
	ap_csum_replace(field, f, t, 2, mode, pseudo);
}

/* @at - @base odd: the word before holds the first byte, so start there. */
void ap_csum_write(u8 *field, const u8 *base, u8 *at, const void *to, u32 len,
		   enum ap_csum_mode mode)
{
	u8 *start = at - ((u32)(at - base) & 1);
	u32 n = ((u32)(at - start) + len + 1) & ~1u;
	u8 from[6], into[6];

	memcpy(from, start, n);
	memcpy(into, from, n);
	memcpy(into + (at - start), to, len);
	ap_csum_replace(field, from, into, n, mode, false);
	memcpy(at, to, len);
}

u16 ap_ipv4_hdr_csum(const u8 *iph, u32 hlen)
{
	u32 sum;

	sum = ap_csum_add(0, iph, 10);
	if (hlen > 12)
		sum = ap_csum_add(sum, iph + 12, hlen - 12);
	return (u16)~ap_csum_fold(sum);
}

static u32 ap_pseudo_add(u8 family, const u8 *saddr, const u8 *daddr,
			 u8 proto, u32 l4len)
{
	unsigned int alen = ap_addr_len(family);
	u32 sum;

	sum = ap_csum_add(0, saddr, alen);
	sum = ap_csum_add(sum, daddr, alen);
	/* IPv4 has a 16-bit length, IPv6 a 32-bit one: same sum either way */
	return sum + proto + (l4len >> 16) + (l4len & 0xffff);
}

u16 ap_l4_csum(u8 family, const u8 *saddr, const u8 *daddr, u8 proto,
	       const u8 *l4, u32 l4len)
{
	u32 sum = ap_pseudo_add(family, saddr, daddr, proto, l4len);

	return (u16)~ap_csum_fold(ap_csum_add(sum, l4, l4len));
}

u16 ap_pseudo_sum(u8 family, const u8 *saddr, const u8 *daddr, u8 proto,
		  u32 l4len)
{
	return ap_csum_fold(ap_pseudo_add(family, saddr, daddr, proto, l4len));
}
