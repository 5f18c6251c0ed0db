/*
 * registry.h - the daemon's record of slots: names, writer sets,
 * generations, holders, armed watchers, and per-domain free lists.
 *
 * The record lives in the private registry (daemon/store.h), which no
 * client can map; the slot words in the chunks follow it.  In memory the
 * daemon adds a name -> index hash (open addressing, SipHash with a random
 * key), one FIFO free list per writer domain (freed slots are reused as
 * late as possible), per-slot holder and armed-watcher counts, and the
 * live-slot count per creator uid.  All of it is rebuilt at start by one
 * scan, which also finishes a create or delete that a kill -9 interrupted,
 * judging from the private record only (registry.c has the table).
 *
 * Slot index lifecycle:
 *
 *   state     in hash   on free list   meaning
 *   FREE      no        yes            never used (or a create rolled back)
 *   LIVE      yes       no             named; handles may be opened
 *   DELETING  no        no             a delete's intent (only after a crash)
 *   DELETED   no        no             zombie: deleted, holders > 0
 *   DELETED   no        yes            deleted, no holder left
 *
 * Crash-safe store order (kill -9 may strike between any two):
 *   create: pop index; slot word := (g+1, 0), statistics zeroed; entry
 *           name, creator, writer group, created_ns; entry gen := g+1;
 *           entry state := LIVE (the commit)
 *   delete: entry state := DELETING (the intent); slot word (g, v) ->
 *           (g+1, ~v) and FUTEX_WAKE; entry gen := g+1; state := DELETED
 */
#ifndef ERRSEQD_REGISTRY_H
#define ERRSEQD_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/protocol.h"
#include "common/shm_layout.h"
#include "daemon/quota.h"
#include "daemon/store.h"

/* Who is asking: SO_PEERCRED plus SO_PEERGROUPS. */
struct esd_cred {
	pid_t pid;
	uid_t uid;
	gid_t gid;
	uint32_t ngroups;	/* supplementary groups in groups[] */
	gid_t *groups;
};

/* esd_cred_in_group - is @gid (not ESD_NO_GID) @who's primary or a
 * supplementary group? */
bool esd_cred_in_group(const struct esd_cred *who, uint32_t gid);

struct esd_domain;

struct esd_registry {
	struct esd_store *st;
	struct esd_quota *quota;	/* live slots per creator */
	uint32_t max_slots;
	uid_t daemon_uid;	/* in every writer set */

	uint64_t *table;	/* hash buckets: tag << 32 | (index + 1) */
	uint32_t table_mask;	/* buckets - 1 (a power of two >= 2 * slots) */
	uint64_t key[2];	/* SipHash key, random per daemon */

	struct esd_domain *domains;	/* one per writer domain */
	uint32_t ndomains, domains_cap;
	uint32_t *chunk_domain;	/* [max_chunks]: domain of each chunk */

	uint64_t *live_bits;	/* [max_chunks * ESD_CHUNK_SLOTS / 64]: bit
				 * i set iff entry i is LIVE (for LIST) */
	uint32_t *chunk_live;	/* [max_chunks]: LIVE entries per chunk */
	uint32_t *holders;	/* [max_slots]: holds over all connections */
	uint32_t *armed;	/* [max_slots]: connections armed */
	uint32_t max_live;	/* live slots at most (--slots); ENOSPC */
	uint32_t max_uid_chunks;	/* chunks per uid's domains (0: none) */
	uint32_t live;		/* LIVE entries */
	uint32_t zombies;	/* DELETED entries with holders > 0 */
	bool warned_full;	/* the 90 % warning was given */
};

/* What the start-up scan found and repaired (for the log and tests). */
struct esd_rebuild_stats {
	uint32_t live;		/* LIVE entries kept */
	uint32_t free;		/* on the free lists afterwards */
	uint32_t finished_deletes;	/* deletes a crash interrupted */
	uint32_t rolled_back;	/* creates a crash interrupted, undone */
	uint32_t repaired_words;	/* slot words restored from the record */
	uint32_t dropped;	/* LIVE entries deleted: bad name, dup */
};

/*
 * esd_registry_init - the in-memory indexes for store @st, rebuilt from its
 * registry with the repairs of registry.c; @daemon_uid joins every writer
 * set; each creator's live slots are counted in @quota.  Fills @stats if non-NULL.  Returns 0 or -ENOMEM (nothing stays).
 */
int esd_registry_init(struct esd_registry *r, struct esd_store *st,
		      struct esd_quota *quota, uid_t daemon_uid,
		      struct esd_rebuild_stats *stats);

/* esd_registry_set_limits - at most @max_live live slots (clamped to the
 * index space), and at most @max_uid_chunks chunks for the writer domains
 * of one uid other than root and the daemon's (0: no limit). */
void esd_registry_set_limits(struct esd_registry *r, uint32_t max_live,
			     uint32_t max_uid_chunks);

/* esd_registry_fini - free the in-memory indexes (the store stays). */
void esd_registry_fini(struct esd_registry *r);

