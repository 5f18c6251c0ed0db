/*
 * rawso.c - the raw baselines again, in a shared object of their own
 * (bench/.libs/rawso.so), which bench_data dlopen()s.  A call into any
 * shared library crosses to code far from the caller through a pointer;
 * timing the raw load there tells how much of a library call's ratio is
 * that crossing and how much the library's own work.  Diagnostics only.
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>

int bench_rawso_check64(uint64_t *w, uint64_t since);
uint64_t bench_rawso_set64(uint64_t *w, uint32_t e);

/* A raw acquire load and compare.  Returns whether the word differs. */
int bench_rawso_check64(uint64_t *w, uint64_t since)
{
	/* acquire: the order errseq_slot_check uses */
	return __atomic_load_n(w, __ATOMIC_ACQUIRE) != since;
}

/* A raw CAS loop installing errno @e in the low 12 bits, SEEN cleared.
 * Returns the value replaced. */
uint64_t bench_rawso_set64(uint64_t *w, uint32_t e)
{
	/* acquire: the new value is computed from what we read */
	uint64_t old = __atomic_load_n(w, __ATOMIC_ACQUIRE);

	while (!__atomic_compare_exchange_n(w, &old,
					    (old & ~0x1fffull) | e, false,
					    __ATOMIC_SEQ_CST, __ATOMIC_ACQUIRE))
		;
	return old;
}
