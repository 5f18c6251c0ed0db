/*
 * test_fork.c - liberrseq-client's tests: many processes: fork, the 77
 * supervisors story, producers and watchers.
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

/* ---------------------------------------------------------- fork */

struct fork_arg {
	struct errseq_slot *s;
	struct errseq_cursor *cur;
};

static int forked_kid(void *arg)
{
	struct fork_arg *a = arg;
	struct errseq_daemon_status st;
	struct errseq_slot_info info;
	struct errseq_slot *x = NULL;
	struct errseq_client *own;
	uint32_t pos = 0;

	/* control calls on the inherited client: refused, socket untouched */
	KID_EQ(errseq_slot_open(C, "other", ERRSEQ_CREATE, &x),
	       ERRSEQ_EFORKED);
	KID_REQUIRE(x == NULL);
	KID_EQ(errseq_slot_unlink(C, "forked"), ERRSEQ_EFORKED);
	KID_EQ(errseq_stat(C, "forked", &info), ERRSEQ_EFORKED);
	KID_EQ(errseq_list(C, &pos, &info, 1), ERRSEQ_EFORKED);
	KID_EQ(errseq_status(C, &st), ERRSEQ_EFORKED);

	/* the data path works on inherited handles and cursors */
	KID_EQ(errseq_cursor_check(a->cur), -EIO);
	KID_EQ(errseq_cursor_check(a->cur), 0);
	KID_EQ(errseq_slot_set(a->s, -ENOSPC), 0);
	KID_EQ(errseq_cursor_check(a->cur), -ENOSPC);

	/* an own client works; then release the inherited one */
	own = kid_client();
	KID_EQ(errseq_stat(own, "forked", &info), 0);
	KID_EQ(info.last_pid, getpid());
	KID_EQ(info.holders, 1);	/* the parent's: we hold nothing */
	errseq_client_close(own);
	errseq_client_close(C);		/* no CLOSE sent, parent unaffected */
	return 0;
}

static int grandchild_setter(void *arg)
{
	struct fork_arg *a = arg;

	return errseq_slot_set(a->s, -EBUSY) == 0 ? 0 : 1;
}

static int forking_kid(void *arg)
{
	struct errseq_slot_info info;
	struct errseq_client *c;
	pid_t g = fork();
	int st;

	if (g == 0)
		_exit(grandchild_setter(arg));
	KID_REQUIRE(g > 0);
	KID_REQUIRE(waitpid(g, &st, 0) == g);
	KID_REQUIRE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	/* the grandchild's set recorded the grandchild's pid */
	c = kid_client();
	KID_EQ(errseq_stat(c, "forked", &info), 0);
	KID_EQ(info.last_pid, g);
	errseq_client_close(c);
	return 0;
}

START_TEST(client_fork_child)
{
	struct fork_arg a;
	struct errseq_slot_info info;
	struct errseq_daemon_status st;
	pid_t pid;

	up(64, NULL);
	a.s = must_open("forked", ERRSEQ_CREATE);
	ck_assert_int_eq(errseq_cursor_new(a.s, &a.cur), 0);
	ck_assert_int_eq(errseq_slot_set(a.s, -EIO), 0);
	ck_assert_int_eq(errseq_stat(C, "forked", &info), 0);
	ck_assert_int_eq(info.last_pid, getpid());

	pid = kid(forked_kid, &a);
	ck_assert_int_eq(reap(pid), 0);
	ck_assert_int_eq(errseq_stat(C, "forked", &info), 0);
	ck_assert_int_eq(info.last_pid, pid);
	ck_assert_uint_eq(info.holders, 1);
	ck_assert_int_eq(errseq_status(C, &st), 0);
	/* the parent's cursor is its own: it still has EIO pending */
	ck_assert_int_eq(errseq_cursor_check(a.cur), -ENOSPC);
	ck_assert_int_eq(errseq_cursor_check(a.cur), 0);

	/* a grandchild's set records the grandchild's pid */
	ck_assert_int_eq(reap(kid(forking_kid, &a)), 0);
	ck_assert_int_eq(errseq_slot_set(a.s, -EIO), 0);
	ck_assert_int_eq(errseq_stat(C, "forked", &info), 0);
	ck_assert_int_eq(info.last_pid, getpid());
	errseq_slot_close(a.s);
}
END_TEST

/* ----------------------------------------------- errseq.rst's story */

#define SUPERVISORS 77

struct story {
	int ready[2];	/* kids -> boss: one byte each when set up */
	int got[2];	/* supervisors -> boss: one byte per error seen */
	int go[2];	/* boss -> worker: one byte per error to make */
};

static int supervisor_kid(void *arg)
{
	struct story *st = arg;
	struct errseq_client *c = kid_client();
	struct errseq_cursor *cur;
	struct errseq_slot *s;

	KID_EQ(errseq_slot_open(c, "wd", 0, &s), 0);
	KID_EQ(errseq_cursor_new(s, &cur), 0);
	put_byte(st->ready[1]);

	KID_EQ(errseq_cursor_wait(cur, LONG_MS), -EIO);
	KID_EQ(errseq_cursor_check(cur), 0);	/* told once */
	put_byte(st->got[1]);
	KID_EQ(errseq_cursor_wait(cur, LONG_MS), -ENOSPC);
	KID_EQ(errseq_cursor_check(cur), 0);
	put_byte(st->got[1]);
	errseq_client_close(c);
	return 0;
}

