/*
 * test_permissions.c - liberrseq-client's tests: what another user may do:
 * open with the socket's mode, delete only its own slots.
 *
 * The fixture (a private errseqd per case, forked "kids") and the helpers
 * are in tests/support/client_util.h.
 *
 * Needs root (a kid switches to nobody): the program exits 77 (SKIP)
 * otherwise.
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

/* The kid of client_unlink_eperm: nobody may not delete root's slot. */
static int eperm_kid(void *arg)
{
	struct errseq_client *c;
	struct errseq_slot *s;

	(void)arg;
	KID_EQ(setgroups(0, NULL), 0);
	KID_EQ(setgid(65534), 0);
	KID_EQ(setuid(65534), 0);
	c = kid_client();
	KID_EQ(errseq_slot_unlink(c, "roots"), -EPERM);
	/* Opening (watching) is allowed.  Layout 1 let anyone set any slot;
	 * now root's slot is read-only to nobody: set is -EPERM and stores
	 * nothing (checked by the parent), the handle is not writable. */
	KID_EQ(errseq_slot_open(c, "roots", 0, &s), 0);
	KID_EQ(errseq_slot_writable(s), 0);
	KID_EQ(errseq_slot_set(s, -EIO), -EPERM);
	/* what root recorded is seen read-only, once */
	{
		struct errseq_cursor *cur;
		errseq_t since = 0;

		KID_EQ(errseq_slot_check(s, 0), -ENOSPC);
		KID_EQ(errseq_cursor_new(s, &cur), 0);
		KID_EQ(errseq_cursor_check(cur), -ENOSPC);
		KID_EQ(errseq_cursor_check(cur), 0);
		errseq_cursor_free(cur);
		KID_EQ(errseq_slot_check_and_advance(s, &since), -ENOSPC);
		KID_EQ(errseq_slot_check_and_advance(s, &since), 0);
	}
	errseq_slot_close(s);
	/* its own slot it may write and delete */
	KID_EQ(errseq_slot_open(c, "nobodys", ERRSEQ_CREATE, &s), 0);
	KID_EQ(errseq_slot_writable(s), 1);
	KID_EQ(errseq_slot_set(s, -EIO), 0);
	KID_EQ(errseq_slot_check(s, 0), -EIO);
	errseq_slot_close(s);
	KID_EQ(errseq_slot_unlink(c, "nobodys"), 0);
	errseq_client_close(c);
	return 0;
}

START_TEST(client_unlink_eperm)
{
	static const char *const extra[] = { "--mode", "0666", NULL };
	struct errseq_slot_info info;
	struct errseq_slot *s;

	/* main() skips the program unless root */
	ck_assert_msg(geteuid() == 0, "needs root");
	/* two writer domains, two chunks (layout 1: --slots 64) */
	up(2 * ESD_CHUNK_SLOTS, extra);
	chmod(D.dir, 0755);
	s = must_open("roots", ERRSEQ_CREATE);
	ck_assert_int_eq(errseq_slot_writable(s), 1);
	ck_assert_int_eq(errseq_slot_set(s, -ENOSPC), 0);
	ck_assert_int_eq(reap(kid(eperm_kid, NULL)), 0);
	ck_assert_int_eq(errseq_stat(C, "roots", &info), 0);
	ck_assert_uint_eq(info.creator_uid, 0);
	ck_assert_uint_eq(info.sets_total, 1);	/* nobody's set stored nothing */
	ck_assert_int_eq(errseq_slot_check(s, 0), -ENOSPC);
	ck_assert_int_eq(errseq_stat(C, "nobodys", &info), -ENOENT);
	/* the creator (root) may */
	ck_assert_int_eq(errseq_slot_unlink(C, "roots"), 0);
	errseq_slot_close(s);
}
END_TEST

static int eacces_kid(void *arg)
{
	struct errseq_client *c = NULL;

	(void)arg;
	KID_EQ(setgroups(0, NULL), 0);
	KID_EQ(setgid(65534), 0);
	KID_EQ(setuid(65534), 0);
	KID_EQ(errseq_client_open(D.sock, &c), -EACCES);
	return 0;
}

START_TEST(client_open_eacces)
{
	/* main() skips the program unless root */
	ck_assert_msg(geteuid() == 0, "needs root");
	up(64, NULL);	/* default --mode 0660, root's group */
	chmod(D.dir, 0755);
	ck_assert_int_eq(reap(kid(eacces_kid, NULL)), 0);
}
END_TEST

/* ---- suite ----------------------------------------------------------- */

static Suite *client_permissions_suite(void)
{
	Suite *s = suite_create("client_permissions");
	TCase *tc;

	tc = tcase_create("permissions");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, client_open_eacces);
	tcase_add_test(tc, client_unlink_eperm);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	if (geteuid() != 0) {
		printf("test_permissions: needs root (the daemon runs as "
		       "root, a kid as nobody): SKIP\n");
		return 77;
	}
	sr = srunner_create(client_permissions_suite());
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
