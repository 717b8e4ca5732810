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

void ap_stats_set_flows(struct ap_stats *s, u64 n)
{
	s->flows_known = true;
	s->flows = n;
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
	if (s->flows_known)
		total[AP_STAT_FLOWS] = s->flows;
	return ap_stats_row(AP_STATS_TOTAL, total, buf, size);
}

void ap_slots_init(struct ap_slots *m)
{
	memset(m, 0, sizeof(*m));
	memset(m->slot, AP_NO_SLOT, sizeof(m->slot));
	memset(m->index, AP_NO_SLOT, sizeof(m->index));
}

static u32 name_len(const char *name)
{
	u32 n = 0;

	while (n < AP_NAME_MAX && name[n])
		n++;
	return n;
}

/*
 * A slot neither map uses, in turn from m->next so that reuse comes late;
 * one not @cooling if there is one. Always one: AP_NSLOTS is twice the
 * prefixes.
 */
static u8 free_slot(struct ap_slots *m, const struct ap_slots *old, const bool *cooling)
{
	u8 s, pick = AP_NO_SLOT;
	u32 i;

	for (i = 0; i < AP_NSLOTS; i++) {
		s = (m->next + i) % AP_NSLOTS;
		if (old->index[s] != AP_NO_SLOT || m->index[s] != AP_NO_SLOT)
			continue;
		if (pick == AP_NO_SLOT)
			pick = s;
		if (!cooling || !cooling[s]) {
			pick = s;
			break;
		}
	}
	if (pick != AP_NO_SLOT)
		m->next = (pick + 1) % AP_NSLOTS;
	return pick;
}

void ap_slots_remap(struct ap_slots *m, const struct ap_slots *old, const struct ap_conf *oc,
		    const struct ap_conf *nc, const bool *cooling)
{
	const char *name;
	u32 i, s;
	int j;

	memset(m->slot, AP_NO_SLOT, sizeof(m->slot));
	memset(m->index, AP_NO_SLOT, sizeof(m->index));
	for (i = 0; i < nc->nprefixes; i++) {
		name = nc->prefixes[i].name;
		j = ap_conf_find(oc, name, name_len(name));
		if (j < 0 || old->slot[j] == AP_NO_SLOT)
			continue;
		m->slot[i] = old->slot[j];
		m->index[m->slot[i]] = i;
	}
	for (s = 0; s < AP_NSLOTS; s++)
		if (old->index[s] != AP_NO_SLOT && m->index[s] == AP_NO_SLOT)
			m->gen[s]++;
	for (i = 0; i < nc->nprefixes; i++) {
		if (m->slot[i] != AP_NO_SLOT)
			continue;
		m->slot[i] = free_slot(m, old, cooling);
		if (m->slot[i] != AP_NO_SLOT)
			m->index[m->slot[i]] = i;
	}
}

u8 ap_slots_slot(const struct ap_slots *m, u8 prefix)
{
	u8 s = prefix < AP_MAX_PREFIXES ? m->slot[prefix] : AP_NO_SLOT;

	return s < AP_NSLOTS ? s : AP_SLOT_REMOVED;
}

u8 ap_slots_prefix(const struct ap_slots *m, u8 slot, u8 gen)
{
	return slot < AP_NSLOTS && m->gen[slot] == gen ? m->index[slot] : AP_NO_SLOT;
}

u8 ap_slots_counter(const struct ap_slots *m, u8 slot, u8 gen)
{
	return ap_slots_prefix(m, slot, gen) != AP_NO_SLOT ? slot : AP_SLOT_REMOVED;
}
