/*
 * ctl_util.c - shared fixture and helpers of errseqctl's tests.
 * See ctl_util.h for the contracts.
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
#include "tests/support/harness.h"

#include "tests/support/ctl_util.h"

struct esdt_daemon d;
struct errseq_client *cl;

struct run R;		/* the last run's results */

const char *ctl_bin(void)
{
	const char *b = getenv("ERRSEQCTL_BIN");

	return b && *b ? b : "ctl/errseqctl";
}

const char *json_check_script(void)
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
void spawn(struct proc *p, const char *const *argv,
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
void collect(struct proc *p, const char *in, struct run *r)
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
void ctl_argv(const char **argv, const char *first, va_list ap)
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
int ctl_env(const char *sock, const char *first, ...)
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

/* Start errseqctl in the background against the test's daemon. */
void ctl_bg(struct proc *p, const char *first, ...)
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
void json_q(char *out, size_t len, const char *json, bool lines,
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

void make_slot(const char *name)
{
	struct errseq_slot *s;

	ck_assert_int_eq(errseq_slot_open(cl, name, ERRSEQ_CREATE | ERRSEQ_EXCL,
					  &s), 0);
	errseq_slot_close(s);
}

void set_slot(const char *name, int err)
{
	struct errseq_slot *s;

	ck_assert_int_eq(errseq_slot_open(cl, name, 0, &s), 0);
	ck_assert_int_eq(errseq_slot_set(s, err), 0);
	errseq_slot_close(s);
}

struct errseq_slot_info stat_of(const char *name)
{
	struct errseq_slot_info info;

	ck_assert_int_eq(errseq_stat(cl, name, &info), 0);
	return info;
}

/* Record @err in @name from a forked process with a client of its own. */
void set_from_child(const char *name, int err)
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

void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, ms % 1000 * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Wait (bounded, 60 s) until @name has at least @n holders: the watcher
 * in @p has opened its slots.  Fails if @p exits first. */
void wait_holders(struct proc *p, const char *name, uint32_t n)
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
void wait_holders_eq(const char *name, uint32_t n)
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
void wait_clients(uint32_t n)
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
void wait_seen(const char *name)
{
	for (int i = 0; i < 6000; i++) {
		if (stat_of(name).value & ERRSEQ_SEEN)
			return;
		sleep_ms(10);
	}
	ck_abort_msg("slot %s never became SEEN", name);
}

bool matches(const char *re, const char *s)
{
	regex_t rx;
	int r;

	ck_assert_int_eq(regcomp(&rx, re, REG_EXTENDED | REG_NOSUB), 0);
	r = regexec(&rx, s, 0, NULL, 0);
	regfree(&rx);
	return r == 0;
}

/* ---- fixtures ---------------------------------------------------------- */

void setup_common(void)
{
	signal(SIGPIPE, SIG_IGN);
	R.out = malloc(OUT_MAX);
	ck_assert_ptr_nonnull(R.out);
}

void setup_daemon(void)
{
	setup_common();
	esdt_sweep();
	ck_assert_int_eq(esdt_daemon_start(&d, 64, NULL), 0);
	ck_assert_int_eq(errseq_client_open(d.sock, &cl), 0);
}

void teardown_daemon(void)
{
	errseq_client_close(cl);
	cl = NULL;
	esdt_daemon_cleanup(&d);
	free(R.out);
}

void teardown_common(void)
{
	free(R.out);
}
