/*
 * test_1000_clients.c - errseqd integration tests: a thousand clients at
 * once.
 *
 * Every test starts the real daemon on its own temporary socket and shm
 * name; the helpers and the fixtures are in tests/support/daemon_util.h.
 *
 * Needs RLIMIT_NOFILE raisable to 2064 descriptors: the program exits 77
 * (SKIP) otherwise.
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

START_TEST(daemon_serves_1000_clients)
{
	enum { N = 1000 };
	struct esdt_daemon d;
	struct esrc *cs = calloc(N, sizeof(*cs));
	struct esrc chk;
	struct rlimit rl;
	struct esp_hdr req;
	struct esp_status_rep rep;

	ck_assert_ptr_nonnull(cs);
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_cur < 4096) {
		rl.rlim_cur = rl.rlim_max < 4096 ? rl.rlim_max : 4096;
		ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	}
	/* main() skips the program when the hard limit is lower */
	ck_assert_msg(rl.rlim_cur >= 2 * N + 64, "RLIMIT_NOFILE %llu",
		      (unsigned long long)rl.rlim_cur);
	/* The daemon inherits the raised limit. */
	start_daemon(&d, 4, NULL);
	for (int i = 0; i < N; i++) {
		int r = esrc_connect_hello(&cs[i], d.sock);

		ck_assert_msg(r == 0, "client %d: %d (%s)", i, r,
			      esrc_strerror(r));
		/* Protocol 2 passes no fd at HELLO (protocol 1 passed the
		 * segment, which this test closed at once). */
		ck_assert_uint_eq(cs[i].fds_passed, 0);
	}
	conn(&chk, &d);
	ck_assert_uint_eq(wait_clients(&chk, N + 1), N + 1);
	/* All at once: every one sends, then every one reads. */
	for (int i = 0; i < N; i++) {
		esrc_hdr(&req, ESP_OP_STATUS, 5000u + (uint32_t)i);
		CK_CODE(esrc_send(cs[i].fd, &req, sizeof(req), WAIT_MS), 0);
	}
	for (int i = 0; i < N; i++) {
		ssize_t n = esrc_recv(cs[i].fd, &rep, sizeof(rep), NULL,
				      WAIT_MS);

		ck_assert_msg(n == (ssize_t)sizeof(rep), "client %d: %zd", i,
			      n);
		ck_assert_int_eq(rep.hdr.status, 0);
		ck_assert_uint_eq(rep.hdr.seq, 5000u + (uint32_t)i);
		ck_assert_uint_ge(rep.clients, N + 1);
	}
	for (int i = 0; i < N; i++)
		esrc_fini(&cs[i]);
	ck_assert_uint_eq(wait_clients(&chk, 1), 1);
	esrc_fini(&chk);
	free(cs);
	esdt_daemon_cleanup(&d);
}
END_TEST

/* ---- suite ----------------------------------------------------------- */

static Suite *daemon_1000_clients_suite(void)
{
	Suite *s = suite_create("daemon_1000_clients");
	TCase *tc;

	tc = tcase(s, "scale");
	tcase_add_test(tc, daemon_serves_1000_clients);
	return s;
}

int main(void)
{
	SRunner *sr;
	struct rlimit rl;
	int failed;

	/* The test raises its soft limit up to the hard one. */
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_max < 2064) {
		printf("test_1000_clients: needs RLIMIT_NOFILE raisable to "
		       "2064 descriptors (hard limit %llu): SKIP\n",
		       (unsigned long long)rl.rlim_max);
		return 77;
	}
	/* Log records must use the terminal format, not the journal's. */
	unsetenv("JOURNAL_STREAM");
	sr = srunner_create(daemon_1000_clients_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
