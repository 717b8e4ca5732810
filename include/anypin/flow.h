/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The decisions of DESIGN.md's "Roles", as functions of one flow entry and
 * one parsed packet. The flow table itself belongs to each datapath (an
 * rhashtable in the kernel); it finds the entry by struct ap_key and calls
 * these, which say what to do and update the entry. Times are seconds on
 * any monotonic clock.
 *
 * Client flow:   key {local addr, local port, remote port}, anycast = A,
 *                unicast = U once bound.
 * Responder flow: key {client addr, client port, service port},
 *                anycast = A, unicast = this instance's U.
 */
#ifndef ANYPIN_FLOW_H
#define ANYPIN_FLOW_H

#include <anypin/packet.h>
#include <anypin/conf.h>

enum ap_state {
	AP_SYN_SENT,		/* client: SYN to A seen, no SYN-ACK yet */
	AP_BOUND,		/* client: pinned to unicast */
	AP_RESPONDING,		/* responder: capable SYN seen, answering from U */
	AP_CLOSING,		/* FIN or RST seen; still rewritten */
	AP_FALLBACK,		/* client: capable SYNs unanswered, retrying plain */
	AP_STATE_MAX
};

extern const char *const ap_state_names[AP_STATE_MAX];

struct ap_key {
	struct ap_addr addr;	/* client: local address; responder: client's */
	__be16 port;		/* client: local port; responder: client's */
	__be16 svc_port;	/* the service port on A */
	u8 role;
};

struct ap_flow {
	struct ap_key key;
	struct ap_addr anycast;
	struct ap_addr unicast;
	u32 isn;		/* client: ISN of our SYN */
	u32 syn_data;		/* client: SYN payload bytes (TCP Fast Open) */
	u32 last;		/* time of the last packet; WRITE_ONCE() */
	u8 state;
	u8 prefix;		/* index in ap_conf.prefixes, for the counters */
	u8 tries;		/* client: capable SYNs sent for this ISN */
	u8 flags;		/* AP_FLOW_* */
};

/* A capable SYN of this attempt was answered from a unicast address. */
#define AP_FLOW_ANSWERED	0x01

/* Counters, per prefix. */
enum ap_stat {
	AP_STAT_SYN,		/* client SYNs to the prefix seen */
	AP_STAT_OPT_ADDED,	/* capability options added */
	AP_STAT_OPT_NOROOM,	/* SYNs whose options were full */
	AP_STAT_AUTH_SKIPPED,	/* SYNs with TCP-MD5/TCP-AO, left alone */
	AP_STAT_BOUND,		/* flows bound to a unicast address */
	AP_STAT_PLAIN,		/* SYN-ACKs from A itself (legacy server) */
	AP_STAT_REJ_ACK,	/* SYN-ACK rejected: ACK number */
	AP_STAT_REJ_PORTS,	/* ... ports do not match the flow */
	AP_STAT_REJ_ANYCAST,	/* ... source inside a configured prefix */
	AP_STAT_REJ_NOT_UNICAST,/* ... source not a unicast address */
	AP_STAT_REJ_RESPONDERS,	/* ... source outside the responders allowlist */
	AP_STAT_REJ_AUTH,	/* ... carries TCP-MD5/TCP-AO */
	AP_STAT_DUP_RESET,	/* later responders dropped and reset */
	AP_STAT_RESP_SYN,	/* responder: capable SYNs answered from U */
	AP_STAT_RESP_LEGACY,	/* responder: SYNs without the option */
	AP_STAT_RESP_NO_UNICAST,/* responder: no unicast of the family set */
	AP_STAT_REWRITTEN,	/* packets rewritten */
	AP_STAT_ICMP,		/* ICMP errors rewritten */
	AP_STAT_EVICTED,	/* entries evicted by max_flows */
	AP_STAT_EXPIRED,	/* entries expired */
	AP_STAT_FALLBACK,	/* capable attempts given up for a plain retry */
	AP_STAT_BLACKHOLED,	/* addresses found blackholing capable SYNs */
	AP_STAT_BH_PLAIN,	/* SYNs sent plain: their address is blackholed */
	AP_STAT_COLLISION,	/* flows left plain: their unicast 4-tuple was taken */
	AP_STAT_FLOWS,		/* current entries (a gauge) */
	AP_STAT_SC_STAMPED,	/* second chance: segments from A stamped */
	AP_STAT_SC_MSS,		/* ... SYN-ACKs from A whose MSS was lowered */
	AP_STAT_SC_FORWARDED,	/* ... segments sent to a peer */
	AP_STAT_SC_LIMITED,	/* ... forwards refused by forward_rate */
	AP_STAT_SC_TUNNEL,	/* ... segments received from a peer */
	AP_STAT_SC_UNSENT,	/* ... forwards the datapath could not send */
	AP_STAT_MAX
};

