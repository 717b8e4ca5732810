// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * net.anypin.* of each namespace: the global keys in net/anypin, and for
 * each configured prefix a copy of the per-prefix table in
 * net/anypin/prefix/<name>, made and removed by writes of "prefixes" (as
 * net.ipv4.conf.<dev> follows the devices). Handlers only move text: the
 * core parses and formats every value. Beside the keys, flush_blackholes
 * is an action of the module's own (anypind's is a control request).
 *
 * A handler that unregisters a table waits for the handlers running in it;
 * so tables are only unregistered without conf_lock held (per-prefix
 * handlers take it), and never from their own handler.
 */
#include <linux/slab.h>
#include <linux/sysctl.h>
#include <linux/version.h>
#include <net/net_namespace.h>
#include "anypin.h"

#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 11, 0)
#define AP_CTL_TABLE const struct ctl_table
#else
#define AP_CTL_TABLE struct ctl_table
#endif

#define AP_KEY_MAX	64	/* "net.anypin.prefix." NAME "." KEY */

struct anypin_pdir {
	char name[AP_NAME_MAX + 1];
	struct ctl_table_header *hdr;
	struct ctl_table *table;
};

static unsigned int anypin_nkeys(const char *const *keys)
{
	unsigned int n = 0;

	while (keys[n])
		n++;
	return n;
}

/*
 * A table of @keys, every entry on @handler, then @more zeroed entries for
 * the caller and the zeroed one at the end.
 */
static struct ctl_table *anypin_table(const char *const *keys, unsigned int more,
				      proc_handler *handler, struct anypin_net *an,
				      void *extra)
{
	unsigned int i, n = anypin_nkeys(keys);
	struct ctl_table *t;

	t = kcalloc(n + more + 1, sizeof(*t), GFP_KERNEL);
	if (!t)
		return NULL;
	for (i = 0; i < n; i++) {
		t[i].procname = keys[i];
		t[i].mode = 0644;
		t[i].proc_handler = handler;
		t[i].data = an;
		t[i].extra1 = extra;
	}
	return t;
}

static struct ctl_table_header *anypin_register(struct net *net, const char *path,
						struct ctl_table *t, unsigned int n)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 6, 0)
	return register_net_sysctl_sz(net, path, t, n);
#else
	return register_net_sysctl(net, path, t);
#endif
}

