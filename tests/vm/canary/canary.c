// SPDX-License-Identifier: GPL-2.0
/*
 * Misbehaves on purpose so tests/vm/selftest can check that tests/vm/run
 * notices: mode=warn (WARN), refcount (refcount_t saturation), oops (NULL
 * dereference), hang (sleeps uninterruptibly past the hung-task timeout).
 */
#include <linux/delay.h>
#include <linux/module.h>
#include <linux/refcount.h>
#include <linux/string.h>

static char *mode = "none";
module_param(mode, charp, 0444);

static int __init canary_init(void)
{
	if (!strcmp(mode, "warn")) {
		WARN(1, "anypin-vm canary: warning on purpose\n");
	} else if (!strcmp(mode, "refcount")) {
		refcount_t r = REFCOUNT_INIT(0);

		refcount_inc(&r);
	} else if (!strcmp(mode, "oops")) {
		int *volatile p = NULL;

		*p = 1;
	} else if (!strcmp(mode, "hang")) {
		msleep(75 * 1000);
	}
	return 0;
}

static void __exit canary_exit(void)
{
}

module_init(canary_init);
module_exit(canary_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("tests/vm self-test: misbehaves on purpose");
