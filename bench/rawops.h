/*
 * rawops.h - the raw atomic baselines the benchmarks compare the library
 * with: an acquire load and compare, a CAS loop, a SEEN CAS.  Each is a
 * real, non-inlined call (BENCH_NOINLINE), as the library's calls are, so a
 * ratio measures the work and not the call.  Header-only; each benchmark
 * gets its own copy and may use a subset.
 */
#ifndef ERRSEQ_BENCH_RAWOPS_H
#define ERRSEQ_BENCH_RAWOPS_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "errseq/errseq.h"
#include "bench/bench.h"

#define RAW_FN static BENCH_NOINLINE __attribute__((unused))

/* A raw acquire load and compare, like a check that found nothing new. */
RAW_FN int raw_check32(uint32_t *w, uint32_t since)
{
	/* acquire: the order errseq_check uses */
	return __atomic_load_n(w, __ATOMIC_ACQUIRE) != since;
}

RAW_FN int raw_check64(uint64_t *w, uint64_t since)
{
	/* acquire: the order errseq_slot_check uses */
	return __atomic_load_n(w, __ATOMIC_ACQUIRE) != since;
}

/* A raw CAS loop installing errno @e in the low 12 bits, SEEN cleared. */
RAW_FN uint32_t raw_set32(uint32_t *w, uint32_t e)
{
	/* acquire: the new value is computed from what we read */
	uint32_t old = __atomic_load_n(w, __ATOMIC_ACQUIRE);

	while (!__atomic_compare_exchange_n(w, &old,
					    (old & ~0x1fffu) | e, false,
					    __ATOMIC_SEQ_CST, __ATOMIC_ACQUIRE))
		;
	return old;
}

/* The same on a 64-bit slot word (the generation in the high half is
 * kept as it is). */
RAW_FN uint64_t raw_set64(uint64_t *w, uint32_t e)
{
	/* acquire: the new value is computed from what we read */
	uint64_t old = __atomic_load_n(w, __ATOMIC_ACQUIRE);

	while (!__atomic_compare_exchange_n(w, &old,
					    (old & ~0x1fffull) | e, false,
					    __ATOMIC_SEQ_CST, __ATOMIC_ACQUIRE))
		;
	return old;
}

/* A raw CAS setting SEEN (one try, as check_and_advance does). */
RAW_FN int raw_seen64(uint64_t *w)
{
	/* acquire: pairs with the setter, as check_and_advance's load */
	uint64_t old = __atomic_load_n(w, __ATOMIC_ACQUIRE);

	if (old & ERRSEQ_SEEN)
		return 0;
	/* relaxed on failure: the value found is not used */
	__atomic_compare_exchange_n(w, &old, old | ERRSEQ_SEEN, false,
				    __ATOMIC_ACQ_REL, __ATOMIC_RELAXED);
	return -(int)(old & ERRSEQ_MAX_ERRNO);
}

/*
 * Diagnostics, to tell the call from the work when a ratio misses:
 * raw_check64 reached through a function pointer (an indirect call, about
 * what a call through the PLT adds), and a copy of errseq_slot_check's work
 * (a handle holding the word's address and the generation) compiled here,
 * with a direct call.
 */
static int (*volatile raw_check64_ptr)(uint64_t *, uint64_t)
	__attribute__((unused)) = raw_check64;

struct raw_handle {
	uint64_t *word;
	uint64_t gen_hi;
};

RAW_FN int raw_handle_check(const struct raw_handle *h, uint32_t since)
{
	/* acquire: as errseq_slot_check */
	uint64_t w = __atomic_load_n(h->word, __ATOMIC_ACQUIRE);

	if ((w & 0xffffffff00000000ull) != h->gen_hi)
		return -4097;
	if ((uint32_t)w == since)
		return 0;
	return -(int)(w & ERRSEQ_MAX_ERRNO);
}

/*
 * A model of errseq_slot_set's work, compiled here: the CAS loop, then the
 * statistics the slot keeps (a relaxed fetch_add of a counter, a
 * CLOCK_REALTIME_COARSE read and two relaxed stores), then the seq_cst
 * load of the waiter count.  @line is a struct esd_slot's first 40 bytes:
 * word, waiters, sets_total, last_set_ns, last_pid.
 */
struct raw_slot_line {
	uint64_t word;
	uint32_t waiters;
	uint32_t reserved0;
	uint64_t sets_total;
	uint64_t last_set_ns;
	int32_t last_pid;
};

RAW_FN int raw_set_with_stats(struct raw_slot_line *line, uint32_t e,
			      int32_t pid)
{
	struct timespec now;
	/* acquire: the new value is computed from what we read */
	uint64_t old = __atomic_load_n(&line->word, __ATOMIC_ACQUIRE);

	while (!__atomic_compare_exchange_n(&line->word, &old,
					    (old & ~0x1fffull) | e, false,
					    __ATOMIC_SEQ_CST, __ATOMIC_ACQUIRE))
		;
	/* relaxed: diagnostics, as the library's */
	__atomic_fetch_add(&line->sets_total, 1, __ATOMIC_RELAXED);
	clock_gettime(CLOCK_REALTIME_COARSE, &now);
	__atomic_store_n(&line->last_set_ns, (uint64_t)now.tv_sec *
			 1000000000ull + (uint64_t)now.tv_nsec,
			 __ATOMIC_RELAXED);
	__atomic_store_n(&line->last_pid, pid, __ATOMIC_RELAXED);
	return __atomic_load_n(&line->waiters, __ATOMIC_SEQ_CST) != 0;
}

#endif /* ERRSEQ_BENCH_RAWOPS_H */
