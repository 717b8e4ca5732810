// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The control socket (docs/anypind.md): a UNIX stream socket; a client
 * sends one line, "flows", "stats", "blackholes", "blackholes flush",
 * "status", "get KEY" or "set KEY VALUE", and reads the answer until the
 * server closes. "flows", "stats" and "blackholes" are the content of the
 * module's files of those names in /proc/net/anypin, in the same core
 * formats, "blackholes flush" does what its net.anypin.flush_blackholes
 * does, and "get"/"set" read and write a key as its sysctl file does, so
 * anypinctl handles either datapath alike.
 *
 * Answers are built whole when the request arrives (a snapshot) and
 * written as the client reads, without blocking the packets.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <anypin/stats.h>
#include "anypind.h"
#include "ctl.h"
#include "nft.h"
#include "unix_path.h"
#include "util.h"

#define MAX_CLIENTS	16
/* "set", a key and the longest value the core takes. */
#define REQ_MAX		(AP_VALUE_MAX + 128)
#define CLIENT_SECS	5

struct client {
	int fd;
	u32 since;
	size_t inlen;
	char in[REQ_MAX + 1];
	char *out;
	size_t outlen, outoff;
};

static int lfd = -1;
static char *lpath;
static struct client cl[MAX_CLIENTS];
static int ncl;
/* Which client each polled fd after the listener belongs to. */
static int polled[MAX_CLIENTS];

int ctl_open(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa;
	struct stat st;
	int fd;

	if (unix_path(&sa, path, err, errlen))
		return -1;
	/* A socket someone answers on belongs to a running anypind. */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	if (!connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		close(fd);
		snprintf(err, errlen, "%s: another anypind is running there (see -s)", path);
		return -1;
	}
	close(fd);
	/* A stale socket of ours may go; anything else is not ours to remove. */
	if (!lstat(path, &st) && !S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "%s: exists and is not a socket", path);
		return -1;
	}
	if (unlink(path) < 0 && errno != ENOENT)
		goto fail;
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    chmod(path, 0660) < 0 || listen(lfd, 16) < 0)
		goto fail;
	lpath = strdup(path);
	return 0;
fail:
	snprintf(err, errlen, "%s: %s", path, strerror(errno));
	if (lfd >= 0)
		close(lfd);
	lfd = -1;
	return -1;
}

int ctl_pollfds(struct pollfd *pfd, int max)
{
	int i, n = 0;

	if (lfd < 0 || max < 1)
		return 0;
	pfd[n].fd = lfd;
	pfd[n++].events = ncl < MAX_CLIENTS ? POLLIN : 0;
	for (i = 0; i < ncl && n < max; i++) {
		pfd[n].fd = cl[i].fd;
		pfd[n].events = cl[i].out ? POLLOUT : POLLIN;
		polled[n - 1] = i;
		n++;
	}
	return n;
}

static void count_flow(const struct ap_flow *f, void *arg)
{
	ap_stats_add_flow(arg, f->prefix);
}

/* The core's table of the counters table.c keeps, by prefix index. */
static void answer_stats(const struct ctl_info *ci, FILE *f)
{
	const struct table_stats *st = table_stats(ci->table);
	struct ap_stats *s = malloc(sizeof(*s));
	char row[AP_STATS_LINE_MAX];
	u32 i;

	_Static_assert(sizeof(st->v) == sizeof(s->v), "rows by prefix index, then removed");
	if (!s) {
		fputs("error: out of memory\n", f);
		return;
	}
	ap_stats_init(s, ci->conf);
	memcpy(s->v, st->v, sizeof(s->v));
	table_walk(ci->table, count_flow, s);
	for (i = 0; ap_stats_line(s, i, row, sizeof(row)); i++)
		fputs(row, f);
	free(s);
}

struct flows_walk {
	const struct ap_conf *c;
	u32 now;
	FILE *f;
};

static void print_flow(const struct ap_flow *fl, void *arg)
{
	struct flows_walk *w = arg;
	char line[256];

	if (ap_flow_expired(fl, w->c, w->now))
		return;
	ap_flow_format(fl, w->c, w->now, line, sizeof(line));
	fputs(line, w->f);
}

