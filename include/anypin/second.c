// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The second chance's decisions: the peers value, the stamp, the MSS and
 * which arriving segment goes to which peer (second.h).
 */
#include <anypin/bytes.h>
#include <anypin/second.h>
#include <anypin/text.h>

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

/* One "ID=ADDR[,ADDR]" item: its id and addresses (family 0: none). */
static int ap_peer_parse(const char *s, u32 n, u8 *id, struct ap_addr a[2], const char **why)
{
	struct ap_addr t, *dst;
	u32 i = 0, v = 0, start;

	while (i < n && s[i] >= '0' && s[i] <= '9' && i < 3)
		v = v * 10 + (u32)(s[i++] - '0');
	if (!i || i == 3 || i >= n || s[i] != '=' || (s[0] == '0' && i > 1))
		return ap_err(why, "a peer is ID=ADDR[,ADDR]");
	if (v < 1 || v > AP_SC_ID_MAX)
		return ap_err(why, "a peer id is 1-63");
	*id = (u8)v;
	memset(a, 0, 2 * sizeof(a[0]));
	do {
		start = ++i;
		while (i < n && s[i] != ',')
			i++;
		if (ap_addr_parse(s + start, i - start, &t, why))
			return -1;
		if (!ap_addr_is_unicast(&t))
			return ap_err(why, "a peer address is not unicast");
		dst = &a[t.family == AP_AF_INET6];
		if (dst->family)
			return ap_err(why, "a peer has one IPv4 and one IPv6 address at most");
		/* field by field: the table's bytes are the same for the same text */
		dst->family = t.family;
		memcpy(dst->b, t.b, sizeof(dst->b));
	} while (i < n);
	return 0;
}

