/*
 * test_inline.c - liberrseq-client's opt-in inline fast path
 * (ERRSEQ_INLINE), its dense slot handles and its lock-free cursors,
 * against the real daemon.
 *
 * This file is compiled with ERRSEQ_INLINE, so errseq_slot_check and
 * errseq_cursor_check below are the header's static inline versions and
 * the opens go through the inline-ABI check.  The library's own functions
 * are reached by parenthesising the name, (errseq_slot_check)(...), and the
 * cases compare the two on every state a slot goes through.
 *
 * The fixture (a private errseqd per case, forked kids) is
 * tests/support/client_util.h's.
 */
#define ERRSEQ_INLINE 1
#include "config.h"

#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "errseq/client.h"
#include "tests/support/client_util.h"

/* The header's wrappers are in force in this file. */
#if !defined(errseq_slot_check) || !defined(errseq_cursor_check)
#error "ERRSEQ_INLINE did not turn the checks inline"
#endif

START_TEST(inline_abi_number)
{
	ck_assert_int_eq(errseq_inline_abi(ERRSEQ_INLINE_ABI), 0);
	ck_assert_int_eq(errseq_inline_abi(ERRSEQ_INLINE_ABI + 1),
			 ERRSEQ_EABI);
	ck_assert_int_eq(errseq_inline_abi(0), ERRSEQ_EABI);
	ck_assert_ptr_nonnull(strstr(errseq_strerror(ERRSEQ_EABI),
				     "ERRSEQ_INLINE"));
	/* under every errno, like the library's other codes */
	ck_assert_int_lt(ERRSEQ_EABI, -ERRSEQ_MAX_ERRNO);
}
END_TEST

/* The inline check and the library's agree, for @since. */
static void agree(struct errseq_slot *s, errseq_t since)
{
	ck_assert_int_eq(errseq_slot_check(s, since),
			 (errseq_slot_check)(s, since));
}

START_TEST(inline_check_matches_library)
{
	struct errseq_slot *s;
	struct errseq_cursor *cur, *cur2;
	errseq_t since = 0, seen;

	up(64, NULL);
	s = must_open("inl", ERRSEQ_CREATE);
	ck_assert_int_eq(errseq_cursor_new(s, &cur), 0);
	agree(s, 0);
	ck_assert_int_eq(errseq_slot_check(s, 0), 0);
	ck_assert_int_eq(errseq_cursor_check(cur), 0);

	ck_assert_int_eq(errseq_slot_set(s, -EIO), 0);
	agree(s, 0);
	ck_assert_int_eq(errseq_slot_check(s, 0), -EIO);
	ck_assert_int_eq(errseq_cursor_check(cur), -EIO);	/* once */
	ck_assert_int_eq(errseq_cursor_check(cur), 0);
	seen = errseq_slot_peek(s);
	ck_assert(seen & ERRSEQ_SEEN);
	agree(s, seen);
	ck_assert_int_eq(errseq_slot_check(s, seen), 0);

	/* a second cursor starts at the sample: nothing new for it */
	ck_assert_int_eq(errseq_cursor_new(s, &cur2), 0);
	ck_assert_int_eq(errseq_cursor_check(cur2), 0);

	/* a new error after SEEN: both cursors are told, once each */
	ck_assert_int_eq(errseq_slot_set(s, -ENOSPC), 0);
	agree(s, seen);
	ck_assert_int_eq(errseq_slot_check(s, seen), -ENOSPC);
	ck_assert_int_eq(errseq_cursor_check(cur), -ENOSPC);
	ck_assert_int_eq(errseq_cursor_check(cur2), -ENOSPC);
	ck_assert_int_eq(errseq_cursor_check(cur), 0);
	ck_assert_int_eq(errseq_cursor_check(cur2), 0);

	/* the same error again after SEEN is new again */
	ck_assert_int_eq(errseq_slot_set(s, -ENOSPC), 0);
	ck_assert_int_eq(errseq_cursor_check(cur), -ENOSPC);
	ck_assert_int_eq(errseq_slot_check_and_advance(s, &since), -ENOSPC);
	agree(s, since);
	ck_assert_int_eq(errseq_slot_check(s, since), 0);

	/* deleted: stale, told inline and by the library alike */
	ck_assert_int_eq(errseq_slot_unlink(C, "inl"), 0);
	agree(s, since);
	ck_assert_int_eq(errseq_slot_check(s, since), ERRSEQ_ESTALE);
	ck_assert_int_eq(errseq_cursor_check(cur), ERRSEQ_ESTALE);
	ck_assert_int_eq(errseq_cursor_check(cur2), ERRSEQ_ESTALE);
	errseq_slot_close(s);
}
END_TEST

