/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/* The NFQUEUE socket: packets in, ap_process(), verdicts out. */
#ifndef ANYPIND_QUEUE_H
#define ANYPIND_QUEUE_H

#include <stddef.h>
#include "table.h"

struct queue_stats {
	u64 packets, changed, dropped, unparsed, truncated, rst_sent, rst_errors;
	u64 verdict_errors, batches;
};
extern struct queue_stats qstats;

int queue_open(u16 num, char *err, size_t errlen);
/* Takes @fd as the queue's socket, as it is: a test's end of a socketpair. */
int queue_attach(int fd, u16 num);
int queue_fd(void);
/* Handles what is waiting on the socket; @c and @t decide. */
void queue_run(const struct ap_conf *c, struct table *t);
void queue_close(void);

#endif
