/*
 * test_watch.c - errseqctl's tests: watch: reports, --once, --timeout, JSON
 * lines, signals, deleted and missing slots.
 *
 * The fixture and the helpers (running errseqctl, parsing its JSON) are in
 * tests/support/ctl_util.h.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <regex.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <errseq/client.h>

#include "tests/support/ctl_util.h"

START_TEST(ctl_watch_once_reports_other_process)
{
	struct proc p;
	struct errseq_slot_info info;

	make_slot("w");
	ctl_bg(&p, "watch", "w", "--once", "--timeout", "60", (const char *)NULL);
	wait_holders(&p, "w", 1);
	set_from_child("w", -ENOSPC);
	collect(&p, NULL, &R);
	ck_assert_int_eq(R.status, 0);
	ck_assert_str_eq(R.err, "");
	ck_assert_msg(matches("^" ISO_LOCAL " w ENOSPC \\(28\\) counter=0\n$",
			      R.out), "stdout: %s", R.out);
	info = stat_of("w");
	ck_assert_uint_eq(info.value, 28 | ERRSEQ_SEEN);	/* consumed */
	wait_holders_eq("w", 0);
}
END_TEST

START_TEST(ctl_watch_reports_pending_error)
{
	make_slot("w");
	set_slot("w", -EIO);
	ck_assert_int_eq(ctl("watch", "w", "--once", "--timeout", "60"), 0);
	ck_assert_msg(matches("^" ISO_LOCAL " w EIO \\(5\\) counter=0\n$", R.out),
		      "stdout: %s", R.out);
	/* consumed now: a second watch has nothing to report */
	ck_assert_int_eq(ctl("watch", "w", "--once", "--timeout", "0"), 1);
	ck_assert_str_eq(R.out, "");
	ck_assert_ptr_nonnull(strstr(R.err, "timed out"));
	/* --timeout 0 still reports what is already pending */
	set_slot("w", -EROFS);
	ck_assert_int_eq(ctl("watch", "w", "--once", "--timeout", "0"), 0);
	ck_assert_msg(matches("^" ISO_LOCAL " w EROFS \\(30\\) counter=1\n$", R.out),
		      "stdout: %s", R.out);
}
END_TEST

START_TEST(ctl_watch_once_timeout_exits_1)
{
	make_slot("w");
	ck_assert_int_eq(ctl("watch", "w", "--once", "--timeout", "1"), 1);
	ck_assert_str_eq(R.out, "");
	ck_assert_str_eq(R.err, "errseqctl: watch: timed out after 1 s: "
			 "nothing reported\n");
	wait_holders_eq("w", 0);
}
END_TEST

START_TEST(ctl_watch_timeout_without_once_exits_0)
{
	make_slot("w");
	ck_assert_int_eq(ctl("watch", "w", "--timeout", "0.5"), 0);
	ck_assert_str_eq(R.out, "");
	ck_assert_str_eq(R.err, "");
	set_slot("w", -EIO);
	ck_assert_int_eq(ctl("watch", "--timeout=0.3", "w"), 0);
	ck_assert_msg(matches("^" ISO_LOCAL " w EIO \\(5\\) counter=0\n$", R.out),
		      "stdout: %s", R.out);
}
END_TEST

START_TEST(ctl_watch_json_lines)
{
	char out[512];

	make_slot("w");
	set_slot("w", -ENOSPC);
	ck_assert_int_eq(ctl("watch", "--json", "w", "--once", "--timeout", "60"), 0);
	json_q(out, sizeof(out), R.out, true, "#", "0.~keys", "0.version",
	       "0.slot", "0.errno", "0.errno_name", "0.counter", NULL);
	ck_assert_str_eq(out, "1\n[\"counter\",\"errno\",\"errno_name\",\"slot\","
			 "\"time\",\"time_ns\",\"version\"]\n1\n\"w\"\n28\n"
			 "\"ENOSPC\"\n0\n");
	json_q(out, sizeof(out), R.out, true, "0.time", NULL);
	ck_assert_msg(matches("^" ISO_UTC "\n$", out), "%s", out);
}
END_TEST

START_TEST(ctl_watch_several_slots_until_sigterm)
{
	struct proc p;

	make_slot("a");
	make_slot("b");
	ctl_bg(&p, "watch", "a", "b", (const char *)NULL);
	wait_holders(&p, "a", 1);
	wait_holders(&p, "b", 1);
	set_from_child("a", -EIO);
	wait_seen("a");
	set_from_child("b", -ENOSPC);
	wait_seen("b");
	set_from_child("a", -EIO);	/* after a consumed EIO: counter 1 */
	wait_seen("a");
	ck_assert_int_eq(kill(p.pid, SIGTERM), 0);
	collect(&p, NULL, &R);
	ck_assert_int_eq(R.status, 0);
	ck_assert_str_eq(R.err, "");
	ck_assert_msg(matches("^" ISO_LOCAL " a EIO \\(5\\) counter=0\n"
			      ISO_LOCAL " b ENOSPC \\(28\\) counter=0\n"
			      ISO_LOCAL " a EIO \\(5\\) counter=1\n$", R.out),
		      "stdout: %s", R.out);
	wait_holders_eq("a", 0);
}
END_TEST

