/*
 * registry.c - slot names, generations and holders (see registry.h).
 *
 * Start-up rebuild.  One scan over the registry repairs what a kill -9 of
 * the daemon may have left half-done, judging the slot word of each entry
 * against the entry (the registry is the record; clients can scribble on
 * slot words, never on the registry):
 *
 *   entry state, gen       slot word gen   action
 *   LIVE, odd g            g               keep
 *   LIVE, odd g            g + 1           delete interrupted: finish it
 *   LIVE, odd g            other           warn; restore the word's gen
 *   LIVE, even g           any             delete interrupted after the
 *                                          entry's gen: finish it
 *   LIVE, bad name         any             warn; delete the entry
 *   LIVE, duplicate name   any             warn; keep the lower index,
 *                                          delete the other
 *   FREE/DELETED, even g   g               keep
 *   FREE/DELETED, even g   g + 1           create interrupted before its
 *                                          commit: roll forward to g + 2
 *   FREE/DELETED, even g   other           warn; restore the word's gen
 *   FREE/DELETED, odd g    any             create interrupted after the
 *                                          entry's gen: undo as a delete
 *   unknown state          any             warn; treat as DELETED
 *
 * Then FREE entries, then DELETED ones, go on the free list in index order.
 * A rolled-back create never told anyone its generation (the reply is sent
 * after the commit), so no handle can carry it.
 *
 * Memory orders.  The registry is written by this single-threaded daemon
 * and read back by a later daemon after a crash: the commit fields (state,
 * gen) are stored with release order so that the compiler cannot sink the
 * earlier stores below them; a later daemon's acquire loads see a complete
 * entry whenever they see the commit.  Loads by the running daemon of its
 * own stores may be relaxed.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "common/common.h"
#include "daemon/log.h"
#include "daemon/registry.h"
#include "daemon/slotword.h"

/* ---- SipHash-1-3 (Aumasson and Bernstein), a keyed string hash: names
 * come from clients, so a fixed hash would let one of them pile names
 * into one bucket chain. ---- */

#define ROTL64(x, b)	(((x) << (b)) | ((x) >> (64 - (b))))

static inline void sip_round(uint64_t v[4])
{
	v[0] += v[1];
	v[1] = ROTL64(v[1], 13);
	v[1] ^= v[0];
	v[0] = ROTL64(v[0], 32);
	v[2] += v[3];
	v[3] = ROTL64(v[3], 16);
	v[3] ^= v[2];
	v[0] += v[3];
	v[3] = ROTL64(v[3], 21);
	v[3] ^= v[0];
	v[2] += v[1];
	v[1] = ROTL64(v[1], 17);
	v[1] ^= v[2];
	v[2] = ROTL64(v[2], 32);
}

uint64_t esd_registry_hash(const uint64_t key[2], const void *p, size_t len)
{
	const uint8_t *in = p;
	uint64_t v[4] = {
		key[0] ^ 0x736f6d6570736575ull,
		key[1] ^ 0x646f72616e646f6dull,
		key[0] ^ 0x6c7967656e657261ull,
		key[1] ^ 0x7465646279746573ull,
	};
	uint64_t m, b = (uint64_t)len << 56;
	size_t i;

	for (i = 0; i + 8 <= len; i += 8) {
		memcpy(&m, in + i, 8);	/* little-endian (shm_layout.h) */
		v[3] ^= m;
		sip_round(v);
		v[0] ^= m;
	}
	for (size_t k = 0; i + k < len; k++)
		b |= (uint64_t)in[i + k] << (8 * k);
	v[3] ^= b;
	sip_round(v);
	v[0] ^= b;
	v[2] ^= 0xff;
	sip_round(v);
	sip_round(v);
	sip_round(v);
	return v[0] ^ v[1] ^ v[2] ^ v[3];
}

/* ---- registry entry access ---- */

static inline struct esd_reg_entry *entry(const struct esd_registry *r,
					  uint32_t i)
{
	return esd_reg_entry_at(r->reg_base, i);
}

static inline struct esd_slot *slot(const struct esd_registry *r, uint32_t i)
{
	return esd_seg_slot(r->seg_base, i);
}

static inline uint32_t entry_state(const struct esd_reg_entry *e)
{
	/* Acquire: at start-up this reads what a previous daemon committed
	 * with release order. */
	return __atomic_load_n(&e->state, __ATOMIC_ACQUIRE);
}

static inline uint32_t entry_gen(const struct esd_reg_entry *e)
{
	return __atomic_load_n(&e->gen, __ATOMIC_ACQUIRE);
}

/* Commit stores: release, so earlier entry writes cannot sink below. */
static inline void set_state(struct esd_reg_entry *e, uint32_t state)
{
	__atomic_store_n(&e->state, state, __ATOMIC_RELEASE);
}

