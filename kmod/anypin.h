/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The module's own state: one struct anypin_net per network namespace,
 * holding the configuration (RCU-published), the flow table, the counters,
 * the sysctl tables and the proc files. The protocol itself is the shared
 * core's (include/anypin/); these files are the glue around it.
 */
#ifndef ANYPIN_KMOD_H
#define ANYPIN_KMOD_H

#include <linux/mutex.h>
#include <linux/rhashtable.h>
#include <linux/skbuff.h>
#include <linux/spinlock.h>
#include <linux/u64_stats_sync.h>
#include <linux/workqueue.h>
#include <net/net_namespace.h>
#include <anypin/stats.h>
#include <anypin/table.h>

/*
 * The configuration and its counter slots (struct ap_slots: a prefix's
 * counters and entries follow its name, those of names gone count as
 * removed).
 */
struct anypin_conf {
	struct ap_slots slots;
	struct rcu_head rcu;
	bool sc;		/* a prefix has an instance id: the second chance is on */
	struct ap_conf c;
};

struct anypin_flow {
	struct rhlist_head node;
	union {
		struct list_head lru;	/* in its eviction class, oldest first */
		struct rcu_head rcu;	/* once unlinked */
	};
	spinlock_t lock;		/* held from find()/create() to release() */
	u8 rank;			/* the class list it is on */
	u8 slot;			/* counter slot of its prefix, */
	u8 gen;				/* and its generation (ap_slots_prefix()) */
	bool dead;			/* unlinked, waiting for RCU */
	struct ap_flow f;
};

struct anypin_table {
	struct rhltable ht;
	spinlock_t lock;		/* the class lists and count */
	struct list_head lists[AP_NRANKS];
	unsigned int count;
};

/*
 * One CPU's counters. Process context (LOCAL_OUT, the expiry work) and
 * softirq both count; syncp lets a reader on a 32-bit kernel, where a u64
 * is two words, see each value whole.
 */
struct anypin_stats {
	u64_stats_t v[AP_NSLOTS + 1][AP_STAT_MAX];
	struct u64_stats_sync syncp;
};

struct anypin_pdir;
struct anypin_stats_base;
struct anypin_budget;

struct anypin_net {
	struct net *net;
	struct anypin_conf __rcu *conf;
	struct mutex conf_lock;		/* writers of conf */
	struct mutex dir_lock;		/* prefix directories, hooks */
	struct anypin_stats __percpu *stats;
	struct anypin_stats_base *base;	/* with stats; conf_lock */
	/* The second chance's forward budget, with the first instance id; conf_lock. */
	struct anypin_budget __percpu *budget;
	/*
	 * The slots given back: a reader of an older configuration may count
	 * into one for its name gone until the grace period @slot_gp[] (from
	 * start_poll_synchronize_rcu()) ends. Under conf_lock.
	 */
	unsigned long slot_gp[AP_NSLOTS];
	bool slot_cooling[AP_NSLOTS];
	bool hooks;
	struct anypin_table table;
	/*
	 * The blackhole memory. Its lock may be taken with an entry's held
	 * (the core does, deciding a packet), never the other way round, and
	 * never with the table lock.
	 */
	spinlock_t bh_lock;
	struct ap_bh_table *bh;
	struct delayed_work gc;
	struct ctl_table *sysctl_table;
	struct ctl_table_header *sysctl;
	struct anypin_pdir *pdirs[AP_MAX_PREFIXES];
	struct proc_dir_entry *proc;
};

/* What one packet is processed with; the @t of struct ap_table_ops. */
struct anypin_ctx {
	struct anypin_net *an;
	const struct anypin_conf *kc;
	struct sk_buff *skb;
	u32 now;
};

struct anypin_net *anypin_pernet(const struct net *net);
u32 anypin_now(void);

/* conf.c */
int anypin_conf_init(struct anypin_net *an);
void anypin_conf_exit(struct anypin_net *an);
typedef int (*anypin_prepare_t)(struct anypin_net *an, const struct ap_conf *c);
int anypin_conf_set(struct anypin_net *an, const char *key, u32 klen,
		    const char *val, u32 vlen, anypin_prepare_t prepare);
int anypin_conf_get(struct anypin_net *an, const char *key, u32 klen,
		    char *buf, u32 size);

/* stats.c */
int anypin_stats_alloc(struct anypin_net *an);
void anypin_stats_free(struct anypin_net *an);
void anypin_stats_retire(struct anypin_net *an, u8 slot);
void anypin_stats_fill(struct anypin_net *an, const struct ap_slots *m, struct ap_stats *st);
void anypin_stats_inc(struct anypin_net *an, u8 slot, u8 stat);

/* flows.c */
extern const struct ap_table_ops anypin_table_ops;
int anypin_flows_cache_init(void);
void anypin_flows_cache_exit(void);
int anypin_flows_init(struct anypin_net *an);
void anypin_flows_exit(struct anypin_net *an);
void anypin_flows_gc_start(struct anypin_net *an);
bool anypin_flows_has_key(struct anypin_net *an, const struct ap_key *k);
unsigned int anypin_flows_count(struct anypin_net *an);
/*
 * Calls @fn on each live entry, locked, under RCU; may sleep in between.
 * @fn keeps the lock; when it returns true the entry is removed.
 */
void anypin_flows_walk(struct anypin_net *an,
		       bool (*fn)(struct anypin_flow *e, void *arg), void *arg);
/* The records live at @now, copied to @out (AP_BH_MAX of them); how many. */
u32 anypin_bh_snapshot(struct anypin_net *an, struct ap_bh *out, u32 now);
void anypin_bh_flush(struct anypin_net *an);

/* hooks.c */
int anypin_parse(struct sk_buff *skb, unsigned int ohl, struct ap_pkt *p);
int anypin_hooks_register(struct anypin_net *an);
void anypin_hooks_unregister(struct anypin_net *an);

/* second.c: the ops of the second chance (include/anypin/second.h) */
bool anypin_sc_local(void *t, const struct ap_pkt *p);
bool anypin_sc_budget(void *t);
int anypin_sc_alloc(struct anypin_net *an);
void anypin_sc_free(struct anypin_net *an);
const struct ap_pconf *anypin_sc_prefix(const struct anypin_conf *kc, const struct ap_pkt *p,
					enum ap_hook hook);

/* tunnel.c: its encapsulation */
unsigned int anypin_forward(const struct anypin_ctx *x, struct sk_buff *skb,
			    const struct ap_pkt *p, const struct ap_verdict *v);
enum anypin_decap {
	ANYPIN_DECAP_NONE,	/* not from a peer: untouched */
	ANYPIN_DECAP_DONE,	/* the skb holds the inner packet now */
	ANYPIN_DECAP_DROP,
};

enum anypin_decap anypin_decap(const struct anypin_ctx *x, struct sk_buff *skb, u8 pf);

/* reset.c */
void anypin_send_rst(struct net *net, const u8 *pkt, u32 len, u8 family);

/* sysctl.c */
int anypin_sysctl_init(struct anypin_net *an);
void anypin_sysctl_exit(struct anypin_net *an);

/* proc.c */
int anypin_proc_init(struct anypin_net *an);
void anypin_proc_exit(struct anypin_net *an);

#endif