static int worker_kid(void *arg)
{
	struct story *st = arg;
	struct errseq_client *c = kid_client();
	struct errseq_slot *s;

	KID_EQ(errseq_slot_open(c, "wd", 0, &s), 0);
	put_byte(st->ready[1]);
	KID_EQ(get_byte(st->go[0], LONG_MS), 0);
	KID_EQ(errseq_slot_set(s, -EIO), 0);
	KID_EQ(get_byte(st->go[0], LONG_MS), 0);
	KID_EQ(errseq_slot_set(s, -ENOSPC), 0);
	errseq_client_close(c);
	return 0;
}

START_TEST(client_story_77_supervisors)
{
	struct story st;
	struct errseq_slot_info info;
	struct errseq_slot *s;
	errseq_t boss, late_boss;
	pid_t sup[SUPERVISORS], worker;

	up(64, NULL);
	ck_assert_int_eq(pipe(st.ready), 0);
	ck_assert_int_eq(pipe(st.got), 0);
	ck_assert_int_eq(pipe(st.go), 0);
	s = must_open("wd", ERRSEQ_CREATE);
	boss = errseq_slot_sample(s);	/* the big boss's spot check */

	worker = kid(worker_kid, &st);
	for (int i = 0; i < SUPERVISORS; i++)
		sup[i] = kid(supervisor_kid, &st);
	for (int i = 0; i < SUPERVISORS + 1; i++)
		ck_assert_int_eq(get_byte(st.ready[0], LONG_MS), 0);
	await_holders("wd", SUPERVISORS + 2);

	put_byte(st.go[1]);	/* the worker makes a mistake: EIO */
	for (int i = 0; i < SUPERVISORS; i++)
		ck_assert_int_eq(get_byte(st.got[0], LONG_MS), 0);
	/* the boss sees it, every time, and consumes nothing */
	ck_assert_int_eq(errseq_slot_check(s, boss), -EIO);
	ck_assert_int_eq(errseq_slot_check(s, boss), -EIO);
	/* a boss arriving now starts after the consumed EIO */
	late_boss = errseq_slot_sample(s);
	ck_assert_int_eq(errseq_slot_check(s, late_boss), 0);

	put_byte(st.go[1]);	/* and ENOSPC */
	for (int i = 0; i < SUPERVISORS; i++)
		ck_assert_int_eq(get_byte(st.got[0], LONG_MS), 0);
	ck_assert_int_eq(errseq_slot_check(s, late_boss), -ENOSPC);
	ck_assert_int_eq(errseq_slot_check(s, boss), -ENOSPC);

	ck_assert_int_eq(reap(worker), 0);
	for (int i = 0; i < SUPERVISORS; i++)
		ck_assert_int_eq(reap(sup[i]), 0);
	ck_assert_int_eq(errseq_stat(C, "wd", &info), 0);
	ck_assert_uint_eq(info.sets_total, 2);
	ck_assert_int_eq(info.last_pid, worker);
	await_holders("wd", 1);
	errseq_slot_close(s);
	for (int i = 0; i < 2; i++) {
		close(st.ready[i]);
		close(st.got[i]);
		close(st.go[i]);
	}
}
END_TEST

/* ------------------------------------------ producers and watchers */

#define PROD_SETS 20000

static int producer_kid(void *arg)
{
	struct errseq_client *c = kid_client();
	struct errseq_slot *s;

	(void)arg;
	KID_EQ(errseq_slot_open(c, "pw", 0, &s), 0);
	for (int i = 0; i < PROD_SETS; i++)
		KID_EQ(errseq_slot_set(s, -(i % 200 + 1)), 0);
	errseq_client_close(c);
	return 0;
}

static int watcher_kid(void *arg)
{
	struct errseq_client *c = kid_client();
	struct errseq_cursor *cur;
	struct errseq_slot *s;
	int r, reports = 0;

	(void)arg;
	KID_EQ(errseq_slot_open(c, "pw", 0, &s), 0);
	KID_EQ(errseq_cursor_new(s, &cur), 0);
	/* until the end marker; every report a valid errno */
	for (;;) {
		r = errseq_cursor_wait(cur, LONG_MS);
		KID_REQUIRE(r < 0 && r >= -4095);
		reports++;
		if (r == -4095)
			break;
		KID_REQUIRE(r >= -200);
	}
	KID_EQ(errseq_cursor_check(cur), 0);
	KID_REQUIRE(reports <= 3 * PROD_SETS + 1);
	errseq_client_close(c);
	return 0;
}

START_TEST(client_producers_and_watchers)
{
	struct errseq_slot_info info;
	struct errseq_slot *s;
	pid_t p[3], w[3];

	up(64, NULL);
	s = must_open("pw", ERRSEQ_CREATE);
	for (int i = 0; i < 3; i++)
		w[i] = kid(watcher_kid, NULL);
	await_holders("pw", 4);
	for (int i = 0; i < 3; i++)
		p[i] = kid(producer_kid, NULL);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(reap(p[i]), 0);
	ck_assert_int_eq(errseq_slot_set(s, -4095), 0);	/* the end */
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(reap(w[i]), 0);
	ck_assert_int_eq(errseq_stat(C, "pw", &info), 0);
	ck_assert_uint_eq(info.sets_total, 3 * PROD_SETS + 1);
	ck_assert_int_eq(info.last_pid, getpid());
	errseq_slot_close(s);
}
END_TEST

/* ---- suite ----------------------------------------------------------- */

static Suite *client_fork_suite(void)
{
	Suite *s = suite_create("client_fork");
	TCase *tc;

	tc = tcase_create("fork");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, client_fork_child);
	tcase_add_test(tc, client_story_77_supervisors);
	tcase_add_test(tc, client_producers_and_watchers);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	sr = srunner_create(client_fork_suite());
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