static void answer_status(const struct ctl_info *ci, FILE *f)
{
	u32 now = now_sec();
	char line[256];
	FILE *q;

	fprintf(f, "version %s\n", ANYPIND_VERSION);
	fprintf(f, "pid %ld\n", (long)getpid());
	fprintf(f, "config %s\n", ci->conf_path);
	fprintf(f, "prefixes %u\n", ci->conf->nprefixes);
	fprintf(f, "queue %u\n", ci->queue);
	fprintf(f, "table inet %s\n", NFT_TABLE);
	fprintf(f, "uptime %u\n", now - ci->started);
	fprintf(f, "flows %u\n", table_count(ci->table));
	fprintf(f, "max_flows %u\n", ci->conf->max_flows);
	fprintf(f, "packets %llu\n", (unsigned long long)ci->qstats->packets);
	fprintf(f, "changed %llu\n", (unsigned long long)ci->qstats->changed);
	fprintf(f, "dropped %llu\n", (unsigned long long)ci->qstats->dropped);
	fprintf(f, "unparsed %llu\n", (unsigned long long)ci->qstats->unparsed);
	fprintf(f, "truncated %llu\n", (unsigned long long)ci->qstats->truncated);
	fprintf(f, "rst_sent %llu\n", (unsigned long long)ci->qstats->rst_sent);
	fprintf(f, "rst_errors %llu\n", (unsigned long long)ci->qstats->rst_errors);
	fprintf(f, "verdict_errors %llu\n", (unsigned long long)ci->qstats->verdict_errors);
	fprintf(f, "nft_errors %llu\n", (unsigned long long)*ci->nft_errors);
	fprintf(f, "restores %llu\n", (unsigned long long)ci->restores);
	fprintf(f, "reloads %llu\n", (unsigned long long)ci->reloads);
	fprintf(f, "reload_errors %llu\n", (unsigned long long)ci->reload_errors);
	fprintf(f, "sets %llu\n", (unsigned long long)ci->sets);
	fprintf(f, "set_errors %llu\n", (unsigned long long)ci->set_errors);
	/* The kernel's view of our queue: fail-open passes and drops. */
	q = fopen("/proc/net/netfilter/nfnetlink_queue", "re");
	while (q && fgets(line, sizeof(line), q)) {
		unsigned int num, portid, total, mode, range, dropped, udropped, seq;

		if (sscanf(line, "%u %u %u %u %u %u %u %u", &num, &portid, &total, &mode,
			   &range, &dropped, &udropped, &seq) == 8 && num == ci->queue) {
			fprintf(f, "queue_waiting %u\n", total);
			fprintf(f, "queue_dropped %u\n", dropped);
			fprintf(f, "queue_user_dropped %u\n", udropped);
		}
	}
	if (q)
		fclose(q);
}

/* The records live now, as the module's /proc/net/anypin/blackholes. */
static void answer_blackholes(const struct ctl_info *ci, FILE *f)
{
	struct ap_bh_table *bh = table_blackholes(ci->table);
	u32 i, now = now_sec();
	char line[128];

	ap_bh_expire(bh, now);
	fputs(AP_BH_HEADER, f);
	for (i = 0; i < bh->n; i++) {
		ap_bh_format(&bh->e[i], now, line, sizeof(line));
		fputs(line, f);
	}
}

/* "get KEY": the value as its sysctl file reads, or an error. */
static void answer_get(const struct ctl_info *ci, const char *key, FILE *f)
{
	char *v = malloc(AP_VALUE_MAX);

	if (!v) {
		fputs("error: out of memory\n", f);
	} else if (ap_conf_get(ci->conf, key, (u32)strlen(key), v, AP_VALUE_MAX) < 0) {
		fprintf(f, "error: unknown key '%.*s'\n", 100, key);
	} else {
		fprintf(f, "%s\n", v);
	}
	free(v);
}

/* "set KEY VALUE" (the value may be empty): "ok" or "error: reason". */
static void answer_set(struct ctl_info *ci, char *arg, FILE *f)
{
	char err[512], *val;

	val = arg + strcspn(arg, " \t");
	if (*val)
		*val++ = 0;
	if (!*arg || !ci->set) {
		fputs("error: expected 'set KEY VALUE'\n", f);
		return;
	}
	if (ci->set(ci->set_arg, arg, val, err, sizeof(err))) {
		ci->set_errors++;
		fprintf(f, "error: %s\n", err);
		return;
	}
	ci->sets++;
	fputs("ok\n", f);
}

