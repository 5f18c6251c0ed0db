/*
 * slot.c - the data path of liberrseq-client: errseq_t operations on a
 * named slot in the shared segment, with no syscall, no daemon, no lock.
 *
 * A slot's first 8 bytes are one 64-bit word (common/shm_layout.h):
 *
 *   63            32 31                               0
 *   +---------------+----------------------------------+
 *   | generation    | errseq_t (counter | SEEN | errno) |
 *   +---------------+----------------------------------+
 *
 *   word state                           what a handle of gen G sees
 *   high half == G                       its slot: operate on the low half
 *   high half != G (G+1, G+2, ...)       deleted (and maybe re-created):
 *                                        ERRSEQ_ESTALE, nothing written
 *   handle's G zeroed (gen_hi == 0)      segment replaced: no live slot has
 *                                        gen 0, so the same check reports
 *                                        ERRSEQ_ESTALE with no extra test
 *
 * Every call loads (or CASes) the whole word and compares the high half,
 * so "is this still my slot?" and "read/change the value" are one atomic
 * step: a set racing the daemon's delete either lands before it or fails.
 * The errseq arithmetic is common/errseq_word.h's, shared with errseq.c.
 *
 * Memory orders and the waiting protocol are told once, in
 * doc/shm-layout.md ("The slot word" and "Waiting"); in short: set's CAS is
 * seq_cst (it pairs with the daemon's store of `waiters`), readers load
 * with acquire, statistics are relaxed.
 *
 * Rights.  A handle on a slot this user may not write maps its chunk
 * read-only: set returns -EPERM, and check_and_advance, instead of its own
 * SEEN CAS, asks the daemon to make the same CAS (one round trip per
 * reported error, never per check).
 *
 * Waiting.  A waiter asks the daemon once per connection to count it in the
 * slot's `waiters` (ARM); a setter that changed the word and sees waiters
 * != 0 issues FUTEX_WAKE.  `waiters` is in memory the slot's writers can
 * scribble on, so sleeps are bounded (ESQ_WAIT_SLICE_MS) and re-check the
 * word: a zeroed `waiters` costs latency, never a lost report.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <linux/futex.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "common/errseq_word.h"
#include "common/visibility.h"
#include "client/internal.h"

#define ESQ_WAIT_SLICE_MS	250	/* longest sleep without a re-check */

/* The futex word: the low half of the slot word (little-endian). */
static inline uint32_t *slot_futex(const struct errseq_slot *s)
{
	return (uint32_t *)(void *)&s->shm->word;
}

