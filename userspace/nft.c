// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * anypind's nftables table, built with libnftnl and sent in batches over
 * libmnl. See docs/anypind.md ("What it installs") for the ruleset.
 *
 * A batch is all or nothing: one refused element would take the others of
 * its batch with it. So the table's callers keep the elements exact (the
 * flow table adds and deletes each once), and a refused batch makes
 * nft_commit() fail, after which main.c installs everything afresh.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/xt_NFQUEUE.h>
#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <anypin/conf.h>
#include "nft.h"
#include "util.h"

u64 nft_errors;

static struct mnl_socket *nl, *mon;
static u32 seq, portid;
static bool use_xt;		/* the kernel has no nft_queue: xt's NFQUEUE */
static bool unowned;		/* the kernel has no owned tables (before 5.12) */

/*
 * The sets, per family: the client SYNs the kernel let by (so that what
 * answers them reaches the queue), the four maps of pinned flows, named
 * by the hook and the address they set, and the pinned flows' packets
 * with FIN or RST that the kernel let by. The kernel fills the first and
 * the last itself: a connection costs the table one change, its pin.
 */
enum {
	S_SYNS,
	S_OUT_DADDR, S_IN_SADDR, S_IN_DADDR, S_POST_SADDR,
	S_ENDS, NSETS
};

static const char *const set_names[NSETS] = {
	"syns", "out_daddr", "in_saddr", "in_daddr", "post_saddr", "ends",
};

/* Keyed by a packet's addresses and ports, not by an endpoint. */
static bool by_tuple(int set)
{
	return set >= S_OUT_DADDR;
}

static bool is_map(int set)
{
	return set >= S_OUT_DADDR && set <= S_POST_SADDR;
}

/* Read and emptied at each refresh; past this, ends go unseen (idle expiry catches them). */
#define ENDS_MAX	65536
/* Past this, a SYN goes plain (its rule cannot note it): a flood's. */
#define SYNS_MAX	262144

/*
 * A dump's reader buffer. Netlink fills each part of a dump up to the
 * largest buffer the reader has offered, at most 32 KiB, and a set's walk
 * starts over from its first element for every part: with a page-sized
 * buffer, a map of 10k elements took some 300 parts.
 */
#define DUMP_BUF	32768

static void set_name(char *buf, int set, u8 family)
{
	snprintf(buf, 16, "%s%d", set_names[set], family == AP_AF_INET ? 4 : 6);
}

/* The batch being built: table messages first, elements after. */
static char *batch_buf;
/* One sendmsg(): within the socket's send buffer, set to twice this. */
#define BATCH_SIZE	(2u << 20)
static struct mnl_nlmsg_batch *batch;
static u32 batch_msgs;
static int batch_error;		/* the last refusal's errno */
static bool batch_enoent, batch_eopnotsupp;	/* and whether these were among them */

static void batch_start(void)
{
	batch = mnl_nlmsg_batch_start(batch_buf, BATCH_SIZE);
	nftnl_batch_begin(mnl_nlmsg_batch_current(batch), seq++);
	mnl_nlmsg_batch_next(batch);
	batch_msgs = 0;
	batch_enoent = batch_eopnotsupp = false;
}

/* Sends the batch; the kernel has applied it or refused it on return. */
static int batch_send(void)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	int n, ret = 0;

	nftnl_batch_end(mnl_nlmsg_batch_current(batch), seq++);
	mnl_nlmsg_batch_next(batch);
	if (mnl_socket_sendto(nl, mnl_nlmsg_batch_head(batch),
			      mnl_nlmsg_batch_size(batch)) < 0) {
		batch_error = errno;
		ret = -1;
	}
	/* Netlink runs the batch in sendmsg(): its errors are queued already. */
	while ((n = (int)recv(mnl_socket_get_fd(nl), buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
		for (nlh = (struct nlmsghdr *)buf; mnl_nlmsg_ok(nlh, n);
		     nlh = mnl_nlmsg_next(nlh, &n)) {
			struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

			if (nlh->nlmsg_type == NLMSG_ERROR && e->error) {
				batch_error = -e->error;
				batch_enoent |= batch_error == ENOENT;
				batch_eopnotsupp |= batch_error == EOPNOTSUPP;
				ret = -1;
			}
		}
	}
	mnl_nlmsg_batch_stop(batch);
	batch = NULL;
	return ret;
}

/* A refused batch: counted (a restore follows) if @count; said once a second at most. */
static void refused(bool count)
{
	static time_t said;

	if (count)
		nft_errors++;
	if (said != time(NULL)) {
		said = time(NULL);
		logmsg("nftables refused a batch%s: %s", count ? "" : " of ends read",
		       strerror(batch_error));
	}
}

/*
 * Room for one more message, sending what is there if the buffer is full;
 * @count: its refusal calls for a restore (not for the ends' deletes).
 */
static struct nlmsghdr *msg(u16 type, u16 flags, bool count)
{
	if (!batch)
		batch_start();
	if (mnl_nlmsg_batch_size(batch) > BATCH_SIZE - 8192) {
		if (batch_send())
			refused(count);
		batch_start();
	}
	batch_msgs++;
	return nftnl_nlmsg_build_hdr(mnl_nlmsg_batch_current(batch), type, NFPROTO_INET,
				     flags, seq++);
}

static void msg_done(void)
{
	mnl_nlmsg_batch_next(batch);
}

int nft_open(char *err, size_t errlen)
{
	int one = 1, sndbuf = 2 * BATCH_SIZE;

	/* libmnl wants twice the limit: a message may run past it. */
	batch_buf = malloc(2 * BATCH_SIZE);
	nl = mnl_socket_open(NETLINK_NETFILTER);
	mon = mnl_socket_open(NETLINK_NETFILTER);
	if (!batch_buf || !nl || !mon || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) ||
	    mnl_socket_bind(mon, 0, MNL_SOCKET_AUTOPID)) {
		snprintf(err, errlen, "nftables netlink socket: %s", strerror(errno));
		return -1;
	}
	portid = mnl_socket_get_portid(nl);
	setsockopt(mnl_socket_get_fd(nl), SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	/* A restore of a full table is megabytes of elements in one batch. */
	if (setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof(sndbuf)))
		setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	seq = (u32)time(NULL);
	return 0;
}

