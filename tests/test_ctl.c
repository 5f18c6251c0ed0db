/*
 * test_ctl.c - errseqctl against the real errseqd, and its formatting
 * helpers (ctl/format.c) on their own.
 *
 * Each daemon-backed case gets a fresh errseqd from tests/harness.h (its
 * own socket and shm names) and runs the built errseqctl ($ERRSEQCTL_BIN)
 * as a child process with ERRSEQD_SOCKET (or --socket) pointing at it,
 * capturing stdout, stderr and the exit status.  What errseqctl did is
 * checked through liberrseq-client (errseq_stat, cursors); JSON output is
 * parsed by Python's json module through tests/json_check.py, never
 * grepped; Prometheus output is checked line by line with regexes.
 * No case asserts on wall time: waits are bounded loops on observable
 * state (a slot's holders count, a SEEN bit).
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <regex.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <errseq/client.h>

#include "ctl/format.h"
#include "tests/harness.h"

#define OUT_MAX (4u << 20)	/* captured stdout */
#define ERR_MAX 65536u		/* captured stderr */
#define MAX_ARGS 32

/* ---- running programs -------------------------------------------------- */

struct proc {
	pid_t pid;
	int in_fd, out_fd, err_fd;	/* our ends; -1 when closed */
};

struct run {
	int status;		/* exit code, or 128 + signal */
	char *out;		/* stdout, NUL-terminated */
	size_t out_len;
	char err[ERR_MAX];	/* stderr, NUL-terminated */
};

static struct esdt_daemon d;
static struct errseq_client *cl;
static struct run R;		/* the last run's results */

static const char *ctl_bin(void)
{
	const char *b = getenv("ERRSEQCTL_BIN");

	return b && *b ? b : "ctl/errseqctl";
}

static const char *json_check_script(void)
{
	static char path[4096];
	const char *top = getenv("ERRSEQ_TOP_SRCDIR");

	/* `make check` sets ERRSEQ_TOP_SRCDIR; else where configure saw it */
	snprintf(path, sizeof(path), "%s/tests/json_check.py",
		 top && *top ? top : CTL_TEST_TOP_SRCDIR);
	return path;
}

/* Start @argv with ERRSEQD_SOCKET=@sock_env (unset if NULL); stdin from a
 * pipe (closed at once unless @keep_stdin).  The child is killed if the
 * test process dies first. */
