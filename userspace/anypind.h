/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * anypind: the anypin datapath in userspace over NFQUEUE. Each file does
 * one job; this header is what they share.
 *
 *   main.c   options, signals, the main loop, reloads
 *   conf.c   the configuration file, through the core's ap_conf_parse()
 *   queue.c  the NFQUEUE socket: packets in, ap_process(), verdicts out
 *   table.c  the flow table behind struct ap_table_ops, the counters and
 *            the blackhole memory
 *   ipset.c  the kernel sets naming the flows' endpoints, for the rules
 *   rules.c  the iptables/ip6tables rules that send packets to the queue
 *   ctl.c    the control socket: flows, stats, blackholes, status, get, set
 *   raw.c    raw sockets for the RSTs to losing responders
 */
#ifndef ANYPIND_H
#define ANYPIND_H

#include <stdarg.h>
#include <stdio.h>
#include <anypin/process.h>

/* The Makefile passes the top VERSION file's content. */
#ifndef ANYPIN_VERSION
#define ANYPIN_VERSION		"unknown"
#endif
#define ANYPIND_VERSION		ANYPIN_VERSION
#define ANYPIND_CONF		"/etc/anypin/anypind.conf"
#define ANYPIND_SOCK		"/run/anypind.sock"
/* The default ExID as a number: unlikely to meet another program's queue. */
#define ANYPIND_QUEUE		AP_EXID_DEFAULT

/* main.c */
extern int verbose;
void logmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void debugmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
u32 now_sec(void);

/* conf.c: 0, or -1 with "FILE:LINE: reason" in @err. */
int conf_load(const char *path, struct ap_conf *c, char *err, size_t errlen);

/* raw.c */
int raw_open(void);
int raw_send(const u8 *pkt, u32 len, u8 family);
void raw_close(void);

/* ipset.c: one hash:ip,port set per role and family. */
#define SET_CLIENT4	"anypin-client4"
#define SET_CLIENT6	"anypin-client6"
#define SET_RESP4	"anypin-resp4"
#define SET_RESP6	"anypin-resp6"
int ipset_open(char *err, size_t errlen);
/* Creates our sets, or empties those a previous run left. */
int ipset_setup(char *err, size_t errlen);
/* Queues adding/deleting the endpoint {addr, port} of a @role flow. */
void ipset_op(bool add, u8 role, const struct ap_addr *a, __be16 port);
/* Sends the queued operations (before the verdicts they matter for). */
void ipset_flush(void);
/* Or hands them over, to go out with the verdicts in one message. */
size_t ipset_take(const void **buf);
/* Reads the kernel's answers to them; returns the failures since last. */
int ipset_fd(void);
void ipset_drain(void);
void ipset_teardown(void);
extern u64 ipset_errors;

/* table.c */
struct table;
struct table_stats {
	u64 v[AP_MAX_PREFIXES + 1][AP_STAT_MAX];	/* last: prefixes gone */
};
struct table *table_new(const struct ap_conf *c);
void table_set_conf(struct table *t, const struct ap_conf *c, const u8 *remap);
void table_set_now(struct table *t, u32 now);
void table_sweep(struct table *t);
u32 table_count(const struct table *t);
const struct table_stats *table_stats(const struct table *t);
void table_walk(struct table *t, void (*fn)(const struct ap_flow *f, void *arg), void *arg);
struct ap_bh_table *table_blackholes(struct table *t);
void table_free(struct table *t);
extern const struct ap_table_ops table_ops;

/* queue.c */
struct queue_stats {
	u64 packets, changed, dropped, unparsed, truncated, rst_sent, rst_errors;
	u64 verdict_errors, batches;
};
extern struct queue_stats qstats;
int queue_open(u16 num, char *err, size_t errlen);
int queue_fd(void);
/* Handles what is waiting on the socket; @c and @t decide. */
void queue_run(const struct ap_conf *c, struct table *t);
void queue_close(void);

/* rules.c */
struct rules_cmd {
	const char *ipt, *ip6t;		/* iptables, ip6tables commands */
	u16 queue;
};
/* The rules as iptables-restore input for @family (4 or 6). */
void rules_text(const struct rules_cmd *rc, const struct ap_conf *c, int family, FILE *f);
int rules_install(const struct rules_cmd *rc, const struct ap_conf *c, char *err, size_t errlen);
void rules_remove(const struct rules_cmd *rc);

/* ctl.c */
struct pollfd;
struct ctl_info {
	const char *conf_path;
	u16 queue;
	bool rules;
	u32 started;
	u64 reloads, reload_errors;
	u64 sets, set_errors;
	const struct ap_conf *conf;
	struct table *table;
	/*
	 * "set KEY VALUE": main.c applies the key to a copy of the running
	 * configuration and takes it as a reload would; 0, or -1 with @err.
	 */
	int (*set)(struct ctl_info *ci, const char *key, const char *val,
		   char *err, size_t errlen);
};
int ctl_open(const char *path, char *err, size_t errlen);
/* Adds the fds to poll (up to @max), returns how many. */
int ctl_pollfds(struct pollfd *pfd, int max);
void ctl_run(struct pollfd *pfd, int n, struct ctl_info *ci);
void ctl_close(void);

#endif
