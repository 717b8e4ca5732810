// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The configuration keys of DESIGN.md. Every value is validated completely
 * before anything is changed, so a refused write leaves the configuration
 * byte for byte as it was. This runs in the kernel: no large locals (an
 * ap_conf is about 194 KiB), so "prefixes" is rewritten in place.
 */
#include <anypin/conf.h>
#include <anypin/text.h>
#include <anypin/wire.h>

const char *const ap_conf_global_keys[] = {
	"prefixes", "max_flows", "syn_timeout", "idle_timeout", "fin_timeout", "exid",
	"fallback_retries", "blackhole_timeout", "forward_rate", NULL
};

const char *const ap_conf_prefix_keys[] = {
	"enabled", "role", "responders", "unicast", "ports", "instance", "peers", NULL
};

enum {
	AP_G_PREFIXES, AP_G_MAX_FLOWS, AP_G_SYN, AP_G_IDLE, AP_G_FIN, AP_G_EXID,
	AP_G_FALLBACK, AP_G_BLACKHOLE, AP_G_FORWARD
};

enum {
	AP_P_ENABLED, AP_P_ROLE, AP_P_RESPONDERS, AP_P_UNICAST, AP_P_PORTS, AP_P_INSTANCE,
	AP_P_PEERS
};

static const struct {
	u32 min, max;
	const char *range;
} ap_int_keys[] = {
	[AP_G_MAX_FLOWS] = { 1, 16777216, "max_flows must be 1 to 16777216" },
	[AP_G_SYN] = { 1, 3600, "syn_timeout must be 1 to 3600 (seconds)" },
	[AP_G_IDLE] = { 1, 2592000, "idle_timeout must be 1 to 2592000 (seconds)" },
	[AP_G_FIN] = { 1, 3600, "fin_timeout must be 1 to 3600 (seconds)" },
	/* Linux gives up a connect() after 6 SYN retransmissions by default. */
	[AP_G_FALLBACK] = { 0, 10, "fallback_retries must be 0 to 10" },
	/* A day; 64 times that is the longest a record can keep an address plain. */
	[AP_G_BLACKHOLE] = { 1, 86400, "blackhole_timeout must be 1 to 86400 (seconds)" },
	[AP_G_FORWARD] = { 1, 10000000,
			   "forward_rate must be 1 to 10000000 (segments per second)" },
};

static const char ap_no_prefix[] = "no such prefix (set net.anypin.prefixes first)";
static const char ap_no_unicast4[] = "a responder prefix has no unicast IPv4 address";
static const char ap_no_unicast6[] = "a responder prefix has no unicast IPv6 address";
static const char ap_sc_off[] =
	"this datapath does not apply the second chance (instance, peers)";

static u32 ap_strlen(const char *s)
{
	u32 n = 0;

	while (s[n])
		n++;
	return n;
}

static bool ap_streq(const char *s, u32 n, const char *lit)
{
	return n == ap_strlen(lit) && !memcmp(s, lit, n);
}

static int ap_lookup(const char *const *tab, const char *s, u32 n)
{
	int i;

	for (i = 0; tab[i]; i++)
		if (ap_streq(s, n, tab[i]))
			return i;
	return -1;
}

/* A key's name, parsed: not a flow's struct ap_key. */
struct ap_sysctl_name {
	int gkey;		/* index in ap_conf_global_keys, or -1 */
	int pkey;		/* index in ap_conf_prefix_keys, or -1 */
	const char *name;	/* of the prefix, for pkey */
	u32 nlen;
};

