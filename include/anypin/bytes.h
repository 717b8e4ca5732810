/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * 16- and 32-bit fields in network order, read and written byte by byte:
 * neither their alignment nor the host's byte order matter.
 */
#ifndef ANYPIN_BYTES_H
#define ANYPIN_BYTES_H

#include <anypin/types.h>

static inline u16 ap_get16(const u8 *p)
{
	return (u16)(p[0] << 8 | p[1]);
}

static inline u32 ap_get32(const u8 *p)
{
	return (u32)p[0] << 24 | (u32)p[1] << 16 | (u32)p[2] << 8 | p[3];
}

static inline void ap_put16(u8 *p, u16 v)
{
	p[0] = (u8)(v >> 8);
	p[1] = (u8)v;
}

static inline void ap_put32(u8 *p, u32 v)
{
	p[0] = (u8)(v >> 24);
	p[1] = (u8)(v >> 16);
	p[2] = (u8)(v >> 8);
	p[3] = (u8)v;
}

#endif
