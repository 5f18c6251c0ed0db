/*
 * test_ops_ctl.c - errseqctl for operators (issue 10): the listing keeps
 * each name once under churn (bug 1), watch consumes nothing it failed to
 * write (bug 2), watch globs follow slots created later, a name given twice
 * is watched once, list's --pending/--errno/--sort filters and ages, what
 * -s says about a path that is not a socket, and the escaping of names and
 * ages (ctl/format.c on its own).
 *
 * Each daemon-backed case starts the real errseqd through tests/harness.h
 * (its own socket and shm names) and runs the built errseqctl
 * ($ERRSEQCTL_BIN) as a child.  Waits are bounded loops on observable state
 * (the daemon's client count), never sleeps or wall-time assertions.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <errseq/client.h>

#include "ctl/format.h"
#include "tests/support/harness.h"
#include "tests/opsutil.h"

static struct esdt_daemon d;
static struct errseq_client *cl;
static struct ops_run R;
static const char *sock;	/* the daemon errseqctl talks to */

static void setup(void)
{
	signal(SIGPIPE, SIG_IGN);
	esdt_sweep();
	ck_assert_int_eq(esdt_daemon_start(&d, 1024, NULL), 0);
	ck_assert_int_eq(errseq_client_open(d.sock, &cl), 0);
	sock = d.sock;
}

static void teardown(void)
{
	errseq_client_close(cl);
	cl = NULL;
	esdt_daemon_cleanup(&d);
	free(R.out);
	R.out = NULL;
}

/* Run errseqctl with the NULL-terminated arguments against d; stdout to
 * @out_path if not NULL.  Returns the exit status; output in R. */
static int ctl_to(const char *out_path, const char *first, ...)
{
	const char *argv[32];
	va_list ap;
	int n = 0;

	argv[n++] = ops_bin("ERRSEQCTL_BIN", "ctl/errseqctl");
	va_start(ap, first);
	for (const char *a = first; a && n < 31; a = va_arg(ap, const char *))
		argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;
	free(R.out);
	ck_assert_int_eq(ops_run(argv, sock, out_path, 120000, &R), 0);
	return R.status;
}

#define ctl(...) ctl_to(NULL, __VA_ARGS__, (const char *)NULL)

static void make_slot(const char *name)
{
	struct errseq_slot *s;

	ck_assert_int_eq(errseq_slot_open(cl, name, ERRSEQ_CREATE | ERRSEQ_EXCL,
					  &s), 0);
	errseq_slot_close(s);
}

static void set_slot(const char *name, int err)
{
	struct errseq_slot *s;

	ck_assert_int_eq(errseq_slot_open(cl, name, 0, &s), 0);
	ck_assert_int_eq(errseq_slot_set(s, err), 0);
	errseq_slot_close(s);
}

static errseq_t value_of(const char *name)
{
	struct errseq_slot_info info;

	ck_assert_int_eq(errseq_stat(cl, name, &info), 0);
	return info.value;
}

/* ---- bug 1: a listing holds each name at most once ----------------------- */

/* A child that deletes and re-creates "churn" on @sock until killed.  The
 * daemon's free list is a FIFO of indexes, so each re-creation lands on
 * the next free index in it. */
static pid_t start_churn(const char *path)
{
	pid_t parent = getpid();
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct errseq_client *c;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent || errseq_client_open(path, &c) < 0)
			_exit(1);
		for (;;) {
			struct errseq_slot *s;

			errseq_slot_unlink(c, "churn");
			if (errseq_slot_open(c, "churn", ERRSEQ_CREATE, &s) == 0)
				errseq_slot_close(s);
		}
	}
	return pid;
}

/*
 * A full segment of 600 slots, 100 of them deleted again, alternately
 * one of indexes 0..49 (on the first page errseq_list returns: 256 live
 * slots) and one of 599..550 (on the second).  The churning
 * name then hops between the pages at each re-creation, and a listing
 * that reads the first page while it is there and the second after it
 * moved meets it twice, unless the listing removes the repeat.
 */
