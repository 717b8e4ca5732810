// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * anypind -v: one line per decision on a queued packet, for following a
 * connection through the datapath by hand. Packets that pass unchanged
 * make none; the counters say how many there are.
 */
#include <stdio.h>
#include "debug.h"
#include "util.h"

static void endpoint(const struct ap_addr *a, __be16 port, bool tcp, char *buf, size_t size)
{
	char s[AP_ADDR_STRLEN];

	ap_addr_format(a, s, sizeof(s));
	if (!tcp)
		snprintf(buf, size, "%s", s);
	else if (a->family == AP_AF_INET6)
		snprintf(buf, size, "[%s]:%u", s, ntohs(port));
	else
		snprintf(buf, size, "%s:%u", s, ntohs(port));
}

void debug_describe(const struct ap_pkt *p, char *buf, size_t size)
{
	static const char names[] = "FSRPAU";
	bool tcp = !ap_pkt_is_icmp(p);
	char src[AP_ADDR_STRLEN + 8], dst[AP_ADDR_STRLEN + 8], flags[8];
	struct ap_addr a;
	int i, n = 0;

	ap_pkt_saddr(p, &a);
	endpoint(&a, p->sport, tcp, src, sizeof(src));
	ap_pkt_daddr(p, &a);
	endpoint(&a, p->dport, tcp, dst, sizeof(dst));
	for (i = 0; names[i]; i++)
		if (p->tcp_flags & 1 << i)
			flags[n++] = names[i];
	flags[n] = 0;
	if (tcp)
		snprintf(buf, size, "tcp %s > %s %s", src, dst, flags);
	else
		snprintf(buf, size, "icmp %s > %s type %u", src, dst, p->icmp_type);
}

/* Appends ", @what" (or @what first) to @buf. */
static void add(char *buf, size_t size, const char *what)
{
	size_t n = strlen(buf);

	snprintf(buf + n, size - n, "%s%s", n ? ", " : "", what);
}

void debug_decision(enum ap_hook hook, const char *before, const struct ap_pkt *p,
		    const struct ap_verdict *v, bool rst_sent)
{
	static const char *const hooks[] = { "in", "out", "post" };
	char after[DEBUG_DESC + 4], what[2 * DEBUG_DESC] = "";

	if (!verbose || !(v->changed || v->drop || v->rst_len))
		return;
	if (v->drop) {
		add(what, sizeof(what), "dropped");
	} else if (v->changed) {
		strcpy(after, "now ");
		debug_describe(p, after + 4, sizeof(after) - 4);
		add(what, sizeof(what), after);
	}
	if (v->grew)
		add(what, sizeof(what), "option added");
	if (v->reroute)
		add(what, sizeof(what), "routed again");
	if (v->rst_len)
		add(what, sizeof(what), rst_sent ? "RST sent" : "RST not sent");
	debugmsg("%s %s: %s", hooks[hook], before, what);
}