static int anypin_rw(struct anypin_net *an, const char *key, int write, void *buffer,
		     size_t *lenp, loff_t *ppos, anypin_prepare_t prepare)
{
	size_t n = *lenp;
	char *buf;
	int len, err;

	if (write) {
		/* One write() per value, bounded: no partial updates. */
		if (*ppos || n > AP_VALUE_MAX)
			return -EINVAL;
		err = anypin_conf_set(an, key, strlen(key), buffer, n, prepare);
		if (!err)
			*ppos += n;
		return err;
	}
	buf = kmalloc(AP_VALUE_MAX + 1, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	len = anypin_conf_get(an, key, strlen(key), buf, AP_VALUE_MAX);
	if (len < 0) {
		kfree(buf);
		return -ENOENT;
	}
	buf[len++] = '\n';
	if (*ppos >= len) {
		*lenp = 0;
	} else {
		*lenp = min_t(size_t, n, len - *ppos);
		memcpy(buffer, buf + *ppos, *lenp);
		*ppos += *lenp;
	}
	kfree(buf);
	return 0;
}

static int anypin_prefix_handler(AP_CTL_TABLE *t, int write, void *buffer,
				 size_t *lenp, loff_t *ppos)
{
	const struct anypin_pdir *d = t->extra1;
	char key[AP_KEY_MAX];

	snprintf(key, sizeof(key), "net.anypin.prefix.%s.%s", d->name, t->procname);
	return anypin_rw(t->data, key, write, buffer, lenp, ppos, NULL);
}

/* pdirs[] is dir_lock's. */
static int anypin_dir_find(struct anypin_net *an, const char *name)
{
	int i;

	lockdep_assert_held(&an->dir_lock);
	for (i = 0; i < AP_MAX_PREFIXES; i++)
		if (an->pdirs[i] && !strcmp(an->pdirs[i]->name, name))
			return i;
	return -1;
}

static void anypin_dir_free(struct anypin_pdir *d)
{
	if (d->hdr)
		unregister_net_sysctl_table(d->hdr);
	kfree(d->table);
	kfree(d);
}

static int anypin_dir_add(struct anypin_net *an, const char *name)
{
	char path[sizeof("net/anypin/prefix/") + AP_NAME_MAX];
	struct anypin_pdir *d;
	int i;

	lockdep_assert_held(&an->dir_lock);
	for (i = 0; i < AP_MAX_PREFIXES && an->pdirs[i]; i++)
		;
	if (i == AP_MAX_PREFIXES)
		return -ENOSPC;
	d = kzalloc(sizeof(*d), GFP_KERNEL);
	if (!d)
		return -ENOMEM;
	strscpy(d->name, name, sizeof(d->name));
	d->table = anypin_table(ap_conf_prefix_keys, 0, anypin_prefix_handler, an, d);
	if (!d->table)
		goto err;
	snprintf(path, sizeof(path), "net/anypin/prefix/%s", name);
	d->hdr = anypin_register(an->net, path, d->table, anypin_nkeys(ap_conf_prefix_keys));
	if (!d->hdr)
		goto err;
	an->pdirs[i] = d;
	return 0;
err:
	anypin_dir_free(d);
	return -ENOMEM;
}

/*
 * Under conf_lock and dir_lock, before @c is published: a directory for
 * every new name, and the hooks with the first prefix. Whatever it made
 * before failing is taken away by anypin_dirs_prune().
 */
static int anypin_dirs_prepare(struct anypin_net *an, const struct ap_conf *c)
{
	unsigned int i;
	int err;

	lockdep_assert_held(&an->conf_lock);
	lockdep_assert_held(&an->dir_lock);
	for (i = 0; i < c->nprefixes; i++) {
		if (anypin_dir_find(an, c->prefixes[i].name) >= 0)
			continue;
		err = anypin_dir_add(an, c->prefixes[i].name);
		if (err)
			return err;
	}
	return c->nprefixes ? anypin_hooks_register(an) : 0;
}

/* Under dir_lock only: removes the directories of names no longer listed. */
static void anypin_dirs_prune(struct anypin_net *an)
{
	struct anypin_pdir *gone[AP_MAX_PREFIXES];
	const struct anypin_conf *kc;
	unsigned int i, n = 0;
	const char *name;

	lockdep_assert_held(&an->dir_lock);
	/* Unregistering waits for the handlers, which may take conf_lock. */
	lockdep_assert_not_held(&an->conf_lock);
	rcu_read_lock();
	kc = rcu_dereference(an->conf);
	for (i = 0; i < AP_MAX_PREFIXES; i++) {
		if (!an->pdirs[i])
			continue;
		name = an->pdirs[i]->name;
		if (ap_conf_find(&kc->c, name, strlen(name)) >= 0)
			continue;
		gone[n++] = an->pdirs[i];
		an->pdirs[i] = NULL;
	}
	rcu_read_unlock();
	for (i = 0; i < n; i++)
		anypin_dir_free(gone[i]);
}

static int anypin_global_handler(AP_CTL_TABLE *t, int write, void *buffer,
				 size_t *lenp, loff_t *ppos)
{
	struct anypin_net *an = t->data;
	char key[AP_KEY_MAX];
	int err;

	snprintf(key, sizeof(key), "net.anypin.%s", t->procname);
	if (!write || strcmp(t->procname, "prefixes"))
		return anypin_rw(an, key, write, buffer, lenp, ppos, NULL);

	mutex_lock(&an->dir_lock);
	err = anypin_stats_alloc(an);
	if (!err)
		err = anypin_rw(an, key, write, buffer, lenp, ppos, anypin_dirs_prepare);
	anypin_dirs_prune(an);
	mutex_unlock(&an->dir_lock);
	return err;
}

/* Writing 1 forgets every blackhole; anything else is refused. Reads 0. */
static int anypin_flush_handler(AP_CTL_TABLE *t, int write, void *buffer,
				size_t *lenp, loff_t *ppos)
{
	struct ctl_table zero_table = { .maxlen = sizeof(int) };
	char v[8];
	int zero = 0;

	if (!write) {
		zero_table.data = &zero;
		return proc_dointvec(&zero_table, write, buffer, lenp, ppos);
	}
	if (*ppos || *lenp >= sizeof(v))
		return -EINVAL;
	memcpy(v, buffer, *lenp);
	v[*lenp] = 0;
	if (strcmp(strim(v), "1"))
		return -EINVAL;
	anypin_bh_flush(t->data);
	*ppos += *lenp;
	return 0;
}

int anypin_sysctl_init(struct anypin_net *an)
{
	unsigned int n = anypin_nkeys(ap_conf_global_keys);

	an->sysctl_table = anypin_table(ap_conf_global_keys, 1, anypin_global_handler, an, NULL);
	if (!an->sysctl_table)
		return -ENOMEM;
	an->sysctl_table[n].procname = "flush_blackholes";
	an->sysctl_table[n].mode = 0644;
	an->sysctl_table[n].proc_handler = anypin_flush_handler;
	an->sysctl_table[n].data = an;
	an->sysctl = anypin_register(an->net, "net/anypin", an->sysctl_table, n + 1);
	if (!an->sysctl) {
		kfree(an->sysctl_table);
		an->sysctl_table = NULL;
		return -ENOMEM;
	}
	return 0;
}

void anypin_sysctl_exit(struct anypin_net *an)
{
	int i;

	if (an->sysctl) {
		unregister_net_sysctl_table(an->sysctl);
		an->sysctl = NULL;
	}
	kfree(an->sysctl_table);
	an->sysctl_table = NULL;
	for (i = 0; i < AP_MAX_PREFIXES; i++) {
		if (an->pdirs[i])
			anypin_dir_free(an->pdirs[i]);
		an->pdirs[i] = NULL;
	}
}
