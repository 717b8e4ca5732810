/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/* -v: a line per decision anypind takes on a queued packet. */
#ifndef ANYPIND_DEBUG_H
#define ANYPIND_DEBUG_H

#include <stddef.h>
#include <anypin/process.h>

/* Room for a packet's description. */
#define DEBUG_DESC	128

/* "tcp 203.0.113.10:40000 > 192.0.2.1:80 S": addresses, ports, flags. */
void debug_describe(const struct ap_pkt *p, char *buf, size_t size);

/*
 * When ap_process() changed the packet, dropped it or built a RST: a line
 * with the hook, the packet as it came (@before), and what became of it.
 */
void debug_decision(enum ap_hook hook, const char *before, const struct ap_pkt *p,
		    const struct ap_verdict *v, bool rst_sent);

#endif