/* Expressions. Registers: NFT_REG32_00 up, 4 bytes each. */
static void e_add(struct nftnl_rule *r, struct nftnl_expr *e)
{
	nftnl_rule_add_expr(r, e);
}

static void e_meta(struct nftnl_rule *r, u32 key, u32 dreg)
{
	struct nftnl_expr *e = nftnl_expr_alloc("meta");

	nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, dreg);
	e_add(r, e);
}

static void e_load(struct nftnl_rule *r, u32 base, u32 off, u32 len, u32 dreg)
{
	struct nftnl_expr *e = nftnl_expr_alloc("payload");

	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, off);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, dreg);
	e_add(r, e);
}

static void e_cmp(struct nftnl_rule *r, u32 op, const void *data, u32 len)
{
	struct nftnl_expr *e = nftnl_expr_alloc("cmp");

	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG32_00);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
	nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
	e_add(r, e);
}

static void e_and(struct nftnl_rule *r, const void *mask, u32 len)
{
	struct nftnl_expr *e = nftnl_expr_alloc("bitwise");
	u8 zero[16] = { 0 };

	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG32_00);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG32_00);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, len);
	nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, mask, len);
	nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, zero, len);
	e_add(r, e);
}

/* Past the longest key, an IPv6 tuple: where a map's value goes when unused. */
#define REG_SCRATCH	(NFT_REG32_00 + 10)

/*
 * @dreg 0: membership only, for a set (kernels before 6.3 refuse a map
 * lookup without a destination: REG_SCRATCH then).
 */
static void e_lookup(struct nftnl_rule *r, const char *set, u32 dreg)
{
	struct nftnl_expr *e = nftnl_expr_alloc("lookup");

	nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG32_00);
	nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, set);
	if (dreg)
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_DREG, dreg);
	e_add(r, e);
}

/*
 * Adds the key in the registers to @set from the packet path; with a
 * @timeout (seconds), or refreshes it. A full set breaks the rule.
 */
static void e_dynset(struct nftnl_rule *r, const char *set, u32 timeout)
{
	struct nftnl_expr *e = nftnl_expr_alloc("dynset");

	nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_SREG_KEY, NFT_REG32_00);
	nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_OP,
			   timeout ? NFT_DYNSET_OP_UPDATE : NFT_DYNSET_OP_ADD);
	nftnl_expr_set_str(e, NFTNL_EXPR_DYNSET_SET_NAME, set);
	if (timeout)
		nftnl_expr_set_u64(e, NFTNL_EXPR_DYNSET_TIMEOUT, (u64)timeout * 1000);
	e_add(r, e);
}

static void e_queue(struct nftnl_rule *r, u16 queue)
{
	struct nftnl_expr *e;

	if (!use_xt) {
		e = nftnl_expr_alloc("queue");
		nftnl_expr_set_u16(e, NFTNL_EXPR_QUEUE_NUM, queue);
		nftnl_expr_set_u16(e, NFTNL_EXPR_QUEUE_TOTAL, 1);
		nftnl_expr_set_u16(e, NFTNL_EXPR_QUEUE_FLAGS, NFT_QUEUE_FLAG_BYPASS);
	} else {
		struct xt_NFQ_info_v3 *info = calloc(1, sizeof(*info));

		e = nftnl_expr_alloc("target");
		if (!info) {
			nftnl_expr_free(e);
			return;
		}
		info->queuenum = queue;
		info->queues_total = 1;
		info->flags = NFQ_FLAG_BYPASS;
		nftnl_expr_set_str(e, NFTNL_EXPR_TG_NAME, "NFQUEUE");
		nftnl_expr_set_u32(e, NFTNL_EXPR_TG_REV, 3);
		/* libnftnl takes the buffer. */
		nftnl_expr_set(e, NFTNL_EXPR_TG_INFO, info, sizeof(*info));
	}
	e_add(r, e);
}

/* IPv4 or IPv6 TCP (or ICMP) packets only. */
static void e_proto(struct nftnl_rule *r, u8 family, u8 l4)
{
	u8 nfproto = family == AP_AF_INET ? NFPROTO_IPV4 : NFPROTO_IPV6;

	e_meta(r, NFT_META_NFPROTO, NFT_REG32_00);
	e_cmp(r, NFT_CMP_EQ, &nfproto, 1);
	e_meta(r, NFT_META_L4PROTO, NFT_REG32_00);
	e_cmp(r, NFT_CMP_EQ, &l4, 1);
}

static void e_flags(struct nftnl_rule *r, u8 mask, u32 op, u8 val)
{
	e_load(r, NFT_PAYLOAD_TRANSPORT_HEADER, 13, 1, NFT_REG32_00);
	e_and(r, &mask, 1);
	e_cmp(r, op, &val, 1);
}

static u32 addr_off(u8 family, bool dst)
{
	if (family == AP_AF_INET)
		return dst ? 16 : 12;
	return dst ? 24 : 8;
}

