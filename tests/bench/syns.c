// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * TCP SYNs in bulk, to fill a flow table for `make bench`.
 *
 *   syns SRC DST N [DPORT]
 *
 * sends N SYNs from SRC to DST (IPv4 or IPv6) through a raw socket, so they
 * pass the host's LOCAL_OUT hooks like the SYNs of its own connections.
 * SYN i comes from port 1024 + i % 64512 and goes to port DPORT (default
 * 10000) + i / 64512, so every SYN has its own {source port, destination
 * port}. The socket is bound to SRC, which must be an address of this host.
 * N is at most 16777216 (the largest max_flows). Prints
 * "sent N secs S rate R".
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

#define BATCH		64
#define SPORTS		64512
#define HDR		24	/* TCP header and an MSS option */

static uint32_t sum16(const void *p, size_t n, uint32_t s)
{
	const uint8_t *b = p;
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		s += (uint32_t)b[i] << 8 | b[i + 1];
	if (n & 1)
		s += (uint32_t)b[n - 1] << 8;
	return s;
}

static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

int main(int argc, char **argv)
{
	static uint8_t pkt[BATCH][HDR];
	struct sockaddr_storage dst[BATCH];
	struct mmsghdr msg[BATCH];
	struct iovec iov[BATCH];
	struct in6_addr s6, d6;
	struct in_addr s4, d4;
	uint32_t pseudo = 0, s;
	unsigned long n, i, sent = 0, dport0 = 10000;
	int v6, fd, b, k, r, off = 16;
	double t0, t;
	char *end;

	if (argc < 4 || argc > 5) {
		fprintf(stderr, "usage: syns SRC DST N [DPORT]\n");
		return 2;
	}
	v6 = strchr(argv[2], ':') != NULL;
	if (v6 ? inet_pton(AF_INET6, argv[1], &s6) != 1 || inet_pton(AF_INET6, argv[2], &d6) != 1
	       : inet_pton(AF_INET, argv[1], &s4) != 1 || inet_pton(AF_INET, argv[2], &d4) != 1) {
		fprintf(stderr, "syns: SRC and DST must be addresses of one family\n");
		return 2;
	}
	errno = 0;
	n = strtoul(argv[3], &end, 10);
	if (errno || *end || !n || n > 16777216) {
		fprintf(stderr, "syns: bad count '%s'\n", argv[3]);
		return 2;
	}
	if (argc == 5) {
		dport0 = strtoul(argv[4], &end, 10);
		if (*end || !dport0 || dport0 > 65535) {
			fprintf(stderr, "syns: bad port '%s'\n", argv[4]);
			return 2;
		}
	}
	if (dport0 + (n - 1) / SPORTS > 65535) {
		fprintf(stderr, "syns: %lu SYNs need destination ports past 65535\n", n);
		return 2;
	}
	fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_RAW, IPPROTO_TCP);
	if (fd < 0) {
		perror("syns: raw socket");
		return 1;
	}
	if (v6) {
		struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_addr = s6 };

		if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
			perror("syns: bind SRC");
			return 1;
		}
		/* The kernel fills the checksum at this offset. */
		if (setsockopt(fd, IPPROTO_IPV6, IPV6_CHECKSUM, &off, sizeof(off)) < 0) {
			perror("syns: IPV6_CHECKSUM");
			return 1;
		}
	} else {
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr = s4 };

		if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
			perror("syns: bind SRC");
			return 1;
		}
		pseudo = sum16(&s4, 4, 0);
		pseudo = sum16(&d4, 4, pseudo);
		pseudo += IPPROTO_TCP + HDR;
	}
	memset(dst, 0, sizeof(dst));
	memset(msg, 0, sizeof(msg));
	for (b = 0; b < BATCH; b++) {
		if (v6) {
			struct sockaddr_in6 *a = (struct sockaddr_in6 *)&dst[b];

			a->sin6_family = AF_INET6;
			a->sin6_addr = d6;
			msg[b].msg_hdr.msg_namelen = sizeof(*a);
		} else {
			struct sockaddr_in *a = (struct sockaddr_in *)&dst[b];

			a->sin_family = AF_INET;
			a->sin_addr = d4;
			msg[b].msg_hdr.msg_namelen = sizeof(*a);
		}
		iov[b].iov_base = pkt[b];
		iov[b].iov_len = HDR;
		msg[b].msg_hdr.msg_name = &dst[b];
		msg[b].msg_hdr.msg_iov = &iov[b];
		msg[b].msg_hdr.msg_iovlen = 1;
	}
	srandom(getpid());
	t0 = bench_now();
	for (i = 0; i < n; i += k) {
		k = n - i < BATCH ? n - i : BATCH;
		for (b = 0; b < k; b++) {
			uint8_t *p = pkt[b];
			unsigned long j = i + b;
			uint16_t sp = 1024 + j % SPORTS, dp = dport0 + j / SPORTS, c;
			uint32_t seq = (uint32_t)random();

			memset(p, 0, HDR);
			p[0] = sp >> 8; p[1] = sp;
			p[2] = dp >> 8; p[3] = dp;
			p[4] = seq >> 24; p[5] = seq >> 16; p[6] = seq >> 8; p[7] = seq;
			p[12] = (HDR / 4) << 4;
			p[13] = 0x02;			/* SYN */
			p[14] = 0xfa; p[15] = 0xf0;	/* window 64240 */
			p[20] = 2; p[21] = 4;		/* MSS 1460 */
			p[22] = 0x05; p[23] = 0xb4;
			if (!v6) {
				s = sum16(p, HDR, pseudo);
				c = fold(s);
				p[16] = c >> 8;
				p[17] = c;
			}
		}
		r = sendmmsg(fd, msg, k, 0);
		if (r < 0) {
			if (errno == ENOBUFS || errno == EAGAIN || errno == EINTR) {
				usleep(1000);
				k = 0;
				continue;
			}
			perror("syns: sendmmsg");
			return 1;
		}
		k = r;
		sent += r;
	}
	t = bench_now() - t0;
	printf("sent %lu secs %.2f rate %.0f\n", sent, t, sent / t);
	return 0;
}
