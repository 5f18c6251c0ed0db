/*
 * test_errseq.c - the Check suite of the errseq core (client/errseq.c).
 *
 * It goes through the installed public API only (<errseq/errseq.h>, linked
 * against liberrseq-client) and pins down, with exact words and exact return
 * values, every rule of doc/semantics.md:
 *
 *   errseq_set_*, errseq_sample_*, errseq_check_*, errseq_check_and_advance_*,
 *   errseq_peek_*   one rule per test.  "Stores nothing" and "pure read" are
 *                   proved by running the call on a word in a read-only page:
 *                   any write, even a CAS that would fail, faults there.
 *   errseq_consequences  the "Consequences" of doc/semantics.md.
 *   errseq_differential  millions of random operations on a few words and 64
 *                   cursors, each compared (return value, word, cursor) with
 *                   a deliberately naive restatement of the algorithm.
 *   errseq_concurrency   one word in MAP_SHARED memory, setters and watchers
 *                   in threads and in fork()ed processes, every operation
 *                   logged against a shared logical clock, and a checker
 *                   that judges every report against the recorded events.
 *   errseq_story    errseq.rst's story: a worker, 77 supervisor processes
 *                   and the big boss.
 *   errseq_limitation  2^19 "consume, then set" transitions bring the word
 *                   back to a sleeping cursor's value: the documented miss.
 *
 * Environment: ERRSEQ_SEED (a seed for the random tests, decimal or 0x-hex)
 * and ERRSEQ_DIFF_OPS (how many differential operations; default 10,000,000).
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#include <errseq/errseq.h>

#define SEEN    0x1000u		/* spelt out again: the test restates the layout */

/* ------------------------------------------------------------------ */
/* Helpers                                                             */
/* ------------------------------------------------------------------ */

/* The stored word, read without going through errseq_peek. */
static errseq_t word_of(errseq_t *w)
{
	return __atomic_load_n(w, __ATOMIC_SEQ_CST);
}

#define ASSERT_WORD(w, expect) do {					\
	errseq_t got_ = word_of(w);					\
	ck_assert_msg(got_ == (errseq_t)(expect),			\
		      "word 0x%08" PRIx32 ", expected 0x%08" PRIx32,	\
		      got_, (errseq_t)(expect));			\
} while (0)

#define ASSERT_HEX(got, expect) do {					\
	uint32_t g_ = (got), e_ = (expect);				\
	ck_assert_msg(g_ == e_, "%s = 0x%08" PRIx32 ", expected 0x%08" \
		      PRIx32, #got, g_, e_);				\
} while (0)

/*
 * A word alone in a page, then made read-only: a call that writes to it,
 * or even attempts a (failing) CAS on it, dies of SIGSEGV, which Check
 * reports as a failure of the test.  Free with ro_word_free().
 */
