// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * anypind's queue (userspace/queue.c) with the test playing the kernel:
 * its socket is one end of a datagram socketpair, the test writes
 * NFQUEUE packet messages into the other and reads back the verdicts.
 * The client of the lab: a SYN to the anycast prefix gets the option and
 * its checksum completed, packets of no flow are accepted as they are, and
 * the table's pins reach nftables before the verdicts they matter for.
 */
/* glibc's netinet/in.h before the kernel's linux/in.h */
#include "queue.h"
#include "nft.h"
#include "util.h"
#include "pktgen.h"
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/netfilter.h>
#include <libmnl/libmnl.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <cmocka.h>
#include "ut.h"

#define QNUM	7

#define NV	40

/* A verdict as the kernel reads it. */
struct verdict {
	u32 id, v;
	u8 pkt[PG_BUF_MAX];
	u32 len;		/* 0: no new bytes */
};

/* What the kernel had of the queue's verdicts when the table's pins came. */
struct commit {
	int verdicts, pins;
};

struct fixture {
	int kernel;		/* the test's end */
	struct ap_conf c;
	struct table *t;
	struct verdict *v;	/* the last run's, NV at most */
	int nv;
	int pins;		/* told by the table, not committed yet */
	struct commit commits[8];
	int ncommits;
};

/* The fixture whose kernel end the nftables side reads. */
static struct fixture *kernel;

/* The table's pins, for nftables: map elements to commit. */
static void pin_update(void *arg, const struct ap_pin *pin, bool add)
{
	(void)pin;
	(void)add;
	((struct fixture *)arg)->pins++;
}

static int setup(void **state)
{
	struct fixture *x = calloc(1, sizeof(*x));
	int sv[2], size = 4 << 20;

	assert_non_null(x);
	assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv), 0);
	setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	assert_int_equal(queue_attach(sv[0], QNUM), 0);
	x->kernel = sv[1];
	ap_conf_init(&x->c);
	ut_set(&x->c, "net.anypin.prefixes", "svc=192.0.2.0/24");
	x->t = table_new(&x->c, &(struct table_pins){ pin_update, x });
	assert_non_null(x->t);
	x->v = calloc(NV, sizeof(*x->v));
	assert_non_null(x->v);
	memset(&qstats, 0, sizeof(qstats));
	kernel = x;
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *x = *state;

	kernel = NULL;
	queue_close();
	close(x->kernel);
	table_free(x->t);
	free(x->v);
	free(x);
	return 0;
}

/* A packet as the kernel queues it; @cap: its length before the copy range cut it. */
struct queued {
	u32 id;
	u8 hook;		/* NF_INET_* */
	u32 info;		/* NFQA_SKB_* */
	u32 cap;
	const u8 *pkt;
	u32 len;
	u32 pad;		/* bytes of another attribute after the packet */
};

static size_t put_packet(char *buf, const struct queued *q)
{
	struct nfqnl_msg_packet_hdr ph = { .packet_id = htonl(q->id), .hook = q->hook };
	struct nlmsghdr *nlh = nfq_nlmsg_put(buf, NFQNL_MSG_PACKET, QNUM);

	ph.hw_protocol = htons(q->pkt[0] >> 4 == 4 ? 0x0800 : 0x86dd);
	mnl_attr_put(nlh, NFQA_PACKET_HDR, sizeof(ph), &ph);
	if (q->info)
		mnl_attr_put_u32(nlh, NFQA_SKB_INFO, htonl(q->info));
	if (q->cap)
		mnl_attr_put_u32(nlh, NFQA_CAP_LEN, htonl(q->cap));
	mnl_attr_put(nlh, NFQA_PAYLOAD, q->len, q->pkt);
	if (q->pad)
		mnl_attr_put(nlh, NFQA_CT, q->pad, q->pkt);
	return nlh->nlmsg_len;
}

static void enqueue(struct fixture *x, const struct queued *q)
{
	static char buf[2 * PG_BUF_MAX];
	size_t n;

	memset(buf, 0, sizeof(buf));
	n = put_packet(buf, q);
	assert_int_equal(send(x->kernel, buf, n, 0), (ssize_t)n);
}

