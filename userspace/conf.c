// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The configuration file: sysctl.d syntax, the keys of the module's
 * sysctls, applied by the core's ap_conf_parse() to a fresh configuration
 * that the caller keeps only if the whole file is good.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "conf.h"

/* Far more than 64 prefixes with every key set ever needs. */
#define CONF_MAX	(1 << 20)

int conf_load(const char *path, struct ap_conf *c, char *err, size_t errlen)
{
	struct ap_conf_err e = { 0, NULL };
	char *text;
	size_t n = 0;
	ssize_t r;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	text = malloc(CONF_MAX + 1);
	if (!text) {
		close(fd);
		snprintf(err, errlen, "%s: out of memory", path);
		return -1;
	}
	while ((r = read(fd, text + n, CONF_MAX + 1 - n)) > 0 && n + r <= CONF_MAX)
		n += r;
	if (r < 0 || n + (r > 0 ? r : 0) > CONF_MAX) {
		snprintf(err, errlen, "%s: %s", path, r < 0 ? strerror(errno) :
			 "file too large (more than 1 MiB)");
		free(text);
		close(fd);
		return -1;
	}
	close(fd);

	ap_conf_init(c);
	/* instance and peers are taken; second_set() refuses them without BPF. */
	c->sc_supported = true;
	if (ap_conf_parse(c, text, (u32)n, &e)) {
		if (e.line)
			snprintf(err, errlen, "%s:%u: %s", path, e.line, e.why);
		else
			snprintf(err, errlen, "%s: %s", path, e.why);
		free(text);
		return -1;
	}
	free(text);
	return 0;
}
