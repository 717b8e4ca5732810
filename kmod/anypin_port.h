/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/* What the shared core needs, from the kernel. */
#ifndef ANYPIN_PORT_H
#define ANYPIN_PORT_H

#include <linux/build_bug.h>
#include <linux/compiler.h>
#include <linux/types.h>
#include <linux/string.h>
#include <linux/stddef.h>
#include <asm/byteorder.h>
#include <linux/byteorder/generic.h>

#endif