START_TEST(list_holds_each_name_once_under_churn)
{
	enum { SLOTS = 600, RUNS = 60 };
	struct esdt_daemon big;
	struct errseq_client *c;
	const char *sock_saved = sock;
	char name[32];
	size_t dup_json = 0, dup_prom = 0, listed = 0;
	pid_t churn;
	int status;

	ck_assert_int_eq(esdt_daemon_start(&big, SLOTS, NULL), 0);
	ck_assert_int_eq(errseq_client_open(big.sock, &c), 0);
	for (int i = 0; i < SLOTS; i++) {
		struct errseq_slot *s;

		snprintf(name, sizeof(name), "s%03d", i);
		ck_assert_int_eq(errseq_slot_open(c, name, ERRSEQ_CREATE, &s), 0);
		errseq_slot_close(s);
	}
	/* alternately low and high, so the free list alternates pages */
	for (int i = 0; i < 50; i++) {
		snprintf(name, sizeof(name), "s%03d", i);
		ck_assert_int_eq(errseq_slot_unlink(c, name), 0);
		snprintf(name, sizeof(name), "s%03d", SLOTS - 1 - i);
		ck_assert_int_eq(errseq_slot_unlink(c, name), 0);
	}
	sock = big.sock;
	churn = start_churn(big.sock);
	for (int i = 0; i < RUNS; i++) {
		size_t n;

		ck_assert_msg(ctl("--json", "list") == 0, "%s", R.err);
		n = ops_count(R.out, "{\"name\":\"churn\",");
		listed += n;
		if (n > 1)
			dup_json++;
		/* every other slot is listed exactly once */
		ck_assert_uint_eq(ops_count(R.out, "{\"name\":\"s"), SLOTS - 100);
		ck_assert_msg(ctl("--prometheus", "list") == 0, "%s", R.err);
		if (ops_count(R.out, "errseq_slot_errno{slot=\"churn\"}") > 1)
			dup_prom++;
	}
	kill(churn, SIGKILL);
	ck_assert_int_eq(waitpid(churn, &status, 0), churn);
	sock = sock_saved;
	errseq_client_close(c);
	esdt_daemon_cleanup(&big);
	ck_assert_msg(dup_json == 0 && dup_prom == 0,
		      "churn listed twice in %zu of %d JSON and %zu of %d "
		      "Prometheus listings", dup_json, RUNS, dup_prom, RUNS);
	/* the churning name is there most of the time: the test did list it */
	ck_assert_uint_gt(listed, 0);
}
END_TEST

/* ---- bug 2: watch consumes only what it wrote and flushed ----------------- */

START_TEST(watch_write_error_consumes_nothing)
{
	make_slot("wf");
	set_slot("wf", -EIO);
	ck_assert_uint_eq(value_of("wf") & ERRSEQ_SEEN, 0);

	ck_assert_int_eq(ctl_to("/dev/full", "watch", "wf", "--once",
				(const char *)NULL), 1);
	ck_assert_msg(strstr(R.err, "No space left on device"),
		      "stderr: %s", R.err);
	ck_assert_ptr_null(strstr(R.err, "Inappropriate ioctl"));
	ck_assert_ptr_null(strstr(R.err, "Success"));
	/* one message, not one per layer */
	ck_assert_uint_eq(ops_count(R.err, "errseqctl:"), 1);
	/* nothing consumed: the error is still pending ... */
	ck_assert_uint_eq(value_of("wf") & ERRSEQ_SEEN, 0);
	/* ... and the next watch reports it */
	ck_assert_int_eq(ctl("watch", "wf", "--once", "--timeout", "30"), 0);
	ck_assert_msg(strstr(R.out, " wf EIO (5) counter=0\n"), "out: %s",
		      R.out);
	ck_assert_uint_ne(value_of("wf") & ERRSEQ_SEEN, 0);
}
END_TEST

START_TEST(watch_json_write_error_consumes_nothing)
{
	make_slot("wj");
	set_slot("wj", -ENOSPC);
	ck_assert_int_eq(ctl_to("/dev/full", "--json", "watch", "wj",
				"--timeout", "5", (const char *)NULL), 1);
	ck_assert_msg(strstr(R.err, "No space left on device"),
		      "stderr: %s", R.err);
	ck_assert_uint_eq(value_of("wj") & ERRSEQ_SEEN, 0);
}
END_TEST

/* ---- watch: names once, globs ------------------------------------------ */