/* A client SYN's key, or its answer's: our address . our port . the service port. */
static void e_syn_key(struct nftnl_rule *r, u8 family, bool answer)
{
	u32 alen = ap_addr_len(family);

	e_load(r, NFT_PAYLOAD_NETWORK_HEADER, addr_off(family, answer), alen, NFT_REG32_00);
	e_load(r, NFT_PAYLOAD_TRANSPORT_HEADER, answer ? 2 : 0, 2, NFT_REG32_00 + alen / 4);
	e_load(r, NFT_PAYLOAD_TRANSPORT_HEADER, answer ? 0 : 2, 2, NFT_REG32_00 + alen / 4 + 1);
}

/* Loads a concatenation: addr . port [. addr . port], each 4-byte padded. */
static u32 e_concat(struct nftnl_rule *r, u8 family, bool first_dst, bool two)
{
	u32 alen = ap_addr_len(family), reg = NFT_REG32_00;
	int i;

	for (i = 0; i < (two ? 2 : 1); i++) {
		bool dst = i ? !first_dst : first_dst;

		e_load(r, NFT_PAYLOAD_NETWORK_HEADER, addr_off(family, dst), alen, reg);
		reg += alen / 4;
		e_load(r, NFT_PAYLOAD_TRANSPORT_HEADER, dst ? 2 : 0, 2, reg);
		reg++;
	}
	return (reg - NFT_REG32_00) * 4;
}

static struct nftnl_rule *rule(const char *chain)
{
	struct nftnl_rule *r = nftnl_rule_alloc();

	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_INET);
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, NFT_TABLE);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
	return r;
}

static void rule_send(struct nftnl_rule *r)
{
	struct nlmsghdr *nlh = msg(NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND, true);

	nftnl_rule_nlmsg_build_payload(nlh, r);
	msg_done();
	nftnl_rule_free(r);
}

/* The chains: one queueing the packets that decide, one rewriting after it. */
enum { C_PRE_Q, C_PRE, C_OUT_Q, C_OUT, C_POST_Q, C_POST, NCHAINS };

static const struct {
	const char *name, *type;
	u32 hook;
	s32 prio;
} chains[NCHAINS] = {
	/* After defragmentation, before conntrack, as the module's hooks. */
	[C_PRE_Q] = { "pre_queue", "filter", NF_INET_PRE_ROUTING, -399 },
	[C_PRE] = { "pre", "filter", NF_INET_PRE_ROUTING, -398 },
	/* After conntrack; a route chain routes a new destination again. */
	[C_OUT_Q] = { "out_queue", "filter", NF_INET_LOCAL_OUT, 50 },
	[C_OUT] = { "out", "route", NF_INET_LOCAL_OUT, 51 },
	/* After source NAT. */
	[C_POST_Q] = { "post_queue", "filter", NF_INET_POST_ROUTING, 101 },
	[C_POST] = { "post", "filter", NF_INET_POST_ROUTING, 102 },
};

#define TCP_FIN	0x01
#define TCP_SYN	0x02
#define TCP_RST	0x04
#define TCP_ACK	0x10

/*
 * The rules, described once: built as netlink messages (rule_nl) or
 * printed as nft -f input (rule_text).
 */
enum rkind {
	R_SYN,		/* SYNs to a prefix (and port range) go to the queue */
	R_ANSWER,	/* SYN-ACK or RST to a noted client SYN, to the queue */
	R_ABORT,	/* our RST to a noted client SYN, unpinned, to the queue */
	R_SYNACK,	/* a responder's SYN-ACK of a pinned flow, to the queue */
	R_ICMP,		/* ICMP errors, to the queue: they may be about a flow */
	R_END,		/* a pinned flow's FIN or RST noted in the ends set */
	R_REWRITE,	/* pinned flows' packets rewritten by a map */
};

struct rdesc {
	enum rkind kind;
	int chain, set;
	u8 family;
	bool dst;		/* R_REWRITE: the address set is the destination */
	const struct ap_prefix *prefix;
	u16 lo, hi;		/* R_SYN: ports; R_ICMP: types; 0-0: any */
	u32 timeout;		/* R_SYN: a client SYN is noted for this long */
};

static void prefix_mask(const struct ap_prefix *p, u8 *mask, u8 *net)
{
	u32 i, bits = p->len;

	for (i = 0; i < 16; i++) {
		mask[i] = bits >= 8 * (i + 1) ? 0xff :
			  bits > 8 * i ? (u8)(0xff << (8 - (bits - 8 * i))) : 0;
		net[i] = p->addr.b[i] & mask[i];
	}
}

