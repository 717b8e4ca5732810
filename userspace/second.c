// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The second chance's tc programs: loaded from the object the Makefile
 * builds and embeds (bpf/second.bpf.c), their maps filled from the
 * configuration's keys alone, a filter on each direction of every
 * Ethernet device but the lower ones of a bridge, bond or team. A filter
 * has our fixed handle and priority, so a restart after a crash replaces
 * what the last anypind left, and on exit only ours go: the clsact qdisc
 * may hold others' filters.
 */
#include <errno.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <libmnl/libmnl.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "bpf/maps.h"
#include "second.h"
#include "util.h"

static_assert(SC_PREFIXES == AP_MAX_PREFIXES, "a map entry per prefix");
static_assert(SC_IDS == AP_SC_ID_MAX + 1, "a map entry per id");
static_assert(SC_PORT_RANGES == AP_MAX_PORT_RANGES, "the ranges of ports");
static_assert(sizeof(struct sc_peer) == 24, "a peer's entry: no hidden padding, its size kept");

/*
 * Our filters' handle and priority: fixed, so that a restart replaces
 * what a killed anypind left, and values of their own ("anyp" and "ap"
 * in ASCII), so that no one else's filter is taken for ours.
 */
#define SC_HANDLE	0x616e7970
#define SC_PRIO		0x6170
/* Devices with our filters: a search of them per notification. */
#define SC_DEVS		4096

/* The object, built by the Makefile (clang -target bpf) and embedded. */
__asm__(".pushsection .rodata\n"
	".balign 8\n"
	"second_bpf:\n"
	".incbin \"" SECOND_BPF "\"\n"
	"second_bpf_end:\n"
	".popsection\n");
extern const char second_bpf[], second_bpf_end[];

/* The core's counter for each of the programs'. */
static const u8 stat_of[SC_NSTATS] = {
	[SC_STAMPED] = AP_STAT_SC_STAMPED,
	[SC_MSS] = AP_STAT_SC_MSS,
	[SC_FORWARDED] = AP_STAT_SC_FORWARDED,
	[SC_LIMITED] = AP_STAT_SC_LIMITED,
	[SC_TUNNEL] = AP_STAT_SC_TUNNEL,
	[SC_UNSENT] = AP_STAT_SC_UNSENT,
};

static struct {
	struct bpf_object *obj;
	struct mnl_socket *mon;		/* link notifications, while loaded */
	struct mnl_socket *routes;	/* route, rule, nexthop and address ones, likewise */
	int egress, ingress;		/* the programs */
	int lpm4, lpm6, prefix, peer, addr, global, stats;
	int ndevs;
	struct dev {
		int ifindex;
		bool ok;		/* attached; else refused, said once */
		bool seen;		/* listed by the dump under way */
	} devs[SC_DEVS];
	u64 last[SC_PREFIXES][SC_NSTATS];
	bool quiet;			/* sweeping: the kernel's "not found" is no news */
	bool swept;			/* since this anypind started */
	bool resync;			/* notifications lost: a dump when the queue is read */
	bool full;			/* a device got no filters for want of room: said */
	bool recheck;			/* the routes to the peers may have changed */
	bool failed;			/* the last recheck could not ask: said */
} sc = { .egress = -1, .ingress = -1 };

/* libbpf's warnings (the verifier's log among them) go to our log. */
static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level != LIBBPF_WARN || sc.quiet)
		return 0;
	fputs("anypind: ", stderr);
	return vfprintf(stderr, fmt, ap);
}

static int map_fd(const char *name)
{
	return bpf_object__find_map_fd_by_name(sc.obj, name);
}

