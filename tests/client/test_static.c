/*
 * test_static.c - liberrseq-client linked statically (./configure
 * --enable-static): this program is linked against liberrseq-client.a, not
 * the shared library, and runs against a real errseqd on a temporary socket.
 *
 * It checks that the library's code is in the program itself (no loaded
 * object is liberrseq-client.so), and that what the shared library sets up
 * at load time also happens when it is linked statically: the pid cache
 * filled by client/proc.c's constructor (set records the caller's pid) and
 * refreshed by its pthread_atfork() child handler (a forked child's set
 * records the child's pid), and a futex wake across processes.
 *
 * Built without --enable-static (ESQ_TEST_STATIC is 0), it skips (77) and
 * says why.
 */
#include "config.h"

#include <check.h>
#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "errseq/client.h"
#include "tests/support/client_util.h"

#ifndef ESQ_TEST_STATIC
#define ESQ_TEST_STATIC 0
#endif

/* ------------------------------------------- the code is in the program */

static int find_shared_client(struct dl_phdr_info *info, size_t size,
			      void *arg)
{
	const char **found = arg;

	(void)size;
	if (info->dlpi_name && strstr(info->dlpi_name, "liberrseq-client")) {
		*found = info->dlpi_name;
		return 1;
	}
	return 0;
}

START_TEST(test_no_shared_library)
{
	const char *found = NULL;
	Dl_info lib, prog;

	dl_iterate_phdr(find_shared_client, &found);
	ck_assert_msg(found == NULL, "%s is loaded: linked against the .so",
		      found);

	/* errseq_slot_set and main lie in the same object: the program */
	ck_assert_int_ne(dladdr((void *)errseq_slot_set, &lib), 0);
	ck_assert_int_ne(dladdr((void *)up, &prog), 0);
	ck_assert_ptr_eq(lib.dli_fbase, prog.dli_fbase);
}
END_TEST

/* ------------------------- the constructor's and atfork's work, statically */

struct kid_arg {
	struct errseq_slot *s;
	struct errseq_cursor *cur;
};

/* In a forked child: a set on the inherited handle records our own pid. */
static int setter_kid(void *arg)
{
	struct kid_arg *a = arg;
	struct errseq_slot_info info;
	struct errseq_client *own;

	KID_EQ(errseq_slot_set(a->s, -ENOSPC), 0);
	own = kid_client();
	KID_EQ(errseq_stat(own, "static", &info), 0);
	KID_EQ(info.last_pid, getpid());
	KID_EQ(info.sets_total, 2);
	errseq_client_close(own);
	return 0;
}

START_TEST(test_pid_cache_and_fork)
{
	struct errseq_slot_info info;
	struct errseq_cursor *cur = NULL;
	struct kid_arg a;
	pid_t pid;

	up(64, NULL);
	a.s = must_open("static", ERRSEQ_CREATE);
	ck_assert_int_eq(errseq_cursor_new(a.s, &cur), 0);
	a.cur = cur;

	/* the constructor filled the pid cache (0 would mean "never") */
	ck_assert_int_eq(errseq_slot_set(a.s, -EIO), 0);
	ck_assert_int_eq(errseq_stat(C, "static", &info), 0);
	ck_assert_int_eq(info.last_pid, getpid());
	ck_assert_int_eq(info.sets_total, 1);
	ck_assert_int_eq(errseq_cursor_check(cur), -EIO);
	ck_assert_int_eq(errseq_cursor_check(cur), 0);

	/* the atfork child handler refreshed it in the child */
	pid = kid(setter_kid, &a);
	ck_assert_int_eq(reap(pid), 0);
	ck_assert_int_eq(errseq_stat(C, "static", &info), 0);
	ck_assert_int_eq(info.last_pid, pid);
	ck_assert_int_eq(errseq_cursor_check(cur), -ENOSPC);
	ck_assert_int_eq(errseq_cursor_check(cur), 0);

	errseq_cursor_free(cur);
	errseq_slot_close(a.s);
}
END_TEST

/* A sleeper in errseq_cursor_wait is woken by a set in another process. */
static int waker_kid(void *arg)
{
	int *go = arg;
	struct errseq_client *own;
	struct errseq_slot *s = NULL;

	KID_EQ(get_byte(go[0], LONG_MS), 0);	/* the sleeper is armed */
	own = kid_client();
	KID_EQ(errseq_slot_open(own, "wake", 0, &s), 0);
	KID_EQ(errseq_slot_set(s, -EPIPE), 0);
	errseq_slot_close(s);
	errseq_client_close(own);
	return 0;
}

START_TEST(test_wake_across_processes)
{
	struct sleeper w = { 0 };
	int go[2];
	pid_t pid;

	up(64, NULL);
	w.s = must_open("wake", ERRSEQ_CREATE);
	ck_assert_int_eq(errseq_cursor_new(w.s, &w.cur), 0);
	seg_slot(slot_index(w.s));	/* map before forking */
	ck_assert_int_eq(pipe(go), 0);
	pid = kid(waker_kid, go);	/* fork before making threads */
	sleeper_start(&w);
	ck_assert(await_waiter(slot_index(w.s), LONG_MS));
	put_byte(go[1]);
	ck_assert_int_eq(sleeper_join(&w), -EPIPE);
	ck_assert_int_eq(reap(pid), 0);
	close(go[0]);
	close(go[1]);
	errseq_slot_close(w.s);	/* frees the cursor as well */
}
END_TEST

static Suite *client_static_suite(void)
{
	Suite *s = suite_create("client_static");
	TCase *tc = tcase_create("static");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_no_shared_library);
	tcase_add_test(tc, test_pid_cache_and_fork);
	tcase_add_test(tc, test_wake_across_processes);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	if (!ESQ_TEST_STATIC) {
		printf("test_static: SKIP: liberrseq-client.a was not built "
		       "(configure with --enable-static to test it)\n");
		return 77;
	}
	sr = srunner_create(client_static_suite());
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
