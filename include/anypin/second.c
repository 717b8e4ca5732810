// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The second chance's decisions: the peers value, the stamp, the MSS and
 * which arriving segment goes to which peer (second.h).
 */
#include <anypin/second.h>

const char *const ap_sc_names[AP_SC_MAX] = {
	[AP_SC_FORWARD] = "forward",
	[AP_SC_TUNNEL] = "tunnel",
	[AP_SC_SYN] = "syn",
	[AP_SC_NO_TS] = "no_ts",
	[AP_SC_SELF] = "self",
	[AP_SC_UNKNOWN] = "unknown",
	[AP_SC_NO_ADDR] = "no_addr",
	[AP_SC_LOCAL] = "local",
};

static int ap_sc_err(const char **why, const char *msg)
{
	if (why)
		*why = msg;
	return -1;
}

static bool ap_sc_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* One "ID=ADDR[,ADDR]" item: its id and addresses (family 0: none). */
static int ap_peer_parse(const char *s, u32 n, u8 *id, struct ap_addr a[2], const char **why)
{
	struct ap_addr t, *dst;
	u32 i = 0, v = 0, start;

	while (i < n && s[i] >= '0' && s[i] <= '9' && i < 3)
		v = v * 10 + (u32)(s[i++] - '0');
	if (!i || i == 3 || i >= n || s[i] != '=' || (s[0] == '0' && i > 1))
		return ap_sc_err(why, "a peer is ID=ADDR[,ADDR]");
	if (v < 1 || v > AP_SC_ID_MAX)
		return ap_sc_err(why, "a peer id is 1-63");
	*id = (u8)v;
	memset(a, 0, 2 * sizeof(a[0]));
	do {
		start = ++i;
		while (i < n && s[i] != ',')
			i++;
		if (ap_addr_parse(s + start, i - start, &t, why))
			return -1;
		if (!ap_addr_is_unicast(&t))
			return ap_sc_err(why, "a peer address is not unicast");
		dst = &a[t.family == AP_AF_INET6];
		if (dst->family)
			return ap_sc_err(why, "a peer has one IPv4 and one IPv6 address at most");
		/* field by field: the table's bytes are the same for the same text */
		dst->family = t.family;
		memcpy(dst->b, t.b, sizeof(dst->b));
	} while (i < n);
	return 0;
}

/* The next blank-separated item of @s from *pos, or false at the end. */
static bool ap_peer_next(const char *s, u32 n, u32 *pos, const char **item, u32 *len)
{
	u32 i = *pos;

	while (i < n && ap_sc_blank(s[i]))
		i++;
	if (i == n)
		return false;
	*item = s + i;
	while (i < n && !ap_sc_blank(s[i]))
		i++;
	*len = (u32)(i - (*item - s));
	*pos = i;
	return true;
}

/* Whether an item before the one at @end has an address of @a. */
static bool ap_peer_dup(const char *s, u32 end, const struct ap_addr a[2])
{
	struct ap_addr b[2];
	const char *item;
	u32 pos = 0, len;
	u8 id;

	while (ap_peer_next(s, end, &pos, &item, &len)) {
		ap_peer_parse(item, len, &id, b, NULL);
		if ((a[0].family && ap_addr_eq(&a[0], &b[0])) ||
		    (a[1].family && ap_addr_eq(&a[1], &b[1])))
			return true;
	}
	return false;
}

/*
 * Checks everything first, then writes: @out is too large for a kernel
 * stack's copy, and must stay as it was on a refusal.
 */
int ap_peers_parse(const char *s, u32 n, struct ap_peers *out, const char **why)
{
	struct ap_addr a[2];
	const char *item;
	u32 pos = 0, len;
	u64 ids = 0;
	u8 id;

	while (ap_peer_next(s, n, &pos, &item, &len)) {
		if (ap_peer_parse(item, len, &id, a, why))
			return -1;
		if (ids & (u64)1 << id)
			return ap_sc_err(why, "a peer id given twice");
		ids |= (u64)1 << id;
		if (ap_peer_dup(s, (u32)(item - s), a))
			return ap_sc_err(why, "two peers with one address");
	}
	memset(out, 0, sizeof(*out));
	out->ids = ids;
	for (pos = 0; ap_peer_next(s, n, &pos, &item, &len);) {
		ap_peer_parse(item, len, &id, a, NULL);
		out->peer[id].addr4 = a[0];
		out->peer[id].addr6 = a[1];
	}
	return 0;
}

static void ap_sc_cat(char *buf, u32 size, u32 *len, const char *s)
{
	while (*s) {
		if (*len + 1 < size)
			buf[*len] = *s;
		(*len)++;
		s++;
	}
}

