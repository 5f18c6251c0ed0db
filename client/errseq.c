/*
 * errseq.c - errseq_t on a bare 32-bit word: set, sample, check,
 * check_and_advance and peek.
 *
 * The bit layout and state table are in common/errseq_word.h; this file holds
 * only the atomic loops.  All accesses are lock-free __atomic operations on
 * the word, so they work on a word in a MAP_SHARED mapping between processes.
 *
 * Memory orders.  A recorded error usually publishes other state (a failed
 * write's bookkeeping), so set releases and readers acquire: a watcher that
 * is told of an error also sees what the setter wrote before it.  The CAS in
 * set is seq_cst because slot waiters pair it with a load of their waiter
 * count (Dekker style; see client/slot.c); here it costs nothing extra on
 * x86-64, where every locked instruction is a full barrier.
 */
#include "config.h"

#include "common/errseq_word.h"
#include "common/visibility.h"

_Static_assert(__atomic_always_lock_free(sizeof(errseq_t), 0),
	       "errseq_t atomics must be lock-free to work across processes");

ERRSEQ_EXPORT errseq_t errseq_set(errseq_t *eseq, int err)
{
	/* acquire: the new value is computed from what we read */
	errseq_t old = __atomic_load_n(eseq, __ATOMIC_ACQUIRE);

	if (!errseq__err_valid(err))
		return old;	/* the kernel WARNs; we refuse silently */

	for (;;) {
		errseq_t next = errseq__set_next(old, err);
		errseq_t seen = old;

		if (next == old)
			break;	/* unconsumed repeat: nothing to change */
		if (__atomic_compare_exchange_n(eseq, &seen, next, false,
						__ATOMIC_SEQ_CST,
						__ATOMIC_ACQUIRE))
			break;
		/* Raced with an update: recompute from what we found.  If
		 * another setter installed exactly our value, that is just as
		 * good, and like the kernel we return the value we found. */
		old = seen;
		if (seen == next)
			break;
	}
	return old;
}

ERRSEQ_EXPORT errseq_t errseq_sample(errseq_t *eseq)
{
	/* acquire: pairs with the release in set */
	return errseq__sample_of(__atomic_load_n(eseq, __ATOMIC_ACQUIRE));
}

ERRSEQ_EXPORT int errseq_check(errseq_t *eseq, errseq_t since)
{
	/* acquire: pairs with the release in set */
	return errseq__check_of(__atomic_load_n(eseq, __ATOMIC_ACQUIRE), since);
}

ERRSEQ_EXPORT int errseq_check_and_advance(errseq_t *eseq, errseq_t *since)
{
	/* acquire: pairs with the release in set */
	errseq_t old = __atomic_load_n(eseq, __ATOMIC_ACQUIRE);
	errseq_t next;

	if (old == *since)
		return 0;

	next = old | ERRSEQ_SEEN;
	if (next != old) {
		/*
		 * One try only.  If it fails, a setter moved the word on (we
		 * will report that next time) or another watcher set SEEN
		 * for us: either outcome is fine.  relaxed on failure: we do
		 * not use the value found.
		 */
		__atomic_compare_exchange_n(eseq, &old, next, false,
					    __ATOMIC_ACQ_REL, __ATOMIC_RELAXED);
	}
	*since = next;
	return -(int)(next & ERRSEQ_MAX_ERRNO);
}

ERRSEQ_EXPORT errseq_t errseq_peek(errseq_t *eseq)
{
	/* relaxed would do for a tool, but acquire is free on x86-64 and
	 * keeps peek's view ordered like every other reader's */
	return __atomic_load_n(eseq, __ATOMIC_ACQUIRE);
}
