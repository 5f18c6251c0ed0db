/*
 * bench.h - shared helpers of errseqd's benchmarks (the programs in bench/).
 *
 * Every benchmark here follows doc/design.md ("Measured costs"): these
 * machines are noisy, so each figure is measured next to a baseline in the
 * same run, repeated (reps, default 7 for loops and 5 for latencies), and
 * reported as the median over the repetitions of the value and of the
 * per-repetition ratio to its baseline.  A program collects its rows with bench_row_*(),
 * then bench_finish() prints them as a Markdown table and writes
 * <out>/<program>.json and <out>/<program>.txt.
 *
 * Nothing here is part of the library; it is built by `make check` (never
 * run there) and run by `make bench`.
 */
#ifndef ERRSEQ_BENCH_BENCH_H
#define ERRSEQ_BENCH_BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "tests/support/harness.h"

/* Keep the compiler from inlining, cloning or analysing a baseline across
 * the call, so it is a real call like the library's out-of-line ones. */
#if defined(__clang__)
#define BENCH_NOINLINE __attribute__((noinline))
#else
#define BENCH_NOINLINE __attribute__((noinline, noipa))
#endif

/* Make @v look used to the optimiser without a store. */
#define BENCH_KEEP(v) __asm__ __volatile__("" : : "r"(v) : "memory")

#define BENCH_MAX_RUNS 32

enum bench_verdict {
	BENCH_INFO = 0,		/* a figure with no goal */
	BENCH_PASS = 1,
	BENCH_MISS = 2,
	BENCH_SKIP = 3,		/* not measured: see note */
};

/* One row of the results table. */
struct bench_row {
	char name[96];		/* what was measured */
	char unit[24];		/* unit of value and base */
	double value;		/* median of runs_value; NAN if skipped */
	char base_name[64];	/* the baseline, "" if none */
	double base;		/* median of runs_base; NAN if none */
	double ratio;		/* median of per-run value/base; NAN if none */
	char goal[48];		/* e.g. "ratio <= 1.2", "" if none */
	int verdict;		/* enum bench_verdict */
	char note[640];
	int nruns;
	double runs_value[BENCH_MAX_RUNS];
	double runs_base[BENCH_MAX_RUNS];
};

/* Global options every program accepts (parsed by bench_init). */
struct bench_opts {
	const char *prog;	/* program name, for the output files */
	const char *out_dir;	/* --out DIR, default "bench/results" */
	int reps;		/* --reps N, default per program */
	int quick;		/* --quick: fewer iterations, for smoke runs */
};

extern struct bench_opts bench_opts;

/*
 * bench_init - parse --out DIR, --reps N and --quick out of argv (other
 * arguments are left, compacted, in argv; returns the new argc), set the
 * defaults ($BENCH_REPS, $BENCH_OUT, $BENCH_QUICK override them) and sweep
 * leftovers of dead benchmark daemons.  Call first in main().
 */
int bench_init(int argc, char **argv, const char *prog, int default_reps);

/* Monotonic clock in nanoseconds. */
uint64_t bench_now_ns(void);

/* Sort @n doubles ascending (in place). */
void bench_sort(double *v, size_t n);

/* The median of @n doubles (sorts a copy; @n <= 4096 or it uses the
 * first 4096).  NAN if n == 0. */
double bench_median(const double *v, size_t n);

/* The p-quantile (0 <= p <= 1, nearest rank) of @n values sorted
 * ascending.  NAN if n == 0. */
double bench_pct_sorted(const double *sorted, size_t n, double p);

/*
 * bench_row_add - append a row named @name (printf format) measured in
 * @unit.  Returns it zeroed, with value/base/ratio NAN and verdict INFO.
 * Never NULL (aborts past a fixed maximum of rows).
 */
struct bench_row *bench_row_add(const char *unit, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Record one repetition: @value and its baseline @base (NAN if none). */
void bench_row_run(struct bench_row *r, double value, double base);

/* Compute value, base and ratio as medians of the recorded runs. */
void bench_row_reduce(struct bench_row *r);

/* Set the goal text and verdict: PASS if @x <= @limit, else MISS (SKIP
 * stays SKIP; a NAN @x is a MISS). */
void bench_goal_le(struct bench_row *r, double x, double limit,
		   const char *goal_fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Same with PASS if @x >= @limit. */
void bench_goal_ge(struct bench_row *r, double x, double limit,
		   const char *goal_fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Mark @r skipped with a reason (printf format). */
void bench_skip(struct bench_row *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Append a sentence to @r's note (printf format). */
void bench_note(struct bench_row *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * bench_finish - print the table to stdout, write <out>/<prog>.json (rows
 * with their per-run figures, plus the machine) and <out>/<prog>.txt (the
 * table).  Returns 0, or -errno if a file could not be written (the table
 * is printed anyway).
 */
int bench_finish(void);

/*
 * bench_daemon_start - start a private errseqd through tests/support/harness.h
 * ($ERRSEQD_BIN, a temporary socket and shm name) with @slots slots and
 * the NULL-terminated @extra arguments.  Returns 0, or a negative errno
 * after printing why to stderr.  Call from the main thread.
 */
int bench_daemon_start(struct esdt_daemon *d, unsigned slots,
		       const char *const *extra);

/* Pin the calling thread to CPU @cpu modulo the CPUs the program was
 * given at start (bench_init).  Returns 0 or -errno; a failure is harmless
 * (the figure is just noisier). */
int bench_pin_cpu(int cpu);

/* The same for thread (or process) @tid; 0 is the calling thread. */
int bench_pin_tid(pid_t tid, int cpu);

/* Give the calling process back every CPU it was given at start. */
int bench_unpin(void);

/* Give thread (or process) @tid every CPU the program was given. */
int bench_unpin_tid(pid_t tid);

/* Number of CPUs the program was given at start. */
int bench_ncpus(void);

/* A field of /proc/@pid/status in kB (e.g. "VmRSS"), or -1. */
long bench_proc_status_kb(pid_t pid, const char *field);

/* The state letter of /proc/@pid/stat ('R', 'S', ...), or 0. */
char bench_proc_state(pid_t pid);

/* Spin-wait helper: abort the program with a message if @deadline_ns
 * (bench_now_ns() scale) has passed.  Call every so many spins. */
void bench_check_deadline(uint64_t deadline_ns, const char *what);

/* Abort with a message (printf format): print to stderr and exit(2); the
 * harness's atexit handler stops any daemon started. */
void bench_die(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));

#endif /* ERRSEQ_BENCH_BENCH_H */
