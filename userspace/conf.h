/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/* The configuration file. */
#ifndef ANYPIND_CONF_H
#define ANYPIND_CONF_H

#include <stddef.h>
#include <anypin/conf.h>

/* @path into @c through ap_conf_parse(): 0, or -1 with "FILE:LINE: reason". */
int conf_load(const char *path, struct ap_conf *c, char *err, size_t errlen);

#endif
