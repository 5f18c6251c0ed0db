/*
 * test_output.c - errseqctl's tests: list and stat in table and Prometheus
 * formats.
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

/* The slots most list cases use: one set, one never set, one with every
 * punctuation a name may hold. */
#define ODD_NAME "net/eth0@x:y-1.2_3"

static void three_slots(void)
{
	make_slot("disk0");
	make_slot("disk1");
	make_slot(ODD_NAME);
	ck_assert_int_eq(ctl("set", "disk0", "EIO"), 0);
	/* holds of our own and of that errseqctl are gone */
	wait_holders_eq("disk0", 0);
	wait_holders_eq("disk1", 0);
	wait_holders_eq(ODD_NAME, 0);
}

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

START_TEST(ctl_list_table)
{
	char f[10][160];
	const char *hdr, *row;
	struct errseq_slot_info info;
	size_t col;
	int lines = 0;

	three_slots();
	info = stat_of("disk0");
	ck_assert_int_eq(ctl("list"), 0);
	ck_assert_str_eq(R.err, "");
	for (const char *p = R.out; *p; p++)
		lines += *p == '\n';
	ck_assert_int_eq(lines, 4);

	hdr = table_line("NAME");
	ck_assert_ptr_eq(hdr, R.out);
	ck_assert_int_eq(fields(hdr, f, 10), 9);
	ck_assert_str_eq(f[1], "ERRNO");
	ck_assert_str_eq(f[5], "LAST SET");
	ck_assert_str_eq(f[7], "HOLDERS");
	ck_assert_str_eq(f[8], "WRITERS");
	/* the NAME column is as wide as the longest name */
	col = (size_t)(strstr(hdr, "ERRNO") - hdr);
	ck_assert_uint_eq(col, strlen(ODD_NAME) + 2);

	row = table_line("disk0");
	ck_assert_ptr_nonnull(row);
	ck_assert_int_eq(fields(row, f, 10), 9);
	ck_assert_str_eq(f[1], "EIO");
	ck_assert_str_eq(f[2], "0");
	ck_assert_str_eq(f[3], "no");
	ck_assert_str_eq(f[4], "1");
	ck_assert_msg(matches("^" ISO_LOCAL " \\((just now|[0-9]+s ago)\\)$",
			      f[5]), "time %s", f[5]);
	ck_assert_int_eq(atoi(f[6]), info.last_pid);
	ck_assert_str_eq(f[7], "0");
	ck_assert(row[col] != ' ' && row[col - 1] == ' ');

	row = table_line("disk1");
	ck_assert_ptr_nonnull(row);
	ck_assert_int_eq(fields(row, f, 10), 9);
	ck_assert_str_eq(f[1], "-");
	ck_assert_str_eq(f[2], "0");
	ck_assert_str_eq(f[3], "-");
	ck_assert_str_eq(f[4], "0");
	ck_assert_str_eq(f[5], "-");
	ck_assert_str_eq(f[6], "-");
	ck_assert(row[col] == '-' && row[col - 1] == ' ');
	ck_assert_ptr_nonnull(table_line(ODD_NAME));
}
END_TEST

START_TEST(ctl_list_pattern)
{
	char out[256];

	three_slots();
	ck_assert_int_eq(ctl("list", "disk*", "--json"), 0);
	json_q(out, sizeof(out), R.out, false, "slots.#", "slots.0.name",
	       "slots.1.name", NULL);
	ck_assert_str_eq(out, "2\n\"disk0\"\n\"disk1\"\n");
	ck_assert_int_eq(ctl("list", "net/*"), 0);
	ck_assert_ptr_nonnull(table_line(ODD_NAME));
	ck_assert_ptr_null(table_line("disk0"));
	ck_assert_int_eq(ctl("list", "nomatch*"), 0);
	ck_assert(!strncmp(R.out, "NAME ", 5));
	ck_assert_ptr_eq(strchr(R.out, '\n'), R.out + strlen(R.out) - 1);
	ck_assert_int_eq(ctl("--json", "list", "nomatch*"), 0);
	json_q(out, sizeof(out), R.out, false, "version", "slots", NULL);
	ck_assert_str_eq(out, "1\n[]\n");
}
END_TEST

