/*
 * test_waiting.c - liberrseq-client's tests: errseq_slot_wait and cursors:
 * timeouts, wake-ups, EINTR, threads sharing a cursor.
 *
 * The fixture (a private errseqd per case, forked "kids") and the helpers
 * are in tests/support/client_util.h.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <grp.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/protocol.h"
#include "common/shm_layout.h"
#include "errseq/client.h"
#include "tests/support/client_util.h"
#include "tests/support/rawclient.h"

START_TEST(client_wait_timeout)
{
	struct errseq_slot *s;
	errseq_t since;
	uint32_t index;

	up(64, NULL);
	s = must_open("w", ERRSEQ_CREATE);
	ck_assert_int_eq(errseq_slot_wait(s, 0, 0), -ETIMEDOUT);
	ck_assert_int_eq(errseq_slot_wait(s, 0, 30), -ETIMEDOUT);
	errseq_slot_set(s, -EIO);
	ck_assert_int_eq(errseq_slot_wait(s, 0, 30), 0);	/* differs */
	ck_assert_int_eq(errseq_slot_wait(s, 0, -1), 0);
	since = errseq_slot_peek(s);
	ck_assert_int_eq(errseq_slot_wait(s, since, 20), -ETIMEDOUT);
	ck_assert_int_eq(errseq_slot_wait(s, since, 20), -ETIMEDOUT);
	/*
	 * Layout 1 counted every sleeper in waiters and checked that none
	 * was left.  With ARM (layout 2) waiters is the daemon's count of
	 * armed connections: this one connection, once, however many waits
	 * it made, until it closes its last hold on the slot.
	 */
	index = slot_index(s);
	ck_assert_uint_eq(__atomic_load_n(&seg_slot(index)->waiters,
					  __ATOMIC_SEQ_CST), 1);
	errseq_slot_close(s);
	ck_assert_uint_eq(__atomic_load_n(&seg_slot(index)->waiters,
					  __ATOMIC_SEQ_CST), 0);
}
END_TEST

struct setter_arg {
	uint32_t index;
	const char *name;
	int err;	/* what to set, or 0: unlink instead */
};

static int setter_kid(void *arg)
{
	struct setter_arg *a = arg;
	struct errseq_client *c = kid_client();
	struct errseq_slot *s;

	/* the parent is asleep in wait before we act */
	KID_REQUIRE(await_waiter(a->index, LONG_MS));
	if (a->err == 0) {
		KID_EQ(errseq_slot_unlink(c, a->name), 0);
	} else {
		KID_EQ(errseq_slot_open(c, a->name, 0, &s), 0);
		KID_EQ(errseq_slot_set(s, a->err), 0);
	}
	errseq_client_close(c);
	return 0;
}

START_TEST(client_wait_woken_by_set)
{
	struct setter_arg a = { .name = "wake", .err = -EXDEV };
	struct errseq_slot_info info;
	struct sleeper w = { 0 };
	struct errseq_slot *s;
	pid_t pid;

	up(64, NULL);
	s = must_open("wake", ERRSEQ_CREATE);
	a.index = slot_index(s);
	seg_slot(a.index);	/* map before forking, the kid uses it */
	w.s = s;
	w.since = errseq_slot_sample(s);
	pid = kid(setter_kid, &a);	/* fork before making threads */
	sleeper_start(&w);
	ck_assert_int_eq(sleeper_join(&w), 0);
	ck_assert_int_eq(errseq_slot_check(s, w.since), -EXDEV);
	ck_assert_int_eq(reap(pid), 0);
	ck_assert_int_eq(errseq_stat(C, "wake", &info), 0);
	ck_assert_int_eq(info.last_pid, pid);
	/* armed (layout 2: one count per connection, kept while it holds
	 * the slot; layout 1 counted sleepers), disarmed by the close */
	ck_assert_uint_eq(seg_slot(a.index)->waiters, 1);
	errseq_slot_close(s);
	ck_assert_uint_eq(seg_slot(a.index)->waiters, 0);
}
END_TEST

