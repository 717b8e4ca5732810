// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * anypind's flow table alone, for `make bench`: memory per flow and the
 * cost of a lookup (find + release) and of an insertion, at N flows.
 *
 *   table N...      prints "flows N bytes_per_flow B insert_ns I lookup_ns L"
 *
 * Responder entries are used, looked up with AP_FIND_RESP, whose match
 * does not read the packet: what is measured is the table.
 */
#define _GNU_SOURCE
#include <malloc.h>
#include <stdlib.h>
#include <time.h>
#include "table.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void key(u32 i, struct ap_key *k)
{
	memset(k, 0, sizeof(*k));
	k->addr.family = AP_AF_INET;
	k->addr.v4 = htonl(0x0a000000 | (i >> 6));	/* 10.x.y.z */
	k->port = htons(1024 + (i & 63));
	k->svc_port = htons(443);
	k->role = AP_ROLE_RESPONDER;
}

int main(int argc, char **argv)
{
	static struct ap_conf c;
	struct ap_pkt p;
	struct ap_key k;
	struct ap_flow *f;
	struct table *t;
	size_t before;
	double t0, ins, look;
	u32 n, i, j, lookups, miss;
	int a;

	memset(&p, 0, sizeof(p));
	for (a = 1; a < argc; a++) {
		n = (u32)strtoul(argv[a], NULL, 10);
		ap_conf_init(&c);
		c.max_flows = n;
		before = mallinfo2().uordblks;
		t = table_new(&c, NULL);
		table_set_now(t, 1);
		t0 = now();
		for (i = 0; i < n; i++) {
			key(i, &k);
			f = table_ops.create(t, &k);
			if (!f)
				return 1;
			f->state = AP_RESPONDING;
			f->last = 1;
			table_ops.release(t, f, AP_SYN_SENT);
		}
		ins = (now() - t0) / n;
		lookups = n < 1000000 ? 1000000 : n;
		miss = 0;
		t0 = now();
		for (i = 0, j = 12345; i < lookups; i++) {
			j = j * 1103515245 + 12345;
			key((j >> 8) % n, &k);
			f = table_ops.find(t, &k, &p, AP_FIND_RESP);
			if (!f) {
				miss++;
				continue;
			}
			table_ops.release(t, f, f->state);
		}
		look = (now() - t0) / lookups;
		printf("flows %u bytes_per_flow %.0f insert_ns %.0f lookup_ns %.0f misses %u\n",
		       n, (double)(mallinfo2().uordblks - before) / n, ins * 1e9, look * 1e9,
		       miss);
		table_free(t);
	}
	return 0;
}
