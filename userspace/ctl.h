/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/* The control socket: flows, stats, blackholes, status, get, set. */
#ifndef ANYPIND_CTL_H
#define ANYPIND_CTL_H

#include <stddef.h>
#include "queue.h"

struct pollfd;

/* What the answers are made of; the caller keeps it current. */
struct ctl_info {
	const char *conf_path;
	u16 queue;
	u32 started;
	u64 reloads, reload_errors;
	u64 restores;			/* table put back after a change under us */
	u64 sets, set_errors;
	const struct ap_conf *conf;
	struct table *table;
	const struct queue_stats *qstats;
	const u64 *nft_errors;
	/* Brings the table's counters up to date, before they are shown. */
	void (*refresh)(void *arg);
	void *refresh_arg;
	/*
	 * "set KEY VALUE": applies the key to a copy of the running
	 * configuration and takes it as a reload would; 0, or -1 with @err.
	 */
	int (*set)(void *arg, const char *key, const char *val, char *err, size_t errlen);
	void *set_arg;
};

int ctl_open(const char *path, char *err, size_t errlen);
/* Adds the fds to poll (up to @max), returns how many. */
int ctl_pollfds(struct pollfd *pfd, int max);
void ctl_run(struct pollfd *pfd, int n, struct ctl_info *ci);
void ctl_close(void);

#endif
