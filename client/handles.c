/*
 * handles.c - dense slot handles: the 16-byte records users hold.
 *
 * A watcher with tens of thousands of open slots checks them in no
 * particular order; if every check first had to fetch a large heap object,
 * the handle, not the shared slot, would be the cache miss that costs.  So
 * the part of a handle the data path reads (struct errseq_slot: the slot's
 * address and the generation) is 16 bytes, four to a cache line, in slabs
 * of ERRSEQ__SLAB_BYTES.  The rest of the handle (struct errseq__handle)
 * is an ordinary heap object, found from the hot record through the
 * slab's cold[] table (internal.h, errseq__cold).
 *
 * A slab is an anonymous mapping aligned to its size, so a hot record's
 * slab is its address rounded down.  Slabs with a free entry are on one
 * process-wide list under errseq__registry_lock; an empty slab is
 * unmapped unless it is the only one with room.  A free entry's shm is NULL (a use after close faults at once
 * instead of reading freed memory) and its gen_hi links the free list.
 */
#include "config.h"

#include <stdint.h>
#include <sys/mman.h>

#include "client/internal.h"

/* Slabs with at least one free entry (registry lock). */
static struct errseq__slab *partial;

static void partial_add(struct errseq__slab *sl)
{
	sl->prev = NULL;
	sl->next = partial;
	if (partial)
		partial->prev = sl;
	partial = sl;
}

static void partial_del(struct errseq__slab *sl)
{
	if (sl->prev)
		sl->prev->next = sl->next;
	else
		partial = sl->next;
	if (sl->next)
		sl->next->prev = sl->prev;
	sl->prev = sl->next = NULL;
}

/* A new, empty slab aligned to its size, or NULL. */
static struct errseq__slab *slab_new(void)
{
	size_t sz = ERRSEQ__SLAB_BYTES;
	char *p = mmap(NULL, 2 * sz, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uintptr_t a;
	struct errseq__slab *sl;
	uint32_t i;

	if (p == MAP_FAILED)
		return NULL;
	/* Keep the aligned middle, give back the rest. */
	a = ((uintptr_t)p + sz - 1) & ~(uintptr_t)(sz - 1);
	if (a > (uintptr_t)p)
		munmap(p, a - (uintptr_t)p);
	if ((uintptr_t)p + 2 * sz > a + sz)
		munmap((char *)a + sz, (uintptr_t)p + 2 * sz - (a + sz));
	sl = (struct errseq__slab *)a;
	/* Fresh anonymous memory is zero: link the free list. */
	for (i = 0; i < ERRSEQ__SLAB_SLOTS; i++)
		sl->hot[i].gen_hi = i + 1u < ERRSEQ__SLAB_SLOTS ? i + 2u : 0;
	sl->free_head = 1;
	return sl;
}

struct errseq_slot *errseq__slot_alloc_locked(struct errseq__handle *h)
{
	struct errseq__slab *sl = partial;
	struct errseq_slot *s;
	uint32_t i;

	if (!sl) {
		sl = slab_new();
		if (!sl)
			return NULL;
		partial_add(sl);
	}
	i = sl->free_head - 1;
	s = &sl->hot[i];
	sl->free_head = (uint32_t)s->gen_hi;
	if (++sl->used == ERRSEQ__SLAB_SLOTS)
		partial_del(sl);
	sl->cold[i] = h;
	s->shm = NULL;
	s->gen_hi = 0;
	h->hot = s;
	return s;
}

void errseq__slot_free_locked(struct errseq_slot *s)
{
	struct errseq__slab *sl = (struct errseq__slab *)
		((uintptr_t)s & ~(uintptr_t)(ERRSEQ__SLAB_BYTES - 1));
	uint32_t i = (uint32_t)(s - sl->hot);

	sl->cold[i] = NULL;
	s->shm = NULL;
	s->gen_hi = sl->free_head;
	sl->free_head = i + 1;
	if (sl->used-- == ERRSEQ__SLAB_SLOTS)
		partial_add(sl);
	/* Unmap an empty slab unless it is the only one with room: a
	 * program that opens and closes one slot in a loop keeps its slab. */
	if (sl->used == 0 && (partial != sl || sl->next)) {
		partial_del(sl);
		munmap(sl, ERRSEQ__SLAB_BYTES);
	}
}