START_TEST(ctl_list_and_stat_do_not_consume)
{
	struct errseq_slot *s;
	struct errseq_cursor *cur;
	struct errseq_slot_info info;

	three_slots();
	ck_assert_int_eq(ctl("list"), 0);
	ck_assert_int_eq(ctl("list", "--json"), 0);
	ck_assert_int_eq(ctl("list", "--prometheus"), 0);
	ck_assert_int_eq(ctl("list", "disk0"), 0);
	ck_assert_int_eq(ctl("stat", "disk0"), 0);
	ck_assert_int_eq(ctl("stat", "disk0", "--json"), 0);
	ck_assert_int_eq(ctl("status"), 0);

	info = stat_of("disk0");
	ck_assert_uint_eq(info.value, 5);	/* EIO, SEEN clear, counter 0 */
	ck_assert_uint_eq(info.value & ERRSEQ_SEEN, 0);

	/* a new cursor still gets the pending error, once */
	ck_assert_int_eq(errseq_slot_open(cl, "disk0", 0, &s), 0);
	ck_assert_int_eq(errseq_cursor_new(s, &cur), 0);
	ck_assert_int_eq(errseq_cursor_check(cur), -EIO);
	ck_assert_int_eq(errseq_cursor_check(cur), 0);
	errseq_cursor_free(cur);
	errseq_slot_close(s);

	/* and now list shows it consumed */
	ck_assert_int_eq(ctl("stat", "disk0", "--json"), 0);
	{
		char out[64];

		json_q(out, sizeof(out), R.out, false, "slot.seen",
		       "slot.value", NULL);
		ck_assert_str_eq(out, "true\n4101\n");	/* 5 | 0x1000 */
	}
}
END_TEST

/* Check a Prometheus exposition: every line is HELP, TYPE or a sample of
 * the family last typed, with a slot label.  Returns the sample count. */
static int check_prometheus(const char *text)
{
	const char *help = "^# HELP (errseq_[a-z_]+) [^\n]+$";
	const char *type = "^# TYPE (errseq_[a-z_]+) (gauge|counter)$";
	const char *sample = "^(errseq_[a-z_]+)\\{slot=\"([^\"\\\\\n]|\\\\[\\\\\"n])*\"\\} "
			     "[0-9]+(\\.[0-9]+)?$";
	regex_t rh, rt, rs;
	char family[128] = "", line[1024];
	int samples = 0;
	bool typed = false;

	ck_assert_int_eq(regcomp(&rh, help, REG_EXTENDED), 0);
	ck_assert_int_eq(regcomp(&rt, type, REG_EXTENDED), 0);
	ck_assert_int_eq(regcomp(&rs, sample, REG_EXTENDED), 0);
	ck_assert(text[0] != '\0' && text[strlen(text) - 1] == '\n');
	for (const char *p = text; *p;) {
		const char *nl = strchr(p, '\n');
		regmatch_t m[3];
		size_t len = (size_t)(nl - p);

		ck_assert_uint_lt(len, sizeof(line));
		memcpy(line, p, len);
		line[len] = '\0';
		p = nl + 1;
		if (!regexec(&rh, line, 2, m, 0)) {
			snprintf(family, sizeof(family), "%.*s",
				 (int)(m[1].rm_eo - m[1].rm_so),
				 line + m[1].rm_so);
			typed = false;
		} else if (!regexec(&rt, line, 3, m, 0)) {
			ck_assert_msg(!strncmp(line + 7, family, strlen(family)) &&
				      line[7 + strlen(family)] == ' ',
				      "TYPE of another family: %s", line);
			ck_assert(!typed);
			typed = true;
		} else if (!regexec(&rs, line, 2, m, 0)) {
			ck_assert_msg(typed && (size_t)(m[1].rm_eo - m[1].rm_so) ==
				      strlen(family) &&
				      !strncmp(line, family, strlen(family)),
				      "sample outside its family: %s", line);
			samples++;
		} else {
			ck_abort_msg("not a Prometheus line: '%s'", line);
		}
	}
	regfree(&rh);
	regfree(&rt);
	regfree(&rs);
	return samples;
}