static int load(char *err, size_t errlen)
{
	int e;

	libbpf_set_print(libbpf_log);
	sc.obj = bpf_object__open_mem(second_bpf, second_bpf_end - second_bpf, NULL);
	if (!sc.obj) {
		e = errno;
		goto fail;
	}
	e = -bpf_object__load(sc.obj);
	if (e)
		goto fail;
	sc.egress = bpf_program__fd(bpf_object__find_program_by_name(sc.obj, "sc_egress"));
	sc.ingress = bpf_program__fd(bpf_object__find_program_by_name(sc.obj, "sc_ingress"));
	sc.lpm4 = map_fd("sc_lpm4");
	sc.lpm6 = map_fd("sc_lpm6");
	sc.prefix = map_fd("sc_prefix");
	sc.peer = map_fd("sc_peer");
	sc.addr = map_fd("sc_addr");
	sc.global = map_fd("sc_global");
	sc.stats = map_fd("sc_stats");
	memset(sc.last, 0, sizeof(sc.last));
	return 0;
fail:
	snprintf(err, errlen, "the second chance needs BPF (kernel 5.17 or later, CAP_BPF, "
		 "CAP_PERFMON and CAP_NET_ADMIN): loading its programs: %s", strerror(e));
	bpf_object__close(sc.obj);
	sc.obj = NULL;
	return -1;
}

static void fill_prefix(const struct ap_pconf *pc, struct sc_prefix *v)
{
	int i;

	v->on = pc->enabled && pc->role == AP_ROLE_RESPONDER && pc->instance;
	v->instance = pc->instance;
	v->peers = pc->peers.ids;
	v->has4 = pc->unicast4.family != 0;
	v->has6 = pc->unicast6.family != 0;
	v->own4 = pc->unicast4.v4;
	memcpy(v->own6, pc->unicast6.b, 16);
	v->nports = pc->ports.n;
	for (i = 0; i < pc->ports.n && i < SC_PORT_RANGES; i++) {
		v->lo[i] = pc->ports.r[i].lo;
		v->hi[i] = pc->ports.r[i].hi;
	}
}

/* A map's keys, as they should be: the wanted ones set, then the others deleted. */
struct keys {
	int fd;
	u32 ksize, n;
	u8 *k;			/* n keys of ksize bytes (their values: __u32) */
};

static int keys_add(struct keys *s, const void *k, u32 v)
{
	if (bpf_map_update_elem(s->fd, k, &v, BPF_ANY))
		return -1;
	memcpy(s->k + (size_t)s->n * s->ksize, k, s->ksize);
	s->n++;
	return 0;
}

static bool keys_has(const struct keys *s, const void *k)
{
	u32 i;

	for (i = 0; i < s->n; i++)
		if (!memcmp(s->k + (size_t)i * s->ksize, k, s->ksize))
			return true;
	return false;
}

/* Deletes the keys of the map that were not added. */
static void keys_prune(const struct keys *s)
{
	u8 k[sizeof(struct sc_addr)], next[sizeof(struct sc_addr)];
	void *prev = NULL;

	while (!bpf_map_get_next_key(s->fd, prev, next)) {
		memcpy(k, next, s->ksize);
		if (!keys_has(s, k) && !bpf_map_delete_elem(s->fd, k)) {
			prev = NULL;	/* from the start again: the walk lost its place */
			continue;
		}
		prev = k;
	}
}

/* Peer address @a of prefix @prefix, which the decapsulation admits. */
static int add_addr(struct keys *s, u8 prefix, const struct ap_addr *a)
{
	struct sc_addr k = { .family = a->family, .prefix = prefix };

	if (!a->family)
		return 0;
	memcpy(k.addr, a->b, ap_addr_len(a->family));
	return keys_add(s, &k, 1);
}

static int fill_lpm(struct keys *l4, struct keys *l6, const struct ap_conf *c)
{
	int i;

	for (i = 0; i < c->nprefixes; i++) {
		const struct ap_prefix *p = &c->prefixes[i].prefix;

		if (p->addr.family == AP_AF_INET) {
			struct sc_lpm4 k = { .plen = p->len, .addr = p->addr.v4 };

			if (keys_add(l4, &k, i))
				return -1;
		} else {
			struct sc_lpm6 k = { .plen = p->len };

			memcpy(k.addr, p->addr.b, 16);
			if (keys_add(l6, &k, i))
				return -1;
		}
	}
	return 0;
}

