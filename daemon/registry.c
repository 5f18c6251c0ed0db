/*
 * registry.c - slot names, writer sets, generations and holders (see
 * registry.h).
 *
 * Start-up rebuild.  One scan over the entries of every chunk in use
 * repairs what a kill -9 of the daemon may have left half-done.  It judges
 * from the private record only: a slot word is client-writable memory, so a
 * word that disagrees with the record is restored (and logged), never taken
 * as an order to create or delete anything.
 *
 *   entry state, gen       action
 *   LIVE, odd g            keep; a word whose generation is not g is
 *                          restored to (g, its errseq value)
 *   LIVE, bad name or dup  warn; delete (the record itself is damaged)
 *   LIVE, even g           not written by any store order: warn, delete
 *   DELETING               finish the delete (the intent was recorded)
 *   FREE/DELETED, even g   keep; a word not (g, 0) is restored to it
 *   FREE/DELETED, odd g    a create stored gen but not its commit: undo
 *                          (gen g + 1, word (g + 1, 0)); nobody was told g
 *   unknown state          warn; treat as DELETED
 *
 * Then, per domain, FREE entries and then DELETED ones go on the domain's
 * free list in index order.  The waiters word of every slot is reset to 0:
 * no connection is armed after a restart (clients arm again).
 *
 * Memory orders.  The registry is written by this single-threaded daemon
 * and read back by a later daemon after a crash: the commit fields (state,
 * gen) are stored with release order so that the compiler cannot sink the
 * earlier stores below them; a later daemon's acquire loads see a complete
 * entry whenever they see the commit.
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
#include "common/errseq_word.h"
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

/* ---- writer domains: (uid, gid) -> chunks and a FIFO free list ---- */

struct esd_domain {
	uint32_t uid, gid;
	uint32_t *ring;		/* free indexes, FIFO */
	uint32_t head, len, cap;
};

static int domain_find(const struct esd_registry *r, uint32_t uid,
		       uint32_t gid)
{
	for (uint32_t i = 0; i < r->ndomains; i++)
		if (r->domains[i].uid == uid && r->domains[i].gid == gid)
			return (int)i;
	return -ENOENT;
}

