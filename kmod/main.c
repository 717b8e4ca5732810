// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * anypin: keeps TCP connections to anycast addresses on one instance.
 * Module and network namespace life cycle.
 */
#include <linux/module.h>
#include <linux/timekeeping.h>
#include <net/netns/generic.h>
#include "anypin.h"

static unsigned int anypin_net_id __read_mostly;

struct anypin_net *anypin_pernet(const struct net *net)
{
	return net_generic(net, anypin_net_id);
}

/* Seconds on the monotonic clock: what the core's timeouts count in. */
u32 anypin_now(void)
{
	return (u32)ktime_get_seconds();
}

static int __net_init anypin_net_init(struct net *net)
{
	struct anypin_net *an = anypin_pernet(net);
	int err;

	an->net = net;
	mutex_init(&an->conf_lock);
	mutex_init(&an->dir_lock);
	err = anypin_conf_init(an);
	if (err)
		return err;
	err = anypin_flows_init(an);
	if (err)
		goto err_conf;
	err = anypin_proc_init(an);
	if (err)
		goto err_flows;
	err = anypin_sysctl_init(an);
	if (err)
		goto err_proc;
	return 0;

err_proc:
	anypin_proc_exit(an);
err_flows:
	anypin_flows_exit(an);
err_conf:
	anypin_conf_exit(an);
	return err;
}

/*
 * Unregistering the hooks does not wait for those running on other CPUs:
 * the namespace core waits for them (synchronize_rcu()) between pre_exit
 * and exit, so what they read is freed only in exit.
 */
static void __net_exit anypin_net_pre_exit(struct net *net)
{
	struct anypin_net *an = anypin_pernet(net);

	/* No handler runs after this, so the hooks can no longer appear. */
	anypin_sysctl_exit(an);
	anypin_hooks_unregister(an);
}

static void __net_exit anypin_net_exit(struct net *net)
{
	struct anypin_net *an = anypin_pernet(net);

	WARN_ON_ONCE(an->hooks);
	anypin_proc_exit(an);
	anypin_flows_exit(an);
	anypin_stats_free(an);
	anypin_sc_free(an);
	anypin_conf_exit(an);
}

static struct pernet_operations anypin_net_ops = {
	.init = anypin_net_init,
	.pre_exit = anypin_net_pre_exit,
	.exit = anypin_net_exit,
	.id = &anypin_net_id,
	.size = sizeof(struct anypin_net),
};

static int __init anypin_init(void)
{
	int err;

	err = anypin_flows_cache_init();
	if (err)
		return err;
	err = register_pernet_subsys(&anypin_net_ops);
	if (err) {
		anypin_flows_cache_exit();
		return err;
	}
	return 0;
}

static void __exit anypin_exit(void)
{
	unregister_pernet_subsys(&anypin_net_ops);
	/* Entries unlinked by the datapath are freed by RCU callbacks. */
	rcu_barrier();
	anypin_flows_cache_exit();
}

module_init(anypin_init);
module_exit(anypin_exit);
MODULE_LICENSE("Dual MIT/GPL");
MODULE_DESCRIPTION("Pin TCP connections to anycast addresses to one instance");
MODULE_AUTHOR("anypin developers");
