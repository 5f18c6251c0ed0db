/*
 * shm_layout.h - the shared-memory ABI of errseqd (internal, never installed).
 *
 * errseqd owns two POSIX shared-memory segments; doc/shm-layout.md describes
 * every field below (who writes it, who reads it, the invariant).  Change a
 * struct here and ESD_LAYOUT_VERSION changes with it, so a daemon or client
 * built against another layout refuses the segment instead of misreading it.
 *
 * 1. The data segment (name from --shm, default "/errseqd" or "/errseqd-UID"),
 *    mapped read-write by the daemon and by every client (the fd comes over
 *    the socket at HELLO):
 *
 *        offset 0                 struct esd_seg_header, padded to 4096
 *        offset 4096 + i * 64     struct esd_slot for slot i, i < slot_count
 *
 * 2. The registry segment (the data segment's name + ".reg"), mode 0600,
 *    mapped only by the daemon.  It holds the names, generations and
 *    creators, out of reach of clients that can write slot values, and it
 *    survives kill -9 of the daemon just as the data segment does:
 *
 *        offset 0                 struct esd_reg_header, padded to 4096
 *        offset 4096 + i * 192    struct esd_reg_entry for slot i
 *
 * The slot word.  One 64-bit word holds the slot's generation (high half)
 * and its errseq_t (low half), so checking the generation and changing the
 * errseq value is a single CAS: a set either lands before a delete or sees
 * the new generation and fails as stale.
 *
 *   generation   meaning
 *   even         slot free (0: never used; deleted slots are even)
 *   odd          slot live; handles carry this generation
 *
 *   create: gen g (even) -> g + 1, errseq := 0   (daemon)
 *   delete: gen g (odd)  -> g + 1, errseq := ~errseq (daemon; the flip makes
 *           every futex sleeper's expected value stale, then FUTEX_WAKE)
 *
 * The low half is the futex word for errseq_slot_wait: on little-endian
 * machines it sits at the slot's offset 0 (asserted below).
 */
#ifndef ERRSEQ_COMMON_SHM_LAYOUT_H
#define ERRSEQ_COMMON_SHM_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

#define ESD_CACHELINE		64u
#define ESD_PAGE		4096u

#define ESD_SEG_MAGIC		0x3144514553525245ull	/* "ERRSEQD1" LE */
#define ESD_REG_MAGIC		0x3147455244515345ull	/* "ESQDREG1" LE */
#define ESD_LAYOUT_REV		1u	/* bump on a change sizes don't show */

#define ESD_NAME_MAX		128u	/* bytes of [A-Za-z0-9._:/@-] */
#define ESD_DEFAULT_SLOTS	4096u
#define ESD_MAX_SLOTS		(1u << 24)
#define ESD_REG_SUFFIX		".reg"

/* Header at offset 0 of the data segment.  Written by the daemon only. */
struct esd_seg_header {
	uint64_t magic;		/* ESD_SEG_MAGIC, stored last at creation */
	uint32_t layout_version;	/* ESD_LAYOUT_VERSION */
	uint32_t header_size;	/* ESD_PAGE: where slot 0 starts */
	uint32_t slot_count;	/* capacity, fixed at creation */
	uint32_t slot_stride;	/* sizeof(struct esd_slot) */
	uint64_t incarnation;	/* random, non-zero; new at every creation */
	uint64_t created_ns;	/* CLOCK_REALTIME at creation */
	int32_t daemon_pid;	/* pid of the daemon serving it (atomic) */
	uint32_t retired;	/* 1: replaced by --recreate; never reused */
	uint64_t daemon_start_ns;	/* CLOCK_REALTIME the daemon started */
};

/*
 * One slot: exactly one cache line, so no two slots share a line.
 * Clients write word, waiters and the statistics; the daemon writes word
 * (create, delete) and resets the statistics at create.
 */
struct esd_slot {
	uint64_t word;		/* generation << 32 | errseq_t; CAS only */
	uint32_t waiters;	/* threads sleeping in errseq_slot_wait */
	uint32_t reserved0;
	uint64_t sets_total;	/* valid errseq_slot_set calls, relaxed add */
	uint64_t last_set_ns;	/* CLOCK_REALTIME_COARSE of the latest set */
	int32_t last_pid;	/* pid of the latest setter */
	uint32_t reserved1;
	uint8_t pad[24];
} __attribute__((aligned(ESD_CACHELINE)));

