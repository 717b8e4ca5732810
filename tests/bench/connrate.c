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

#include "util.h"

#define MAX_SAMPLES	(1 << 20)

static void one_byte(int c)
{
	/* A client gone already is no error here. */
	(void)!write(c, "x", 1);
	close(c);
}

/* One client process; writes "conns errors" to @out, samples if @lat. */
static void client(const struct addrinfo *ai, double secs, int out, double *lat, long *nlat)
{
	double end = bench_now() + secs, t0;
	long conns = 0, errors = 0;
	char buf[16];
	int fd;

	while (bench_now() < end) {
		fd = socket(ai->ai_family, SOCK_STREAM, 0);
		if (fd < 0) {
			errors++;
			continue;
		}
		t0 = bench_now();
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
			errors++;
			close(fd);
			usleep(1000);
			continue;
		}
		if (lat && *nlat < MAX_SAMPLES)
			lat[(*nlat)++] = bench_now() - t0;
		while (read(fd, buf, sizeof(buf)) > 0)
			;
		close(fd);
		conns++;
	}
	dprintf(out, "%ld %ld\n", conns, errors);
}

int main(int argc, char **argv)
{
	struct addrinfo *ai;
	long conns = 0, errors = 0, c, e, nlat = 0;
	double secs, t0, *lat;
	int par = 1, i, p[2];
	FILE *f;

	if (argc == 3 && !strcmp(argv[1], "-s"))
		return bench_serve("connrate", argv[2], 4096, one_byte);
	if (argc < 5 || strcmp(argv[1], "-c")) {
		fprintf(stderr, "usage: connrate -s PORT | connrate -c ADDR PORT SECS [PAR]\n");
		return 2;
	}
	secs = atof(argv[4]);
	if (argc > 5)
		par = atoi(argv[5]);
	ai = bench_resolve("connrate", argv[2], argv[3]);
	if (!ai)
		return 2;
	lat = malloc(sizeof(*lat) * MAX_SAMPLES);
	if (!lat || pipe(p) < 0)
		return 1;
	t0 = bench_now();
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
	secs = bench_now() - t0;
	f = fdopen(p[0], "r");
	while (f && fscanf(f, "%ld %ld", &c, &e) == 2) {
		conns += c;
		errors += e;
	}
	printf("conns %ld errors %ld secs %.2f rate %.0f connect_p50_us %.0f connect_p99_us %.0f\n",
	       conns, errors, secs, conns / secs, bench_percentile(lat, nlat, 50) * 1e6,
	       bench_percentile(lat, nlat, 99) * 1e6);
	return 0;
}
