/*
 * test_commands.c - errseqctl's tests: create, delete and set against a
 * daemon, and their exit codes.
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

/* ---- against the daemon ------------------------------------------------- */

START_TEST(ctl_daemon_killed_connection_refused)
{
	/* SIGKILL leaves the socket file behind with nobody listening */
	ck_assert_int_ge(esdt_daemon_stop(&d, SIGKILL), 0);
	ck_assert_int_eq(ctl("status"), 1);
	ck_assert_ptr_nonnull(strstr(R.err, "cannot connect to errseqd at "));
	ck_assert_ptr_nonnull(strstr(R.err, d.sock));
	ck_assert_ptr_nonnull(strstr(R.err, "(is errseqd running?)"));
}
END_TEST

START_TEST(ctl_create_twice_exits_1)
{
	struct errseq_slot_info info;

	ck_assert_int_eq(ctl("create", "disk0"), 0);
	ck_assert_str_eq(R.out, "");
	ck_assert_str_eq(R.err, "");
	info = stat_of("disk0");
	ck_assert_uint_eq(info.value, 0);
	ck_assert_uint_eq(info.creator_uid, geteuid());
	wait_holders_eq("disk0", 0);	/* errseqctl let go */

	ck_assert_int_eq(ctl("create", "disk0"), 1);
	ck_assert_str_eq(R.out, "");
	ck_assert_str_eq(R.err,
			 "errseqctl: create: slot 'disk0' already exists\n");
}
END_TEST

START_TEST(ctl_delete_missing_exits_1)
{
	struct errseq_slot_info info;

	make_slot("gone");
	ck_assert_int_eq(ctl("delete", "gone"), 0);
	ck_assert_str_eq(R.out, "");
	ck_assert_str_eq(R.err, "");
	ck_assert_int_eq(errseq_stat(cl, "gone", &info), -ENOENT);

	ck_assert_int_eq(ctl("delete", "gone"), 1);
	ck_assert_str_eq(R.err, "errseqctl: delete: no such slot 'gone'\n");
	ck_assert_int_eq(ctl("delete", "never"), 1);
	ck_assert_str_eq(R.err, "errseqctl: delete: no such slot 'never'\n");
}
END_TEST

START_TEST(ctl_set_accepts_name_and_numbers)
{
	static const char *const forms[] = { "EIO", "5", "-5", "eio" };
	struct errseq_slot_info info;

	make_slot("s");
	for (size_t i = 0; i < 4; i++) {
		ck_assert_int_eq(ctl("set", "s", forms[i]), 0);
		ck_assert_str_eq(R.out, "");
		ck_assert_str_eq(R.err, "");
		info = stat_of("s");
		/* 5, never consumed: no SEEN, counter 0 */
		ck_assert_uint_eq(info.value, 5);
		ck_assert_uint_eq(info.sets_total, i + 1);
		ck_assert_int_gt(info.last_pid, 0);
		ck_assert_int_ne(info.last_pid, getpid());
		ck_assert_uint_ne(info.last_set_ns, 0);
	}
	/* options may come first, and --socket works as well as the env */
	ck_assert_int_eq(ctl_env(NOWHERE, "--socket", d.sock, "set", "s",
				 "ENOSPC", (const char *)NULL), 0);
	ck_assert_uint_eq(stat_of("s").value, 28);
	ck_assert_int_eq(ctl_env(NOWHERE, "set", "s", "4095", "-s", d.sock,
				 (const char *)NULL), 0);
	ck_assert_uint_eq(stat_of("s").value, 4095);
	ck_assert_uint_eq(stat_of("s").sets_total, 6);
}
END_TEST

START_TEST(ctl_set_invalid_err_exits_2)
{
	static const char *const bad[] = {
		"0", "-0", "4096", "-4096", "EBOGUS", "5x", "", "0x5" };
	struct errseq_slot_info info;

	make_slot("s");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(ctl("set", "s", bad[i]) == 2, "'%s': exit %d",
			      bad[i], R.status);
		ck_assert_ptr_nonnull(strstr(R.err, "errseqctl: set: invalid "
					     "error '"));
		ck_assert_ptr_nonnull(strstr(R.err, HINT));
	}
	info = stat_of("s");
	ck_assert_uint_eq(info.value, 0);
	ck_assert_uint_eq(info.sets_total, 0);
}
END_TEST