static int fill_addrs(struct keys *a, const struct ap_conf *c)
{
	int i, id;

	for (i = 0; i < c->nprefixes; i++) {
		const struct ap_pconf *pc = &c->prefixes[i];

		if (!pc->instance)
			continue;
		for (id = 1; id <= AP_SC_ID_MAX; id++)
			if (add_addr(a, i, &pc->peers.peer[id].addr4) ||
			    add_addr(a, i, &pc->peers.peer[id].addr6))
				return -1;
	}
	return 0;
}

/* An rtnetlink socket of @flags (beside SOCK_CLOEXEC), bound: NULL (errno), or it. */
static struct mnl_socket *rtnl_open(int flags)
{
	struct mnl_socket *nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC | flags);
	int e;

	if (!nl || !mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID))
		return nl;
	e = errno;
	mnl_socket_close(nl);
	errno = e;
	return NULL;
}

/* A socket for requests (route queries, device dumps), open while they are made. */
struct ask {
	struct mnl_socket *nl;
	u32 seq, portid;
};

static int ask_open(struct ask *q)
{
	q->nl = rtnl_open(0);
	if (!q->nl)
		return -1;
	q->seq = (u32)time(NULL);
	q->portid = mnl_socket_get_portid(q->nl);
	return 0;
}

/* What rtnetlink answered a route query: the route's type, or an error. */
struct answer {
	int error;
	u8 type;
};

static int answer_route(const struct nlmsghdr *nlh, void *arg)
{
	const struct rtmsg *rt = mnl_nlmsg_get_payload(nlh);
	struct answer *a = arg;

	if (nlh->nlmsg_type == RTM_NEWROUTE && nlh->nlmsg_len >= mnl_nlmsg_size(sizeof(*rt)))
		a->type = rt->rtm_type;
	return MNL_CB_OK;
}

static int answer_error(const struct nlmsghdr *nlh, void *arg)
{
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
	struct answer *a = arg;

	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*e))) {
		errno = EBADMSG;
		return MNL_CB_ERROR;
	}
	a->error = -e->error;
	return MNL_CB_STOP;
}

/*
 * Whether there is no route from @src to @dst (of @family), as the
 * module's ip_route_output_key() and ip6_dst_lookup_flow() find one: an
 * output lookup with no device, the mark aside. No route, a reject route
 * (unreachable, blackhole, prohibit, throw: an error) or any type but
 * unicast (the peer's address is this host's own) is none, and for IPv4
 * so is a @src that is not this host's: 1. A route: 0. -1 when it could
 * not be asked, or the kernel had no memory to answer.
 */
static int unrouted(struct ask *q, int family, const void *src, const void *dst)
{
	static mnl_cb_t ctl[NLMSG_MIN_TYPE] = { [NLMSG_ERROR] = answer_error };
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	size_t len = family == AF_INET ? 4 : 16;
	struct answer a = { 0, RTN_UNSPEC };
	struct rtmsg *rt;
	ssize_t n;

	nlh->nlmsg_type = RTM_GETROUTE;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	nlh->nlmsg_seq = ++q->seq;
	rt = mnl_nlmsg_put_extra_header(nlh, sizeof(*rt));
	rt->rtm_family = (u8)family;
	rt->rtm_src_len = rt->rtm_dst_len = (u8)(len * 8);
	mnl_attr_put(nlh, RTA_SRC, len, src);
	mnl_attr_put(nlh, RTA_DST, len, dst);
	if (mnl_socket_sendto(q->nl, nlh, nlh->nlmsg_len) < 0)
		return -1;
	n = mnl_socket_recvfrom(q->nl, buf, sizeof(buf));
	if (n < 0 || mnl_cb_run2(buf, (size_t)n, q->seq, q->portid, answer_route, &a, ctl,
				 NLMSG_MIN_TYPE) < 0)
		return -1;
	if (a.error == ENOMEM || a.error == ENOBUFS) {
		errno = a.error;
		return -1;
	}
	return a.error || a.type != RTN_UNICAST;
}