u32 ap_peers_format(const struct ap_peers *pe, char *buf, u32 size)
{
	char t[AP_ADDR_STRLEN];
	u32 len = 0;
	u8 id;

	for (id = 1; id <= AP_SC_ID_MAX; id++) {
		if (!(pe->ids & (u64)1 << id))
			continue;
		t[0] = (char)('0' + id / 10);
		t[1] = (char)('0' + id % 10);
		t[2] = '\0';
		if (len)
			ap_sc_cat(buf, size, &len, " ");
		ap_sc_cat(buf, size, &len, id < 10 ? t + 1 : t);
		ap_sc_cat(buf, size, &len, "=");
		if (pe->peer[id].addr4.family) {
			ap_addr_format(&pe->peer[id].addr4, t, sizeof(t));
			ap_sc_cat(buf, size, &len, t);
		}
		if (pe->peer[id].addr4.family && pe->peer[id].addr6.family)
			ap_sc_cat(buf, size, &len, ",");
		if (pe->peer[id].addr6.family) {
			ap_addr_format(&pe->peer[id].addr6, t, sizeof(t));
			ap_sc_cat(buf, size, &len, t);
		}
	}
	if (!size)
		return 0;
	if (len >= size)
		len = size - 1;
	buf[len] = '\0';
	return len;
}

int ap_sc_check(u8 instance, const struct ap_peers *pe, const char **why)
{
	if (instance > AP_SC_ID_MAX)
		return ap_sc_err(why, "instance is 0 (off) or 1-63");
	if (pe->ids && !instance)
		return ap_sc_err(why, "peers need an instance id");
	if (instance && (pe->ids & (u64)1 << instance))
		return ap_sc_err(why, "a peer has this instance's own id");
	return 0;
}

static u32 ap_sc_rd32(const u8 *b)
{
	return (u32)b[0] << 24 | (u32)b[1] << 16 | (u32)b[2] << 8 | b[3];
}

/*
 * Writes @len (at most 4) bytes of a TCP option at @off and updates the
 * checksum. The sum runs over 16-bit words from the TCP header's start,
 * and an option may begin at any byte: the change is summed over the
 * whole words that hold it.
 */
static void ap_sc_write(struct ap_pkt *p, u32 off, const u8 *to, u32 len,
			enum ap_csum_mode mode)
{
	u32 start = off - ((off - p->tcp_off) & 1);
	u32 n = (off + len - start + 1) & ~1u;
	u8 from[6], into[6];

	memcpy(from, p->data + start, n);
	memcpy(into, from, n);
	memcpy(into + (off - start), to, len);
	ap_csum_replace(p->data + p->tcp_off + 16, from, into, n, mode, false);
	memcpy(p->data + off, to, len);
}

bool ap_sc_stamp_pkt(struct ap_pkt *p, const struct ap_opts *o, u8 id,
		     enum ap_csum_mode mode)
{
	u8 to[4];
	u32 v;

	if (!o->ts_off || o->auth || (p->tcp_flags & AP_TCP_SYN) || !id || id > AP_SC_ID_MAX)
		return false;
	v = ap_sc_rd32(p->data + o->ts_off + 2);
	if (ap_sc_stamp(v, id) == v)
		return false;
	v = ap_sc_stamp(v, id);
	to[0] = (u8)(v >> 24);
	to[1] = (u8)(v >> 16);
	to[2] = (u8)(v >> 8);
	to[3] = (u8)v;
	ap_sc_write(p, o->ts_off + 2, to, 4, mode);
	return true;
}

bool ap_sc_mss_pkt(struct ap_pkt *p, const struct ap_opts *o, enum ap_csum_mode mode)
{
	u16 oh = p->family == AP_AF_INET ? AP_SC_OVERHEAD4 : AP_SC_OVERHEAD6;
	u8 *f, b[2];
	u16 mss, to;

	if (!o->mss_off || (p->tcp_flags & (AP_TCP_SYN | AP_TCP_ACK)) != (AP_TCP_SYN | AP_TCP_ACK))
		return false;
	f = p->data + o->mss_off + 2;
	mss = (u16)(f[0] << 8 | f[1]);
	if (mss <= AP_SC_MSS_MIN)
		return false;
	to = mss - oh > AP_SC_MSS_MIN ? mss - oh : AP_SC_MSS_MIN;
	b[0] = (u8)(to >> 8);
	b[1] = (u8)to;
	ap_sc_write(p, o->mss_off + 2, b, 2, mode);
	return true;
}

enum ap_sc ap_sc_in(u8 instance, const struct ap_peers *pe, const struct ap_pkt *p,
		    const struct ap_opts *o, bool tunnel, ap_sc_local_fn local,
		    void *ctx, struct ap_addr *to)
{
	const struct ap_addr *a;
	u8 id;

	if (tunnel)
		return AP_SC_TUNNEL;
	if (p->tcp_flags & AP_TCP_SYN)
		return AP_SC_SYN;
	if (!o->ts_off || !(p->tcp_flags & AP_TCP_ACK))
		return AP_SC_NO_TS;
	id = ap_sc_owner(ap_sc_rd32(p->data + o->ts_off + 6));
	if (!id)
		return AP_SC_NO_TS;
	if (id == instance)
		return AP_SC_SELF;
	if (!(pe->ids & (u64)1 << id))
		return AP_SC_UNKNOWN;
	a = p->family == AP_AF_INET ? &pe->peer[id].addr4 : &pe->peer[id].addr6;
	if (!a->family)
		return AP_SC_NO_ADDR;
	if (local && local(ctx, p))
		return AP_SC_LOCAL;
	*to = *a;
	return AP_SC_FORWARD;
}
