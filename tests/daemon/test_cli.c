/*
 * test_cli.c - errseqd integration tests: the command line: --help,
 * --version, usage errors, --mode/--group and the log format.
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

START_TEST(daemon_cli_help_version_usage)
{
	static const char *const opts[] = {
		"--socket", "--shm", "--slots", "--group", "--mode",
		"--recreate", "--log-level", "--max-clients", "--max-open",
		"--version", "--help",
	};
	static const char *const bad[][3] = {
		{ "--bogus" }, { "-x" }, { "--slots", "0" },
		{ "--slots", "abc" }, { "--slots", "16777217" },
		{ "--slots", "-4" }, { "--mode", "999" }, { "--mode", "x" },
		{ "--log-level", "loud" }, { "--shm", "noslash" },
		{ "--shm", "/a/b" }, { "stray-argument" }, { "--max-clients", "0" },
		{ "--max-open", "x" }, { "--group", "no-such-group-esdt" },
		{ "--socket", "" }, { "--log-level" },
	};
	char out[8192], err[8192], sock[64], shm[64], path[128];
	const char *argv[12];
	int r;

	argv[1] = "--help";
	argv[2] = NULL;
	r = run_capture(argv, NULL, out, sizeof(out), err, sizeof(err), 10000);
	ck_assert_msg(r == 0, "--help: exit %d", r);
	for (size_t k = 0; k < sizeof(opts) / sizeof(opts[0]); k++)
		ck_assert_msg(strstr(out, opts[k]) != NULL,
			      "--help does not mention %s", opts[k]);

	argv[1] = "--version";
	r = run_capture(argv, NULL, out, sizeof(out), err, sizeof(err), 10000);
	ck_assert_msg(r == 0, "--version: exit %d", r);
	ck_assert_msg(strstr(out, PACKAGE_VERSION) != NULL,
		      "--version printed: %s", out);

	/* Bad usage: exit 2, a message, nothing created. */
	snprintf(sock, sizeof(sock), "/tmp/esdt-%d-cli.sock", (int)getpid());
	snprintf(shm, sizeof(shm), "/esdt-%d-cli", (int)getpid());
	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		int n = 1;

		argv[n++] = "--socket";
		argv[n++] = sock;
		argv[n++] = "--shm";
		argv[n++] = shm;
		for (int j = 0; j < 3 && bad[k][j]; j++)
			argv[n++] = bad[k][j];
		argv[n] = NULL;
		r = run_capture(argv, NULL, out, sizeof(out), err, sizeof(err),
				10000);
		ck_assert_msg(r == 2, "%s %s: exit %d, want 2 (stderr: %s)",
			      bad[k][0], bad[k][1] ? bad[k][1] : "", r, err);
		ck_assert_msg(strstr(err, "errseqd") != NULL,
			      "%s: no message on stderr", bad[k][0]);
		ck_assert_msg(access(sock, F_OK) < 0, "%s: socket created",
			      bad[k][0]);
		/* Layout 2 creates nothing in /dev/shm; what a start would
		 * create besides the socket is the keeper's socket. */
		snprintf(path, sizeof(path), "%s.keeper", sock);
		ck_assert_msg(access(path, F_OK) < 0, "%s: keeper started",
			      bad[k][0]);
	}
	unlink(sock);
}
END_TEST

START_TEST(daemon_mode_and_group)
{
	struct esdt_daemon d;
	struct esrc c;
	char gid_str[16], path[160];
	const char *extra[] = { "--mode", "0640", "--group", gid_str, NULL };
	struct esp_open_rep o;
	gid_t gid = geteuid() == 0 ? 12345 : getegid();
	struct stat st;

	snprintf(gid_str, sizeof(gid_str), "%u", (unsigned)gid);
	start_daemon(&d, 4, extra);
	ck_assert_int_eq(stat(d.sock, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	ck_assert_uint_eq(st.st_mode & 07777, 0640);
	ck_assert_uint_eq(st.st_gid, gid);
	/* Layout 1 gave the data segment the socket's mode and group.  In
	 * layout 2 memory is reached only through fds the daemon passes, so
	 * the chunks stay 0600 owned by the daemon whatever --mode and
	 * --group say, and so does the keeper's socket. */
	snprintf(path, sizeof(path), "%s.keeper", d.sock);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
	ck_assert_uint_eq(st.st_uid, geteuid());
	conn(&c, &d);
	o = open_ok(&c, "m", ESP_OPEN_CREATE);
	ck_assert_int_eq(fstat(esrc_chunk_fd(&c, o.index), &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
	ck_assert_uint_eq(st.st_uid, geteuid());
	esrc_fini(&c);
	esdt_daemon_cleanup(&d);
}
END_TEST

START_TEST(daemon_log_lines_have_prefix)
{
	struct esdt_daemon d;
	struct esrc c;
	char log[16384];
	int lines = 0;

	start_daemon(&d, 4, NULL);
	conn(&c, &d);
	esrc_fini(&c);
	esdt_daemon_stop(&d, SIGTERM);
	esdt_read_log(&d, log, sizeof(log));
	/* Off the journal a record is "<UTC timestamp> errseqd: LEVEL: "
	 * (errseqd(8), LOGGING); the timestamp is
	 * YYYY-MM-DDTHH:MM:SS.mmmZ, 24 characters and a space. */
	for (char *line = strtok(log, "\n"); line; line = strtok(NULL, "\n")) {
		const char *rest = line + 25;
		int y, mo, dd, h, mi, sec, ms, n = 0;

		ck_assert_msg(strlen(line) > 25 &&
			      sscanf(line, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ %n",
				     &y, &mo, &dd, &h, &mi, &sec, &ms, &n) == 7 &&
			      n == 25,
			      "log line without timestamp: %s", line);
		ck_assert_msg(!strncmp(rest, "errseqd: error: ", 16) ||
			      !strncmp(rest, "errseqd: warn: ", 15) ||
			      !strncmp(rest, "errseqd: info: ", 15) ||
			      !strncmp(rest, "errseqd: debug: ", 16),
			      "log line without prefix: %s", line);
		lines++;
	}
	ck_assert_int_gt(lines, 0);
	esdt_daemon_cleanup(&d);
}
END_TEST

/* ---- suite ----------------------------------------------------------- */

static Suite *daemon_cli_suite(void)
{
	Suite *s = suite_create("daemon_cli");
	TCase *tc;

	tc = tcase(s, "cli");
	tcase_add_test(tc, daemon_cli_help_version_usage);
	tcase_add_test(tc, daemon_mode_and_group);
	tcase_add_test(tc, daemon_log_lines_have_prefix);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	/* Log records must use the terminal format, not the journal's. */
	unsetenv("JOURNAL_STREAM");
	sr = srunner_create(daemon_cli_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