static errseq_t *ro_word(errseq_t value)
{
	long pg = sysconf(_SC_PAGESIZE);
	errseq_t *w = mmap(NULL, (size_t)pg, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ck_assert_ptr_ne(w, MAP_FAILED);
	*w = value;
	ck_assert_int_eq(mprotect(w, (size_t)pg, PROT_READ), 0);
	return w;
}

static void ro_word_free(errseq_t *w)
{
	munmap(w, (size_t)sysconf(_SC_PAGESIZE));
}

/* splitmix64: small, fast, good enough to drive random tests. */
static uint64_t rng_next(uint64_t *state)
{
	uint64_t z = (*state += 0x9E3779B97F4A7C15ull);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

/* ERRSEQ_SEED if set (decimal or 0x-hex), else @fallback. */
static uint64_t seed_from_env(uint64_t fallback, bool *from_env)
{
	const char *s = getenv("ERRSEQ_SEED");

	*from_env = s && *s;
	return *from_env ? strtoull(s, NULL, 0) : fallback;
}

static uint64_t time_seed(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ((uint64_t)ts.tv_sec << 30) ^ (uint64_t)ts.tv_nsec ^
	       ((uint64_t)getpid() << 48);
}

/* A busy pause of @n iterations, to vary interleavings. */
static void spin(unsigned n)
{
	for (volatile unsigned i = 0; i < n; i++)
		;
}

/*
 * fork() a child that dies with us: if the test process is killed (a Check
 * timeout, a crash), its children do not linger.
 */
static pid_t fork_child(void)
{
	pid_t parent = getpid();
	pid_t pid = fork();

	if (pid == 0 &&
	    (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent))
		_exit(99);
	return pid;
}

/* Wait for @pid; true if it exited with status 0. */
static bool reap(pid_t pid)
{
	int status;
	pid_t r;

	do
		r = waitpid(pid, &status, 0);
	while (r < 0 && errno == EINTR);
	return r == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static bool write_full(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

static bool read_full(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len > 0) {
		ssize_t n = read(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

/* ------------------------------------------------------------------ */
/* errseq_set                                                          */
/* ------------------------------------------------------------------ */

START_TEST(errseq_set_on_zero)
{
	errseq_t w = 0;

	ck_assert_uint_eq(errseq_set(&w, -EIO), 0);
	ASSERT_WORD(&w, 0x00000005);
}
END_TEST

START_TEST(errseq_set_unseen_changes_errno_only)
{
	errseq_t w = 0x00000005;

	/* SEEN clear: same counter, errno replaced, no bump */
	ASSERT_HEX(errseq_set(&w, -ENOSPC), 0x00000005);
	ASSERT_WORD(&w, 0x0000001C);
	w = 0x0000201C;
	ASSERT_HEX(errseq_set(&w, -EIO), 0x0000201C);
	ASSERT_WORD(&w, 0x00002005);
}
END_TEST

START_TEST(errseq_set_seen_bumps_counter)
{
	errseq_t w = 0x00001005;

	/* SEEN set: counter + 1, SEEN cleared, even for the same errno */
	ASSERT_HEX(errseq_set(&w, -EIO), 0x00001005);
	ASSERT_WORD(&w, 0x00002005);
	w = 0x00001005;
	ASSERT_HEX(errseq_set(&w, -ENOSPC), 0x00001005);
	ASSERT_WORD(&w, 0x0000201C);
	w = 0x0004307A;
	ASSERT_HEX(errseq_set(&w, -EDQUOT), 0x0004307A);
	ASSERT_WORD(&w, 0x0004407A);
}
END_TEST

START_TEST(errseq_set_repeat_unseen_no_write)
{
	/* read-only pages: the call must not even attempt a CAS */
	static const struct { errseq_t word; int err; } c[] = {
		{ 0x00002005, -EIO }, { 0x00000005, -EIO },
		{ 0x00000FFF, -4095 }, { 0x00000001, -1 },
		{ 0xFFFFE01C, -ENOSPC },
	};

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		errseq_t *w = ro_word(c[i].word);

		ASSERT_HEX(errseq_set(w, c[i].err), c[i].word);
		ASSERT_WORD(w, c[i].word);
		ro_word_free(w);
	}
}
END_TEST

START_TEST(errseq_set_invalid_stores_nothing)
{
	static const int bad[] = { 0, 1, 5, 4096, -4096, -5000, INT_MIN,
				   INT_MAX };
	static const errseq_t words[] = { 0, 0x00000005, 0x00001005,
					  0xFFFFF005, 0xFFFFFFFF };

	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		errseq_t *w = ro_word(words[i]);

		for (size_t j = 0; j < sizeof(bad) / sizeof(bad[0]); j++) {
			errseq_t r = errseq_set(w, bad[j]);

			ck_assert_msg(r == words[i],
				      "set(0x%08" PRIx32 ", %d) returned 0x%08"
				      PRIx32, words[i], bad[j], r);
			ASSERT_WORD(w, words[i]);
		}
		ro_word_free(w);
	}
}
END_TEST

START_TEST(errseq_set_accepts_bounds)
{
	errseq_t w = 0;

	ASSERT_HEX(errseq_set(&w, -4095), 0);
	ASSERT_WORD(&w, 0x00000FFF);
	ASSERT_HEX(errseq_set(&w, -1), 0x00000FFF);
	ASSERT_WORD(&w, 0x00000001);
	w = 0;
	ASSERT_HEX(errseq_set(&w, -1), 0);
	ASSERT_WORD(&w, 0x00000001);
	w = 0x00001005;
	ASSERT_HEX(errseq_set(&w, -4095), 0x00001005);
	ASSERT_WORD(&w, 0x00002FFF);
}
END_TEST

START_TEST(errseq_set_counter_wraps)
{
	errseq_t w = 0xFFFFF005;	/* counter 2^19 - 1, SEEN, EIO */

	ASSERT_HEX(errseq_set(&w, -EIO), 0xFFFFF005);
	ASSERT_WORD(&w, 0x00000005);	/* counter wrapped to 0 */
	w = 0xFFFFF01C;
	ASSERT_HEX(errseq_set(&w, -EIO), 0xFFFFF01C);
	ASSERT_WORD(&w, 0x00000005);
	w = 0xFFFFF000;			/* top counter | SEEN, errno 0 */
	ASSERT_HEX(errseq_set(&w, -EIO), 0xFFFFF000);
	ASSERT_WORD(&w, 0x00000005);
	w = 0xFFFFE005;			/* top counter, SEEN clear: no bump */
	ASSERT_HEX(errseq_set(&w, -ENOSPC), 0xFFFFE005);
	ASSERT_WORD(&w, 0xFFFFE01C);
}
END_TEST

/* ------------------------------------------------------------------ */
/* errseq_sample, errseq_check, errseq_check_and_advance, errseq_peek   */
/* ------------------------------------------------------------------ */

START_TEST(errseq_sample_zero_unless_seen)
{
	static const struct { errseq_t word, expect; } c[] = {
		{ 0x00000000, 0 }, { 0x00000005, 0 }, { 0x00002005, 0 },
		{ 0xFFFFEFFF, 0 }, { 0x00001005, 0x00001005 },
		{ 0x00001000, 0x00001000 }, { 0xFFFFFFFF, 0xFFFFFFFF },
		{ 0x0000301C, 0x0000301C },
	};

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		errseq_t *w = ro_word(c[i].word);	/* pure read */

		ASSERT_HEX(errseq_sample(w), c[i].expect);
		ASSERT_WORD(w, c[i].word);
		ro_word_free(w);
	}
}
END_TEST

START_TEST(errseq_check_compares_all_bits)
{
	static const struct { errseq_t word, since; int expect; } c[] = {
		{ 0x00001005, 0x00001005, 0 },
		{ 0x00000000, 0x00000000, 0 },
		{ 0xFFFFFFFF, 0xFFFFFFFF, 0 },
		{ 0x00001005, 0x00001004, -EIO },	/* errno differs */
		{ 0x00001005, 0x00000005, -EIO },	/* SEEN differs */
		{ 0x00000005, 0x00001005, -EIO },
		{ 0x00003005, 0x00001005, -EIO },	/* counter differs */
		{ 0x80001005, 0x00001005, -EIO },	/* bit 31 only */
		{ 0x0000101C, 0x00001005, -ENOSPC },
		{ 0xFFFFFFFF, 0x7FFFFFFF, -4095 },
		{ 0x00000005, 0x00000000, -EIO },	/* unconsumed */
		{ 0x00000000, 0x00001005, 0 },		/* foreign cursor */
	};

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		errseq_t *w = ro_word(c[i].word);	/* never sets SEEN */
		int r = errseq_check(w, c[i].since);

		ck_assert_msg(r == c[i].expect, "check(0x%08" PRIx32 ", 0x%08"
			      PRIx32 ") = %d, expected %d", c[i].word,
			      c[i].since, r, c[i].expect);
		ASSERT_WORD(w, c[i].word);
		ro_word_free(w);
	}
}
END_TEST

START_TEST(errseq_check_and_advance_equal_touches_nothing)
{
	errseq_t *w = ro_word(0x00001005);
	errseq_t since = 0x00001005;

	ck_assert_int_eq(errseq_check_and_advance(w, &since), 0);
	ASSERT_HEX(since, 0x00001005);
	ASSERT_WORD(w, 0x00001005);
	ro_word_free(w);

	w = ro_word(0);
	since = 0;
	ck_assert_int_eq(errseq_check_and_advance(w, &since), 0);
	ASSERT_HEX(since, 0);
	ASSERT_WORD(w, 0);
	ro_word_free(w);
}
END_TEST

START_TEST(errseq_check_and_advance_consumes_once)
{
	errseq_t w = 0x00000005;
	errseq_t since = 0;

	ck_assert_int_eq(errseq_check_and_advance(&w, &since), -EIO);
	ASSERT_WORD(&w, 0x00001005);
	ASSERT_HEX(since, 0x00001005);
	ck_assert_int_eq(errseq_check_and_advance(&w, &since), 0);
	ASSERT_WORD(&w, 0x00001005);
	ASSERT_HEX(since, 0x00001005);

	w = 0x0000201C;
	ck_assert_int_eq(errseq_check_and_advance(&w, &since), -ENOSPC);
	ASSERT_WORD(&w, 0x0000301C);
	ASSERT_HEX(since, 0x0000301C);

	w = 0x00000FFF;
	since = 0;
	ck_assert_int_eq(errseq_check_and_advance(&w, &since), -4095);
	ASSERT_WORD(&w, 0x00001FFF);
	ASSERT_HEX(since, 0x00001FFF);
}
END_TEST

START_TEST(errseq_check_and_advance_already_seen_no_write)
{
	/* SEEN already set: new == old, so no CAS (read-only page) */
	errseq_t *w = ro_word(0x00003005);
	errseq_t since = 0x00001005;

	ck_assert_int_eq(errseq_check_and_advance(w, &since), -EIO);
	ASSERT_HEX(since, 0x00003005);
	ASSERT_WORD(w, 0x00003005);
	ck_assert_int_eq(errseq_check_and_advance(w, &since), 0);
	ro_word_free(w);
}
END_TEST

START_TEST(errseq_peek_no_side_effect)
{
	static const errseq_t words[] = { 0, 0x00000005, 0x00001005,
					  0xFFFFFFFF, 0x0000201C };

	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		errseq_t *w = ro_word(words[i]);

		ASSERT_HEX(errseq_peek(w), words[i]);
		ASSERT_HEX(errseq_peek(w), words[i]);
		ro_word_free(w);
	}
	/* and peek does not consume: a watcher still gets the error */
	errseq_t w = 0x00000005, since = 0;

	ASSERT_HEX(errseq_peek(&w), 0x00000005);
	ck_assert_int_eq(errseq_check_and_advance(&w, &since), -EIO);
}
END_TEST

/* ------------------------------------------------------------------ */
/* doc/semantics.md: consequences                                      */
/* ------------------------------------------------------------------ */

START_TEST(errseq_unconsumed_repeat_needs_no_bump)
{
	errseq_t w = 0, a = errseq_sample(&w);

	ASSERT_HEX(a, 0);
	errseq_set(&w, -EIO);
	errseq_set(&w, -EIO);	/* nobody saw the first: no change at all */
	ASSERT_WORD(&w, 0x00000005);
	/* a new watcher still learns of the unconsumed error */
	errseq_t b = errseq_sample(&w);

	ASSERT_HEX(b, 0);
	ck_assert_int_eq(errseq_check_and_advance(&w, &a), -EIO);
	ck_assert_int_eq(errseq_check_and_advance(&w, &a), 0);
	ck_assert_int_eq(errseq_check_and_advance(&w, &b), -EIO);
	ck_assert_int_eq(errseq_check_and_advance(&w, &b), 0);
	ASSERT_WORD(&w, 0x00001005);
}
END_TEST

START_TEST(errseq_only_latest_errno_kept)
{
	errseq_t w = 0, since = 0;

	errseq_set(&w, -EIO);
	errseq_set(&w, -ENOSPC);
	errseq_set(&w, -EDQUOT);
	ASSERT_WORD(&w, 0x0000007A);
	ck_assert_int_eq(errseq_check_and_advance(&w, &since), -EDQUOT);
	ck_assert_int_eq(errseq_check_and_advance(&w, &since), 0);
}
END_TEST

START_TEST(errseq_foreign_cursor_on_fresh_word)
{
	/* a cursor from an older incarnation applied to a fresh 0 */
	errseq_t w = 0, since = 0x00004005;

	ck_assert_int_eq(errseq_check(&w, since), 0);
	ASSERT_WORD(&w, 0);
	ck_assert_int_eq(errseq_check_and_advance(&w, &since), 0);
	ASSERT_WORD(&w, 0x00001000);
	ASSERT_HEX(since, 0x00001000);
	ck_assert_int_eq(errseq_check_and_advance(&w, &since), 0);
	/* the bogus SEEN then costs a counter bump on the first real error */
	ASSERT_HEX(errseq_set(&w, -EIO), 0x00001000);
	ASSERT_WORD(&w, 0x00002005);
	ck_assert_int_eq(errseq_check_and_advance(&w, &since), -EIO);
}
END_TEST

START_TEST(errseq_told_again_after_consume_and_repeat)
{
	/*
	 * doc/semantics.md's example as a plain sequence: EIO, consume,
	 * ENOSPC, EIO before anyone consumes.  The second EIO is a new error and the
	 * watcher hears -EIO a second time in a row.
	 */
	errseq_t w = 0, since = errseq_sample(&w);

	ASSERT_HEX(errseq_set(&w, -EIO), 0);
	ck_assert_int_eq(errseq_check_and_advance(&w, &since), -EIO);
	ASSERT_WORD(&w, 0x00001005);
	ASSERT_HEX(errseq_set(&w, -ENOSPC), 0x00001005);
	ASSERT_WORD(&w, 0x0000201C);
	ASSERT_HEX(errseq_set(&w, -EIO), 0x0000201C);
	ASSERT_WORD(&w, 0x00002005);	/* no SEEN between: same counter */
	ck_assert_int_eq(errseq_check_and_advance(&w, &since), -EIO);
	ASSERT_HEX(since, 0x00003005);
	ck_assert_int_eq(errseq_check_and_advance(&w, &since), 0);
}
END_TEST

START_TEST(errseq_told_again_when_value_repeats)
{
	/*
	 * Where the word *value* itself comes back: a watcher's consuming CAS
	 * loses to a setter (emulated here by running check_and_advance on a
	 * snapshot of the word, which is what the watcher loaded), so SEEN
	 * never lands; ENOSPC then EIO bring the word back to 0x00000005,
	 * the very value the watcher saw, SEEN clear.  The watcher's cursor
	 * is 0x00001005, and it is told again: a new error, not a duplicate.
	 */
	errseq_t w = 0, since = 0;

	errseq_set(&w, -EIO);
	errseq_t loaded = w;		/* the watcher's load */

	ck_assert_int_eq(errseq_check_and_advance(&loaded, &since), -EIO);
	ASSERT_HEX(since, 0x00001005);
	errseq_set(&w, -ENOSPC);	/* lands before the watcher's CAS */
	ASSERT_WORD(&w, 0x0000001C);
	errseq_set(&w, -EIO);
	ASSERT_WORD(&w, 0x00000005);	/* back to what the watcher saw */
	ck_assert_int_eq(errseq_check_and_advance(&w, &since), -EIO);
	ASSERT_WORD(&w, 0x00001005);
	ck_assert_int_eq(errseq_check_and_advance(&w, &since), 0);
}
END_TEST

START_TEST(errseq_lost_cas_then_flip_flop_is_missed)
{
	/*
	 * The same race, one step further, and the kernel's algorithm misses
	 * an error: after the watcher's CAS lost (cursor 0x00001005 never
	 * landed), ENOSPC and EIO bring the word back to 0x00000005 and
	 * ANOTHER watcher consumes it, installing 0x00001005, the first
	 * watcher's cursor.  The first watcher then hears nothing of the
	 * second EIO, although it was set after its check returned.  This is
	 * the kernel's behaviour (lib/errseq.c does the same); the
	 * concurrency checker below allows for it by judging "no miss" only
	 * after checks that no set overlapped.
	 */
	errseq_t w = 0, first = 0, other = 0;

	errseq_set(&w, -EIO);
	errseq_t loaded = w;

	ck_assert_int_eq(errseq_check_and_advance(&loaded, &first), -EIO);
	errseq_set(&w, -ENOSPC);	/* overlaps the first's check */
	errseq_set(&w, -EIO);		/* strictly after it */
	ck_assert_int_eq(errseq_check_and_advance(&w, &other), -EIO);
	ASSERT_WORD(&w, 0x00001005);
	ck_assert_int_eq(errseq_check_and_advance(&w, &first), 0);
}
END_TEST

START_TEST(errseq_big_boss_check_does_not_consume)
{
	errseq_t w = 0, su = errseq_sample(&w);

	ck_assert_int_eq(errseq_check_and_advance(&w, &su), 0);
	errseq_t boss = errseq_sample(&w);

	ASSERT_HEX(boss, 0);
	ASSERT_HEX(errseq_set(&w, -EIO), 0);
	ck_assert_int_eq(errseq_check(&w, boss), -EIO);
	ck_assert_int_eq(errseq_check(&w, boss), -EIO);	/* still pending */
	ASSERT_WORD(&w, 0x00000005);			/* SEEN clear */
	/* a watcher arriving now still gets it, and so does the supervisor */
	errseq_t late = errseq_sample(&w);

	ASSERT_HEX(late, 0);
	ck_assert_int_eq(errseq_check_and_advance(&w, &su), -EIO);
	ck_assert_int_eq(errseq_check_and_advance(&w, &late), -EIO);
	ASSERT_WORD(&w, 0x00001005);
	/* the boss's check now still differs: he never advanced */
	ck_assert_int_eq(errseq_check(&w, boss), -EIO);
}
END_TEST

START_TEST(errseq_shared_cursor_unserialised_goes_backward)
{
	/*
	 * errseq.rst: a cursor shared without a lock can move backward and
	 * report one error twice.  Thread B loaded the word (0x00000005)
	 * and stalled; thread A consumed EIO, then ENOSPC was set and A
	 * consumed it; B resumes with its stale load (emulated on a snapshot)
	 * and writes the old value into the shared cursor.
	 */
	errseq_t w = 0, shared = 0;

	errseq_set(&w, -EIO);
	errseq_t b_loaded = w;

	ck_assert_int_eq(errseq_check_and_advance(&w, &shared), -EIO);
	errseq_set(&w, -ENOSPC);
	ck_assert_int_eq(errseq_check_and_advance(&w, &shared), -ENOSPC);
	ASSERT_HEX(shared, 0x0000301C);
	ck_assert_int_eq(errseq_check_and_advance(&b_loaded, &shared), -EIO);
	ASSERT_HEX(shared, 0x00001005);			/* backward */
	ck_assert_int_eq(errseq_check_and_advance(&w, &shared), -ENOSPC);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Differential test against a naive model                             */
/* ------------------------------------------------------------------ */

/*
 * The model keeps a word as three separate fields and only packs them into
 * 32 bits to compare.  It shares no code and no formula with
 * common/errseq_word.h: validity is a range test on the 64-bit magnitude,
 * the counter is bumped as a number modulo 2^19, and so on.
 */
struct model_fields {
	uint32_t counter;	/* 0 .. 2^19 - 1 */
	bool seen;
	uint32_t err;		/* 0 .. 4095 */
};

#define MODEL_COUNTER_MOD (1u << 19)

static struct model_fields model_split(uint32_t w)
{
	struct model_fields f = {
		.counter = w / 8192u,
		.seen = (w / 4096u) % 2u == 1u,
		.err = w % 4096u,
	};
	return f;
}

static uint32_t model_join(struct model_fields f)
{
	return f.counter * 8192u + (f.seen ? 4096u : 0u) + f.err;
}

static bool model_err_ok(int err)
{
	long long magnitude = -(long long)err;

	return magnitude >= 1 && magnitude <= 4095;
}

static uint32_t model_set(uint32_t *w, int err)
{
	uint32_t before = *w;
	struct model_fields f = model_split(before);

	if (!model_err_ok(err))
		return before;
	if (f.seen) {
		f.counter = (f.counter + 1) % MODEL_COUNTER_MOD;
		f.seen = false;
	}
	f.err = (uint32_t)(-(long long)err);
	*w = model_join(f);
	return before;
}

static uint32_t model_sample(uint32_t w)
{
	return model_split(w).seen ? w : 0;
}

static int model_check(uint32_t w, uint32_t since)
{
	if (w == since)
		return 0;
	return -(int)model_split(w).err;
}

static int model_check_and_advance(uint32_t *w, uint32_t *since)
{
	struct model_fields f;

	if (*w == *since)
		return 0;
	f = model_split(*w);
	f.seen = true;
	*w = model_join(f);
	*since = *w;
	return -(int)f.err;
}

#define DIFF_WORDS   4
#define DIFF_CURSORS 64
#define DIFF_DEFAULT_OPS 10000000ull

struct diff_cover {
	uint64_t ops, set_valid, set_invalid, set_noop, set_bump, set_wrap;
	uint64_t caa_equal, caa_report, caa_foreign, check_zero, check_report;
	uint64_t sample_seen, sample_zero, peek;
};

static int diff_pick_err(uint64_t r)
{
	static const int common[] = { -EIO, -ENOSPC, -EDQUOT, -1, -4095,
				      -EIO, -ENOSPC, -EIO };
	static const int invalid[] = { 0, 1, 5, 4096, -4096, -5000, INT_MIN,
				       INT_MAX };

	switch (r % 16) {
	case 13: case 14:
		return invalid[(r >> 4) % 8];
	case 15:			/* any int at all, mostly invalid */
		return (int)(uint32_t)(r >> 16);
	case 10: case 11: case 12:
		return -(int)(1 + (r >> 4) % 4095);
	default:
		return common[(r >> 4) % 8];
	}
}

static uint32_t diff_pick_word(uint64_t r)
{
	uint32_t low = (uint32_t)(r >> 16) & 0x1FFFu;

	switch (r % 4) {
	case 0:
		return 0;
	case 1:
		return (uint32_t)(r >> 32);
	case 2:			/* counter near the top: exercises the wrap */
		return ((0x7FFF0u + (uint32_t)(r >> 8) % 16u) << 13) | low;
	default:
		return (((uint32_t)(r >> 8) % 4u) << 13) | low;
	}
}

struct diff_state {
	errseq_t words[DIFF_WORDS];
	uint32_t mwords[DIFF_WORDS];
	errseq_t cursors[DIFF_CURSORS];
	uint32_t mcursors[DIFF_CURSORS];
};

/*
 * Run @ops random operations from @seed; false, with @why filled, at the
 * first difference between the library and the model.
 */
static bool diff_run(uint64_t seed, uint64_t ops, struct diff_cover *cov,
		     char *why, size_t whylen)
{
	struct diff_state s;
	uint64_t rng = seed;

	memset(&s, 0, sizeof(s));
	for (uint64_t op = 0; op < ops; op++) {
		uint64_t r = rng_next(&rng), r2 = rng_next(&rng);
		unsigned ci = (unsigned)(r >> 8) % DIFF_CURSORS;
		/* a cursor mostly watches "its" word, sometimes a foreign one */
		unsigned wi = (r >> 16) % 16 ? ci % DIFF_WORDS
					     : (unsigned)(r >> 20) % DIFF_WORDS;
		errseq_t *w = &s.words[wi];
		uint32_t *mw = &s.mwords[wi];
		unsigned kind = (unsigned)(r % 100);
		long long got = 0, want = 0;
		const char *name;

		if (kind < 40) {
			int err = diff_pick_err(r2);
			struct model_fields before = model_split(*mw);

			name = "set";
			got = errseq_set(w, err);
			want = model_set(mw, err);
			if (!model_err_ok(err)) {
				cov->set_invalid++;
			} else {
				struct model_fields after = model_split(*mw);

				cov->set_valid++;
				if (model_join(before) == *mw)
					cov->set_noop++;
				if (before.seen)
					cov->set_bump++;
				if (before.seen && after.counter == 0)
					cov->set_wrap++;
			}
		} else if (kind < 50) {
			name = "sample";
			got = s.cursors[ci] = errseq_sample(w);
			want = s.mcursors[ci] = model_sample(*mw);
			if (want)
				cov->sample_seen++;
			else
				cov->sample_zero++;
		} else if (kind < 65) {
			name = "check";
			got = errseq_check(w, s.cursors[ci]);
			want = model_check(*mw, s.mcursors[ci]);
			if (want)
				cov->check_report++;
			else
				cov->check_zero++;
		} else if (kind < 90) {
			bool equal = *mw == s.mcursors[ci];
			bool foreign = model_split(*mw).err == 0 && !equal;

			name = "check_and_advance";
			got = errseq_check_and_advance(w, &s.cursors[ci]);
			want = model_check_and_advance(mw, &s.mcursors[ci]);
			if (equal)
				cov->caa_equal++;
			else if (foreign)
				cov->caa_foreign++;
			else
				cov->caa_report++;
		} else if (kind < 95) {
			name = "peek";
			got = errseq_peek(w);
			want = *mw;
			cov->peek++;
		} else if (kind < 97) {
			/* check against an arbitrary cursor: one bit flipped */
			uint32_t since = s.mcursors[ci] ^ (1u << (r2 % 32));

			name = "check(flipped)";
			got = errseq_check(w, since);
			want = model_check(*mw, since);
		} else if (kind < 98) {
			name = "recreate";	/* a fresh, zeroed word */
			*w = 0;
			*mw = 0;
		} else if (kind < 99) {
			name = "load";		/* any state, even odd ones */
			*w = *mw = diff_pick_word(r2);
		} else {
			name = "cursor";	/* a cursor from anywhere */
			s.cursors[ci] = s.mcursors[ci] = (r2 & 1)
				? s.mwords[(r2 >> 1) % DIFF_WORDS]
				: diff_pick_word(r2 >> 1);
		}

		if (got != want || *w != *mw || s.cursors[ci] != s.mcursors[ci]) {
			snprintf(why, whylen,
				 "seed=0x%016" PRIx64 " op=%" PRIu64 " %s "
				 "word[%u]: lib 0x%08" PRIx32 " model 0x%08"
				 PRIx32 "; cursor[%u]: lib 0x%08" PRIx32
				 " model 0x%08" PRIx32 "; returned lib %lld "
				 "model %lld (rerun: ERRSEQ_SEED=0x%" PRIx64
				 " ERRSEQ_DIFF_OPS=%" PRIu64 ")", seed, op,
				 name, wi, *w, *mw, ci, s.cursors[ci],
				 s.mcursors[ci], got, want, seed, op + 1);
			return false;
		}
		cov->ops++;
	}
	if (memcmp(s.words, s.mwords, sizeof(s.words)) != 0 ||
	    memcmp(s.cursors, s.mcursors, sizeof(s.cursors)) != 0) {
		snprintf(why, whylen, "seed=0x%016" PRIx64 ": final state "
			 "differs", seed);
		return false;
	}
	return true;
}

START_TEST(errseq_differential_random_ops)
{
	const char *env = getenv("ERRSEQ_DIFF_OPS");
	uint64_t ops = env && *env ? strtoull(env, NULL, 0) : DIFF_DEFAULT_OPS;
	bool from_env;
	uint64_t seed = seed_from_env(0, &from_env);
	struct diff_cover cov;
	char why[512] = "";
	bool ok;

	memset(&cov, 0, sizeof(cov));
	if (from_env) {
		ok = diff_run(seed, ops, &cov, why, sizeof(why));
	} else {
		/* half from a fixed seed (reproducible), half from the clock */
		uint64_t fixed = 0x6572727365710001ull;	/* "errseq" 1 */
		uint64_t fresh = time_seed();

		ok = diff_run(fixed, ops / 2, &cov, why, sizeof(why)) &&
		     diff_run(fresh, ops - ops / 2, &cov, why, sizeof(why));
		seed = fresh;
	}
	ck_assert_msg(ok, "library and model disagree: %s", why);
	ck_assert_msg(cov.ops == ops, "ran %" PRIu64 " of %" PRIu64 " ops",
		      cov.ops, ops);
	fprintf(stderr, "errseq_differential: %" PRIu64 " ops (seed 0x%016"
		PRIx64 "%s): %" PRIu64 " valid sets, %" PRIu64 " invalid, %"
		PRIu64 " no-op repeats, %" PRIu64 " bumps, %" PRIu64
		" wraps, %" PRIu64 " consumes, %" PRIu64 " foreign\n",
		cov.ops, seed, from_env ? " from ERRSEQ_SEED" : " + fixed",
		cov.set_valid, cov.set_invalid, cov.set_noop, cov.set_bump,
		cov.set_wrap, cov.caa_report, cov.caa_foreign);
	if (ops >= 1000000) {
		/* the generator must keep reaching every path it is meant to */
		ck_assert_msg(cov.set_valid && cov.set_invalid && cov.set_noop &&
			      cov.set_bump && cov.set_wrap && cov.caa_equal &&
			      cov.caa_report && cov.caa_foreign &&
			      cov.check_zero && cov.check_report &&
			      cov.sample_seen && cov.sample_zero && cov.peek,
			      "a path was never exercised (seed 0x%016" PRIx64
			      ")", seed);
	}
}
END_TEST

/* ------------------------------------------------------------------ */
/* Concurrency: threads and processes on one shared word               */
/* ------------------------------------------------------------------ */

/*
 * Every actor brackets each operation between two ticks of one shared
 * seq_cst clock (an atomic fetch-add): t0 just before the call, t1 just
 * after.  The clock's RMWs are totally ordered and order the calls with
 * them, so the call's real effect on the word (its CAS, or the load it
 * decided on) happened at some instant strictly inside (t0, t1).  Ticks
 * are unique.  A set S occupies (s0, s1); a watcher's check i occupies
 * (c0_i, c1_i); check 0 is the watcher's errseq_sample.  Only valid sets
 * are logged; setters also make unlogged invalid calls, which must change
 * nothing.  Total sets (200,000) stay below 2^19, so the counter never
 * wraps and the word never repeats across a consume.
 *
 * What the algorithm guarantees, and what the checker asserts per watcher.
 * Write L_i for the load on which check i decided (inside (c0_i, c1_i)),
 * c_i for the cursor it left and e_i for the errno in c_i (0 if c_i is 0).
 *
 * (A) No miss.  Call check i-1 "anchored" when the word equalled c_{i-1}
 *     at some instant T in [L_{i-1}, c1_{i-1}), or c_{i-1} is 0.  From T
 *     on, only a set can move the word off c_{i-1} (it is 0 or has SEEN),
 *     and once a set has moved it the counter has moved (or the errno is
 *     no longer 0), so it never comes back.  Hence if check i returned 0,
 *     no set completed inside (T, L_i).  The checker asserts that through
 *     two sufficient conditions: no set lies entirely inside
 *     (c1_{i-1}, c0_i); and no set S of an errno other than e_{i-1} ends
 *     before c0_i while no set of errno e_{i-1} overlaps (s0, c1_{i-1})
 *     (S's effect, errno != e_{i-1}, cannot precede T unless a set of
 *     e_{i-1} came after it and before T).
 *     Check i-1 is provably anchored when it is the sample, or returned 0
 *     (the word equalled the cursor at its load), or reported e but no
 *     set of another errno overlapped it (its SEEN CAS could only lose to
 *     a watcher installing the same SEEN: a set of e on an unseen word of
 *     e writes nothing), or no set of errno e overlaps (c0_{i-1}, c1_i)
 *     (if its CAS lost to a set of another errno, only a later set of e
 *     could bring the word back to c_{i-1}, so check i cannot return 0).
 *     Otherwise (A) is not judged: a report whose CAS lost to a set leaves
 *     a cursor that never was in the word, and the word can come back to
 *     it and hide a later set (the kernel's behaviour; see
 *     errseq_lost_cas_then_flip_flop_is_missed).
 *
 * (B) Told once, and only of real events.  Every report (non-zero result)
 *     at check i needs a set whose write landed between the decision
 *     points of check i-1 and check i, so inside (c0_{i-1}, c1_i); after
 *     a sample of 0 any earlier set may do.  Those real intervals are
 *     disjoint for one watcher, so distinct reports need distinct sets:
 *     the checker demands a matching that gives every report its own set
 *     overlapping its window (greedy, earliest-ending set first: optimal
 *     since windows grow at both ends).  A report with no set left is a
 *     duplicate or a phantom.  The word's VALUE may repeat (semantics.md);
 *     the checker never compares values.
 *
 * (C) The latest errno.  A report of -e needs a set S of e with
 *     s0 < c1_i such that no set of another errno lies entirely inside
 *     (s1, c0_i): such a set would have overwritten e for good.
 *
 * (D) Quiescence.  Once every setter is done, each watcher checks twice:
 *     the second returns 0, every final cursor equals the final word, and
 *     that word has SEEN.
 *
 * All are necessary conditions of the algorithm, so they raise no false
 * alarm under any legal interleaving.  Broken variants of client/errseq.c
 * made this test fail when tried by hand: check_and_advance not installing
 * SEEN (B), or not putting SEEN in the cursor either (A), or not advancing
 * the cursor (B), or reporting the cursor's errno (C); set never bumping
 * the counter (A), or giving up after one lost CAS (A, most runs).
 */
#define CONC_SET_THREADS    2
#define CONC_SET_PROCS      2
#define CONC_SETTERS        (CONC_SET_THREADS + CONC_SET_PROCS)
#define CONC_WATCH_THREADS  2
#define CONC_WATCH_PROCS    4
#define CONC_WATCHERS       (CONC_WATCH_THREADS + CONC_WATCH_PROCS)
#define CONC_SETS           50000	/* per setter */
#define CONC_CHECK_CAP      200000	/* per watcher, sample included */
#define CONC_NERRS          3

static const int conc_errs[CONC_NERRS] = { -EIO, -ENOSPC, -EDQUOT };
static const int conc_bad[] = { 0, 4096, -4096, INT_MIN, 7 };

struct conc_ev {
	uint32_t t0, t1;	/* clock ticks just before and just after */
	int32_t val;		/* set: the err; check: the result */
	uint32_t cursor;	/* check: the cursor after it */
};

struct conc_shared {
	errseq_t word __attribute__((aligned(64)));
	uint32_t clock __attribute__((aligned(64)));
	uint32_t go __attribute__((aligned(64)));
	uint32_t setters_done;
	uint32_t nchecks[CONC_WATCHERS];
	struct conc_ev sets[CONC_SETTERS][CONC_SETS];
	struct conc_ev checks[CONC_WATCHERS][CONC_CHECK_CAP];
};

static uint32_t conc_tick(struct conc_shared *sh)
{
	return __atomic_add_fetch(&sh->clock, 1, __ATOMIC_SEQ_CST);
}

static void conc_wait_go(struct conc_shared *sh)
{
	/* acquire: pairs with the release that opens the gate */
	while (!__atomic_load_n(&sh->go, __ATOMIC_ACQUIRE))
		sched_yield();
}

static void conc_setter(struct conc_shared *sh, unsigned idx, uint64_t seed)
{
	struct conc_ev *log = sh->sets[idx];

	conc_wait_go(sh);
	for (unsigned i = 0; i < CONC_SETS; i++) {
		uint64_t r = rng_next(&seed);
		int err = conc_errs[(r >> 32) % CONC_NERRS];

		spin((unsigned)r & 1023);
		if ((r >> 12) % 512 == 0)
			sched_yield();
		if ((r >> 24) % 16 == 0)	/* unlogged: must do nothing */
			(void)errseq_set(&sh->word, conc_bad[(r >> 40) % 5]);
		log[i].t0 = conc_tick(sh);
		(void)errseq_set(&sh->word, err);
		log[i].t1 = conc_tick(sh);
		log[i].val = err;
	}
	__atomic_add_fetch(&sh->setters_done, 1, __ATOMIC_SEQ_CST);
}

static void conc_watch_once(struct conc_shared *sh, errseq_t *cursor,
			    struct conc_ev *ev, bool check_first)
{
	int res = 0;

	ev->t0 = conc_tick(sh);
	/* half the time errseq.rst's pattern: a cheap check first */
	if (!check_first || errseq_check(&sh->word, *cursor) != 0)
		res = errseq_check_and_advance(&sh->word, cursor);
	ev->t1 = conc_tick(sh);
	ev->val = res;
	ev->cursor = *cursor;
}

static void conc_watcher(struct conc_shared *sh, unsigned idx, uint64_t seed)
{
	struct conc_ev *log = sh->checks[idx];
	errseq_t cursor;
	uint32_t n;

	conc_wait_go(sh);
	log[0].t0 = conc_tick(sh);
	cursor = errseq_sample(&sh->word);
	log[0].t1 = conc_tick(sh);
	log[0].val = 0;
	log[0].cursor = cursor;
	/* acquire on setters_done: pairs with the setters' seq_cst add, so
	 * once all are counted their sets (and clock ticks) are visible */
	for (n = 1; n < CONC_CHECK_CAP - 2 &&
	     __atomic_load_n(&sh->setters_done, __ATOMIC_ACQUIRE) <
	     CONC_SETTERS; n++) {
		uint64_t r = rng_next(&seed);

		spin((unsigned)r & 255);
		if ((r >> 12) % 1024 == 0)
			sched_yield();
		conc_watch_once(sh, &cursor, &log[n], (r >> 40) & 1);
	}
	while (__atomic_load_n(&sh->setters_done, __ATOMIC_ACQUIRE) <
	       CONC_SETTERS)
		sched_yield();
	conc_watch_once(sh, &cursor, &log[n++], false);
	conc_watch_once(sh, &cursor, &log[n++], true);
	sh->nchecks[idx] = n;
}

struct conc_actor {
	struct conc_shared *sh;
	unsigned idx;
	bool setter;
	uint64_t seed;
};

static void *conc_thread(void *arg)
{
	struct conc_actor *a = arg;

	if (a->setter)
		conc_setter(a->sh, a->idx, a->seed);
	else
		conc_watcher(a->sh, a->idx, a->seed);
	return NULL;
}

/*
 * A set of logged sets, twice sorted: by s0 (with the prefix max and suffix
 * min of s1) and by s1 (with the prefix max of s0).
 */
struct conc_index {
	struct conc_ev *ev;	/* by t0 */
	size_t n;
	uint32_t *pre_max;	/* [k]: max t1 over ev[0..k-1]; [0] = 0 */
	uint32_t *suf_min;	/* [k]: min t1 over ev[k..n-1]; [n] = max */
	struct conc_ev *ev1;	/* by t1 */
	uint32_t *pre_max0;	/* [k]: max t0 over ev1[0..k-1]; [0] = 0 */
};

static int conc_cmp_t0(const void *a, const void *b)
{
	uint32_t x = ((const struct conc_ev *)a)->t0;
	uint32_t y = ((const struct conc_ev *)b)->t0;

	return x < y ? -1 : x > y;
}

static int conc_cmp_t1(const void *a, const void *b)
{
	uint32_t x = ((const struct conc_ev *)a)->t1;
	uint32_t y = ((const struct conc_ev *)b)->t1;

	return x < y ? -1 : x > y;
}

/*
 * Index the sets of @all: every one (@mode 0), those of errno @err
 * (@mode 1), those of another errno (@mode 2).
 */
static void conc_index_build(struct conc_index *ix, const struct conc_ev *all,
			     size_t n, int mode, int err)
{
	ix->ev = calloc(n + 1, sizeof(*ix->ev));
	ix->ev1 = calloc(n + 1, sizeof(*ix->ev1));
	ix->pre_max = calloc(n + 1, sizeof(uint32_t));
	ix->suf_min = calloc(n + 1, sizeof(uint32_t));
	ix->pre_max0 = calloc(n + 1, sizeof(uint32_t));
	ck_assert(ix->ev && ix->ev1 && ix->pre_max && ix->suf_min &&
		  ix->pre_max0);
	ix->n = 0;
	for (size_t i = 0; i < n; i++)
		if (mode == 0 || (all[i].val == err) == (mode == 1))
			ix->ev[ix->n++] = all[i];
	qsort(ix->ev, ix->n, sizeof(*ix->ev), conc_cmp_t0);
	memcpy(ix->ev1, ix->ev, ix->n * sizeof(*ix->ev));
	qsort(ix->ev1, ix->n, sizeof(*ix->ev1), conc_cmp_t1);
	ix->pre_max[0] = 0;
	ix->pre_max0[0] = 0;
	for (size_t k = 0; k < ix->n; k++) {
		ix->pre_max[k + 1] = ix->ev[k].t1 > ix->pre_max[k]
				     ? ix->ev[k].t1 : ix->pre_max[k];
		ix->pre_max0[k + 1] = ix->ev1[k].t0 > ix->pre_max0[k]
				      ? ix->ev1[k].t0 : ix->pre_max0[k];
	}
	ix->suf_min[ix->n] = UINT32_MAX;
	for (size_t k = ix->n; k-- > 0;)
		ix->suf_min[k] = ix->ev[k].t1 < ix->suf_min[k + 1]
				 ? ix->ev[k].t1 : ix->suf_min[k + 1];
}

static void conc_index_free(struct conc_index *ix)
{
	free(ix->ev);
	free(ix->ev1);
	free(ix->pre_max);
	free(ix->suf_min);
	free(ix->pre_max0);
}

/* First k with ev[k].t0 >= t (or > t if @strict). */
static size_t conc_lower(const struct conc_index *ix, uint32_t t, bool strict)
{
	size_t lo = 0, hi = ix->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (ix->ev[mid].t0 < t || (strict && ix->ev[mid].t0 == t))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Does a set overlap (t0, t1)? */
static bool conc_overlaps(const struct conc_index *ix, uint32_t t0,
			  uint32_t t1)
{
	return ix->pre_max[conc_lower(ix, t1, false)] > t0;
}

/* Does a set lie entirely inside (a, b)? */
static bool conc_inside(const struct conc_index *ix, uint32_t a, uint32_t b)
{
	return ix->suf_min[conc_lower(ix, a, true)] < b;
}

/* Largest s1 of a set that started before t (0 if none). */
static uint32_t conc_last_end_before(const struct conc_index *ix, uint32_t t)
{
	return ix->pre_max[conc_lower(ix, t, false)];
}

/* Largest s0 of a set that ended before t (0 if none). */
static uint32_t conc_last_start_ending_before(const struct conc_index *ix,
					      uint32_t t)
{
	size_t lo = 0, hi = ix->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (ix->ev1[mid].t1 < t)
			lo = mid + 1;
		else
			hi = mid;
	}
	return ix->pre_max0[lo];
}

/* A binary min-heap of set end ticks, for the matching of (B). */
struct conc_heap {
	uint32_t *v;
	size_t n;
};

static void conc_heap_push(struct conc_heap *h, uint32_t x)
{
	size_t i = h->n++;

	while (i > 0 && h->v[(i - 1) / 2] > x) {
		h->v[i] = h->v[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	h->v[i] = x;
}

static void conc_heap_pop(struct conc_heap *h)
{
	uint32_t x = h->v[--h->n];
	size_t i = 0;

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= h->n)
			break;
		if (c + 1 < h->n && h->v[c + 1] < h->v[c])
			c++;
		if (h->v[c] >= x)
			break;
		h->v[i] = h->v[c];
		i = c;
	}
	if (h->n > 0)
		h->v[i] = x;
}

struct conc_stats {
	uint64_t checks, reports, zeros, miss_checked, unanchored;
};

/* The index slot of errno @err (CONC_NERRS for 0), or -1. */
static int conc_err_index(int err)
{
	if (err == 0)
		return CONC_NERRS;
	for (int i = 0; i < CONC_NERRS; i++)
		if (conc_errs[i] == err)
			return i;
	return -1;
}

/* Judge one watcher's log; false with @why filled at the first violation. */
static bool conc_judge_watcher(const struct conc_shared *sh, unsigned w,
			       const struct conc_index *all,
			       const struct conc_index *same,
			       const struct conc_index *other,
			       struct conc_stats *st, char *why, size_t len)
{
	const struct conc_ev *ev = sh->checks[w];
	uint32_t n = sh->nchecks[w];
	struct conc_heap heap = { calloc(all->n + 1, sizeof(uint32_t)), 0 };
	size_t next = 0;
	bool ok = true;

	ck_assert_ptr_nonnull(heap.v);
	for (uint32_t i = 1; i < n && ok; i++) {
		const struct conc_ev *prev = &ev[i - 1], *cur = &ev[i];
		/* the errno of the word when check i-1 decided */
		int pe = conc_err_index(-(int)(prev->cursor & ERRSEQ_MAX_ERRNO));
		bool anchored;

		st->checks++;
		if (pe < 0) {
			snprintf(why, len, "watcher %u check %u left cursor "
				 "0x%08" PRIx32 ", an errno no setter recorded",
				 w, i - 1, prev->cursor);
			ok = false;
			break;
		}
		anchored = i == 1 || prev->val == 0 ||
			   !conc_overlaps(&other[pe], prev->t0, prev->t1) ||
			   !conc_overlaps(&same[pe], prev->t0, cur->t1);
		if (!anchored)
			st->unanchored++;
		if (cur->val == 0) {
			uint32_t m;

			st->zeros++;
			if (!anchored)
				continue;
			st->miss_checked++;
			if (conc_inside(all, prev->t1, cur->t0)) {	/* (A) */
				snprintf(why, len, "watcher %u check %u "
					 "(%u..%u) returned 0 but a set lies "
					 "entirely after check %u (%u..%u): a "
					 "missed error", w, i, cur->t0, cur->t1,
					 i - 1, prev->t0, prev->t1);
				ok = false;
				break;
			}
			m = conc_last_start_ending_before(&other[pe], cur->t0);
			if (m && !conc_overlaps(&same[pe], m, prev->t1)) {
				snprintf(why, len, "watcher %u check %u "
					 "(%u..%u) returned 0 but a set of "
					 "another errno (%u..) must have landed "
					 "after check %u (%u..%u): a missed "
					 "error", w, i, cur->t0, cur->t1, m,
					 i - 1, prev->t0, prev->t1);
				ok = false;
			}
			continue;
		}

		st->reports++;
		int ei = conc_err_index(cur->val);
		uint32_t lo = (i == 1 && prev->cursor == 0) ? 0 : prev->t0;

		if (ei < 0 || ei == CONC_NERRS) {
			snprintf(why, len, "watcher %u check %u reported %d, "
				 "which no setter recorded", w, i, cur->val);
			ok = false;
			break;
		}
		/* (B): give this report its own set overlapping (lo, t1) */
		while (next < all->n && all->ev[next].t0 < cur->t1)
			conc_heap_push(&heap, all->ev[next++].t1);
		while (heap.n > 0 && heap.v[0] <= lo)
			conc_heap_pop(&heap);
		if (heap.n == 0) {
			snprintf(why, len, "watcher %u check %u (%u..%u) "
				 "reported %d but no unclaimed set overlaps "
				 "(%u, %u): told twice, or told of nothing",
				 w, i, cur->t0, cur->t1, cur->val, lo,
				 cur->t1);
			ok = false;
			break;
		}
		conc_heap_pop(&heap);
		/* (C): the reported errno was the latest when it looked */
		uint32_t s1 = conc_last_end_before(&same[ei], cur->t1);

		if (s1 == 0 || conc_inside(&other[ei], s1, cur->t0)) {
			snprintf(why, len, "watcher %u check %u (%u..%u) "
				 "reported %d, which was not the latest error "
				 "(last such set ended at %u)", w, i, cur->t0,
				 cur->t1, cur->val, s1);
			ok = false;
		}
	}
	free(heap.v);
	return ok;
}

START_TEST(errseq_concurrency_threads_and_processes)
{
	bool from_env;
	uint64_t seed = seed_from_env(time_seed(), &from_env);
	struct conc_shared *sh = mmap(NULL, sizeof(*sh),
				      PROT_READ | PROT_WRITE,
				      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct conc_actor actors[CONC_SETTERS + CONC_WATCHERS];
	pthread_t threads[CONC_SET_THREADS + CONC_WATCH_THREADS];
	pid_t pids[CONC_SET_PROCS + CONC_WATCH_PROCS];
	unsigned nthreads = 0, npids = 0;
	bool children_ok = true, threads_ok = true;
	char why[512] = "";

	ck_assert_ptr_ne(sh, MAP_FAILED);
	for (unsigned i = 0; i < CONC_SETTERS + CONC_WATCHERS; i++) {
		bool setter = i < CONC_SETTERS;

		actors[i] = (struct conc_actor){
			.sh = sh, .setter = setter,
			.idx = setter ? i : i - CONC_SETTERS,
			.seed = seed ^ (0x100000001B3ull * (i + 1)),
		};
	}
	/* processes first, while this process has one thread */
	for (unsigned i = 0; i < CONC_SETTERS + CONC_WATCHERS; i++) {
		struct conc_actor *a = &actors[i];
		bool proc = a->setter ? a->idx >= CONC_SET_THREADS
				      : a->idx >= CONC_WATCH_THREADS;
		pid_t pid;

		if (!proc)
			continue;
		pid = fork_child();
		if (pid == 0) {
			conc_thread(a);
			_exit(0);
		}
		if (pid < 0) {
			children_ok = false;
			break;
		}
		pids[npids++] = pid;
	}
	for (unsigned i = 0; i < CONC_SETTERS + CONC_WATCHERS && children_ok;
	     i++) {
		struct conc_actor *a = &actors[i];
		bool proc = a->setter ? a->idx >= CONC_SET_THREADS
				      : a->idx >= CONC_WATCH_THREADS;

		if (proc)
			continue;
		if (pthread_create(&threads[nthreads], NULL, conc_thread, a)) {
			threads_ok = false;
			break;
		}
		nthreads++;
	}
	if (!children_ok || !threads_ok) {	/* let nobody wait forever */
		for (unsigned i = 0; i < npids; i++)
			kill(pids[i], SIGKILL);
	}
	/* release: the actors' acquire sees everything set up above */
	__atomic_store_n(&sh->go, 1, __ATOMIC_RELEASE);
	for (unsigned i = 0; i < nthreads; i++)
		pthread_join(threads[i], NULL);
	for (unsigned i = 0; i < npids; i++)
		if (!reap(pids[i]))
			children_ok = false;

	bool ok = children_ok && threads_ok;
	struct conc_stats st = { 0 };
	errseq_t final = word_of(&sh->word);

	if (ok) {
		static struct conc_ev all_sets[CONC_SETTERS * CONC_SETS];
		/* [CONC_NERRS]: errno 0, which no set records */
		struct conc_index all, same[CONC_NERRS + 1];
		struct conc_index other[CONC_NERRS + 1];

		for (unsigned s = 0; s < CONC_SETTERS; s++)
			memcpy(&all_sets[s * CONC_SETS], sh->sets[s],
			       sizeof(sh->sets[s]));
		conc_index_build(&all, all_sets, CONC_SETTERS * CONC_SETS,
				 0, 0);
		for (int e = 0; e <= CONC_NERRS; e++) {
			int err = e < CONC_NERRS ? conc_errs[e] : 0;

			conc_index_build(&same[e], all_sets,
					 CONC_SETTERS * CONC_SETS, 1, err);
			conc_index_build(&other[e], all_sets,
					 CONC_SETTERS * CONC_SETS, 2, err);
		}
		for (unsigned w = 0; w < CONC_WATCHERS && ok; w++)
			ok = conc_judge_watcher(sh, w, &all, same, other, &st,
						why, sizeof(why));
		/* (D) quiescence */
		for (unsigned w = 0; w < CONC_WATCHERS && ok; w++) {
			const struct conc_ev *last =
				&sh->checks[w][sh->nchecks[w] - 1];

			if (last->val != 0 || last->cursor != final) {
				snprintf(why, sizeof(why), "watcher %u ended "
					 "with result %d, cursor 0x%08" PRIx32
					 ", word 0x%08" PRIx32, w, last->val,
					 last->cursor, final);
				ok = false;
			}
		}
		if (ok && !(final & SEEN)) {
			snprintf(why, sizeof(why), "final word 0x%08" PRIx32
				 " lacks SEEN", final);
			ok = false;
		}
		conc_index_free(&all);
		for (int e = 0; e <= CONC_NERRS; e++) {
			conc_index_free(&same[e]);
			conc_index_free(&other[e]);
		}
	}
	munmap(sh, sizeof(*sh));

	ck_assert_msg(children_ok, "an actor process failed (seed 0x%016"
		      PRIx64 ")", seed);
	ck_assert_msg(threads_ok, "pthread_create failed");
	ck_assert_msg(ok, "%s (seed 0x%016" PRIx64 "; rerun with ERRSEQ_SEED)",
		      why, seed);
	/* guaranteed, not hoped for: each watcher's last check is judged by
	 * (A), and someone reported the last error (its SEEN is there) */
	ck_assert_uint_ge(st.miss_checked, CONC_WATCHERS);
	ck_assert_uint_ge(st.reports, 1);
	fprintf(stderr, "errseq_concurrency: %" PRIu64 " checks, %" PRIu64
		" reports, %" PRIu64 " zero results (%" PRIu64 " judged for "
		"misses), %" PRIu64 " after an overlapped report; %d sets; "
		"seed 0x%016" PRIx64 "\n", st.checks, st.reports, st.zeros,
		st.miss_checked, st.unanchored, CONC_SETTERS * CONC_SETS, seed);
}
END_TEST

/* ------------------------------------------------------------------ */
/* errseq.rst's story: a worker, 77 supervisors and the big boss       */
/* ------------------------------------------------------------------ */

#define STORY_SUPERVISORS 77

/* One round: the worker's errseq_set and every value that must follow. */
struct story_round {
	int err;		/* what the worker records */
	errseq_t set_ret;	/* errseq_set's return */
	errseq_t after_set;	/* the word after the set */
	int told;		/* what each supervisor is told */
	errseq_t after;		/* the word once every supervisor checked */
};

static const struct story_round story[] = {
	{ -EIO,    0x00000000, 0x00000005, -EIO,    0x00001005 },
	{ -EIO,    0x00001005, 0x00002005, -EIO,    0x00003005 },
	{ -ENOSPC, 0x00003005, 0x0000401C, -ENOSPC, 0x0000501C },
	{ -4096,   0x0000501C, 0x0000501C, 0,       0x0000501C },/* invalid */
	{ -EIO,    0x0000501C, 0x00006005, -EIO,    0x00007005 },
	{ -EDQUOT, 0x00007005, 0x0000807A, -EDQUOT, 0x0000907A },
	{ -EIO,    0x0000907A, 0x0000A005, -EIO,    0x0000B005 },
	/* the big boss's day: he samples before this set, checks after */
	{ -EROFS,  0x0000B005, 0x0000C01E, -EROFS,  0x0000D01E },
};
#define STORY_ROUNDS (sizeof(story) / sizeof(story[0]))

struct story_shared {
	errseq_t wd_err;
	/* per supervisor: its sample, its first check_and_advance */
	errseq_t sampled[STORY_SUPERVISORS];
	int32_t first[STORY_SUPERVISORS];
	/* per round: what it was told, then its next check, its cursor */
	int32_t told[STORY_SUPERVISORS][STORY_ROUNDS];
	int32_t again[STORY_SUPERVISORS][STORY_ROUNDS];
	errseq_t cursor[STORY_SUPERVISORS][STORY_ROUNDS];
	/* the big boss */
	errseq_t boss_since, boss_peek;
	int32_t boss_check, boss_check_again;
};

/* A supervisor: its own cursor in its own process, so no lock. */
__attribute__((noreturn))
static void story_supervisor(struct story_shared *sh, unsigned s, int go,
			     int done)
{
	errseq_t cursor = 0;
	unsigned char b;

	while (read_full(go, &b, 1)) {
		if (b == 0) {	/* the morning: take a cursor */
			cursor = errseq_sample(&sh->wd_err);
			sh->sampled[s] = cursor;
			sh->first[s] = errseq_check_and_advance(&sh->wd_err,
								&cursor);
		} else {
			unsigned r = b - 1u;
			int err = 0;

			/* errseq.rst: check first, then check_and_advance */
			if (errseq_check(&sh->wd_err, cursor))
				err = errseq_check_and_advance(&sh->wd_err,
							       &cursor);
			sh->told[s][r] = err;
			sh->again[s][r] = errseq_check_and_advance(&sh->wd_err,
								   &cursor);
			sh->cursor[s][r] = cursor;
		}
		if (!write_full(done, &b, 1))
			_exit(2);
	}
	_exit(0);
}

/* The big boss: samples on 'S', checks on 'C', never advances. */
__attribute__((noreturn))
static void story_boss(struct story_shared *sh, int cmd, int ack)
{
	errseq_t since = 0;
	unsigned char b;

	while (read_full(cmd, &b, 1)) {
		if (b == 'S') {
			since = errseq_sample(&sh->wd_err);
			sh->boss_since = since;
		} else {
			sh->boss_check = errseq_check(&sh->wd_err, since);
			sh->boss_peek = errseq_peek(&sh->wd_err);
			sh->boss_check_again = errseq_check(&sh->wd_err, since);
		}
		if (!write_full(ack, &b, 1))
			_exit(2);
	}
	_exit(0);
}

/* Close every pipe end in @fds except @keep1 and @keep2. */
static void close_all_but(const int *fds, size_t n, int keep1, int keep2)
{
	for (size_t i = 0; i < n; i++)
		if (fds[i] >= 0 && fds[i] != keep1 && fds[i] != keep2)
			close(fds[i]);
}

/* Hand every supervisor byte @b and wait until all have answered. */
static bool story_round(const int *go_w, int done_r, unsigned char b)
{
	unsigned char acks[STORY_SUPERVISORS];

	for (unsigned s = 0; s < STORY_SUPERVISORS; s++)
		if (!write_full(go_w[s], &b, 1))
			return false;
	return read_full(done_r, acks, sizeof(acks));
}

static bool story_boss_cmd(int cmd_w, int ack_r, unsigned char b)
{
	return write_full(cmd_w, &b, 1) && read_full(ack_r, &b, 1);
}

START_TEST(errseq_story_worker_77_supervisors_and_boss)
{
	/* fds[]: 2 per supervisor go pipe, done pipe, boss cmd, boss ack */
	enum { NFDS = 2 * STORY_SUPERVISORS + 6 };
	struct story_shared *sh = mmap(NULL, sizeof(*sh),
				       PROT_READ | PROT_WRITE,
				       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	int fds[NFDS];
	pid_t pids[STORY_SUPERVISORS + 1];
	unsigned npids = 0;
	errseq_t set_ret[STORY_ROUNDS], after_set[STORY_ROUNDS];
	errseq_t after[STORY_ROUNDS];
	bool proto_ok = true, children_ok = true;
	int *go = fds, *done = fds + 2 * STORY_SUPERVISORS;
	int *cmd = done + 2, *ack = done + 4;
	void (*old_pipe)(int) = signal(SIGPIPE, SIG_IGN);

	ck_assert_ptr_ne(sh, MAP_FAILED);
	memset(sh, 0, sizeof(*sh));
	for (int i = 0; i < NFDS; i++)
		fds[i] = -1;
	for (int i = 0; i < NFDS; i += 2)
		if (pipe(&fds[i]) != 0)
			proto_ok = false;

	/* the worker (this process) forks the boss and 77 supervisors */
	for (unsigned s = 0; s <= STORY_SUPERVISORS && proto_ok; s++) {
		pid_t pid = fork_child();

		if (pid == 0) {
			if (s == STORY_SUPERVISORS) {
				close_all_but(fds, NFDS, cmd[0], ack[1]);
				story_boss(sh, cmd[0], ack[1]);
			}
			close_all_but(fds, NFDS, go[2 * s], done[1]);
			story_supervisor(sh, s, go[2 * s], done[1]);
		}
		if (pid < 0) {
			proto_ok = false;
			break;
		}
		pids[npids++] = pid;
	}
	/* keep only the worker's ends, so a dead child means EOF */
	for (unsigned s = 0; s < STORY_SUPERVISORS; s++) {
		close(go[2 * s]);
		go[2 * s] = -1;
	}
	close(done[1]);
	close(cmd[0]);
	close(ack[1]);
	done[1] = cmd[0] = ack[1] = -1;
	int go_w[STORY_SUPERVISORS];

	for (unsigned s = 0; s < STORY_SUPERVISORS; s++)
		go_w[s] = go[2 * s + 1];

	/* the day starts: the word is zeroed, everyone takes a cursor */
	proto_ok = proto_ok && story_round(go_w, done[0], 0);
	for (unsigned r = 0; r < STORY_ROUNDS && proto_ok; r++) {
		bool boss_day = r == STORY_ROUNDS - 1;

		if (boss_day && !story_boss_cmd(cmd[1], ack[0], 'S'))
			proto_ok = false;
		set_ret[r] = errseq_set(&sh->wd_err, story[r].err);
		after_set[r] = errseq_peek(&sh->wd_err);
		if (boss_day && !story_boss_cmd(cmd[1], ack[0], 'C'))
			proto_ok = false;
		if (proto_ok && !story_round(go_w, done[0],
					     (unsigned char)(r + 1)))
			proto_ok = false;
		after[r] = errseq_peek(&sh->wd_err);
	}
	/* the evening: close the pipes, everyone goes home */
	for (int i = 0; i < NFDS; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	if (!proto_ok)
		for (unsigned i = 0; i < npids; i++)
			kill(pids[i], SIGKILL);
	for (unsigned i = 0; i < npids; i++)
		if (!reap(pids[i]))
			children_ok = false;
	signal(SIGPIPE, old_pipe);

	struct story_shared res = *sh;

	munmap(sh, sizeof(*sh));
	ck_assert_msg(proto_ok, "the round protocol broke (a pipe failed)");
	ck_assert_msg(children_ok, "a supervisor or the boss failed");
	for (unsigned s = 0; s < STORY_SUPERVISORS; s++) {
		ck_assert_msg(res.sampled[s] == 0 && res.first[s] == 0,
			      "supervisor %u: sample 0x%08" PRIx32 ", first "
			      "check %d", s, res.sampled[s], res.first[s]);
	}
	for (unsigned r = 0; r < STORY_ROUNDS; r++) {
		ck_assert_msg(set_ret[r] == story[r].set_ret &&
			      after_set[r] == story[r].after_set &&
			      after[r] == story[r].after,
			      "round %u: set returned 0x%08" PRIx32 ", word "
			      "0x%08" PRIx32 " then 0x%08" PRIx32, r,
			      set_ret[r], after_set[r], after[r]);
		for (unsigned s = 0; s < STORY_SUPERVISORS; s++) {
			ck_assert_msg(res.told[s][r] == story[r].told &&
				      res.again[s][r] == 0 &&
				      res.cursor[s][r] == story[r].after,
				      "round %u supervisor %u: told %d, then "
				      "%d, cursor 0x%08" PRIx32, r, s,
				      res.told[s][r], res.again[s][r],
				      res.cursor[s][r]);
		}
	}
	/* the boss sampled the consumed word, saw EROFS without consuming */
	ASSERT_HEX(res.boss_since, 0x0000B005);
	ck_assert_int_eq(res.boss_check, -EROFS);
	ck_assert_int_eq(res.boss_check_again, -EROFS);
	ASSERT_HEX(res.boss_peek, 0x0000C01E);		/* SEEN still clear */
}
END_TEST

/* ------------------------------------------------------------------ */
/* The documented limitation: the counter wraps after 2^19              */
/* ------------------------------------------------------------------ */

START_TEST(errseq_limitation_counter_wrap_misses)
{
	/*
	 * NOT A BUG: doc/semantics.md, "Counter wrap": after exactly
	 * k * 2^19 "consumed, then changed" transitions ending on the same
	 * errno the word repeats and a cursor that slept through them
	 * misses them.  A busy watcher consumes after every set, so every
	 * set bumps the 19-bit counter; a sleeping cursor taken at the start
	 * sees the word come back to its own value after 2^19 sets.
	 */
	const uint32_t wrap = 1u << 19;
	errseq_t w = 0, sleeper = 0, busy = 0;
	uint32_t bad_at = 0;

	errseq_set(&w, -EIO);
	ck_assert_int_eq(errseq_check_and_advance(&w, &sleeper), -EIO);
	busy = sleeper;
	ASSERT_HEX(sleeper, 0x00001005);
	for (uint32_t i = 1; i <= wrap && !bad_at; i++) {
		errseq_t expect = ((i % wrap) << 13) | 0x5u;

		errseq_set(&w, -EIO);
		if (word_of(&w) != expect ||
		    errseq_check_and_advance(&w, &busy) != -EIO ||
		    busy != (expect | SEEN))
			bad_at = i;
		/* just before the wrap the sleeper still hears of it */
		if (i == wrap - 1 && errseq_check(&w, sleeper) != -EIO)
			bad_at = i;
	}
	ck_assert_msg(bad_at == 0, "transition %u went wrong: word 0x%08"
		      PRIx32, bad_at, word_of(&w));
	ASSERT_WORD(&w, 0x00001005);	/* the sleeper's very value */
	ck_assert_int_eq(errseq_check(&w, sleeper), 0);	/* the miss */
	ck_assert_int_eq(errseq_check_and_advance(&w, &sleeper), 0);
}
END_TEST

/* ------------------------------------------------------------------ */

static TCase *tcase(Suite *s, const char *name)
{
	TCase *tc = tcase_create(name);

	tcase_set_timeout(tc, 300);	/* generous: CI may run sanitizers */
	suite_add_tcase(s, tc);
	return tc;
}

static Suite *errseq_suite(void)
{
	Suite *s = suite_create("errseq");
	TCase *tc;

	tc = tcase(s, "errseq_set");
	tcase_add_test(tc, errseq_set_on_zero);
	tcase_add_test(tc, errseq_set_unseen_changes_errno_only);
	tcase_add_test(tc, errseq_set_seen_bumps_counter);
	tcase_add_test(tc, errseq_set_repeat_unseen_no_write);
	tcase_add_test(tc, errseq_set_invalid_stores_nothing);
	tcase_add_test(tc, errseq_set_accepts_bounds);
	tcase_add_test(tc, errseq_set_counter_wraps);

	tc = tcase(s, "errseq_read");
	tcase_add_test(tc, errseq_sample_zero_unless_seen);
	tcase_add_test(tc, errseq_check_compares_all_bits);
	tcase_add_test(tc, errseq_peek_no_side_effect);

	tc = tcase(s, "errseq_check_and_advance");
	tcase_add_test(tc, errseq_check_and_advance_equal_touches_nothing);
	tcase_add_test(tc, errseq_check_and_advance_consumes_once);
	tcase_add_test(tc, errseq_check_and_advance_already_seen_no_write);

	tc = tcase(s, "errseq_consequences");
	tcase_add_test(tc, errseq_unconsumed_repeat_needs_no_bump);
	tcase_add_test(tc, errseq_only_latest_errno_kept);
	tcase_add_test(tc, errseq_foreign_cursor_on_fresh_word);
	tcase_add_test(tc, errseq_told_again_after_consume_and_repeat);
	tcase_add_test(tc, errseq_told_again_when_value_repeats);
	tcase_add_test(tc, errseq_lost_cas_then_flip_flop_is_missed);
	tcase_add_test(tc, errseq_big_boss_check_does_not_consume);
	tcase_add_test(tc, errseq_shared_cursor_unserialised_goes_backward);

	tc = tcase(s, "errseq_differential");
	tcase_add_test(tc, errseq_differential_random_ops);

	tc = tcase(s, "errseq_concurrency");
	tcase_add_test(tc, errseq_concurrency_threads_and_processes);

	tc = tcase(s, "errseq_story");
	tcase_add_test(tc, errseq_story_worker_77_supervisors_and_boss);

	tc = tcase(s, "errseq_limitation");
	tcase_add_test(tc, errseq_limitation_counter_wrap_misses);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(errseq_suite());
	int failed;

	srunner_run_all(sr, CK_ENV);	/* CK_VERBOSITY, default normal */
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
