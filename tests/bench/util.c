// SPDX-License-Identifier: GPL-2.0 OR MIT
#define _GNU_SOURCE
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

double bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int bench_listen(const char *who, const char *port, int backlog)
{
	struct sockaddr_in6 sa;
	int fd, one = 1, zero = 0;

	fd = socket(AF_INET6, SOCK_STREAM, 0);
	if (fd < 0) {
		fprintf(stderr, "%s: socket: %m\n", who);
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	memset(&sa, 0, sizeof(sa));
	sa.sin6_family = AF_INET6;
	sa.sin6_port = htons(atoi(port));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(fd, backlog) < 0) {
		fprintf(stderr, "%s: bind/listen on port %s: %m\n", who, port);
		close(fd);
		return -1;
	}
	return fd;
}

struct addrinfo *bench_resolve(const char *who, const char *addr, const char *port)
{
	struct addrinfo hints, *ai;
	int err;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST;
	err = getaddrinfo(addr, port, &hints, &ai);
	if (err) {
		fprintf(stderr, "%s: %s: %s\n", who, addr, gai_strerror(err));
		return NULL;
	}
	return ai;
}

int bench_serve(const char *who, const char *port, int backlog, void (*handle)(int c))
{
	int fd, c;

	signal(SIGPIPE, SIG_IGN);
	fd = bench_listen(who, port, backlog);
	if (fd < 0)
		return 1;
	for (;;) {
		c = accept(fd, NULL, NULL);
		if (c >= 0)
			handle(c);
	}
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

double bench_percentile(double *v, size_t n, int pct)
{
	if (!n)
		return 0;
	qsort(v, n, sizeof(*v), cmp);
	return v[n * pct / 100];
}
