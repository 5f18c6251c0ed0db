/*
 * test_errnames.c - liberrseq-client's errno names: errseq_errno_name and
 * errseq_errno_parse (client/errnames.c), through the public API only.
 *
 * No daemon is needed.  Every Linux errno has a name, names and numbers
 * round-trip, aliases parse but are never printed, and every malformed
 * input (trailing junk, spaces, signs, hex, out of range) is refused with
 * -EINVAL.  Neither call touches errno.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <errseq/client.h>

START_TEST(errnames_every_linux_errno_has_a_name)
{
	for (int e = 1; e <= 133; e++) {
		const char *name;

		if (e == 41 || e == 58)	/* numbers Linux leaves unused */
			continue;
		name = errseq_errno_name(e);
		ck_assert_msg(name != NULL, "errno %d unnamed", e);
		/* the name parses back to the same number */
		ck_assert_msg(errseq_errno_parse(name) == e, "%s -> %d, not %d",
			      name, errseq_errno_parse(name), e);
		/* and so does the negative form, as errseq_check returns it */
		ck_assert_str_eq(errseq_errno_name(-e), name);
	}
	ck_assert_ptr_null(errseq_errno_name(41));
	ck_assert_ptr_null(errseq_errno_name(58));
}
END_TEST

START_TEST(errnames_exact_names)
{
	ck_assert_str_eq(errseq_errno_name(1), "EPERM");
	ck_assert_str_eq(errseq_errno_name(EIO), "EIO");
	ck_assert_str_eq(errseq_errno_name(-EIO), "EIO");
	ck_assert_str_eq(errseq_errno_name(28), "ENOSPC");
	ck_assert_str_eq(errseq_errno_name(E2BIG), "E2BIG");
	ck_assert_str_eq(errseq_errno_name(133), "EHWPOISON");
	/* for aliases the canonical name wins */
	ck_assert_str_eq(errseq_errno_name(EWOULDBLOCK), "EAGAIN");
	ck_assert_str_eq(errseq_errno_name(EDEADLOCK), "EDEADLK");
	ck_assert_str_eq(errseq_errno_name(ENOTSUP), "EOPNOTSUPP");
	ck_assert_ptr_null(errseq_errno_name(0));
	ck_assert_ptr_null(errseq_errno_name(134));
	ck_assert_ptr_null(errseq_errno_name(ERRSEQ_MAX_ERRNO));
	ck_assert_ptr_null(errseq_errno_name(-ERRSEQ_MAX_ERRNO));
	ck_assert_ptr_null(errseq_errno_name(INT_MAX));
	ck_assert_ptr_null(errseq_errno_name(INT_MIN));
	ck_assert_ptr_null(errseq_errno_name(ERRSEQ_ESTALE));
}
END_TEST

START_TEST(errnames_parse_accepts)
{
	ck_assert_int_eq(errseq_errno_parse("EIO"), 5);
	ck_assert_int_eq(errseq_errno_parse("eio"), 5);
	ck_assert_int_eq(errseq_errno_parse("eIo"), 5);
	ck_assert_int_eq(errseq_errno_parse("5"), 5);
	ck_assert_int_eq(errseq_errno_parse("-5"), 5);
	ck_assert_int_eq(errseq_errno_parse("005"), 5);
	ck_assert_int_eq(errseq_errno_parse("1"), 1);
	ck_assert_int_eq(errseq_errno_parse("-1"), 1);
	ck_assert_int_eq(errseq_errno_parse("4095"), 4095);
	ck_assert_int_eq(errseq_errno_parse("-4095"), 4095);
	ck_assert_int_eq(errseq_errno_parse("ENOSPC"), ENOSPC);
	ck_assert_int_eq(errseq_errno_parse("E2BIG"), E2BIG);
	ck_assert_int_eq(errseq_errno_parse("EWOULDBLOCK"), EAGAIN);
	ck_assert_int_eq(errseq_errno_parse("EDEADLOCK"), EDEADLK);
	ck_assert_int_eq(errseq_errno_parse("enotsup"), EOPNOTSUPP);
}
END_TEST

START_TEST(errnames_parse_refuses)
{
	static const char *const bad[] = {
		"", "0", "-0", "000", "4096", "-4096", "40950", "-", "--5",
		"+5", " 5", " 7", "5 ", "\t5", "5\n", "5abc", "5x", "0x5",
		"1e3", "5.0", "EBOGUS", "E", "EIO ", " EIO", "EIO5", "E IO",
		"99999999999999999999", "-9223372036854775808",
		"2147483648", "4294967301",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(errseq_errno_parse(bad[i]) == -EINVAL,
			      "'%s' accepted as %d", bad[i],
			      errseq_errno_parse(bad[i]));
	ck_assert_int_eq(errseq_errno_parse(NULL), -EINVAL);
}
END_TEST

START_TEST(errnames_leave_errno_alone)
{
	errno = 1234;
	ck_assert_int_eq(errseq_errno_parse("99999999999999999999"), -EINVAL);
	ck_assert_int_eq(errseq_errno_parse("7"), 7);
	ck_assert_int_eq(errseq_errno_parse("EBOGUS"), -EINVAL);
	ck_assert_ptr_null(errseq_errno_name(0));
	ck_assert_int_eq(errno, 1234);
}
END_TEST

static Suite *errnames_suite(void)
{
	Suite *s = suite_create("client_errnames");
	TCase *tc = tcase_create("errnames");

	tcase_add_test(tc, errnames_every_linux_errno_has_a_name);
	tcase_add_test(tc, errnames_exact_names);
	tcase_add_test(tc, errnames_parse_accepts);
	tcase_add_test(tc, errnames_parse_refuses);
	tcase_add_test(tc, errnames_leave_errno_alone);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(errnames_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
