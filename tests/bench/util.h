/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/* What the load generators of `make bench` share. */
#ifndef BENCH_UTIL_H
#define BENCH_UTIL_H

#include <stddef.h>

/* CLOCK_MONOTONIC in seconds. */
double bench_now(void);

/*
 * A listening TCP socket on PORT for IPv4 and IPv6 at once, or -1 after
 * saying why on stderr, prefixed with @who.
 */
int bench_listen(const char *who, const char *port, int backlog);

/*
 * Listens as bench_listen() and hands each accepted connection to
 * @handle, which closes it; returns 1 only if it cannot listen.
 */
int bench_serve(const char *who, const char *port, int backlog, void (*handle)(int c));

struct addrinfo;

/* The numeric address ADDR and PORT for a TCP client, or NULL after saying why. */
struct addrinfo *bench_resolve(const char *who, const char *addr, const char *port);

/* Sorts @n samples and returns the one at @pct percent (0 without any). */
double bench_percentile(double *v, size_t n, int pct);

#endif