START_TEST(inline_stale_on_new_state)
{
	static const char *const recreate[] = { "--recreate", NULL };
	struct errseq_slot *s;
	struct errseq_cursor *cur;
	errseq_t v;

	up(64, NULL);
	s = must_open("inc", ERRSEQ_CREATE);
	ck_assert_int_eq(errseq_cursor_new(s, &cur), 0);
	ck_assert_int_eq(errseq_slot_set(s, -EIO), 0);
	ck_assert_int_eq(errseq_cursor_check(cur), -EIO);
	v = errseq_slot_peek(s);
	ck_assert_int_eq(errseq_slot_check(s, v), 0);

	/* The daemon comes back with a new state: the old chunk's word is
	 * unchanged in our old mapping, yet the handle must read stale. */
	ck_assert_int_gt(esdt_daemon_stop(&D, SIGKILL), 0);
	ck_assert_int_eq(esdt_daemon_restart(&D, recreate), 0);
	await_reconnect(C);
	ck_assert_int_eq(errseq_slot_check(s, v), ERRSEQ_ESTALE);
	ck_assert_int_eq((errseq_slot_check)(s, v), ERRSEQ_ESTALE);
	ck_assert_int_eq(errseq_cursor_check(cur), ERRSEQ_ESTALE);
	errseq_slot_close(s);
}
END_TEST

/*
 * More handles than one slab holds (2,727), opened, used and closed in an
 * order that frees entries in the middle of slabs and reuses them: every
 * handle keeps its own slot, name and value.
 */
#define MANY 6000

START_TEST(dense_handles_many)
{
	static struct errseq_slot *h[MANY];
	static const char *const extra[] = { "--max-slots-per-uid", "0",
					     NULL };
	char name[32];
	int i;

	up(8192, extra);
	for (i = 0; i < MANY; i++) {
		snprintf(name, sizeof(name), "d.%d", i);
		ck_assert_int_eq(errseq_slot_open(C, name, ERRSEQ_CREATE,
						  &h[i]), 0);
		ck_assert_int_eq(errseq_slot_set(h[i], -(i % 4000 + 1)), 0);
	}
	for (i = 0; i < MANY; i++) {
		snprintf(name, sizeof(name), "d.%d", i);
		ck_assert_str_eq(errseq_slot_name(h[i]), name);
		ck_assert_int_eq(errseq_slot_writable(h[i]), 1);
		ck_assert_int_eq(errseq_slot_check(h[i], 0), -(i % 4000 + 1));
	}
	/* free two of every three, then reopen them: entries are reused */
	for (i = 0; i < MANY; i++)
		if (i % 3 != 0) {
			errseq_slot_close(h[i]);
			h[i] = NULL;
		}
	for (i = 0; i < MANY; i += 3)
		ck_assert_int_eq(errseq_slot_check(h[i], 0), -(i % 4000 + 1));
	for (i = MANY - 1; i >= 0; i--) {
		if (i % 3 == 0)
			continue;
		snprintf(name, sizeof(name), "d.%d", i);
		ck_assert_int_eq(errseq_slot_open(C, name, 0, &h[i]), 0);
	}
	for (i = 0; i < MANY; i++) {
		errseq_t v = errseq_slot_peek(h[i]);

		snprintf(name, sizeof(name), "d.%d", i);
		ck_assert_str_eq(errseq_slot_name(h[i]), name);
		ck_assert_uint_eq(v & ERRSEQ_MAX_ERRNO, (unsigned)(i % 4000 + 1));
		ck_assert_int_eq(errseq_slot_check(h[i], v), 0);
	}
	/* a deleted one is stale through its handle, the others are not */
	ck_assert_int_eq(errseq_slot_unlink(C, "d.4000"), 0);
	ck_assert_int_eq(errseq_slot_check(h[4000], 0), ERRSEQ_ESTALE);
	ck_assert_int_eq(errseq_slot_check(h[3999], 0), -(3999 % 4000 + 1));
	ck_assert_int_eq(errseq_slot_check(h[4001], 0), -(4001 % 4000 + 1));
	for (i = 0; i < MANY; i++)
		errseq_slot_close(h[i]);
	await_holders("d.0", 0);
}
END_TEST