/* "net.anypin.KEY" or "net.anypin.prefix.NAME.KEY", '/' or '.' between. */
static int ap_sysctl_name_parse(const char *k, u32 n, struct ap_sysctl_name *key,
				const char **why)
{
	const char *seg[6];
	u32 len[6], pos = 0, ns = 0, i;

	while (ns < 6 && pos <= n) {
		i = pos;
		while (i < n && k[i] != '.' && k[i] != '/')
			i++;
		seg[ns] = k + pos;
		len[ns++] = i - pos;
		pos = i + 1;
	}
	if (ns < 2 || !ap_streq(seg[0], len[0], "net") || !ap_streq(seg[1], len[1], "anypin"))
		return ap_err(why, "not an anypin key");
	key->gkey = -1;
	key->pkey = -1;
	key->name = NULL;
	key->nlen = 0;
	if (pos > n && ns == 3) {
		key->gkey = ap_lookup(ap_conf_global_keys, seg[2], len[2]);
	} else if (pos > n && ns == 5 && ap_streq(seg[2], len[2], "prefix")) {
		key->pkey = ap_lookup(ap_conf_prefix_keys, seg[4], len[4]);
		key->name = seg[3];
		key->nlen = len[3];
	}
	if (key->gkey < 0 && key->pkey < 0)
		return ap_err(why, "unknown key");
	return 0;
}

void ap_conf_init(struct ap_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->max_flows = 65536;
	c->syn_timeout = 75;
	c->idle_timeout = 432000;
	c->fin_timeout = 60;
	c->exid = AP_EXID_DEFAULT;
	c->fallback_retries = 1;
	c->blackhole_timeout = 60;
	c->forward_rate = 100000;
}

int ap_conf_find(const struct ap_conf *c, const char *name, u32 n)
{
	u32 i;

	if (n > AP_NAME_MAX)
		return -1;
	for (i = 0; i < c->nprefixes && i < AP_MAX_PREFIXES; i++)
		if (ap_streq(name, n, c->prefixes[i].name))
			return (int)i;
	return -1;
}

/* Decimal (or "0x" hex if @hex) without sign; -1 if not a number, -2 if >= 2^32. */
static int ap_parse_num(const char *s, u32 n, bool hex, u32 *v)
{
	u64 x = 0;
	u32 i = 0, base = 10;
	int d;

	if (hex && n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		i = 2;
	}
	if (i == n)
		return -1;
	for (; i < n; i++) {
		if (s[i] >= '0' && s[i] <= '9')
			d = s[i] - '0';
		else if (base == 16 && s[i] >= 'a' && s[i] <= 'f')
			d = s[i] - 'a' + 10;
		else if (base == 16 && s[i] >= 'A' && s[i] <= 'F')
			d = s[i] - 'A' + 10;
		else
			return -1;
		if (x <= 0xffffffffULL)
			x = x * base + (u32)d;
	}
	if (x > 0xffffffffULL)
		return -2;
	*v = (u32)x;
	return 0;
}

static bool ap_name_ok(const char *s, u32 n)
{
	u32 i;

	if (n < 1 || n > AP_NAME_MAX)
		return false;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
		      s[i] == '_' || s[i] == '-'))
			return false;
	return true;
}

/* Splits a "name=prefix" token; the prefix is parsed into @p if given. */
static int ap_item_parse(const char *t, u32 tl, u32 *nlen, struct ap_prefix *p, const char **why)
{
	u32 eq;

	for (eq = 0; eq < tl && t[eq] != '='; eq++)
		;
	if (eq == tl)
		return ap_err(why, "expected name=prefix");
	if (!ap_name_ok(t, eq))
		return ap_err(why, "bad prefix name (1 to 15 of a-z 0-9 _ -)");
	*nlen = eq;
	return p ? ap_prefix_parse(t + eq + 1, tl - eq - 1, p, why) : 0;
}

static bool ap_prefix_eq(const struct ap_prefix *a, const struct ap_prefix *b)
{
	return a->len == b->len && ap_addr_eq(&a->addr, &b->addr);
}

static int ap_prefixes_check(const char *v, u32 n, const char **why)
{
	struct ap_prefix p, q;
	const char *t, *u;
	u32 pos = 0, pos2, tl, ul, nl, ml, count = 0;

	while (ap_token(v, n, &pos, false, &t, &tl)) {
		if (ap_item_parse(t, tl, &nl, &p, why))
			return -1;
		if (++count > AP_MAX_PREFIXES)
			return ap_err(why, "too many prefixes (at most 64)");
		pos2 = 0;
		while (ap_token(v, n, &pos2, false, &u, &ul) && u < t) {
			ap_item_parse(u, ul, &ml, &q, NULL);
			if (ml == nl && !memcmp(u, t, nl))
				return ap_err(why, "duplicate prefix name");
			if (ap_prefix_eq(&p, &q))
				return ap_err(why, "duplicate prefix");
		}
	}
	return 0;
}