/* esd_registry_lookup - the index of the LIVE slot called @name (@len
 * bytes), or -ENOENT. */
int esd_registry_lookup(const struct esd_registry *r, const char *name,
			size_t len);

/*
 * esd_registry_create - create a LIVE slot called @name (not present: the
 * caller looked it up) for creator @uid, writable also by group @gid
 * (ESD_NO_GID: none).  The index comes from the domain's free list; an
 * empty one gets a new chunk.  Returns the index; -ENOSPC when max_live
 * slots are live, or no chunk is left in the index space; -EDQUOT when
 * the uid's domains have max_uid_chunks chunks; -ENOMEM.
 */
int esd_registry_create(struct esd_registry *r, const char *name, size_t len,
			uid_t uid, uint32_t gid);

/*
 * esd_registry_delete - delete LIVE slot @index: every handle on it turns
 * stale at once and its sleepers wake.  The index goes back to its
 * domain's free list now if nobody holds it, else when its last holder
 * lets go.  Returns 0, or -ENOENT if @index is not LIVE.
 */
int esd_registry_delete(struct esd_registry *r, uint32_t index);

/* esd_registry_is_live - is @index (any value) a LIVE slot? */
bool esd_registry_is_live(const struct esd_registry *r, uint32_t index);

/* esd_registry_gen - the generation of record of LIVE slot @index. */
uint32_t esd_registry_gen(const struct esd_registry *r, uint32_t index);

/* esd_registry_creator - the uid that created LIVE slot @index. */
uid_t esd_registry_creator(const struct esd_registry *r, uint32_t index);

/* esd_registry_may_write - is @who in the writer set of slot @index
 * (creator, root, the daemon's user, members of its writer group)?
 * @index must be below the chunks in use. */
bool esd_registry_may_write(const struct esd_registry *r, uint32_t index,
			    const struct esd_cred *who);

/* esd_registry_may_delete - may @who delete LIVE slot @index?  Its
 * creator, root and the daemon's user may. */
bool esd_registry_may_delete(const struct esd_registry *r, uint32_t index,
			     const struct esd_cred *who);

/* esd_registry_is_same - is @index LIVE with generation @gen and name
 * @name (@len bytes)?  (what REATTACH must find) */
bool esd_registry_is_same(const struct esd_registry *r, uint32_t index,
			  uint32_t gen, const char *name, size_t len);

/* esd_registry_hold - one more holder on @index (< max_slots).  Returns 0
 * or -EMFILE if its count would overflow. */
int esd_registry_hold(struct esd_registry *r, uint32_t index);

/* esd_registry_release - @n fewer holders on @index; a zombie whose last
 * holder went goes to its free list.  Clamped: never underflows. */
void esd_registry_release(struct esd_registry *r, uint32_t index,
			  uint32_t n);

/* esd_registry_arm - one more (@on) or one fewer armed connection on
 * @index; the slot's waiters word is set from the count. */
void esd_registry_arm(struct esd_registry *r, uint32_t index, bool on);

/*
 * esd_registry_mark_seen - for a read-only watcher: CAS slot @index's word
 * from (@gen, @value) to (@gen, @value | SEEN) once, as
 * errseq_check_and_advance does.  Returns 0 whatever the CAS found,
 * -ESTALE if @gen is not the slot's live generation.
 */
int esd_registry_mark_seen(struct esd_registry *r, uint32_t index,
			   uint32_t gen, uint32_t value);

/* esd_registry_info - fill @out for slot @index (< max_slots, in a chunk
 * in use) as @who sees it (atomic loads, no side effect). */
void esd_registry_info(const struct esd_registry *r, uint32_t index,
		       const struct esd_cred *who, struct esp_slot_info *out);

/*
 * esd_registry_list - the LIVE slots with index >= @start, in index order:
 * fills up to @max entries of @out and sets *@next to the index after the
 * last one returned, or ESP_LIST_END when the scan reached the end.
 * Returns the number filled.  Its cost follows the live slots listed (a
 * bitmap of LIVE entries, chunks without one skipped whole), not the
 * capacity or the chunks in use.
 */
uint32_t esd_registry_list(const struct esd_registry *r, uint32_t start,
			   uint32_t max, const struct esd_cred *who,
			   struct esp_slot_info *out, uint32_t *next);

/* Slots that exist in memory now (chunks in use * ESD_CHUNK_SLOTS). */
static inline uint32_t esd_registry_capacity_now(const struct esd_registry *r)
{
	return r->st->chunks * ESD_CHUNK_SLOTS;
}

/* esd_registry_hash - SipHash-1-3 of @len bytes at @p under @key; with
 * esd_registry_set_key, for unit tests that force tag collisions. */
uint64_t esd_registry_hash(const uint64_t key[2], const void *p, size_t len);
void esd_registry_set_key(struct esd_registry *r, const uint64_t key[2]);

#endif /* ERRSEQD_REGISTRY_H */
