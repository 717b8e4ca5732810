// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The NFQUEUE socket, over libmnl and libnetfilter_queue's nfq_nlmsg_*
 * API: packets are copied whole (GSO packets too, NFQA_CFG_F_GSO), run
 * through ap_parse() and ap_process(), and given back with their new bytes
 * when they changed. FAIL_OPEN: when the queue is full the kernel lets
 * packets pass rather than drop them.
 *
 * Messages are taken in batches (recvmmsg) and the batch's verdicts go
 * back in one sendmsg, each packet's new bytes straight from the receive
 * buffer.
 *
 * Checksums. A packet whose checksum the stack left for the device
 * (CHECKSUM_PARTIAL: NFQA_SKB_CSUMNOTREADY) has only the pseudo-header
 * sum in its TCP checksum field, so the core works on it in
 * AP_CSUM_PSEUDO mode. But the kernel marks every packet it takes new
 * bytes for CHECKSUM_NONE (nfqnl_mangle()), so nobody would finish that
 * sum: we complete it here. A GSO packet leaving the host is the
 * exception: segmentation recomputes its checksums from the addresses.
 */
#define _GNU_SOURCE
/* glibc's netinet/in.h before the kernel's linux/in.h */
#include "queue.h"
#include "debug.h"
#include "nft.h"
#include "raw.h"
#include "util.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <linux/netfilter.h>
#include <libmnl/libmnl.h>
#include <libnetfilter_queue/libnetfilter_queue.h>

#define SLOTS		32
/* A whole 64 KiB packet, the message around it, and room to grow. */
#define SLOT_SIZE	(0x10000 + 4096)
#define QUEUE_MAXLEN	8192
#define RCVBUF		(64 << 20)
#define SNDBUF		(8 << 20)
/* Send the verdicts gathered so far past this many bytes. */
#define SEND_MAX	(2 << 20)
#define VHDR		64

struct queue_stats qstats;

static struct mnl_socket *nl;
static u16 qnum;
static u32 portid;
static u8 *slots;
static struct mmsghdr mm[SLOTS];
static struct iovec riov[SLOTS];

/* The verdicts of one batch. */
static u8 vhdr[SLOTS][VHDR];
/* [0]: the sets' updates; then 1 or 3 per verdict (header, bytes, pad) */
static struct iovec viov[1 + SLOTS * 3];
static unsigned int nv, niov = 1;
static size_t vbytes;
static const u8 zeros[4];
static u32 batch_now;

static int config(struct nlmsghdr *nlh)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	u32 seq = nlh->nlmsg_seq;
	int n, ret;

	nlh->nlmsg_flags |= NLM_F_ACK;
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -1;
	for (;;) {
		n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		if (n < 0)
			return -1;
		ret = mnl_cb_run(buf, n, seq, portid, NULL, NULL);
		if (ret == MNL_CB_STOP)
			return 0;
		if (ret < 0)
			return -1;
	}
}

static int setup_slots(void)
{
	int i;

	slots = malloc((size_t)SLOTS * SLOT_SIZE);
	if (!slots)
		return -1;
	for (i = 0; i < SLOTS; i++) {
		riov[i].iov_base = slots + (size_t)i * SLOT_SIZE;
		riov[i].iov_len = SLOT_SIZE;
		mm[i].msg_hdr.msg_iov = &riov[i];
		mm[i].msg_hdr.msg_iovlen = 1;
	}
	return 0;
}

int queue_attach(int fd, u16 num)
{
	qnum = num;
	nl = mnl_socket_fdopen(fd);
	return nl ? setup_slots() : -1;
}

int queue_open(u16 num, char *err, size_t errlen)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	int one = 1, v;
	u32 flags = NFQA_CFG_F_FAIL_OPEN | NFQA_CFG_F_GSO;

	qnum = num;
	nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0 || setup_slots()) {
		snprintf(err, errlen, "queue: netlink socket: %s", strerror(errno));
		return -1;
	}
	portid = mnl_socket_get_portid(nl);
	v = RCVBUF;
	if (setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof(v)) < 0)
		setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVBUF, &v, sizeof(v));
	v = SNDBUF;
	if (setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_SNDBUFFORCE, &v, sizeof(v)) < 0)
		setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_SNDBUF, &v, sizeof(v));
	/* Losing a message is the kernel's business (fail-open), not an error. */
	mnl_socket_setsockopt(nl, NETLINK_NO_ENOBUFS, &one, sizeof(one));

	/* libmnl before 1.0.5 leaves attribute padding as it was. */
	memset(buf, 0, sizeof(buf));
	nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, num);
	nlh->nlmsg_seq = 1;
	nfq_nlmsg_cfg_put_cmd(nlh, AF_INET, NFQNL_CFG_CMD_BIND);
	if (config(nlh) < 0) {
		/* The kernel says EPERM when another socket holds the queue. */
		snprintf(err, errlen, "queue %u: %s", num, errno == EBUSY || errno == EPERM ?
			 "in use by another program (another anypind? see -q)" : strerror(errno));
		return -1;
	}
	memset(buf, 0, sizeof(buf));
	nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, num);
	nlh->nlmsg_seq = 2;
	nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_PACKET, 0xffff);
	nfq_nlmsg_cfg_put_qmaxlen(nlh, QUEUE_MAXLEN);
	mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(flags));
	mnl_attr_put_u32(nlh, NFQA_CFG_MASK, htonl(flags));
	if (config(nlh) < 0) {
		snprintf(err, errlen, "queue %u: configure: %s", num, strerror(errno));
		return -1;
	}
	return 0;
}

