/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/* Helpers of the cmocka tests (include after cmocka.h). */
#ifndef ANYPIN_TEST_UT_H
#define ANYPIN_TEST_UT_H

#include <anypin/conf.h>

/* Sets one key of @c as a sysctl write would; a refusal fails the test. */
static inline void ut_set(struct ap_conf *c, const char *key, const char *val)
{
	const char *why = NULL;

	if (ap_conf_set(c, key, strlen(key), val, strlen(val), &why))
		fail_msg("%s = %s: %s", key, val, why);
}

#endif
