/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/* Raw sockets for the RSTs to losing responders. */
#ifndef ANYPIND_RAW_H
#define ANYPIND_RAW_H

#include <anypin/types.h>

/* 0 when at least one family's socket opened. */
int raw_open(void);
/* Sends the whole IP packet @pkt; 0 or -1. */
int raw_send(const u8 *pkt, u32 len, u8 family);
void raw_close(void);

#endif
