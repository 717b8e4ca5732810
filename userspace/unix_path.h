/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The control socket's address, for anypind (which listens on it) and
 * anypinctl (which connects): one rule for a path that does not fit.
 */
#ifndef ANYPIN_UNIX_PATH_H
#define ANYPIN_UNIX_PATH_H

#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

static inline int unix_path(struct sockaddr_un *sa, const char *path,
			    char *err, size_t errlen)
{
	size_t len = strlen(path);

	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (len >= sizeof(sa->sun_path)) {
		snprintf(err, errlen, "%s: socket path too long", path);
		return -1;
	}
	memcpy(sa->sun_path, path, len + 1);
	return 0;
}

#endif