static void rule_nl(const struct rdesc *d, u16 queue)
{
	struct nftnl_rule *r = rule(chains[d->chain].name);
	u32 alen = ap_addr_len(d->family);
	u8 mask[16], net[16], l4 = IPPROTO_TCP;
	struct nftnl_expr *e;
	char name[16];

	if (d->kind == R_ICMP)
		l4 = d->family == AP_AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6;
	e_proto(r, d->family, l4);
	set_name(name, d->set, d->family);
	switch (d->kind) {
	case R_SYN:
		e_flags(r, TCP_SYN | TCP_ACK, NFT_CMP_EQ, TCP_SYN);
		prefix_mask(d->prefix, mask, net);
		e_load(r, NFT_PAYLOAD_NETWORK_HEADER, addr_off(d->family, true), alen,
		       NFT_REG32_00);
		e_and(r, mask, alen);
		e_cmp(r, NFT_CMP_EQ, net, alen);
		if (d->hi) {
			__be16 lo = htons(d->lo), hi = htons(d->hi);

			e_load(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, NFT_REG32_00);
			e_cmp(r, NFT_CMP_GTE, &lo, 2);
			e_cmp(r, NFT_CMP_LTE, &hi, 2);
		}
		if (d->timeout) {
			/* A client SYN: what answers it will be queued too. */
			e_syn_key(r, d->family, false);
			e_dynset(r, name, d->timeout);
		}
		break;
	case R_ANSWER:
		e_flags(r, TCP_SYN | TCP_RST, NFT_CMP_NEQ, 0);
		e_syn_key(r, d->family, true);
		e_lookup(r, name, 0);
		break;
	case R_ABORT:
		/* A pinned flow's too (rare): the core rewrites it, R_END never sees it. */
		e_flags(r, TCP_RST, NFT_CMP_NEQ, 0);
		e_syn_key(r, d->family, false);
		e_lookup(r, name, 0);
		break;
	case R_SYNACK:
		e_flags(r, TCP_SYN, NFT_CMP_NEQ, 0);
		e_concat(r, d->family, false, true);
		e_lookup(r, name, REG_SCRATCH);
		break;
	case R_END:
		e_flags(r, TCP_FIN | TCP_RST, NFT_CMP_NEQ, 0);
		e_concat(r, d->family, false, true);
		e_lookup(r, name, REG_SCRATCH);
		set_name(name, S_ENDS, d->family);
		e_dynset(r, name, 0);
		rule_send(r);
		return;
	case R_ICMP: {
		u8 lo = (u8)d->lo, hi = (u8)d->hi;

		e_load(r, NFT_PAYLOAD_TRANSPORT_HEADER, 0, 1, NFT_REG32_00);
		e_cmp(r, NFT_CMP_GTE, &lo, 1);
		e_cmp(r, NFT_CMP_LTE, &hi, 1);
		break;
	}
	case R_REWRITE:
		e_concat(r, d->family, false, true);
		e_lookup(r, name, NFT_REG32_00);
		e = nftnl_expr_alloc("payload");
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_SREG, NFT_REG32_00);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, NFT_PAYLOAD_NETWORK_HEADER);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, addr_off(d->family, d->dst));
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, alen);
		if (d->family == AP_AF_INET) {
			nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_CSUM_TYPE, NFT_PAYLOAD_CSUM_INET);
			nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_CSUM_OFFSET, 10);
		} else if (d->chain == C_PRE) {
			/*
			 * The kernel moves a CHECKSUM_COMPLETE skb->csum by the
			 * address's change, which for IPv6 the TCP checksum's
			 * change cancels (nft_payload_l4csum_update()): TCP would
			 * then checksum every segment again in software. Moving
			 * the flow label's low 16 bits by as much, the way an
			 * IPv4 header checksum moves, makes that sum true again.
			 */
			nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_CSUM_TYPE, NFT_PAYLOAD_CSUM_INET);
			nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_CSUM_OFFSET, 2);
		}
		/* The TCP checksum covers the addresses: the kernel updates it too. */
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_FLAGS, NFT_PAYLOAD_L4CSUM_PSEUDOHDR);
		e_add(r, e);
		rule_send(r);
		return;
	}
	e_queue(r, queue);
	rule_send(r);
}

static void rule_text(const struct rdesc *d, u16 queue, FILE *f)
{
	const char *ip = d->family == AP_AF_INET ? "ip" : "ip6";
	const char *nfp = d->family == AP_AF_INET ? "ipv4" : "ipv6";
	char name[16], a[AP_PREFIX_STRLEN];

	set_name(name, d->set, d->family);
	fprintf(f, "add rule inet %s %s ", NFT_TABLE, chains[d->chain].name);
	switch (d->kind) {
	case R_SYN:
		ap_prefix_format(d->prefix, a, sizeof(a));
		fprintf(f, "%s daddr %s tcp flags & (syn | ack) == syn", ip, a);
		if (d->hi)
			fprintf(f, " tcp dport %u-%u", d->lo, d->hi);
		if (d->timeout)
			fprintf(f, " update @%s { %s saddr . tcp sport . tcp dport timeout %us }", name,
				ip, d->timeout);
		break;
	case R_ANSWER:
		fprintf(f, "meta nfproto %s tcp flags & (syn | rst) != 0 "
			"%s daddr . tcp dport . tcp sport @%s", nfp, ip, name);
		break;
	case R_ABORT:
		fprintf(f, "meta nfproto %s tcp flags & rst != 0 %s saddr . tcp sport . tcp dport @%s",
			nfp, ip, name);
		break;
	case R_SYNACK:
		fprintf(f, "meta nfproto %s tcp flags & syn != 0 "
			"%s saddr . tcp sport . %s daddr . tcp dport @%s", nfp, ip, ip, name);
		break;
	case R_END:
		fprintf(f, "tcp flags & (fin | rst) != 0 %s saddr . tcp sport . %s daddr . tcp dport @%s "
			"add @ends%d { %s saddr . tcp sport . %s daddr . tcp dport }\n", ip, ip, name,
			d->family == AP_AF_INET ? 4 : 6, ip, ip);
		return;
	case R_ICMP:
		fprintf(f, "%s type %u-%u", d->family == AP_AF_INET ? "icmp" : "icmpv6",
			d->lo, d->hi);
		break;
	case R_REWRITE:
		fprintf(f, "%s %s set %s saddr . tcp sport . %s daddr . tcp dport map @%s\n",
			ip, d->dst ? "daddr" : "saddr", ip, ip, name);
		return;
	}
	fprintf(f, " queue num %u bypass\n", queue);
}

static void emit(const struct rdesc *d, u16 queue, FILE *f)
{
	if (f)
		rule_text(d, queue, f);
	else
		rule_nl(d, queue);
}