START_TEST(watch_same_name_twice_reports_once)
{
	pid_t parent = getpid(), pid;
	int status;

	make_slot("y");
	/* the error comes once the watch holds the slot open, so that a
	 * watcher per argument would each report it */
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct errseq_client *c;
		struct errseq_slot_info info = { .holders = 0 };
		struct errseq_slot *s;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent || errseq_client_open(d.sock, &c) < 0)
			_exit(1);
		for (int i = 0; i < 60000 && info.holders == 0; i++) {
			if (errseq_stat(c, "y", &info) < 0)
				_exit(2);
			if (info.holders == 0)
				usleep(1000);
		}
		if (errseq_slot_open(c, "y", 0, &s) < 0 ||
		    errseq_slot_set(s, -EIO) < 0)
			_exit(3);
		errseq_slot_close(s);
		errseq_client_close(c);
		_exit(0);
	}
	ck_assert_int_eq(ctl("watch", "y", "y", "--timeout", "3"), 0);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	ck_assert_msg(ops_count(R.out, " y EIO (5)") == 1, "out: %s", R.out);
	ck_assert_uint_eq(ops_count(R.out, "\n"), 1);
}
END_TEST

START_TEST(watch_glob_and_name_overlap_reports_once)
{
	make_slot("disk0");
	make_slot("disk1");
	make_slot("net0");
	set_slot("disk0", -EIO);
	set_slot("disk1", -ENOSPC);
	set_slot("net0", -EPIPE);
	ck_assert_int_eq(ctl("watch", "disk0", "disk*", "--timeout", "1"), 0);
	ck_assert_uint_eq(ops_count(R.out, " disk0 EIO (5)"), 1);
	ck_assert_uint_eq(ops_count(R.out, " disk1 ENOSPC (28)"), 1);
	ck_assert_ptr_null(strstr(R.out, "net0"));
	ck_assert_uint_eq(ops_count(R.out, "\n"), 2);
	/* net0 was not consumed */
	ck_assert_uint_eq(value_of("net0") & ERRSEQ_SEEN, 0);
}
END_TEST

START_TEST(watch_glob_follows_slot_created_later)
{
	pid_t parent = getpid(), pid;
	int status;

	make_slot("other");
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct errseq_client *c;
		struct errseq_slot *s;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent || errseq_client_open(d.sock, &c) < 0)
			_exit(1);
		/* us, the test's client and errseqctl's */
		for (int i = 0; i < 60000; i++) {
			struct errseq_daemon_status st;

			if (errseq_status(c, &st) < 0)
				_exit(2);
			if (st.clients >= 3)
				break;
			usleep(1000);
		}
		if (errseq_slot_open(c, "gnew", ERRSEQ_CREATE | ERRSEQ_EXCL,
				     &s) < 0 || errseq_slot_set(s, -EROFS) < 0)
			_exit(3);
		errseq_slot_close(s);
		errseq_client_close(c);
		_exit(0);
	}
	ck_assert_int_eq(ctl("watch", "g*", "--once", "--timeout", "60"), 0);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	ck_assert_msg(strstr(R.out, " gnew EROFS (30) counter=0\n"), "out: %s",
		      R.out);
}
END_TEST

/* ---- list filters ------------------------------------------------------- */

START_TEST(list_filters_and_sort)
{
	struct errseq_slot *s;
	errseq_t since;
	const char *a, *b, *c;

	make_slot("c-never");
	make_slot("b-seen");
	make_slot("a-pending");
	set_slot("a-pending", -EIO);
	set_slot("b-seen", -ENOSPC);
	set_slot("b-seen", -ENOSPC);
	/* consume b-seen's error */
	ck_assert_int_eq(errseq_slot_open(cl, "b-seen", 0, &s), 0);
	since = 0;
	ck_assert_int_eq(errseq_slot_check_and_advance(s, &since), -ENOSPC);
	errseq_slot_close(s);

	ck_assert_int_eq(ctl("list", "--pending", "--json"), 0);
	ck_assert_uint_eq(ops_count(R.out, "\"name\":"), 1);
	ck_assert_ptr_nonnull(strstr(R.out, "\"name\":\"a-pending\""));

	ck_assert_int_eq(ctl("list", "--errno", "ENOSPC", "--json"), 0);
	ck_assert_uint_eq(ops_count(R.out, "\"name\":"), 1);
	ck_assert_ptr_nonnull(strstr(R.out, "\"name\":\"b-seen\""));
	ck_assert_int_eq(ctl("list", "--errno", "28"), 0);
	ck_assert_ptr_nonnull(strstr(R.out, "\nb-seen "));
	ck_assert_ptr_null(strstr(R.out, "a-pending"));

	ck_assert_int_eq(ctl("list", "--sort", "name"), 0);
	a = strstr(R.out, "\na-pending ");
	b = strstr(R.out, "\nb-seen ");
	c = strstr(R.out, "\nc-never ");
	ck_assert(a && b && c && a < b && b < c);

	ck_assert_int_eq(ctl("list", "--sort", "sets"), 0);
	a = strstr(R.out, "\na-pending ");
	b = strstr(R.out, "\nb-seen ");
	c = strstr(R.out, "\nc-never ");
	ck_assert(a && b && c && b < a && a < c);

	ck_assert_int_eq(ctl("list", "--sort", "last"), 0);
	a = strstr(R.out, "\na-pending ");
	b = strstr(R.out, "\nb-seen ");
	c = strstr(R.out, "\nc-never ");
	ck_assert(a && b && c && b < a && a < c);

	/* the table gives an age next to the time */
	ck_assert(strstr(R.out, "(just now)") || strstr(R.out, "s ago)"));

	ck_assert_int_eq(ctl("list", "--sort", "size"), 2);
	ck_assert_int_eq(ctl("list", "--errno", "ENOTANERRNO"), 2);
	ck_assert_int_eq(ctl("stat", "a-pending", "--pending"), 2);
}
END_TEST

