// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The RST that tells a losing responder to free its half-open connection
 * goes out through raw sockets with the IP header included (IPPROTO_RAW
 * implies it for both families); the core builds the whole packet.
 */
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include "raw.h"

static int fd4 = -1, fd6 = -1;

int raw_open(void)
{
	fd4 = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
	fd6 = socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
	if (fd4 < 0 && fd6 < 0)
		return -1;
	return 0;
}

int raw_send(const u8 *pkt, u32 len, u8 family)
{
	struct sockaddr_in6 s6;
	struct sockaddr_in s4;

	if (family == AP_AF_INET) {
		if (fd4 < 0 || len < 20)
			return -1;
		memset(&s4, 0, sizeof(s4));
		s4.sin_family = AF_INET;
		memcpy(&s4.sin_addr, pkt + 16, 4);
		return sendto(fd4, pkt, len, 0, (struct sockaddr *)&s4, sizeof(s4)) < 0 ? -1 : 0;
	}
	if (fd6 < 0 || len < 40)
		return -1;
	memset(&s6, 0, sizeof(s6));
	s6.sin6_family = AF_INET6;
	memcpy(&s6.sin6_addr, pkt + 24, 16);
	return sendto(fd6, pkt, len, 0, (struct sockaddr *)&s6, sizeof(s6)) < 0 ? -1 : 0;
}

void raw_close(void)
{
	if (fd4 >= 0)
		close(fd4);
	if (fd6 >= 0)
		close(fd6);
	fd4 = fd6 = -1;
}