START_TEST(ctl_set_missing_slot_exits_1)
{
	struct errseq_slot_info info;

	ck_assert_int_eq(ctl("set", "nosuch", "EIO"), 1);
	ck_assert_str_eq(R.out, "");
	ck_assert_str_eq(R.err, "errseqctl: set: no such slot 'nosuch'\n");
	/* set never creates */
	ck_assert_int_eq(errseq_stat(cl, "nosuch", &info), -ENOENT);
}
END_TEST

/* Split a table line into fields separated by 2+ spaces ("LAST SET" has
 * one).  Returns the number of fields. */
static int fields(const char *line, char f[][160], int max)
{
	int n = 0;
	const char *p = line;

	while (*p && n < max) {
		size_t len = 0;

		while (*p == ' ')
			p++;
		if (!*p)
			break;
		while (p[len] && !(p[len] == ' ' && p[len + 1] == ' ') &&
		       p[len] != '\n')
			len++;
		snprintf(f[n++], 160, "%.*s", (int)len, p);
		p += len;
		if (*p == '\n')
			break;
	}
	return n;
}

/* The line of R.out starting with @prefix and a space. */
static const char *table_line(const char *prefix)
{
	size_t len = strlen(prefix);

	for (const char *l = R.out; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
		if (!strncmp(l, prefix, len) && l[len] == ' ')
			return l;
	return NULL;
}

START_TEST(ctl_unnamed_errno_shown_as_number)
{
	char f[10][160], out[128];

	make_slot("u");
	ck_assert_int_eq(ctl("set", "u", "200"), 0);
	ck_assert_int_eq(ctl("list"), 0);
	ck_assert_int_eq(fields(table_line("u"), f, 10), 9);
	ck_assert_str_eq(f[1], "200");
	ck_assert_int_eq(ctl("stat", "u", "--json"), 0);
	json_q(out, sizeof(out), R.out, false, "slot.errno", "slot.errno_name",
	       NULL);
	ck_assert_str_eq(out, "200\nnull\n");
	ck_assert_int_eq(ctl("set", "u", "-132"), 0);
	ck_assert_int_eq(ctl("list"), 0);
	ck_assert_int_eq(fields(table_line("u"), f, 10), 9);
	ck_assert_str_eq(f[1], "ERFKILL");
}
END_TEST

START_TEST(ctl_dash_names_after_double_dash)
{
	make_slot("-dash");
	ck_assert_int_eq(ctl("stat", "-dash"), 2);	/* read as options */
	ck_assert_int_eq(ctl("stat", "--", "-dash"), 0);
	ck_assert(!strncmp(R.out, "name:        -dash\n", 19));
	ck_assert_int_eq(ctl("-s", d.sock, "--", "set", "-dash", "-28"), 0);
	ck_assert_uint_eq(stat_of("-dash").value, 28);
}
END_TEST

/* ---- suite ----------------------------------------------------------- */

static Suite *ctl_commands_suite(void)
{
	Suite *s = suite_create("ctl_commands");
	TCase *tc;

	tc = tcase_create("commands");
	tcase_add_checked_fixture(tc, setup_daemon, teardown_daemon);
	/* Check's default of 4 s is short for 8300 slots under sanitizers;
	 * `make check` sets its own default through CK_DEFAULT_TIMEOUT */
	if (!getenv("CK_DEFAULT_TIMEOUT"))
		tcase_set_timeout(tc, 120);
	tcase_add_test(tc, ctl_daemon_killed_connection_refused);
	tcase_add_test(tc, ctl_create_twice_exits_1);
	tcase_add_test(tc, ctl_delete_missing_exits_1);
	tcase_add_test(tc, ctl_set_accepts_name_and_numbers);
	tcase_add_test(tc, ctl_set_invalid_err_exits_2);
	tcase_add_test(tc, ctl_set_missing_slot_exits_1);
	tcase_add_test(tc, ctl_unnamed_errno_shown_as_number);
	tcase_add_test(tc, ctl_dash_names_after_double_dash);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(ctl_commands_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