static void rules_family(const struct ap_conf *c, u8 family, u16 queue, FILE *f)
{
	static const struct { int chain, set; bool dst; } rws[] = {
		{ C_PRE, S_IN_SADDR, false },		/* client: from U, as from A */
		{ C_PRE, S_IN_DADDR, true },		/* responder: to U, as to A */
		{ C_OUT, S_OUT_DADDR, true },		/* client: to A, sent to U */
		{ C_POST, S_POST_SADDR, false },	/* responder: from A, as from U */
	};
	struct rdesc d = { .family = family };
	size_t i;
	int k;

	for (i = 0; i < c->nprefixes; i++) {
		const struct ap_pconf *pc = &c->prefixes[i];

		if (pc->prefix.addr.family != family || !pc->enabled)
			continue;
		d.kind = R_SYN;
		d.chain = pc->role == AP_ROLE_CLIENT ? C_OUT_Q : C_PRE_Q;
		d.set = S_SYNS;
		d.timeout = pc->role == AP_ROLE_CLIENT ? c->syn_timeout : 0;
		d.prefix = &pc->prefix;
		d.lo = d.hi = 0;
		for (k = 0; k < (pc->ports.n ? pc->ports.n : 1); k++) {
			if (pc->ports.n) {
				d.lo = pc->ports.r[k].lo;
				d.hi = pc->ports.r[k].hi;
			}
			emit(&d, queue, f);
		}
	}
	/* A flow outlives its prefix's removal: these stay while one can. */
	d.set = S_SYNS;
	d.kind = R_ANSWER;
	d.chain = C_PRE_Q;
	emit(&d, queue, f);
	d.kind = R_ABORT;
	d.chain = C_OUT_Q;
	emit(&d, queue, f);
	/* A responder's SYN-ACK: the option echoed, from U. */
	d.kind = R_SYNACK;
	d.chain = C_POST_Q;
	d.set = S_POST_SADDR;
	emit(&d, queue, f);
	/* Flows outlive their prefix, their ICMP errors too: always. */
	{
		/* Unreachable, time exceeded, parameter problem; too big for IPv6. */
		d.kind = R_ICMP;
		d.chain = C_PRE_Q;
		if (family == AP_AF_INET6) {
			d.lo = 1;
			d.hi = 4;
			emit(&d, queue, f);
		} else {
			static const u8 types[] = { 3, 11, 12 };

			for (i = 0; i < sizeof(types); i++) {
				d.lo = d.hi = types[i];
				emit(&d, queue, f);
			}
		}
	}
	for (i = 0; i < sizeof(rws) / sizeof(rws[0]); i++) {
		d.chain = rws[i].chain;
		d.set = rws[i].set;
		d.dst = rws[i].dst;
		/* Before the rewrite: noted as the map knows the flow. */
		d.kind = R_END;
		emit(&d, queue, f);
		d.kind = R_REWRITE;
		emit(&d, queue, f);
	}
}

/*
 * @owner: the table is this socket's. Nobody else may change it, `nft flush
 * ruleset` passes it by, and the kernel deletes it when the socket closes,
 * so even a killed anypind leaves no rewrite behind.
 */
static void table_msg(u16 type, u16 flags, bool owner)
{
	struct nftnl_table *t = nftnl_table_alloc();
	struct nlmsghdr *nlh = msg(type, flags, true);

	nftnl_table_set_str(t, NFTNL_TABLE_NAME, NFT_TABLE);
	if (owner)
		nftnl_table_set_u32(t, NFTNL_TABLE_FLAGS, NFT_TABLE_F_OWNER);
	nftnl_table_nlmsg_build_payload(nlh, t);
	msg_done();
	nftnl_table_free(t);
}

/* nft's type ids, so that `nft list` shows the keys as addresses and ports. */
#define TYPE_IPV4	7
#define TYPE_IPV6	8
#define TYPE_SERVICE	13

static void set_msg(int set, u8 family)
{
	struct nftnl_set *s = nftnl_set_alloc();
	u32 alen = ap_addr_len(family), atype = family == AP_AF_INET ? TYPE_IPV4 : TYPE_IPV6;
	bool map = is_map(set);
	/* A tuple: addr . port . addr . port; a SYN: addr . port . port. */
	u32 klen = by_tuple(set) ? 2 * (alen + 4) : alen + 8;
	u32 ktype = (atype << 6 | TYPE_SERVICE) << 6;
	struct nlmsghdr *nlh;
	char name[16];

	ktype = by_tuple(set) ? (ktype | atype) << 6 | TYPE_SERVICE : ktype | TYPE_SERVICE;
	set_name(name, set, family);
	nftnl_set_set_str(s, NFTNL_SET_TABLE, NFT_TABLE);
	nftnl_set_set_str(s, NFTNL_SET_NAME, name);
	nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_INET);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, klen);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, ktype);
	nftnl_set_set_u32(s, NFTNL_SET_ID, (u32)(set * 2 + (family == AP_AF_INET6)) + 1);
	if (map) {
		nftnl_set_set_u32(s, NFTNL_SET_FLAGS, NFT_SET_MAP);
		nftnl_set_set_u32(s, NFTNL_SET_DATA_TYPE, atype);
		nftnl_set_set_u32(s, NFTNL_SET_DATA_LEN, alen);
		/* A counter per element: the packets the kernel rewrote for a flow. */
		nftnl_set_add_expr(s, nftnl_expr_alloc("counter"));
	} else {
		/* Filled by the packet path (dynset), bounded; SYNs for a while. */
		nftnl_set_set_u32(s, NFTNL_SET_FLAGS, NFT_SET_EVAL |
				  (set == S_SYNS ? NFT_SET_TIMEOUT : 0));
		nftnl_set_set_u32(s, NFTNL_SET_DESC_SIZE, set == S_SYNS ? SYNS_MAX : ENDS_MAX);
	}
	nlh = msg(NFT_MSG_NEWSET, NLM_F_CREATE, true);
	nftnl_set_nlmsg_build_payload(nlh, s);
	msg_done();
	nftnl_set_free(s);
}

