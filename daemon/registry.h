/*
 * registry.h - the daemon's view of slot names and lifetimes.
 *
 * The registry segment (mapped only by the daemon) is the record of which
 * slot index carries which name, generation, creator and state; the slot
 * words in the data segment follow it.  In memory the daemon adds a
 * name -> index hash (open addressing, SipHash with a random key, O(1) at
 * 1M slots), a FIFO free list (a ring of indexes: freed slots are reused
 * as late as possible) and per-slot holder counts.  All of that is rebuilt
 * from the registry at start by one scan, which also finishes any create
 * or delete a kill -9 interrupted.
 *
 * Slot index lifecycle:
 *
 *   state     in hash   on free list   meaning
 *   FREE      no        yes            never used (or a create rolled back)
 *   LIVE      yes       no             named; handles may be opened
 *   DELETED   no        no             zombie: deleted, holders > 0
 *   DELETED   no        yes            deleted, no holder left
 *
 * Crash-safe store order (kill -9 may strike between any two):
 *   create: pop index; slot word := (g+1, 0), statistics zeroed; entry
 *           name, name_len, creator_uid, created_ns; entry gen := g+1;
 *           entry state := LIVE (the commit)
 *   delete: slot word (g, v) -> (g+1, ~v) and FUTEX_WAKE; entry gen :=
 *           g+1; entry state := DELETED
 */
#ifndef ERRSEQD_REGISTRY_H
#define ERRSEQD_REGISTRY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/protocol.h"
#include "common/shm_layout.h"

struct esd_registry {
	void *seg_base;		/* data segment mapping */
	void *reg_base;		/* registry segment mapping */
	uint32_t slot_count;

	uint64_t *table;	/* hash buckets: tag << 32 | (index + 1) */
	uint32_t table_mask;	/* buckets - 1 (a power of two >= 2 * slots) */
	uint64_t key[2];	/* SipHash key, random per daemon */

	uint32_t *ring;		/* free list: slot_count entries */
	uint32_t ring_head;	/* next index to pop */
	uint32_t ring_len;	/* indexes on the free list */

	uint32_t *holders;	/* per slot: holds over all connections */
	uint32_t live;		/* LIVE entries */
	uint32_t zombies;	/* DELETED entries with holders > 0 */
};

/* What the start-up scan found and repaired (for the log and tests). */
struct esd_rebuild_stats {
	uint32_t live;		/* LIVE entries kept */
	uint32_t free;		/* on the free list afterwards */
	uint32_t finished_deletes;	/* deletes a crash interrupted */
	uint32_t rolled_back;	/* creates a crash interrupted, undone */
	uint32_t repaired_words;	/* slot generations restored */
	uint32_t dropped;	/* LIVE entries deleted: bad name, dup */
};

/*
 * esd_registry_init - allocate the in-memory indexes for the mapped pair
 * (@seg_base, @reg_base, @slot_count slots) and rebuild them by scanning
 * the registry, repairing what an interrupted create or delete left (see
 * the top of registry.c).  Warnings about repairs are logged.  Fills @st
 * if non-NULL.  Returns 0, or -ENOMEM (nothing allocated stays).
 */
int esd_registry_init(struct esd_registry *r, void *seg_base, void *reg_base,
		      uint32_t slot_count, struct esd_rebuild_stats *st);

/* esd_registry_fini - free the in-memory indexes (the segments stay). */
void esd_registry_fini(struct esd_registry *r);

/* esd_registry_lookup - the index of the LIVE slot called @name (@len
 * bytes), or -ENOENT. */
int esd_registry_lookup(const struct esd_registry *r, const char *name,
			size_t len);

/*
 * esd_registry_create - create a LIVE slot called @name (not already
 * present: the caller looked it up) for creator @uid, taking the index at
 * the head of the free list.  Returns the index, or -ENOSPC if the free
 * list is empty (only held zombies, or nothing, left).
 */
int esd_registry_create(struct esd_registry *r, const char *name, size_t len,
			uid_t uid);

/*
 * esd_registry_delete - delete LIVE slot @index: every handle on it turns
 * stale at once and its sleepers wake.  The index goes to the free list's
 * tail now if nobody holds it, else when its last holder lets go.
 * Returns 0, or -ENOENT if @index is not LIVE.
 */
int esd_registry_delete(struct esd_registry *r, uint32_t index);

/* esd_registry_hold - one more holder on @index.  Returns 0, -EINVAL if
 * @index >= slot_count, or -EMFILE if its count would overflow. */
int esd_registry_hold(struct esd_registry *r, uint32_t index);

/* esd_registry_release - @n fewer holders on @index; a zombie whose last
 * holder went goes to the free list's tail.  @n beyond the count is
 * clamped (never underflows). */
void esd_registry_release(struct esd_registry *r, uint32_t index,
			  uint32_t n);

/* The registry entry of @index (< slot_count). */
static inline const struct esd_reg_entry *
esd_registry_entry(const struct esd_registry *r, uint32_t index)
{
	return esd_reg_entry_at(r->reg_base, index);
}

/* Is @index a LIVE slot?  (acquire load of its state) */
int esd_registry_is_live(const struct esd_registry *r, uint32_t index);

/*
 * esd_registry_info - fill @out for slot @index (< slot_count) from its
 * registry entry, holder count and slot (atomic loads, no side effect).
 */
void esd_registry_info(const struct esd_registry *r, uint32_t index,
		       struct esp_slot_info *out);

/*
 * esd_registry_list - the LIVE slots with index >= @start, in index order:
 * fills up to @max entries of @out and sets *@next to the index after the
 * last one returned, or ESP_LIST_END when the scan reached the end.  Stops
 * scanning as soon as @max are found.  Returns the number filled.
 */
uint32_t esd_registry_list(const struct esd_registry *r, uint32_t start,
			   uint32_t max, struct esp_slot_info *out,
			   uint32_t *next);

/* esd_registry_hash - SipHash-1-3 of @len bytes at @p under @key (exposed
 * for tests). */
uint64_t esd_registry_hash(const uint64_t key[2], const void *p, size_t len);

#endif /* ERRSEQD_REGISTRY_H */