/* ---- -s: what is wrong with the path ------------------------------------ */

START_TEST(socket_path_not_a_socket_says_so)
{
	ck_assert_int_eq(ctl("-s", d.dir, "list"), 1);
	ck_assert_msg(strstr(R.err, "directory"), "stderr: %s", R.err);
	ck_assert_ptr_null(strstr(R.err, "is errseqd running"));
	ck_assert_int_eq(ctl("-s", "/etc/passwd", "list"), 1);
	ck_assert_msg(strstr(R.err, "not a socket"), "stderr: %s", R.err);
	ck_assert_ptr_null(strstr(R.err, "is errseqd running"));
}
END_TEST

/* ---- ctl/format.c: escaping and ages ------------------------------------ */

START_TEST(text_escape_and_age)
{
	char buf[64];

	ck_assert_uint_eq(ctl_text_escape(buf, sizeof(buf), "a\x1b[31mb\\\x7f"),
			  strlen("a\\x1b[31mb\\x5c\\x7f"));
	ck_assert_str_eq(buf, "a\\x1b[31mb\\x5c\\x7f");
	ck_assert_uint_eq(ctl_text_escape(buf, sizeof(buf), "net/eth0@x:y-1.2_3"),
			  18);
	ck_assert_str_eq(buf, "net/eth0@x:y-1.2_3");
	ck_assert_uint_eq(ctl_text_escape(buf, 4, "\n"), 0);
	ck_assert_str_eq(buf, "");
	ck_assert_uint_eq(ctl_text_escape(buf, 5, "\nab"), 4);
	ck_assert_str_eq(buf, "\\x0a");

	ck_assert_uint_gt(ctl_age(buf, sizeof(buf), 10000000000ull, 10000000000ull), 0);
	ck_assert_str_eq(buf, "just now");
	ctl_age(buf, sizeof(buf), 5000000000ull + 3000000000ull, 5000000000ull);
	ck_assert_str_eq(buf, "3s ago");
	ctl_age(buf, sizeof(buf), 200ull * 1000000000ull, 1);
	ck_assert_str_eq(buf, "3m ago");
	ctl_age(buf, sizeof(buf), 7300ull * 1000000000ull, 1);
	ck_assert_str_eq(buf, "2h ago");
	ctl_age(buf, sizeof(buf), 3ull * 86400 * 1000000000ull, 1);
	ck_assert_str_eq(buf, "2d ago");
	ctl_age(buf, sizeof(buf), 1, 2);
	ck_assert_str_eq(buf, "in the future");
	ck_assert_uint_eq(ctl_age(buf, 3, 2000000000ull, 0), 0);
}
END_TEST

static Suite *ops_ctl_suite(void)
{
	Suite *s = suite_create("ops_ctl");
	TCase *unit = tcase_create("unit");
	TCase *live = tcase_create("live");

	tcase_add_test(unit, text_escape_and_age);
	suite_add_tcase(s, unit);

	tcase_add_checked_fixture(live, setup, teardown);
	tcase_set_timeout(live, 600);
	tcase_add_test(live, list_holds_each_name_once_under_churn);
	tcase_add_test(live, watch_write_error_consumes_nothing);
	tcase_add_test(live, watch_json_write_error_consumes_nothing);
	tcase_add_test(live, watch_same_name_twice_reports_once);
	tcase_add_test(live, watch_glob_and_name_overlap_reports_once);
	tcase_add_test(live, watch_glob_follows_slot_created_later);
	tcase_add_test(live, list_filters_and_sort);
	tcase_add_test(live, socket_path_not_a_socket_says_so);
	suite_add_tcase(s, live);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(ops_ctl_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