static void chain_msg(int i, u16 type)
{
	struct nftnl_chain *ch = nftnl_chain_alloc();
	struct nlmsghdr *nlh;

	nftnl_chain_set_str(ch, NFTNL_CHAIN_TABLE, NFT_TABLE);
	nftnl_chain_set_str(ch, NFTNL_CHAIN_NAME, chains[i].name);
	if (type == NFT_MSG_NEWCHAIN) {
		nftnl_chain_set_str(ch, NFTNL_CHAIN_TYPE, chains[i].type);
		nftnl_chain_set_u32(ch, NFTNL_CHAIN_HOOKNUM, chains[i].hook);
		nftnl_chain_set_s32(ch, NFTNL_CHAIN_PRIO, chains[i].prio);
		nftnl_chain_set_u32(ch, NFTNL_CHAIN_POLICY, NF_ACCEPT);
		nlh = msg(type, NLM_F_CREATE, true);
		nftnl_chain_nlmsg_build_payload(nlh, ch);
	} else {
		/* A rule deletion naming only the chain flushes it. */
		struct nftnl_rule *r = rule(chains[i].name);

		nlh = msg(NFT_MSG_DELRULE, 0, true);
		nftnl_rule_nlmsg_build_payload(nlh, r);
		nftnl_rule_free(r);
	}
	msg_done();
	nftnl_chain_free(ch);
}

/* Element operations wait here until nft_commit(), after any table change. */
struct op {
	bool add;
	u8 set, family, klen, dlen;
	u8 key[40], data[16];
};

static struct op *ops;
static u32 nops, ops_max;

static void op_send(const struct op *o, bool count)
{
	struct nftnl_set *s = nftnl_set_alloc();
	struct nftnl_set_elem *e = nftnl_set_elem_alloc();
	struct nlmsghdr *nlh;
	char name[16];

	set_name(name, o->set, o->family);
	nftnl_set_set_str(s, NFTNL_SET_TABLE, NFT_TABLE);
	nftnl_set_set_str(s, NFTNL_SET_NAME, name);
	nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, o->key, o->klen);
	if (o->dlen)
		nftnl_set_elem_set(e, NFTNL_SET_ELEM_DATA, o->data, o->dlen);
	nftnl_set_elem_add(s, e);
	nlh = msg(o->add ? NFT_MSG_NEWSETELEM : NFT_MSG_DELSETELEM, o->add ? NLM_F_CREATE : 0,
		  count);
	nftnl_set_elems_nlmsg_build_payload(nlh, s);
	msg_done();
	nftnl_set_free(s);
}

static struct op *op_new(bool add, int set, u8 family)
{
	struct op *n;

	if (nops == ops_max) {
		n = realloc(ops, (ops_max ? ops_max * 2 : 64) * sizeof(*ops));
		if (!n) {
			/* Out of memory: send what we have, then there is room. */
			nft_commit();
			if (!ops)
				return NULL;
		} else {
			ops = n;
			ops_max = ops_max ? ops_max * 2 : 64;
		}
	}
	n = &ops[nops++];
	memset(n, 0, sizeof(*n));
	n->add = add;
	n->set = (u8)set;
	n->family = family;
	return n;
}

static u8 put_addr_port(u8 *key, const struct ap_addr *a, __be16 port)
{
	u8 alen = (u8)ap_addr_len(a->family);

	memcpy(key, a->b, alen);
	memcpy(key + alen, &port, 2);
	return alen + 4;
}

static void pin_op(bool add, int set, const struct ap_tuple *t, const struct ap_addr *to)
{
	struct op *o = op_new(add, set, t->saddr.family);
	u8 n;

	if (!o)
		return;
	n = put_addr_port(o->key, &t->saddr, t->sport);
	o->klen = n + put_addr_port(o->key + n, &t->daddr, t->dport);
	if (add) {
		o->dlen = (u8)ap_addr_len(to->family);
		memcpy(o->data, to->b, o->dlen);
	}
}

void nft_pin(bool add, const struct ap_pin *pin)
{
	bool client = pin->role == AP_ROLE_CLIENT;

	pin_op(add, client ? S_OUT_DADDR : S_POST_SADDR, &pin->out, &pin->out_to);
	pin_op(add, client ? S_IN_SADDR : S_IN_DADDR, &pin->in, &pin->in_to);
}

/* Sends the batch; @count: a refusal counts in nft_errors (not an install's). */
static int commit(bool count)
{
	u32 i;
	int ret;

	for (i = 0; i < nops; i++)
		op_send(&ops[i], true);
	if (!batch)
		return 0;
	if (!batch_msgs) {
		mnl_nlmsg_batch_stop(batch);
		batch = NULL;
		return 0;
	}
	ret = batch_send();
	/* A refused install keeps its elements for another try; else they are done. */
	if (!ret || count)
		nops = 0;
	if (ret && count)
		refused(true);
	return ret;
}

void nft_commit(void)
{
	commit(true);
}

static void build(const struct ap_conf *c, u16 queue, bool fresh)
{
	int i, s;

	if (fresh) {
		/* Added first so that deleting it cannot fail: a clean slate. */
		table_msg(NFT_MSG_NEWTABLE, NLM_F_CREATE, false);
		table_msg(NFT_MSG_DELTABLE, 0, false);
		table_msg(NFT_MSG_NEWTABLE, NLM_F_CREATE, !unowned);
		for (s = 0; s < NSETS; s++) {
			set_msg(s, AP_AF_INET);
			set_msg(s, AP_AF_INET6);
		}
		for (i = 0; i < NCHAINS; i++)
			chain_msg(i, NFT_MSG_NEWCHAIN);
	} else {
		for (i = 0; i < NCHAINS; i++)
			chain_msg(i, NFT_MSG_DELRULE);
	}
	rules_family(c, AP_AF_INET, queue, NULL);
	rules_family(c, AP_AF_INET6, queue, NULL);
}

