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
 *     watcher is told the last value of every slot (no miss);
 *   - 300 cursors (several FUTEX_WAITV requests): adding and removing
 *     cursors never makes the fd readable by itself, and a set of any of
 *     them, moved or not, is reported;
 *   - the io_uring way is the one used where the kernel has it, and with
 *     io_uring_setup refused (seccomp) the watch falls back to its helper
 *     thread and still works.
 *
 * The whole suite runs twice: as the library chooses (io_uring where it
 * can), then with ERRSEQ_WATCH=thread (the helper thread).
 */
#include "config.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
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
	int set_slots = 0;

	for (int i = 0; i < NSLOTS; i++) {
		if (log[i].n == 0)
			continue;
		set_slots++;
		ck_assert_msg(last[i] == log[i].v[log[i].n - 1],
			      "slot %d: last set %d, last reported %d", i,
			      log[i].v[log[i].n - 1], last[i]);
	}
	/* How many sets merge into one report depends on timing (a loaded
	 * machine merges more), so only the floor is asserted: every slot
	 * that was set was reported at least once. */
	ck_assert_int_gt(set_slots, NSLOTS / 2);
	ck_assert_int_ge(reports, set_slots);
	errseq_watch_free(w);
	errseq_client_close(c);
	munmap(log, sizeof(*log) * NSLOTS);
}
END_TEST

#define NMANY		300	/* > 2 x FUTEX_WAITV_MAX */

START_TEST(watch_many_cursors_add_remove_no_spurious)
{
	struct errseq_client *c;
	struct errseq_slot **s = calloc(NMANY, sizeof(*s));
	struct errseq_cursor **cur = calloc(NMANY, sizeof(*cur)), *got;
	struct errseq_watch *w;
	char name[16];

	ck_assert(s && cur);
	ck_assert_int_eq(errseq_client_open(D.sock, &c), 0);
	ck_assert_int_eq(errseq_watch_new(c, &w), 0);
	for (int i = 0; i < NMANY; i++) {
		snprintf(name, sizeof(name), "m%d", i);
		ck_assert_int_eq(errseq_slot_open(c, name, ERRSEQ_CREATE,
						  &s[i]), 0);
		ck_assert_int_eq(errseq_cursor_new(s[i], &cur[i]), 0);
		ck_assert_int_eq(errseq_watch_add(w, cur[i]), 0);
	}
	ck_assert(!readable(errseq_watch_fd(w), 300));
	/* the last cursor (the last request) */
	ck_assert_int_eq(errseq_slot_set(s[NMANY - 1], -EIO), 0);
	ck_assert(readable(errseq_watch_fd(w), POLL_MS));
	ck_assert_int_eq(errseq_watch_next(w, &got), -EIO);
	ck_assert_ptr_eq(got, cur[NMANY - 1]);
	ck_assert_int_eq(errseq_watch_next(w, &got), 0);
	ck_assert(!readable(errseq_watch_fd(w), 300));
	/* remove from the first request: the last cursor moves into it */
	ck_assert_int_eq(errseq_watch_remove(w, cur[3]), 0);
	ck_assert_int_eq(errseq_watch_remove(w, cur[150]), 0);
	ck_assert(!readable(errseq_watch_fd(w), 300));
	/* a removed cursor's slot is not reported */
	ck_assert_int_eq(errseq_slot_set(s[3], -ENOSPC), 0);
	ck_assert(!readable(errseq_watch_fd(w), 300));
	for (int k = 0; k < 3; k++) {
		int i = k == 0 ? NMANY - 1 : k == 1 ? NMANY - 2 : 0;

		ck_assert_int_eq(errseq_slot_set(s[i], -EROFS), 0);
		ck_assert(readable(errseq_watch_fd(w), POLL_MS));
		ck_assert_int_eq(errseq_watch_next(w, &got), -EROFS);
		ck_assert_ptr_eq(got, cur[i]);
		ck_assert_int_eq(errseq_watch_next(w, &got), 0);
	}
	/* added again: watched again, and it has news (ENOSPC) already */
	ck_assert_int_eq(errseq_watch_add(w, cur[3]), 0);
	ck_assert(readable(errseq_watch_fd(w), POLL_MS));
	ck_assert_int_eq(errseq_watch_next(w, &got), -ENOSPC);
	ck_assert_ptr_eq(got, cur[3]);
	ck_assert_int_eq(errseq_watch_next(w, &got), 0);
	ck_assert(!readable(errseq_watch_fd(w), 300));
	errseq_watch_free(w);
	errseq_client_close(c);
	free(cur);
	free(s);
}
END_TEST

