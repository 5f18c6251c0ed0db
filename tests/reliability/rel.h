/*
 * rel.h - helpers shared by the reliability suite's programs (issue 5).
 *
 * Each program in tests/reliability/ measures one family of figures against
 * the real daemon (started through tests/support/harness.h) and prints every figure
 * as one line "FIGURE <name> <value>" on stdout, so that `make stress` and
 * doc/reliability.md can collect them.  The scale (how many processes, how
 * many operations) comes from $ESDR_SCALE: "ci" (the default, what
 * `make check` runs) or "full" (what `make stress` runs); a lighter scale
 * is used automatically when $ERRSEQD_WRAPPER (valgrind) is set.
 */
#ifndef ERRSEQ_TESTS_REL_H
#define ERRSEQ_TESTS_REL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum rel_scale {
	REL_SCALE_CI = 0,
	REL_SCALE_FULL = 1,
	REL_SCALE_VALGRIND = 2,	/* the daemon runs under $ERRSEQD_WRAPPER */
};

/* The scale this run uses (see the file comment). */
enum rel_scale rel_scale(void);

/* Pick the value for the current scale. */
long rel_pick(long ci, long full, long valgrind);

/* Were we built with AddressSanitizer (then everything is slower)? */
bool rel_sanitized(void);

/* Monotonic clock in nanoseconds. */
uint64_t rel_now_ns(void);

/* Sleep @us microseconds (restarting after signals). */
void rel_sleep_us(long us);

/* Print "FIGURE <name> <value>" (the value printf-formatted) and flush. */
void rel_figure(const char *name, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * rel_shared_alloc - @size bytes of zeroed MAP_SHARED|MAP_ANONYMOUS memory,
 * inherited by every child forked afterwards.  Aborts the test (via Check's
 * ck_abort) on failure.  Free with rel_shared_free.
 */
void *rel_shared_alloc(size_t size);
void rel_shared_free(void *p, size_t size);

/*
 * rel_fork - fork a child that runs @fn(@arg, @idx) and _exits with its
 * return value.  The child gets PR_SET_PDEATHSIG(SIGKILL), so it never
 * outlives the test.  Returns the child's pid (> 0); aborts on failure.
 */
pid_t rel_fork(int (*fn)(void *arg, int idx), void *arg, int idx);

/*
 * rel_reap - wait for @pid and return its exit code, 128 + signal if it was
 * killed, or -1 on a wait error.
 */
int rel_reap(pid_t pid);

/*
 * rel_wait_until - call @pred(@arg) every @step_ms until it returns true or
 * @timeout_ms have passed.  Returns the last value of @pred.  The timeout is
 * a bound on a wait loop, never a measured figure.
 */
bool rel_wait_until(bool (*pred)(void *arg), void *arg, int timeout_ms,
		    int step_ms);

/* A small, fast, per-process PRNG (xorshift64*), seeded by rel_rand_seed. */
void rel_rand_seed(uint64_t seed);
uint64_t rel_rand(void);
/* Uniform in [0, n) (n > 0). */
uint32_t rel_rand_below(uint32_t n);

/* The daemon's VmRSS in KiB (from /proc/PID/status), or -errno. */
long rel_rss_kib(pid_t pid);

/* Raise RLIMIT_NOFILE's soft limit to @want (and the hard limit with it
 * when allowed, as for root), else to the hard limit.  Returns the new
 * soft limit, or -errno. */
long rel_raise_nofile(long want);

/* Is process @pid alive (and not a zombie)? */
bool rel_alive(pid_t pid);

struct esdt_daemon;

/*
 * rel_start, rel_restart - esdt_daemon_start / esdt_daemon_restart that
 * fail the test, with the daemon's stderr copied to ours, unless the
 * daemon came up.
 */
void rel_start(struct esdt_daemon *d, unsigned slots,
	       const char *const *extra);
void rel_restart(struct esdt_daemon *d, const char *const *extra);

/*
 * rel_stop_clean - stop the daemon with SIGTERM and require exit code 0
 * (under $ERRSEQD_WRAPPER="valgrind ... --error-exitcode=99" that also
 * means no memory error and no leak).  Otherwise the daemon's stderr
 * (valgrind's report included) is copied to ours and the test fails.
 */
void rel_stop_clean(struct esdt_daemon *d);

/*
 * rel_suite - the suite "reliability_<name>" with one test case <name>,
 * already added, whose timeout allows full scale (minutes).  The case is
 * returned in *@tc for the tests.  Call it once per program (the suite
 * name lives in static storage).  rel_run - run @s and free it; returns
 * the program's exit status.
 */
struct Suite;
struct TCase;
struct Suite *rel_suite(const char *name, struct TCase **tc);
int rel_run(struct Suite *s);

#endif /* ERRSEQ_TESTS_REL_H */
