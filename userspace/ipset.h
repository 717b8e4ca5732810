/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/* The kernel sets naming the flows' endpoints, one hash:ip,port per role and family. */
#ifndef ANYPIND_IPSET_H
#define ANYPIND_IPSET_H

#include <stddef.h>
#include <anypin/types.h>

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
/* The socket on which the kernel answers them; ipset_drain() counts its errors. */
int ipset_fd(void);
void ipset_drain(void);
void ipset_teardown(void);
/* Operations the kernel refused, here or in the queue's socket. */
extern u64 ipset_errors;

#endif
