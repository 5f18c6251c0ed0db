/*
 * slotword.h - the daemon's writes to a slot word (generation << 32 |
 * errseq_t) in the data segment.  Clients may write any slot word at any
 * time, so every change here is a CAS loop that retries on their races.
 *
 *   call               word before      word after
 *   esd_slot_bump      (any, v)         (gen, ~v), then FUTEX_WAKE all
 *   esd_slot_regen     (any, v)         (gen, v)
 *   esd_slot_start     (any, any)       (gen, 0), statistics zeroed
 */
#ifndef ERRSEQD_SLOTWORD_H
#define ERRSEQD_SLOTWORD_H

#include <stdint.h>

#include "common/shm_layout.h"

/*
 * esd_slot_bump - invalidate: install generation @gen with the value's
 * complement, so every futex sleeper's expected value is stale, then wake
 * every sleeper on the slot (FUTEX_WAKE, shared).  Returns the word found
 * just before the successful CAS.  Used by delete and --recreate.
 */
uint64_t esd_slot_bump(struct esd_slot *s, uint32_t gen);

/* esd_slot_regen - put generation @gen back in the high half, keeping the
 * value (repairs a scribbled generation).  Returns the word replaced. */
uint64_t esd_slot_regen(struct esd_slot *s, uint32_t gen);

/*
 * esd_slot_start - begin a new life of the slot at generation @gen: value
 * 0, statistics (sets_total, last_set_ns, last_pid) zeroed.  waiters is
 * left alone: a stale sleeper may still be counting itself out of it.
 */
void esd_slot_start(struct esd_slot *s, uint32_t gen);

/* esd_slot_wake - FUTEX_WAKE every sleeper on the slot's low half. */
void esd_slot_wake(struct esd_slot *s);

#endif /* ERRSEQD_SLOTWORD_H */
