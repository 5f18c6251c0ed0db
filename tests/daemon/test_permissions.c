/*
 * test_permissions.c - errseqd integration tests: who may delete a slot
 * (clients of other users).
 *
 * Every test starts the real daemon on its own temporary socket and shm
 * name; the helpers and the fixtures are in tests/support/daemon_util.h.
 *
 * Needs root (a client switches to nobody): the program exits 77 (SKIP)
 * otherwise.
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

START_TEST(daemon_unlink_permissions)
{
	static const char *const extra[] = { "--mode", "0666", NULL };
	struct esdt_daemon d;
	struct esrc c;
	struct {
		int hello, unlink_root, create_a, create_b, unlink_own;
	} res;
	int p[2], status;
	pid_t pid;

	/* main() skips the program unless root */
	ck_assert_msg(geteuid() == 0, "needs root");
	start_daemon(&d, 8, extra);
	conn(&c, &d);
	open_ok(&c, "root-slot", ESP_OPEN_CREATE);
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct esrc cc;

		close(p[0]);
		memset(&res, 0x7f, sizeof(res));
		if (setgroups(0, NULL) < 0 || setgid(65534) < 0 ||
		    setuid(65534) < 0)
			_exit(90);
		res.hello = esrc_connect_hello(&cc, d.sock);
		res.unlink_root = esrc_unlink(&cc, NAME("root-slot"));
		res.create_a = esrc_open(&cc, NAME("nobody-a"),
					 ESP_OPEN_CREATE, NULL);
		res.create_b = esrc_open(&cc, NAME("nobody-b"),
					 ESP_OPEN_CREATE, NULL);
		res.unlink_own = esrc_unlink(&cc, NAME("nobody-a"));
		if (write(p[1], &res, sizeof(res)) != sizeof(res))
			_exit(1);
		_exit(0);
	}
	close(p[1]);
	ck_assert_int_eq(read(p[0], &res, sizeof(res)), (ssize_t)sizeof(res));
	close(p[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "child status %d", status);
	CK_CODE(res.hello, 0);
	CK_CODE(res.unlink_root, -EPERM);
	CK_CODE(res.create_a, 0);
	CK_CODE(res.create_b, 0);
	CK_CODE(res.unlink_own, 0);
	stat_ok(&c, "root-slot");
	CK_CODE(esrc_stat(&c, NAME("nobody-a"), NULL), -ENOENT);
	ck_assert_uint_eq(stat_ok(&c, "nobody-b").creator_uid, 65534);
	/* Root may delete anyone's slot. */
	CK_CODE(esrc_unlink(&c, NAME("nobody-b")), 0);
	esrc_fini(&c);
	esdt_daemon_cleanup(&d);
}
END_TEST

/* ---- suite ----------------------------------------------------------- */

static Suite *daemon_permissions_suite(void)
{
	Suite *s = suite_create("daemon_permissions");
	TCase *tc;

	tc = tcase(s, "permissions");
	tcase_add_test(tc, daemon_unlink_permissions);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	if (geteuid() != 0) {
		printf("test_permissions: needs root (the daemon runs as "
		       "root, a client as nobody): SKIP\n");
		return 77;
	}
	/* Log records must use the terminal format, not the journal's. */
	unsetenv("JOURNAL_STREAM");
	sr = srunner_create(daemon_permissions_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