static const char *const type_names[] = { "ipv4_addr", "ipv6_addr" };

void nft_text(const struct ap_conf *c, u16 queue, FILE *f)
{
	const char *at;
	int s, fam, i;

	/* anypind's own has flags owner too: its socket's, which a file cannot give. */
	fprintf(f, "table inet %s\ndelete table inet %s\ntable inet %s {\n", NFT_TABLE,
		NFT_TABLE, NFT_TABLE);
	for (s = 0; s < NSETS; s++) {
		for (fam = 0; fam < 2; fam++) {
			at = type_names[fam];
			fprintf(f, "\t%s %s%d {\n\t\ttype %s . inet_service", is_map(s) ?
				"map" : "set", set_names[s], fam ? 6 : 4, at);
			fprintf(f, by_tuple(s) ? " . %s . inet_service" : " . inet_service", at);
			if (is_map(s))
				fprintf(f, " : %s\n\t\tcounter", at);
			else
				fprintf(f, "\n\t\tflags dynamic%s\n\t\tsize %d",
					s == S_SYNS ? ",timeout" : "", s == S_SYNS ? SYNS_MAX : ENDS_MAX);
			fprintf(f, "\n\t}\n");
		}
	}
	for (i = 0; i < NCHAINS; i++)
		fprintf(f, "\tchain %s {\n\t\ttype %s hook %s priority %d; policy accept;\n\t}\n",
			chains[i].name, chains[i].type,
			chains[i].hook == NF_INET_PRE_ROUTING ? "prerouting" :
			chains[i].hook == NF_INET_LOCAL_OUT ? "output" : "postrouting",
			chains[i].prio);
	fprintf(f, "}\n");
	rules_family(c, AP_AF_INET, queue, f);
	rules_family(c, AP_AF_INET6, queue, f);
}

/*
 * An unowned table can be flushed or deleted by others: then listen to
 * nftables' events, which every change of the table also costs (the
 * kernel builds none without a listener).
 */
static int monitor(void)
{
	int size = 8 << 20;

	if (mnl_socket_setsockopt(mon, NETLINK_ADD_MEMBERSHIP, &(int){ NFNLGRP_NFTABLES },
				  sizeof(int)))
		return -1;
	/* Our own element updates come back as events: room for bursts. */
	if (setsockopt(mnl_socket_get_fd(mon), SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)))
		setsockopt(mnl_socket_get_fd(mon), SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	return 0;
}

int nft_install(const struct ap_conf *c, u16 queue, bool fresh, char *err, size_t errlen)
{
	bool again;

	do {
		build(c, queue, fresh);
		if (!commit(false))
			return 0;
		/* What older kernels lack, each once (the elements are still queued). */
		again = false;
		if (batch_enoent && !use_xt) {
			use_xt = again = true;
			logmsg("no nft queue in this kernel: queueing with xt NFQUEUE");
		}
		if (batch_eopnotsupp && fresh && !unowned) {
			unowned = again = true;
			if (monitor())
				logmsg("nftables monitor: %s", strerror(errno));
			logmsg("no owned tables in this kernel: watching inet %s instead", NFT_TABLE);
		}
	} while (again);
	nops = 0;
	snprintf(err, errlen, "installing table inet %s: %s%s", NFT_TABLE, strerror(batch_error),
		 batch_error == EPERM ? " (another anypind's, in this network namespace?)" : "");
	return -1;
}

void nft_remove(void)
{
	nops = 0;
	table_msg(NFT_MSG_NEWTABLE, NLM_F_CREATE, false);
	table_msg(NFT_MSG_DELTABLE, 0, false);
	commit(false);
}

struct dump {
	void (*fn)(void *arg, u8 role, bool out, const struct ap_tuple *t, u64 packets);
	void (*ended)(void *arg, const struct ap_tuple *t);	/* the ends sets */
	void *arg;
	bool out;
	u8 role, family;
};

static int elem_counter(struct nftnl_expr *e, void *data)
{
	if (!strcmp(nftnl_expr_get_str(e, NFTNL_EXPR_NAME), "counter"))
		*(u64 *)data = nftnl_expr_get_u64(e, NFTNL_EXPR_CTR_PACKETS);
	return 0;
}

static void get_addr_port(const u8 *key, u8 family, struct ap_addr *a, __be16 *port)
{
	u32 alen = ap_addr_len(family);

	memset(a, 0, sizeof(*a));
	a->family = family;
	memcpy(a->b, key, alen);
	memcpy(port, key + alen, 2);
}

static int dump_cb(const struct nlmsghdr *nlh, void *data)
{
	struct dump *d = data;
	struct nftnl_set *s = nftnl_set_alloc();
	struct nftnl_set_elems_iter *it;
	struct nftnl_set_elem *e;

	if (!s || nftnl_set_elems_nlmsg_parse(nlh, s) < 0)
		goto out;
	it = nftnl_set_elems_iter_create(s);
	while (it && (e = nftnl_set_elems_iter_next(it))) {
		u32 klen, alen = ap_addr_len(d->family);
		const u8 *key = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &klen);
		struct ap_tuple t;
		u64 packets = 0;

		if (!key || klen != 2 * (alen + 4))
			continue;
		get_addr_port(key, d->family, &t.saddr, &t.sport);
		get_addr_port(key + alen + 4, d->family, &t.daddr, &t.dport);
		if (d->ended) {
			struct op *o = op_new(false, S_ENDS, d->family);

			/* Read once: gone before the next dump. */
			if (o) {
				o->klen = (u8)klen;
				memcpy(o->key, key, klen);
			}
			d->ended(d->arg, &t);
			continue;
		}
		nftnl_set_elem_expr_foreach(e, elem_counter, &packets);
		d->fn(d->arg, d->role, d->out, &t, packets);
	}
	nftnl_set_elems_iter_destroy(it);
