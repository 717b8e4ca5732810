/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/* What every part of anypind uses: its log and its clock. */
#ifndef ANYPIND_UTIL_H
#define ANYPIND_UTIL_H

#include <anypin/types.h>

/* -v: debugmsg() writes too. */
extern int verbose;

/* One line on stderr, "anypind: " first. */
void logmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void debugmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Seconds of the monotonic clock: the core's "now". */
u32 now_sec(void);

#endif