int queue_fd(void)
{
	return nl ? mnl_socket_get_fd(nl) : -1;
}

/*
 * The TCP checksum field (at 16) holds the pseudo-header sum: sum over the
 * segment, complement.
 */
static void finish_csum(struct ap_pkt *p)
{
	u8 *th = p->data + p->tcp_off;

	ap_put16(th + 16,
		 (u16)~ap_csum_fold(ap_csum_add(0, th, p->len - p->tcp_off)));
}

static void flush_verdicts(void)
{
	struct msghdr mh;
	unsigned int i, first = 1;

	if (!nv)
		return;
	/* The table's updates first: a bound flow's rewrites are in their maps before its packet goes. */
	nft_commit();
	/* No address: a netlink socket sends to the kernel by default. */
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = viov + first;
	mh.msg_iovlen = niov - first;
	if (sendmsg(mnl_socket_get_fd(nl), &mh, 0) < 0) {
		/* Too big at once: one by one. */
		for (i = first; i < niov; i += mh.msg_iovlen) {
			struct nlmsghdr *nlh = viov[i].iov_base;

			mh.msg_iov = &viov[i];
			mh.msg_iovlen = i && nlh->nlmsg_len > viov[i].iov_len ? 3 : 1;
			if (sendmsg(mnl_socket_get_fd(nl), &mh, 0) < 0)
				qstats.verdict_errors++;
		}
	}
	nv = 0;
	niov = 1;
	vbytes = 0;
}

static void verdict(u32 id, int v, const u8 *pkt, u32 len)
{
	struct nlmsghdr *nlh;
	struct nlattr *a;
	u32 pad;

	nlh = nfq_nlmsg_put((char *)vhdr[nv], NFQNL_MSG_VERDICT, qnum);
	nfq_nlmsg_verdict_put(nlh, id, v);
	viov[niov].iov_base = nlh;
	if (!pkt) {
		viov[niov++].iov_len = nlh->nlmsg_len;
	} else {
		a = mnl_nlmsg_get_payload_tail(nlh);
		a->nla_type = NFQA_PAYLOAD;
		a->nla_len = MNL_ATTR_HDRLEN + len;
		pad = MNL_ALIGN(len) - len;
		viov[niov++].iov_len = nlh->nlmsg_len + MNL_ATTR_HDRLEN;
		nlh->nlmsg_len += MNL_ATTR_HDRLEN + len + pad;
		viov[niov].iov_base = (void *)pkt;
		viov[niov++].iov_len = len;
		viov[niov].iov_base = (void *)zeros;
		viov[niov++].iov_len = pad;
	}
	nv++;
	vbytes += nlh->nlmsg_len;
	if (nv == SLOTS || vbytes >= SEND_MAX)
		flush_verdicts();
}

static int ap_hook_of(u8 nfhook)
{
	switch (nfhook) {
	case NF_INET_PRE_ROUTING:
		return AP_HOOK_IN;
	case NF_INET_LOCAL_OUT:
		return AP_HOOK_OUT;
	case NF_INET_POST_ROUTING:
		return AP_HOOK_POST;
	}
	return -1;
}

/*
 * One packet: @end is the end of its receive slot (room to grow into).
 * Returns the bytes to hand back, or NULL to accept it as it is; *drop.
 */
static const u8 *packet(const struct ap_conf *c, struct table *t, u8 *data, u32 len,
			u32 info, int hook, const u8 *end, u32 *newlen, bool *drop)
{
	char before[DEBUG_DESC];
	struct ap_verdict v;
	struct ap_pkt p;
	enum ap_csum_mode mode;
	bool rst_sent = false;

	if (data + len + AP_OPT_LEN > end || ap_parse(&p, data, len, len) != AP_OK) {
		qstats.unparsed++;
		return NULL;
	}
	mode = info & NFQA_SKB_CSUMNOTREADY ? AP_CSUM_PSEUDO : AP_CSUM_FULL;
	if (verbose)
		debug_describe(&p, before, sizeof(before));
	ap_process(c, &table_ops, t, &p, hook, mode, batch_now, &v);
	if (v.rst_len) {
		rst_sent = !raw_send(v.rst, v.rst_len, p.family);
		if (rst_sent)
			qstats.rst_sent++;
		else
			qstats.rst_errors++;
	}
	if (verbose)
		debug_decision(hook, before, &p, &v, rst_sent);
	if (v.drop) {
		*drop = true;
		return NULL;
	}
	if (!v.changed)
		return NULL;
	if (mode == AP_CSUM_PSEUDO && !ap_pkt_is_icmp(&p) &&
	    !((info & NFQA_SKB_GSO) && hook != AP_HOOK_IN))
		finish_csum(&p);
	*newlen = p.len;
	return data;
}

