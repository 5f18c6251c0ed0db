/*
 * test_activation.c - errseqd integration tests: where the listening socket
 * comes from: $ERRSEQD_SOCKET and systemd socket activation.
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

/*
 * spawn_ready - start errseqd outside the harness, on d's log and notify
 * socket: argv is the binary then @args; @env ("NAME=value") is added;
 * @fd3 >= 0 is passed as fd 3 with LISTEN_FDS=1 and LISTEN_PID set, as
 * systemd does for socket activation.  Sets d->pid (so that
 * esdt_daemon_stop() and esdt_daemon_cleanup() reap it) and waits for
 * READY=1.
 */
static void spawn_ready(struct esdt_daemon *d, const char *const *args,
			const char *const *env, int fd3)
{
	const char *argv[16];
	char notify[160], buf[512];
	int logfd, st, n = 0, ready = 0;
	pid_t pid;

	argv[n++] = daemon_bin();
	for (int i = 0; args && args[i] && n < 15; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	snprintf(notify, sizeof(notify), "NOTIFY_SOCKET=%s", d->notify);
	logfd = open(d->log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	ck_assert_int_ge(logfd, 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		static char lpid[32];

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(logfd, STDERR_FILENO);
		unsetenv("LISTEN_FDS");
		unsetenv("LISTEN_PID");
		unsetenv("ERRSEQD_SOCKET");
		putenv(notify);
		for (int i = 0; env && env[i]; i++)
			putenv((char *)env[i]);
		if (fd3 >= 0) {
			if (fd3 != 3 && dup2(fd3, 3) < 0)
				_exit(126);
			if (fcntl(3, F_SETFD, 0) < 0)
				_exit(126);
			snprintf(lpid, sizeof(lpid), "LISTEN_PID=%d",
				 (int)getpid());
			putenv(lpid);
			putenv((char *)"LISTEN_FDS=1");
		}
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(logfd);
	d->pid = pid;
	for (int i = 0; i < 2000 && !ready; i++) {
		struct pollfd pfd = { .fd = d->notify_fd, .events = POLLIN };

		if (waitpid(pid, &st, WNOHANG) == pid) {
			d->pid = 0;
			esdt_read_log(d, buf, sizeof(buf));
			ck_abort_msg("errseqd exited (status %d): %s", st, buf);
		}
		if (poll(&pfd, 1, 10) > 0) {
			ssize_t k = recv(d->notify_fd, buf, sizeof(buf) - 1, 0);

			if (k > 0) {
				buf[k] = '\0';
				ready = strstr(buf, "READY=1") != NULL;
			}
		}
	}
	ck_assert_msg(ready, "no READY=1");
}

START_TEST(daemon_env_socket_when_no_option)
{
	struct esdt_daemon d;
	struct esrc c;
	char env_sock[160];
	const char *const env[] = { env_sock, NULL };
	const char *const args[] = { "--shm", d.shm, "--slots", "4", NULL };
	int st;

	/* --socket wins over $ERRSEQD_SOCKET (the harness passes --socket). */
	setenv("ERRSEQD_SOCKET", "/nonexistent-esdt/errseqd.sock", 1);
	start_daemon(&d, 4, NULL);
	conn(&c, &d);
	esrc_fini(&c);
	st = esdt_daemon_stop(&d, SIGTERM);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
	ck_assert_int_lt(access("/nonexistent-esdt", F_OK), 0);

	/* Without --socket, $ERRSEQD_SOCKET is where it listens. */
	snprintf(env_sock, sizeof(env_sock), "ERRSEQD_SOCKET=%s", d.sock);
	spawn_ready(&d, args, env, -1);
	conn(&c, &d);
	open_ok(&c, "env", ESP_OPEN_CREATE);
	esrc_fini(&c);
	st = esdt_daemon_stop(&d, SIGTERM);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
	esdt_daemon_cleanup(&d);
}
END_TEST

START_TEST(daemon_socket_activation)
{
	struct esdt_daemon d;
	struct esrc c, q;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char other[160];
	const char *const args[] = { "--socket", other, "--shm", d.shm,
				     "--slots", "4", NULL };
	uint64_t inc;
	int lfd, st;

	start_daemon(&d, 4, NULL);
	st = esdt_daemon_stop(&d, SIGTERM);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);

	/* The service manager's part: bind, listen, pass it as fd 3. */
	lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(lfd, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", d.sock);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(lfd, 16), 0);
	ck_assert_int_eq(chmod(d.sock, 0600), 0);
	snprintf(other, sizeof(other), "%s/other.sock", d.dir);

	spawn_ready(&d, args, NULL, lfd);
	conn(&c, &d);
	inc = c.hello.incarnation;
	open_ok(&c, "act", ESP_OPEN_CREATE);
	ck_assert_msg(access(other, F_OK) < 0, "--socket was bound too");
	esrc_fini(&c);
	st = esdt_daemon_stop(&d, SIGTERM);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
	/* The socket file is the manager's: left in place, mode untouched. */
	{
		struct stat sb;

		ck_assert_int_eq(stat(d.sock, &sb), 0);
		ck_assert_uint_eq(sb.st_mode & 07777, 0600);
	}

	/* A client connecting while no daemon runs waits in the backlog and
	 * is served by the next instance on the same socket. */
	ck_assert_int_eq(esrc_init(&q, d.sock), 0);
	spawn_ready(&d, args, NULL, lfd);
	CK_CODE(esrc_hello(&q), 0);
	ck_assert_uint_eq(q.hello.incarnation, inc);
	stat_ok(&q, "act");
	esrc_fini(&q);
	st = esdt_daemon_stop(&d, SIGTERM);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
	close(lfd);
	esdt_daemon_cleanup(&d);
}
END_TEST

/* ---- suite ----------------------------------------------------------- */

static Suite *daemon_activation_suite(void)
{
	Suite *s = suite_create("daemon_activation");
	TCase *tc;

	tc = tcase(s, "activation");
	tcase_add_test(tc, daemon_env_socket_when_no_option);
	tcase_add_test(tc, daemon_socket_activation);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	/* Log records must use the terminal format, not the journal's. */
	unsetenv("JOURNAL_STREAM");
	sr = srunner_create(daemon_activation_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
