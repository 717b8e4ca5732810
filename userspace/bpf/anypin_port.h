/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/* What the core's inline second-chance rules (anypin/sc.h) need, in BPF. */
#ifndef ANYPIN_PORT_H
#define ANYPIN_PORT_H

#include <linux/types.h>
#include <stdbool.h>
#include <stddef.h>

typedef __u8 u8;
typedef __u16 u16;
typedef __u32 u32;
typedef __u64 u64;
typedef __s32 s32;

/* For the core's unused inlines; nothing here calls them. */
#define memcmp		__builtin_memcmp
#define memcpy		__builtin_memcpy

#endif