/* @p's noroute flags, from @pr's unicast addresses: 0, or -1 (not asked). */
static int check_peer(struct ask *q, const struct sc_prefix *pr, struct sc_peer *p)
{
	int r4 = 0, r6 = 0;

	if (pr->has4 && p->has4 && (r4 = unrouted(q, AF_INET, &pr->own4, &p->addr4)) < 0)
		return -1;
	if (pr->has6 && p->has6 && (r6 = unrouted(q, AF_INET6, pr->own6, p->addr6)) < 0)
		return -1;
	p->noroute4 = (u8)r4;
	p->noroute6 = (u8)r6;
	return 0;
}

/*
 * Every map from @c: the prefixes' and peers' arrays first (with the
 * routes to the peers as they are now), then the keys that lead to them,
 * then the stale keys out. A packet in between may meet a mix of both
 * configurations, as the module's readers may.
 */
static int fill(const struct ap_conf *c)
{
	struct sc_global g = { .forward_rate = c->forward_rate };
	static u8 kbuf[3][SC_PREFIXES * (SC_IDS + 1) * 2 * sizeof(struct sc_addr)];
	struct keys l4 = { sc.lpm4, sizeof(struct sc_lpm4), 0, kbuf[0] };
	struct keys l6 = { sc.lpm6, sizeof(struct sc_lpm6), 0, kbuf[1] };
	struct keys a = { sc.addr, sizeof(struct sc_addr), 0, kbuf[2] };
	u32 i, id, k, zero = 0;
	struct ask q;
	int r = -1;

	if (ask_open(&q))
		return -1;
	if (bpf_map_update_elem(sc.global, &zero, &g, BPF_ANY))
		goto out;
	for (i = 0; i < SC_PREFIXES; i++) {
		struct sc_prefix v = { 0 };
		const struct ap_pconf *pc = i < c->nprefixes ? &c->prefixes[i] : NULL;

		if (pc)
			fill_prefix(pc, &v);
		for (id = 0; id < SC_IDS; id++) {
			struct sc_peer p = { 0 };

			if (pc && (pc->peers.ids & (u64)1 << id)) {
				p.has4 = pc->peers.peer[id].addr4.family != 0;
				p.has6 = pc->peers.peer[id].addr6.family != 0;
				p.addr4 = pc->peers.peer[id].addr4.v4;
				memcpy(p.addr6, pc->peers.peer[id].addr6.b, 16);
				if (v.on && check_peer(&q, &v, &p))
					goto out;
			}
			k = i * SC_IDS + id;
			if (bpf_map_update_elem(sc.peer, &k, &p, BPF_ANY))
				goto out;
		}
		if (bpf_map_update_elem(sc.prefix, &i, &v, BPF_ANY))
			goto out;
	}
	if (fill_lpm(&l4, &l6, c) || fill_addrs(&a, c))
		goto out;
	keys_prune(&l4);
	keys_prune(&l6);
	keys_prune(&a);
	r = 0;
out:
	mnl_socket_close(q.nl);
	return r;
}

/*
 * The peers' noroute flags again, from the maps (fill() set what the
 * configuration has): after routes, rules, addresses or devices changed.
 * When it cannot ask, the flags stay as they were until the next change.
 */
