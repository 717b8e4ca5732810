// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The two datapaths behind one interface. anypin.ko: the sysctl files of
 * this network namespace (one write() per value, EINVAL when refused) and
 * /proc/net/anypin/{flows,stats,blackholes}. anypind: one request line per
 * connection on its control socket (docs/anypind.md), the answer read
 * until it closes.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>
#include "anypinctl.h"
#include "unix_path.h"

/* Larger than any value the datapath takes (AP_VALUE_MAX) or any table. */
#define VALUE_MAX	8192
#define SOCK_SECS	10

static int sock_connect(const char *path, long *pid, char *err, size_t errlen)
{
	struct sockaddr_un sa;
	struct timeval tv = { SOCK_SECS, 0 };
	struct ucred cr;
	socklen_t crlen = sizeof(cr);
	int fd;

	if (unix_path(&sa, path, err, errlen))
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (pid)
		*pid = getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &crlen) ? 0 : (long)cr.pid;
	return fd;
}

/* Reads @fd to its end into a malloc'ed, NUL-terminated buffer. */
static int read_all(int fd, char **out, size_t *len, char *err, size_t errlen)
{
	size_t n = 0, cap = 4096;
	char *b = malloc(cap + 1), *nb;
	ssize_t r;

	if (!b) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (;;) {
		if (n == cap) {
			nb = cap < ((size_t)1 << 30) ? realloc(b, 2 * cap + 1) : NULL;
			if (!nb) {
				free(b);
				snprintf(err, errlen, "out of memory");
				return -1;
			}
			b = nb;
			cap *= 2;
		}
		r = read(fd, b + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			snprintf(err, errlen, "%s", errno == EAGAIN ? "no answer (timed out)" :
				 strerror(errno));
			free(b);
			return -1;
		}
		if (!r)
			break;
		n += r;
	}
	b[n] = 0;
	*out = b;
	if (len)
		*len = n;
	return 0;
}

/* One request to anypind; its whole answer in *@out. */
static int request(const char *sock, const char *req, char **out, size_t *len,
		   char *err, size_t errlen)
{
	size_t n = strlen(req), off = 0;
	char e[256];
	ssize_t w;
	int fd, r;

	fd = sock_connect(sock, NULL, err, errlen);
	if (fd < 0)
		return -1;
	while (off < n) {
		w = send(fd, req + off, n - off, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			snprintf(err, errlen, "%s: %s", sock, strerror(errno));
			close(fd);
			return -1;
		}
		off += w;
	}
	shutdown(fd, SHUT_WR);
	r = read_all(fd, out, len, e, sizeof(e));
	close(fd);
	if (r)
		snprintf(err, errlen, "%s: %s", sock, e);
	else if (!**out) {
		snprintf(err, errlen, "%s: empty answer", sock);
		free(*out);
		return -1;
	}
	return r;
}

int dp_select(struct dp *d, int force, const char *sock, char *err, size_t errlen)
{
	struct stat st;
	char e[256];
	bool mod = !stat(DP_SYSCTL_DIR, &st) && S_ISDIR(st.st_mode);
	int fd = -1;

	memset(d, 0, sizeof(*d));
	d->sock = sock;
	if (force == DP_MODULE || (!force && mod)) {
		if (!mod) {
			snprintf(err, errlen, "%s does not exist (anypin.ko not loaded, or another "
				 "network namespace)", DP_SYSCTL_DIR);
			return -1;
		}
		d->kind = DP_MODULE;
		strcpy(d->name, "anypin.ko");
		snprintf(d->text, sizeof(d->text), "anypin.ko (net namespace sysctls)");
		return 0;
	}
	fd = sock_connect(sock, &d->pid, e, sizeof(e));
	if (fd < 0) {
		if (force)
			snprintf(err, errlen, "anypind: nothing answers on %s", e);
		else
			snprintf(err, errlen, "no anypin datapath: %s does not exist (anypin.ko "
				 "not loaded) and nothing answers on %s", DP_SYSCTL_DIR, sock);
		return -1;
	}
	close(fd);
	d->kind = DP_ANYPIND;
	strcpy(d->name, "anypind");
	if (d->pid)
		snprintf(d->text, sizeof(d->text), "anypind (%.200s, pid %ld)", sock, d->pid);
	else
		snprintf(d->text, sizeof(d->text), "anypind (%.200s)", sock);
	return 0;
}

/* "net.anypin.prefix.web.role" -> "/proc/sys/net/anypin/prefix/web/role". */
static void sysctl_path(const char *key, char *path, size_t size)
{
	size_t i;

	snprintf(path, size, "/proc/sys/%s", key);
	for (i = strlen("/proc/sys/"); path[i]; i++)
		if (path[i] == '.')
			path[i] = '/';
}

