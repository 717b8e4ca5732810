// SPDX-License-Identifier: GPL-2.0
/*
 * Misbehaves on purpose so tests/vm/selftest can check that tests/vm/run
 * notices: mode=warn (WARN), refcount (refcount_t saturation), oops (NULL
 * dereference), hang (sleeps uninterruptibly past the hung-task timeout).
 * For the debug kernel's checkers, each mistake the one checker sees:
 * uaf (KASAN), leak (kmemleak, once the module is unloaded), lockdep (two
 * mutexes taken in both orders), rcu (rcu_dereference() outside a read
 * section), ubsan (a shift past the width), atomic_sleep (might_sleep()
 * with preemption off), rcu_head (the same rcu_head queued twice).
 */
#include <linux/delay.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/rcupdate.h>
#include <linux/refcount.h>
#include <linux/slab.h>
#include <linux/string.h>

static char *mode = "none";
module_param(mode, charp, 0444);

static void *volatile leaked;
static DEFINE_MUTEX(canary_a);
static DEFINE_MUTEX(canary_b);
static int __rcu *canary_rcu_ptr;
static struct rcu_head canary_head;
static bool canary_queued;

static void canary_rcu_cb(struct rcu_head *h)
{
}

static int __init canary_init(void)
{
	if (!strcmp(mode, "uaf")) {
		char *volatile p = kmalloc(64, GFP_KERNEL);

		if (!p)
			return -ENOMEM;
		kfree(p);
		pr_info("anypin-vm canary: read %d after kfree\n", p[8]);
	} else if (!strcmp(mode, "leak")) {
		/* Reachable while loaded; lost when the module's data goes. */
		leaked = kmalloc(128, GFP_KERNEL);
		if (leaked)
			memset(leaked, 0xa5, 128);
	} else if (!strcmp(mode, "lockdep")) {
		mutex_lock(&canary_a);
		mutex_lock(&canary_b);
		mutex_unlock(&canary_b);
		mutex_unlock(&canary_a);
		mutex_lock(&canary_b);
		mutex_lock(&canary_a);
		mutex_unlock(&canary_a);
		mutex_unlock(&canary_b);
	} else if (!strcmp(mode, "rcu")) {
		int *p = rcu_dereference(canary_rcu_ptr);

		pr_info("anypin-vm canary: read %p\n", p);
	} else if (!strcmp(mode, "ubsan")) {
		volatile int shift = 40;
		volatile int one = 1;

		pr_info("anypin-vm canary: shifted %d\n", one << shift);
	} else if (!strcmp(mode, "atomic_sleep")) {
		preempt_disable();
		might_sleep();
		preempt_enable();
	} else if (!strcmp(mode, "rcu_head")) {
		/* The second call is caught (and dropped) by debug objects. */
		call_rcu(&canary_head, canary_rcu_cb);
		call_rcu(&canary_head, canary_rcu_cb);
		canary_queued = true;
	} else if (!strcmp(mode, "warn")) {
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
	if (canary_queued)
		rcu_barrier();
}

module_init(canary_init);
module_exit(canary_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("tests/vm self-test: misbehaves on purpose");
