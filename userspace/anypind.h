/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * anypind: the anypin datapath in userspace over NFQUEUE. Each file does
 * one job and has its header; this one holds the program's defaults.
 *
 *   main.c   options, signals, the main loop, reloads; wires the others
 *   util.c   the log and the clock
 *   conf.c   the configuration file, through the core's ap_conf_parse()
 *   queue.c  the NFQUEUE socket: packets in, ap_process(), verdicts out
 *   debug.c  the -v lines, one per decision on a packet
 *   table.c  the flow table behind struct ap_table_ops, the counters and
 *            the blackhole memory
 *   ipset.c  the kernel sets naming the flows' endpoints, for the rules
 *   rules.c  the iptables/ip6tables rules that send packets to the queue
 *   ctl.c    the control socket: flows, stats, blackholes, status, get, set
 *   raw.c    raw sockets for the RSTs to losing responders
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
