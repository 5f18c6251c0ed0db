/*
 * test_env.c - the environment is not trusted blindly.
 *
 *   - liberrseq-client reads ERRSEQD_SOCKET (and XDG_RUNTIME_DIR) with
 *     secure_getenv: a setuid copy of a program run by another user does
 *     not follow the caller's ERRSEQD_SOCKET, while the same program
 *     without the setuid bit does (the control that shows the test can
 *     fail).  Needs root; that case is skipped otherwise.
 *   - errseqd trusts JOURNAL_STREAM only when it names its stderr:
 *     with a JOURNAL_STREAM of another file, records are timestamped
 *     lines; with the device:inode of its stderr, they carry the "<N>"
 *     priority prefix of the journal.
 *
 * With the argument "print-socket" this program prints what
 * errseq_default_socket() answers and exits: the setuid case runs a copy
 * of itself that way.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <errseq/client.h>

static char self[PATH_MAX];

/* Run @argv as @uid (if >= 0) with ERRSEQD_SOCKET=@env; its stdout in
 * @out.  Returns the exit status. */
static int run_as(const char *prog, int uid, const char *env, char *out,
		  size_t len)
{
	int p[2], st;
	ssize_t n;
	size_t got = 0;
	pid_t pid;

	ck_assert_int_eq(pipe(p), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dup2(p[1], 1);
		close(p[0]);
		setenv("ERRSEQD_SOCKET", env, 1);
		unsetenv("XDG_RUNTIME_DIR");
		if (uid >= 0 && (setgid(65534) < 0 || setuid((uid_t)uid) < 0))
			_exit(99);
		execl(prog, prog, "print-socket", (char *)NULL);
		_exit(98);
	}
	close(p[1]);
	while (got + 1 < len && (n = read(p[0], out + got, len - 1 - got)) > 0)
		got += (size_t)n;
	out[got] = '\0';
	close(p[0]);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

START_TEST(setuid_program_ignores_errseqd_socket)
{
	char dir[] = "/tmp/esd-env-XXXXXX", plain[PATH_MAX], suid[PATH_MAX];
	char out[256], cmd[3 * PATH_MAX + 64];

	if (geteuid() != 0 || getenv("ERRSEQ_TEST_SAN_PRELOAD")) {
		/* a setuid binary of root is needed, and the sanitizers'
		 * runtime refuses to run setuid; the JOURNAL_STREAM case still
		 * runs */
		printf("setuid case skipped: %s\n", geteuid() ? "not root" :
		       "sanitizer build");
		return;
	}
	ck_assert_ptr_nonnull(mkdtemp(dir));
	chmod(dir, 0755);
	snprintf(plain, sizeof(plain), "%.*s/plain", 100, dir);
	snprintf(suid, sizeof(suid), "%.*s/suid", 100, dir);
	ck_assert_int_lt(snprintf(cmd, sizeof(cmd), "cp '%.*s' '%.*s' && cp "
				  "'%.*s' '%.*s'", 1000, self, 1000, plain,
				  1000, self, 1000, suid), (int)sizeof(cmd));
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_int_eq(chmod(plain, 0755), 0);
	ck_assert_int_eq(chmod(suid, 04755), 0);

	/* the control: without setuid the caller's choice is followed */
	ck_assert_int_eq(run_as(plain, 65534, "/tmp/evil/errseqd.sock", out,
				sizeof(out)), 0);
	ck_assert_str_eq(out, "/tmp/evil/errseqd.sock\n");
	/* setuid root: the caller's environment is ignored */
	ck_assert_int_eq(run_as(suid, 65534, "/tmp/evil/errseqd.sock", out,
				sizeof(out)), 0);
	ck_assert_str_eq(out, "/run/errseqd/errseqd.sock\n");

	snprintf(cmd, sizeof(cmd), "rm -rf '%.*s'", 1000, dir);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* Run errseqd --version-less: start it with @journal_stream (NULL: unset)
 * and stderr to @log, let it log its start, stop it. */
static void daemon_logs(const char *log, const char *journal_stream,
			bool same_as_log)
{
	char dir[] = "/tmp/esd-env-XXXXXX", sock[PATH_MAX], js[64];
	const char *bin = getenv("ERRSEQD_BIN");
	struct stat sb;
	int fd, st;
	pid_t pid;

	ck_assert_ptr_nonnull(bin);
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(sock, sizeof(sock), "%s/errseqd.sock", dir);
	fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fstat(fd, &sb), 0);
	snprintf(js, sizeof(js), "%llu:%llu",
		 (unsigned long long)sb.st_dev, (unsigned long long)sb.st_ino);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dup2(fd, 2);
		if (same_as_log)
			setenv("JOURNAL_STREAM", js, 1);
		else if (journal_stream)
			setenv("JOURNAL_STREAM", journal_stream, 1);
		else
			unsetenv("JOURNAL_STREAM");
		unsetenv("NOTIFY_SOCKET");
		execl(bin, bin, "--socket", sock, "--persist", "none",
		      (char *)NULL);
		_exit(98);
	}
	close(fd);
	for (int i = 0; i < 600 && access(sock, F_OK) != 0; i++) {
		struct timespec ts = { 0, 50000000L };

		nanosleep(&ts, NULL);
	}
	kill(pid, SIGTERM);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	rmdir(dir);
}

static char *slurp(const char *path)
{
	static char buf[8192];
	int fd = open(path, O_RDONLY);
	ssize_t n;

	ck_assert_int_ge(fd, 0);
	n = read(fd, buf, sizeof(buf) - 1);
	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
	close(fd);
	return buf;
}

START_TEST(journal_stream_only_when_it_is_stderr)
{
	char log[] = "/tmp/esd-env-log-XXXXXX";
	int fd = mkstemp(log);
	char *text;

	ck_assert_int_ge(fd, 0);
	close(fd);
	/* another file's device:inode: plain timestamped lines */
	daemon_logs(log, "1:2", false);
	text = slurp(log);
	ck_assert_msg(text[0] != '<' && strstr(text, "Z errseqd: info: "),
		      "log: %s", text);
	/* no JOURNAL_STREAM: the same */
	daemon_logs(log, NULL, false);
	text = slurp(log);
	ck_assert_msg(text[0] != '<' && strstr(text, "Z errseqd: info: "),
		      "log: %s", text);
	/* stderr's own device:inode: journal records */
	daemon_logs(log, NULL, true);
	text = slurp(log);
	ck_assert_msg(!strncmp(text, "<6>", 3) && !strstr(text, "errseqd: "),
		      "log: %s", text);
	unlink(log);
}
END_TEST

int main(int argc, char **argv)
{
	Suite *s;
	TCase *tc;
	SRunner *sr;
	int failed;

	if (argc == 2 && !strcmp(argv[1], "print-socket")) {
		char buf[PATH_MAX];

		if (errseq_default_socket(buf, sizeof(buf)) < 0)
			return 1;
		printf("%s\n", buf);
		return 0;
	}
	if (!realpath("/proc/self/exe", self))
		return 1;
	s = suite_create("env");
	tc = tcase_create("env");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, setuid_program_ignores_errseqd_socket);
	tcase_add_test(tc, journal_stream_only_when_it_is_stderr);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
