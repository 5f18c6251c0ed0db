/*
 * test_completion.c - the bash completion of errseqctl (completion/errseqctl)
 * in a real bash, against a real errseqd.
 *
 * Each case runs `bash --norc --noprofile`, sources the completion, sets
 * COMP_LINE, COMP_POINT, COMP_WORDS and COMP_CWORD as bash would for a
 * command line typed up to its end (split at blanks, ':' and '='), calls
 * the completion function and prints COMPREPLY sorted, one per line.
 * Slot names come from a daemon started by tests/harness.h (its own socket
 * and shm names); the built errseqctl ($ERRSEQCTL_BIN) is first in PATH.
 * Without bash the program exits 77 and says why.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <errseq/client.h>

#include "tests/support/harness.h"

#define OUT_MAX 65536
#define MAX_ARGS 32

static struct esdt_daemon d;
static char out[OUT_MAX];	/* the last run's COMPREPLY, one per line */
static char err[OUT_MAX];	/* and its stderr */

/* The bash script: $1 the completion file, $2 COMP_LINE, then the words. */
static const char script[] =
	"source \"$1\" || exit 3\n"
	"COMP_LINE=$2\n"
	"COMP_POINT=${#COMP_LINE}\n"
	"shift 2\n"
	"COMP_WORDS=(\"$@\")\n"
	"COMP_CWORD=$(($# - 1))\n"
	"COMPREPLY=()\n"
	"_errseqctl || exit 4\n"
	"((${#COMPREPLY[@]} == 0)) && exit 0\n"
	"printf '%s\\n' \"${COMPREPLY[@]}\" | LC_ALL=C sort\n";

static const char *completion_file(void)
{
	static char path[4096];
	const char *top = getenv("ERRSEQ_TOP_SRCDIR");

	snprintf(path, sizeof(path), "%s/completion/errseqctl",
		 top && *top ? top : COMPLETION_TEST_TOP_SRCDIR);
	return path;
}

/* The directory of the built errseqctl, to put first in PATH. */
static const char *ctl_dir(void)
{
	static char dir[4096];
	const char *b = getenv("ERRSEQCTL_BIN");

	snprintf(dir, sizeof(dir), "%s", b && *b ? b : "ctl/errseqctl");
	return dirname(dir);
}

static bool in_path(const char *prog)
{
	const char *path = getenv("PATH");
	char buf[4096];

	if (!path)
		path = "/usr/bin:/bin";
	while (*path) {
		size_t len = strcspn(path, ":");

		snprintf(buf, sizeof(buf), "%.*s/%s", (int)len, path, prog);
		if (len && access(buf, X_OK) == 0)
			return true;
		path += len;
		if (*path == ':')
			path++;
	}
	return false;
}

/* Read @fd to EOF into @buf (NUL-terminated, cut at @len). */
static void slurp(int fd, char *buf, size_t len)
{
	size_t n = 0;

	for (;;) {
		char sink[4096];
		ssize_t k = n + 1 < len ? read(fd, buf + n, len - 1 - n)
					: read(fd, sink, sizeof(sink));

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		if (n + 1 < len)
			n += (size_t)k;
	}
	buf[n] = '\0';
	close(fd);
}

/*
 * Complete @line, whose words as bash splits them are the NULL-terminated
 * arguments (the last one is the word being completed), with
 * ERRSEQD_SOCKET set to @sock_env (unset if NULL).  COMPREPLY goes to
 * out[], stderr to err[]; returns bash's exit status.
 */
