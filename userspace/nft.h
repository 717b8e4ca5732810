/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * anypind's nftables table, inet anypin: the chains that queue the packets
 * that decide something, the maps by which the kernel rewrites the other
 * packets of pinned flows, and the sets the kernel notes client SYNs and
 * pinned flows' ends in.
 */
#ifndef ANYPIND_NFT_H
#define ANYPIND_NFT_H

#include <stddef.h>
#include <stdio.h>
#include <anypin/flow.h>

#define NFT_TABLE	"anypin"

int nft_open(char *err, size_t errlen);
/*
 * The table for @c, sending packets to queue @queue, in one batch with
 * what nft_pin() queued. @fresh: replace the table
 * (start, or it was deleted under us); else only the chains' rules change
 * and the elements stay.
 */
int nft_install(const struct ap_conf *c, u16 queue, bool fresh, char *err, size_t errlen);
/* The table as nft -f input, for --print-rules. */
void nft_text(const struct ap_conf *c, u16 queue, FILE *f);
/* Queues adding/deleting the two map elements of @pin. */
void nft_pin(bool add, const struct ap_pin *pin);
/* Sends what was queued, before the verdicts it matters for. */
void nft_commit(void);
/*
 * Calls @fn with each pinned element's packet counter: @out tells which of
 * the pin's tuples @t is.
 */
int nft_counters(void (*fn)(void *arg, u8 role, bool out, const struct ap_tuple *t,
				   u64 packets), void *arg);
/*
 * Calls @fn with the tuple of each pinned flow's packet with FIN or RST
 * that the kernel let by since the last call (either way), and forgets it.
 */
int nft_ends(void (*fn)(void *arg, const struct ap_tuple *t), void *arg);
/* The socket telling of changes to the ruleset. */
int nft_monitor_fd(void);
/* Reads it: true when someone else changed or deleted our table. */
bool nft_monitor_run(void);
void nft_remove(void);
void nft_close(void);
/* Operations the kernel refused. */
extern u64 nft_errors;

#endif
