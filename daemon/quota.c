/*
 * quota.c - per-uid usage (see quota.h): linear probing on a multiplicative
 * hash of the uid, load factor <= 1/2, entries never removed (the set of
 * uids on a host is small and a uid whose counts fell to zero is reused).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "daemon/quota.h"

#define EMPTY	UINT32_MAX	/* no uid is (uid_t)-1 */

static uint32_t home(uint32_t uid, uint32_t cap)
{
	return (uint32_t)(((uint64_t)uid * 0x9e3779b97f4a7c15ull) >> 32) &
	       (cap - 1);
}

static struct esd_usage *find(const struct esd_quota *q, uint32_t uid)
{
	if (q->cap == 0)
		return NULL;
	for (uint32_t i = home(uid, q->cap);; i = (i + 1) & (q->cap - 1)) {
		if (q->b[i].uid == uid)
			return &q->b[i];
		if (q->b[i].uid == EMPTY)
			return NULL;
	}
}

static int grow(struct esd_quota *q)
{
	uint32_t cap = q->cap ? q->cap * 2 : 16;
	struct esd_usage *b = malloc(cap * sizeof(*b));

	if (!b)
		return -1;
	for (uint32_t i = 0; i < cap; i++)
		b[i] = (struct esd_usage){ .uid = EMPTY };
	for (uint32_t i = 0; i < q->cap; i++) {
		uint32_t j;

		if (q->b[i].uid == EMPTY)
			continue;
		for (j = home(q->b[i].uid, cap); b[j].uid != EMPTY;
		     j = (j + 1) & (cap - 1))
			;
		b[j] = q->b[i];
	}
	free(q->b);
	q->b = b;
	q->cap = cap;
	return 0;
}

struct esd_usage *esd_quota_get(struct esd_quota *q, uid_t uid)
{
	struct esd_usage *u = find(q, (uint32_t)uid);
	uint32_t i;

	if (u)
		return u;
	if ((uint32_t)uid == EMPTY)
		return NULL;
	if ((q->n + 1) * 2 > q->cap && grow(q) < 0)
		return NULL;
	for (i = home((uint32_t)uid, q->cap); q->b[i].uid != EMPTY;
	     i = (i + 1) & (q->cap - 1))
		;
	q->b[i] = (struct esd_usage){ .uid = (uint32_t)uid };
	q->n++;
	return &q->b[i];
}

const struct esd_usage *esd_quota_peek(const struct esd_quota *q, uid_t uid)
{
	return find(q, (uint32_t)uid);
}

void esd_quota_fini(struct esd_quota *q)
{
	free(q->b);
	q->b = NULL;
	q->cap = q->n = 0;
}