static int complete(const char *sock_env, const char *line, ...)
{
	const char *argv[MAX_ARGS];
	int o[2], e[2], status, n = 0;
	va_list ap;
	pid_t pid;

	argv[n++] = "bash";
	argv[n++] = "--norc";
	argv[n++] = "--noprofile";
	argv[n++] = "-c";
	argv[n++] = script;
	argv[n++] = "bash";
	argv[n++] = completion_file();
	argv[n++] = line;
	va_start(ap, line);
	for (const char *a = va_arg(ap, const char *); a;
	     a = va_arg(ap, const char *)) {
		ck_assert_int_lt(n, MAX_ARGS - 1);
		argv[n++] = a;
	}
	va_end(ap);
	argv[n] = NULL;

	ck_assert_int_eq(pipe2(o, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(e, O_CLOEXEC), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		char path[8192];
		const char *old = getenv("PATH");

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(o[1], 1);
		dup2(e[1], 2);
		snprintf(path, sizeof(path), "%s:%s", ctl_dir(),
			 old ? old : "/usr/bin:/bin");
		setenv("PATH", path, 1);
		if (sock_env)
			setenv("ERRSEQD_SOCKET", sock_env, 1);
		else
			unsetenv("ERRSEQD_SOCKET");
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(o[1]);
	close(e[1]);
	/* the outputs are a few lines: well under a pipe's buffer */
	slurp(o[0], out, sizeof(out));
	slurp(e[0], err, sizeof(err));
	while (waitpid(pid, &status, 0) < 0)
		ck_assert_int_eq(errno, EINTR);
	return WIFEXITED(status) ? WEXITSTATUS(status)
				 : 128 + WTERMSIG(status);
}

/* Complete, expect exit 0, nothing on stderr and exactly @want. */
#define EXPECT(want, sock, ...) do {					\
	ck_assert_int_eq(complete(sock, __VA_ARGS__, (const char *)NULL), 0); \
	ck_assert_msg(err[0] == '\0', "stderr: %s", err);		\
	ck_assert_str_eq(out, want);					\
} while (0)

static void setup(void)
{
	struct errseq_client *c;
	const char *names[] = { "disk0", "disk1", "net:eth0" };

	signal(SIGPIPE, SIG_IGN);
	esdt_sweep();
	ck_assert_int_eq(esdt_daemon_start(&d, 64, NULL), 0);
	ck_assert_int_eq(errseq_client_open(d.sock, &c), 0);
	for (int i = 0; i < 3; i++) {
		struct errseq_slot *s;

		ck_assert_int_eq(errseq_slot_open(c, names[i], ERRSEQ_CREATE |
						  ERRSEQ_EXCL, &s), 0);
		errseq_slot_close(s);
	}
	errseq_client_close(c);
}

static void teardown(void)
{
	esdt_daemon_cleanup(&d);
}

START_TEST(completion_commands)
{
	EXPECT("create\ndelete\nlist\nset\nstat\nstatus\ntop\nwatch\n", NULL,
	       "errseqctl ", "errseqctl", "");
	EXPECT("stat\nstatus\n", NULL, "errseqctl st", "errseqctl", "st");
	/* after global options too */
	EXPECT("top\n", d.sock, "errseqctl -j t", "errseqctl", "-j", "t");
}
END_TEST

START_TEST(completion_options_per_command)
{
	EXPECT("--help\n--json\n--once\n--socket\n--timeout\n--version\n",
	       NULL, "errseqctl watch --", "errseqctl", "watch", "--");
	EXPECT("--interval\n", NULL, "errseqctl top --i", "errseqctl", "top",
	       "--i");
	EXPECT("--prometheus\n", NULL, "errseqctl list --p", "errseqctl",
	       "list", "--p");
	/* stat has no --prometheus, create no --json */
	EXPECT("", NULL, "errseqctl stat --p", "errseqctl", "stat", "--p");
	EXPECT("", NULL, "errseqctl create --j", "errseqctl", "create",
	       "--j");
	/* no value completion for a number */
	EXPECT("", NULL, "errseqctl top --interval ", "errseqctl", "top",
	       "--interval", "");
}
END_TEST

START_TEST(completion_slot_names_from_the_daemon)
{
	char line[512];

	/* the default socket ($ERRSEQD_SOCKET) */
	EXPECT("disk0\ndisk1\n", d.sock, "errseqctl stat d", "errseqctl",
	       "stat", "d");
	/* -s SOCKET on the command line wins */
	snprintf(line, sizeof(line), "errseqctl -s %s delete ", d.sock);
	EXPECT("disk0\ndisk1\nnet:eth0\n", "/nonexistent/errseqd.sock", line,
	       "errseqctl", "-s", d.sock, "delete", "");
	/* --socket=SOCKET (bash splits at '='); watch takes several */
	snprintf(line, sizeof(line), "errseqctl --socket=%s watch disk0 n",
		 d.sock);
	EXPECT("net:eth0\n", NULL, line, "errseqctl", "--socket", "=", d.sock,
	       "watch", "disk0", "n");
	/* a name with ':' (bash splits there; readline replaces the part
	 * after it) */
	EXPECT("eth0\n", d.sock, "errseqctl stat net:e", "errseqctl", "stat",
	       "net", ":", "e");
	EXPECT("eth0\n", d.sock, "errseqctl stat net:", "errseqctl", "stat",
	       "net", ":");
	/* set NAME, then an errno name */
	EXPECT("disk0\ndisk1\n", d.sock, "errseqctl set di", "errseqctl",
	       "set", "di");
	EXPECT("EILSEQ\nEINTR\nEINVAL\nEIO\n", d.sock,
	       "errseqctl set disk0 EI", "errseqctl", "set", "disk0", "EI");
	/* create takes a new name: nothing to offer */
	EXPECT("", d.sock, "errseqctl create d", "errseqctl", "create", "d");
}
END_TEST

START_TEST(completion_without_daemon_is_quiet)
{
	EXPECT("", "/nonexistent/errseqd.sock", "errseqctl stat ",
	       "errseqctl", "stat", "");
	/* and the daemon the test started still answers */
	EXPECT("disk0\n", d.sock, "errseqctl stat disk0", "errseqctl", "stat",
	       "disk0");
}
END_TEST

static Suite *completion_suite(void)
{
	Suite *s = suite_create("completion");
	TCase *tc = tcase_create("bash");

	tcase_add_unchecked_fixture(tc, NULL, esdt_sweep);
	tcase_add_checked_fixture(tc, setup, teardown);
	if (!getenv("CK_DEFAULT_TIMEOUT"))
		tcase_set_timeout(tc, 120);
	tcase_add_test(tc, completion_commands);
	tcase_add_test(tc, completion_options_per_command);
	tcase_add_test(tc, completion_slot_names_from_the_daemon);
	tcase_add_test(tc, completion_without_daemon_is_quiet);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	if (!in_path("bash")) {
		printf("SKIP: bash not found in PATH (apt-get install bash); "
		       "the completion was not tested\n");
		return 77;
	}
	sr = srunner_create(completion_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
