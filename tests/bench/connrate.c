// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Short TCP connections, for `make bench`.
 *
 *   connrate -s PORT                     server: accept, send one byte, close
 *   connrate -c ADDR PORT SECS [PAR]     client: PAR processes (default 1)
 *                                        connect, read to EOF, close, again,
 *                                        for SECS seconds
 *
 * The client prints one line:
 *   conns N errors E secs S rate R connect_p50_us X connect_p99_us Y
 * where the connect times are those of connect() (the handshake) in the
 * first process. The server closes first, so TIME_WAIT stays on its side
 * and the client's ports come back at once.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_SAMPLES	(1 << 20)

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int serve(const char *port)
{
	struct sockaddr_in6 sa;
	int fd, c, one = 1, zero = 0;

	signal(SIGPIPE, SIG_IGN);
	fd = socket(AF_INET6, SOCK_STREAM, 0);
	if (fd < 0)
		return 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	memset(&sa, 0, sizeof(sa));
	sa.sin6_family = AF_INET6;
	sa.sin6_port = htons(atoi(port));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 4096) < 0) {
		perror("connrate: bind/listen");
		return 1;
	}
	for (;;) {
		c = accept(fd, NULL, NULL);
		if (c < 0)
			continue;
		/* A client gone already is no error here. */
		(void)!write(c, "x", 1);
		close(c);
	}
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* One client process; writes "conns errors" to @out, samples if @lat. */
static void client(const struct addrinfo *ai, double secs, int out, double *lat, long *nlat)
{
	double end = now() + secs, t0;
	long conns = 0, errors = 0;
	char buf[16];
	int fd;

	while (now() < end) {
		fd = socket(ai->ai_family, SOCK_STREAM, 0);
		if (fd < 0) {
			errors++;
			continue;
		}
		t0 = now();
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
			errors++;
			close(fd);
			usleep(1000);
			continue;
		}
		if (lat && *nlat < MAX_SAMPLES)
			lat[(*nlat)++] = now() - t0;
		while (read(fd, buf, sizeof(buf)) > 0)
			;
		close(fd);
		conns++;
	}
	dprintf(out, "%ld %ld\n", conns, errors);
}

int main(int argc, char **argv)
{
	struct addrinfo hints, *ai;
	long conns = 0, errors = 0, c, e, nlat = 0;
	double secs, t0, *lat;
	int par = 1, i, p[2], err;
	FILE *f;

	if (argc == 3 && !strcmp(argv[1], "-s"))
		return serve(argv[2]);
	if (argc < 5 || strcmp(argv[1], "-c")) {
		fprintf(stderr, "usage: connrate -s PORT | connrate -c ADDR PORT SECS [PAR]\n");
		return 2;
	}
	secs = atof(argv[4]);
	if (argc > 5)
		par = atoi(argv[5]);
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST;
	err = getaddrinfo(argv[2], argv[3], &hints, &ai);
	if (err) {
		fprintf(stderr, "connrate: %s: %s\n", argv[2], gai_strerror(err));
		return 2;
	}
	lat = malloc(sizeof(*lat) * MAX_SAMPLES);
	if (!lat || pipe(p) < 0)
		return 1;
	t0 = now();
	for (i = 1; i < par; i++) {
		if (!fork()) {
			close(p[0]);
			client(ai, secs, p[1], NULL, NULL);
			_exit(0);
		}
	}
	client(ai, secs, p[1], lat, &nlat);
	close(p[1]);
	while (wait(NULL) > 0)
		;
	secs = now() - t0;
	f = fdopen(p[0], "r");
	while (f && fscanf(f, "%ld %ld", &c, &e) == 2) {
		conns += c;
		errors += e;
	}
	qsort(lat, nlat, sizeof(*lat), cmp);
	printf("conns %ld errors %ld secs %.2f rate %.0f connect_p50_us %.0f connect_p99_us %.0f\n",
	       conns, errors, secs, conns / secs, nlat ? lat[nlat / 2] * 1e6 : 0,
	       nlat ? lat[nlat * 99 / 100] * 1e6 : 0);
	return 0;
}