START_TEST(client_wait_woken_stale_by_unlink)
{
	struct setter_arg a = { .name = "doomed", .err = 0 };
	struct sleeper w = { 0 };
	struct errseq_slot *s;
	pid_t pid;

	up(64, NULL);
	s = must_open("doomed", ERRSEQ_CREATE);
	a.index = slot_index(s);
	seg_slot(a.index);	/* map before forking, the kid uses it */
	ck_assert_int_eq(errseq_cursor_new(s, &w.cur), 0);
	pid = kid(setter_kid, &a);	/* fork before making threads */
	sleeper_start(&w);
	ck_assert_int_eq(sleeper_join(&w), ERRSEQ_ESTALE);
	ck_assert_int_eq(reap(pid), 0);
	ck_assert_int_eq(errseq_slot_check(s, 0), ERRSEQ_ESTALE);
	errseq_slot_close(s);	/* frees cur as well */
}
END_TEST

/*
 * A writer of the slot zeroes `waiters` while someone sleeps in wait (issue
 * 9, case 6: layout 1 slept through the recorded error).  The setter then
 * sees no waiter and makes no FUTEX_WAKE; the sleeper's bounded sleep and
 * fresh look at the word must still wake it for the error, and the next
 * ARM restores the daemon's count.
 */
START_TEST(client_wait_survives_zeroed_waiters)
{
	struct sleeper w = { 0 };
	struct errseq_slot *s;
	struct esrc rc;
	struct esp_open_rep o;
	struct esd_slot *rw;
	void *chunk;
	int r;

	up(64, NULL);
	s = must_open("zeroed", ERRSEQ_CREATE);
	/* a writer's read-write mapping of the slot's chunk (we are its
	 * creator's uid) */
	r = esrc_connect_hello(&rc, D.sock);
	ck_assert_int_eq(r, 0);
	ck_assert_int_eq(esrc_open(&rc, "zeroed", 6, 0, &o), 0);
	ck_assert_uint_eq(o.flags & ESP_RIGHT_WRITE, ESP_RIGHT_WRITE);
	chunk = mmap(NULL, ESD_CHUNK_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED,
		     esrc_chunk_fd(&rc, o.index), 0);
	ck_assert_ptr_ne(chunk, MAP_FAILED);
	rw = (struct esd_slot *)chunk + ESD_INDEX_SLOT(o.index);

	w.s = s;
	w.since = errseq_slot_sample(s);
	sleeper_start(&w);
	ck_assert(await_waiter(o.index, LONG_MS));
	__atomic_store_n(&rw->waiters, 0, __ATOMIC_SEQ_CST);
	ck_assert_int_eq(errseq_slot_set(s, -EIO), 0);
	ck_assert_int_eq(sleeper_join(&w), 0);
	ck_assert_int_eq(errseq_slot_check(s, w.since), -EIO);

	/* a cursor waiter too, with waiters zeroed again first */
	ck_assert_int_eq(errseq_cursor_new(s, &w.cur), 0);
	ck_assert_int_eq(errseq_cursor_check(w.cur), -EIO);
	__atomic_store_n(&rw->waiters, 0, __ATOMIC_SEQ_CST);
	sleeper_start(&w);
	ck_assert_int_eq(errseq_slot_set(s, -EXDEV), 0);
	ck_assert_int_eq(sleeper_join(&w), -EXDEV);
	munmap(chunk, ESD_CHUNK_BYTES);
	esrc_fini(&rc);
	errseq_slot_close(s);
}
END_TEST

static int waiting_kid(void *arg)
{
	struct errseq_client *c = kid_client();
	struct errseq_slot *s;

	KID_EQ(errseq_slot_open(c, (const char *)arg, 0, &s), 0);
	errseq_slot_wait(s, errseq_slot_sample(s), -1);	/* killed here */
	return 2;
}

/*
 * A waiter killed by SIGKILL: in layout 1 it left `waiters` raised for
 * good (every later set paid a FUTEX_WAKE).  With ARM the daemon disarms
 * the connection when it goes.
 */
