// SPDX-License-Identifier: GPL-2.0 OR MIT
/* The counters' table, from a datapath's snapshot of its counters. */
#include <anypin/stats.h>

void ap_stats_init(struct ap_stats *s, const struct ap_conf *c)
{
	u32 i;

	memset(s, 0, sizeof(*s));
	s->n = c->nprefixes;
	for (i = 0; i < s->n; i++)
		memcpy(s->name[i], c->prefixes[i].name, sizeof(s->name[i]));
}

u8 ap_stats_row_of(const struct ap_stats *s, u8 prefix)
{
	return prefix < s->n ? prefix : AP_STATS_REMOVED;
}

void ap_stats_add_flow(struct ap_stats *s, u8 prefix)
{
	s->v[ap_stats_row_of(s, prefix)][AP_STAT_FLOWS]++;
}

u32 ap_stats_line(const struct ap_stats *s, u32 i, char *buf, u32 size)
{
	u64 total[AP_STAT_MAX];
	u32 r, j;

	if (!i)
		return ap_stats_header(buf, size);
	if (i <= s->n)
		return ap_stats_row(s->name[i - 1], s->v[i - 1], buf, size);
	if (i > (u32)s->n + 1)
		return 0;
	memcpy(total, s->v[AP_STATS_REMOVED], sizeof(total));
	for (r = 0; r < s->n; r++)
		for (j = 0; j < AP_STAT_MAX; j++)
			total[j] += s->v[r][j];
	return ap_stats_row(AP_STATS_TOTAL, total, buf, size);
}
