// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * anypind's control socket (userspace/ctl.c) on a real UNIX socket, the
 * test both its client and its main loop: the requests of docs/anypind.md
 * and their answers, and what a bad request gets (unknown, a NUL byte,
 * too long, no newline before the client stops writing, nothing at all).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "ctl.h"
#include "util.h"
#include "pktgen.h"
#include "ut.h"

struct fixture {
	char path[64];
	struct ap_conf c;
	struct table *t;
	struct queue_stats qs;
	u64 nft_errors;
	struct ctl_info ci;
	char key[128], val[128];	/* the last "set" */
	const char *refuse;		/* "set" fails with this */
	int refreshes;
	struct ap_tuple out;		/* the pinned flow's packets out */
	u64 kernel_packets;		/* the kernel's count of them */
};

static int set_cb(void *arg, const char *key, const char *val, char *err, size_t errlen)
{
	struct fixture *x = arg;

	snprintf(x->key, sizeof(x->key), "%s", key);
	snprintf(x->val, sizeof(x->val), "%s", val);
	if (x->refuse) {
		snprintf(err, errlen, "%s", x->refuse);
		return -1;
	}
	return 0;
}

/*
 * main.c's refresh: the kernel's counts of the pinned flows' packets, into
 * the table (here the one flow's, out).
 */
static void refresh_cb(void *arg)
{
	struct fixture *x = arg;

	x->refreshes++;
	table_set_now(x->t, now_sec());
	table_pin_packets(x->t, AP_ROLE_CLIENT, true, &x->out, x->kernel_packets);
}

static int setup(void **state)
{
	struct fixture *x = calloc(1, sizeof(*x));
	char err[256];

	assert_non_null(x);
	snprintf(x->path, sizeof(x->path), "/tmp/anypin-test-ctl-%d.sock", (int)getpid());
	ap_conf_init(&x->c);
	ut_set(&x->c, "net.anypin.prefixes", "svc=192.0.2.0/24");
	x->t = table_new(&x->c, NULL);
	assert_non_null(x->t);
	if (ctl_open(x->path, err, sizeof(err)))
		fail_msg("%s", err);
	x->qs.packets = 7;
	x->nft_errors = 3;
	x->ci.restores = 2;
	x->ci.conf_path = "/etc/anypin/test.conf";
	x->ci.queue = 42945;
	x->ci.conf = &x->c;
	x->ci.table = x->t;
	x->ci.qstats = &x->qs;
	x->ci.nft_errors = &x->nft_errors;
	x->ci.set = set_cb;
	x->ci.set_arg = x;
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *x = *state;

	ctl_close();
	assert_int_equal(access(x->path, F_OK), -1);
	table_free(x->t);
	free(x);
	return 0;
}

/*
 * Sends @len bytes of @req (then stops writing if @shut) and runs the
 * server until it closes; returns what came back (static).
 */