static bool ap_prefixes_has(const char *v, u32 n, const char *name)
{
	const char *t;
	u32 pos = 0, tl, nl;

	while (ap_token(v, n, &pos, false, &t, &tl)) {
		ap_item_parse(t, tl, &nl, NULL, NULL);
		if (ap_streq(t, nl, name))
			return true;
	}
	return false;
}

static void ap_pconf_swap(struct ap_pconf *a, struct ap_pconf *b)
{
	u8 *x = (u8 *)a, *y = (u8 *)b, t;
	size_t i;

	for (i = 0; i < sizeof(*a); i++) {
		t = x[i];
		x[i] = y[i];
		y[i] = t;
	}
}

/* @v is valid (ap_prefixes_check); unused entries are kept zeroed. */
static void ap_prefixes_apply(struct ap_conf *c, const char *v, u32 n)
{
	struct ap_pconf *e = c->prefixes;
	const char *t;
	u32 i, j, k, old = c->nprefixes, pos = 0, tl, nl;

	for (i = j = 0; i < old; i++) {
		if (!ap_prefixes_has(v, n, e[i].name))
			continue;
		if (i != j)
			memcpy(&e[j], &e[i], sizeof(*e));
		j++;
	}
	if (j < old)
		memset(&e[j], 0, (old - j) * sizeof(*e));
	c->nprefixes = (u8)j;

	/* Entries before j are in their final place. */
	for (j = 0; ap_token(v, n, &pos, false, &t, &tl); j++) {
		ap_item_parse(t, tl, &nl, NULL, NULL);
		for (k = j; k < c->nprefixes && !ap_streq(t, nl, e[k].name); k++)
			;
		if (k < c->nprefixes) {
			if (k != j)
				ap_pconf_swap(&e[j], &e[k]);
		} else {
			memmove(&e[j + 1], &e[j], (c->nprefixes - j) * sizeof(*e));
			c->nprefixes++;
			memset(&e[j], 0, sizeof(*e));
			memcpy(e[j].name, t, nl);
			e[j].enabled = 1;
			e[j].role = AP_ROLE_CLIENT;
		}
		ap_item_parse(t, tl, &nl, &e[j].prefix, NULL);
	}
}

static int ap_set_global(struct ap_conf *c, int key, const char *v, u32 n, const char **why)
{
	u32 x;
	int r;

	if (key == AP_G_PREFIXES) {
		if (ap_prefixes_check(v, n, why))
			return -1;
		ap_prefixes_apply(c, v, n);
		return 0;
	}
	if (key == AP_G_EXID) {
		r = ap_parse_num(v, n, true, &x);
		if (r == -1)
			return ap_err(why, "not a number");
		if (r < 0 || x < 1 || x > 0xffff)
			return ap_err(why, "exid must be 1 to 65535 (0x0001 to 0xFFFF)");
		c->exid = (u16)x;
		return 0;
	}
	r = ap_parse_num(v, n, false, &x);
	if (r == -1)
		return ap_err(why, "not a decimal number");
	if (r < 0 || x < ap_int_keys[key].min || x > ap_int_keys[key].max)
		return ap_err(why, ap_int_keys[key].range);
	if (key == AP_G_MAX_FLOWS)
		c->max_flows = x;
	else if (key == AP_G_SYN)
		c->syn_timeout = x;
	else if (key == AP_G_IDLE)
		c->idle_timeout = x;
	else if (key == AP_G_FIN)
		c->fin_timeout = x;
	else if (key == AP_G_FALLBACK)
		c->fallback_retries = (u8)x;
	else if (key == AP_G_BLACKHOLE)
		c->blackhole_timeout = x;
	else
		c->forward_rate = x;
	return 0;
}