static inline void set_gen(struct esd_reg_entry *e, uint32_t gen)
{
	__atomic_store_n(&e->gen, gen, __ATOMIC_RELEASE);
}

int esd_registry_is_live(const struct esd_registry *r, uint32_t index)
{
	return index < r->slot_count &&
	       entry_state(entry(r, index)) == ESD_REG_LIVE;
}

/* ---- the name hash: linear probing, buckets hold tag << 32 | index + 1,
 * where tag is the low half of the name's hash (so the home bucket and a
 * cheap first comparison need no registry access). ---- */

static inline uint32_t name_tag(const struct esd_registry *r,
				const char *name, size_t len)
{
	return (uint32_t)esd_registry_hash(r->key, name, len);
}

static int hash_find(const struct esd_registry *r, const char *name,
		     size_t len, uint32_t tag, uint32_t *pos)
{
	for (uint32_t i = tag & r->table_mask;; i = (i + 1) & r->table_mask) {
		uint64_t b = r->table[i];
		uint32_t idx;
		const struct esd_reg_entry *e;

		if (b == 0)
			return -ENOENT;
		if ((uint32_t)(b >> 32) != tag)
			continue;
		idx = (uint32_t)b - 1;
		e = entry(r, idx);
		if (e->name_len == len && memcmp(e->name, name, len) == 0) {
			if (pos)
				*pos = i;
			return (int)idx;
		}
	}
}

static void hash_insert(struct esd_registry *r, uint32_t index, uint32_t tag)
{
	uint32_t i = tag & r->table_mask;

	/* Load factor <= 1/2: an empty bucket is always near. */
	while (r->table[i] != 0)
		i = (i + 1) & r->table_mask;
	r->table[i] = (uint64_t)tag << 32 | (index + 1);
}

/* Empty bucket @i and shift later members of its run back into the gap,
 * so lookups never need tombstones. */
static void hash_remove_at(struct esd_registry *r, uint32_t i)
{
	uint32_t mask = r->table_mask;

	for (;;) {
		uint32_t j = i;

		r->table[i] = 0;
		for (;;) {
			uint32_t home;

			j = (j + 1) & mask;
			if (r->table[j] == 0)
				return;
			home = (uint32_t)(r->table[j] >> 32) & mask;
			/* Stays if its home lies cyclically in (i, j]. */
			if (i <= j ? (i < home && home <= j)
				   : (i < home || home <= j))
				continue;
			r->table[i] = r->table[j];
			i = j;
			break;
		}
	}
}

/* ---- the free list: a FIFO ring of indexes ---- */

static void free_push(struct esd_registry *r, uint32_t index)
{
	uint32_t tail = r->ring_head + r->ring_len;

	if (tail >= r->slot_count)
		tail -= r->slot_count;
	r->ring[tail] = index;
	r->ring_len++;
}

static int free_pop(struct esd_registry *r)
{
	uint32_t index;

	if (r->ring_len == 0)
		return -ENOSPC;
	index = r->ring[r->ring_head];
	if (++r->ring_head == r->slot_count)
		r->ring_head = 0;
	r->ring_len--;
	return (int)index;
}

/* ---- create and delete, in crash-safe order ---- */

/* Delete entry @e of slot @s at live generation @g (the crash-safe part). */
static void delete_commit(struct esd_reg_entry *e, struct esd_slot *s,
			  uint32_t g)
{
	esd_slot_bump(s, g + 1);	/* handles stale, sleepers woken */
	set_gen(e, g + 1);
	set_state(e, ESD_REG_DELETED);
}

int esd_registry_create(struct esd_registry *r, const char *name, size_t len,
			uid_t uid)
{
	struct esd_reg_entry *e;
	uint32_t gen;
	int index;

	if (len < 1 || len > ESD_NAME_MAX)
		return -EINVAL;
	index = free_pop(r);
	if (index < 0)
		return index;
	e = entry(r, (uint32_t)index);
	gen = entry_gen(e) + 1;	/* even (free) -> odd (live) */
	if (!ESD_GEN_LIVE(gen))
		gen++;		/* not reached: free entries are even */

	esd_slot_start(slot(r, (uint32_t)index), gen);
	memcpy(e->name, name, len);
	memset(e->name + len, 0, sizeof(e->name) - len);
	e->name_len = (uint16_t)len;
	e->reserved0 = 0;
	e->creator_uid = (uint32_t)uid;
	e->created_ns = esd_now_ns(CLOCK_REALTIME);
	set_gen(e, gen);
	set_state(e, ESD_REG_LIVE);	/* the commit */

	hash_insert(r, (uint32_t)index, name_tag(r, name, len));
	r->live++;
	return index;
}