static int read_file(const char *path, char **out, size_t *len, char *err, size_t errlen)
{
	char e[256];
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (read_all(fd, out, len, e, sizeof(e))) {
		snprintf(err, errlen, "%s: %s", path, e);
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

int dp_read(const struct dp *d, const char *what, char **out, size_t *len,
	    char *err, size_t errlen)
{
	char path[64], req[32];

	if (d->kind == DP_MODULE) {
		snprintf(path, sizeof(path), "/proc/net/anypin/%s", what);
		return read_file(path, out, len, err, errlen);
	}
	snprintf(req, sizeof(req), "%s\n", what);
	if (request(d->sock, req, out, len, err, errlen))
		return -1;
	if (!strncmp(*out, "error: ", 7)) {
		snprintf(err, errlen, "anypind: %.*s", (int)strcspn(*out + 7, "\n"), *out + 7);
		free(*out);
		return -1;
	}
	return 0;
}

/* The answer's first line, for "get" and "set". */
static void first_line(char *s)
{
	s[strcspn(s, "\n")] = 0;
}

int dp_get(const struct dp *d, const char *key, char *buf, size_t size,
	   char *err, size_t errlen)
{
	char path[256], *out, *req;
	int r;

	if (d->kind == DP_MODULE) {
		sysctl_path(key, path, sizeof(path));
		if (read_file(path, &out, NULL, err, errlen))
			return -1;
	} else {
		if (asprintf(&req, "get %s\n", key) < 0) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		r = request(d->sock, req, &out, NULL, err, errlen);
		free(req);
		if (r)
			return -1;
		if (!strncmp(out, "error: ", 7)) {
			first_line(out);
			snprintf(err, errlen, "%s: %s (anypind)", key, out + 7);
			free(out);
			return -1;
		}
	}
	first_line(out);
	snprintf(buf, size, "%s", out);
	free(out);
	return 0;
}

static int module_set(const char *key, const char *val, char *why, size_t whylen)
{
	char path[256], *v;
	ssize_t w;
	int fd, n, e;

	sysctl_path(key, path, sizeof(path));
	n = asprintf(&v, "%s\n", val);
	if (n < 0) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		e = errno;
		free(v);
		if (e == ENOENT)
			snprintf(why, whylen, "%s does not exist%s", path,
				 strstr(key, ".prefix.") ? " (no such prefix)" : "");
		else
			snprintf(why, whylen, "%s: %s", path, strerror(e));
		return -1;
	}
	/* One write() per value: the kernel refuses a value in pieces. */
	w = write(fd, v, n);
	e = errno;
	close(fd);
	free(v);
	if (w == n)
		return 0;
	if (w < 0 && e == EINVAL) {
		why[0] = 0;
		return 1;
	}
	snprintf(why, whylen, "%s: %s", path, w < 0 ? strerror(e) : "short write");
	return -1;
}

int dp_set(const struct dp *d, const char *key, const char *val, char *why, size_t whylen)
{
	char *req, *out, err[512];
	int r;

	if (strlen(val) >= VALUE_MAX) {
		snprintf(why, whylen, "value too long");
		return 1;
	}
	if (d->kind == DP_MODULE)
		return module_set(key, val, why, whylen);
	if (asprintf(&req, "set %s %s\n", key, val) < 0) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	r = request(d->sock, req, &out, NULL, err, sizeof(err));
	free(req);
	if (r) {
		snprintf(why, whylen, "%s", err);
		return -1;
	}
	first_line(out);
	if (!strcmp(out, "ok")) {
		r = 0;
	} else if (!strncmp(out, "error: ", 7)) {
		snprintf(why, whylen, "%s", out + 7);
		r = 1;
	} else {
		snprintf(why, whylen, "unexpected answer '%.100s'", out);
		r = -1;
	}
	free(out);
	return r;
}

int dp_flush_blackholes(const struct dp *d, char *err, size_t errlen)
{
	char why[512], *out;
	int r;

	if (d->kind == DP_MODULE) {
		/* Not a configuration key: the module's own action. */
		r = module_set("net.anypin.flush_blackholes", "1", why, sizeof(why));
		if (r)
			snprintf(err, errlen, "%s", r > 0 ? DP_SYSCTL_DIR "/flush_blackholes: "
				 "refused" : why);
		return r ? -1 : 0;
	}
	if (request(d->sock, "blackholes flush\n", &out, NULL, err, errlen))
		return -1;
	first_line(out);
	r = strcmp(out, "ok") ? -1 : 0;
	if (r && !strncmp(out, "error: ", 7))
		snprintf(err, errlen, "anypind: %.200s", out + 7);
	else if (r)
		snprintf(err, errlen, "anypind: unexpected answer '%.100s'", out);
	free(out);
	return r;
}
