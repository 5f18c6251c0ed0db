/*
 * slotword.c - CAS loops the daemon runs on slot words (see slotword.h).
 *
 * Every CAS here is seq_cst, like a client's set: it pairs with the
 * waiter's "waiters += 1; reload word" sequence in errseq_slot_wait, and a
 * delete's wake must never be missed.  The daemon wakes unconditionally
 * (no waiters check): control operations are rare and a needless
 * FUTEX_WAKE costs a fraction of the socket round trip that caused it.
 */
#include "config.h"

#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "daemon/slotword.h"

void esd_slot_wake(struct esd_slot *s)
{
	/* The futex word is the low half of the slot word: offset 0 on this
	 * little-endian layout (asserted in shm_layout.h).  Shared futex, no
	 * FUTEX_PRIVATE_FLAG: the sleepers are other processes. */
	syscall(SYS_futex, (uint32_t *)(void *)&s->word, FUTEX_WAKE, INT_MAX,
		NULL, NULL, 0);
}

/* Replace the word by f(old) until the CAS takes; returns the old word. */
static uint64_t slot_cas(struct esd_slot *s, uint32_t gen, int flip, int zero)
{
	uint64_t old = __atomic_load_n(&s->word, __ATOMIC_SEQ_CST);
	uint64_t next;

	do {
		uint32_t val = ESD_WORD_VAL(old);

		if (zero)
			val = 0;
		else if (flip)
			val = ~val;
		next = ESD_WORD(gen, val);
		/* Raced with a client's set or check_and_advance: the failed
		 * CAS reloaded old, so compute again from what is there. */
	} while (!__atomic_compare_exchange_n(&s->word, &old, next, 0,
					      __ATOMIC_SEQ_CST,
					      __ATOMIC_SEQ_CST));
	return old;
}

uint64_t esd_slot_bump(struct esd_slot *s, uint32_t gen)
{
	uint64_t old = slot_cas(s, gen, 1, 0);

	esd_slot_wake(s);
	return old;
}

uint64_t esd_slot_regen(struct esd_slot *s, uint32_t gen)
{
	return slot_cas(s, gen, 0, 0);
}

void esd_slot_start(struct esd_slot *s, uint32_t gen)
{
	slot_cas(s, gen, 0, 1);
	/* Relaxed: statistics are diagnostics ordered with nothing (design.md,
	 * "Memory orders").  A set that landed in the slot's previous life
	 * may still add to them after this reset: documented in design.md
	 * ("Statistics are not atomic with the value"). */
	__atomic_store_n(&s->sets_total, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&s->last_set_ns, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&s->last_pid, 0, __ATOMIC_RELAXED);
}