static void check_routes(void)
{
	bool again = sc.failed;
	struct sc_prefix v;
	struct sc_peer p;
	struct ask q;
	u32 i, id, k;
	u8 n4, n6;

	sc.recheck = false;
	if (ask_open(&q))
		goto fail;
	for (i = 0; i < SC_PREFIXES; i++) {
		if (bpf_map_lookup_elem(sc.prefix, &i, &v) || !v.on)
			continue;
		for (id = 1; id < SC_IDS; id++) {
			k = i * SC_IDS + id;
			if (!(v.peers & (u64)1 << id) || bpf_map_lookup_elem(sc.peer, &k, &p))
				continue;
			n4 = p.noroute4;
			n6 = p.noroute6;
			if (check_peer(&q, &v, &p) ||
			    ((p.noroute4 != n4 || p.noroute6 != n6) &&
			     bpf_map_update_elem(sc.peer, &k, &p, BPF_EXIST))) {
				mnl_socket_close(q.nl);
				goto fail;
			}
		}
	}
	mnl_socket_close(q.nl);
	sc.failed = false;
	return;
fail:
	/* Asked again each second (second_tick()), said once. */
	if (!again)
		logmsg("second chance: the routes to the peers: %s", strerror(errno));
	sc.recheck = sc.failed = true;
}

/* A device of the namespace, as rtnetlink tells of it (a dump, a notification). */
struct link {
	int ifindex;
	bool gone;		/* RTM_DELLINK: deleted, or moved to another namespace */
	bool ether;		/* ARPHRD_ETHER, the only framing the programs parse */
	/*
	 * A bridge port, bond or team slave, Open vSwitch port: its packets
	 * cross its master's filters too. Not a VRF's: a VRF device's
	 * filters see none of them.
	 */
	bool lower;
	char name[IF_NAMESIZE];
};

static bool attr_str_is(const struct nlattr *a, const char *s)
{
	return mnl_attr_validate(a, MNL_TYPE_NUL_STRING) >= 0 && !strcmp(mnl_attr_get_str(a), s);
}

/*
 * @nlh as a device: 0, or -1 when it tells of none. AF_UNSPEC's only: a
 * bridge tells of its ports, and of itself as its own master, in
 * AF_BRIDGE messages of the same group.
 */
static int parse_link(const struct nlmsghdr *nlh, struct link *l)
{
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *a, *b;
	bool master = false, vrf = false;

	if ((nlh->nlmsg_type != RTM_NEWLINK && nlh->nlmsg_type != RTM_DELLINK) ||
	    nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*ifi)) || ifi->ifi_family != AF_UNSPEC)
		return -1;
	memset(l, 0, sizeof(*l));
	l->ifindex = ifi->ifi_index;
	l->gone = nlh->nlmsg_type == RTM_DELLINK;
	l->ether = ifi->ifi_type == ARPHRD_ETHER;
	mnl_attr_for_each(a, nlh, sizeof(*ifi)) {
		switch (mnl_attr_get_type(a)) {
		case IFLA_IFNAME:
			if (mnl_attr_validate(a, MNL_TYPE_NUL_STRING) >= 0)
				snprintf(l->name, sizeof(l->name), "%s", mnl_attr_get_str(a));
			break;
		case IFLA_MASTER:
			master = true;
			break;
		case IFLA_LINKINFO:
			mnl_attr_for_each_nested(b, a)
				if (mnl_attr_get_type(b) == IFLA_INFO_SLAVE_KIND)
					vrf = attr_str_is(b, "vrf");
			break;
		}
	}
	l->lower = master && !vrf;
	return 0;
}

/* @arg: the function a message about a device goes to. */
static int link_cb(const struct nlmsghdr *nlh, void *arg)
{
	void (*const *fn)(const struct link *) = arg;
	struct link l;

	if (!parse_link(nlh, &l))
		(*fn)(&l);
	return MNL_CB_OK;
}

/*
 * @fn for each device of the namespace (an rtnetlink dump: /sys may be
 * another's): 0, or -1 (EINTR: the devices changed during the dump).
 */
static int links(void (*fn)(const struct link *))
{
	char buf[32768];
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifi;
	struct ask q;
	int n = -1;

	if (ask_open(&q))
		return -1;
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_GETLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = q.seq;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	if (mnl_socket_sendto(q.nl, nlh, nlh->nlmsg_len) < 0)
		goto out;
	while ((n = (int)mnl_socket_recvfrom(q.nl, buf, sizeof(buf))) > 0) {
		n = mnl_cb_run(buf, (size_t)n, q.seq, q.portid, link_cb, &fn);
		if (n <= 0)
			break;
	}
out:
	mnl_socket_close(q.nl);
	return n < 0 ? -1 : 0;
}