static void message(const struct ap_conf *c, struct table *t, const struct nlmsghdr *nlh,
		    const u8 *end)
{
	struct nlattr *attr[NFQA_MAX + 1] = { NULL };
	struct nfqnl_msg_packet_hdr *ph;
	const u8 *out = NULL;
	u32 len, info, cap, newlen = 0;
	bool drop = false;
	int hook;

	if (nlh->nlmsg_type == NLMSG_ERROR) {
		const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

		if (!e->error)
			return;
		qstats.verdict_errors++;
		return;
	}
	if ((nlh->nlmsg_type & 0xff) != NFQNL_MSG_PACKET ||
	    nfq_nlmsg_parse(nlh, attr) < 0 || !attr[NFQA_PACKET_HDR])
		return;
	ph = mnl_attr_get_payload(attr[NFQA_PACKET_HDR]);
	qstats.packets++;
	hook = ap_hook_of(ph->hook);
	if (attr[NFQA_PAYLOAD] && hook >= 0) {
		len = mnl_attr_get_payload_len(attr[NFQA_PAYLOAD]);
		info = attr[NFQA_SKB_INFO] ? ntohl(mnl_attr_get_u32(attr[NFQA_SKB_INFO])) : 0;
		cap = attr[NFQA_CAP_LEN] ? ntohl(mnl_attr_get_u32(attr[NFQA_CAP_LEN])) : len;
		if (cap > len)
			qstats.truncated++;	/* can't hand back what we lack */
		else
			out = packet(c, t, mnl_attr_get_payload(attr[NFQA_PAYLOAD]), len, info,
				     hook, end, &newlen, &drop);
	}
	if (drop)
		qstats.dropped++;
	else if (out)
		qstats.changed++;
	verdict(ntohl(ph->packet_id), drop ? NF_DROP : NF_ACCEPT, out, newlen);
}

/*
 * A message longer than its slot (MSG_TRUNC): its packet waits for a
 * verdict all the same. The packet header comes first, with the id; the
 * packet passes as it is.
 */
static void cut_message(struct nlmsghdr *nlh, int len)
{
	struct nlattr *attr[NFQA_MAX + 1] = { NULL };
	struct nfqnl_msg_packet_hdr *ph;

	if (len < (int)sizeof(*nlh) || (nlh->nlmsg_type & 0xff) != NFQNL_MSG_PACKET)
		return;
	nlh->nlmsg_len = len;
	if (nfq_nlmsg_parse(nlh, attr) < 0 || !attr[NFQA_PACKET_HDR])
		return;
	ph = mnl_attr_get_payload(attr[NFQA_PACKET_HDR]);
	qstats.packets++;
	qstats.truncated++;
	verdict(ntohl(ph->packet_id), NF_ACCEPT, NULL, 0);
}

/* One batch; returns how many messages it took. */
static int batch(const struct ap_conf *c, struct table *t)
{
	const struct nlmsghdr *nlh;
	int n, i, len;
	u8 *slot;

	n = recvmmsg(mnl_socket_get_fd(nl), mm, SLOTS, MSG_DONTWAIT, NULL);
	if (n <= 0)
		return 0;
	qstats.batches++;
	batch_now = now_sec();
	table_set_now(t, batch_now);
	for (i = 0; i < n; i++) {
		slot = riov[i].iov_base;
		len = (int)mm[i].msg_len;
		if (mm[i].msg_hdr.msg_flags & MSG_TRUNC) {
			cut_message((struct nlmsghdr *)slot, len < SLOT_SIZE ? len : SLOT_SIZE);
			continue;
		}
		for (nlh = (const struct nlmsghdr *)slot; mnl_nlmsg_ok(nlh, len);
		     nlh = mnl_nlmsg_next(nlh, &len))
			message(c, t, nlh, slot + SLOT_SIZE);
	}
	flush_verdicts();
	return n;
}

void queue_run(const struct ap_conf *c, struct table *t)
{
	int rounds = 0;

	/* A bounded number of full batches, then the others get a turn. */
	while (batch(c, t) == SLOTS && ++rounds < 16)
		;
}

void queue_close(void)
{
	if (nl)
		mnl_socket_close(nl);
	nl = NULL;
	free(slots);
	slots = NULL;
}
