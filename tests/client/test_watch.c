/*
 * test_watch.c - errseq_watch: one pollable fd for many cursors.
 *
 * Against the real daemon (tests/support/harness.h):
 *   - the fd is readable only when a cursor has news; errseq_watch_next
 *     reports it once and then 0, which empties the fd;
 *   - a stale slot is reported once as ERRSEQ_ESTALE;
 *   - argument and membership errors have their exact codes;
 *   - 128 slots, random sets from four forked producer processes, one
 *     watcher in poll(): for every slot the reports are a subsequence of
 *     the values set, in order, with no value reported twice in a row
 *     (no duplicate, nothing invented), and after the producers finish the
 *     watcher is told the last value of every slot (no miss).
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <errseq/client.h>

#include "tests/support/harness.h"

#define NSLOTS		128
#define NPROD		4
#define SETS_PER_PROD	400
#define POLL_MS		60000	/* "forever", bounded */

static struct esdt_daemon D;

static void setup(void)
{
	esdt_sweep();
	ck_assert_int_eq(esdt_daemon_start(&D, 4096, NULL), 0);
}

static void teardown(void)
{
	esdt_daemon_cleanup(&D);
	esdt_sweep();
}

static int readable(int fd, int ms)
{
	struct pollfd p = { fd, POLLIN, 0 };

	return poll(&p, 1, ms) == 1 && (p.revents & POLLIN);
}

START_TEST(watch_reports_once_and_rearms)
{
	struct errseq_client *c;
	struct errseq_slot *s[3];
	struct errseq_cursor *cur[3], *got;
	struct errseq_watch *w;
	char name[16];

	ck_assert_int_eq(errseq_client_open(D.sock, &c), 0);
	ck_assert_int_eq(errseq_watch_new(c, &w), 0);
	for (int i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "w%d", i);
		ck_assert_int_eq(errseq_slot_open(c, name, ERRSEQ_CREATE,
						  &s[i]), 0);
		ck_assert_int_eq(errseq_cursor_new(s[i], &cur[i]), 0);
		ck_assert_int_eq(errseq_watch_add(w, cur[i]), 0);
	}
	ck_assert_int_eq(errseq_watch_add(w, cur[1]), -EEXIST);
	ck_assert_int_ge(errseq_watch_fd(w), 0);
	ck_assert(!readable(errseq_watch_fd(w), 300));

	ck_assert_int_eq(errseq_slot_set(s[1], -EIO), 0);
	ck_assert(readable(errseq_watch_fd(w), POLL_MS));
	ck_assert_int_eq(errseq_watch_next(w, &got), -EIO);
	ck_assert_ptr_eq(got, cur[1]);
	ck_assert_int_eq(errseq_watch_next(w, &got), 0);
	ck_assert_ptr_null(got);
	ck_assert(!readable(errseq_watch_fd(w), 300));
	/* reported once: the cursor has nothing more either */
	ck_assert_int_eq(errseq_cursor_check(cur[1]), 0);

	/* two slots at once: both reported, each once */
	ck_assert_int_eq(errseq_slot_set(s[0], -ENOSPC), 0);
	ck_assert_int_eq(errseq_slot_set(s[2], -EROFS), 0);
	ck_assert(readable(errseq_watch_fd(w), POLL_MS));
	{
		int seen0 = 0, seen2 = 0, r;

		while ((r = errseq_watch_next(w, &got)) != 0) {
			if (got == cur[0] && r == -ENOSPC)
				seen0++;
			else if (got == cur[2] && r == -EROFS)
				seen2++;
			else
				ck_abort_msg("unexpected report %d", r);
		}
		ck_assert_int_eq(seen0, 1);
		ck_assert_int_eq(seen2, 1);
	}

	/* a deleted slot: ERRSEQ_ESTALE once */
	ck_assert_int_eq(errseq_slot_unlink(c, "w0"), 0);
	ck_assert(readable(errseq_watch_fd(w), POLL_MS));
	ck_assert_int_eq(errseq_watch_next(w, &got), ERRSEQ_ESTALE);
	ck_assert_ptr_eq(got, cur[0]);
	ck_assert_int_eq(errseq_watch_next(w, &got), 0);
	ck_assert_int_eq(errseq_watch_remove(w, cur[0]), 0);
	ck_assert_int_eq(errseq_watch_remove(w, cur[0]), -ENOENT);

	errseq_watch_free(w);
	errseq_client_close(c);
}
END_TEST

START_TEST(watch_argument_errors)
{
	struct errseq_client *c, *c2;
	struct errseq_slot *s;
	struct errseq_cursor *cur;
	struct errseq_watch *w;

	ck_assert_int_eq(errseq_client_open(D.sock, &c), 0);
	ck_assert_int_eq(errseq_client_open(D.sock, &c2), 0);
	ck_assert_int_eq(errseq_watch_new(NULL, &w), -EINVAL);
	ck_assert_int_eq(errseq_watch_new(c, NULL), -EINVAL);
	ck_assert_int_eq(errseq_watch_new(c, &w), 0);
	ck_assert_int_eq(errseq_slot_open(c2, "other", ERRSEQ_CREATE, &s), 0);
	ck_assert_int_eq(errseq_cursor_new(s, &cur), 0);
	ck_assert_int_eq(errseq_watch_add(w, cur), -EXDEV);
	ck_assert_int_eq(errseq_watch_add(w, NULL), -EINVAL);
	ck_assert_int_eq(errseq_watch_remove(w, cur), -ENOENT);
	ck_assert_int_eq(errseq_watch_fd(NULL), -EINVAL);
	ck_assert_int_eq(errseq_watch_next(NULL, &cur), -EINVAL);
	errseq_watch_free(w);
	errseq_watch_free(NULL);
	errseq_client_close(c2);
	errseq_client_close(c);
}
END_TEST