static int domain_get(struct esd_registry *r, uint32_t uid, uint32_t gid)
{
	int d = domain_find(r, uid, gid);

	if (d >= 0)
		return d;
	if (r->ndomains == r->domains_cap) {
		uint32_t cap = r->domains_cap ? r->domains_cap * 2 : 8;
		struct esd_domain *n = realloc(r->domains, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		r->domains = n;
		r->domains_cap = cap;
	}
	r->domains[r->ndomains] = (struct esd_domain){ .uid = uid, .gid = gid };
	return (int)r->ndomains++;
}

/* Make room for @more indexes on @d's ring (unwrapping it). */
static int ring_reserve(struct esd_domain *d, uint32_t more)
{
	uint32_t cap = d->cap ? d->cap : ESD_CHUNK_SLOTS;
	uint32_t *n;

	if (d->len + more <= d->cap)
		return 0;
	while (cap < d->len + more)
		cap *= 2;
	n = malloc(cap * sizeof(*n));
	if (!n)
		return -ENOMEM;
	for (uint32_t i = 0; i < d->len; i++)
		n[i] = d->ring[(d->head + i) % d->cap];
	free(d->ring);
	d->ring = n;
	d->cap = cap;
	d->head = 0;
	return 0;
}

/* Push @index on its domain's free list (room was reserved per chunk). */
static void free_push(struct esd_registry *r, uint32_t index)
{
	struct esd_domain *d =
		&r->domains[r->chunk_domain[ESD_INDEX_CHUNK(index)]];

	if (d->len >= d->cap)
		return;	/* not reached: each chunk reserves its slots */
	d->ring[(d->head + d->len) % d->cap] = index;
	d->len++;
}

static int free_pop(struct esd_domain *d)
{
	uint32_t index;

	if (d->len == 0)
		return -ENOSPC;
	index = d->ring[d->head];
	d->head = (d->head + 1) % d->cap;
	d->len--;
	return (int)index;
}

/* Attach chunk @c (owned by @uid/@gid) to its domain: reserve room for its
 * slots.  Returns the domain or -ENOMEM. */
static int chunk_attach(struct esd_registry *r, uint32_t c, uint32_t uid,
			uint32_t gid)
{
	int d = domain_get(r, uid, gid);

	if (d < 0)
		return d;
	if (ring_reserve(&r->domains[d], ESD_CHUNK_SLOTS) < 0)
		return -ENOMEM;
	r->chunk_domain[c] = (uint32_t)d;
	return d;
}

/* ---- registry entry access ---- */

static inline struct esd_reg_entry *entry(const struct esd_registry *r,
					  uint32_t i)
{
	return esd_store_entry(r->st, i);
}

static inline struct esd_slot *slot(const struct esd_registry *r, uint32_t i)
{
	return esd_store_slot(r->st, i);
}

/* Is @i an index of a chunk in use? */
static inline bool in_use(const struct esd_registry *r, uint32_t i)
{
	return i < r->max_slots && ESD_INDEX_CHUNK(i) < r->st->chunks;
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

/* ---- the LIVE bitmap and per-chunk counts (what LIST walks): kept in
 * step with every entry that turns LIVE or stops being LIVE ---- */

#define WORDS_PER_CHUNK	(ESD_CHUNK_SLOTS / 64u)
_Static_assert(ESD_CHUNK_SLOTS % 64u == 0, "a chunk is whole bitmap words");

static void mark_live(struct esd_registry *r, uint32_t index, bool live)
{
	uint64_t bit = 1ull << (index % 64);
	uint32_t c = ESD_INDEX_CHUNK(index);

	if (live) {
		r->live_bits[index / 64] |= bit;
		r->chunk_live[c]++;
	} else {
		r->live_bits[index / 64] &= ~bit;
		if (r->chunk_live[c] > 0)
			r->chunk_live[c]--;
	}
}

bool esd_registry_is_live(const struct esd_registry *r, uint32_t index)
{
	return in_use(r, index) &&
	       entry_state(entry(r, index)) == ESD_REG_LIVE;
}

uint32_t esd_registry_gen(const struct esd_registry *r, uint32_t index)
{
	return entry_gen(entry(r, index));
}

uid_t esd_registry_creator(const struct esd_registry *r, uint32_t index)
{
	return (uid_t)entry(r, index)->creator_uid;
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

/* ---- create and delete, in crash-safe order ---- */

static void count_creator(struct esd_registry *r, uint32_t uid, int delta)
{
	struct esd_usage *u = esd_quota_get(r->quota, (uid_t)uid);

	if (!u)
		return;
	if (delta > 0)
		u->slots++;
	else if (u->slots > 0)
		u->slots--;
}

/* Delete entry @e of slot @s at live generation @g (the crash-safe part,
 * after the DELETING intent is stored). */
static void delete_commit(struct esd_reg_entry *e, struct esd_slot *s,
			  uint32_t g)
{
	esd_slot_bump(s, g + 1);	/* handles stale, sleepers woken */
	set_gen(e, g + 1);
	set_state(e, ESD_REG_DELETED);
}

int esd_registry_create(struct esd_registry *r, const char *name, size_t len,
			uid_t uid, uint32_t gid)
{
	struct esd_reg_entry *e;
	uint32_t gen;
	int d, index;

	if (len < 1 || len > ESD_NAME_MAX)
		return -EINVAL;
	if (r->live >= r->max_live)
		return -ENOSPC;
	d = domain_get(r, (uint32_t)uid, gid);
	if (d < 0)
		return d;
	index = free_pop(&r->domains[d]);
	if (index < 0) {
		struct esd_usage *u = esd_quota_get(r->quota, uid);
		int c;

		if (!u)
			return -ENOMEM;
		if (r->max_uid_chunks && u->chunks >= r->max_uid_chunks &&
		    uid != 0 && uid != r->daemon_uid)
			return -EDQUOT;

		/* Room on the domain's ring before the chunk counts, so an
		 * allocation failure leaves nothing half-done. */
		if (ring_reserve(&r->domains[d], ESD_CHUNK_SLOTS) < 0)
			return -ENOMEM;
		c = esd_store_add_chunk(r->st, (uint32_t)uid, gid);
		if (c < 0)
			return c;
		r->chunk_domain[c] = (uint32_t)d;
		u->chunks++;
		for (uint32_t i = 0; i < ESD_CHUNK_SLOTS; i++)
			free_push(r, (uint32_t)c * ESD_CHUNK_SLOTS + i);
		index = free_pop(&r->domains[d]);
	}
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
	e->writer_gid = gid;
	e->created_ns = esd_now_ns(CLOCK_REALTIME);
	set_gen(e, gen);
	set_state(e, ESD_REG_LIVE);	/* the commit */

	hash_insert(r, (uint32_t)index, name_tag(r, name, len));
	mark_live(r, (uint32_t)index, true);
	r->live++;
	count_creator(r, (uint32_t)uid, +1);
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
	set_state(e, ESD_REG_DELETING);	/* the intent */
	delete_commit(e, slot(r, index), entry_gen(e));
	mark_live(r, index, false);
	r->live--;
	count_creator(r, e->creator_uid, -1);
	if (r->armed[index]) {
		r->armed[index] = 0;
		__atomic_store_n(&slot(r, index)->waiters, 0, __ATOMIC_SEQ_CST);
	}
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

bool esd_cred_in_group(const struct esd_cred *who, uint32_t gid)
{
	if (gid == ESD_NO_GID)
		return false;
	if ((uint32_t)who->gid == gid)
		return true;
	for (uint32_t i = 0; i < who->ngroups; i++)
		if ((uint32_t)who->groups[i] == gid)
			return true;
	return false;
}

bool esd_registry_may_write(const struct esd_registry *r, uint32_t index,
			    const struct esd_cred *who)
{
	const struct esd_domain *d =
		&r->domains[r->chunk_domain[ESD_INDEX_CHUNK(index)]];

	return who->uid == 0 || who->uid == r->daemon_uid ||
	       (uint32_t)who->uid == d->uid || esd_cred_in_group(who, d->gid);
}

bool esd_registry_may_delete(const struct esd_registry *r, uint32_t index,
			     const struct esd_cred *who)
{
	return who->uid == 0 || who->uid == r->daemon_uid ||
	       (uint32_t)who->uid == entry(r, index)->creator_uid;
}

bool esd_registry_is_same(const struct esd_registry *r, uint32_t index,
			  uint32_t gen, const char *name, size_t len)
{
	const struct esd_reg_entry *e;

	if (!esd_registry_is_live(r, index))
		return false;
	e = entry(r, index);
	return entry_gen(e) == gen && e->name_len == len &&
	       memcmp(e->name, name, len) == 0;
}

int esd_registry_hold(struct esd_registry *r, uint32_t index)
{
	if (index >= r->max_slots)
		return -EINVAL;
	if (r->holders[index] == UINT32_MAX)
		return -EMFILE;
	r->holders[index]++;
	return 0;
}

void esd_registry_release(struct esd_registry *r, uint32_t index, uint32_t n)
{
	if (index >= r->max_slots || r->holders[index] == 0)
		return;
	if (n > r->holders[index])
		n = r->holders[index];
	r->holders[index] -= n;
	if (r->holders[index] == 0 && in_use(r, index) &&
	    entry_state(entry(r, index)) != ESD_REG_LIVE) {
		r->zombies--;
		free_push(r, index);
	}
}

void esd_registry_arm(struct esd_registry *r, uint32_t index, bool on)
{
	if (!in_use(r, index))
		return;
	if (on)
		r->armed[index]++;
	else if (r->armed[index] > 0)
		r->armed[index]--;
	/* seq_cst: pairs with the setter's seq_cst CAS then load of waiters
	 * (doc/shm-layout.md, "Waiting"); the ARM reply is sent after it. */
	__atomic_store_n(&slot(r, index)->waiters, r->armed[index],
			 __ATOMIC_SEQ_CST);
}

int esd_registry_mark_seen(struct esd_registry *r, uint32_t index,
			   uint32_t gen, uint32_t value)
{
	uint64_t old = ESD_WORD(gen, value);

	if (!esd_registry_is_live(r, index) || entry_gen(entry(r, index)) != gen)
		return -ESTALE;
	if (value & ERRSEQ_SEEN)
		return 0;	/* nothing to mark */
	/* One try, acq_rel as a client's check_and_advance: a failure means
	 * a setter moved on, or someone marked it already. */
	__atomic_compare_exchange_n(&slot(r, index)->word, &old,
				    ESD_WORD(gen, value | ERRSEQ_SEEN), false,
				    __ATOMIC_ACQ_REL, __ATOMIC_RELAXED);
	return 0;
}

void esd_registry_info(const struct esd_registry *r, uint32_t index,
		       const struct esd_cred *who, struct esp_slot_info *out)
{
	const struct esd_reg_entry *e = entry(r, index);
	struct esd_slot *s = slot(r, index);

	memset(out, 0, sizeof(*out));
	out->index = index;
	out->gen = entry_gen(e);
	out->creator_uid = e->creator_uid;
	out->writer_gid = e->writer_gid;
	out->holders = r->holders[index];
	out->created_ns = e->created_ns;
	if (who && esd_registry_may_write(r, index, who))
		out->flags |= ESP_INFO_WRITABLE;
	/* Acquire, as a client's peek: pairs with the setter's CAS. */
	out->word = __atomic_load_n(&s->word, __ATOMIC_ACQUIRE);
	/* Relaxed: statistics are diagnostics (doc/design.md). */
	out->sets_total = __atomic_load_n(&s->sets_total, __ATOMIC_RELAXED);
	out->last_set_ns = __atomic_load_n(&s->last_set_ns, __ATOMIC_RELAXED);
	out->last_pid = __atomic_load_n(&s->last_pid, __ATOMIC_RELAXED);
	out->name_len = e->name_len <= ESD_NAME_MAX ? e->name_len : 0;
	memcpy(out->name, e->name, out->name_len);
}

/* The first LIVE index in [@i, @end), or @end: whole chunks without a
 * LIVE entry are skipped by their count, then 64 entries a word. */
static uint32_t next_live(const struct esd_registry *r, uint32_t i,
			  uint32_t end)
{
	while (i < end) {
		uint32_t c = ESD_INDEX_CHUNK(i), w, stop;
		uint64_t bits;

		if (r->chunk_live[c] == 0) {
			i = (c + 1) * ESD_CHUNK_SLOTS;
			continue;
		}
		w = i / 64;
		stop = (c + 1) * WORDS_PER_CHUNK;
		bits = r->live_bits[w] & (~0ull << (i % 64));
		while (!bits && ++w < stop)
			bits = r->live_bits[w];
		if (!bits) {
			i = (c + 1) * ESD_CHUNK_SLOTS;
			continue;
		}
		i = w * 64 + (uint32_t)__builtin_ctzll(bits);
		break;
	}
	return i < end ? i : end;
}

uint32_t esd_registry_list(const struct esd_registry *r, uint32_t start,
			   uint32_t max, const struct esd_cred *who,
			   struct esp_slot_info *out, uint32_t *next)
{
	uint32_t n = 0, end = esd_registry_capacity_now(r);

	*next = ESP_LIST_END;
	if (max == 0) {
		if (start < end)
			*next = start;
		return 0;
	}
	for (uint32_t i = next_live(r, start, end); i < end;
	     i = next_live(r, i + 1, end)) {
		esd_registry_info(r, i, who, &out[n++]);
		if (n == max) {
			if (i + 1 < end)
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
	uint64_t w = __atomic_load_n(&s->word, __ATOMIC_SEQ_CST);

	if (entry_state(e) == ESD_REG_DELETING) {
		esd_info("slot %u (%.*s): finishing a delete interrupted by a "
			 "crash", i, (int)(e->name_len <= ESD_NAME_MAX ?
					   e->name_len : 0), e->name);
		if (ESD_GEN_LIVE(g)) {
			delete_commit(e, s, g);
		} else {
			esd_slot_regen(s, g);
			esd_slot_wake(s);
			set_state(e, ESD_REG_DELETED);
		}
		st->finished_deletes++;
		return;
	}
	if (ESD_GEN_LIVE(g)) {
		esd_debug("slot %u: rolling back a create interrupted before "
			  "its commit (gen %u)", i, g);
		esd_slot_bump(s, g + 1);
		set_gen(e, g + 1);
		st->rolled_back++;
		return;
	}
	if (ESD_WORD_GEN(w) != g) {
		/* A create that stopped after its word store, or a writer's
		 * scribble: the record says free at g. */
		esd_slot_regen(s, g);
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

	if (!ESD_GEN_LIVE(g) || e->name_len < 1 ||
	    e->name_len > ESD_NAME_MAX ||
	    esd_name_check(e->name, e->name_len) < 0) {
		esd_warn("slot %u: the registry entry is damaged; deleting "
			 "it", i);
		set_state(e, ESD_REG_DELETING);
		delete_commit(e, s, g | 1u);
		st->dropped++;
		return false;
	}
	if (wg != g) {
		esd_warn("slot %u (%.*s): its word has generation %u, the "
			 "registry says %u; restoring the word (a writer of "
			 "the slot scribbled on it)", i, (int)e->name_len,
			 e->name, wg, g);
		esd_slot_regen(s, g);
		esd_slot_wake(s);
		st->repaired_words++;
	}
	return true;
}

static void rebuild(struct esd_registry *r, struct esd_rebuild_stats *st)
{
	uint32_t end = esd_registry_capacity_now(r);

	for (uint32_t i = 0; i < end; i++) {
		struct esd_reg_entry *e = entry(r, i);
		uint32_t state = entry_state(e), tag;
		int other;

		__atomic_store_n(&slot(r, i)->waiters, 0, __ATOMIC_RELAXED);
		if (state == ESD_REG_FREE || state == ESD_REG_DELETED ||
		    state == ESD_REG_DELETING) {
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
			set_state(e, ESD_REG_DELETING);
			delete_commit(e, slot(r, i), entry_gen(e));
			st->dropped++;
			continue;
		}
		hash_insert(r, i, tag);
		mark_live(r, i, true);
		r->live++;
		count_creator(r, e->creator_uid, +1);
	}
	for (uint32_t i = 0; i < end; i++)
		if (entry_state(entry(r, i)) == ESD_REG_FREE) {
			free_push(r, i);
			st->free++;
		}
	for (uint32_t i = 0; i < end; i++)
		if (entry_state(entry(r, i)) == ESD_REG_DELETED) {
			free_push(r, i);
			st->free++;
		}
	st->live = r->live;
}

int esd_registry_init(struct esd_registry *r, struct esd_store *st,
		      struct esd_quota *quota, uid_t daemon_uid,
		      struct esd_rebuild_stats *stats)
{
	struct esd_rebuild_stats local;
	size_t buckets = 16;

	memset(r, 0, sizeof(*r));
	if (!stats)
		stats = &local;
	memset(stats, 0, sizeof(*stats));
	r->st = st;
	r->quota = quota;
	r->daemon_uid = daemon_uid;
	r->max_slots = st->max_slots;
	r->max_live = st->max_slots;
	while (buckets < 2 * (size_t)r->max_slots)
		buckets *= 2;
	r->table_mask = (uint32_t)(buckets - 1);
	r->table = calloc(buckets, sizeof(*r->table));
	r->holders = calloc(r->max_slots, sizeof(*r->holders));
	r->armed = calloc(r->max_slots, sizeof(*r->armed));
	r->chunk_domain = calloc(st->max_chunks, sizeof(*r->chunk_domain));
	r->live_bits = calloc((size_t)st->max_chunks * WORDS_PER_CHUNK,
			      sizeof(*r->live_bits));
	r->chunk_live = calloc(st->max_chunks, sizeof(*r->chunk_live));
	if (!r->table || !r->holders || !r->armed || !r->chunk_domain ||
	    !r->live_bits || !r->chunk_live)
		goto nomem;
	if (getrandom(r->key, sizeof(r->key), 0) != (ssize_t)sizeof(r->key)) {
		/* No entropy source: the hash still works, just unkeyed
		 * against a local attacker choosing names. */
		r->key[0] = esd_now_ns(CLOCK_MONOTONIC) ^ (uint64_t)getpid();
		r->key[1] = esd_now_ns(CLOCK_REALTIME);
	}
	for (uint32_t c = 0; c < st->chunks; c++) {
		const struct esd_reg_chunk *ct = esd_store_chunk(st, c);

		struct esd_usage *u = esd_quota_get(quota, ct->uid);

		if (!u || chunk_attach(r, c, ct->uid, ct->gid) < 0)
			goto nomem;
		u->chunks++;
	}
	rebuild(r, stats);
	return 0;
nomem:
	esd_registry_fini(r);
	return -ENOMEM;
}

void esd_registry_set_limits(struct esd_registry *r, uint32_t max_live,
			     uint32_t max_uid_chunks)
{
	r->max_live = max_live < r->max_slots ? max_live : r->max_slots;
	r->max_uid_chunks = max_uid_chunks;
}

void esd_registry_set_key(struct esd_registry *r, const uint64_t key[2])
{
	uint32_t end = esd_registry_capacity_now(r);

	r->key[0] = key[0];
	r->key[1] = key[1];
	memset(r->table, 0, ((size_t)r->table_mask + 1) * sizeof(*r->table));
	for (uint32_t i = 0; i < end; i++) {
		const struct esd_reg_entry *e = entry(r, i);

		if (entry_state(e) == ESD_REG_LIVE)
			hash_insert(r, i, name_tag(r, e->name, e->name_len));
	}
}

void esd_registry_fini(struct esd_registry *r)
{
	for (uint32_t d = 0; d < r->ndomains; d++)
		free(r->domains[d].ring);
	free(r->domains);
	free(r->table);
	free(r->holders);
	free(r->armed);
	free(r->chunk_domain);
	free(r->live_bits);
	free(r->chunk_live);
	r->live_bits = NULL;
	r->chunk_live = NULL;
	r->domains = NULL;
	r->ndomains = r->domains_cap = 0;
	r->table = NULL;
	r->holders = r->armed = r->chunk_domain = NULL;
}