/* Whether the device gets our filters: its packets cross them once. */
static bool wanted(const struct link *l)
{
	return !l->gone && l->ether && !l->lower;
}

static int tc(int ifindex, enum bpf_tc_attach_point at, int prog)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, h, .ifindex = ifindex, .attach_point = at);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, o, .handle = SC_HANDLE, .priority = SC_PRIO);

	if (prog < 0)
		return bpf_tc_detach(&h, &o);
	o.prog_fd = prog;
	o.flags = BPF_TC_F_REPLACE;
	return bpf_tc_attach(&h, &o);
}

static int attach_one(int ifindex, const char *name)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, h, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
	int e;

	/* The clsact qdisc, shared with whoever else uses it: kept on exit. */
	sc.quiet = true;	/* EEXIST, said by libbpf too, is the usual case */
	e = bpf_tc_hook_create(&h);
	sc.quiet = false;
	if (e && e != -EEXIST)
		goto fail;
	e = tc(ifindex, BPF_TC_INGRESS, sc.ingress);
	if (!e)
		e = tc(ifindex, BPF_TC_EGRESS, sc.egress);
	if (!e)
		return 0;
	tc(ifindex, BPF_TC_INGRESS, -1);
fail:
	/* Gone since the message (a veth moved into a container): its RTM_DELLINK follows. */
	if (e != -ENODEV)
		logmsg("second chance: no filters on %s: %s", name, strerror(-e));
	return -1;
}

/* The device's entry in sc.devs, or NULL. */
static struct dev *find_dev(int ifindex)
{
	int i;

	for (i = 0; i < sc.ndevs; i++)
		if (sc.devs[i].ifindex == ifindex)
			return &sc.devs[i];
	return NULL;
}

static void detach(int ifindex)
{
	tc(ifindex, BPF_TC_INGRESS, -1);
	tc(ifindex, BPF_TC_EGRESS, -1);
}

/*
 * A device's filters as it is now: attached when it comes or leaves its
 * master, detached when it joins one, forgotten when it goes (its
 * filters with it).
 */
static void update(const struct link *l)
{
	struct dev *d = find_dev(l->ifindex);
	static bool said;	/* that the devices are too many, once */

	if (d && !wanted(l)) {
		if (d->ok && !l->gone)
			detach(l->ifindex);
		*d = sc.devs[--sc.ndevs];
		/* Room again: a dump finds those that found none. */
		sc.resync |= sc.full;
	} else if (d) {
		d->seen = true;
	} else if (wanted(l) && sc.ndevs == SC_DEVS) {
		if (!said)
			logmsg("second chance: %d devices have its filters already: %s gets none",
			       SC_DEVS, l->name);
		said = true;
		sc.full = true;
	} else if (wanted(l)) {
		d = &sc.devs[sc.ndevs++];
		d->ifindex = l->ifindex;
		d->ok = !attach_one(l->ifindex, l->name);
		d->seen = true;
	}
}

/*
 * Every device from a dump: when the programs load, and when
 * notifications were lost. One it no longer lists went while no
 * notification said so. A dump that fails is tried again at the next
 * notification or second_tick(), whichever comes first.
 */
static void resync(void)
{
	bool gone = false;
	int i;

	for (i = 0; i < sc.ndevs; i++)
		sc.devs[i].seen = false;
	sc.full = false;
	sc.resync = false;
	if (links(update)) {
		sc.resync = true;
		if (errno != EINTR)
			logmsg("second chance: listing the devices: %s", strerror(errno));
		return;
	}
	for (i = 0; i < sc.ndevs;) {
		if (sc.devs[i].seen) {
			i++;
		} else {
			sc.devs[i] = sc.devs[--sc.ndevs];
			gone = true;
		}
	}
	/* Room the gone left, found after the dump: another gives it out. */
	sc.resync |= gone && sc.full;
}