/*
 * One cursor shared by threads, with no lock.  Each round the main thread
 * records an error (a new state: the previous one was consumed), then
 * releases the checkers at once; each calls errseq_cursor_check a few
 * times.  Exactly one report per round over all of them: a cursor that
 * let two threads report the same error (or none) fails here.  The
 * checkers spin before a round so that two of them really run at the same
 * instant on two cores.
 */
#define SHARED_THREADS	3
#define SHARED_ROUNDS	100000

struct sharer {
	struct errseq_cursor *cur;
	int *round;		/* released round, -1: stop */
	int *done;		/* checkers finished with the round */
	int reports;
	int bad;
};

static void *sharer_main(void *arg)
{
	struct sharer *sh = arg;
	int seen = 0;

	for (;;) {
		int r, spins = 0;

		while ((r = __atomic_load_n(sh->round, __ATOMIC_ACQUIRE)) ==
		       seen)
			if (++spins > 2000) {
				sched_yield();
				spins = 0;
			}
		if (r < 0)
			return NULL;
		seen = r;
		for (int k = 0; k < 3; k++) {
			int e = errseq_cursor_check(sh->cur);

			if (e == -EIO || e == -ENOSPC)
				sh->reports++;
			else if (e != 0)
				sh->bad++;
		}
		__atomic_add_fetch(sh->done, 1, __ATOMIC_ACQ_REL);
	}
}

START_TEST(cursor_shared_lock_free)
{
	struct sharer sh[SHARED_THREADS];
	pthread_t t[SHARED_THREADS];
	struct errseq_slot *s;
	struct errseq_cursor *cur;
	int round = 0, done = 0, total, i, k;

	up(64, NULL);
	s = must_open("shared", ERRSEQ_CREATE);
	ck_assert_int_eq(errseq_cursor_new(s, &cur), 0);
	for (i = 0; i < SHARED_THREADS; i++) {
		sh[i] = (struct sharer){ .cur = cur, .round = &round,
					 .done = &done };
		ck_assert_int_eq(pthread_create(&t[i], NULL, sharer_main,
						&sh[i]), 0);
	}
	for (k = 1; k <= SHARED_ROUNDS; k++) {
		ck_assert_int_eq(errseq_slot_set(s, (k & 1) ? -ENOSPC : -EIO),
				 0);
		__atomic_store_n(&done, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&round, k, __ATOMIC_RELEASE);
		while (__atomic_load_n(&done, __ATOMIC_ACQUIRE) !=
		       SHARED_THREADS)
			sched_yield();
		total = 0;
		for (i = 0; i < SHARED_THREADS; i++)
			total += sh[i].reports;
		if (total != k)
			break;	/* reported below, after the threads stop */
	}
	__atomic_store_n(&round, -1, __ATOMIC_RELEASE);
	total = 0;
	for (i = 0; i < SHARED_THREADS; i++) {
		pthread_join(t[i], NULL);
		ck_assert_int_eq(sh[i].bad, 0);
		total += sh[i].reports;
	}
	ck_assert_int_eq(k, SHARED_ROUNDS + 1);	/* every round: one report */
	ck_assert_int_eq(total, SHARED_ROUNDS);
	ck_assert_int_eq(errseq_cursor_check(cur), 0);
	errseq_slot_close(s);
}
END_TEST

static Suite *inline_suite(void)
{
	Suite *s = suite_create("client_inline");
	TCase *tc = tcase_create("inline");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 180);
	tcase_add_test(tc, inline_abi_number);
	tcase_add_test(tc, inline_check_matches_library);
	tcase_add_test(tc, inline_stale_on_new_state);
	tcase_add_test(tc, dense_handles_many);
	tcase_add_test(tc, cursor_shared_lock_free);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(inline_suite());
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