#define NHUGE		2500	/* completions beyond the ring's CQ */

/* Every one of NHUGE slots set, twice: every cursor reported each time
 * (the second round needs every request re-armed after the first). */
START_TEST(watch_thousands_of_cursors_all_set_twice)
{
	struct errseq_client *c;
	struct errseq_slot **s = calloc(NHUGE, sizeof(*s));
	struct errseq_cursor **cur = calloc(NHUGE, sizeof(*cur)), *got;
	unsigned char *seen = calloc(NHUGE, 1);
	struct errseq_watch *w;
	char name[16];

	ck_assert(s && cur && seen);
	ck_assert_int_eq(errseq_client_open(D.sock, &c), 0);
	ck_assert_int_eq(errseq_watch_new(c, &w), 0);
	for (int i = 0; i < NHUGE; i++) {
		snprintf(name, sizeof(name), "h%d", i);
		ck_assert_int_eq(errseq_slot_open(c, name, ERRSEQ_CREATE,
						  &s[i]), 0);
		ck_assert_int_eq(errseq_cursor_new(s[i], &cur[i]), 0);
		ck_assert_int_eq(errseq_watch_add(w, cur[i]), 0);
	}
	ck_assert(!readable(errseq_watch_fd(w), 300));
	for (int round = 0; round < 2; round++) {
		int e = round ? EROFS : EIO, left = NHUGE, r;

		memset(seen, 0, NHUGE);
		for (int i = 0; i < NHUGE; i++)
			ck_assert_int_eq(errseq_slot_set(s[i], -e), 0);
		while (left > 0) {
			ck_assert_msg(readable(errseq_watch_fd(w), POLL_MS),
				      "round %d: %d cursors not reported",
				      round, left);
			while ((r = errseq_watch_next(w, &got)) != 0) {
				long i = -1;

				ck_assert_int_eq(r, -e);
				for (int k = 0; k < NHUGE && i < 0; k++)
					if (cur[k] == got)
						i = k;
				ck_assert_int_ge(i, 0);
				ck_assert_int_eq(seen[i], 0);
				seen[i] = 1;
				left--;
			}
		}
		ck_assert(!readable(errseq_watch_fd(w), 300));
	}
	errseq_watch_free(w);
	errseq_client_close(c);
	free(seen);
	free(cur);
	free(s);
}
END_TEST

/* Does this process hold an io_uring instance's fd? */
static bool holds_io_uring(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	bool found = false;

	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d))) {
		char path[300], link[64];
		ssize_t n;

		snprintf(path, sizeof(path), "/proc/self/fd/%s", de->d_name);
		n = readlink(path, link, sizeof(link) - 1);
		if (n > 0) {
			link[n] = 0;
			if (strstr(link, "io_uring"))
				found = true;
		}
	}
	closedir(d);
	return found;
}

/* Linux 6.7 or later (IORING_OP_FUTEX_WAITV), and io_uring_setup allowed
 * here (not disabled by sysctl, not refused by a container's seccomp). */
static bool kernel_has_uring_futex(void)
{
	struct utsname u;
	int maj = 0, min = 0;
	unsigned char params[120] = { 0 };	/* struct io_uring_params */
	long fd;

	if (uname(&u) != 0 || sscanf(u.release, "%d.%d", &maj, &min) != 2 ||
	    !(maj > 6 || (maj == 6 && min >= 7)))
		return false;
	fd = syscall(SYS_io_uring_setup, 4, params);
	if (fd < 0)
		return false;
	close((int)fd);
	return true;
}