static void futex_wake_all(uint32_t *uaddr)
{
	syscall(SYS_futex, uaddr, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

/*
 * The 16-byte CAS (x86-64 cmpxchg16b): word and sets_total move together,
 * so a set that changes the word counts itself in the same locked
 * instruction, exactly, with no second one.  CPUs without it (and other
 * architectures) take the portable path: an 8-byte CAS on the word, then
 * an 8-byte fetch_add.  Both are lock-free; the choice is made once, at
 * load, from CPUID.  ERRSEQ_SET_CAS16=0 in the environment (ignored in
 * setuid programs) forces the portable path: for tests and benchmarks.
 */
#if defined(__x86_64__)
static bool have_cas16;

__attribute__((constructor)) static void slot_init(void)
{
	const char *force = secure_getenv("ERRSEQ_SET_CAS16");

	__builtin_cpu_init();
	have_cas16 = __builtin_cpu_supports("cmpxchg16b") &&
		     !(force && strcmp(force, "0") == 0);
}

/* Compare {*p, p[1]} with {*w, *n}; if equal store {nw, nn} and return
 * true, else load them into *w, *n and return false.  Locked: seq_cst. */
static inline bool cas16(uint64_t *p, uint64_t *w, uint64_t *n,
			 uint64_t nw, uint64_t nn)
{
	struct pair { uint64_t a, b; } *pp = (struct pair *)(void *)p;
	bool ok;

	__asm__ __volatile__("lock cmpxchg16b %1"
			     : "=@ccz"(ok), "+m"(*pp), "+a"(*w), "+d"(*n)
			     : "b"(nw), "c"(nn)
			     : "memory");
	return ok;
}
#else
static const bool have_cas16 = false;

static inline bool cas16(uint64_t *p, uint64_t *w, uint64_t *n,
			 uint64_t nw, uint64_t nn)
{
	(void)p; (void)w; (void)n; (void)nw; (void)nn;
	return false;
}
#endif

ERRSEQ_EXPORT int errseq_slot_set(struct errseq_slot *s, int err)
{
	uint64_t gh = __atomic_load_n(&s->gen_hi, __ATOMIC_RELAXED);
	uint64_t gen = gh & ERRSEQ__GEN_MASK;
	struct esd_slot *shm = s->shm;
	uint64_t w, want, n;
	uint32_t low, next;
	bool changed = false, counted = false;
	struct timespec now;

	if (!errseq__err_valid(err))
		return -EINVAL;	/* nothing stored, nothing counted */
	if (!(gh & ERRSEQ__HOT_WRITABLE))
		return -EPERM;	/* read-only mapping: nothing stored */

	/* acquire: the new value is computed from what we read */
	w = __atomic_load_n(&shm->word, __ATOMIC_ACQUIRE);
	/* relaxed: only the CAS's comparison uses it */
	n = __atomic_load_n(&shm->sets_total, __ATOMIC_RELAXED);
	for (;;) {
		if ((w & ERRSEQ__GEN_MASK) != gen)
			return ERRSEQ_ESTALE;
		low = (uint32_t)w;
		next = errseq__set_next(low, err);
		if (next == low)
			break;	/* unconsumed repeat: nothing to change */
		want = gen | next;
		if (have_cas16) {
			/* seq_cst (locked): as the 8-byte CAS below */
			if (cas16(&shm->word, &w, &n, want, n + 1)) {
				changed = counted = true;
				break;
			}
		} else if (__atomic_compare_exchange_n(&shm->word, &w, want,
						       false, __ATOMIC_SEQ_CST,
						       __ATOMIC_ACQUIRE)) {
			changed = true;
			break;
		}
		/* Raced with an update (w is what we found).  Another setter
		 * installing exactly our value is as good as ours, and it
		 * wakes the waiters; anything else: recompute and retry. */
		if (w == want)
			break;
	}

	/* Statistics, relaxed: diagnostics ordered with nothing. */
	if (!counted)
		__atomic_fetch_add(&shm->sets_total, 1, __ATOMIC_RELAXED);
	clock_gettime(CLOCK_REALTIME_COARSE, &now);	/* vDSO, ~1 tick */
	__atomic_store_n(&shm->last_set_ns,
			 (uint64_t)now.tv_sec * 1000000000ull +
			 (uint64_t)now.tv_nsec, __ATOMIC_RELAXED);
	__atomic_store_n(&shm->last_pid,
			 __atomic_load_n(&errseq__pid, __ATOMIC_RELAXED),
			 __ATOMIC_RELAXED);

	/* seq_cst: pairs with the daemon's store of waiters at ARM. */
	if (changed && __atomic_load_n(&shm->waiters, __ATOMIC_SEQ_CST) != 0)
		futex_wake_all(slot_futex(s));
	return 0;
}

ERRSEQ_EXPORT errseq_t errseq_slot_sample(struct errseq_slot *s)
{
	/* acquire: pairs with set */
	uint64_t w = __atomic_load_n(&s->shm->word, __ATOMIC_ACQUIRE);

	if ((w & ERRSEQ__GEN_MASK) != errseq__slot_gen(s))
		return 0;
	return errseq__sample_of((uint32_t)w);
}

ERRSEQ_EXPORT int errseq_slot_check(struct errseq_slot *s, errseq_t since)
{
	return errseq__slot_check(s, since);
}

ERRSEQ_EXPORT int errseq_slot_check_and_advance(struct errseq_slot *s,
						errseq_t *since)
{
	uint64_t gen = errseq__slot_gen(s);
	/* acquire: pairs with set */
	uint64_t w = __atomic_load_n(&s->shm->word, __ATOMIC_ACQUIRE);
	uint32_t low = (uint32_t)w, next;

	if ((w & ERRSEQ__GEN_MASK) != gen)
		return ERRSEQ_ESTALE;
	if (low == *since)
		return 0;

	next = low | ERRSEQ_SEEN;
	if (!errseq__slot_writable(s)) {
		/* Reported already, but the daemon could not mark it then. */
		if (next == *since) {
			if (next != low)
				(void)errseq__request_seen(s, low, false);
			return 0;
		}
		/* The daemon makes our SEEN CAS, before we report. */
		if (next != low)
			(void)errseq__request_seen(s, low, true);
	} else if (next != low) {
		/*
		 * One try only.  If it fails, a setter moved the word on (we
		 * report that next time), another watcher set SEEN for us, or
		 * the daemon deleted the slot (the next call reports stale):
		 * every outcome is fine.  relaxed on failure: the value found
		 * is not used.
		 */
		__atomic_compare_exchange_n(&s->shm->word, &w, gen | next,
					    false, __ATOMIC_ACQ_REL,
					    __ATOMIC_RELAXED);
	}
	*since = next;
	return -(int)(next & ERRSEQ_MAX_ERRNO);
}

ERRSEQ_EXPORT errseq_t errseq_slot_peek(struct errseq_slot *s)
{
	/* acquire: ordered like every other reader's view */
	uint64_t w = __atomic_load_n(&s->shm->word, __ATOMIC_ACQUIRE);

	if ((w & ERRSEQ__GEN_MASK) != errseq__slot_gen(s))
		return 0;
	return (uint32_t)w;
}

/* Nanoseconds from now to @deadline, floored at 0. */
static void remaining(const struct timespec *deadline, struct timespec *rel)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	rel->tv_sec = deadline->tv_sec - now.tv_sec;
	rel->tv_nsec = deadline->tv_nsec - now.tv_nsec;
	if (rel->tv_nsec < 0) {
		rel->tv_sec--;
		rel->tv_nsec += 1000000000L;
	}
	if (rel->tv_sec < 0)
		rel->tv_sec = rel->tv_nsec = 0;
}

/* The outcome of a look at the word for a waiter on @since. */
static int wait_verdict(uint64_t w, uint64_t gen, errseq_t since)
{
	if ((w & ERRSEQ__GEN_MASK) != gen)
		return ERRSEQ_ESTALE;
	if ((uint32_t)w != since)
		return 0;
	return 1;	/* unchanged: sleep */
}

int errseq__slot_wait_until(struct errseq_slot *s, errseq_t since,
			    const struct timespec *deadline)
{
	int r;

	for (;;) {
		struct timespec rel, slice = { 0, ESQ_WAIT_SLICE_MS * 1000000L };
		uint64_t gen = errseq__slot_gen(s);
		/* acquire: pairs with set; a waiter told of a change sees
		 * what the producer wrote before it */
		uint64_t w = __atomic_load_n(&s->shm->word, __ATOMIC_ACQUIRE);
		long fr;
		int err;

		r = wait_verdict(w, gen, since);
		if (r <= 0)
			break;	/* stale, or already different */
		if (deadline) {
			remaining(deadline, &rel);
			if (rel.tv_sec == 0 && rel.tv_nsec == 0) {
				r = -ETIMEDOUT;	/* looked once more above */
				break;
			}
			if (rel.tv_sec == 0 && rel.tv_nsec < slice.tv_nsec)
				slice = rel;
		}
		/* Count us among the waiters (once per connection), then look
		 * again before sleeping: a set between the look above and the
		 * ARM did not know to wake us. */
		if (errseq__request_arm(s) == 0) {
			/* seq_cst: the daemon stored waiters (seq_cst) before
			 * replying; a setter that read 0 CASed before it */
			w = __atomic_load_n(&s->shm->word, __ATOMIC_SEQ_CST);
			if (wait_verdict(w, gen, since) <= 0)
				continue;
		}
		fr = syscall(SYS_futex, slot_futex(s), FUTEX_WAIT, since,
			     &slice, NULL, 0);
		err = fr == 0 ? 0 : errno;
		if (err == EINTR) {
			r = -EINTR;
			break;
		}
		/*
		 * Woken (0), the value moved before we slept (EAGAIN), or the
		 * slice ran out (ETIMEDOUT): look again.  Any other error is a
		 * bug (EFAULT, ENOSYS): report it.
		 */
		if (err != 0 && err != EAGAIN && err != ETIMEDOUT) {
			r = -err;
			break;
		}
	}
	return r;
}

ERRSEQ_EXPORT int errseq_slot_wait(struct errseq_slot *s, errseq_t since,
				   int timeout_ms)
{
	struct timespec deadline;

	if (timeout_ms < 0)
		return errseq__slot_wait_until(s, since, NULL);
	errseq__deadline(&deadline, timeout_ms);
	return errseq__slot_wait_until(s, since, &deadline);
}

void errseq__slot_mark_stale(struct errseq_slot *s)
{
	/* relaxed: see errseq__slot_gen.  Our sleepers notice at their next
	 * look (at most one slice); the wake makes that now.  Nothing shared
	 * is written and nothing is waited for, whatever the old chunk holds. */
	__atomic_store_n(&s->gen_hi, errseq__slot_writable(s) ?
			 ERRSEQ__HOT_WRITABLE : 0, __ATOMIC_RELAXED);
	futex_wake_all(slot_futex(s));
}

ERRSEQ_EXPORT const char *errseq_slot_name(const struct errseq_slot *s)
{
	return s ? errseq__cold(s)->name : NULL;
}

/* The inline ABI (<errseq/client.h>) is these records, read in place. */
_Static_assert(offsetof(struct errseq__inline_slot, word) ==
	       offsetof(struct errseq_slot, shm), "inline: word");
_Static_assert(offsetof(struct esd_slot, word) == 0, "inline: word first");
_Static_assert(offsetof(struct errseq__inline_slot, gen) ==
	       offsetof(struct errseq_slot, gen_hi), "inline: gen");
_Static_assert(sizeof(struct errseq__inline_slot) ==
	       sizeof(struct errseq_slot), "inline: slot size");
_Static_assert(offsetof(struct errseq__inline_cursor, slot) ==
	       offsetof(struct errseq_cursor, slot), "inline: cursor slot");
_Static_assert(offsetof(struct errseq__inline_cursor, since) ==
	       offsetof(struct errseq_cursor, since), "inline: since");

ERRSEQ_EXPORT int errseq_inline_abi(unsigned abi)
{
	return abi == ERRSEQ_INLINE_ABI ? 0 : ERRSEQ_EABI;
}