static int verdict_attr(const struct nlattr *a, void *data)
{
	struct verdict *v = data;
	const struct nfqnl_msg_verdict_hdr *vh;

	if (mnl_attr_get_type(a) == NFQA_VERDICT_HDR) {
		vh = mnl_attr_get_payload(a);
		v->id = ntohl(vh->id);
		v->v = ntohl(vh->verdict);
	} else if (mnl_attr_get_type(a) == NFQA_PAYLOAD) {
		v->len = mnl_attr_get_payload_len(a);
		memcpy(v->pkt, mnl_attr_get_payload(a), v->len);
	}
	return MNL_CB_OK;
}

/* The kernel reads the verdicts sent so far into x->v. */
static void take_verdicts(struct fixture *x)
{
	static char buf[1 << 20];
	const struct nlmsghdr *nlh;
	int len;

	while ((len = (int)recv(x->kernel, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
		for (nlh = (const struct nlmsghdr *)buf; mnl_nlmsg_ok(nlh, len);
		     nlh = mnl_nlmsg_next(nlh, &len)) {
			assert_int_equal(nlh->nlmsg_type, NFNL_SUBSYS_QUEUE << 8 | NFQNL_MSG_VERDICT);
			assert_true(x->nv < NV);
			memset(&x->v[x->nv], 0, sizeof(x->v[x->nv]));
			mnl_attr_parse(nlh, sizeof(struct nfgenmsg), verdict_attr, &x->v[x->nv]);
			x->nv++;
		}
	}
}

/*
 * The nftables side, played by the test: the pins the table told of go
 * to the kernel now; it notes how many verdicts the kernel had by then.
 */
void nft_commit(void)
{
	struct fixture *x = kernel;

	assert_non_null(x);
	take_verdicts(x);
	assert_true(x->ncommits < 8);
	x->commits[x->ncommits].verdicts = x->nv;
	x->commits[x->ncommits++].pins = x->pins;
	x->pins = 0;
}

/* Runs the queue: the verdicts it sent, in order, in x->v; returns how many. */
static int run(struct fixture *x)
{
	x->nv = 0;
	queue_run(&x->c, x->t);
	take_verdicts(x);
	return x->nv;
}

/* Queues a SYN of the client to @dst, leaving the host; returns its length. */
static u32 queue_syn(struct fixture *x, u32 id, u32 info, u32 cap, const char *dst)
{
	static const u8 mss[] = { 2, 4, 0x05, 0xb4 };
	struct queued q = { .id = id, .hook = NF_INET_LOCAL_OUT, .info = info, .cap = cap };
	struct pg_tcp t;
	u8 pkt[256];

	pg_tcp_init(&t, "203.0.113.10", dst, 40000, 80, AP_TCP_SYN);
	t.seq = 1000;
	pg_tcp_add_opt(&t, mss, sizeof(mss));
	q.len = pg_build_tcp(pkt, &t, NULL);
	if (info & NFQA_SKB_CSUMNOTREADY)
		pg_set_pseudo(pkt, q.len);
	q.pkt = pkt;
	enqueue(x, &q);
	return q.len;
}

/* A SYN to the prefix: option added, new bytes with complete checksums. */
static void test_syn_changed(void **state)
{
	struct fixture *x = *state;
	u32 len = queue_syn(x, 41, 0, 0, "192.0.2.1");

	assert_int_equal(run(x), 1);
	assert_int_equal(x->v[0].id, 41);
	assert_int_equal(x->v[0].v, NF_ACCEPT);
	assert_int_equal(x->v[0].len, len + AP_OPT_LEN);
	assert_int_equal(pg_verify(x->v[0].pkt, x->v[0].len), 0);
	assert_int_equal(qstats.packets, 1);
	assert_int_equal(qstats.changed, 1);
	assert_int_equal(table_count(x->t), 1);
}

/*
 * CHECKSUM_PARTIAL: the field holds the pseudo-header sum. anypind
 * completes it after a change (the kernel takes the new bytes as
 * CHECKSUM_NONE), but not for a GSO packet leaving the host.
 */
static void test_checksum_completed(void **state)
{
	struct fixture *x = *state;
	const struct verdict *v = x->v;
	u32 len;

	queue_syn(x, 1, NFQA_SKB_CSUMNOTREADY, 0, "192.0.2.1");
	len = queue_syn(x, 2, NFQA_SKB_CSUMNOTREADY | NFQA_SKB_GSO, 0, "192.0.2.2");
	assert_int_equal(run(x), 2);
	assert_int_equal(v[0].len, len + AP_OPT_LEN);
	assert_int_equal(pg_verify(v[0].pkt, v[0].len), 0);
	assert_int_equal(v[1].len, len + AP_OPT_LEN);
	assert_int_equal(pg_tcp_pseudo(v[1].pkt, v[1].len), ap_get16(v[1].pkt + 20 + 16));
}

/* Not ours, not parsed, cut short: accepted as they are, counted. */
static void test_accepted_as_is(void **state)
{
	struct fixture *x = *state;
	struct queued q = { .id = 2, .hook = NF_INET_LOCAL_OUT, .pkt = (const u8 *)"E", .len = 1 };
	u32 i;

	queue_syn(x, 1, 0, 0, "198.51.100.1");
	enqueue(x, &q);
	queue_syn(x, 3, 0, 1500, "192.0.2.1");
	assert_int_equal(run(x), 3);
	for (i = 0; i < 3; i++) {
		assert_int_equal(x->v[i].id, i + 1);
		assert_int_equal(x->v[i].v, NF_ACCEPT);
		assert_int_equal(x->v[i].len, 0);
	}
	assert_int_equal(qstats.packets, 3);
	assert_int_equal(qstats.unparsed, 1);
	assert_int_equal(qstats.truncated, 1);
	assert_int_equal(qstats.changed, 0);
	assert_int_equal(table_count(x->t), 0);
}

/*
 * A message longer than anypind's buffer comes cut (MSG_TRUNC): its packet
 * still waits in the kernel, and passes as it is.
 */
static void test_message_cut(void **state)
{
	struct fixture *x = *state;
	static u8 pkt[PG_BUF_MAX];
	struct queued q = { .id = 5, .hook = NF_INET_PRE_ROUTING, .pkt = pkt };
	struct pg_tcp t;

	pg_tcp_init(&t, "198.51.100.11", "203.0.113.10", 80, 40000, AP_TCP_ACK);
	t.paylen = 60000;
	q.len = pg_build_tcp(pkt, &t, NULL);
	q.pad = 20000;
	enqueue(x, &q);
	queue_syn(x, 6, 0, 0, "192.0.2.1");
	assert_int_equal(run(x), 2);
	assert_int_equal(x->v[0].id, 5);
	assert_int_equal(x->v[0].v, NF_ACCEPT);
	assert_int_equal(x->v[0].len, 0);
	assert_int_equal(x->v[1].id, 6);
	assert_int_equal(qstats.packets, 2);
	assert_int_equal(qstats.truncated, 1);
}

/* What anypind logs while @x's queue runs, with -v when @v. */
static char *logged(struct fixture *x, int v)
{
	static char buf[4096];
	FILE *f = tmpfile();
	int saved = dup(2);
	size_t n;

	assert_non_null(f);
	fflush(stderr);
	dup2(fileno(f), 2);
	verbose = v;
	run(x);
	verbose = 0;
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	rewind(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = 0;
	fclose(f);
	return buf;
}

/* -v: a line per decision (man anypind), none for a packet let be. */
static void test_verbose(void **state)
{
	struct fixture *x = *state;

	queue_syn(x, 1, 0, 0, "192.0.2.1");
	queue_syn(x, 2, 0, 0, "198.51.100.1");
	assert_string_equal(logged(x, 1),
			    "anypind: out tcp 203.0.113.10:40000 > 192.0.2.1:80 S: "
			    "now tcp 203.0.113.10:40000 > 192.0.2.1:80 S, option added\n");
	queue_syn(x, 3, 0, 0, "192.0.2.7");
	assert_string_equal(logged(x, 0), "");
}

/* A SYN of the client from @port to 192.0.2.1, leaving the host. */
static void queue_syn_from(struct fixture *x, u32 id, u16 port)
{
	struct queued q = { .id = id, .hook = NF_INET_LOCAL_OUT };
	struct pg_tcp t;
	u8 pkt[256];

	pg_tcp_init(&t, "203.0.113.10", "192.0.2.1", port, 80, AP_TCP_SYN);
	t.seq = 1000;
	q.len = pg_build_tcp(pkt, &t, NULL);
	q.pkt = pkt;
	enqueue(x, &q);
}

/* A SYN-ACK from U1 to the client's SYN from @port: it binds the flow. */
static void queue_synack(struct fixture *x, u32 id, u16 port)
{
	struct queued q = { .id = id, .hook = NF_INET_PRE_ROUTING };
	struct pg_tcp t;
	u8 pkt[256];

	pg_tcp_init(&t, "198.51.100.11", "203.0.113.10", 80, port, AP_TCP_SYN | AP_TCP_ACK);
	t.seq = 5000;
	t.ack = 1001;
	q.len = pg_build_tcp(pkt, &t, NULL);
	q.pkt = pkt;
	enqueue(x, &q);
}

/*
 * A bound flow's pin is in the maps before its SYN-ACK reaches the stack:
 * the ACK after it must be rewritten by the kernel. Each batch of messages
 * commits first, then sends its verdicts. A SYN changes nothing in the
 * kernel (the rule that queued it noted it there): its commit is empty.
 */
static void test_table_first(void **state)
{
	struct fixture *x = *state;

	queue_syn(x, 1, 0, 0, "192.0.2.1");
	assert_int_equal(run(x), 1);
	assert_int_equal(x->ncommits, 1);
	assert_int_equal(x->commits[0].verdicts, 0);
	assert_int_equal(x->commits[0].pins, 0);
	assert_int_equal(table_count(x->t), 1);

	queue_synack(x, 2, 40000);
	assert_int_equal(run(x), 1);
	assert_int_equal(x->v[0].id, 2);
	assert_int_equal(x->v[0].v, NF_ACCEPT);
	assert_true(x->v[0].len > 0);
	assert_int_equal(x->ncommits, 2);
	assert_int_equal(x->commits[1].verdicts, 0);
	assert_int_equal(x->commits[1].pins, 1);
}

/*
 * 33 SYN-ACKs binding 33 flows: a full batch, whose 32 pins are committed
 * before any of its verdicts, then one more in the next batch.
 */
static void test_table_first_batches(void **state)
{
	struct fixture *x = *state;
	u32 i;

	for (i = 0; i < 33; i++)
		queue_syn_from(x, 10 + i, 41000 + i);
	assert_int_equal(run(x), 33);
	assert_int_equal(x->ncommits, 2);
	assert_int_equal(x->commits[0].pins + x->commits[1].pins, 0);
	assert_int_equal(table_count(x->t), 33);

	for (i = 0; i < 33; i++)
		queue_synack(x, 100 + i, 41000 + i);
	assert_int_equal(run(x), 33);
	assert_int_equal(x->ncommits, 4);
	assert_int_equal(x->commits[2].verdicts, 0);
	assert_int_equal(x->commits[2].pins, 32);
	assert_int_equal(x->commits[3].verdicts, 32);
	assert_int_equal(x->commits[3].pins, 1);
	for (i = 0; i < 33; i++) {
		assert_int_equal(x->v[i].id, 100 + i);
		assert_int_equal(x->v[i].v, NF_ACCEPT);
		assert_true(x->v[i].len > 0);
	}
	assert_int_equal(table_count(x->t), 33);
}

int main(void)
{
#define T(test)	cmocka_unit_test_setup_teardown(test, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_syn_changed), T(test_checksum_completed), T(test_accepted_as_is),
		T(test_message_cut), T(test_verbose), T(test_table_first),
		T(test_table_first_batches),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
