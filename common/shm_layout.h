/*
 * shm_layout.h - the shared-memory ABI of errseqd, layout 2 (internal,
 * never installed).  doc/shm-layout.md is the prose form of this file and
 * the one account of the slot word; read it before changing anything here.
 *
 * Least privilege is enforced by the memory itself.  Slots live in chunks
 * of ESD_CHUNK_SLOTS slots; every chunk belongs to one writer domain (the
 * set of users who may write its slots: a creator uid, plus a group if the
 * creator asked for one, plus root and the daemon's user).  A chunk is a
 * sealed memfd (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL, mode 0600), so
 * nobody can change its size, and a client receives it either O_RDWR (it is
 * in the domain) or O_RDONLY (it may only watch), once per connection.
 * A chunk has no header: nothing in client-writable memory is trusted.
 *
 *   chunk c, offset i * 64    struct esd_slot for global index
 *                             c * ESD_CHUNK_SLOTS + i
 *
 * Everything the daemon must trust (names, writer sets, generations of
 * record, delete intents, incarnation) is in its private registry, one more
 * memfd that never leaves the daemon (and its keeper, see daemon/store.h):
 *
 *   offset 0                  struct esd_reg_header, padded to 4096
 *   offset 4096               struct esd_reg_chunk[max_chunks], padded to
 *                             a page: which domain owns each chunk
 *   offset esd_reg_entries()  struct esd_reg_entry[max_slots]
 *
 * The slot word: generation (high half) | errseq_t (low half); one CAS
 * checks "still my slot?" and changes the value.  Generation odd: live,
 * even: free.  Create: g even -> g + 1, value 0.  Delete: g -> g + 1 and the
 * value flipped (~v), so every futex sleeper's expected value is stale.
 */
#ifndef ERRSEQ_COMMON_SHM_LAYOUT_H
#define ERRSEQ_COMMON_SHM_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

#define ESD_CACHELINE		64u
#define ESD_PAGE		4096u

#define ESD_REG_MAGIC		0x3247455244515345ull	/* "ESQDREG2" LE */
#define ESD_LAYOUT_REV		3u	/* bump on a change sizes don't show */

#define ESD_NAME_MAX		128u	/* bytes of [A-Za-z0-9._:/@-] */
#define ESD_CHUNK_SHIFT		10u
#define ESD_CHUNK_SLOTS		(1u << ESD_CHUNK_SHIFT)	/* slots per chunk */
#define ESD_DEFAULT_SLOTS	65536u	/* default global maximum */
#define ESD_MAX_SLOTS		(1u << 24)
#define ESD_MAX_CHUNKS		(ESD_MAX_SLOTS / ESD_CHUNK_SLOTS)
#define ESD_NO_GID		UINT32_MAX	/* a domain without a group */

/*
 * One slot: exactly one cache line.  Writers of its domain write word and
 * the statistics; the daemon writes word (create, delete, SEEN for
 * read-only watchers) and waiters.  Nothing here is trusted by the daemon:
 * it only ever CASes the word or overwrites the rest from its own record.
 *
 * word and sets_total are the first 16 bytes, 16-aligned, so that a set
 * changes both with one 16-byte CAS where the CPU has one (layout 3; see
 * client/slot.c).  8-byte CASes on word alone (the daemon, SEEN) and
 * 8-byte adds on sets_total alone (a repeat set, or a CPU without the
 * 16-byte CAS) mix with it safely: every one is a locked read-modify-
 * write of the same bytes.
 */
struct esd_slot {
	uint64_t word;		/* generation << 32 | errseq_t; CAS only */
	uint64_t sets_total;	/* valid set calls (16-byte CAS or add) */
	uint64_t last_set_ns;	/* CLOCK_REALTIME_COARSE of the latest set */
	uint32_t waiters;	/* armed watchers (daemon-owned hint) */
	int32_t last_pid;	/* pid of the latest setter */
	uint8_t pad[32];
} __attribute__((aligned(ESD_CACHELINE)));

#define ESD_CHUNK_BYTES		((uint64_t)ESD_CHUNK_SLOTS * sizeof(struct esd_slot))

/* Registry header at offset 0.  Daemon only. */
struct esd_reg_header {
	uint64_t magic;		/* ESD_REG_MAGIC, stored last at creation */
	uint32_t layout_version;	/* ESD_LAYOUT_VERSION */
	uint32_t entry_size;	/* sizeof(struct esd_reg_entry) */
	uint32_t max_slots;	/* the global maximum, fixed at creation */
	uint32_t chunks;	/* chunks in use: 0..max_chunks (release) */
	uint64_t incarnation;	/* random, non-zero; new at every creation */
	uint64_t created_ns;	/* CLOCK_REALTIME at creation */
};

/* Which domain owns chunk c.  Written once, before header.chunks counts
 * it (release), so a crash never leaves a counted chunk without owner. */
struct esd_reg_chunk {
	uint32_t uid;		/* the domain's user */
	uint32_t gid;		/* its group, or ESD_NO_GID */
	uint32_t reserved[2];
};

enum esd_reg_state {
	ESD_REG_FREE = 0,	/* never used, or reused after a delete */
	ESD_REG_LIVE = 1,	/* named and open for handles */
	ESD_REG_DELETED = 2,	/* deleted; its index is reused last */
	ESD_REG_DELETING = 3,	/* delete intent: finish it at start */
};

/*
 * One registry entry per global slot index.  Crash-safe by store order:
 * a create writes name, creator and gen before state := LIVE (the commit);
 * a delete stores state := DELETING (the intent), bumps the slot word,
 * then stores gen and state := DELETED.
 */