/* Whether an item before the one at @end has an address of @a. */
static bool ap_peer_dup(const char *s, u32 end, const struct ap_addr a[2])
{
	struct ap_addr b[2];
	const char *item;
	u32 pos = 0, len;
	u8 id;

	while (ap_token(s, end, &pos, false, &item, &len)) {
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
int ap_peers_parse_own(const char *s, u32 n, u8 instance, const struct ap_prefix *own,
		       struct ap_peers *out, const char **why)
{
	struct ap_addr a[2];
	const char *item;
	u32 pos = 0, len;
	u64 ids = 0;
	u8 id;

	ap_trim(&s, &n);
	while (ap_token(s, n, &pos, false, &item, &len)) {
		if (ap_peer_parse(item, len, &id, a, why))
			return -1;
		if (ids & (u64)1 << id)
			return ap_err(why, "a peer id given twice");
		if (id == instance)
			return ap_err(why, "a peer has this instance's own id");
		if (own && ((a[0].family && ap_prefix_contains(own, &a[0])) ||
			    (a[1].family && ap_prefix_contains(own, &a[1]))))
			return ap_err(why, "a peer address inside the prefix itself");
		ids |= (u64)1 << id;
		if (ap_peer_dup(s, (u32)(item - s), a))
			return ap_err(why, "two peers with one address");
	}
	memset(out, 0, sizeof(*out));
	out->ids = ids;
	for (pos = 0; ap_token(s, n, &pos, false, &item, &len);) {
		ap_peer_parse(item, len, &id, a, NULL);
		out->peer[id].addr4 = a[0];
		out->peer[id].addr6 = a[1];
	}
	return 0;
}

int ap_peers_parse(const char *s, u32 n, struct ap_peers *out, const char **why)
{
	return ap_peers_parse_own(s, n, 0, NULL, out, why);
}

u32 ap_peers_format(const struct ap_peers *pe, char *buf, u32 size)
{
	struct ap_out o = { buf, size, 0 };
	char t[AP_ADDR_STRLEN];
	bool first = true;
	u8 id;

	for (id = 1; id <= AP_SC_ID_MAX; id++) {
		if (!(pe->ids & (u64)1 << id))
			continue;
		if (!first)
			ap_putc(&o, ' ');
		first = false;
		ap_putu(&o, id, 10, 0);
		ap_putc(&o, '=');
		if (pe->peer[id].addr4.family) {
			ap_addr_format(&pe->peer[id].addr4, t, sizeof(t));
			ap_puts(&o, t);
		}
		if (pe->peer[id].addr4.family && pe->peer[id].addr6.family)
			ap_putc(&o, ',');
		if (pe->peer[id].addr6.family) {
			ap_addr_format(&pe->peer[id].addr6, t, sizeof(t));
			ap_puts(&o, t);
		}
	}
	return ap_out_end(&o);
}

int ap_sc_check(u8 instance, const struct ap_peers *pe, const char **why)
{
	if (instance > AP_SC_ID_MAX)
		return ap_err(why, "instance is 0 (off) or 1-63");
	if (pe->ids && !instance)
		return ap_err(why, "peers need an instance id");
	if (instance && (pe->ids & (u64)1 << instance))
		return ap_err(why, "a peer has this instance's own id");
	return 0;
}

/* Writes @len bytes of a TCP option at @off, which may be odd (ap_csum_write). */
static void ap_sc_write(struct ap_pkt *p, u32 off, const u8 *to, u32 len,
			enum ap_csum_mode mode)
{
	u8 *th = p->data + p->tcp_off;

	ap_csum_write(th + 16, th, p->data + off, to, len, mode);
}

bool ap_sc_stamp_pkt(struct ap_pkt *p, const struct ap_opts *o, u8 id,
		     enum ap_csum_mode mode)
{
	u8 to[4];
	u32 v;

	if (ap_sc_out(p->tcp_flags & AP_TCP_SYN, p->tcp_flags & AP_TCP_ACK, o->mss_off,
		      o->ts_off, o->auth) != AP_SC_OUT_STAMP || !id || id > AP_SC_ID_MAX)
		return false;
	v = ap_get32(p->data + o->ts_off + 2);
	if (ap_sc_stamp(v, id) == v)
		return false;
	ap_put32(to, ap_sc_stamp(v, id));
	ap_sc_write(p, o->ts_off + 2, to, 4, mode);
	return true;
}

bool ap_sc_mss_pkt(struct ap_pkt *p, const struct ap_opts *o, enum ap_csum_mode mode)
{
	u8 b[2];
	u16 mss;

	if (ap_sc_out(p->tcp_flags & AP_TCP_SYN, p->tcp_flags & AP_TCP_ACK, o->mss_off,
		      o->ts_off, o->auth) != AP_SC_OUT_MSS)
		return false;
	mss = ap_get16(p->data + o->mss_off + 2);
	if (ap_sc_mss(mss, p->family) == mss)
		return false;
	ap_put16(b, ap_sc_mss(mss, p->family));
	ap_sc_write(p, o->mss_off + 2, b, 2, mode);
	return true;
}

/* The address of peer @id of @family, family 0: none (@id from ap_sc_owner()). */
static const struct ap_addr *ap_sc_addr(const struct ap_peers *pe, u8 id, u8 family)
{
	return family == AP_AF_INET ? &pe->peer[id].addr4 : &pe->peer[id].addr6;
}

/* Applies ap_sc_verdict() to @s, asking @local only what would move. */
static enum ap_sc ap_sc_decide(u8 instance, const struct ap_peers *pe, const struct ap_pkt *p,
			       struct ap_sc_seg *s, ap_sc_local_fn local, void *ctx,
			       struct ap_sc_to *to)
{
	enum ap_sc v;

	s->peer_addr = ap_sc_addr(pe, s->owner, p->family)->family;
	v = ap_sc_verdict(instance, pe->ids, s);
	if (v != AP_SC_FORWARD)
		return v;
	if (local && local(ctx, p))
		return AP_SC_LOCAL;
	to->id = s->owner;
	to->addr = *ap_sc_addr(pe, s->owner, p->family);
	return AP_SC_FORWARD;
}

enum ap_sc ap_sc_in(u8 instance, const struct ap_peers *pe, const struct ap_pkt *p,
		    const struct ap_opts *o, bool tunnel, ap_sc_local_fn local,
		    void *ctx, struct ap_sc_to *to)
{
	struct ap_sc_seg s = {
		.tunnel = tunnel,
		.syn = p->tcp_flags & AP_TCP_SYN,
		.ts = o->ts_off && (p->tcp_flags & AP_TCP_ACK),
	};

	if (s.ts)
		s.owner = ap_sc_owner(ap_get32(p->data + o->ts_off + 6));
	return ap_sc_decide(instance, pe, p, &s, local, ctx, to);
}

enum ap_sc ap_sc_icmp(u8 instance, const struct ap_peers *pe, const struct ap_pkt *p,
		      bool tunnel, struct ap_sc_to *to)
{
	struct ap_sc_seg s = { .tunnel = tunnel, .syn = p->tcp_flags & AP_TCP_SYN };
	u32 tsval;

	if (!s.tunnel && !s.syn && ap_icmp_tsval(p, &tsval)) {
		s.ts = true;
		s.owner = ap_sc_owner(tsval);
	}
	return ap_sc_decide(instance, pe, p, &s, NULL, NULL, to);
}
