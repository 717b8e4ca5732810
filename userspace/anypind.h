/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * anypind: the anypin datapath in userspace. The packets that decide come
 * over NFQUEUE; the kernel rewrites the rest of a pinned flow from the
 * nftables maps anypind keeps. Each file does one job and has its header;
 * this one holds the program's defaults.
 *
 *   main.c   options, signals, the main loop, reloads; wires the others
 *            (pins to nft.c, refused batches and nftables events to a
 *            restore of the table)
 *   util.c   the log and the clock
 *   conf.c   the configuration file, through the core's ap_conf_parse()
 *   queue.c  the NFQUEUE socket: packets in, ap_process(), the table's
 *            changes committed, verdicts out
 *   debug.c  the -v lines, one per decision on a packet
 *   table.c  the flow table behind struct ap_table_ops, the counters and
 *            the blackhole memory; says when a flow's rewrites start and stop
 *   nft.c    the nftables table inet anypin: the rules that queue and
 *            rewrite, the maps' elements, their counters, the ends set
 *   ctl.c    the control socket: flows, stats, blackholes, status, get, set
 *   raw.c    raw sockets for the RSTs to losing responders
 *   second.c the second chance's tc BPF programs (bpf/second.bpf.c):
 *            loaded, filled from the configuration, attached, counted
 */
#ifndef ANYPIND_H
#define ANYPIND_H

/* The Makefile passes the top VERSION file's content. */
#ifndef ANYPIN_VERSION
#define ANYPIN_VERSION		"unknown"
#endif
#define ANYPIND_VERSION		ANYPIN_VERSION
#define ANYPIND_CONF		"/etc/anypin/anypind.conf"
#define ANYPIND_SOCK		"/run/anypind.sock"
/* The default ExID as a number: unlikely to meet another program's queue. */
#define ANYPIND_QUEUE		AP_EXID_DEFAULT

#endif
