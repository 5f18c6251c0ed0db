/*
 * test_format.c - errseqctl's tests: its formatting helpers (ctl/format.c)
 * on their own.
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

#include "ctl/format.h"
#include "tests/support/ctl_util.h"

/* ---- ctl/format.c on its own -------------------------------------------- */

START_TEST(ctl_errno_names_cover_linux)
{
	for (int e = 1; e <= 133; e++) {
		if (e == 41 || e == 58)	/* unused numbers on Linux */
			continue;
		ck_assert_msg(ctl_errno_name(e) != NULL, "errno %d unnamed", e);
	}
	ck_assert_str_eq(ctl_errno_name(1), "EPERM");
	ck_assert_str_eq(ctl_errno_name(5), "EIO");
	ck_assert_str_eq(ctl_errno_name(EAGAIN), "EAGAIN");
	ck_assert_str_eq(ctl_errno_name(EDEADLK), "EDEADLK");
	ck_assert_str_eq(ctl_errno_name(EOPNOTSUPP), "EOPNOTSUPP");
	ck_assert_str_eq(ctl_errno_name(28), "ENOSPC");
	ck_assert_str_eq(ctl_errno_name(132), "ERFKILL");
	ck_assert_str_eq(ctl_errno_name(133), "EHWPOISON");
	ck_assert_ptr_null(ctl_errno_name(0));
	ck_assert_ptr_null(ctl_errno_name(-5));
	ck_assert_ptr_null(ctl_errno_name(134));
	ck_assert_ptr_null(ctl_errno_name(4095));
}
END_TEST

START_TEST(ctl_errno_parse_forms)
{
	static const char *const bad[] = {
		"", "0", "-0", "4096", "-4096", "-", "--5", "+5", " 5", "5 ",
		"5x", "0x5", "EBOGUS", "E", "99999999999999999999",
		"-9223372036854775808", "EIO ",
	};

	ck_assert_int_eq(ctl_errno_parse("EIO"), 5);
	ck_assert_int_eq(ctl_errno_parse("eio"), 5);
	ck_assert_int_eq(ctl_errno_parse("Eio"), 5);
	ck_assert_int_eq(ctl_errno_parse("5"), 5);
	ck_assert_int_eq(ctl_errno_parse("-5"), 5);
	ck_assert_int_eq(ctl_errno_parse("1"), 1);
	ck_assert_int_eq(ctl_errno_parse("4095"), 4095);
	ck_assert_int_eq(ctl_errno_parse("-4095"), 4095);
	ck_assert_int_eq(ctl_errno_parse("ENOSPC"), 28);
	ck_assert_int_eq(ctl_errno_parse("EHWPOISON"), 133);
	ck_assert_int_eq(ctl_errno_parse("EWOULDBLOCK"), EAGAIN);
	ck_assert_int_eq(ctl_errno_parse("ENOTSUP"), EOPNOTSUPP);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(ctl_errno_parse(bad[i]) == -EINVAL,
			      "'%s' accepted", bad[i]);
	ck_assert_int_eq(ctl_errno_parse(NULL), -EINVAL);
}
END_TEST

/* What @fn writes for @s, through a memory stream. */
static char *written(void (*fn)(FILE *, const char *), const char *s)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	ck_assert_ptr_nonnull(f);
	fn(f, s);
	ck_assert_int_eq(fclose(f), 0);
	return buf;
}

START_TEST(ctl_json_string_escapes)
{
	char *s;

	s = written(ctl_json_string, "disk0");
	ck_assert_str_eq(s, "\"disk0\"");
	free(s);
	s = written(ctl_json_string, "a\"b\\c/d\ne\tf\rg\bh\fi\x01j\x1fk\x7fl\xc3\xa9");
	ck_assert_str_eq(s, "\"a\\\"b\\\\c/d\\ne\\tf\\rg\\bh\\fi\\u0001j\\u001fk\\u007fl\xc3\xa9\"");
	free(s);
	s = written(ctl_json_string, "");
	ck_assert_str_eq(s, "\"\"");
	free(s);
}
END_TEST

START_TEST(ctl_prom_label_escapes)
{
	char *s;

	s = written(ctl_prom_label, "net/eth0@x:y-1.2_3");
	ck_assert_str_eq(s, "net/eth0@x:y-1.2_3");
	free(s);
	s = written(ctl_prom_label, "a\"b\\c\nd\te");
	ck_assert_str_eq(s, "a\\\"b\\\\c\\nd\te");
	free(s);
}
END_TEST

START_TEST(ctl_duration_formats)
{
	char b[64];
	const uint64_t s = 1000000000ull;

	ck_assert_uint_eq(ctl_duration(b, sizeof(b), 0), 2);
	ck_assert_str_eq(b, "0s");
	ctl_duration(b, sizeof(b), 999999999ull);
	ck_assert_str_eq(b, "0s");
	ctl_duration(b, sizeof(b), 5 * s);
	ck_assert_str_eq(b, "5s");
	ctl_duration(b, sizeof(b), 65 * s);
	ck_assert_str_eq(b, "1m 5s");
	ctl_duration(b, sizeof(b), (3 * 3600 + 12 * 60 + 5) * s + 7);
	ck_assert_str_eq(b, "3h 12m 5s");
	ctl_duration(b, sizeof(b), 3600 * s);
	ck_assert_str_eq(b, "1h 0m 0s");
	ctl_duration(b, sizeof(b), (2 * 86400 + 1) * s);
	ck_assert_str_eq(b, "2d 0h 0m 1s");
	ck_assert_uint_eq(ctl_duration(b, 5, 65 * s), 0);	/* "1m 5s" */
	ck_assert_str_eq(b, "");
}
END_TEST

START_TEST(ctl_iso_time_formats)
{
	char b[64];
	const uint64_t t = 1735787045123456789ull;	/* 2025-01-02T03:04:05.123Z */

	ck_assert_uint_eq(ctl_iso_time(b, sizeof(b), 0, true), 24);
	ck_assert_str_eq(b, "1970-01-01T00:00:00.000Z");
	ctl_iso_time(b, sizeof(b), t, true);
	ck_assert_str_eq(b, "2025-01-02T03:04:05.123Z");
	/* local time: a zone 1h30 east of UTC, then one 5h west */
	setenv("TZ", "XYZ-1:30", 1);
	tzset();
	ctl_iso_time(b, sizeof(b), t, false);
	ck_assert_str_eq(b, "2025-01-02T04:34:05.123+01:30");
	setenv("TZ", "XYZ5", 1);
	tzset();
	ctl_iso_time(b, sizeof(b), t, false);
	ck_assert_str_eq(b, "2025-01-01T22:04:05.123-05:00");
	ck_assert_uint_eq(ctl_iso_time(b, 24, t, true), 0);	/* no room */
}
END_TEST

/* ---- suite ----------------------------------------------------------- */

static Suite *ctl_format_suite(void)
{
	Suite *s = suite_create("ctl_format");
	TCase *tc;

	tc = tcase_create("format");
	tcase_add_test(tc, ctl_errno_names_cover_linux);
	tcase_add_test(tc, ctl_errno_parse_forms);
	tcase_add_test(tc, ctl_json_string_escapes);
	tcase_add_test(tc, ctl_prom_label_escapes);
	tcase_add_test(tc, ctl_duration_formats);
	tcase_add_test(tc, ctl_iso_time_formats);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(ctl_format_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
