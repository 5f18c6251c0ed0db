/*
 * errseq_word.h - the errseq_t state machine as pure functions (internal).
 *
 * The one place where the bit arithmetic of errseq_t lives.  The atomic
 * loops in client/errseq.c (a bare 32-bit word) and client/slot.c (a slot's
 * 64-bit word, generation in the high half) both call these, so the two can
 * never drift apart.  Never installed.
 *
 * The word (see doc/semantics.md for every rule, doc/design.md for the slot):
 *
 *   31                        13   12   11                0
 *   +----------------------------+----+-------------------+
 *   | counter (19 bits)          |SEEN| errno (1..4095)   |
 *   +----------------------------+----+-------------------+
 *
 *   state                      meaning
 *   0                          epoch: no error was ever recorded
 *   errno != 0, SEEN clear     an error no watcher has consumed yet
 *   errno != 0, SEEN set       the latest error, already consumed by someone
 *
 *   transition                 new word
 *   set(err), SEEN clear       same counter, errno := -err (no write if equal)
 *   set(err), SEEN set         counter + 1, SEEN cleared, errno := -err
 *   check_and_advance          SEEN set (one CAS; losing the race is fine)
 */
#ifndef ERRSEQ_COMMON_ERRSEQ_WORD_H
#define ERRSEQ_COMMON_ERRSEQ_WORD_H

#include <stdbool.h>
#include <stdint.h>

#include "errseq/errseq.h"

/* Is @err a value errseq_set accepts (a negative errno in [-4095, -1])? */
static inline bool errseq__err_valid(int err)
{
	return err < 0 && err >= -ERRSEQ_MAX_ERRNO;
}

/* The word errseq_set would install over @old for a valid @err. */
static inline uint32_t errseq__set_next(uint32_t old, int err)
{
	uint32_t next = (old & ~(uint32_t)(ERRSEQ_MAX_ERRNO | ERRSEQ_SEEN)) |
			(uint32_t)-err;

	/* Someone saw the old value: bump the counter so they see this one. */
	if (old & ERRSEQ_SEEN)
		next += ERRSEQ_CTR_INC;
	return next;
}

/* errseq_sample's answer for a word holding @cur. */
static inline uint32_t errseq__sample_of(uint32_t cur)
{
	return (cur & ERRSEQ_SEEN) ? cur : 0;
}

/* errseq_check's answer for a word holding @cur against cursor @since. */
static inline int errseq__check_of(uint32_t cur, uint32_t since)
{
	if (cur == since)
		return 0;
	return -(int)(cur & ERRSEQ_MAX_ERRNO);
}

#endif /* ERRSEQ_COMMON_ERRSEQ_WORD_H */
