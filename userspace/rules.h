/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/* The iptables/ip6tables rules that send packets to the queue. */
#ifndef ANYPIND_RULES_H
#define ANYPIND_RULES_H

#include <stdio.h>
#include <anypin/conf.h>

struct rules_cmd {
	const char *ipt, *ip6t;		/* iptables, ip6tables commands */
	u16 queue;
};

/* The rules as iptables-restore input for @family (4 or 6). */
void rules_text(const struct rules_cmd *rc, const struct ap_conf *c, int family, FILE *f);
int rules_install(const struct rules_cmd *rc, const struct ap_conf *c, char *err, size_t errlen);
void rules_remove(const struct rules_cmd *rc);

#endif
