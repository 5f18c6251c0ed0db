/*
 * test_limits.c - errseqd integration tests: the configured limits (slots,
 * open slots per client, clients) and their exact error codes.
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

START_TEST(daemon_enospc_and_held_index_not_reused)
{
	struct esdt_daemon d;
	struct esrc a, b;
	/* The global maximum is at least one chunk (--slots is rounded up
	 * to ESD_CHUNK_SLOTS; layout 1 ran this with 4 slots).  Root is
	 * exempt from --max-slots-per-uid, so only the maximum stops it. */
	enum { N = ESD_CHUNK_SLOTS };
	static struct esp_open_rep s[N];
	struct esp_open_rep n1, n2;
	struct esp_status_rep st;
	char name[16];
	int r = 0;

	start_daemon(&d, N, NULL);
	conn(&a, &d);
	conn(&b, &d);
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "s%d", i);
		s[i] = open_ok(&a, name, ESP_OPEN_CREATE);
	}
	CK_CODE(esrc_open(&a, NAME("s-over"), ESP_OPEN_CREATE, NULL), -ENOSPC);
	CK_CODE(esrc_open(&a, NAME("s-over"), ESP_OPEN_CREATE | ESP_OPEN_EXCL,
			  NULL), -ENOSPC);
	CK_CODE(esrc_open(&a, NAME("s-over"), 0, NULL), -ENOENT);
	st = status_ok(&a);
	ck_assert_uint_eq(st.slots_used, N);
	ck_assert_uint_eq(st.chunks, 1);
	/* Existing slots still open when full. */
	open_ok(&b, "s0", 0);

	/* s1 deleted while a holds it: its index stays out of use.  The
	 * maximum counts live slots, and a held zombie is not one: the
	 * next create goes to a new chunk rather than fail. */
	CK_CODE(esrc_unlink(&a, NAME("s1")), 0);
	st = status_ok(&a);
	ck_assert_uint_eq(st.slots_used, N - 1);
	ck_assert_uint_eq(st.slots_held, 1);
	n1 = open_ok(&a, "n1", ESP_OPEN_CREATE);
	ck_assert_uint_ne(n1.index, s[1].index);
	ck_assert_uint_eq(status_ok(&a).chunks, 2);
	/* at the maximum again */
	CK_CODE(esrc_open(&a, NAME("n2"), ESP_OPEN_CREATE, NULL), -ENOSPC);
	CK_CODE(esrc_close_slot(&a, s[1].index, s[1].gen), 0);
	ck_assert_uint_eq(status_ok(&a).slots_held, 0);

	/* s2 also held by b: released when b's connection goes away. */
	open_ok(&b, "s2", 0);
	CK_CODE(esrc_unlink(&a, NAME("s2")), 0);
	CK_CODE(esrc_close_slot(&a, s[2].index, s[2].gen), 0);
	ck_assert_uint_eq(status_ok(&a).slots_held, 1);
	n2 = open_ok(&a, "n2", ESP_OPEN_CREATE);
	ck_assert_uint_ne(n2.index, s[2].index);
	esrc_fini(&b);
	for (int i = 0; i < WAIT_MS / 10; i++) {
		if (status_ok(&a).slots_held == 0)
			break;
		sleep_ms(10);
	}
	ck_assert_uint_eq(status_ok(&a).slots_held, 0);
	(void)r;
	esrc_fini(&a);
	esdt_daemon_cleanup(&d);
}
END_TEST

