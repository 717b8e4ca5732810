/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The second chance (docs/second-chance.md) as tc BPF programs
 * (bpf/second.bpf.c): loaded, filled from the configuration, attached to
 * the namespace's Ethernet devices but a bridge's, bond's or team's lower
 * ones.
 */
#ifndef ANYPIND_SECOND_H
#define ANYPIND_SECOND_H

#include <stddef.h>
#include <anypin/conf.h>
#include "table.h"

/*
 * Makes @c the programs' configuration: loads and attaches them when a
 * prefix has an instance, detaches them when none has. 0, or -1 with
 * @err set and the programs as they were.
 */
int second_set(const struct ap_conf *c, char *err, size_t errlen);
/* The socket of link notifications while the programs are loaded, else -1: for poll(). */
int second_monitor_fd(void);
/* That of route, rule and address notifications, likewise. */
int second_route_fd(void);
/*
 * Attaches to the devices that came (or left their master), detaches from
 * those that joined a master, as the notifications say; after some were
 * lost, a dump of every device says it. After any of either socket's, asks
 * the routes from the prefixes' unicast addresses to their peers again.
 */
void second_monitor_run(void);
/* Once a second: a dump or a recheck of the routes that is still due. */
void second_tick(void);
/* What the programs counted since the last call, into @t's rows. */
void second_count(struct table *t);
/*
 * Deletes its filters from every Ethernet device (not the clsact qdisc)
 * and unloads; nothing when nothing is loaded.
 */
void second_close(void);
/* The loaded program of a direction, -1 when none: for tests (BPF_PROG_TEST_RUN). */
int second_prog_fd(bool ingress);

#endif
