// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * /proc/net/anypin/{flows,stats,blackholes} of a namespace, in the core's
 * formats (AP_FLOW_HEADER + ap_flow_format(), ap_stats_line(),
 * AP_BH_HEADER + ap_bh_format()), which anypinctl shares with anypind.
 *
 * The flows file keeps one table walker per open file, so a long table is
 * read in one pass; the line last formatted is kept for seq_file, which
 * asks again for the record that did not fit in the previous read.
 */
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include "anypin.h"

#define AP_LINE_MAX	256
#define AP_ROW_MAX	1024

struct anypin_flows_iter {
	struct anypin_net *an;
	struct rhashtable_iter it;
	loff_t next;			/* position of the walker's next entry */
	loff_t saved;			/* position of line[], or -1 */
	char line[AP_LINE_MAX];
};

static void anypin_iter_rewind(struct anypin_flows_iter *s)
{
	rhashtable_walk_exit(&s->it);
	rhashtable_walk_enter(&s->an->table.ht.ht, &s->it);
	s->next = 1;
	s->saved = -1;
}

/* The next live entry, formatted into s->line; under the walker's RCU. */
static void *anypin_iter_advance(struct anypin_flows_iter *s)
{
	const struct anypin_conf *kc = rcu_dereference(s->an->conf);
	u32 now = anypin_now();
	struct anypin_flow *e;
	bool show;

	while ((e = rhashtable_walk_next(&s->it))) {
		if (IS_ERR(e)) {
			if (PTR_ERR(e) == -EAGAIN)
				continue;
			return NULL;
		}
		spin_lock_bh(&e->lock);
		show = !e->dead && !ap_flow_expired(&e->f, &kc->c, now);
		if (show)
			ap_flow_format(&e->f, &kc->c, now, s->line, sizeof(s->line));
		spin_unlock_bh(&e->lock);
		if (show) {
			s->saved = s->next++;
			return s->line;
		}
	}
	return NULL;
}

/* seq_file calls stop() after start(), whatever start() returned. */
static void *anypin_flows_start(struct seq_file *seq, loff_t *pos)
	__acquires(RCU)
{
	struct anypin_flows_iter *s = seq->private;

	if (!*pos || (*pos != s->saved && *pos != s->next))
		anypin_iter_rewind(s);
	rhashtable_walk_start(&s->it);
	if (!*pos)
		return SEQ_START_TOKEN;
	if (*pos == s->saved)
		return s->line;
	while (s->next < *pos)
		if (!anypin_iter_advance(s))
			return NULL;
	return anypin_iter_advance(s);
}

static void *anypin_flows_next(struct seq_file *seq, void *v, loff_t *pos)
{
	struct anypin_flows_iter *s = seq->private;

	++*pos;
	return anypin_iter_advance(s);
}

static void anypin_flows_stop(struct seq_file *seq, void *v)
	__releases(RCU)
{
	struct anypin_flows_iter *s = seq->private;

	rhashtable_walk_stop(&s->it);
}

static int anypin_flows_show(struct seq_file *seq, void *v)
{
	seq_puts(seq, v == SEQ_START_TOKEN ? AP_FLOW_HEADER : v);
	return 0;
}

static const struct seq_operations anypin_flows_seq_ops = {
	.start = anypin_flows_start,
	.next = anypin_flows_next,
	.stop = anypin_flows_stop,
	.show = anypin_flows_show,
};