/* A socket of notifications of @groups (@n of them), non-blocking: NULL, or it. */
static struct mnl_socket *subscribe(const int *groups, int n)
{
	struct mnl_socket *nl = rtnl_open(SOCK_NONBLOCK);
	int i, g, e;

	if (!nl)
		return NULL;
	for (i = 0; i < n; i++) {
		g = groups[i];
		if (mnl_socket_setsockopt(nl, NETLINK_ADD_MEMBERSHIP, &g, sizeof(g)))
			goto fail;
	}
	return nl;
fail:
	e = errno;
	mnl_socket_close(nl);
	errno = e;
	return NULL;
}

/*
 * The link notifications (RTNLGRP_LINK), subscribed to before the first
 * dump, so that no change falls between the two; on a socket of their
 * own, those that can change the routes from the prefixes' unicast
 * addresses to the peers, whose loss costs no dump (every peer is asked
 * again whatever changed).
 */
static int monitor(char *err, size_t errlen)
{
	static const int link[] = { RTNLGRP_LINK };
	static const int routes[] = {
		RTNLGRP_IPV4_ROUTE, RTNLGRP_IPV6_ROUTE, RTNLGRP_IPV4_RULE, RTNLGRP_IPV6_RULE,
		RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR, RTNLGRP_NEXTHOP,
	};
	int size = 1 << 20;

	sc.mon = subscribe(link, 1);
	if (!sc.mon) {
		snprintf(err, errlen, "second chance: link notifications: %s", strerror(errno));
		return -1;
	}
	sc.routes = subscribe(routes, sizeof(routes) / sizeof(routes[0]));
	if (!sc.routes) {
		snprintf(err, errlen, "second chance: route notifications: %s", strerror(errno));
		return -1;
	}
	/* Room for a burst (containers starting) before a dump has to make up for it. */
	if (setsockopt(mnl_socket_get_fd(sc.mon), SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)))
		setsockopt(mnl_socket_get_fd(sc.mon), SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	return 0;
}

int second_monitor_fd(void)
{
	return sc.mon ? mnl_socket_get_fd(sc.mon) : -1;
}

int second_route_fd(void)
{
	return sc.routes ? mnl_socket_get_fd(sc.routes) : -1;
}

/*
 * The link notifications queued, a share of them at a time: what is
 * left wakes poll() again. A device that comes, goes or changes can take
 * routes with it (IPv4's go with no notification of their own).
 */
static void link_events(void)
{
	void (*fn)(const struct link *) = update;
	char buf[32768];
	ssize_t n;
	int i;

	for (i = 0; sc.mon && i < 64; i++) {
		n = mnl_socket_recvfrom(sc.mon, buf, sizeof(buf));
		if (n < 0 && errno == EAGAIN) {
			if (sc.resync)
				resync();
			return;
		}
		sc.recheck = true;
		/*
		 * Lost (ENOBUFS: the socket overran) or cut short (ENOSPC):
		 * a dump, once the queue is read, which it makes stale.
		 */
		if (n < 0)
			sc.resync = true;
		else if (!sc.resync)
			mnl_cb_run(buf, (size_t)n, 0, 0, link_cb, &fn);
	}
}

/* The route notifications queued: read, not parsed, any of them (or their loss) a recheck. */
static void route_events(void)
{
	char buf[32768];
	int i;

	for (i = 0; sc.routes && i < 64; i++) {
		if (mnl_socket_recvfrom(sc.routes, buf, sizeof(buf)) < 0 && errno == EAGAIN)
			return;
		sc.recheck = true;
	}
}

void second_monitor_run(void)
{
	link_events();
	route_events();
	/* Once for whatever this wakeup read: a handful of queries. */
	if (sc.recheck && sc.obj)
		check_routes();
}

/*
 * Once a second: what a wakeup could not finish. A dump or a query that
 * failed, or lost notifications read to the end of a wakeup's share,
 * leaves nothing queued to wake poll() for it.
 */