START_TEST(ctl_watch_once_several_slots)
{
	struct proc p;

	make_slot("a");
	make_slot("b");
	ctl_bg(&p, "watch", "a", "b", "--once", (const char *)NULL);
	wait_holders(&p, "a", 1);
	wait_holders(&p, "b", 1);
	set_from_child("b", -EROFS);
	collect(&p, NULL, &R);
	ck_assert_int_eq(R.status, 0);
	ck_assert_msg(matches("^" ISO_LOCAL " b EROFS \\(30\\) counter=0\n$", R.out),
		      "stdout: %s", R.out);
	ck_assert_uint_eq(stat_of("a").value, 0);
}
END_TEST

/* --once with errors pending on several slots: exactly one is reported,
 * and only that one is consumed; the others stay pending (SEEN clear) for
 * the next watcher.  (A regression: every thread used to consume.) */
START_TEST(ctl_watch_once_consumes_only_its_report)
{
	const char *names[3] = { "p1", "p2", "p3" };
	const int errs[3] = { EIO, ENOSPC, EBADF };
	int seen = 0;

	for (int i = 0; i < 3; i++) {
		make_slot(names[i]);
		set_slot(names[i], -errs[i]);
	}
	for (int round = 0; round < 3; round++) {
		ck_assert_int_eq(ctl("watch", "p1", "p2", "p3", "--once",
				     "--timeout", "60"), 0);
		ck_assert_msg(matches("^" ISO_LOCAL " p[123] E[A-Z]+ \\([0-9]+\\) "
				      "counter=0\n$", R.out), "stdout: %s", R.out);
		seen = 0;
		for (int i = 0; i < 3; i++) {
			errseq_t v = stat_of(names[i]).value;

			ck_assert_uint_eq(v & ERRSEQ_MAX_ERRNO, (unsigned)errs[i]);
			seen += (v & ERRSEQ_SEEN) != 0;
		}
		/* one more consumed per round, the rest still pending */
		ck_assert_int_eq(seen, round + 1);
	}
	/* all consumed now: nothing left to report */
	ck_assert_int_eq(ctl("watch", "p1", "p2", "p3", "--once", "--timeout",
			     "0"), 1);
}
END_TEST

START_TEST(ctl_watch_sigint_exits_0)
{
	struct proc p;

	make_slot("w");
	ctl_bg(&p, "watch", "w", (const char *)NULL);
	wait_holders(&p, "w", 1);
	ck_assert_int_eq(kill(p.pid, SIGINT), 0);
	collect(&p, NULL, &R);
	ck_assert_int_eq(R.status, 0);
	ck_assert_str_eq(R.out, "");
	ck_assert_str_eq(R.err, "");
}
END_TEST

START_TEST(ctl_watch_deleted_slot_exits_1)
{
	struct proc p;

	make_slot("w");
	ctl_bg(&p, "watch", "w", (const char *)NULL);
	wait_holders(&p, "w", 1);
	ck_assert_int_eq(errseq_slot_unlink(cl, "w"), 0);
	collect(&p, NULL, &R);
	ck_assert_int_eq(R.status, 1);
	ck_assert_str_eq(R.out, "");
	ck_assert_str_eq(R.err, "errseqctl: watch: slot 'w' was deleted (or "
			 "the segment replaced): reopen it by name\n");
}
END_TEST

START_TEST(ctl_watch_missing_slot_exits_1)
{
	make_slot("a");
	ck_assert_int_eq(ctl("watch", "a", "nosuch", "--once"), 1);
	ck_assert_str_eq(R.out, "");
	ck_assert_str_eq(R.err, "errseqctl: watch: no such slot 'nosuch'\n");
	wait_holders_eq("a", 0);
}
END_TEST

/* ---- suite ----------------------------------------------------------- */

static Suite *ctl_watch_suite(void)
{
	Suite *s = suite_create("ctl_watch");
	TCase *tc;

	tc = tcase_create("watch");
	tcase_add_checked_fixture(tc, setup_daemon, teardown_daemon);
	/* Check's default of 4 s is short for 8300 slots under sanitizers;
	 * `make check` sets its own default through CK_DEFAULT_TIMEOUT */
	if (!getenv("CK_DEFAULT_TIMEOUT"))
		tcase_set_timeout(tc, 120);
	tcase_add_test(tc, ctl_watch_once_reports_other_process);
	tcase_add_test(tc, ctl_watch_reports_pending_error);
	tcase_add_test(tc, ctl_watch_once_timeout_exits_1);
	tcase_add_test(tc, ctl_watch_timeout_without_once_exits_0);
	tcase_add_test(tc, ctl_watch_json_lines);
	tcase_add_test(tc, ctl_watch_several_slots_until_sigterm);
	tcase_add_test(tc, ctl_watch_once_several_slots);
	tcase_add_test(tc, ctl_watch_once_consumes_only_its_report);
	tcase_add_test(tc, ctl_watch_sigint_exits_0);
	tcase_add_test(tc, ctl_watch_deleted_slot_exits_1);
	tcase_add_test(tc, ctl_watch_missing_slot_exits_1);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(ctl_watch_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