extern const char *const ap_stat_names[AP_STAT_MAX];

/* What a datapath does with the packet after a decision. */
enum ap_act {
	AP_PASS,		/* leave it alone */
	AP_REWRITE_SRC,		/* set its source to ap_res.to */
	AP_REWRITE_DST,		/* set its destination to ap_res.to */
	AP_DROP,		/* drop it */
};

#define AP_F_ADD_OPT	0x01	/* insert the capability option */
#define AP_F_SEND_RST	0x02	/* answer it with ap_build_rst() */
#define AP_F_FREE	0x04	/* remove the flow entry */
#define AP_F_CREATE	0x08	/* create the entry, then call again, fresh */
#define AP_F_BLACKHOLE	0x10	/* remember the flow's anycast address as blackholed */
#define AP_F_BH_CLEAR	0x20	/* forget it: a flow was bound through it */

struct ap_res {
	u8 act;			/* enum ap_act */
	u8 flags;		/* AP_F_* */
	u8 stat;		/* counter to bump, or AP_STAT_MAX */
	struct ap_addr to;
};

/* Builds the lookup key of a TCP packet for @role; @out: we sent it. */
void ap_key_of(const struct ap_pkt *p, enum ap_role role, bool out, struct ap_key *k);
/* The same for the packet embedded in an ICMP error we received. */
void ap_key_of_icmp(const struct ap_pkt *p, enum ap_role role, struct ap_key *k);

/*
 * Client, outgoing SYN (no ACK) to a prefix of the client role. @f is the
 * entry of its key and anycast address, or NULL when there is none: then
 * AP_F_CREATE asks for one. @fresh says the datapath just created it
 * (zeroed but for the key). Sets up or refreshes the entry. A new
 * connection to a @blackholed address goes plain and keeps no entry; a
 * retransmission goes plain once c->fallback_retries capable SYNs of the
 * attempt went unanswered.
 */
void ap_client_syn(struct ap_flow *f, bool fresh, const struct ap_pkt *p,
		   const struct ap_opts *o, const struct ap_conf *c, bool blackholed,
		   u8 prefix, u32 now, struct ap_res *r);

/*
 * Client, incoming SYN-ACK matching @f's key (in any state). Binds, makes
 * the flow plain (a SYN-ACK from A; after a fallback it asks to remember A
 * as blackholed), rejects (act AP_PASS with the reason in r->stat), or,
 * when @f is already bound elsewhere, drops it and asks for a RST.
 * @collide: another flow of the key is pinned to the SYN-ACK's source, so
 * binding would reuse its unicast 4-tuple: the SYN-ACK is dropped and the
 * attempt falls back instead.
 */
void ap_client_synack(struct ap_flow *f, const struct ap_pkt *p, const struct ap_opts *o,
		      const struct ap_conf *c, bool collide, u32 now, struct ap_res *r);

/* Client, any other outgoing packet of @f (to its anycast address). */
void ap_client_out(struct ap_flow *f, const struct ap_pkt *p, u32 now, struct ap_res *r);

/* Client, any other incoming packet of @f's key. */
void ap_client_in(struct ap_flow *f, const struct ap_pkt *p, u32 now, struct ap_res *r);

/*
 * Responder, incoming SYN to a prefix of the responder role, @pc its
 * configuration; @f and @fresh as for ap_client_syn(). With the option
 * and a unicast address of the family it sets up @f; otherwise it asks to
 * free any @f.
 */
void ap_resp_syn(struct ap_flow *f, bool fresh, const struct ap_pkt *p,
		 const struct ap_opts *o, const struct ap_pconf *pc, u8 prefix,
		 u32 now, struct ap_res *r);

