// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Round trips over one TCP connection, for `make bench`.
 *
 *   rr -s PORT                      server: echo what it reads, each
 *                                   connection in a process of its own
 *   rr -c ADDR PORT WARMUP SECS     client: one connection, one byte there
 *                                   and back, again, for WARMUP seconds
 *                                   unrecorded and then SECS recorded
 *
 * The client prints one line:
 *   rtts N errors E p50_us X p99_us Y
 * the round trips recorded and their percentiles. The run is about one
 * connection, so one that fails (reset, closed, no answer within
 * RR_TIMEOUT seconds) is an error that ends it rather than being
 * replaced; a byte echoed wrong is an error too. Both ends set
 * TCP_NODELAY.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

#define MAX_SAMPLES	(1 << 20)
#define RR_TIMEOUT	10

static void echo(int c)
{
	char buf[256];
	ssize_t n;
	int one = 1;

	setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	while ((n = read(c, buf, sizeof(buf))) > 0)
		if (write(c, buf, n) != n)
			break;
}

/* Each connection in a child of its own, reaped by the kernel. */
static void fork_echo(int c)
{
	if (!fork()) {
		echo(c);
		_exit(0);
	}
	close(c);
}

int main(int argc, char **argv)
{
	struct timeval tv = { .tv_sec = RR_TIMEOUT };
	struct addrinfo *ai;
	double warmup, secs, rec, end, t, *rtt;
	long n = 0, rtts = 0, errors = 0;
	unsigned char out = 0, in;
	int fd, one = 1;
	ssize_t r;

	if (argc == 3 && !strcmp(argv[1], "-s")) {
		signal(SIGCHLD, SIG_IGN);
		return bench_serve("rr", argv[2], 128, fork_echo);
	}
	if (argc != 6 || strcmp(argv[1], "-c")) {
		fprintf(stderr, "usage: rr -s PORT | rr -c ADDR PORT WARMUP SECS\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	warmup = atof(argv[4]);
	secs = atof(argv[5]);
	ai = bench_resolve("rr", argv[2], argv[3]);
	if (!ai)
		return 2;
	rtt = malloc(sizeof(*rtt) * MAX_SAMPLES);
	if (!rtt)
		return 1;
	fd = socket(ai->ai_family, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		perror("rr: connect");
		return 1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	rec = bench_now() + warmup;
	end = rec + secs;
	while ((t = bench_now()) < end) {
		out++;
		if (write(fd, &out, 1) != 1) {
			perror("rr: write");
			errors++;
			break;
		}
		r = read(fd, &in, 1);
		if (r != 1) {
			fprintf(stderr, "rr: read: %s\n", r ? strerror(errno) : "connection closed");
			errors++;
			break;
		}
		if (in != out) {
			errors++;
			continue;
		}
		if (t < rec)
			continue;
		rtts++;
		if (n < MAX_SAMPLES)
			rtt[n++] = bench_now() - t;
	}
	close(fd);
	printf("rtts %ld errors %ld p50_us %.1f p99_us %.1f\n", rtts, errors,
	       bench_percentile(rtt, n, 50) * 1e6, bench_percentile(rtt, n, 99) * 1e6);
	return 0;
}