START_TEST(daemon_max_open_is_emfile)
{
	static const char *const extra[] = { "--max-open", "3", NULL };
	struct esdt_daemon d;
	struct esrc a, b;
	struct esp_open_rep oa, ob;

	start_daemon(&d, 8, extra);
	conn(&a, &d);
	conn(&b, &d);
	oa = open_ok(&a, "a", ESP_OPEN_CREATE);
	ob = open_ok(&a, "b", ESP_OPEN_CREATE);
	open_ok(&a, "c", ESP_OPEN_CREATE);
	CK_CODE(esrc_open(&a, NAME("d"), ESP_OPEN_CREATE, NULL), -EMFILE);
	CK_CODE(esrc_stat(&a, NAME("d"), NULL), -ENOENT);
	CK_CODE(esrc_open(&a, NAME("a"), 0, NULL), -EMFILE);
	CK_CODE(esrc_reattach(&a, oa.index, oa.gen, NAME("a"), NULL), -EMFILE);
	ck_assert_uint_eq(stat_ok(&a, "a").holders, 1);
	/* The limit is per connection. */
	open_ok(&b, "d", ESP_OPEN_CREATE);
	/* Releasing one makes room. */
	CK_CODE(esrc_close_slot(&a, ob.index, ob.gen), 0);
	open_ok(&a, "d", 0);
	CK_CODE(esrc_open(&a, NAME("b"), 0, NULL), -EMFILE);
	esrc_fini(&a);
	esrc_fini(&b);
	esdt_daemon_cleanup(&d);
}
END_TEST

START_TEST(daemon_max_clients_is_eusers)
{
	static const char *const extra[] = { "--max-clients", "3", NULL };
	struct esdt_daemon d;
	struct esrc c[3];
	struct esp_err_rep er;
	ssize_t n;
	int fd;

	start_daemon(&d, 4, extra);
	for (int i = 0; i < 3; i++)
		conn(&c[i], &d);
	ck_assert_uint_eq(status_ok(&c[0]).max_clients, 3);
	ck_assert_uint_eq(wait_clients(&c[0], 3), 3);

	fd = esrc_connect(d.sock);
	ck_assert_int_ge(fd, 0);
	n = esrc_recv(fd, &er, sizeof(er), NULL, WAIT_MS);
	ck_assert_int_eq(n, (ssize_t)sizeof(er));
	ck_assert_uint_eq(er.hdr.magic, ESP_MAGIC);
	CK_CODE(er.hdr.status, -EUSERS);
	ck_assert_uint_lt(er.msg_len, ESP_ERRMSG_MAX);
	ck_assert_int_eq(esrc_wait_closed(fd, WAIT_MS), 0);
	close(fd);

	/* The others are unaffected; a freed place can be taken. */
	ck_assert_uint_eq(status_ok(&c[1]).clients, 3);
	esrc_fini(&c[2]);
	ck_assert_uint_eq(wait_clients(&c[0], 2), 2);
	conn(&c[2], &d);
	open_ok(&c[2], "x", ESP_OPEN_CREATE);
	for (int i = 0; i < 3; i++)
		esrc_fini(&c[i]);
	esdt_daemon_cleanup(&d);
}
END_TEST

/* --hello-timeout: a connection that never says HELLO is closed, so idle
 * sockets cannot hold connection places; one that did is served on. */
START_TEST(daemon_hello_timeout_closes_idle)
{
	static const char *const extra[] = { "--hello-timeout", "200", NULL };
	struct esdt_daemon d;
	struct esrc idle, c;

	start_daemon(&d, 4, extra);
	conn(&c, &d);
	ck_assert_int_eq(esrc_init(&idle, d.sock), 0);
	ck_assert_int_eq(esrc_wait_closed(idle.fd, WAIT_MS), 0);
	esrc_fini(&idle);
	ck_assert_uint_eq(wait_clients(&c, 1), 1);
	/* c said HELLO before the timeout: still served. */
	sleep_ms(600);
	open_ok(&c, "alive", ESP_OPEN_CREATE);
	esrc_fini(&c);
	esdt_daemon_cleanup(&d);
}
END_TEST

/* ---- suite ----------------------------------------------------------- */

static Suite *daemon_limits_suite(void)
{
	Suite *s = suite_create("daemon_limits");
	TCase *tc;

	tc = tcase(s, "limits");
	tcase_add_test(tc, daemon_enospc_and_held_index_not_reused);
	tcase_add_test(tc, daemon_max_open_is_emfile);
	tcase_add_test(tc, daemon_max_clients_is_eusers);
	tcase_add_test(tc, daemon_hello_timeout_closes_idle);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	/* Log records must use the terminal format, not the journal's. */
	unsetenv("JOURNAL_STREAM");
	sr = srunner_create(daemon_limits_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
