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
		T(test_line_ends), T(test_bad_requests), T(test_open_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