static int ap_set_responders(struct ap_pconf *p, const char *v, u32 n, const char **why)
{
	struct ap_prefix t;
	const char *s;
	u32 pos = 0, sl, count = 0;

	while (ap_token(v, n, &pos, true, &s, &sl)) {
		if (ap_prefix_parse(s, sl, &t, why))
			return -1;
		if (++count > AP_MAX_RESPONDERS)
			return ap_err(why, "too many responders (at most 16)");
	}
	memset(p->responders, 0, sizeof(p->responders));
	for (pos = count = 0; ap_token(v, n, &pos, true, &s, &sl); count++)
		ap_prefix_parse(s, sl, &p->responders[count], NULL);
	p->nresponders = (u8)count;
	return 0;
}

static int ap_set_unicast(struct ap_pconf *p, const char *v, u32 n, const char **why)
{
	struct ap_addr a, u4, u6, *dst;
	const char *s;
	u32 pos = 0, sl;

	memset(&u4, 0, sizeof(u4));
	memset(&u6, 0, sizeof(u6));
	while (ap_token(v, n, &pos, true, &s, &sl)) {
		if (ap_addr_parse(s, sl, &a, why))
			return -1;
		if (!ap_addr_is_unicast(&a))
			return ap_err(why, "not a unicast address");
		if (ap_prefix_contains(&p->prefix, &a))
			return ap_err(why, "unicast address inside the prefix itself");
		dst = a.family == AP_AF_INET ? &u4 : &u6;
		if (dst->family)
			return ap_err(why, "at most one IPv4 and one IPv6 unicast address");
		*dst = a;
	}
	p->unicast4 = u4;
	p->unicast6 = u6;
	return 0;
}

/* Without @sc (the datapath applies no second chance), only 0. */
static int ap_set_instance(struct ap_pconf *p, bool sc, const char *v, u32 n, const char **why)
{
	u32 x;
	int r;

	r = ap_parse_num(v, n, false, &x);
	if (r == -1)
		return ap_err(why, "not a decimal number");
	if (r < 0 || x > AP_SC_ID_MAX)
		return ap_err(why, "instance must be 0 (off) to 63");
	if (x && !sc)
		return ap_err(why, ap_sc_off);
	/* Whichever of the two keys comes last is refused. */
	if (x && (p->peers.ids & (u64)1 << x))
		return ap_err(why, "a peer has this instance's own id");
	p->instance = (u8)x;
	return 0;
}

static int ap_set_prefix(struct ap_pconf *p, bool sc, int key, const char *v, u32 n,
			 const char **why)
{
	struct ap_ports pl;

	switch (key) {
	case AP_P_ENABLED:
		if (!ap_streq(v, n, "0") && !ap_streq(v, n, "1"))
			return ap_err(why, "enabled must be 0 or 1");
		p->enabled = v[0] == '1';
		return 0;
	case AP_P_ROLE:
		if (ap_streq(v, n, "client"))
			p->role = AP_ROLE_CLIENT;
		else if (ap_streq(v, n, "responder"))
			p->role = AP_ROLE_RESPONDER;
		else
			return ap_err(why, "role must be client or responder");
		return 0;
	case AP_P_RESPONDERS:
		return ap_set_responders(p, v, n, why);
	case AP_P_UNICAST:
		return ap_set_unicast(p, v, n, why);
	case AP_P_INSTANCE:
		return ap_set_instance(p, sc, v, n, why);
	case AP_P_PEERS:
		if (n && !sc)
			return ap_err(why, ap_sc_off);
		return ap_peers_parse_own(v, n, p->instance, &p->prefix, &p->peers, why);
	default:
		if (ap_ports_parse(v, n, &pl, why))
			return -1;
		p->ports = pl;
		return 0;
	}
}

int ap_conf_set(struct ap_conf *c, const char *key, u32 klen,
		const char *val, u32 vlen, const char **why)
{
	struct ap_sysctl_name k;
	int i;

	if (ap_sysctl_name_parse(key, klen, &k, why))
		return -1;
	ap_trim(&val, &vlen);
	if (k.gkey >= 0)
		return ap_set_global(c, k.gkey, val, vlen, why);
	i = ap_conf_find(c, k.name, k.nlen);
	if (i < 0)
		return ap_err(why, ap_no_prefix);
	return ap_set_prefix(&c->prefixes[i], c->sc_supported, k.pkey, val, vlen, why);
}

