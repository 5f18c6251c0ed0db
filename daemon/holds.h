/*
 * holds.h - one connection's holds: slot index -> how many handles the
 * connection has open on it.  An open-addressing hash that grows as
 * needed; empty for a connection that opened nothing (no allocation).
 */
#ifndef ERRSEQD_HOLDS_H
#define ERRSEQD_HOLDS_H

#include <stdint.h>

struct esd_holds {
	uint64_t *b;		/* count << 32 | (index + 1); 0: empty */
	uint32_t cap;		/* buckets, a power of two (0: none yet) */
	uint32_t used;		/* distinct indexes held */
	uint64_t total;		/* sum of the counts */
};

/* esd_holds_add - one more hold on @index.  Returns 0, or -ENOMEM (nothing
 * changed).  @index must be below UINT32_MAX. */
int esd_holds_add(struct esd_holds *h, uint32_t index);

/* esd_holds_drop - one hold fewer on @index.  Returns 0, or -ENOENT if
 * @index is not held. */
int esd_holds_drop(struct esd_holds *h, uint32_t index);

/* esd_holds_count - holds on @index (0 if none). */
uint32_t esd_holds_count(const struct esd_holds *h, uint32_t index);

/* esd_holds_each - call @fn(@ctx, index, count) for every held index. */
void esd_holds_each(const struct esd_holds *h,
		    void (*fn)(void *ctx, uint32_t index, uint32_t count),
		    void *ctx);

/* esd_holds_fini - free; @h is empty (and reusable) afterwards. */
void esd_holds_fini(struct esd_holds *h);

#endif /* ERRSEQD_HOLDS_H */