/* Registry header at offset 0 of the registry segment.  Daemon only. */
struct esd_reg_header {
	uint64_t magic;		/* ESD_REG_MAGIC, stored last at creation */
	uint32_t layout_version;	/* ESD_LAYOUT_VERSION */
	uint32_t entry_size;	/* sizeof(struct esd_reg_entry) */
	uint32_t slot_count;	/* equals the data segment's */
	uint32_t reserved;
	uint64_t incarnation;	/* equals the data segment's: binds the pair */
};

enum esd_reg_state {
	ESD_REG_FREE = 0,	/* never used, or reused after a delete */
	ESD_REG_LIVE = 1,	/* named and open for handles */
	ESD_REG_DELETED = 2,	/* deleted; its index is reused last */
};

/*
 * One registry entry per slot index.  Daemon only; crash-safe by store
 * order: a create writes name, creator and gen before state := LIVE (the
 * commit); a delete bumps the slot word first, then gen, then state.
 */
struct esd_reg_entry {
	uint32_t state;		/* enum esd_reg_state */
	uint32_t gen;		/* the generation the slot word should carry */
	uint32_t creator_uid;	/* SO_PEERCRED uid of the creating client */
	uint16_t name_len;	/* 1..ESD_NAME_MAX */
	uint16_t reserved0;
	uint64_t created_ns;	/* CLOCK_REALTIME at create */
	char name[ESD_NAME_MAX];	/* not NUL-terminated; name_len bytes */
	uint8_t pad[40];
};

#define ESD_LAYOUT_VERSION						\
	((uint32_t)((ESD_LAYOUT_REV << 24) |				\
		    ((uint32_t)sizeof(struct esd_slot) << 16) |		\
		    ((uint32_t)sizeof(struct esd_seg_header) << 8) |	\
		    ((uint32_t)sizeof(struct esd_reg_entry) & 0xffu)))

/* Pin the ABI: a change here must be deliberate. */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
	       "the futex word is the low half of the slot word");
_Static_assert(sizeof(struct esd_seg_header) == 56, "seg header size");
_Static_assert(offsetof(struct esd_seg_header, incarnation) == 24, "inc");
_Static_assert(offsetof(struct esd_seg_header, daemon_pid) == 40, "pid");
_Static_assert(sizeof(struct esd_slot) == ESD_CACHELINE, "slot = 1 line");
_Static_assert(_Alignof(struct esd_slot) == ESD_CACHELINE, "slot align");
_Static_assert(offsetof(struct esd_slot, word) == 0, "word offset");
_Static_assert(offsetof(struct esd_slot, waiters) == 8, "waiters offset");
_Static_assert(offsetof(struct esd_slot, sets_total) == 16, "sets offset");
_Static_assert(offsetof(struct esd_slot, last_set_ns) == 24, "time offset");
_Static_assert(offsetof(struct esd_slot, last_pid) == 32, "pid offset");
_Static_assert(sizeof(struct esd_reg_header) == 32, "reg header size");
_Static_assert(sizeof(struct esd_reg_entry) == 192, "reg entry size");
_Static_assert(offsetof(struct esd_reg_entry, name) == 24, "name offset");
_Static_assert(__atomic_always_lock_free(sizeof(uint64_t), 0),
	       "the slot word must be lock-free");
_Static_assert(__atomic_always_lock_free(sizeof(uint32_t), 0),
	       "waiters must be lock-free");

#define ESD_GEN_SHIFT		32
#define ESD_WORD(gen, val)	(((uint64_t)(gen) << ESD_GEN_SHIFT) | (uint32_t)(val))
#define ESD_WORD_GEN(w)		((uint32_t)((w) >> ESD_GEN_SHIFT))
#define ESD_WORD_VAL(w)		((uint32_t)(w))
#define ESD_GEN_LIVE(g)		(((g) & 1u) != 0)

/* Sizes of the two segments for @slots slots. */
static inline uint64_t esd_seg_size(uint32_t slots)
{
	return (uint64_t)ESD_PAGE + (uint64_t)slots * sizeof(struct esd_slot);
}

static inline uint64_t esd_reg_size(uint32_t slots)
{
	return (uint64_t)ESD_PAGE +
	       (uint64_t)slots * sizeof(struct esd_reg_entry);
}

static inline struct esd_slot *esd_seg_slot(void *base, uint32_t i)
{
	return (struct esd_slot *)((char *)base + ESD_PAGE) + i;
}

static inline struct esd_reg_entry *esd_reg_entry_at(void *base, uint32_t i)
{
	return (struct esd_reg_entry *)((char *)base + ESD_PAGE) + i;
}

#endif /* ERRSEQ_COMMON_SHM_LAYOUT_H */
