/*
 * ctl_util.h - shared fixture and helpers of errseqctl's tests
 * (tests/ctl/test_*.c).
 *
 * Each daemon-backed case gets a fresh errseqd from
 * tests/support/harness.h (its own socket and shm names) and runs the
 * built errseqctl ($ERRSEQCTL_BIN) as a child process with
 * ERRSEQD_SOCKET (or --socket) pointing at it, capturing stdout,
 * stderr and the exit status (ctl(), results in R).  What errseqctl
 * did is checked through liberrseq-client (errseq_stat, cursors); JSON
 * output is parsed by Python's json module through
 * tests/json_check.py (json_q()), never grepped; Prometheus output is
 * checked line by line with regexes.  No case asserts on wall time:
 * waits are bounded loops on observable state (a slot's holders
 * count, a SEEN bit).
 */
#ifndef ESDT_CTL_UTIL_H
#define ESDT_CTL_UTIL_H

#include <check.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <errseq/client.h>

#include "tests/support/harness.h"

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

extern struct esdt_daemon d;
extern struct errseq_client *cl;
extern struct run R;		/* the last run's results */

/* The errseqctl to run: $ERRSEQCTL_BIN, else ctl/errseqctl. */
const char *ctl_bin(void);

const char *json_check_script(void);

/* Start @argv with ERRSEQD_SOCKET=@sock_env (unset if NULL); stdin from a
 * pipe (closed at once unless @keep_stdin).  The child is killed if the
 * test process dies first. */
void spawn(struct proc *p, const char *const *argv,
	   const char *sock_env, bool keep_stdin);

/* Feed @in (may be NULL) to @p, read its output until EOF, reap it. */
void collect(struct proc *p, const char *in, struct run *r);

/* argv = { errseqctl, args... } from a NULL-terminated va_list. */
void ctl_argv(const char **argv, const char *first, va_list ap);

/* Run errseqctl with the NULL-terminated arguments, ERRSEQD_SOCKET set to
 * @sock; results in R; returns the exit status. */
int ctl_env(const char *sock, const char *first, ...);

/* errseqctl against the test's daemon (through ERRSEQD_SOCKET). */
#define ctl(...) ctl_env(d.sock, __VA_ARGS__, (const char *)NULL)

/* Start errseqctl in the background against the test's daemon. */
void ctl_bg(struct proc *p, const char *first, ...);

/*
 * json_q - run json_check.py on @json with the paths given; its output
 * (one line per path) goes to @out.  Fails the test if the JSON does not
 * parse.
 */
void json_q(char *out, size_t len, const char *json, bool lines,
	    const char *first, ...);

/* ---- helpers on the daemon side ---------------------------------------- */

void make_slot(const char *name);

void set_slot(const char *name, int err);

struct errseq_slot_info stat_of(const char *name);

/* Record @err in @name from a forked process with a client of its own. */
void set_from_child(const char *name, int err);

void sleep_ms(long ms);

/* Wait (bounded, 60 s) until @name has at least @n holders: the watcher
 * in @p has opened its slots.  Fails if @p exits first. */
void wait_holders(struct proc *p, const char *name, uint32_t n);

/* Wait (bounded, 60 s) until @name has exactly @n holders: the daemon
 * drops a departed client's holds when it notices the hang-up, which may
 * come after that client's process has exited. */
void wait_holders_eq(const char *name, uint32_t n);

/* Wait (bounded, 60 s) until the daemon counts @n clients. */
void wait_clients(uint32_t n);

/* Wait (bounded) until the latest error in @name has been consumed. */
void wait_seen(const char *name);

bool matches(const char *re, const char *s);

#define ISO_LOCAL "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}" \
		  "\\.[0-9]{3}[+-][0-9]{2}:[0-9]{2}"

#define ISO_UTC "\"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}" \
		"\\.[0-9]{3}Z\""

/* Usage-only runs point at a socket nobody listens on: a command that got
 * as far as connecting would exit 1, not 2. */
#define NOWHERE "/nonexistent-errseqd-test/errseqd.sock"

#define HINT "Try 'errseqctl --help' for more information.\n"

/* ---- fixtures ---------------------------------------------------------- */

void setup_common(void);

void setup_daemon(void);

void teardown_daemon(void);

void teardown_common(void);
#endif