static const char *ask_n(struct fixture *x, const char *req, size_t len, bool shut)
{
	static char out[1 << 16];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct pollfd pfd[20];
	size_t got = 0, sent = 0;
	int fd, n, i;
	ssize_t r;

	strcpy(sa.sun_path, x->path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	if (!len && shut)
		shutdown(fd, SHUT_WR);
	for (i = 0; i < 1000; i++) {
		if (sent < len) {
			r = send(fd, req + sent, len - sent, MSG_NOSIGNAL);
			if (r > 0)
				sent += r;
			if (sent == len && shut)
				shutdown(fd, SHUT_WR);
		}
		n = ctl_pollfds(pfd, 20);
		poll(pfd, n, 10);
		ctl_run(pfd, n, &x->ci);
		r = recv(fd, out + got, sizeof(out) - 1 - got, 0);
		if (r == 0)
			break;
		if (r > 0)
			got += r;
	}
	assert_true(i < 1000);
	close(fd);
	out[got] = 0;
	return out;
}

static const char *ask(struct fixture *x, const char *req)
{
	return ask_n(x, req, strlen(req), false);
}

static void test_flows(void **state)
{
	struct fixture *x = *state;
	struct ap_key k = { .port = htons(40000), .svc_port = htons(80) };
	struct ap_flow *f;
	const char *a;

	pg_addr(&k.addr, "203.0.113.10");
	a = ask(x, "flows\n");
	assert_string_equal(a, AP_FLOW_HEADER);
	/* Live by the clock the answer is made with. */
	table_set_now(x->t, now_sec());
	f = table_ops.create(x->t, &k);
	assert_non_null(f);
	pg_addr(&f->anycast, "192.0.2.1");
	f->prefix = 0;
	table_ops.release(x->t, f, 0);
	a = ask(x, "flows\n");
	assert_int_equal(strncmp(a, AP_FLOW_HEADER, strlen(AP_FLOW_HEADER)), 0);
	assert_non_null(strstr(a + strlen(AP_FLOW_HEADER), "203.0.113.10 40000 192.0.2.1 80"));
}

/* The value of counter @stat in row @name of a stats answer. */
static u64 stat_of(const char *a, const char *name, int stat)
{
	char row[64];
	const char *p;
	unsigned long long v;
	int i, n;

	snprintf(row, sizeof(row), "\n%s ", name);
	p = strstr(a, row);
	if (!p)
		fail_msg("no row %s in\n%s", name, a);
	p += strlen(row);
	for (i = 0; i <= stat; i++, p += n)
		assert_int_equal(sscanf(p, "%llu%n", &v, &n), 1);
	return v;
}

/*
 * flows and stats ask main.c for the kernel's counts first: a pinned flow
 * idle by the table's reckoning shows, as active, with the packets the
 * kernel rewrote counted. Other requests do not ask.
 */
static void test_refresh(void **state)
{
	struct fixture *x = *state;
	struct ap_key k = { .port = htons(40000), .svc_port = htons(80) };
	struct ap_flow *f;
	struct ap_pin pin;
	const char *a;

	x->c.idle_timeout = 100;
	pg_addr(&k.addr, "203.0.113.10");
	table_set_now(x->t, now_sec() - 1000);
	f = table_ops.create(x->t, &k);
	assert_non_null(f);
	f->state = AP_BOUND;
	f->prefix = 0;
	pg_addr(&f->anycast, "192.0.2.1");
	pg_addr(&f->unicast, "198.51.100.11");
	assert_true(ap_flow_pin(f, &pin));
	x->out = pin.out;
	table_ops.release(x->t, f, AP_SYN_SENT);

	/* Without a refresh: idle for 1000 s, not shown; nothing rewritten. */
	assert_string_equal(ask(x, "flows\n"), AP_FLOW_HEADER);
	assert_int_equal(stat_of(ask(x, "stats\n"), "svc", AP_STAT_REWRITTEN), 0);

	x->ci.refresh = refresh_cb;
	x->ci.refresh_arg = x;
	x->kernel_packets = 42;
	a = ask(x, "flows\n");
	assert_int_equal(x->refreshes, 1);
	assert_non_null(strstr(a, "203.0.113.10 40000 192.0.2.1 80"));
	x->kernel_packets = 50;
	a = ask(x, "stats\n");
	assert_int_equal(x->refreshes, 2);
	assert_int_equal(stat_of(a, "svc", AP_STAT_REWRITTEN), 50);
	assert_int_equal(stat_of(a, "total", AP_STAT_REWRITTEN), 50);

	ask(x, "status\n");
	ask(x, "blackholes\n");
	ask(x, "get net.anypin.max_flows\n");
	assert_int_equal(x->refreshes, 2);
}

/* Answers of several lines: how each starts and lines it holds. */
static const struct {
	const char *req, *start, *lines[8];
} answers[] = {
	/* the counters' table: a row per prefix, then the total */
	{ "stats\n", "prefix ", { "\nsvc ", "\ntotal " } },
	/* the daemon's counters, handed over by main.c */
	{ "status\n", "version ", { "\nconfig /etc/anypin/test.conf\n", "\nqueue 42945\n",
				   "\ntable inet anypin\n", "\npackets 7\n",
				   "\nnft_errors 3\n", "\nrestores 2\n", "\nflows 0\n" } },
};

static void test_answers(void **state)
{
	struct fixture *x = *state;
	unsigned int i, j;
	const char *a;

	for (i = 0; i < sizeof(answers) / sizeof(answers[0]); i++) {
		a = ask(x, answers[i].req);
		assert_int_equal(strncmp(a, answers[i].start, strlen(answers[i].start)), 0);
		for (j = 0; answers[i].lines[j]; j++)
			if (!strstr(a, answers[i].lines[j]))
				fail_msg("no '%s' in\n%s", answers[i].lines[j], a);
	}
}

static void test_get(void **state)
{
	struct fixture *x = *state;

	assert_string_equal(ask(x, "get net.anypin.max_flows\n"), "65536\n");
	assert_string_equal(ask(x, "get net/anypin/prefix/svc/role \t\n"), "client\n");
	assert_string_equal(ask(x, "get net.anypin.prefix.svc.ports\n"), "\n");
	assert_string_equal(ask(x, "get net.anypin.nope\n"),
			    "error: unknown key 'net.anypin.nope'\n");
}

/* set: the key and the rest of the line go to main.c's callback. */
static void test_set(void **state)
{
	struct fixture *x = *state;

	assert_string_equal(ask(x, "set net.anypin.max_flows 100\n"), "ok\n");
	assert_string_equal(x->key, "net.anypin.max_flows");
	assert_string_equal(x->val, "100");
	assert_string_equal(ask(x, "set net.anypin.prefix.svc.ports\n"), "ok\n");
	assert_string_equal(x->val, "");
	x->refuse = "role must be client or responder";
	assert_string_equal(ask(x, "set net.anypin.prefix.svc.role both\n"),
			    "error: role must be client or responder\n");
	assert_string_equal(ask(x, "set \n"), "error: expected 'set KEY VALUE'\n");
	assert_int_equal(x->ci.sets, 2);
	assert_int_equal(x->ci.set_errors, 1);
}

static void test_blackholes(void **state)
{
	struct fixture *x = *state;

	assert_string_equal(ask(x, "blackholes\n"), AP_BH_HEADER);
	assert_string_equal(ask(x, "blackholes flush\n"), "ok\n");
}

/* "\r\n", or no newline before the client stops writing: the same request. */
static void test_line_ends(void **state)
{
	struct fixture *x = *state;

	assert_string_equal(ask(x, "get net.anypin.exid\r\n"), "0xA7C1\n");
	assert_string_equal(ask_n(x, "get net.anypin.exid", 19, true), "0xA7C1\n");
}

static void test_bad_requests(void **state)
{
	struct fixture *x = *state;
	static char big[AP_VALUE_MAX + 1000];
	const char *a;

	a = ask(x, "reboot\n");
	assert_int_equal(strncmp(a, "error: unknown request 'reboot'", 31), 0);
	a = ask_n(x, "get net.anypin.max_flows\0x\n", 27, false);
	assert_int_equal(strncmp(a, "error: bad request", 18), 0);
	memset(big, 'a', sizeof(big));
	a = ask_n(x, big, sizeof(big), false);
	assert_int_equal(strncmp(a, "error: bad request", 18), 0);
	/* Nothing asked, nothing answered. */
	assert_string_equal(ask_n(x, "", 0, true), "");
	/* The server goes on. */
	assert_string_equal(ask(x, "blackholes flush\n"), "ok\n");
}

/* Another anypind answers there: refused; a file that is no socket: left. */
static void test_open_refused(void **state)
{
	struct fixture *x = *state;
	char err[256], path[80];
	int fd;

	(void)x;
	assert_int_equal(ctl_open(x->path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "another anypind is running there"));
	snprintf(path, sizeof(path), "%s.file", x->path);
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(ctl_open(path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "exists and is not a socket"));
	assert_int_equal(unlink(path), 0);
}

int main(void)
{
#define T(test)	cmocka_unit_test_setup_teardown(test, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_flows), T(test_answers), T(test_get), T(test_set), T(test_blackholes),
		T(test_line_ends), T(test_bad_requests), T(test_open_refused), T(test_refresh),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