int esd_registry_delete(struct esd_registry *r, uint32_t index)
{
	struct esd_reg_entry *e;
	uint32_t pos;

	if (!esd_registry_is_live(r, index))
		return -ENOENT;
	e = entry(r, index);
	if (hash_find(r, e->name, e->name_len,
		      name_tag(r, e->name, e->name_len), &pos) == (int)index)
		hash_remove_at(r, pos);
	delete_commit(e, slot(r, index), entry_gen(e));
	r->live--;
	if (r->holders[index] == 0)
		free_push(r, index);
	else
		r->zombies++;
	return 0;
}

int esd_registry_lookup(const struct esd_registry *r, const char *name,
			size_t len)
{
	if (len < 1 || len > ESD_NAME_MAX)
		return -ENOENT;
	return hash_find(r, name, len, name_tag(r, name, len), NULL);
}

int esd_registry_hold(struct esd_registry *r, uint32_t index)
{
	if (index >= r->slot_count)
		return -EINVAL;
	if (r->holders[index] == UINT32_MAX)
		return -EMFILE;
	r->holders[index]++;
	return 0;
}

void esd_registry_release(struct esd_registry *r, uint32_t index, uint32_t n)
{
	if (index >= r->slot_count || r->holders[index] == 0)
		return;
	if (n > r->holders[index])
		n = r->holders[index];
	r->holders[index] -= n;
	if (r->holders[index] == 0 &&
	    entry_state(entry(r, index)) != ESD_REG_LIVE) {
		r->zombies--;
		free_push(r, index);
	}
}

void esd_registry_info(const struct esd_registry *r, uint32_t index,
		       struct esp_slot_info *out)
{
	const struct esd_reg_entry *e = entry(r, index);
	struct esd_slot *s = slot(r, index);

	memset(out, 0, sizeof(*out));
	out->index = index;
	out->gen = entry_gen(e);
	out->creator_uid = e->creator_uid;
	out->holders = r->holders[index];
	out->created_ns = e->created_ns;
	/* Acquire, as a client's peek: pairs with the setter's CAS. */
	out->word = __atomic_load_n(&s->word, __ATOMIC_ACQUIRE);
	/* Relaxed: statistics are diagnostics (design.md). */
	out->sets_total = __atomic_load_n(&s->sets_total, __ATOMIC_RELAXED);
	out->last_set_ns = __atomic_load_n(&s->last_set_ns, __ATOMIC_RELAXED);
	out->last_pid = __atomic_load_n(&s->last_pid, __ATOMIC_RELAXED);
	out->name_len = e->name_len <= ESD_NAME_MAX ? e->name_len : 0;
	memcpy(out->name, e->name, out->name_len);
}

uint32_t esd_registry_list(const struct esd_registry *r, uint32_t start,
			   uint32_t max, struct esp_slot_info *out,
			   uint32_t *next)
{
	uint32_t n = 0;

	*next = ESP_LIST_END;
	if (max == 0) {
		if (start < r->slot_count)
			*next = start;
		return 0;
	}
	for (uint32_t i = start; i < r->slot_count; i++) {
		if (!esd_registry_is_live(r, i))
			continue;
		esd_registry_info(r, i, &out[n++]);
		if (n == max) {
			if (i + 1 < r->slot_count)
				*next = i + 1;
			break;
		}
	}
	return n;
}

/* ---- start-up rebuild ---- */

/* Repair one non-LIVE entry (table at the top of this file). */
static void repair_free(struct esd_registry *r, uint32_t i,
			struct esd_rebuild_stats *st)
{
	struct esd_reg_entry *e = entry(r, i);
	struct esd_slot *s = slot(r, i);
	uint32_t g = entry_gen(e);
	uint32_t wg = ESD_WORD_GEN(__atomic_load_n(&s->word,
						   __ATOMIC_SEQ_CST));

	if (ESD_GEN_LIVE(g)) {
		esd_debug("slot %u: rolling back a create interrupted before "
			  "its commit (gen %u)", i, g);
		esd_slot_bump(s, g + 1);
		set_gen(e, g + 1);
		st->rolled_back++;
	} else if (wg == g + 1) {
		esd_debug("slot %u: rolling back a create interrupted before "
			  "its commit (word gen %u)", i, wg);
		esd_slot_bump(s, g + 2);
		set_gen(e, g + 2);
		st->rolled_back++;
	} else if (wg != g) {
		esd_warn("slot %u: free slot's word has generation %u, the "
			 "registry says %u; restoring it", i, wg, g);
		esd_slot_bump(s, g);
		st->repaired_words++;
	}
}

/* Repair one LIVE entry; returns true if it stays LIVE. */
static bool repair_live(struct esd_registry *r, uint32_t i,
			struct esd_rebuild_stats *st)
{
	struct esd_reg_entry *e = entry(r, i);
	struct esd_slot *s = slot(r, i);
	uint32_t g = entry_gen(e);
	uint32_t wg = ESD_WORD_GEN(__atomic_load_n(&s->word,
						   __ATOMIC_SEQ_CST));