/* A watch set, reported, drained: 0 if it worked. */
static int watch_works(const char *slot)
{
	struct errseq_client *c;
	struct errseq_slot *s;
	struct errseq_cursor *cur, *got;
	struct errseq_watch *w;
	int r = 1;

	if (errseq_client_open(D.sock, &c) < 0)
		return 2;
	if (errseq_slot_open(c, slot, ERRSEQ_CREATE, &s) == 0 &&
	    errseq_cursor_new(s, &cur) == 0 && errseq_watch_new(c, &w) == 0) {
		if (errseq_watch_add(w, cur) == 0 &&
		    !readable(errseq_watch_fd(w), 100) &&
		    errseq_slot_set(s, -EIO) == 0 &&
		    readable(errseq_watch_fd(w), POLL_MS) &&
		    errseq_watch_next(w, &got) == -EIO && got == cur &&
		    errseq_watch_next(w, &got) == 0)
			r = 0;
		errseq_watch_free(w);
	}
	errseq_client_close(c);
	return r;
}

START_TEST(watch_uses_io_uring_where_the_kernel_has_it)
{
	struct errseq_client *c;
	struct errseq_watch *w;
	const char *env = getenv("ERRSEQ_WATCH");
	bool forced = env && strcmp(env, "thread") == 0;

	ck_assert_int_eq(errseq_client_open(D.sock, &c), 0);
	ck_assert(!holds_io_uring());
	ck_assert_int_eq(errseq_watch_new(c, &w), 0);
	if (forced)
		ck_assert(!holds_io_uring());
	else if (kernel_has_uring_futex())
		ck_assert(holds_io_uring());
	else
		fprintf(stderr, "watch_uses_io_uring: kernel before 6.7 or "
			"io_uring disabled: fallback only\n");
	errseq_watch_free(w);
	ck_assert(!holds_io_uring());
	errseq_client_close(c);
}
END_TEST

START_TEST(watch_falls_back_when_io_uring_is_refused)
{
	pid_t kid;
	int status;

	kid = fork();
	ck_assert_int_ge(kid, 0);
	if (kid == 0) {
		/* io_uring_setup fails with ENOSYS, as under a container's
		 * seccomp profile; everything else is allowed */
		struct sock_filter f[] = {
			BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
				 offsetof(struct seccomp_data, nr)),
			BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
				 SYS_io_uring_setup, 0, 1),
			BPF_STMT(BPF_RET | BPF_K,
				 SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA)),
			BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		};
		struct sock_fprog prog = { sizeof(f) / sizeof(f[0]), f };

		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
		    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) {
			/* a sandbox that forbids filters: the fallback is
			 * still covered by the ERRSEQ_WATCH=thread suite */
			fprintf(stderr, "watch_falls_back: cannot install a "
				"seccomp filter (%s): not checked here\n",
				strerror(errno));
			_exit(0);
		}
		if (syscall(SYS_io_uring_setup, 4, NULL) != -1 ||
		    errno != ENOSYS)
			_exit(4);	/* the filter does not hold */
		_exit(watch_works("seccomp") || holds_io_uring() ? 1 : 0);
	}
	ck_assert_int_eq(waitpid(kid, &status, 0), kid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "child status %d", status);
}
END_TEST

static int run_suite(const char *how)
{
	Suite *su = suite_create(how);
	TCase *tc = tcase_create("watch");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, watch_reports_once_and_rearms);
	tcase_add_test(tc, watch_argument_errors);
	tcase_add_test(tc, watch_128_slots_random_sets_no_miss_no_duplicate);
	tcase_add_test(tc, watch_many_cursors_add_remove_no_spurious);
	tcase_add_test(tc, watch_thousands_of_cursors_all_set_twice);
	tcase_add_test(tc, watch_uses_io_uring_where_the_kernel_has_it);
	tcase_add_test(tc, watch_falls_back_when_io_uring_is_refused);
	suite_add_tcase(su, tc);
	sr = srunner_create(su);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed;
}

int main(void)
{
	int failed;

	unsetenv("ERRSEQ_WATCH");
	failed = run_suite("watch (as chosen)");
	setenv("ERRSEQ_WATCH", "thread", 1);
	failed += run_suite("watch (ERRSEQ_WATCH=thread)");
	return failed ? 1 : 0;
}