static void spawn(struct proc *p, const char *const *argv,
		  const char *sock_env, bool keep_stdin)
{
	int in[2], out[2], err[2];
	pid_t parent = getpid();

	ck_assert_int_eq(pipe2(in, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(out, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(err, O_CLOEXEC), 0);
	p->pid = fork();
	ck_assert_int_ge(p->pid, 0);
	if (p->pid == 0) {
		/* dies with the test, even if a failed check skips collect() */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		dup2(in[0], 0);
		dup2(out[1], 1);
		dup2(err[1], 2);
		if (sock_env)
			setenv("ERRSEQD_SOCKET", sock_env, 1);
		else
			unsetenv("ERRSEQD_SOCKET");
		signal(SIGPIPE, SIG_DFL);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	close(err[1]);
	p->in_fd = in[1];
	p->out_fd = out[0];
	p->err_fd = err[0];
	if (!keep_stdin) {
		close(p->in_fd);
		p->in_fd = -1;
	}
}

/* Feed @in (may be NULL) to @p, read its output until EOF, reap it. */
static void collect(struct proc *p, const char *in, struct run *r)
{
	size_t in_len = in ? strlen(in) : 0, in_off = 0, err_len = 0;
	int status;

	r->out_len = 0;
	if (!in && p->in_fd >= 0) {
		close(p->in_fd);
		p->in_fd = -1;
	}
	while (p->out_fd >= 0 || p->err_fd >= 0) {
		struct pollfd pf[3];
		int n = 0;

		if (p->in_fd >= 0)
			pf[n++] = (struct pollfd){ .fd = p->in_fd,
						   .events = POLLOUT };
		if (p->out_fd >= 0)
			pf[n++] = (struct pollfd){ .fd = p->out_fd,
						   .events = POLLIN };
		if (p->err_fd >= 0)
			pf[n++] = (struct pollfd){ .fd = p->err_fd,
						   .events = POLLIN };
		if (poll(pf, (nfds_t)n, -1) < 0) {
			ck_assert_int_eq(errno, EINTR);
			continue;
		}
		for (int i = 0; i < n; i++) {
			ssize_t k;

			if (!pf[i].revents)
				continue;
			if (pf[i].fd == p->in_fd) {
				k = write(p->in_fd, in + in_off,
					  in_len - in_off);
				if (k > 0)
					in_off += (size_t)k;
				if (k < 0 || in_off == in_len) {
					close(p->in_fd);
					p->in_fd = -1;
				}
			} else if (pf[i].fd == p->out_fd) {
				ck_assert_uint_lt(r->out_len, OUT_MAX - 1);
				k = read(p->out_fd, r->out + r->out_len,
					 OUT_MAX - 1 - r->out_len);
				if (k > 0) {
					r->out_len += (size_t)k;
				} else {
					close(p->out_fd);
					p->out_fd = -1;
				}
			} else {
				char sink[4096];
				size_t room = sizeof(r->err) - 1 - err_len;

				k = read(p->err_fd, room ? r->err + err_len : sink,
					 room ? room : sizeof(sink));
				if (k > 0) {
					if (room)
						err_len += (size_t)k;
				} else {
					close(p->err_fd);
					p->err_fd = -1;
				}
			}
		}
	}
	if (p->in_fd >= 0)
		close(p->in_fd);
	r->out[r->out_len] = '\0';
	r->err[err_len] = '\0';
	while (waitpid(p->pid, &status, 0) < 0)
		ck_assert_int_eq(errno, EINTR);
	r->status = WIFEXITED(status) ? WEXITSTATUS(status)
				      : 128 + WTERMSIG(status);
}

/* argv = { errseqctl, args... } from a NULL-terminated va_list. */
static void ctl_argv(const char **argv, const char *first, va_list ap)
{
	int n = 0;

	argv[n++] = ctl_bin();
	for (const char *a = first; a; a = va_arg(ap, const char *)) {
		ck_assert_int_lt(n, MAX_ARGS - 1);
		argv[n++] = a;
	}
	argv[n] = NULL;
}

/* Run errseqctl with the NULL-terminated arguments, ERRSEQD_SOCKET set to
 * @sock; results in R; returns the exit status. */
static int ctl_env(const char *sock, const char *first, ...)
{
	const char *argv[MAX_ARGS];
	struct proc p;
	va_list ap;

	va_start(ap, first);
	ctl_argv(argv, first, ap);
	va_end(ap);
	spawn(&p, argv, sock, false);
	collect(&p, NULL, &R);
	return R.status;
}

/* errseqctl against the test's daemon (through ERRSEQD_SOCKET). */
#define ctl(...) ctl_env(d.sock, __VA_ARGS__, (const char *)NULL)

/* Start errseqctl in the background against the test's daemon. */
static void ctl_bg(struct proc *p, const char *first, ...)
{
	const char *argv[MAX_ARGS];
	va_list ap;

	va_start(ap, first);
	ctl_argv(argv, first, ap);
	va_end(ap);
	spawn(p, argv, d.sock, false);
}

/*
 * json_q - run json_check.py on @json with the paths given; its output
 * (one line per path) goes to @out.  Fails the test if the JSON does not
 * parse.
 */
static void json_q(char *out, size_t len, const char *json, bool lines,
		   const char *first, ...)
{
	const char *argv[MAX_ARGS];
	struct run *r = calloc(1, sizeof(*r));
	struct proc p;
	va_list ap;
	int n = 0;

	ck_assert_ptr_nonnull(r);
	r->out = malloc(OUT_MAX);
	ck_assert_ptr_nonnull(r->out);
	argv[n++] = "/usr/bin/env";
	argv[n++] = "python3";
	argv[n++] = json_check_script();
	if (lines)
		argv[n++] = "--lines";
	va_start(ap, first);
	for (const char *a = first; a; a = va_arg(ap, const char *))
		argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;
	spawn(&p, argv, NULL, true);
	collect(&p, json, r);
	ck_assert_msg(r->status == 0, "json_check failed (%d): %s\ninput:\n%.2000s",
		      r->status, r->err, json);
	snprintf(out, len, "%s", r->out);
	free(r->out);
	free(r);
}

/* ---- helpers on the daemon side ---------------------------------------- */

static void make_slot(const char *name)
{
	struct errseq_slot *s;

	ck_assert_int_eq(errseq_slot_open(cl, name, ERRSEQ_CREATE | ERRSEQ_EXCL,
					  &s), 0);
	errseq_slot_close(s);
}

static void set_slot(const char *name, int err)
{
	struct errseq_slot *s;

	ck_assert_int_eq(errseq_slot_open(cl, name, 0, &s), 0);
	ck_assert_int_eq(errseq_slot_set(s, err), 0);
	errseq_slot_close(s);
}

static struct errseq_slot_info stat_of(const char *name)
{
	struct errseq_slot_info info;

	ck_assert_int_eq(errseq_stat(cl, name, &info), 0);
	return info;
}

/* Record @err in @name from a forked process with a client of its own. */
static void set_from_child(const char *name, int err)
{
	pid_t pid = fork();
	int status;

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct errseq_client *c2;
		struct errseq_slot *s;

		if (errseq_client_open(d.sock, &c2) < 0 ||
		    errseq_slot_open(c2, name, 0, &s) < 0 ||
		    errseq_slot_set(s, err) < 0)
			_exit(1);
		errseq_client_close(c2);
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, ms % 1000 * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Wait (bounded, 60 s) until @name has at least @n holders: the watcher
 * in @p has opened its slots.  Fails if @p exits first. */
static void wait_holders(struct proc *p, const char *name, uint32_t n)
{
	for (int i = 0; i < 6000; i++) {
		int status;

		if (stat_of(name).holders >= n)
			return;
		ck_assert_int_eq(waitpid(p->pid, &status, WNOHANG), 0);
		sleep_ms(10);
	}
	ck_abort_msg("slot %s never reached %u holders", name, n);
}

/* Wait (bounded, 60 s) until @name has exactly @n holders: the daemon
 * drops a departed client's holds when it notices the hang-up, which may
 * come after that client's process has exited. */
static void wait_holders_eq(const char *name, uint32_t n)
{
	uint32_t h = 0;

	for (int i = 0; i < 6000; i++) {
		h = stat_of(name).holders;
		if (h == n)
			return;
		sleep_ms(10);
	}
	ck_abort_msg("slot %s has %u holders, not %u", name, h, n);
}

/* Wait (bounded, 60 s) until the daemon counts @n clients. */
static void wait_clients(uint32_t n)
{
	struct errseq_daemon_status st = { .clients = 0 };

	for (int i = 0; i < 6000; i++) {
		ck_assert_int_eq(errseq_status(cl, &st), 0);
		if (st.clients == n)
			return;
		sleep_ms(10);
	}
	ck_abort_msg("%u clients, not %u", st.clients, n);
}

/* Wait (bounded) until the latest error in @name has been consumed. */
static void wait_seen(const char *name)
{
	for (int i = 0; i < 6000; i++) {
		if (stat_of(name).value & ERRSEQ_SEEN)
			return;
		sleep_ms(10);
	}
	ck_abort_msg("slot %s never became SEEN", name);
}

static bool matches(const char *re, const char *s)
{
	regex_t rx;
	int r;

	ck_assert_int_eq(regcomp(&rx, re, REG_EXTENDED | REG_NOSUB), 0);
	r = regexec(&rx, s, 0, NULL, 0);
	regfree(&rx);
	return r == 0;
}

#define ISO_LOCAL "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}" \
		  "\\.[0-9]{3}[+-][0-9]{2}:[0-9]{2}"
#define ISO_UTC "\"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}" \
		"\\.[0-9]{3}Z\""

#define HINT "Try 'errseqctl --help' for more information.\n"

/* ---- fixtures ---------------------------------------------------------- */

static void setup_common(void)
{
	signal(SIGPIPE, SIG_IGN);
	R.out = malloc(OUT_MAX);
	ck_assert_ptr_nonnull(R.out);
}

static void setup_daemon(void)
{
	setup_common();
	esdt_sweep();
	ck_assert_int_eq(esdt_daemon_start(&d, 64, NULL), 0);
	ck_assert_int_eq(errseq_client_open(d.sock, &cl), 0);
}

static void teardown_daemon(void)
{
	errseq_client_close(cl);
	cl = NULL;
	esdt_daemon_cleanup(&d);
	free(R.out);
}

static void teardown_common(void)
{
	free(R.out);
}

/* ---- ctl/format.c on its own -------------------------------------------- */

START_TEST(ctl_errno_names_cover_linux)
{
	for (int e = 1; e <= 133; e++) {
		if (e == 41 || e == 58)	/* unused numbers on Linux */
			continue;
		ck_assert_msg(ctl_errno_name(e) != NULL, "errno %d unnamed", e);
	}
	ck_assert_str_eq(ctl_errno_name(1), "EPERM");
	ck_assert_str_eq(ctl_errno_name(5), "EIO");
	ck_assert_str_eq(ctl_errno_name(EAGAIN), "EAGAIN");
	ck_assert_str_eq(ctl_errno_name(EDEADLK), "EDEADLK");
	ck_assert_str_eq(ctl_errno_name(EOPNOTSUPP), "EOPNOTSUPP");
	ck_assert_str_eq(ctl_errno_name(28), "ENOSPC");
	ck_assert_str_eq(ctl_errno_name(132), "ERFKILL");
	ck_assert_str_eq(ctl_errno_name(133), "EHWPOISON");
	ck_assert_ptr_null(ctl_errno_name(0));
	ck_assert_ptr_null(ctl_errno_name(-5));
	ck_assert_ptr_null(ctl_errno_name(134));
	ck_assert_ptr_null(ctl_errno_name(4095));
}
END_TEST

START_TEST(ctl_errno_parse_forms)
{
	static const char *const bad[] = {
		"", "0", "-0", "4096", "-4096", "-", "--5", "+5", " 5", "5 ",
		"5x", "0x5", "EBOGUS", "E", "99999999999999999999",
		"-9223372036854775808", "EIO ",
	};

	ck_assert_int_eq(ctl_errno_parse("EIO"), 5);
	ck_assert_int_eq(ctl_errno_parse("eio"), 5);
	ck_assert_int_eq(ctl_errno_parse("Eio"), 5);
	ck_assert_int_eq(ctl_errno_parse("5"), 5);
	ck_assert_int_eq(ctl_errno_parse("-5"), 5);
	ck_assert_int_eq(ctl_errno_parse("1"), 1);
	ck_assert_int_eq(ctl_errno_parse("4095"), 4095);
	ck_assert_int_eq(ctl_errno_parse("-4095"), 4095);
	ck_assert_int_eq(ctl_errno_parse("ENOSPC"), 28);
	ck_assert_int_eq(ctl_errno_parse("EHWPOISON"), 133);
	ck_assert_int_eq(ctl_errno_parse("EWOULDBLOCK"), EAGAIN);
	ck_assert_int_eq(ctl_errno_parse("ENOTSUP"), EOPNOTSUPP);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(ctl_errno_parse(bad[i]) == -EINVAL,
			      "'%s' accepted", bad[i]);
	ck_assert_int_eq(ctl_errno_parse(NULL), -EINVAL);
}
END_TEST

/* What @fn writes for @s, through a memory stream. */
static char *written(void (*fn)(FILE *, const char *), const char *s)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	ck_assert_ptr_nonnull(f);
	fn(f, s);
	ck_assert_int_eq(fclose(f), 0);
	return buf;
}

START_TEST(ctl_json_string_escapes)
{
	char *s;

	s = written(ctl_json_string, "disk0");
	ck_assert_str_eq(s, "\"disk0\"");
	free(s);
	s = written(ctl_json_string, "a\"b\\c/d\ne\tf\rg\bh\fi\x01j\x1fk\x7fl\xc3\xa9");
	ck_assert_str_eq(s, "\"a\\\"b\\\\c/d\\ne\\tf\\rg\\bh\\fi\\u0001j\\u001fk\\u007fl\xc3\xa9\"");
	free(s);
	s = written(ctl_json_string, "");
	ck_assert_str_eq(s, "\"\"");
	free(s);
}
END_TEST

START_TEST(ctl_prom_label_escapes)
{
	char *s;

	s = written(ctl_prom_label, "net/eth0@x:y-1.2_3");
	ck_assert_str_eq(s, "net/eth0@x:y-1.2_3");
	free(s);
	s = written(ctl_prom_label, "a\"b\\c\nd\te");
	ck_assert_str_eq(s, "a\\\"b\\\\c\\nd\te");
	free(s);
}
END_TEST

START_TEST(ctl_duration_formats)
{
	char b[64];
	const uint64_t s = 1000000000ull;

	ck_assert_uint_eq(ctl_duration(b, sizeof(b), 0), 2);
	ck_assert_str_eq(b, "0s");
	ctl_duration(b, sizeof(b), 999999999ull);
	ck_assert_str_eq(b, "0s");
	ctl_duration(b, sizeof(b), 5 * s);
	ck_assert_str_eq(b, "5s");
	ctl_duration(b, sizeof(b), 65 * s);
	ck_assert_str_eq(b, "1m 5s");
	ctl_duration(b, sizeof(b), (3 * 3600 + 12 * 60 + 5) * s + 7);
	ck_assert_str_eq(b, "3h 12m 5s");
	ctl_duration(b, sizeof(b), 3600 * s);
	ck_assert_str_eq(b, "1h 0m 0s");
	ctl_duration(b, sizeof(b), (2 * 86400 + 1) * s);
	ck_assert_str_eq(b, "2d 0h 0m 1s");
	ck_assert_uint_eq(ctl_duration(b, 5, 65 * s), 0);	/* "1m 5s" */
	ck_assert_str_eq(b, "");
}
END_TEST

START_TEST(ctl_iso_time_formats)
{
	char b[64];
	const uint64_t t = 1735787045123456789ull;	/* 2025-01-02T03:04:05.123Z */

	ck_assert_uint_eq(ctl_iso_time(b, sizeof(b), 0, true), 24);
	ck_assert_str_eq(b, "1970-01-01T00:00:00.000Z");
	ctl_iso_time(b, sizeof(b), t, true);
	ck_assert_str_eq(b, "2025-01-02T03:04:05.123Z");
	/* local time: a zone 1h30 east of UTC, then one 5h west */
	setenv("TZ", "XYZ-1:30", 1);
	tzset();
	ctl_iso_time(b, sizeof(b), t, false);
	ck_assert_str_eq(b, "2025-01-02T04:34:05.123+01:30");
	setenv("TZ", "XYZ5", 1);
	tzset();
	ctl_iso_time(b, sizeof(b), t, false);
	ck_assert_str_eq(b, "2025-01-01T22:04:05.123-05:00");
	ck_assert_uint_eq(ctl_iso_time(b, 24, t, true), 0);	/* no room */
}
END_TEST

/* ---- the command line, no daemon needed --------------------------------- */

/* Usage-only runs point at a socket nobody listens on: a command that got
 * as far as connecting would exit 1, not 2. */
#define NOWHERE "/nonexistent-errseqd-test/errseqd.sock"

START_TEST(ctl_help_exits_0)
{
	static const char *const forms[][2] = {
		{ "--help", NULL }, { "-h", NULL }, { "list", "--help" },
		{ "frobnicate", "-h" },
	};

	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		ck_assert_int_eq(ctl_env(NOWHERE, forms[i][0], forms[i][1],
					 (const char *)NULL), 0);
		ck_assert_msg(!strncmp(R.out, "Usage: errseqctl ", 17),
			      "stdout: %s", R.out);
		ck_assert_ptr_nonnull(strstr(R.out, "  watch NAME..."));
		ck_assert_str_eq(R.err, "");
	}
}
END_TEST

START_TEST(ctl_version_exits_0)
{
	ck_assert_int_eq(ctl_env(NOWHERE, "--version", (const char *)NULL), 0);
	ck_assert_str_eq(R.out, "errseqctl (" PACKAGE_NAME ") "
		     PACKAGE_VERSION "\n");
	ck_assert_int_eq(ctl_env(NOWHERE, "-V", (const char *)NULL), 0);
	ck_assert_str_eq(R.out, "errseqctl (" PACKAGE_NAME ") "
		     PACKAGE_VERSION "\n");
}
END_TEST

START_TEST(ctl_unknown_command_exits_2)
{
	ck_assert_int_eq(ctl_env(NOWHERE, "frobnicate", (const char *)NULL), 2);
	ck_assert_str_eq(R.out, "");
	ck_assert_str_eq(R.err, "errseqctl: unknown command 'frobnicate'\n"
			 HINT);
}
END_TEST

START_TEST(ctl_usage_errors_exit_2)
{
	static const char *const cases[][5] = {
		{ NULL },
		{ "--bogus", "list" },
		{ "list", "-x" },
		{ "list", "--json=yes" },
		{ "stat" },
		{ "stat", "a", "b" },
		{ "set", "a" },
		{ "set", "a", "5", "6" },
		{ "create" },
		{ "delete" },
		{ "delete", "a", "b" },
		{ "watch" },
		{ "status", "x" },
		{ "list", "a", "b" },
		{ "stat", "a", "--prometheus" },
		{ "--prometheus", "status" },
		{ "list", "--once" },
		{ "list", "--timeout", "1" },
		{ "watch", "a", "--timeout", "abc" },
		{ "watch", "a", "--timeout", "-1" },
		{ "watch", "a", "--timeout", "0x10" },
		{ "watch", "a", "--timeout", " 1" },
		{ "watch", "a", "--timeout", "1e2" },
		{ "watch", "a", "--timeout" },
		{ "--json", "create", "a" },
		{ "delete", "a", "--json" },
		{ "--json", "set", "a", "EIO" },
		{ "list", "--json", "--prometheus" },
		{ "create", "bad name" },
		{ "stat", "caf\xc3\xa9" },
		{ "watch", "ok", "bad*name" },
		{ "set", "a", "0" },
		{ "set", "a", "4096" },
		{ "set", "a", "EBOGUS" },
		{ "list", "--socket" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *const *c = cases[i];

		ck_assert_msg(ctl_env(NOWHERE, c[0], c[1], c[2], c[3], c[4]) == 2,
			      "case %zu (%s %s %s): exit %d, stderr %s", i,
			      c[0], c[1], c[2], R.status, R.err);
		ck_assert_str_eq(R.out, "");
		ck_assert_msg(!strncmp(R.err, "errseqctl: ", 11) &&
			      strstr(R.err, "\n" HINT) &&
			      !strcmp(strstr(R.err, "\n" HINT), "\n" HINT),
			      "case %zu stderr: %s", i, R.err);
	}
}
END_TEST

START_TEST(ctl_no_daemon_exits_1)
{
	char sock[128];

	snprintf(sock, sizeof(sock), "/tmp/esdt-%d-none/errseqd.sock",
		 (int)getpid());
	ck_assert_int_eq(ctl_env(NOWHERE, "--socket", sock, "list",
				 (const char *)NULL), 1);
	ck_assert_str_eq(R.out, "");
	ck_assert_ptr_nonnull(strstr(R.err, "errseqctl: cannot connect to "
				     "errseqd at /tmp/esdt-"));
	ck_assert_ptr_nonnull(strstr(R.err, sock));
	ck_assert_ptr_nonnull(strstr(R.err, "(is errseqd running?)\n"));

	/* the same through ERRSEQD_SOCKET, for every command */
	ck_assert_int_eq(ctl_env(sock, "status", (const char *)NULL), 1);
	ck_assert_ptr_nonnull(strstr(R.err, sock));
	ck_assert_int_eq(ctl_env(sock, "set", "x", "EIO", (const char *)NULL),
			 1);
	ck_assert_ptr_nonnull(strstr(R.err, sock));
	ck_assert_int_eq(ctl_env(sock, "watch", "x", "--once", "--timeout",
				 "1", (const char *)NULL), 1);
	ck_assert_ptr_nonnull(strstr(R.err, sock));
}
END_TEST

/* ---- against the daemon ------------------------------------------------- */

START_TEST(ctl_daemon_killed_connection_refused)
{
	/* SIGKILL leaves the socket file behind with nobody listening */
	ck_assert_int_ge(esdt_daemon_stop(&d, SIGKILL), 0);
	ck_assert_int_eq(ctl("status"), 1);
	ck_assert_ptr_nonnull(strstr(R.err, "cannot connect to errseqd at "));
	ck_assert_ptr_nonnull(strstr(R.err, d.sock));
	ck_assert_ptr_nonnull(strstr(R.err, "(is errseqd running?)"));
}
END_TEST

START_TEST(ctl_create_twice_exits_1)
{
	struct errseq_slot_info info;

	ck_assert_int_eq(ctl("create", "disk0"), 0);
	ck_assert_str_eq(R.out, "");
	ck_assert_str_eq(R.err, "");
	info = stat_of("disk0");
	ck_assert_uint_eq(info.value, 0);
	ck_assert_uint_eq(info.creator_uid, geteuid());
	wait_holders_eq("disk0", 0);	/* errseqctl let go */

	ck_assert_int_eq(ctl("create", "disk0"), 1);
	ck_assert_str_eq(R.out, "");
	ck_assert_str_eq(R.err,
			 "errseqctl: create: slot 'disk0' already exists\n");
}
END_TEST

START_TEST(ctl_delete_missing_exits_1)
{
	struct errseq_slot_info info;

	make_slot("gone");
	ck_assert_int_eq(ctl("delete", "gone"), 0);
	ck_assert_str_eq(R.out, "");
	ck_assert_str_eq(R.err, "");
	ck_assert_int_eq(errseq_stat(cl, "gone", &info), -ENOENT);

	ck_assert_int_eq(ctl("delete", "gone"), 1);
	ck_assert_str_eq(R.err, "errseqctl: delete: no such slot 'gone'\n");
	ck_assert_int_eq(ctl("delete", "never"), 1);
	ck_assert_str_eq(R.err, "errseqctl: delete: no such slot 'never'\n");
}
END_TEST

START_TEST(ctl_set_accepts_name_and_numbers)
{
	static const char *const forms[] = { "EIO", "5", "-5", "eio" };
	struct errseq_slot_info info;

	make_slot("s");
	for (size_t i = 0; i < 4; i++) {
		ck_assert_int_eq(ctl("set", "s", forms[i]), 0);
		ck_assert_str_eq(R.out, "");
		ck_assert_str_eq(R.err, "");
		info = stat_of("s");
		/* 5, never consumed: no SEEN, counter 0 */
		ck_assert_uint_eq(info.value, 5);
		ck_assert_uint_eq(info.sets_total, i + 1);
		ck_assert_int_gt(info.last_pid, 0);
		ck_assert_int_ne(info.last_pid, getpid());
		ck_assert_uint_ne(info.last_set_ns, 0);
	}
	/* options may come first, and --socket works as well as the env */
	ck_assert_int_eq(ctl_env(NOWHERE, "--socket", d.sock, "set", "s",
				 "ENOSPC", (const char *)NULL), 0);
	ck_assert_uint_eq(stat_of("s").value, 28);
	ck_assert_int_eq(ctl_env(NOWHERE, "set", "s", "4095", "-s", d.sock,
				 (const char *)NULL), 0);
	ck_assert_uint_eq(stat_of("s").value, 4095);
	ck_assert_uint_eq(stat_of("s").sets_total, 6);
}
END_TEST

START_TEST(ctl_set_invalid_err_exits_2)
{
	static const char *const bad[] = {
		"0", "-0", "4096", "-4096", "EBOGUS", "5x", "", "0x5" };
	struct errseq_slot_info info;

	make_slot("s");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(ctl("set", "s", bad[i]) == 2, "'%s': exit %d",
			      bad[i], R.status);
		ck_assert_ptr_nonnull(strstr(R.err, "errseqctl: set: invalid "
					     "error '"));
		ck_assert_ptr_nonnull(strstr(R.err, HINT));
	}
	info = stat_of("s");
	ck_assert_uint_eq(info.value, 0);
	ck_assert_uint_eq(info.sets_total, 0);
}
END_TEST

START_TEST(ctl_set_missing_slot_exits_1)
{
	struct errseq_slot_info info;

	ck_assert_int_eq(ctl("set", "nosuch", "EIO"), 1);
	ck_assert_str_eq(R.out, "");
	ck_assert_str_eq(R.err, "errseqctl: set: no such slot 'nosuch'\n");
	/* set never creates */
	ck_assert_int_eq(errseq_stat(cl, "nosuch", &info), -ENOENT);
}
END_TEST

/* The slots most list cases use: one set, one never set, one with every
 * punctuation a name may hold. */
#define ODD_NAME "net/eth0@x:y-1.2_3"

static void three_slots(void)
{
	make_slot("disk0");
	make_slot("disk1");
	make_slot(ODD_NAME);
	ck_assert_int_eq(ctl("set", "disk0", "EIO"), 0);
	/* holds of our own and of that errseqctl are gone */
	wait_holders_eq("disk0", 0);
	wait_holders_eq("disk1", 0);
	wait_holders_eq(ODD_NAME, 0);
}

/* Split a table line into fields separated by 2+ spaces ("LAST SET" has
 * one).  Returns the number of fields. */
static int fields(const char *line, char f[][160], int max)
{
	int n = 0;
	const char *p = line;

	while (*p && n < max) {
		size_t len = 0;

		while (*p == ' ')
			p++;
		if (!*p)
			break;
		while (p[len] && !(p[len] == ' ' && p[len + 1] == ' ') &&
		       p[len] != '\n')
			len++;
		snprintf(f[n++], 160, "%.*s", (int)len, p);
		p += len;
		if (*p == '\n')
			break;
	}
	return n;
}

/* The line of R.out starting with @prefix and a space. */
static const char *table_line(const char *prefix)
{
	size_t len = strlen(prefix);

	for (const char *l = R.out; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
		if (!strncmp(l, prefix, len) && l[len] == ' ')
			return l;
	return NULL;
}

START_TEST(ctl_list_table)
{
	char f[10][160];
	const char *hdr, *row;
	struct errseq_slot_info info;
	size_t col;
	int lines = 0;

	three_slots();
	info = stat_of("disk0");
	ck_assert_int_eq(ctl("list"), 0);
	ck_assert_str_eq(R.err, "");
	for (const char *p = R.out; *p; p++)
		lines += *p == '\n';
	ck_assert_int_eq(lines, 4);

	hdr = table_line("NAME");
	ck_assert_ptr_eq(hdr, R.out);
	ck_assert_int_eq(fields(hdr, f, 10), 8);
	ck_assert_str_eq(f[1], "ERRNO");
	ck_assert_str_eq(f[5], "LAST SET");
	ck_assert_str_eq(f[7], "HOLDERS");
	/* the NAME column is as wide as the longest name */
	col = (size_t)(strstr(hdr, "ERRNO") - hdr);
	ck_assert_uint_eq(col, strlen(ODD_NAME) + 2);

	row = table_line("disk0");
	ck_assert_ptr_nonnull(row);
	ck_assert_int_eq(fields(row, f, 10), 8);
	ck_assert_str_eq(f[1], "EIO");
	ck_assert_str_eq(f[2], "0");
	ck_assert_str_eq(f[3], "no");
	ck_assert_str_eq(f[4], "1");
	ck_assert_msg(matches("^" ISO_LOCAL "$", f[5]), "time %s", f[5]);
	ck_assert_int_eq(atoi(f[6]), info.last_pid);
	ck_assert_str_eq(f[7], "0");
	ck_assert(row[col] != ' ' && row[col - 1] == ' ');

	row = table_line("disk1");
	ck_assert_ptr_nonnull(row);
	ck_assert_int_eq(fields(row, f, 10), 8);
	ck_assert_str_eq(f[1], "-");
	ck_assert_str_eq(f[2], "0");
	ck_assert_str_eq(f[3], "-");
	ck_assert_str_eq(f[4], "0");
	ck_assert_str_eq(f[5], "-");
	ck_assert_str_eq(f[6], "-");
	ck_assert(row[col] == '-' && row[col - 1] == ' ');
	ck_assert_ptr_nonnull(table_line(ODD_NAME));
}
END_TEST

START_TEST(ctl_list_pattern)
{
	char out[256];

	three_slots();
	ck_assert_int_eq(ctl("list", "disk*", "--json"), 0);
	json_q(out, sizeof(out), R.out, false, "slots.#", "slots.0.name",
	       "slots.1.name", NULL);
	ck_assert_str_eq(out, "2\n\"disk0\"\n\"disk1\"\n");
	ck_assert_int_eq(ctl("list", "net/*"), 0);
	ck_assert_ptr_nonnull(table_line(ODD_NAME));
	ck_assert_ptr_null(table_line("disk0"));
	ck_assert_int_eq(ctl("list", "nomatch*"), 0);
	ck_assert(!strncmp(R.out, "NAME ", 5));
	ck_assert_ptr_eq(strchr(R.out, '\n'), R.out + strlen(R.out) - 1);
	ck_assert_int_eq(ctl("--json", "list", "nomatch*"), 0);
	json_q(out, sizeof(out), R.out, false, "version", "slots", NULL);
	ck_assert_str_eq(out, "1\n[]\n");
}
END_TEST

START_TEST(ctl_list_json_fields)
{
	struct errseq_slot_info i0, i1;
	char out[4096], want[1024];

	three_slots();
	i0 = stat_of("disk0");
	i1 = stat_of("disk1");
	ck_assert_int_eq(ctl("list", "--json"), 0);
	ck_assert_str_eq(R.err, "");
	json_q(out, sizeof(out), R.out, false, "~keys", "version", "slots.#",
	       "slots.0.~keys",
	       "slots.name=disk0.errno", "slots.name=disk0.errno_name",
	       "slots.name=disk0.counter", "slots.name=disk0.seen",
	       "slots.name=disk0.value", "slots.name=disk0.sets_total",
	       "slots.name=disk0.holders", "slots.name=disk0.creator_uid",
	       "slots.name=disk0.index", "slots.name=disk0.generation",
	       "slots.name=disk0.last_pid", "slots.name=disk0.last_set_ns",
	       "slots.name=disk1.errno", "slots.name=disk1.errno_name",
	       "slots.name=disk1.last_set", "slots.name=disk1.last_set_ns",
	       "slots.name=disk1.last_pid", "slots.name=disk1.index",
	       "slots.name=" ODD_NAME ".name", NULL);
	snprintf(want, sizeof(want),
		 "[\"slots\",\"version\"]\n1\n3\n"
		 "[\"counter\",\"created\",\"created_ns\",\"creator_uid\","
		 "\"errno\",\"errno_name\",\"generation\",\"holders\","
		 "\"index\",\"last_pid\",\"last_set\",\"last_set_ns\","
		 "\"name\",\"seen\",\"sets_total\",\"value\"]\n"
		 "5\n\"EIO\"\n0\nfalse\n5\n1\n0\n%u\n%u\n%u\n%d\n%llu\n"
		 "0\nnull\nnull\n0\n0\n%u\n\"" ODD_NAME "\"\n",
		 (unsigned)geteuid(), i0.index, i0.generation,
		 (int)i0.last_pid, (unsigned long long)i0.last_set_ns,
		 i1.index);
	ck_assert_str_eq(out, want);

	json_q(out, sizeof(out), R.out, false, "slots.name=disk0.last_set",
	       "slots.name=disk0.created", NULL);
	ck_assert_msg(matches("^" ISO_UTC "\n" ISO_UTC "\n$", out), "%s", out);
}
END_TEST

START_TEST(ctl_stat_json_and_text)
{
	char out[1024], line[128];
	struct errseq_slot_info info;

	three_slots();
	info = stat_of("disk0");
	ck_assert_int_eq(ctl("stat", "disk0", "--json"), 0);
	json_q(out, sizeof(out), R.out, false, "~keys", "version", "slot.name",
	       "slot.errno", "slot.errno_name", "slot.seen", "slot.sets_total",
	       "slot.index", NULL);
	snprintf(line, sizeof(line), "[\"slot\",\"version\"]\n1\n\"disk0\"\n"
		 "5\n\"EIO\"\nfalse\n1\n%u\n", info.index);
	ck_assert_str_eq(out, line);
	ck_assert_int_eq(ctl("-j", "stat", ODD_NAME), 0);
	json_q(out, sizeof(out), R.out, false, "slot.name", "slot.errno",
	       "slot.errno_name", NULL);
	ck_assert_str_eq(out, "\"" ODD_NAME "\"\n0\nnull\n");

	ck_assert_int_eq(ctl("stat", "disk0"), 0);
	ck_assert(!strncmp(R.out, "name:        disk0\n", 19));
	ck_assert_ptr_nonnull(strstr(R.out, "\nerrno:       EIO (5: "));
	ck_assert_ptr_nonnull(strstr(R.out, "\nvalue:       0x00000005\n"));
	ck_assert_ptr_nonnull(strstr(R.out, "\nseen:        no\n"));
	ck_assert_ptr_nonnull(strstr(R.out, "\nsets total:  1\n"));
	snprintf(line, sizeof(line), "\nindex:       %u\n", info.index);
	ck_assert_ptr_nonnull(strstr(R.out, line));

	ck_assert_int_eq(ctl("stat", "nosuch"), 1);
	ck_assert_str_eq(R.out, "");
	ck_assert_str_eq(R.err, "errseqctl: stat: no such slot 'nosuch'\n");
}
END_TEST

START_TEST(ctl_list_and_stat_do_not_consume)
{
	struct errseq_slot *s;
	struct errseq_cursor *cur;
	struct errseq_slot_info info;

	three_slots();
	ck_assert_int_eq(ctl("list"), 0);
	ck_assert_int_eq(ctl("list", "--json"), 0);
	ck_assert_int_eq(ctl("list", "--prometheus"), 0);
	ck_assert_int_eq(ctl("list", "disk0"), 0);
	ck_assert_int_eq(ctl("stat", "disk0"), 0);
	ck_assert_int_eq(ctl("stat", "disk0", "--json"), 0);
	ck_assert_int_eq(ctl("status"), 0);

	info = stat_of("disk0");
	ck_assert_uint_eq(info.value, 5);	/* EIO, SEEN clear, counter 0 */
	ck_assert_uint_eq(info.value & ERRSEQ_SEEN, 0);

	/* a new cursor still gets the pending error, once */
	ck_assert_int_eq(errseq_slot_open(cl, "disk0", 0, &s), 0);
	ck_assert_int_eq(errseq_cursor_new(s, &cur), 0);
	ck_assert_int_eq(errseq_cursor_check(cur), -EIO);
	ck_assert_int_eq(errseq_cursor_check(cur), 0);
	errseq_cursor_free(cur);
	errseq_slot_close(s);

	/* and now list shows it consumed */
	ck_assert_int_eq(ctl("stat", "disk0", "--json"), 0);
	{
		char out[64];

		json_q(out, sizeof(out), R.out, false, "slot.seen",
		       "slot.value", NULL);
		ck_assert_str_eq(out, "true\n4101\n");	/* 5 | 0x1000 */
	}
}
END_TEST

/* Check a Prometheus exposition: every line is HELP, TYPE or a sample of
 * the family last typed, with a slot label.  Returns the sample count. */
static int check_prometheus(const char *text)
{
	const char *help = "^# HELP (errseq_[a-z_]+) [^\n]+$";
	const char *type = "^# TYPE (errseq_[a-z_]+) (gauge|counter)$";
	const char *sample = "^(errseq_[a-z_]+)\\{slot=\"([^\"\\\\\n]|\\\\[\\\\\"n])*\"\\} "
			     "[0-9]+(\\.[0-9]+)?$";
	regex_t rh, rt, rs;
	char family[128] = "", line[1024];
	int samples = 0;
	bool typed = false;

	ck_assert_int_eq(regcomp(&rh, help, REG_EXTENDED), 0);
	ck_assert_int_eq(regcomp(&rt, type, REG_EXTENDED), 0);
	ck_assert_int_eq(regcomp(&rs, sample, REG_EXTENDED), 0);
	ck_assert(text[0] != '\0' && text[strlen(text) - 1] == '\n');
	for (const char *p = text; *p;) {
		const char *nl = strchr(p, '\n');
		regmatch_t m[3];
		size_t len = (size_t)(nl - p);

		ck_assert_uint_lt(len, sizeof(line));
		memcpy(line, p, len);
		line[len] = '\0';
		p = nl + 1;
		if (!regexec(&rh, line, 2, m, 0)) {
			snprintf(family, sizeof(family), "%.*s",
				 (int)(m[1].rm_eo - m[1].rm_so),
				 line + m[1].rm_so);
			typed = false;
		} else if (!regexec(&rt, line, 3, m, 0)) {
			ck_assert_msg(!strncmp(line + 7, family, strlen(family)) &&
				      line[7 + strlen(family)] == ' ',
				      "TYPE of another family: %s", line);
			ck_assert(!typed);
			typed = true;
		} else if (!regexec(&rs, line, 2, m, 0)) {
			ck_assert_msg(typed && (size_t)(m[1].rm_eo - m[1].rm_so) ==
				      strlen(family) &&
				      !strncmp(line, family, strlen(family)),
				      "sample outside its family: %s", line);
			samples++;
		} else {
			ck_abort_msg("not a Prometheus line: '%s'", line);
		}
	}
	regfree(&rh);
	regfree(&rt);
	regfree(&rs);
	return samples;
}

START_TEST(ctl_list_prometheus_format)
{
	three_slots();
	ck_assert_int_eq(ctl("set", "disk0", "EIO"), 0);
	ck_assert_int_eq(ctl("list", "--prometheus"), 0);
	ck_assert_str_eq(R.err, "");
	ck_assert_int_eq(check_prometheus(R.out), 6 * 3);
	ck_assert_ptr_nonnull(strstr(R.out, "\n# TYPE errseq_slot_errno gauge\n"));
	ck_assert_ptr_nonnull(strstr(R.out, "\n# TYPE errseq_slot_sets_total counter\n"));
	ck_assert_ptr_nonnull(strstr(R.out, "\nerrseq_slot_errno{slot=\"disk0\"} 5\n"));
	ck_assert_ptr_nonnull(strstr(R.out, "\nerrseq_slot_errno{slot=\"disk1\"} 0\n"));
	ck_assert_ptr_nonnull(strstr(R.out, "\nerrseq_slot_counter{slot=\"disk0\"} 0\n"));
	ck_assert_ptr_nonnull(strstr(R.out, "\nerrseq_slot_seen{slot=\"disk0\"} 0\n"));
	ck_assert_ptr_nonnull(strstr(R.out, "\nerrseq_slot_sets_total{slot=\"disk0\"} 2\n"));
	ck_assert_ptr_nonnull(strstr(R.out, "\nerrseq_slot_sets_total{slot=\"" ODD_NAME "\"} 0\n"));
	ck_assert_ptr_nonnull(strstr(R.out, "\nerrseq_slot_holders{slot=\"disk1\"} 0\n"));

	ck_assert_int_eq(ctl("--prometheus", "list", "disk1"), 0);
	ck_assert_int_eq(check_prometheus(R.out), 6);
	ck_assert_ptr_null(strstr(R.out, "disk0"));
}
END_TEST

START_TEST(ctl_list_many_slots)
{
	/* past the 8192 slots errseqctl measures first, and many pages */
	enum { N = 8300 };
	struct esdt_daemon big;
	struct errseq_client *c2;
	char name[32], out[256];
	int lines = 0;

	ck_assert_int_eq(esdt_daemon_start(&big, N + 100, NULL), 0);
	ck_assert_int_eq(errseq_client_open(big.sock, &c2), 0);
	for (int i = 0; i < N; i++) {
		struct errseq_slot *s;

		snprintf(name, sizeof(name), "s%05d", i);
		ck_assert_int_eq(errseq_slot_open(c2, name, ERRSEQ_CREATE, &s), 0);
		if (i % 1000 == 7)
			ck_assert_int_eq(errseq_slot_set(s, -EIO), 0);
		errseq_slot_close(s);
	}
	ck_assert_int_eq(ctl_env(big.sock, "list", "--json", (const char *)NULL), 0);
	json_q(out, sizeof(out), R.out, false, "slots.#", "slots.name=s00000.errno",
	       "slots.name=s08299.errno", "slots.name=s08007.errno_name", NULL);
	ck_assert_str_eq(out, "8300\n0\n0\n\"EIO\"\n");

	ck_assert_int_eq(ctl_env(big.sock, "list", (const char *)NULL), 0);
	for (const char *p = R.out; *p; p++)
		lines += *p == '\n';
	ck_assert_int_eq(lines, N + 1);
	ck_assert_ptr_nonnull(table_line("s08299"));
	ck_assert_ptr_nonnull(table_line("s00000"));

	ck_assert_int_eq(ctl_env(big.sock, "list", "--prometheus", (const char *)NULL), 0);
	ck_assert_int_eq(check_prometheus(R.out), 6 * N);
	ck_assert_ptr_nonnull(strstr(R.out, "\nerrseq_slot_errno{slot=\"s08007\"} 5\n"));

	ck_assert_int_eq(ctl_env(big.sock, "list", "s081*", "--json", (const char *)NULL), 0);
	json_q(out, sizeof(out), R.out, false, "slots.#", NULL);
	ck_assert_str_eq(out, "100\n");

	errseq_client_close(c2);
	esdt_daemon_cleanup(&big);
}
END_TEST

START_TEST(ctl_status_json_and_text)
{
	char out[512], want[512];

	three_slots();
	wait_clients(1);	/* earlier errseqctl runs have gone */
	ck_assert_int_eq(ctl("status", "--json"), 0);
	json_q(out, sizeof(out), R.out, false, "~keys", "version", "status.pid",
	       "status.daemon_version", "status.capacity", "status.slots_used",
	       "status.slots_held", "status.clients", NULL);
	/* clients: this test's connection and errseqctl's own */
	snprintf(want, sizeof(want), "[\"status\",\"version\"]\n1\n%d\n\"%s\"\n"
		 "64\n3\n0\n2\n", (int)d.pid, PACKAGE_VERSION);
	ck_assert_str_eq(out, want);

	ck_assert_int_eq(ctl("status"), 0);
	snprintf(want, sizeof(want), "pid:          %d\n", (int)d.pid);
	ck_assert(!strncmp(R.out, want, strlen(want)));
	ck_assert_ptr_nonnull(strstr(R.out, "\nversion:      " PACKAGE_VERSION "\n"));
	ck_assert_ptr_nonnull(strstr(R.out, "\ncapacity:     64 slots\n"));
	ck_assert_ptr_nonnull(strstr(R.out, "\nslots used:   3\n"));
	ck_assert_msg(matches("\nuptime:       ([0-9]+[dhm] )*[0-9]+s\n", R.out),
		      "%s", R.out);
	/* the incarnation as errseqd logs it: 16 hex digits, in both forms */
	ck_assert_msg(matches("\nincarnation:  [0-9a-f]{16}\n", R.out), "%s",
		      R.out);
	ck_assert_int_eq(ctl("status", "--json"), 0);
	json_q(out, sizeof(out), R.out, false, "status.incarnation", NULL);
	ck_assert_msg(matches("^\"[0-9a-f]{16}\"\n$", out), "%s", out);
}
END_TEST

START_TEST(ctl_watch_once_reports_other_process)
{
	struct proc p;
	struct errseq_slot_info info;

	make_slot("w");
	ctl_bg(&p, "watch", "w", "--once", "--timeout", "60", (const char *)NULL);
	wait_holders(&p, "w", 1);
	set_from_child("w", -ENOSPC);
	collect(&p, NULL, &R);
	ck_assert_int_eq(R.status, 0);
	ck_assert_str_eq(R.err, "");
	ck_assert_msg(matches("^" ISO_LOCAL " w ENOSPC \\(28\\) counter=0\n$",
			      R.out), "stdout: %s", R.out);
	info = stat_of("w");
	ck_assert_uint_eq(info.value, 28 | ERRSEQ_SEEN);	/* consumed */
	wait_holders_eq("w", 0);
}
END_TEST

START_TEST(ctl_watch_reports_pending_error)
{
	make_slot("w");
	set_slot("w", -EIO);
	ck_assert_int_eq(ctl("watch", "w", "--once", "--timeout", "60"), 0);
	ck_assert_msg(matches("^" ISO_LOCAL " w EIO \\(5\\) counter=0\n$", R.out),
		      "stdout: %s", R.out);
	/* consumed now: a second watch has nothing to report */
	ck_assert_int_eq(ctl("watch", "w", "--once", "--timeout", "0"), 1);
	ck_assert_str_eq(R.out, "");
	ck_assert_ptr_nonnull(strstr(R.err, "timed out"));
	/* --timeout 0 still reports what is already pending */
	set_slot("w", -EROFS);
	ck_assert_int_eq(ctl("watch", "w", "--once", "--timeout", "0"), 0);
	ck_assert_msg(matches("^" ISO_LOCAL " w EROFS \\(30\\) counter=1\n$", R.out),
		      "stdout: %s", R.out);
}
END_TEST

START_TEST(ctl_watch_once_timeout_exits_1)
{
	make_slot("w");
	ck_assert_int_eq(ctl("watch", "w", "--once", "--timeout", "1"), 1);
	ck_assert_str_eq(R.out, "");
	ck_assert_str_eq(R.err, "errseqctl: watch: timed out after 1 s: "
			 "nothing reported\n");
	wait_holders_eq("w", 0);
}
END_TEST

START_TEST(ctl_watch_timeout_without_once_exits_0)
{
	make_slot("w");
	ck_assert_int_eq(ctl("watch", "w", "--timeout", "0.5"), 0);
	ck_assert_str_eq(R.out, "");
	ck_assert_str_eq(R.err, "");
	set_slot("w", -EIO);
	ck_assert_int_eq(ctl("watch", "--timeout=0.3", "w"), 0);
	ck_assert_msg(matches("^" ISO_LOCAL " w EIO \\(5\\) counter=0\n$", R.out),
		      "stdout: %s", R.out);
}
END_TEST

START_TEST(ctl_watch_json_lines)
{
	char out[512];

	make_slot("w");
	set_slot("w", -ENOSPC);
	ck_assert_int_eq(ctl("watch", "--json", "w", "--once", "--timeout", "60"), 0);
	json_q(out, sizeof(out), R.out, true, "#", "0.~keys", "0.version",
	       "0.slot", "0.errno", "0.errno_name", "0.counter", NULL);
	ck_assert_str_eq(out, "1\n[\"counter\",\"errno\",\"errno_name\",\"slot\","
			 "\"time\",\"time_ns\",\"version\"]\n1\n\"w\"\n28\n"
			 "\"ENOSPC\"\n0\n");
	json_q(out, sizeof(out), R.out, true, "0.time", NULL);
	ck_assert_msg(matches("^" ISO_UTC "\n$", out), "%s", out);
}
END_TEST

START_TEST(ctl_watch_several_slots_until_sigterm)
{
	struct proc p;

	make_slot("a");
	make_slot("b");
	ctl_bg(&p, "watch", "a", "b", (const char *)NULL);
	wait_holders(&p, "a", 1);
	wait_holders(&p, "b", 1);
	set_from_child("a", -EIO);
	wait_seen("a");
	set_from_child("b", -ENOSPC);
	wait_seen("b");
	set_from_child("a", -EIO);	/* after a consumed EIO: counter 1 */
	wait_seen("a");
	ck_assert_int_eq(kill(p.pid, SIGTERM), 0);
	collect(&p, NULL, &R);
	ck_assert_int_eq(R.status, 0);
	ck_assert_str_eq(R.err, "");
	ck_assert_msg(matches("^" ISO_LOCAL " a EIO \\(5\\) counter=0\n"
			      ISO_LOCAL " b ENOSPC \\(28\\) counter=0\n"
			      ISO_LOCAL " a EIO \\(5\\) counter=1\n$", R.out),
		      "stdout: %s", R.out);
	wait_holders_eq("a", 0);
}
END_TEST

START_TEST(ctl_watch_once_several_slots)
{
	struct proc p;

	make_slot("a");
	make_slot("b");
	ctl_bg(&p, "watch", "a", "b", "--once", (const char *)NULL);
	wait_holders(&p, "a", 1);
	wait_holders(&p, "b", 1);
	set_from_child("b", -EROFS);
	collect(&p, NULL, &R);
	ck_assert_int_eq(R.status, 0);
	ck_assert_msg(matches("^" ISO_LOCAL " b EROFS \\(30\\) counter=0\n$", R.out),
		      "stdout: %s", R.out);
	ck_assert_uint_eq(stat_of("a").value, 0);
}
END_TEST

/* --once with errors pending on several slots: exactly one is reported,
 * and only that one is consumed; the others stay pending (SEEN clear) for
 * the next watcher.  (A regression: every thread used to consume.) */
START_TEST(ctl_watch_once_consumes_only_its_report)
{
	const char *names[3] = { "p1", "p2", "p3" };
	const int errs[3] = { EIO, ENOSPC, EBADF };
	int seen = 0;

	for (int i = 0; i < 3; i++) {
		make_slot(names[i]);
		set_slot(names[i], -errs[i]);
	}
	for (int round = 0; round < 3; round++) {
		ck_assert_int_eq(ctl("watch", "p1", "p2", "p3", "--once",
				     "--timeout", "60"), 0);
		ck_assert_msg(matches("^" ISO_LOCAL " p[123] E[A-Z]+ \\([0-9]+\\) "
				      "counter=0\n$", R.out), "stdout: %s", R.out);
		seen = 0;
		for (int i = 0; i < 3; i++) {
			errseq_t v = stat_of(names[i]).value;

			ck_assert_uint_eq(v & ERRSEQ_MAX_ERRNO, (unsigned)errs[i]);
			seen += (v & ERRSEQ_SEEN) != 0;
		}
		/* one more consumed per round, the rest still pending */
		ck_assert_int_eq(seen, round + 1);
	}
	/* all consumed now: nothing left to report */
	ck_assert_int_eq(ctl("watch", "p1", "p2", "p3", "--once", "--timeout",
			     "0"), 1);
}
END_TEST

START_TEST(ctl_watch_sigint_exits_0)
{
	struct proc p;

	make_slot("w");
	ctl_bg(&p, "watch", "w", (const char *)NULL);
	wait_holders(&p, "w", 1);
	ck_assert_int_eq(kill(p.pid, SIGINT), 0);
	collect(&p, NULL, &R);
	ck_assert_int_eq(R.status, 0);
	ck_assert_str_eq(R.out, "");
	ck_assert_str_eq(R.err, "");
}
END_TEST

START_TEST(ctl_watch_deleted_slot_exits_1)
{
	struct proc p;

	make_slot("w");
	ctl_bg(&p, "watch", "w", (const char *)NULL);
	wait_holders(&p, "w", 1);
	ck_assert_int_eq(errseq_slot_unlink(cl, "w"), 0);
	collect(&p, NULL, &R);
	ck_assert_int_eq(R.status, 1);
	ck_assert_str_eq(R.out, "");
	ck_assert_str_eq(R.err, "errseqctl: watch: slot 'w' was deleted (or "
			 "the segment replaced): reopen it by name\n");
}
END_TEST

START_TEST(ctl_watch_missing_slot_exits_1)
{
	make_slot("a");
	ck_assert_int_eq(ctl("watch", "a", "nosuch", "--once"), 1);
	ck_assert_str_eq(R.out, "");
	ck_assert_str_eq(R.err, "errseqctl: watch: no such slot 'nosuch'\n");
	wait_holders_eq("a", 0);
}
END_TEST

START_TEST(ctl_unnamed_errno_shown_as_number)
{
	char f[10][160], out[128];

	make_slot("u");
	ck_assert_int_eq(ctl("set", "u", "200"), 0);
	ck_assert_int_eq(ctl("list"), 0);
	ck_assert_int_eq(fields(table_line("u"), f, 10), 8);
	ck_assert_str_eq(f[1], "200");
	ck_assert_int_eq(ctl("stat", "u", "--json"), 0);
	json_q(out, sizeof(out), R.out, false, "slot.errno", "slot.errno_name",
	       NULL);
	ck_assert_str_eq(out, "200\nnull\n");
	ck_assert_int_eq(ctl("set", "u", "-132"), 0);
	ck_assert_int_eq(ctl("list"), 0);
	ck_assert_int_eq(fields(table_line("u"), f, 10), 8);
	ck_assert_str_eq(f[1], "ERFKILL");
}
END_TEST

START_TEST(ctl_dash_names_after_double_dash)
{
	make_slot("-dash");
	ck_assert_int_eq(ctl("stat", "-dash"), 2);	/* read as options */
	ck_assert_int_eq(ctl("stat", "--", "-dash"), 0);
	ck_assert(!strncmp(R.out, "name:        -dash\n", 19));
	ck_assert_int_eq(ctl("-s", d.sock, "--", "set", "-dash", "-28"), 0);
	ck_assert_uint_eq(stat_of("-dash").value, 28);
}
END_TEST

static Suite *ctl_suite(void)
{
	Suite *s = suite_create("ctl");
	TCase *unit = tcase_create("format");
	TCase *cmdline = tcase_create("cmdline");
	TCase *live = tcase_create("daemon");

	tcase_add_test(unit, ctl_errno_names_cover_linux);
	tcase_add_test(unit, ctl_errno_parse_forms);
	tcase_add_test(unit, ctl_json_string_escapes);
	tcase_add_test(unit, ctl_prom_label_escapes);
	tcase_add_test(unit, ctl_duration_formats);
	tcase_add_test(unit, ctl_iso_time_formats);
	suite_add_tcase(s, unit);

	tcase_add_checked_fixture(cmdline, setup_common, teardown_common);
	tcase_add_test(cmdline, ctl_help_exits_0);
	tcase_add_test(cmdline, ctl_version_exits_0);
	tcase_add_test(cmdline, ctl_unknown_command_exits_2);
	tcase_add_test(cmdline, ctl_usage_errors_exit_2);
	tcase_add_test(cmdline, ctl_no_daemon_exits_1);
	suite_add_tcase(s, cmdline);

	tcase_add_checked_fixture(live, setup_daemon, teardown_daemon);
	/* Check's default of 4 s is short for 8300 slots under sanitizers;
	 * `make check` sets its own default through CK_DEFAULT_TIMEOUT */
	if (!getenv("CK_DEFAULT_TIMEOUT"))
		tcase_set_timeout(live, 120);
	tcase_add_test(live, ctl_daemon_killed_connection_refused);
	tcase_add_test(live, ctl_create_twice_exits_1);
	tcase_add_test(live, ctl_delete_missing_exits_1);
	tcase_add_test(live, ctl_set_accepts_name_and_numbers);
	tcase_add_test(live, ctl_set_invalid_err_exits_2);
	tcase_add_test(live, ctl_set_missing_slot_exits_1);
	tcase_add_test(live, ctl_list_table);
	tcase_add_test(live, ctl_list_pattern);
	tcase_add_test(live, ctl_list_json_fields);
	tcase_add_test(live, ctl_stat_json_and_text);
	tcase_add_test(live, ctl_list_and_stat_do_not_consume);
	tcase_add_test(live, ctl_list_prometheus_format);
	tcase_add_test(live, ctl_list_many_slots);
	tcase_add_test(live, ctl_status_json_and_text);
	tcase_add_test(live, ctl_watch_once_reports_other_process);
	tcase_add_test(live, ctl_watch_reports_pending_error);
	tcase_add_test(live, ctl_watch_once_timeout_exits_1);
	tcase_add_test(live, ctl_watch_timeout_without_once_exits_0);
	tcase_add_test(live, ctl_watch_json_lines);
	tcase_add_test(live, ctl_watch_several_slots_until_sigterm);
	tcase_add_test(live, ctl_watch_once_several_slots);
	tcase_add_test(live, ctl_watch_once_consumes_only_its_report);
	tcase_add_test(live, ctl_watch_sigint_exits_0);
	tcase_add_test(live, ctl_watch_deleted_slot_exits_1);
	tcase_add_test(live, ctl_watch_missing_slot_exits_1);
	tcase_add_test(live, ctl_unnamed_errno_shown_as_number);
	tcase_add_test(live, ctl_dash_names_after_double_dash);
	suite_add_tcase(s, live);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(ctl_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