START_TEST(client_killed_waiter_leaves_no_waiter)
{
	struct errseq_slot *s;
	uint32_t index;
	int64_t end;
	pid_t pid;

	up(64, NULL);
	s = must_open("victim", ERRSEQ_CREATE);
	index = slot_index(s);
	seg_slot(index);	/* map before forking */
	pid = kid(waiting_kid, "victim");
	ck_assert(await_waiter(index, LONG_MS));
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	ck_assert_int_eq(reap(pid), 128 + SIGKILL);
	end = mono_ms() + LONG_MS;
	while (__atomic_load_n(&seg_slot(index)->waiters, __ATOMIC_SEQ_CST) &&
	       mono_ms() < end)
		nap_ms(5);
	ck_assert_uint_eq(__atomic_load_n(&seg_slot(index)->waiters,
					  __ATOMIC_SEQ_CST), 0);
	errseq_slot_close(s);
}
END_TEST

static void on_usr1(int sig)
{
	(void)sig;
}

struct eintr_arg {
	struct errseq_slot *s;
	int r;
	int done;
};

static void *eintr_waiter(void *arg)
{
	struct eintr_arg *a = arg;

	a->r = errseq_slot_wait(a->s, 0, LONG_MS);
	__atomic_store_n(&a->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

START_TEST(client_wait_eintr)
{
	struct sigaction sa = { .sa_handler = on_usr1 };	/* no SA_RESTART */
	struct eintr_arg a = { .r = 1 };
	uint32_t index;
	pthread_t t;

	up(64, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	a.s = must_open("intr", ERRSEQ_CREATE);
	ck_assert_int_eq(pthread_create(&t, NULL, eintr_waiter, &a), 0);
	ck_assert(await_waiter(slot_index(a.s), LONG_MS));
	/* The waiter is armed, but may not be in FUTEX_WAIT yet: a signal
	 * handled just before the sleep interrupts nothing.  Signal until
	 * the wait returns (bounded by its own LONG_MS timeout). */
	while (!__atomic_load_n(&a.done, __ATOMIC_ACQUIRE)) {
		pthread_kill(t, SIGUSR1);
		nap_ms(50);
	}
	pthread_join(t, NULL);
	ck_assert_int_eq(a.r, -EINTR);
	/* still armed (layout 2) until the last hold goes */
	index = slot_index(a.s);
	ck_assert_uint_eq(seg_slot(index)->waiters, 1);
	errseq_slot_close(a.s);
	ck_assert_uint_eq(seg_slot(index)->waiters, 0);
}
END_TEST

START_TEST(client_cursor_basics)
{
	struct errseq_cursor *c1, *c2, *c3;
	struct errseq_slot *s;

	up(64, NULL);
	s = must_open("cur", ERRSEQ_CREATE);
	ck_assert_int_eq(errseq_cursor_new(s, &c1), 0);
	ck_assert_int_eq(errseq_cursor_check(c1), 0);
	ck_assert_int_eq(errseq_cursor_wait(c1, 20), 0);	/* timeout: nothing new */

	errseq_slot_set(s, -EIO);
	/* a cursor made now still gets the unconsumed error */
	ck_assert_int_eq(errseq_cursor_new(s, &c2), 0);
	ck_assert_int_eq(errseq_cursor_check(c1), -EIO);
	ck_assert_int_eq(errseq_cursor_check(c1), 0);	/* once */
	ck_assert_int_eq(errseq_cursor_wait(c2, LONG_MS), -EIO);
	ck_assert_int_eq(errseq_cursor_check(c2), 0);
	/* consumed now: a new cursor starts after it */
	ck_assert_int_eq(errseq_cursor_new(s, &c3), 0);
	ck_assert_int_eq(errseq_cursor_check(c3), 0);

	errseq_slot_set(s, -EIO);	/* counter bump: new to everyone */
	ck_assert_int_eq(errseq_cursor_check(c1), -EIO);
	ck_assert_int_eq(errseq_cursor_check(c2), -EIO);
	ck_assert_int_eq(errseq_cursor_wait(c3, LONG_MS), -EIO);
	ck_assert_int_eq(errseq_cursor_wait(c3, 10), 0);	/* timeout: nothing new */
	/* a recorded ETIMEDOUT is a report, unlike the timeout above */
	errseq_slot_set(s, -ETIMEDOUT);
	ck_assert_int_eq(errseq_cursor_wait(c3, LONG_MS), -ETIMEDOUT);
	ck_assert_int_eq(errseq_cursor_wait(c3, 10), 0);
	errseq_cursor_free(c1);
	errseq_cursor_free(NULL);
	/* c2 and c3 are freed with the slot */
	errseq_slot_close(s);
}
END_TEST

/*
 * Threads sharing one cursor: each error is reported exactly once.  Every
 * round the threads are released together (a generation flag they spin
 * on) to call errseq_cursor_check once each on a freshly set error, so
 * they race inside it; exactly one of them may report the error.
 */
#define SHARE_THREADS	2	/* one per core on CI */

struct share {
	struct errseq_cursor *cur;
	int round;		/* atomic: bumped to release the threads */
	int calls;		/* atomic: cursor_check calls made */
	int reports;		/* atomic */
	int bad;		/* atomic: reports of a wrong value */
	int expect;		/* atomic: the errno now pending */
	int stop;		/* atomic */
};

static void *share_thread(void *arg)
{
	struct share *sh = arg;
	int mine = 0, r;

	for (;;) {
		/* spin, so that both threads leave together; yield now and
		 * then, so that the main thread gets a core */
		for (unsigned n = 1; __atomic_load_n(&sh->round,
						     __ATOMIC_ACQUIRE) == mine;
		     n++) {
			if (__atomic_load_n(&sh->stop, __ATOMIC_ACQUIRE))
				return NULL;
			if (n % 256 == 0)
				sched_yield();
		}
		mine++;
		r = errseq_cursor_check(sh->cur);
		if (r != 0) {
			if (r != -__atomic_load_n(&sh->expect,
						  __ATOMIC_ACQUIRE))
				__atomic_fetch_add(&sh->bad, 1,
						   __ATOMIC_RELAXED);
			__atomic_fetch_add(&sh->reports, 1, __ATOMIC_ACQ_REL);
		}
		__atomic_fetch_add(&sh->calls, 1, __ATOMIC_ACQ_REL);
	}
}

START_TEST(client_cursor_shared_by_threads)
{
	struct share sh = { 0 };
	struct errseq_slot *s;
	pthread_t t[SHARE_THREADS];
	const int rounds = 5000;

	up(64, NULL);
	s = must_open("shared", ERRSEQ_CREATE);
	ck_assert_int_eq(errseq_cursor_new(s, &sh.cur), 0);
	for (int i = 0; i < SHARE_THREADS; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, share_thread,
						&sh), 0);
	for (int k = 1; k <= rounds; k++) {
		int64_t end = mono_ms() + LONG_MS;

		__atomic_store_n(&sh.expect, k % 4095 + 1, __ATOMIC_RELEASE);
		ck_assert_int_eq(errseq_slot_set(s, -(k % 4095 + 1)), 0);
		__atomic_store_n(&sh.round, k, __ATOMIC_RELEASE);
		while (__atomic_load_n(&sh.calls, __ATOMIC_ACQUIRE) <
		       k * SHARE_THREADS && mono_ms() < end)
			sched_yield();
		ck_assert_int_eq(__atomic_load_n(&sh.calls, __ATOMIC_ACQUIRE),
				 k * SHARE_THREADS);
		/* once per error, among all the threads */
		ck_assert_int_eq(__atomic_load_n(&sh.reports,
						 __ATOMIC_ACQUIRE), k);
	}
	__atomic_store_n(&sh.stop, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < SHARE_THREADS; i++)
		pthread_join(t[i], NULL);
	ck_assert_int_eq(sh.bad, 0);
	ck_assert_int_eq(errseq_cursor_check(sh.cur), 0);
	errseq_slot_close(s);
}
END_TEST

/* ---- suite ----------------------------------------------------------- */

static Suite *client_waiting_suite(void)
{
	Suite *s = suite_create("client_waiting");
	TCase *tc;

	tc = tcase_create("waiting");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, client_wait_timeout);
	tcase_add_test(tc, client_wait_woken_by_set);
	tcase_add_test(tc, client_wait_woken_stale_by_unlink);
	tcase_add_test(tc, client_wait_eintr);
	tcase_add_test(tc, client_wait_survives_zeroed_waiters);
	tcase_add_test(tc, client_killed_waiter_leaves_no_waiter);
	tcase_add_test(tc, client_cursor_basics);
	tcase_add_test(tc, client_cursor_shared_by_threads);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	sr = srunner_create(client_waiting_suite());
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