/* The values producer @p sets on its slots: errno 1 + (k % 97), so two
 * consecutive sets of one slot always differ. */
static int value_of(int k)
{
	return 1 + (k % 97);
}

/* Per slot, in shared memory: every errno set, in order. */
struct setlog {
	int n;
	unsigned char v[NPROD * SETS_PER_PROD];
};

static void producer(int p, struct setlog *log)
{
	struct errseq_client *c;
	struct errseq_slot *s[NSLOTS];
	unsigned seed = 977u * (unsigned)p + 1;
	char name[16];

	if (errseq_client_open(D.sock, &c) < 0)
		_exit(2);
	for (int i = 0; i < NSLOTS; i++) {
		snprintf(name, sizeof(name), "r%d", i);
		if (errseq_slot_open(c, name, 0, &s[i]) < 0)
			_exit(3);
	}
	for (int k = 0; k < SETS_PER_PROD; k++) {
		int i, e;

		seed = seed * 1103515245u + 12345u;
		/* each producer owns the slots i with i % NPROD == p, so the
		 * log of a slot is written by one process only */
		i = (int)((seed >> 8) % (NSLOTS / NPROD)) * NPROD + p;
		e = value_of(log[i].n);
		log[i].v[log[i].n] = (unsigned char)e;
		/* the log entry first, then the set (release by the CAS) */
		__atomic_store_n(&log[i].n, log[i].n + 1, __ATOMIC_SEQ_CST);
		if (errseq_slot_set(s[i], -e) < 0)
			_exit(4);
		if (seed % 7 == 0)
			usleep(seed % 300);
	}
	_exit(0);
}

START_TEST(watch_128_slots_random_sets_no_miss_no_duplicate)
{
	struct errseq_client *c;
	struct errseq_slot *s[NSLOTS];
	struct errseq_cursor *cur[NSLOTS], *got;
	struct errseq_watch *w;
	struct setlog *log;
	int pos[NSLOTS], last[NSLOTS], reports = 0, done = 0;
	pid_t kid[NPROD];
	char name[16];

	log = mmap(NULL, sizeof(*log) * NSLOTS, PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(log, MAP_FAILED);
	ck_assert_int_eq(errseq_client_open(D.sock, &c), 0);
	ck_assert_int_eq(errseq_watch_new(c, &w), 0);
	for (int i = 0; i < NSLOTS; i++) {
		snprintf(name, sizeof(name), "r%d", i);
		ck_assert_int_eq(errseq_slot_open(c, name, ERRSEQ_CREATE,
						  &s[i]), 0);
		ck_assert_int_eq(errseq_cursor_new(s[i], &cur[i]), 0);
		ck_assert_int_eq(errseq_watch_add(w, cur[i]), 0);
		pos[i] = 0;
		last[i] = 0;
	}
	for (int p = 0; p < NPROD; p++) {
		kid[p] = fork();
		ck_assert_int_ge(kid[p], 0);
		if (kid[p] == 0)
			producer(p, log);
	}
	for (int after = 0;; ) {
		int r, status;
		bool ready = readable(errseq_watch_fd(w), 100), behind = false;

		while (ready && (r = errseq_watch_next(w, &got)) != 0) {
			int i = -1, e = -r;

			for (int k = 0; k < NSLOTS; k++)
				if (cur[k] == got)
					i = k;
			ck_assert_int_ge(i, 0);
			ck_assert_msg(r < 0 && r > -4096, "report %d", r);
			/* not the value reported last (no duplicate) ... */
			ck_assert_msg(e != last[i], "slot %d: %d reported "
				      "twice in a row", i, e);
			/* ... and one that was set, after the last report */
			while (pos[i] < __atomic_load_n(&log[i].n,
							__ATOMIC_SEQ_CST) &&
			       log[i].v[pos[i]] != e)
				pos[i]++;
			ck_assert_msg(pos[i] < log[i].n, "slot %d: %d was "
				      "never set after the previous report",
				      i, e);
			pos[i]++;
			last[i] = e;
			reports++;
		}
		if (done == NPROD) {
			/* the producers are gone: wait (bounded) until the
			 * watcher was told each slot's last value */
			for (int i = 0; i < NSLOTS; i++)
				if (log[i].n && last[i] != log[i].v[log[i].n - 1])
					behind = true;
			if (!behind || ++after > 600)
				break;
			continue;
		}
		for (int p = 0; p < NPROD; p++) {
			if (kid[p] > 0 && waitpid(kid[p], &status, WNOHANG) ==
			    kid[p]) {
				ck_assert_msg(WIFEXITED(status) &&
					      WEXITSTATUS(status) == 0,
					      "producer %d: status %d", p,
					      status);
				kid[p] = -1;
				done++;
			}
		}
	}
	/* no miss: every slot's last set value was reported */
	for (int i = 0; i < NSLOTS; i++) {
		if (log[i].n == 0)
			continue;
		ck_assert_msg(last[i] == log[i].v[log[i].n - 1],
			      "slot %d: last set %d, last reported %d", i,
			      log[i].v[log[i].n - 1], last[i]);
	}
	ck_assert_int_gt(reports, NSLOTS);
	errseq_watch_free(w);
	errseq_client_close(c);
	munmap(log, sizeof(*log) * NSLOTS);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("watch");
	TCase *tc = tcase_create("watch");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, watch_reports_once_and_rearms);
	tcase_add_test(tc, watch_argument_errors);
	tcase_add_test(tc, watch_128_slots_random_sets_no_miss_no_duplicate);
	suite_add_tcase(su, tc);
	sr = srunner_create(su);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
