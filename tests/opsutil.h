/*
 * opsutil.h - helpers for the operator-tool tests (test_ops_ctl,
 * test_exporter, test_prometheus, test_status_page): run a program and
 * capture its output, start errseq-exporter on a loopback port, fetch a
 * URL with a bounded wait, and find a program in $PATH.
 *
 * Every child gets PR_SET_PDEATHSIG(SIGKILL), so it dies with the test
 * process even when a failed check ends the test early.  Functions return
 * negative errno on failure; none calls Check's assertions, so they can be
 * used from any test.
 */
#ifndef ERRSEQ_TESTS_OPSUTIL_H
#define ERRSEQ_TESTS_OPSUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct ops_run {
	int status;		/* exit code, or 128 + signal */
	char *out;		/* stdout, NUL-terminated (malloc'ed) */
	size_t out_len;
	char err[16384];	/* stderr, NUL-terminated, may be cut */
};

/*
 * ops_run - run @argv (argv[0] a path) to completion, with $ERRSEQD_SOCKET
 * set to @sock (unset if NULL) and stdin from /dev/null.  Its stdout goes
 * to the file @stdout_path if given (out is then empty), else is captured.
 * Waits at most @timeout_ms (then SIGKILL; status 128 + 9).  Returns 0 and
 * fills *@r (free r->out), or -errno.
 */
int ops_run(const char *const *argv, const char *sock, const char *stdout_path,
	    int timeout_ms, struct ops_run *r);

/* ops_bin - $@env if set and non-empty, else @fallback. */
const char *ops_bin(const char *env, const char *fallback);

/* ops_which - the full path of @prog found in $PATH (static buffer), or
 * NULL. */
const char *ops_which(const char *prog);

struct ops_exporter {
	pid_t pid;
	int port;
	int err_fd;		/* its stderr (read end), drained on stop */
};

/*
 * ops_exporter_start - start $ERRSEQ_EXPORTER_BIN with --socket @sock,
 * --listen 127.0.0.1:0 and the NULL-terminated @extra arguments, and wait
 * (up to 30 s) for its "listening on" line to learn the port.  Under
 * AddressSanitizer it runs without quarantine (ASAN_OPTIONS), so that its
 * RSS is comparable from one scrape to the next.
 * Returns 0 or -errno (-ECHILD: it exited).
 */
int ops_exporter_start(struct ops_exporter *x, const char *sock,
		       const char *const *extra);

/* ops_exporter_stop - SIGTERM, reap; returns the wait status or -errno. */
int ops_exporter_stop(struct ops_exporter *x);

/*
 * ops_http_get - GET http://127.0.0.1:@port@path (HTTP/1.0, so the server
 * closes).  Waits at most @timeout_ms in all.  Returns the status code and
 * sets *@body (malloc'ed, NUL-terminated, headers stripped; *@hdr too if
 * not NULL), or -errno (-ETIMEDOUT).
 */
int ops_http_get(int port, const char *path, int timeout_ms, char **body,
		 char **hdr);

/* ops_connect - a TCP connection to 127.0.0.1:@port, or -errno. */
int ops_connect(int port);

/* ops_rss_kb - VmRSS of @pid in kB, or -errno. */
long ops_rss_kb(pid_t pid);

/* ops_count - occurrences of @needle in @hay. */
size_t ops_count(const char *hay, const char *needle);

#endif /* ERRSEQ_TESTS_OPSUTIL_H */