static void ap_put_prefix(struct ap_out *o, const struct ap_prefix *p)
{
	if (o->size)
		o->len += ap_prefix_format(p, o->buf + o->len, o->size - o->len);
}

static void ap_put_addr(struct ap_out *o, const struct ap_addr *a)
{
	if (o->size)
		o->len += ap_addr_format(a, o->buf + o->len, o->size - o->len);
}

static void ap_get_prefix(struct ap_out *o, const struct ap_pconf *p, int key)
{
	u32 i;

	switch (key) {
	case AP_P_ENABLED:
		ap_puts(o, p->enabled ? "1" : "0");
		break;
	case AP_P_ROLE:
		ap_puts(o, p->role == AP_ROLE_RESPONDER ? "responder" : "client");
		break;
	case AP_P_RESPONDERS:
		for (i = 0; i < p->nresponders && i < AP_MAX_RESPONDERS; i++) {
			if (i)
				ap_puts(o, " ");
			ap_put_prefix(o, &p->responders[i]);
		}
		break;
	case AP_P_UNICAST:
		ap_put_addr(o, &p->unicast4);
		if (p->unicast4.family && p->unicast6.family)
			ap_puts(o, " ");
		ap_put_addr(o, &p->unicast6);
		break;
	case AP_P_INSTANCE:
		ap_putu(o, p->instance, 10, 1);
		break;
	case AP_P_PEERS:
		if (o->size)
			o->len += ap_peers_format(&p->peers, o->buf + o->len, o->size - o->len);
		break;
	default:
		if (o->size)
			o->len += ap_ports_format(&p->ports, o->buf + o->len, o->size - o->len);
		break;
	}
}

int ap_conf_get(const struct ap_conf *c, const char *key, u32 klen, char *buf, u32 size)
{
	struct ap_out o = { buf, size, 0 };
	struct ap_sysctl_name k;
	int i;

	if (ap_sysctl_name_parse(key, klen, &k, NULL))
		return -1;
	if (k.pkey >= 0) {
		i = ap_conf_find(c, k.name, k.nlen);
		if (i < 0)
			return -1;
		ap_get_prefix(&o, &c->prefixes[i], k.pkey);
		return (int)ap_out_end(&o);
	}
	switch (k.gkey) {
	case AP_G_PREFIXES:
		for (i = 0; i < c->nprefixes && i < AP_MAX_PREFIXES; i++) {
			if (i)
				ap_puts(&o, " ");
			ap_puts(&o, c->prefixes[i].name);
			ap_puts(&o, "=");
			ap_put_prefix(&o, &c->prefixes[i].prefix);
		}
		break;
	case AP_G_MAX_FLOWS:
		ap_putu(&o, c->max_flows, 10, 1);
		break;
	case AP_G_SYN:
		ap_putu(&o, c->syn_timeout, 10, 1);
		break;
	case AP_G_IDLE:
		ap_putu(&o, c->idle_timeout, 10, 1);
		break;
	case AP_G_FIN:
		ap_putu(&o, c->fin_timeout, 10, 1);
		break;
	case AP_G_FALLBACK:
		ap_putu(&o, c->fallback_retries, 10, 1);
		break;
	case AP_G_BLACKHOLE:
		ap_putu(&o, c->blackhole_timeout, 10, 1);
		break;
	case AP_G_FORWARD:
		ap_putu(&o, c->forward_rate, 10, 1);
		break;
	default:
		ap_puts(&o, "0x");
		ap_putu(&o, c->exid, 16, 4);
		break;
	}
	return (int)ap_out_end(&o);
}

bool ap_conf_in_anycast(const struct ap_conf *c, const struct ap_addr *a)
{
	return ap_prefix_lpm(&c->prefixes[0].prefix, c->nprefixes, sizeof(struct ap_pconf), a) >= 0;
}

