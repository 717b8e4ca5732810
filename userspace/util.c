// SPDX-License-Identifier: GPL-2.0 OR MIT
/* The log and the clock. */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include "util.h"

int verbose;

static void vlog(const char *fmt, va_list ap)
{
	fputs("anypind: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void logmsg(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(fmt, ap);
	va_end(ap);
}

void debugmsg(const char *fmt, ...)
{
	va_list ap;

	if (!verbose)
		return;
	va_start(ap, fmt);
	vlog(fmt, ap);
	va_end(ap);
}

u32 now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (u32)ts.tv_sec;
}