/* Responder, outgoing packet of @f from A: source becomes U. */
void ap_resp_out(struct ap_flow *f, const struct ap_pkt *p, u32 now, struct ap_res *r);

/* Responder, incoming packet of @f's key to U: destination becomes A. */
void ap_resp_in(struct ap_flow *f, const struct ap_pkt *p, u32 now, struct ap_res *r);

/*
 * ICMP error received about a packet of @f: which embedded address to
 * set back to A (act AP_REWRITE_SRC/_DST refers to the embedded header).
 */
void ap_icmp_in(const struct ap_flow *f, const struct ap_pkt *p, struct ap_res *r);

/* A packet's addresses and ports, as a stateless rewriter keys on them. */
struct ap_tuple {
	struct ap_addr saddr, daddr;
	__be16 sport, dport;
};

/*
 * The rewrites every later packet of an established flow gets, for a
 * datapath that leaves them to the kernel (anypind's nftables maps): the
 * packet leaving with @out's addresses and ports gets @out_to as its
 * destination (client) or source (responder); the packet arriving with
 * @in's gets @in_to as its source (client) or destination (responder).
 */
struct ap_pin {
	struct ap_tuple out, in;
	struct ap_addr out_to, in_to;
	u8 role;
};

/* False when @f's packets are not rewritten (not bound yet, plain). */
bool ap_flow_pin(const struct ap_flow *f, struct ap_pin *pin);

/*
 * A FIN or RST of established flow @f passed at @now, seen by a datapath
 * that leaves those packets to the kernel (anypind): what ap_process()
 * does to @f for one it sees.
 */
void ap_flow_end_seen(struct ap_flow *f, u32 now);

/* Whether a client entry talks to its unicast address (bound or closing). */
bool ap_flow_pinned(const struct ap_flow *f);
/* Whether a client entry waits for its SYN-ACK (capable or fallen back). */
bool ap_flow_opening(const struct ap_flow *f);
/*
 * The match rules of the decisions below, which lookups use too
 * (ap_flow_match()): whether @p comes from the unicast address client
 * entry @f is pinned to; from the anycast address it is still opening a
 * connection to; whether ICMP error @p is about a packet @f rewrote (sent
 * to its unicast address, client; from it, responder).
 */
bool ap_flow_from_pin(const struct ap_flow *f, const struct ap_pkt *p);
bool ap_flow_from_opening(const struct ap_flow *f, const struct ap_pkt *p);
bool ap_flow_icmp_about(const struct ap_flow *f, const struct ap_pkt *p);
/* Whether @p's ACK acknowledges the SYN of client entry @f (Fast Open too). */
bool ap_flow_acks_syn(const struct ap_flow *f, const struct ap_pkt *p);

/*
 * Whether @f has outlived its state's timeout at @now (a @now before its
 * last packet, read before another CPU touched it, is idle time 0).
 */
bool ap_flow_expired(const struct ap_flow *f, const struct ap_conf *c, u32 now);

/*
 * Eviction class when the table is full: lower goes first (SYN_SENT and
 * FALLBACK, then closing, then responder, then bound). Within a class, the
 * oldest.
 */
int ap_flow_evict_rank(const struct ap_flow *f);

/*
 * One line describing @f, as /proc/net/anypin/flows and anypinctl print it,
 * under AP_FLOW_HEADER: role, prefix name (by today's configuration, "-"
 * if none), state, key address and port, anycast address, service port,
 * unicast address ("-" if none), seconds since the last packet;
 * space-separated, '\n'-ended.
 */
u32 ap_flow_format(const struct ap_flow *f, const struct ap_conf *c, u32 now,
		   char *buf, u32 size);
/*
 * The counters table of /proc/net/anypin/stats and anypinctl: a header
 * line ("prefix" and every name of ap_stat_names), then one row per
 * prefix: its name and its AP_STAT_MAX values. Space-separated lines.
 */
u32 ap_stats_header(char *buf, u32 size);
u32 ap_stats_row(const char *name, const u64 *v, char *buf, u32 size);

#define AP_FLOW_HEADER "role prefix state addr port anycast svc_port unicast idle\n"

#endif
