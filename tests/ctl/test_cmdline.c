/*
 * test_cmdline.c - errseqctl's tests: the command line without a daemon:
 * --help, --version, usage errors, no daemon.
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

/* ---- the command line, no daemon needed --------------------------------- */

START_TEST(ctl_help_exits_0)
{
	static const char *const forms[][2] = {
		{ "--help", NULL }, { "-h", NULL }, { "list", "--help" },
		{ "frobnicate", "-h" },
	};

	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		ck_assert_int_eq(ctl_env(NOWHERE, forms[i][0], forms[i][1],
					 (const char *)NULL), 0);
		ck_assert_msg(!strncmp(R.out, "Usage: errseqctl ", 17),
			      "stdout: %s", R.out);
		ck_assert_ptr_nonnull(strstr(R.out, "  watch NAME..."));
		ck_assert_str_eq(R.err, "");
	}
}
END_TEST

START_TEST(ctl_version_exits_0)
{
	ck_assert_int_eq(ctl_env(NOWHERE, "--version", (const char *)NULL), 0);
	ck_assert_str_eq(R.out, "errseqctl (" PACKAGE_NAME ") "
		     PACKAGE_VERSION "\n");
	ck_assert_int_eq(ctl_env(NOWHERE, "-V", (const char *)NULL), 0);
	ck_assert_str_eq(R.out, "errseqctl (" PACKAGE_NAME ") "
		     PACKAGE_VERSION "\n");
}
END_TEST

START_TEST(ctl_unknown_command_exits_2)
{
	ck_assert_int_eq(ctl_env(NOWHERE, "frobnicate", (const char *)NULL), 2);
	ck_assert_str_eq(R.out, "");
	ck_assert_str_eq(R.err, "errseqctl: unknown command 'frobnicate'\n"
			 HINT);
}
END_TEST

START_TEST(ctl_usage_errors_exit_2)
{
	static const char *const cases[][5] = {
		{ NULL },
		{ "--bogus", "list" },
		{ "list", "-x" },
		{ "list", "--json=yes" },
		{ "stat" },
		{ "stat", "a", "b" },
		{ "set", "a" },
		{ "set", "a", "5", "6" },
		{ "create" },
		{ "delete" },
		{ "delete", "a", "b" },
		{ "watch" },
		{ "status", "x" },
		{ "list", "a", "b" },
		{ "stat", "a", "--prometheus" },
		{ "--prometheus", "status" },
		{ "list", "--once" },
		{ "list", "--timeout", "1" },
		{ "watch", "a", "--timeout", "abc" },
		{ "watch", "a", "--timeout", "-1" },
		{ "watch", "a", "--timeout", "0x10" },
		{ "watch", "a", "--timeout", " 1" },
		{ "watch", "a", "--timeout", "1e2" },
		{ "watch", "a", "--timeout" },
		{ "--json", "create", "a" },
		{ "delete", "a", "--json" },
		{ "--json", "set", "a", "EIO" },
		{ "list", "--json", "--prometheus" },
		{ "create", "bad name" },
		{ "stat", "caf\xc3\xa9" },
		{ "watch", "ok", "bad name" },
		{ "set", "a", "0" },
		{ "set", "a", "4096" },
		{ "set", "a", "EBOGUS" },
		{ "list", "--socket" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *const *c = cases[i];

		ck_assert_msg(ctl_env(NOWHERE, c[0], c[1], c[2], c[3], c[4]) == 2,
			      "case %zu (%s %s %s): exit %d, stderr %s", i,
			      c[0], c[1], c[2], R.status, R.err);
		ck_assert_str_eq(R.out, "");
		ck_assert_msg(!strncmp(R.err, "errseqctl: ", 11) &&
			      strstr(R.err, "\n" HINT) &&
			      !strcmp(strstr(R.err, "\n" HINT), "\n" HINT),
			      "case %zu stderr: %s", i, R.err);
	}
}
END_TEST

START_TEST(ctl_no_daemon_exits_1)
{
	char sock[128];

	snprintf(sock, sizeof(sock), "/tmp/esdt-%d-none/errseqd.sock",
		 (int)getpid());
	ck_assert_int_eq(ctl_env(NOWHERE, "--socket", sock, "list",
				 (const char *)NULL), 1);
	ck_assert_str_eq(R.out, "");
	ck_assert_ptr_nonnull(strstr(R.err, "errseqctl: cannot connect to "
				     "errseqd at /tmp/esdt-"));
	ck_assert_ptr_nonnull(strstr(R.err, sock));
	ck_assert_ptr_nonnull(strstr(R.err, "(is errseqd running?)\n"));

	/* the same through ERRSEQD_SOCKET, for every command */
	ck_assert_int_eq(ctl_env(sock, "status", (const char *)NULL), 1);
	ck_assert_ptr_nonnull(strstr(R.err, sock));
	ck_assert_int_eq(ctl_env(sock, "set", "x", "EIO", (const char *)NULL),
			 1);
	ck_assert_ptr_nonnull(strstr(R.err, sock));
	ck_assert_int_eq(ctl_env(sock, "watch", "x", "--once", "--timeout",
				 "1", (const char *)NULL), 1);
	ck_assert_ptr_nonnull(strstr(R.err, sock));
}
END_TEST

/* ---- suite ----------------------------------------------------------- */

static Suite *ctl_cmdline_suite(void)
{
	Suite *s = suite_create("ctl_cmdline");
	TCase *tc;

	tc = tcase_create("cmdline");
	tcase_add_checked_fixture(tc, setup_common, teardown_common);
	tcase_add_test(tc, ctl_help_exits_0);
	tcase_add_test(tc, ctl_version_exits_0);
	tcase_add_test(tc, ctl_unknown_command_exits_2);
	tcase_add_test(tc, ctl_usage_errors_exit_2);
	tcase_add_test(tc, ctl_no_daemon_exits_1);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(ctl_cmdline_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