out:
	nftnl_set_free(s);
	return MNL_CB_OK;
}

static int dump_set(int set, u8 family, struct dump *d)
{
	char buf[DUMP_BUF], name[16];
	struct nftnl_set *s = nftnl_set_alloc();
	struct nlmsghdr *nlh;
	u32 sq = seq++;
	int n;

	set_name(name, set, family);
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETSETELEM, NFPROTO_INET, NLM_F_DUMP, sq);
	nftnl_set_set_str(s, NFTNL_SET_TABLE, NFT_TABLE);
	nftnl_set_set_str(s, NFTNL_SET_NAME, name);
	nftnl_set_elems_nlmsg_build_payload(nlh, s);
	nftnl_set_free(s);
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -1;
	d->family = family;
	while ((n = (int)mnl_socket_recvfrom(nl, buf, sizeof(buf))) > 0) {
		n = mnl_cb_run(buf, (size_t)n, sq, portid, dump_cb, d);
		if (n <= 0)
			break;
	}
	return n < 0 ? -1 : 0;
}

int nft_counters(void (*fn)(void *arg, u8 role, bool out, const struct ap_tuple *t,
				   u64 packets), void *arg)
{
	static const int sets[] = { S_OUT_DADDR, S_IN_SADDR, S_IN_DADDR, S_POST_SADDR };
	struct dump d = { .fn = fn, .arg = arg };
	int ret = 0;
	size_t i;

	nft_commit();
	for (i = 0; i < sizeof(sets) / sizeof(sets[0]); i++) {
		d.out = sets[i] == S_OUT_DADDR || sets[i] == S_POST_SADDR;
		d.role = sets[i] == S_OUT_DADDR || sets[i] == S_IN_SADDR ? AP_ROLE_CLIENT :
			 AP_ROLE_RESPONDER;
		ret |= dump_set(sets[i], AP_AF_INET, &d);
		ret |= dump_set(sets[i], AP_AF_INET6, &d);
	}
	return ret;
}

static int op_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct op));
}

/*
 * The ends read, then deleted. A dump comes in parts, each a new walk of
 * the kernel's hash set skipping what was sent, so an element a FIN added
 * meanwhile (or a resize) can shift it and one key come twice: deleted
 * once here, since a second delete would be refused (ENOENT) with the
 * whole batch. A refused batch leaves its ends in the set, to be read
 * again next second; it is no reason to put the table back.
 */
int nft_ends(void (*fn)(void *arg, const struct ap_tuple *t), void *arg)
{
	struct dump d = { .ended = fn, .arg = arg };
	u32 i, n = 0;
	int ret;

	nft_commit();
	ret = dump_set(S_ENDS, AP_AF_INET, &d) | dump_set(S_ENDS, AP_AF_INET6, &d);
	/* Only the ends' deletes are queued (op_new() zeroes each whole). */
	if (nops > 1)
		qsort(ops, nops, sizeof(*ops), op_cmp);
	for (i = 0; i < nops; i++)
		if (!n || op_cmp(&ops[i], &ops[n - 1]))
			ops[n++] = ops[i];
	for (i = 0; i < n; i++)
		op_send(&ops[i], false);
	nops = 0;
	if (commit(false))
		refused(false);
	return ret;
}

int nft_monitor_fd(void)
{
	return mnl_socket_get_fd(mon);
}

static int table_attr(const struct nlattr *a, void *data)
{
	/* NFTA_{TABLE_NAME,CHAIN_TABLE,RULE_TABLE,SET_TABLE,SET_ELEM_LIST_TABLE}. */
	if (mnl_attr_get_type(a) == 1 && !mnl_attr_validate(a, MNL_TYPE_NUL_STRING))
		*(const char **)data = mnl_attr_get_str(a);
	return MNL_CB_OK;
}

bool nft_monitor_run(void)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	bool touched = false;
	int n;

	while ((n = (int)recv(nft_monitor_fd(), buf, sizeof(buf), MSG_DONTWAIT)) != 0) {
		if (n < 0) {
			/* Events lost: assume the worst, put it all back. */
			if (errno == ENOBUFS)
				touched = true;
			if (errno != EINTR && errno != ENOBUFS)
				break;
			continue;
		}
		for (nlh = (struct nlmsghdr *)buf; mnl_nlmsg_ok(nlh, n);
		     nlh = mnl_nlmsg_next(nlh, &n)) {
			struct nfgenmsg *g = mnl_nlmsg_get_payload(nlh);
			const char *table = NULL;
			u16 type = NFNL_MSG_TYPE(nlh->nlmsg_type);

			if (nlh->nlmsg_pid == portid || NFNL_SUBSYS_ID(nlh->nlmsg_type) !=
			    NFNL_SUBSYS_NFTABLES || type == NFT_MSG_NEWGEN ||
			    g->nfgen_family != NFPROTO_INET)
				continue;
			mnl_attr_parse(nlh, sizeof(*g), table_attr, &table);
			if (table && !strcmp(table, NFT_TABLE))
				touched = true;
		}
	}
	return touched;
}

void nft_close(void)
{
	if (nl)
		mnl_socket_close(nl);
	if (mon)
		mnl_socket_close(mon);
	nl = mon = NULL;
	free(batch_buf);
	free(ops);
	batch_buf = NULL;
	ops = NULL;
	nops = ops_max = 0;
}