struct esd_reg_entry {
	uint32_t state;		/* enum esd_reg_state */
	uint32_t gen;		/* the generation the slot word should carry */
	uint32_t creator_uid;	/* SO_PEERCRED uid of the creating client */
	uint16_t name_len;	/* 1..ESD_NAME_MAX */
	uint16_t reserved0;
	uint64_t created_ns;	/* CLOCK_REALTIME at create */
	char name[ESD_NAME_MAX];	/* not NUL-terminated; name_len bytes */
	uint32_t writer_gid;	/* writer group, or ESD_NO_GID */
	uint8_t pad[36];
};

#define ESD_LAYOUT_VERSION						\
	((uint32_t)((ESD_LAYOUT_REV << 24) |				\
		    ((uint32_t)sizeof(struct esd_slot) << 16) |		\
		    ((uint32_t)sizeof(struct esd_reg_header) << 8) |	\
		    ((uint32_t)sizeof(struct esd_reg_entry) & 0xffu)))

/* Pin the ABI: a change here must be deliberate. */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
	       "the futex word is the low half of the slot word");
_Static_assert(sizeof(struct esd_slot) == ESD_CACHELINE, "slot = 1 line");
_Static_assert(_Alignof(struct esd_slot) == ESD_CACHELINE, "slot align");
_Static_assert(offsetof(struct esd_slot, word) == 0, "word offset");
_Static_assert(offsetof(struct esd_slot, sets_total) == 8, "sets offset");
_Static_assert(offsetof(struct esd_slot, last_set_ns) == 16, "time offset");
_Static_assert(offsetof(struct esd_slot, waiters) == 24, "waiters offset");
_Static_assert(offsetof(struct esd_slot, last_pid) == 28, "pid offset");
_Static_assert(ESD_CHUNK_BYTES % ESD_PAGE == 0, "chunks are whole pages");
_Static_assert(ESD_MAX_SLOTS % ESD_CHUNK_SLOTS == 0, "whole chunks");
_Static_assert(ESD_DEFAULT_SLOTS % ESD_CHUNK_SLOTS == 0, "whole chunks");
_Static_assert(sizeof(struct esd_reg_header) == 40, "reg header size");
_Static_assert(sizeof(struct esd_reg_chunk) == 16, "reg chunk size");
_Static_assert(sizeof(struct esd_reg_entry) == 192, "reg entry size");
_Static_assert(offsetof(struct esd_reg_entry, name) == 24, "name offset");
_Static_assert(offsetof(struct esd_reg_entry, writer_gid) == 152, "gid");
_Static_assert(__atomic_always_lock_free(sizeof(uint64_t), 0),
	       "the slot word must be lock-free");
_Static_assert(__atomic_always_lock_free(sizeof(uint32_t), 0),
	       "waiters must be lock-free");

#define ESD_GEN_SHIFT		32
#define ESD_WORD(gen, val)	(((uint64_t)(gen) << ESD_GEN_SHIFT) | (uint32_t)(val))
#define ESD_WORD_GEN(w)		((uint32_t)((w) >> ESD_GEN_SHIFT))
#define ESD_WORD_VAL(w)		((uint32_t)(w))
#define ESD_GEN_LIVE(g)		(((g) & 1u) != 0)

/* Chunk of global slot index @i, and its position in the chunk. */
#define ESD_INDEX_CHUNK(i)	((uint32_t)(i) >> ESD_CHUNK_SHIFT)
#define ESD_INDEX_SLOT(i)	((uint32_t)(i) & (ESD_CHUNK_SLOTS - 1u))

/*
 * The index space a store gets for a maximum of @slots live slots.  Every
 * writer domain has chunks of its own, so a chunk may be nearly empty: the
 * index space is twice the maximum plus 64 chunks, so that at least 64 + the
 * maximum / 1024 domains fit before the live maximum is reached (and
 * per-uid chunk limits keep one user from taking them all).
 */
static inline uint32_t esd_index_capacity(uint32_t slots)
{
	uint64_t want = (((uint64_t)slots + ESD_CHUNK_SLOTS - 1) /
			 ESD_CHUNK_SLOTS) * ESD_CHUNK_SLOTS * 2 +
			64ull * ESD_CHUNK_SLOTS;

	return want > ESD_MAX_SLOTS ? ESD_MAX_SLOTS : (uint32_t)want;
}

/* Chunks needed for @slots slots (a multiple of ESD_CHUNK_SLOTS). */
static inline uint32_t esd_max_chunks(uint32_t slots)
{
	return (slots + ESD_CHUNK_SLOTS - 1u) / ESD_CHUNK_SLOTS;
}

/* Offset of the entry array in a registry for @slots slots. */
static inline uint64_t esd_reg_entries(uint32_t slots)
{
	uint64_t table = (uint64_t)esd_max_chunks(slots) *
			 sizeof(struct esd_reg_chunk);

	return ESD_PAGE + (table + ESD_PAGE - 1) / ESD_PAGE * ESD_PAGE;
}

/* Size of the registry for @slots slots. */
static inline uint64_t esd_reg_size(uint32_t slots)
{
	return esd_reg_entries(slots) +
	       (uint64_t)slots * sizeof(struct esd_reg_entry);
}

static inline struct esd_reg_chunk *esd_reg_chunk_at(void *base, uint32_t c)
{
	return (struct esd_reg_chunk *)((char *)base + ESD_PAGE) + c;
}

static inline struct esd_reg_entry *esd_reg_entry_at(void *base,
						     uint32_t slots,
						     uint32_t i)
{
	return (struct esd_reg_entry *)((char *)base +
					esd_reg_entries(slots)) + i;
}

#endif /* ERRSEQ_COMMON_SHM_LAYOUT_H */
