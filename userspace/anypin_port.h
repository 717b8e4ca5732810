/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/* What the shared core needs, from libc. */
#ifndef ANYPIN_PORT_H
#define ANYPIN_PORT_H

#include <arpa/inet.h>
#include <assert.h>
#include <linux/types.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef int32_t s32;

/* anypind reads its table from one thread: a plain store will do. */
#define WRITE_ONCE(x, v)	((x) = (v))

#endif