static int anypin_flows_open(struct inode *inode, struct file *file)
{
	struct anypin_flows_iter *s;

	s = __seq_open_private(file, &anypin_flows_seq_ops, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->an = pde_data(inode);
	rhashtable_walk_enter(&s->an->table.ht.ht, &s->it);
	s->next = 1;
	s->saved = -1;
	return 0;
}

/* Also called when the file is removed while open, before the table goes. */
static int anypin_flows_release(struct inode *inode, struct file *file)
{
	struct anypin_flows_iter *s = ((struct seq_file *)file->private_data)->private;

	rhashtable_walk_exit(&s->it);
	return seq_release_private(inode, file);
}

static const struct proc_ops anypin_flows_ops = {
	.proc_open = anypin_flows_open,
	.proc_read_iter = seq_read_iter,
	.proc_lseek = seq_lseek,
	.proc_release = anypin_flows_release,
};

struct anypin_stats_snap {
	struct ap_slots slots;
	struct ap_stats s;
	char row[AP_STATS_LINE_MAX];
};

static bool anypin_count_flow(struct anypin_flow *e, void *arg)
{
	struct anypin_stats_snap *s = arg;

	lockdep_assert_held(&e->lock);
	ap_stats_add_flow(&s->s, ap_slots_prefix(&s->slots, e->slot, e->gen));
	return false;
}

/*
 * The core's table of the per-cpu counters, by today's prefix index; the
 * total's flows are the table's count, exact where the walk is not. Only
 * the slots and the counters are read under conf_lock (no slot goes to a
 * new name meanwhile): the flows gauge walks the table after it, so that
 * reading the file, which anyone may, never holds a write up for long.
 * Its buffer holds the whole table, so this runs once per read.
 */
static int anypin_stats_show(struct seq_file *seq, void *v)
{
	struct anypin_net *an = seq->private;
	const struct anypin_conf *kc;
	struct anypin_stats_snap *s;
	unsigned int i;

	s = kvmalloc(sizeof(*s), GFP_KERNEL);
	if (!s)
		return -ENOMEM;
	if (mutex_lock_killable(&an->conf_lock)) {
		kvfree(s);
		return -EINTR;
	}
	kc = rcu_dereference_protected(an->conf, lockdep_is_held(&an->conf_lock));
	ap_stats_init(&s->s, &kc->c);
	s->slots = kc->slots;
	anypin_stats_fill(an, &s->slots, &s->s);
	mutex_unlock(&an->conf_lock);
	anypin_flows_walk(an, anypin_count_flow, s);
	ap_stats_set_flows(&s->s, anypin_flows_count(an));
	for (i = 0; ap_stats_line(&s->s, i, s->row, sizeof(s->row)); i++)
		seq_puts(seq, s->row);
	kvfree(s);
	return 0;
}

/* The header, a row per prefix, the total. */
#define AP_STATS_SIZE	(AP_STATS_LINE_MAX * (AP_MAX_PREFIXES + 2))

static int anypin_stats_open(struct inode *inode, struct file *file)
{
	return single_open_size(file, anypin_stats_show, pde_data(inode), AP_STATS_SIZE);
}

static const struct proc_ops anypin_stats_ops = {
	.proc_open = anypin_stats_open,
	.proc_read_iter = seq_read_iter,
	.proc_lseek = seq_lseek,
	.proc_release = single_release,
};

/* Copied under the lock, formatted outside it. */
static int anypin_blackholes_show(struct seq_file *seq, void *v)
{
	struct anypin_net *an = seq->private;
	char line[AP_LINE_MAX];
	u32 i, n, now;
	struct ap_bh *s;

	s = kvmalloc_array(AP_BH_MAX, sizeof(*s), GFP_KERNEL);
	if (!s)
		return -ENOMEM;
	now = anypin_now();
	n = anypin_bh_snapshot(an, s, now);
	seq_puts(seq, AP_BH_HEADER);
	for (i = 0; i < n; i++) {
		ap_bh_format(&s[i], now, line, sizeof(line));
		seq_puts(seq, line);
	}
	kvfree(s);
	return 0;
}

int anypin_proc_init(struct anypin_net *an)
{
	an->proc = proc_mkdir("anypin", an->net->proc_net);
	if (!an->proc)
		return -ENOMEM;
	if (!proc_create_data("flows", 0444, an->proc, &anypin_flows_ops, an) ||
	    !proc_create_data("stats", 0444, an->proc, &anypin_stats_ops, an) ||
	    !proc_create_single_data("blackholes", 0444, an->proc, anypin_blackholes_show,
				     an)) {
		proc_remove(an->proc);
		an->proc = NULL;
		return -ENOMEM;
	}
	return 0;
}

void anypin_proc_exit(struct anypin_net *an)
{
	proc_remove(an->proc);
	an->proc = NULL;
}