/* The second chance's keys of prefix @p. */
static int ap_conf_check_sc(const struct ap_conf *c, const struct ap_pconf *p,
			    const char **why)
{
	const struct ap_addr *a, *own;
	u32 id, f;

	if (!p->instance && !p->peers.ids)
		return 0;
	if (p->role != AP_ROLE_RESPONDER)
		return ap_err(why, "instance and peers are for responder prefixes");
	if (!c->sc_supported)
		return ap_err(why, ap_sc_off);
	if (ap_sc_check(p->instance, &p->peers, why))
		return -1;
	for (id = 1; id <= AP_SC_ID_MAX; id++) {
		for (f = 0; f < 2 && (p->peers.ids & (u64)1 << id); f++) {
			a = f ? &p->peers.peer[id].addr6 : &p->peers.peer[id].addr4;
			own = f ? &p->unicast6 : &p->unicast4;
			if (!a->family)
				continue;
			if (ap_conf_in_anycast(c, a))
				return ap_err(why, "a peer address lies inside an anycast prefix");
			if (ap_addr_eq(a, own))
				return ap_err(why, "a peer has this instance's unicast address");
		}
	}
	return 0;
}

/*
 * The reasons name no prefix: *why must stay a static string, and the
 * kernel may check several namespaces at once.
 */
int ap_conf_check(const struct ap_conf *c, const char **why)
{
	const struct ap_pconf *p;
	u32 i;

	for (i = 0; i < c->nprefixes && i < AP_MAX_PREFIXES; i++) {
		p = &c->prefixes[i];
		if (p->role == AP_ROLE_RESPONDER) {
			if (p->prefix.addr.family == AP_AF_INET && !p->unicast4.family)
				return ap_err(why, ap_no_unicast4);
			if (p->prefix.addr.family == AP_AF_INET6 && !p->unicast6.family)
				return ap_err(why, ap_no_unicast6);
		}
		if ((p->unicast4.family && ap_conf_in_anycast(c, &p->unicast4)) ||
		    (p->unicast6.family && ap_conf_in_anycast(c, &p->unicast6)))
			return ap_err(why, "a unicast address lies inside an anycast prefix");
		if (ap_conf_check_sc(c, p, why))
			return -1;
	}
	return 0;
}

/* One line of a sysctl.d text: 0 if applied, skipped, or an optional failure. */
static int ap_conf_line(struct ap_conf *c, const char *l, u32 n, const char **why)
{
	const char *k;
	u32 eq, kn;
	bool optional = false;

	ap_trim(&l, &n);
	if (!n || l[0] == '#' || l[0] == ';')
		return 0;
	if (l[0] == '-') {
		optional = true;
		l++;
		n--;
	}
	for (eq = 0; eq < n && l[eq] != '='; eq++)
		;
	k = l;
	kn = eq;
	ap_trim(&k, &kn);
	if (eq == n || !kn)
		return ap_err(why, "expected 'key = value'");
	if (ap_conf_set(c, k, kn, l + eq + 1, n - eq - 1, why) && !optional)
		return -1;
	return 0;
}

int ap_conf_parse(struct ap_conf *c, const char *text, u32 n, struct ap_conf_err *e)
{
	const char *why = NULL;
	u32 pos = 0, end, line = 0;

	while (pos < n) {
		line++;
		for (end = pos; end < n && text[end] != '\n'; end++)
			;
		if (ap_conf_line(c, text + pos, end - pos, &why))
			goto fail;
		pos = end + 1;
	}
	line = 0;
	if (ap_conf_check(c, &why))
		goto fail;
	if (e) {
		e->line = 0;
		e->why = NULL;
	}
	return 0;
fail:
	if (e) {
		e->line = line;
		e->why = why;
	}
	return -1;
}

const struct ap_pconf *ap_conf_match(const struct ap_conf *c, const struct ap_addr *a,
				     u16 port, enum ap_role role)
{
	const struct ap_pconf *p;
	int i;

	i = ap_prefix_lpm(&c->prefixes[0].prefix, c->nprefixes, sizeof(struct ap_pconf), a);
	if (i < 0)
		return NULL;
	p = &c->prefixes[i];
	if (!p->enabled || p->role != role || !ap_ports_match(&p->ports, port))
		return NULL;
	return p;
}