	if (!ESD_GEN_LIVE(g)) {
		/* The delete stored the entry's gen but not its state. */
		esd_info("slot %u: finishing a delete interrupted by a crash",
			 i);
		if (wg != g)
			esd_slot_bump(s, g);
		else
			esd_slot_wake(s);
		set_state(e, ESD_REG_DELETED);
		st->finished_deletes++;
		return false;
	}
	if (e->name_len < 1 || e->name_len > ESD_NAME_MAX ||
	    esd_name_check(e->name, e->name_len) < 0) {
		esd_warn("slot %u: registry entry has an invalid name; "
			 "deleting it", i);
		delete_commit(e, s, g);
		st->dropped++;
		return false;
	}
	if (wg == g + 1) {
		/* The delete bumped the word but stored nothing else. */
		esd_info("slot %u (%.*s): finishing a delete interrupted by a "
			 "crash", i, (int)e->name_len, e->name);
		esd_slot_wake(s);
		set_gen(e, g + 1);
		set_state(e, ESD_REG_DELETED);
		st->finished_deletes++;
		return false;
	}
	if (wg != g) {
		esd_warn("slot %u (%.*s): word has generation %u, the registry "
			 "says %u; restoring it", i, (int)e->name_len, e->name,
			 wg, g);
		esd_slot_regen(s, g);
		st->repaired_words++;
	}
	return true;
}

static void rebuild(struct esd_registry *r, struct esd_rebuild_stats *st)
{
	for (uint32_t i = 0; i < r->slot_count; i++) {
		struct esd_reg_entry *e = entry(r, i);
		uint32_t state = entry_state(e), tag;
		int other;

		if (state == ESD_REG_FREE || state == ESD_REG_DELETED) {
			repair_free(r, i, st);
			continue;
		}
		if (state != ESD_REG_LIVE) {
			esd_warn("slot %u: unknown registry state %u; treating "
				 "it as deleted", i, state);
			set_state(e, ESD_REG_DELETED);
			repair_free(r, i, st);
			continue;
		}
		if (!repair_live(r, i, st))
			continue;
		tag = name_tag(r, e->name, e->name_len);
		other = hash_find(r, e->name, e->name_len, tag, NULL);
		if (other >= 0) {
			esd_warn("slot %u (%.*s): same name as slot %d; "
				 "deleting the later one", i,
				 (int)e->name_len, e->name, other);
			delete_commit(e, slot(r, i), entry_gen(e));
			st->dropped++;
			continue;
		}
		hash_insert(r, i, tag);
		r->live++;
	}
	for (uint32_t i = 0; i < r->slot_count; i++)
		if (entry_state(entry(r, i)) == ESD_REG_FREE)
			free_push(r, i);
	for (uint32_t i = 0; i < r->slot_count; i++)
		if (entry_state(entry(r, i)) == ESD_REG_DELETED)
			free_push(r, i);
	st->live = r->live;
	st->free = r->ring_len;
}

int esd_registry_init(struct esd_registry *r, void *seg_base, void *reg_base,
		      uint32_t slot_count, struct esd_rebuild_stats *st)
{
	struct esd_rebuild_stats local;
	size_t buckets = 16;

	memset(r, 0, sizeof(*r));
	if (!st)
		st = &local;
	memset(st, 0, sizeof(*st));
	if (slot_count < 1 || slot_count > ESD_MAX_SLOTS)
		return -EINVAL;
	r->seg_base = seg_base;
	r->reg_base = reg_base;
	r->slot_count = slot_count;
	while (buckets < 2 * (size_t)slot_count)
		buckets *= 2;
	r->table_mask = (uint32_t)(buckets - 1);
	r->table = calloc(buckets, sizeof(*r->table));
	r->ring = calloc(slot_count, sizeof(*r->ring));
	r->holders = calloc(slot_count, sizeof(*r->holders));
	if (!r->table || !r->ring || !r->holders) {
		esd_registry_fini(r);
		return -ENOMEM;
	}
	if (getrandom(r->key, sizeof(r->key), 0) != (ssize_t)sizeof(r->key)) {
		/* No entropy source: the hash still works, just unkeyed
		 * against a local attacker choosing names. */
		r->key[0] = esd_now_ns(CLOCK_MONOTONIC) ^ (uint64_t)getpid();
		r->key[1] = esd_now_ns(CLOCK_REALTIME);
	}
	rebuild(r, st);
	return 0;
}

void esd_registry_fini(struct esd_registry *r)
{
	free(r->table);
	free(r->ring);
	free(r->holders);
	r->table = NULL;
	r->ring = NULL;
	r->holders = NULL;
}
