/*
 * test_lifecycle.c - errseqd integration tests: slot lifecycle: the free
 * list and the holds of clients that die.
 *
 * Every test starts the real daemon on its own temporary socket and shm
 * name; the helpers and the fixtures are in tests/support/daemon_util.h.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/protocol.h"
#include "common/shm_layout.h"
#include "tests/support/daemon_util.h"

START_TEST(daemon_free_list_is_fifo)
{
	struct esdt_daemon d;
	struct esrc c;
	/* The smallest maximum is one chunk (--slots is rounded up to
	 * ESD_CHUNK_SLOTS; layout 1 ran this with 4 slots). */
	enum { N = ESD_CHUNK_SLOTS };
	struct esp_open_rep a, x;
	char name[16];

	start_daemon(&d, N, NULL);
	conn(&c, &d);
	ck_assert_uint_eq(c.hello.max_slots, esd_index_capacity(N));
	a = open_ok(&c, "a", ESP_OPEN_CREATE);
	CK_CODE(esrc_close_slot(&c, a.index, a.gen), 0);
	CK_CODE(esrc_unlink(&c, NAME("a")), 0);
	/* The freed index goes to the tail: every other free index first. */
	for (int k = 0; k < N; k++) {
		snprintf(name, sizeof(name), "f%d", k);
		x = open_ok(&c, name, ESP_OPEN_CREATE);
		CK_CODE(esrc_close_slot(&c, x.index, x.gen), 0);
		if (k < N - 1)
			ck_assert_msg(x.index != a.index,
				      "create %d reused freed index %u early",
				      k, a.index);
	}
	ck_assert_uint_eq(x.index, a.index);
	ck_assert_uint_eq(x.gen, a.gen + 2);
	snprintf(name, sizeof(name), "f%d", N);
	CK_CODE(esrc_open(&c, NAME(name), ESP_OPEN_CREATE, NULL), -ENOSPC);
	esrc_fini(&c);
	esdt_daemon_cleanup(&d);
}
END_TEST

START_TEST(daemon_holds_released_when_client_killed)
{
	struct esdt_daemon d;
	struct esrc c;
	int p[2], r = -1, status;
	pid_t pid;

	start_daemon(&d, 8, NULL);
	conn(&c, &d);
	open_ok(&c, "k", ESP_OPEN_CREATE);
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct esrc cc;

		close(p[0]);
		r = esrc_connect_hello(&cc, d.sock);
		if (r == 0)
			r = esrc_open(&cc, NAME("k"), 0, NULL);
		if (r == 0)
			r = esrc_open(&cc, NAME("k"), 0, NULL);
		if (r == 0)
			r = esrc_open(&cc, NAME("k2"), ESP_OPEN_CREATE, NULL);
		if (write(p[1], &r, sizeof(r)) != sizeof(r))
			_exit(1);
		pause();
		_exit(0);
	}
	close(p[1]);
	ck_assert_int_eq(read(p[0], &r, sizeof(r)), (ssize_t)sizeof(r));
	close(p[0]);
	CK_CODE(r, 0);
	ck_assert_uint_eq(stat_ok(&c, "k").holders, 3);
	ck_assert_uint_eq(stat_ok(&c, "k2").holders, 1);
	ck_assert_uint_eq(status_ok(&c).clients, 2);

	kill(pid, SIGKILL);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_uint_eq(wait_holders(&c, "k", 1), 1);
	ck_assert_uint_eq(wait_holders(&c, "k2", 0), 0);
	ck_assert_uint_eq(wait_clients(&c, 1), 1);
	/* Dropping holds deletes nothing. */
	ck_assert_uint_eq(status_ok(&c).slots_used, 2);
	esrc_fini(&c);
	esdt_daemon_cleanup(&d);
}
END_TEST

/* ---- suite ----------------------------------------------------------- */

static Suite *daemon_lifecycle_suite(void)
{
	Suite *s = suite_create("daemon_lifecycle");
	TCase *tc;

	tc = tcase(s, "lifecycle");
	tcase_add_test(tc, daemon_free_list_is_fifo);
	tcase_add_test(tc, daemon_holds_released_when_client_killed);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	/* Log records must use the terminal format, not the journal's. */
	unsetenv("JOURNAL_STREAM");
	sr = srunner_create(daemon_lifecycle_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