void second_tick(void)
{
	if (sc.resync && sc.mon)
		resync();
	if (sc.recheck && sc.obj)
		check_routes();
}

/*
 * Deletes our filters from an Ethernet device, lower ones included, that
 * has none of this anypind's. A device without them (ENOENT), without a
 * clsact qdisc (EINVAL) or gone since the dump is the usual case.
 */
static void sweep_one(const struct link *l)
{
	static const enum bpf_tc_attach_point at[] = { BPF_TC_INGRESS, BPF_TC_EGRESS };
	const struct dev *d = find_dev(l->ifindex);
	int k, e;

	if (!l->ether || (d && d->ok))
		return;
	for (k = 0; k < 2; k++) {
		sc.quiet = true;
		e = tc(l->ifindex, at[k], -1);
		sc.quiet = false;
		if (e && e != -ENOENT && e != -EINVAL && e != -ENODEV)
			logmsg("second chance: removing a filter from %s: %s", l->name,
			       strerror(-e));
	}
}

/*
 * What an anypind killed with -9 (or crashed) left, which would go on
 * stamping and forwarding with its configuration, off every device but
 * ours. A dump the devices' changes interrupt starts again.
 */
static void sweep(void)
{
	int tries = 3;

	sc.swept = true;
	libbpf_set_print(libbpf_log);
	while (links(sweep_one)) {
		if (errno != EINTR || !--tries) {
			logmsg("second chance: listing the devices: %s", strerror(errno));
			return;
		}
	}
}

static bool needed(const struct ap_conf *c)
{
	int i;

	for (i = 0; i < c->nprefixes; i++)
		if (c->prefixes[i].instance)
			return true;
	return false;
}

/*
 * No filter of ours may stay that this anypind did not attach (a killed
 * one's): swept when the programs load (after ours replaced the old ones
 * where they go, so that the stamps have no gap), when they cannot load,
 * when they go, and at a first configuration without an instance.
 */
int second_set(const struct ap_conf *c, char *err, size_t errlen)
{
	bool loaded = sc.obj;

	if (!needed(c)) {
		if (sc.obj)
			second_close();
		else if (!sc.swept)
			sweep();
		return 0;
	}
	if (!sc.obj && load(err, errlen)) {
		sweep();
		return -1;
	}
	if (!loaded && monitor(err, errlen)) {
		second_close();
		return -1;
	}
	if (fill(c)) {
		snprintf(err, errlen, "second chance: filling its maps: %s", strerror(errno));
		if (!loaded)
			second_close();
		return -1;
	}
	if (!loaded) {
		resync();
		sweep();
	}
	return 0;
}

void second_count(struct table *t)
{
	int ncpu = libbpf_num_possible_cpus();
	u64 *v, sum, d;
	u32 i, k, key;
	int cpu;

	if (!sc.obj || ncpu <= 0)
		return;
	v = calloc(ncpu, sizeof(*v));
	if (!v)
		return;
	for (i = 0; i < SC_PREFIXES; i++) {
		for (k = 0; k < SC_NSTATS; k++) {
			key = i * SC_NSTATS + k;
			if (bpf_map_lookup_elem(sc.stats, &key, v))
				continue;
			for (sum = 0, cpu = 0; cpu < ncpu; cpu++)
				sum += v[cpu];
			d = sum - sc.last[i][k];
			if (d)
				table_add_stat(t, i, stat_of[k], d);
			sc.last[i][k] = sum;
		}
	}
	free(v);
}

void second_close(void)
{
	if (sc.mon)
		mnl_socket_close(sc.mon);
	if (sc.routes)
		mnl_socket_close(sc.routes);
	sc.mon = sc.routes = NULL;
	sc.resync = sc.recheck = sc.failed = false;
	if (!sc.obj)
		return;
	sc.ndevs = 0;
	sweep();
	bpf_object__close(sc.obj);
	sc.obj = NULL;
	sc.egress = sc.ingress = -1;
}

int second_prog_fd(bool ingress)
{
	return ingress ? sc.ingress : sc.egress;
}
