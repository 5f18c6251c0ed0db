/*
 * test_json.c - errseqctl's tests: list, stat and status as JSON (and their
 * text forms).
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

START_TEST(ctl_list_json_fields)
{
	struct errseq_slot_info i0, i1;
	char out[4096], want[1024];

	three_slots();
	i0 = stat_of("disk0");
	i1 = stat_of("disk1");
	ck_assert_int_eq(ctl("list", "--json"), 0);
	ck_assert_str_eq(R.err, "");
	json_q(out, sizeof(out), R.out, false, "~keys", "version", "slots.#",
	       "slots.0.~keys",
	       "slots.name=disk0.errno", "slots.name=disk0.errno_name",
	       "slots.name=disk0.counter", "slots.name=disk0.seen",
	       "slots.name=disk0.value", "slots.name=disk0.sets_total",
	       "slots.name=disk0.holders", "slots.name=disk0.creator_uid",
	       "slots.name=disk0.index", "slots.name=disk0.generation",
	       "slots.name=disk0.last_pid", "slots.name=disk0.last_set_ns",
	       "slots.name=disk1.errno", "slots.name=disk1.errno_name",
	       "slots.name=disk1.last_set", "slots.name=disk1.last_set_ns",
	       "slots.name=disk1.last_pid", "slots.name=disk1.index",
	       "slots.name=" ODD_NAME ".name", NULL);
	snprintf(want, sizeof(want),
		 "[\"slots\",\"version\"]\n1\n3\n"
		 "[\"counter\",\"created\",\"created_ns\",\"creator_uid\","
		 "\"errno\",\"errno_name\",\"generation\",\"holders\","
		 "\"index\",\"last_pid\",\"last_set\",\"last_set_ns\","
		 "\"name\",\"seen\",\"sets_total\",\"value\",\"writable\","
		 "\"writers_gid\"]\n"
		 "5\n\"EIO\"\n0\nfalse\n5\n1\n0\n%u\n%u\n%u\n%d\n%llu\n"
		 "0\nnull\nnull\n0\n0\n%u\n\"" ODD_NAME "\"\n",
		 (unsigned)geteuid(), i0.index, i0.generation,
		 (int)i0.last_pid, (unsigned long long)i0.last_set_ns,
		 i1.index);
	ck_assert_str_eq(out, want);

	json_q(out, sizeof(out), R.out, false, "slots.name=disk0.last_set",
	       "slots.name=disk0.created", NULL);
	ck_assert_msg(matches("^" ISO_UTC "\n" ISO_UTC "\n$", out), "%s", out);
}
END_TEST

START_TEST(ctl_stat_json_and_text)
{
	char out[1024], line[128];
	struct errseq_slot_info info;

	three_slots();
	info = stat_of("disk0");
	ck_assert_int_eq(ctl("stat", "disk0", "--json"), 0);
	json_q(out, sizeof(out), R.out, false, "~keys", "version", "slot.name",
	       "slot.errno", "slot.errno_name", "slot.seen", "slot.sets_total",
	       "slot.index", NULL);
	snprintf(line, sizeof(line), "[\"slot\",\"version\"]\n1\n\"disk0\"\n"
		 "5\n\"EIO\"\nfalse\n1\n%u\n", info.index);
	ck_assert_str_eq(out, line);
	ck_assert_int_eq(ctl("-j", "stat", ODD_NAME), 0);
	json_q(out, sizeof(out), R.out, false, "slot.name", "slot.errno",
	       "slot.errno_name", NULL);
	ck_assert_str_eq(out, "\"" ODD_NAME "\"\n0\nnull\n");

	ck_assert_int_eq(ctl("stat", "disk0"), 0);
	ck_assert(!strncmp(R.out, "name:        disk0\n", 19));
	ck_assert_ptr_nonnull(strstr(R.out, "\nerrno:       EIO (5: "));
	ck_assert_ptr_nonnull(strstr(R.out, "\nvalue:       0x00000005\n"));
	ck_assert_ptr_nonnull(strstr(R.out, "\nseen:        no\n"));
	ck_assert_ptr_nonnull(strstr(R.out, "\nsets total:  1\n"));
	snprintf(line, sizeof(line), "\nindex:       %u\n", info.index);
	ck_assert_ptr_nonnull(strstr(R.out, line));

	ck_assert_int_eq(ctl("stat", "nosuch"), 1);
	ck_assert_str_eq(R.out, "");
	ck_assert_str_eq(R.err, "errseqctl: stat: no such slot 'nosuch'\n");
}
END_TEST

START_TEST(ctl_status_json_and_text)
{
	char out[512], want[512];

	three_slots();
	wait_clients(1);	/* earlier errseqctl runs have gone */
	ck_assert_int_eq(ctl("status", "--json"), 0);
	json_q(out, sizeof(out), R.out, false, "~keys", "version", "status.pid",
	       "status.daemon_version", "status.capacity", "status.slots_used",
	       "status.slots_held", "status.clients", NULL);
	/* clients: this test's connection and errseqctl's own.  capacity:
	 * the daemon's --slots 64 (the live maximum) */
	snprintf(want, sizeof(want), "[\"status\",\"version\"]\n1\n%d\n\"%s\"\n"
		 "64\n3\n0\n2\n", (int)d.pid, PACKAGE_VERSION);
	ck_assert_str_eq(out, want);

	ck_assert_int_eq(ctl("status"), 0);
	snprintf(want, sizeof(want), "pid:          %d\n", (int)d.pid);
	ck_assert(!strncmp(R.out, want, strlen(want)));
	ck_assert_ptr_nonnull(strstr(R.out, "\nversion:      " PACKAGE_VERSION "\n"));
	ck_assert_ptr_nonnull(strstr(R.out, "\ncapacity:     64 slots\n"));
	ck_assert_ptr_nonnull(strstr(R.out, "\nslots used:   3\n"));
	ck_assert_msg(matches("\nuptime:       ([0-9]+[dhm] )*[0-9]+s\n", R.out),
		      "%s", R.out);
	/* the incarnation as errseqd logs it: 16 hex digits, in both forms */
	ck_assert_msg(matches("\nincarnation:  [0-9a-f]{16}\n", R.out), "%s",
		      R.out);
	ck_assert_int_eq(ctl("status", "--json"), 0);
	json_q(out, sizeof(out), R.out, false, "status.incarnation", NULL);
	ck_assert_msg(matches("^\"[0-9a-f]{16}\"\n$", out), "%s", out);
}
END_TEST

/* ---- suite ----------------------------------------------------------- */

static Suite *ctl_json_suite(void)
{
	Suite *s = suite_create("ctl_json");
	TCase *tc;

	tc = tcase_create("json");
	tcase_add_checked_fixture(tc, setup_daemon, teardown_daemon);
	/* Check's default of 4 s is short for 8300 slots under sanitizers;
	 * `make check` sets its own default through CK_DEFAULT_TIMEOUT */
	if (!getenv("CK_DEFAULT_TIMEOUT"))
		tcase_set_timeout(tc, 120);
	tcase_add_test(tc, ctl_list_json_fields);
	tcase_add_test(tc, ctl_stat_json_and_text);
	tcase_add_test(tc, ctl_status_json_and_text);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(ctl_json_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
