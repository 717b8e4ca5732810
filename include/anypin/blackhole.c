// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The blackhole memory: a small array, searched linearly, since only the
 * anycast addresses of paths that drop anypin's packets are in it, and an
 * empty one costs nothing.
 */
#include <anypin/blackhole.h>

static bool before(u32 a, u32 b)
{
	return (s32)(a - b) < 0;
}

static struct ap_bh *bh_find(struct ap_bh_table *t, const struct ap_addr *a)
{
	u32 i;

	for (i = 0; i < t->n; i++)
		if (ap_addr_eq(&t->e[i].addr, a))
			return &t->e[i];
	return NULL;
}

static void bh_del(struct ap_bh_table *t, struct ap_bh *b)
{
	*b = t->e[--t->n];
	memset(&t->e[t->n], 0, sizeof(t->e[0]));
}

/* The record of @a still remembered at @now; a forgotten one goes. */
static struct ap_bh *bh_live(struct ap_bh_table *t, const struct ap_addr *a, u32 now)
{
	struct ap_bh *b = bh_find(t, a);

	if (b && !before(now, b->forget)) {
		bh_del(t, b);
		return NULL;
	}
	return b;
}

bool ap_bh_active(struct ap_bh_table *t, const struct ap_addr *a, u32 now)
{
	struct ap_bh *b = bh_live(t, a, now);

	return b && before(now, b->until);
}

void ap_bh_detect(struct ap_bh_table *t, const struct ap_addr *a, u32 timeout, u32 now)
{
	struct ap_bh *b = bh_live(t, a, now);
	u32 i, period;

	if (b) {
		if (b->level < AP_BH_MAX_LEVEL)
			b->level++;
	} else {
		if (t->n == AP_BH_MAX) {
			b = &t->e[0];
			for (i = 1; i < t->n; i++)
				if (before(t->e[i].forget, b->forget))
					b = &t->e[i];
			bh_del(t, b);
		}
		b = &t->e[t->n++];
		memset(b, 0, sizeof(*b));
		b->addr = *a;
	}
	period = timeout << b->level;
	b->until = now + period;
	b->forget = b->until + period;
	b->detections++;
}

void ap_bh_clear(struct ap_bh_table *t, const struct ap_addr *a)
{
	struct ap_bh *b = bh_find(t, a);

	if (b)
		bh_del(t, b);
}

void ap_bh_expire(struct ap_bh_table *t, u32 now)
{
	u32 i = 0;

	while (i < t->n) {
		if (before(now, t->e[i].forget))
			i++;
		else
			bh_del(t, &t->e[i]);
	}
}

void ap_bh_flush(struct ap_bh_table *t)
{
	memset(t, 0, sizeof(*t));
}
