// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The kernel sets (ipset, type hash:ip,port) that name the endpoints of
 * our flows: {local address, local port} of client flows, {client address,
 * client port} of responder flows. The rules (rules.c) send a packet to
 * the queue only when its endpoint is in a set, so the host's other TCP
 * traffic never reaches userspace.
 *
 * Spoken over nfnetlink with libmnl. Additions and deletions are queued
 * and sent in one message before the verdicts of a batch: a SYN's
 * endpoint is in the set before the SYN leaves, so its SYN-ACK is queued.
 * The kernel handles a netlink message synchronously in sendmsg(), so no
 * acknowledgement needs to be awaited; failures come back as error
 * messages, counted by ipset_drain().
 */
/* glibc's netinet/in.h before the kernel's linux/in.h */
#include "ipset.h"
#include "util.h"
#include <errno.h>
#include <stdio.h>
#include <time.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/ipset/ip_set.h>
#include <libmnl/libmnl.h>

#define SET_TYPE	"hash:ip,port"
/* The rules' bound is max_flows; a set bound only guards against bugs. */
#define SET_MAXELEM	(1u << 24)
#define OPS_BUF		(64 * 1024)

static struct mnl_socket *nl;
static u32 portid, seq;
static char ops[OPS_BUF];
static size_t ops_len;
/* Ours to destroy on exit: set up by this run. */
static bool owned;
u64 ipset_errors;

static const struct {
	const char *name;
	u8 role, family;
} sets[] = {
	{ SET_CLIENT4, AP_ROLE_CLIENT, AP_AF_INET },
	{ SET_CLIENT6, AP_ROLE_CLIENT, AP_AF_INET6 },
	{ SET_RESP4, AP_ROLE_RESPONDER, AP_AF_INET },
	{ SET_RESP6, AP_ROLE_RESPONDER, AP_AF_INET6 },
};

static u8 nfproto(u8 family)
{
	return family == AP_AF_INET ? NFPROTO_IPV4 : NFPROTO_IPV6;
}

/* Every message fits this; @buf has at least that much room. */
#define MSG_MAX		256

static struct nlmsghdr *msg(char *buf, u8 cmd, u8 family, u16 flags, const char *name)
{
	struct nlmsghdr *nlh;
	struct nfgenmsg *nfg;

	/* libmnl before 1.0.5 leaves attribute padding as it was. */
	memset(buf, 0, MSG_MAX);
	nlh = mnl_nlmsg_put_header(buf);

	nlh->nlmsg_type = (NFNL_SUBSYS_IPSET << 8) | cmd;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nlh->nlmsg_seq = ++seq;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = family;
	nfg->version = NFNETLINK_V0;
	nfg->res_id = 0;
	mnl_attr_put_u8(nlh, IPSET_ATTR_PROTOCOL, IPSET_PROTOCOL);
	if (name)
		mnl_attr_put_strz(nlh, IPSET_ATTR_SETNAME, name);
	return nlh;
}

struct reply {
	int revision;
};

static int reply_attr(const struct nlattr *a, void *data)
{
	struct reply *r = data;

	if (mnl_attr_get_type(a) == IPSET_ATTR_REVISION &&
	    mnl_attr_validate(a, MNL_TYPE_U8) >= 0)
		r->revision = mnl_attr_get_u8(a);
	return MNL_CB_OK;
}

static int reply_cb(const struct nlmsghdr *nlh, void *data)
{
	return mnl_attr_parse(nlh, sizeof(struct nfgenmsg), reply_attr, data);
}

/* Sends @nlh and waits for its answer; 0 or -errno. */
static int call(struct nlmsghdr *nlh, struct reply *r)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	u32 want = nlh->nlmsg_seq;
	int n, ret;

	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		if (n < 0)
			return -errno;
		ret = mnl_cb_run(buf, n, want, portid, reply_cb, r);
		if (ret == MNL_CB_STOP)
			return 0;
		if (ret < 0) {
			/* An answer to an earlier queued operation: go on. */
			if (errno == EPROTO || errno == ESRCH)
				continue;
			return -errno;
		}
	}
}

int ipset_open(char *err, size_t errlen)
{
	nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		snprintf(err, errlen, "ipset: netlink socket: %s", strerror(errno));
		return -1;
	}
	portid = mnl_socket_get_portid(nl);
	seq = (u32)time(NULL);
	return 0;
}

int ipset_fd(void)
{
	return nl ? mnl_socket_get_fd(nl) : -1;
}

static const char *ipset_strerror(int e)
{
	switch (-e) {
	case IPSET_ERR_PROTOCOL:
		return "kernel ipset protocol mismatch";
	case IPSET_ERR_FIND_TYPE:
		return "kernel has no " SET_TYPE " set type";
	case IPSET_ERR_EXIST_SETNAME2:
	case IPSET_ERR_EXIST:
		return "a set of that name exists with another type";
	case IPSET_ERR_BUSY:
	case IPSET_ERR_REFERENCED:
		return "set still referenced by a rule";
	}
	return e < -4096 ? "ipset error" : strerror(-e);
}