static void answer(struct client *c, struct ctl_info *ci)
{
	struct flows_walk w;
	char *req = c->in;
	bool whole;
	size_t n;
	FILE *f;

	whole = memchr(c->in, '\n', c->inlen) || c->inlen < REQ_MAX;
	n = strcspn(req, "\r\n");
	/* A NUL would cut a value short: refuse rather than set a part. */
	if (n < c->inlen && req[n] != '\n' && req[n] != '\r')
		whole = false;
	req[n] = 0;
	f = open_memstream(&c->out, &c->outlen);
	if (!f) {
		c->out = NULL;
		return;
	}
	if (!whole) {
		fprintf(f, "error: bad request (a NUL byte, or longer than %d bytes)\n", REQ_MAX);
	} else if (!strcmp(req, "flows")) {
		if (ci->refresh)
			ci->refresh(ci->refresh_arg);
		w.c = ci->conf;
		w.now = now_sec();
		w.f = f;
		fputs(AP_FLOW_HEADER, f);
		table_walk(ci->table, print_flow, &w);
	} else if (!strcmp(req, "stats")) {
		if (ci->refresh)
			ci->refresh(ci->refresh_arg);
		answer_stats(ci, f);
	} else if (!strcmp(req, "blackholes")) {
		answer_blackholes(ci, f);
	} else if (!strcmp(req, "blackholes flush")) {
		ap_bh_flush(table_blackholes(ci->table));
		fputs("ok\n", f);
	} else if (!strcmp(req, "status")) {
		answer_status(ci, f);
	} else if (!strncmp(req, "get ", 4)) {
		n = strlen(req);
		while (n > 4 && (req[n - 1] == ' ' || req[n - 1] == '\t'))
			req[--n] = 0;
		answer_get(ci, req + 4, f);
	} else if (!strncmp(req, "set ", 4)) {
		answer_set(ci, req + 4, f);
	} else {
		fprintf(f, "error: unknown request '%.32s' (flows, stats, blackholes, status, "
			"get or set)\n", req);
	}
	fclose(f);
	c->outoff = 0;
}

static void drop_client(int i)
{
	char buf[4096];
	int k;

	/* Unread bytes (a request too long) would turn our close into a reset. */
	for (k = 0; k < 16 && read(cl[i].fd, buf, sizeof(buf)) > 0; k++)
		;
	close(cl[i].fd);
	free(cl[i].out);
	cl[i] = cl[--ncl];
}

static void accept_clients(void)
{
	int fd;

	while (ncl < MAX_CLIENTS &&
	       (fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		memset(&cl[ncl], 0, sizeof(cl[ncl]));
		cl[ncl].fd = fd;
		cl[ncl].since = now_sec();
		ncl++;
	}
}

/* False when the client is done with. */
static bool serve(struct client *c, short ev, struct ctl_info *ci)
{
	ssize_t r;

	if (!c->out && (ev & (POLLIN | POLLHUP | POLLERR))) {
		r = read(c->fd, c->in + c->inlen, REQ_MAX - c->inlen);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			return true;
		if (r > 0)
			c->inlen += r;
		c->in[c->inlen] = 0;
		/* A whole line, or all the client will send. */
		if (r > 0 && !memchr(c->in, '\n', c->inlen) && c->inlen < REQ_MAX)
			return true;
		if (r < 0 || (r == 0 && !c->inlen))
			return false;
		answer(c, ci);
		if (!c->out)
			return false;
	}
	if (c->out && c->outoff < c->outlen) {
		r = send(c->fd, c->out + c->outoff, c->outlen - c->outoff, MSG_NOSIGNAL);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			return true;
		if (r < 0)
			return false;
		c->outoff += r;
	}
	return !(c->out && c->outoff >= c->outlen);
}

void ctl_run(struct pollfd *pfd, int n, struct ctl_info *ci)
{
	bool keep[MAX_CLIENTS];
	u32 now = now_sec();
	int i, k;

	if (lfd < 0)
		return;
	for (i = 0; i < ncl; i++)
		keep[i] = now - cl[i].since <= CLIENT_SECS;
	for (k = 1; k < n; k++)
		if (pfd[k].revents && keep[polled[k - 1]])
			keep[polled[k - 1]] = serve(&cl[polled[k - 1]], pfd[k].revents, ci);
	for (i = ncl - 1; i >= 0; i--)
		if (!keep[i])
			drop_client(i);
	if (n > 0 && (pfd[0].revents & POLLIN))
		accept_clients();
}

void ctl_close(void)
{
	while (ncl)
		drop_client(ncl - 1);
	if (lfd >= 0)
		close(lfd);
	lfd = -1;
	if (lpath)
		unlink(lpath);
	free(lpath);
	lpath = NULL;
}
