/*
 * holds.c - per-connection hold counts (see holds.h): linear probing on a
 * multiplicative hash of the index, load factor <= 1/2, backward-shift
 * deletion (no tombstones).
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>

#include "daemon/holds.h"

static inline uint32_t home(uint32_t index, uint32_t cap)
{
	/* Fibonacci hashing: spreads consecutive indexes over the table. */
	return (uint32_t)(((uint64_t)index * 0x9e3779b97f4a7c15ull) >> 32) &
	       (cap - 1);
}

static inline uint32_t key_of(uint64_t b)
{
	return (uint32_t)b - 1;
}

static int find(const struct esd_holds *h, uint32_t index, uint32_t *pos)
{
	if (h->cap == 0)
		return -ENOENT;
	for (uint32_t i = home(index, h->cap);; i = (i + 1) & (h->cap - 1)) {
		if (h->b[i] == 0)
			return -ENOENT;
		if (key_of(h->b[i]) == index) {
			*pos = i;
			return 0;
		}
	}
}

static void put(uint64_t *b, uint32_t cap, uint64_t v)
{
	uint32_t i = home(key_of(v), cap);

	while (b[i] != 0)
		i = (i + 1) & (cap - 1);
	b[i] = v;
}

static int grow(struct esd_holds *h)
{
	uint32_t cap = h->cap ? h->cap * 2 : 16;
	uint64_t *b = calloc(cap, sizeof(*b));

	if (!b)
		return -ENOMEM;
	for (uint32_t i = 0; i < h->cap; i++)
		if (h->b[i])
			put(b, cap, h->b[i]);
	free(h->b);
	h->b = b;
	h->cap = cap;
	return 0;
}

int esd_holds_add(struct esd_holds *h, uint32_t index)
{
	uint32_t pos;

	if (find(h, index, &pos) == 0) {
		h->b[pos] += 1ull << 32;
		h->total++;
		return 0;
	}
	if ((h->used + 1) * 2 > h->cap) {
		int r = grow(h);

		if (r < 0)
			return r;
	}
	put(h->b, h->cap, 1ull << 32 | ((uint64_t)index + 1));
	h->used++;
	h->total++;
	return 0;
}

int esd_holds_drop(struct esd_holds *h, uint32_t index)
{
	uint32_t i, mask;

	if (find(h, index, &i) < 0)
		return -ENOENT;
	h->total--;
	if ((h->b[i] >> 32) > 1) {
		h->b[i] -= 1ull << 32;
		return 0;
	}
	h->used--;
	mask = h->cap - 1;
	for (;;) {
		uint32_t j = i;

		h->b[i] = 0;
		for (;;) {
			uint32_t k;

			j = (j + 1) & mask;
			if (h->b[j] == 0)
				return 0;
			k = home(key_of(h->b[j]), h->cap);
			/* Stays if its home lies cyclically in (i, j]. */
			if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
				continue;
			h->b[i] = h->b[j];
			i = j;
			break;
		}
	}
}

uint32_t esd_holds_count(const struct esd_holds *h, uint32_t index)
{
	uint32_t pos;

	if (find(h, index, &pos) < 0)
		return 0;
	return (uint32_t)(h->b[pos] >> 32);
}

void esd_holds_each(const struct esd_holds *h,
		    void (*fn)(void *ctx, uint32_t index, uint32_t count),
		    void *ctx)
{
	for (uint32_t i = 0; i < h->cap; i++)
		if (h->b[i])
			fn(ctx, key_of(h->b[i]), (uint32_t)(h->b[i] >> 32));
}

void esd_holds_fini(struct esd_holds *h)
{
	free(h->b);
	h->b = NULL;
	h->cap = 0;
	h->used = 0;
	h->total = 0;
}