int ipset_setup(char *err, size_t errlen)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	struct nlattr *data;
	struct reply r = { -1 };
	unsigned int i;
	int ret;

	nlh = msg(buf, IPSET_CMD_TYPE, NFPROTO_IPV4, NLM_F_ACK, NULL);
	mnl_attr_put_strz(nlh, IPSET_ATTR_TYPENAME, SET_TYPE);
	mnl_attr_put_u8(nlh, IPSET_ATTR_FAMILY, NFPROTO_IPV4);
	ret = call(nlh, &r);
	if (ret < 0 || r.revision < 0) {
		snprintf(err, errlen, "ipset: set type %s: %s (kernel without ip_set?)",
			 SET_TYPE, ret < 0 ? ipset_strerror(ret) : "no revision");
		return -1;
	}
	for (i = 0; i < sizeof(sets) / sizeof(sets[0]); i++) {
		nlh = msg(buf, IPSET_CMD_CREATE, nfproto(sets[i].family), NLM_F_ACK | NLM_F_CREATE,
			  sets[i].name);
		mnl_attr_put_strz(nlh, IPSET_ATTR_TYPENAME, SET_TYPE);
		mnl_attr_put_u8(nlh, IPSET_ATTR_REVISION, (u8)r.revision);
		mnl_attr_put_u8(nlh, IPSET_ATTR_FAMILY, nfproto(sets[i].family));
		data = mnl_attr_nest_start(nlh, IPSET_ATTR_DATA);
		mnl_attr_put_u32(nlh, IPSET_ATTR_MAXELEM | NLA_F_NET_BYTEORDER,
				 htonl(SET_MAXELEM));
		mnl_attr_nest_end(nlh, data);
		/* Without NLM_F_EXCL an existing set of the same type is fine. */
		ret = call(nlh, NULL);
		if (ret < 0) {
			snprintf(err, errlen, "ipset: create %s: %s", sets[i].name,
				 ipset_strerror(ret));
			return -1;
		}
		/* A previous run's endpoints are stale: its flows are gone. */
		nlh = msg(buf, IPSET_CMD_FLUSH, nfproto(sets[i].family), NLM_F_ACK, sets[i].name);
		ret = call(nlh, NULL);
		if (ret < 0) {
			snprintf(err, errlen, "ipset: flush %s: %s", sets[i].name,
				 ipset_strerror(ret));
			return -1;
		}
	}
	owned = true;
	return 0;
}

size_t ipset_take(const void **buf)
{
	size_t n = ops_len;

	*buf = ops;
	ops_len = 0;
	return n;
}

void ipset_flush(void)
{
	if (!ops_len)
		return;
	if (mnl_socket_sendto(nl, ops, ops_len) < 0)
		ipset_errors++;
	ops_len = 0;
}

void ipset_op(bool add, u8 role, const struct ap_addr *a, __be16 port)
{
	const char *name = NULL;
	struct nlmsghdr *nlh;
	struct nlattr *data, *ip;
	unsigned int i;

	if (!nl)
		return;
	for (i = 0; i < sizeof(sets) / sizeof(sets[0]); i++)
		if (sets[i].role == role && sets[i].family == a->family)
			name = sets[i].name;
	if (!name)
		return;
	if (ops_len + MSG_MAX > sizeof(ops))
		ipset_flush();
	nlh = msg(ops + ops_len, add ? IPSET_CMD_ADD : IPSET_CMD_DEL, nfproto(a->family), 0, name);
	data = mnl_attr_nest_start(nlh, IPSET_ATTR_DATA);
	ip = mnl_attr_nest_start(nlh, IPSET_ATTR_IP);
	if (a->family == AP_AF_INET)
		mnl_attr_put(nlh, IPSET_ATTR_IPADDR_IPV4 | NLA_F_NET_BYTEORDER, 4, a->b);
	else
		mnl_attr_put(nlh, IPSET_ATTR_IPADDR_IPV6 | NLA_F_NET_BYTEORDER, 16, a->b);
	mnl_attr_nest_end(nlh, ip);
	mnl_attr_put_u16(nlh, IPSET_ATTR_PORT | NLA_F_NET_BYTEORDER, port);
	mnl_attr_put_u8(nlh, IPSET_ATTR_PROTO, IPPROTO_TCP);
	mnl_attr_nest_end(nlh, data);
	ops_len += NLMSG_ALIGN(nlh->nlmsg_len);
}

static int drain_cb(const struct nlmsghdr *nlh, void *data)
{
	(void)nlh;
	(void)data;
	return MNL_CB_OK;
}

void ipset_drain(void)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	const struct nlmsghdr *nlh;
	int n, len;

	while ((n = recv(mnl_socket_get_fd(nl), buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
		len = n;
		for (nlh = (const struct nlmsghdr *)buf; mnl_nlmsg_ok(nlh, len);
		     nlh = mnl_nlmsg_next(nlh, &len)) {
			if (nlh->nlmsg_type == NLMSG_ERROR &&
			    mnl_cb_run(nlh, nlh->nlmsg_len, 0, 0, drain_cb, NULL) < 0)
				ipset_errors++;
		}
	}
}

void ipset_teardown(void)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	unsigned int i;
	int ret;

	if (!nl)
		return;
	ipset_flush();
	for (i = 0; owned && i < sizeof(sets) / sizeof(sets[0]); i++) {
		nlh = msg(buf, IPSET_CMD_DESTROY, nfproto(sets[i].family), NLM_F_ACK,
			  sets[i].name);
		ret = call(nlh, NULL);
		/* Referenced by rules the operator manages: leave it. */
		if (ret < 0 && ret != -IPSET_ERR_BUSY && ret != -IPSET_ERR_REFERENCED &&
		    ret != -ENOENT)
			logmsg("ipset: destroy %s: %s", sets[i].name, ipset_strerror(ret));
	}
	mnl_socket_close(nl);
	nl = NULL;
}