START_TEST(ctl_list_prometheus_format)
{
	three_slots();
	ck_assert_int_eq(ctl("set", "disk0", "EIO"), 0);
	ck_assert_int_eq(ctl("list", "--prometheus"), 0);
	ck_assert_str_eq(R.err, "");
	ck_assert_int_eq(check_prometheus(R.out), 6 * 3);
	ck_assert_ptr_nonnull(strstr(R.out, "\n# TYPE errseq_slot_errno gauge\n"));
	ck_assert_ptr_nonnull(strstr(R.out, "\n# TYPE errseq_slot_sets_total counter\n"));
	ck_assert_ptr_nonnull(strstr(R.out, "\nerrseq_slot_errno{slot=\"disk0\"} 5\n"));
	ck_assert_ptr_nonnull(strstr(R.out, "\nerrseq_slot_errno{slot=\"disk1\"} 0\n"));
	ck_assert_ptr_nonnull(strstr(R.out, "\nerrseq_slot_sequence{slot=\"disk0\"} 0\n"));
	ck_assert_ptr_nonnull(strstr(R.out, "\nerrseq_slot_seen{slot=\"disk0\"} 0\n"));
	ck_assert_ptr_nonnull(strstr(R.out, "\nerrseq_slot_sets_total{slot=\"disk0\"} 2\n"));
	ck_assert_ptr_nonnull(strstr(R.out, "\nerrseq_slot_sets_total{slot=\"" ODD_NAME "\"} 0\n"));
	ck_assert_ptr_nonnull(strstr(R.out, "\nerrseq_slot_holders{slot=\"disk1\"} 0\n"));

	ck_assert_int_eq(ctl("--prometheus", "list", "disk1"), 0);
	ck_assert_int_eq(check_prometheus(R.out), 6);
	ck_assert_ptr_null(strstr(R.out, "disk0"));
}
END_TEST

START_TEST(ctl_list_many_slots)
{
	/* past the 8192 slots errseqctl measures first, and many pages */
	enum { N = 8300 };
	struct esdt_daemon big;
	struct errseq_client *c2;
	char name[32], out[256];
	int lines = 0;

	ck_assert_int_eq(esdt_daemon_start(&big, N + 100, NULL), 0);
	ck_assert_int_eq(errseq_client_open(big.sock, &c2), 0);
	for (int i = 0; i < N; i++) {
		struct errseq_slot *s;

		snprintf(name, sizeof(name), "s%05d", i);
		ck_assert_int_eq(errseq_slot_open(c2, name, ERRSEQ_CREATE, &s), 0);
		if (i % 1000 == 7)
			ck_assert_int_eq(errseq_slot_set(s, -EIO), 0);
		errseq_slot_close(s);
	}
	ck_assert_int_eq(ctl_env(big.sock, "list", "--json", (const char *)NULL), 0);
	json_q(out, sizeof(out), R.out, false, "slots.#", "slots.name=s00000.errno",
	       "slots.name=s08299.errno", "slots.name=s08007.errno_name", NULL);
	ck_assert_str_eq(out, "8300\n0\n0\n\"EIO\"\n");

	ck_assert_int_eq(ctl_env(big.sock, "list", (const char *)NULL), 0);
	for (const char *p = R.out; *p; p++)
		lines += *p == '\n';
	ck_assert_int_eq(lines, N + 1);
	ck_assert_ptr_nonnull(table_line("s08299"));
	ck_assert_ptr_nonnull(table_line("s00000"));

	ck_assert_int_eq(ctl_env(big.sock, "list", "--prometheus", (const char *)NULL), 0);
	ck_assert_int_eq(check_prometheus(R.out), 6 * N);
	ck_assert_ptr_nonnull(strstr(R.out, "\nerrseq_slot_errno{slot=\"s08007\"} 5\n"));

	ck_assert_int_eq(ctl_env(big.sock, "list", "s081*", "--json", (const char *)NULL), 0);
	json_q(out, sizeof(out), R.out, false, "slots.#", NULL);
	ck_assert_str_eq(out, "100\n");

	errseq_client_close(c2);
	esdt_daemon_cleanup(&big);
}
END_TEST

/* ---- suite ----------------------------------------------------------- */

static Suite *ctl_output_suite(void)
{
	Suite *s = suite_create("ctl_output");
	TCase *tc;

	tc = tcase_create("output");
	tcase_add_checked_fixture(tc, setup_daemon, teardown_daemon);
	/* Check's default of 4 s is short for 8300 slots under sanitizers;
	 * `make check` sets its own default through CK_DEFAULT_TIMEOUT */
	if (!getenv("CK_DEFAULT_TIMEOUT"))
		tcase_set_timeout(tc, 120);
	tcase_add_test(tc, ctl_list_table);
	tcase_add_test(tc, ctl_list_pattern);
	tcase_add_test(tc, ctl_list_and_stat_do_not_consume);
	tcase_add_test(tc, ctl_list_prometheus_format);
	tcase_add_test(tc, ctl_list_many_slots);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(ctl_output_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
