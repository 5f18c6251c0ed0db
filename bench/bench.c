/*
 * bench.c - shared helpers of errseqd's benchmarks: options, clocks,
 * medians and percentiles, the results table and its JSON, and starting a
 * private daemon through tests/support/harness.h.  See bench.h for the contracts.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench.h"

#define MAX_ROWS 128

struct bench_opts bench_opts;

static struct bench_row rows[MAX_ROWS];
static int nrows;
static pid_t main_pid;
static char start_load[64];	/* /proc/loadavg at bench_init */
static cpu_set_t orig_affinity;	/* the CPUs we were given at start */
static int have_affinity;

/* /proc/loadavg's first three fields, or "?". */
static void loadavg(char *buf, size_t len)
{
	FILE *f = fopen("/proc/loadavg", "r");
	double a = 0, b = 0, c = 0;

	if (f && fscanf(f, "%lf %lf %lf", &a, &b, &c) == 3)
		snprintf(buf, len, "%.2f %.2f %.2f", a, b, c);
	else
		snprintf(buf, len, "?");
	if (f)
		fclose(f);
}

int bench_init(int argc, char **argv, const char *prog, int default_reps)
{
	const char *env;
	int out = 1;

	main_pid = getpid();
	loadavg(start_load, sizeof(start_load));
	if (sched_getaffinity(0, sizeof(orig_affinity), &orig_affinity) == 0)
		have_affinity = 1;
	bench_opts.prog = prog;
	bench_opts.out_dir = "bench/results";
	bench_opts.reps = default_reps;
	env = getenv("BENCH_OUT");
	if (env && *env)
		bench_opts.out_dir = env;
	env = getenv("BENCH_REPS");
	if (env && atoi(env) > 0)
		bench_opts.reps = atoi(env);
	env = getenv("BENCH_QUICK");
	if (env && *env && strcmp(env, "0"))
		bench_opts.quick = 1;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--out") && i + 1 < argc) {
			bench_opts.out_dir = argv[++i];
		} else if (!strcmp(argv[i], "--reps") && i + 1 < argc) {
			bench_opts.reps = atoi(argv[++i]);
		} else if (!strcmp(argv[i], "--quick")) {
			bench_opts.quick = 1;
		} else {
			argv[out++] = argv[i];
		}
	}
	argv[out] = NULL;
	if (bench_opts.reps < 1)
		bench_opts.reps = 1;
	if (bench_opts.reps > BENCH_MAX_RUNS)
		bench_opts.reps = BENCH_MAX_RUNS;
	if (bench_opts.quick && bench_opts.reps > 3)
		bench_opts.reps = 3;
	esdt_sweep();
	return out;
}

uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

void bench_sort(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
}

double bench_median(const double *v, size_t n)
{
	double tmp[4096];

	if (n == 0)
		return NAN;
	if (n > 4096)
		n = 4096;
	memcpy(tmp, v, n * sizeof(*v));
	bench_sort(tmp, n);
	if (n % 2)
		return tmp[n / 2];
	return (tmp[n / 2 - 1] + tmp[n / 2]) / 2.0;
}

double bench_pct_sorted(const double *sorted, size_t n, double p)
{
	size_t k;

	if (n == 0)
		return NAN;
	/* nearest rank: the smallest value with at least p of the sample at
	 * or below it */
	k = (size_t)ceil(p * (double)n);
	if (k < 1)
		k = 1;
	if (k > n)
		k = n;
	return sorted[k - 1];
}

struct bench_row *bench_row_add(const char *unit, const char *fmt, ...)
{
	struct bench_row *r;
	va_list ap;

	if (nrows >= MAX_ROWS)
		bench_die("too many result rows");
	r = &rows[nrows++];
	memset(r, 0, sizeof(*r));
	va_start(ap, fmt);
	vsnprintf(r->name, sizeof(r->name), fmt, ap);
	va_end(ap);
	snprintf(r->unit, sizeof(r->unit), "%s", unit);
	r->value = NAN;
	r->base = NAN;
	r->ratio = NAN;
	r->verdict = BENCH_INFO;
	return r;
}

void bench_row_run(struct bench_row *r, double value, double base)
{
	if (r->nruns >= BENCH_MAX_RUNS)
		return;
	r->runs_value[r->nruns] = value;
	r->runs_base[r->nruns] = base;
	r->nruns++;
}

void bench_row_reduce(struct bench_row *r)
{
	double ratios[BENCH_MAX_RUNS], bases[BENCH_MAX_RUNS];
	int nr = 0, nb = 0;

	r->value = bench_median(r->runs_value, (size_t)r->nruns);
	for (int i = 0; i < r->nruns; i++) {
		if (isnan(r->runs_base[i]))
			continue;
		bases[nb++] = r->runs_base[i];
		if (r->runs_base[i] != 0)
			ratios[nr++] = r->runs_value[i] / r->runs_base[i];
	}
	if (nb)
		r->base = bench_median(bases, (size_t)nb);
	if (nr)
		r->ratio = bench_median(ratios, (size_t)nr);
}

static void set_goal(struct bench_row *r, int pass, const char *fmt,
		     va_list ap)
{
	vsnprintf(r->goal, sizeof(r->goal), fmt, ap);
	if (r->verdict != BENCH_SKIP)
		r->verdict = pass ? BENCH_PASS : BENCH_MISS;
}

void bench_goal_le(struct bench_row *r, double x, double limit,
		   const char *goal_fmt, ...)
{
	va_list ap;

	va_start(ap, goal_fmt);
	set_goal(r, !isnan(x) && x <= limit, goal_fmt, ap);
	va_end(ap);
}

void bench_goal_ge(struct bench_row *r, double x, double limit,
		   const char *goal_fmt, ...)
{
	va_list ap;

	va_start(ap, goal_fmt);
	set_goal(r, !isnan(x) && x >= limit, goal_fmt, ap);
	va_end(ap);
}

static void note_v(struct bench_row *r, const char *fmt, va_list ap)
{
	size_t used = strlen(r->note);

	if (used && used + 1 < sizeof(r->note))
		r->note[used++] = ' ';
	if (used < sizeof(r->note))
		vsnprintf(r->note + used, sizeof(r->note) - used, fmt, ap);
}

void bench_skip(struct bench_row *r, const char *fmt, ...)
{
	va_list ap;

	r->verdict = BENCH_SKIP;
	va_start(ap, fmt);
	note_v(r, fmt, ap);
	va_end(ap);
}

void bench_note(struct bench_row *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	note_v(r, fmt, ap);
	va_end(ap);
}

static const char *verdict_str(int v)
{
	switch (v) {
	case BENCH_PASS: return "PASS";
	case BENCH_MISS: return "MISS";
	case BENCH_SKIP: return "SKIP";
	default: return "info";
	}
}

/* A number for the table: 3 significant-ish digits, "-" for NAN. */
static void fmt_num(char *buf, size_t len, double v)
{
	double a = fabs(v);

	if (isnan(v))
		snprintf(buf, len, "-");
	else if (a >= 1e7)
		snprintf(buf, len, "%.3g", v);
	else if (a >= 100 || a == 0)
		snprintf(buf, len, "%.0f", v);
	else if (a >= 10)
		snprintf(buf, len, "%.1f", v);
	else
		snprintf(buf, len, "%.2f", v);
}

static void print_table(FILE *f)
{
	fprintf(f, "| metric | value | runs: min-max | baseline (same "
		   "run) | ratio | goal | result |\n"
		   "|---|---|---|---|---|---|---|\n");
	for (int i = 0; i < nrows; i++) {
		const struct bench_row *r = &rows[i];
		char v[32], b[32], q[32], lo[32], hi[32];
		double mn = NAN, mx = NAN;

		for (int k = 0; k < r->nruns; k++) {
			if (isnan(mn) || r->runs_value[k] < mn)
				mn = r->runs_value[k];
			if (isnan(mx) || r->runs_value[k] > mx)
				mx = r->runs_value[k];
		}
		fmt_num(v, sizeof(v), r->value);
		fmt_num(b, sizeof(b), r->base);
		fmt_num(q, sizeof(q), r->ratio);
		fmt_num(lo, sizeof(lo), mn);
		fmt_num(hi, sizeof(hi), mx);
		fprintf(f, "| %s | %s %s | %s%s%s | %s%s%s | %s%s | %s | %s |\n",
			r->name, v, isnan(r->value) ? "" : r->unit,
			r->nruns > 1 ? lo : "-", r->nruns > 1 ? "-" : "",
			r->nruns > 1 ? hi : "",
			r->base_name, r->base_name[0] ? ": " : "",
			isnan(r->base) ? "-" : b,
			q, isnan(r->ratio) ? "" : "x",
			r->goal[0] ? r->goal : "-", verdict_str(r->verdict));
	}
	for (int i = 0; i < nrows; i++)
		if (rows[i].note[0])
			fprintf(f, "- %s: %s\n", rows[i].name, rows[i].note);
}

/* @s as a JSON string body (quotes and backslashes escaped). */
static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void json_num(FILE *f, double v)
{
	if (isnan(v) || isinf(v))
		fputs("null", f);
	else
		fprintf(f, "%.6g", v);
}

static void cpu_model(char *buf, size_t len)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[512];

	snprintf(buf, len, "unknown");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':');

		if (!strncmp(line, "model name", 10) && colon) {
			colon += 2;
			colon[strcspn(colon, "\n")] = '\0';
			snprintf(buf, len, "%s", colon);
			break;
		}
	}
	fclose(f);
}

static void write_json(FILE *f)
{
	struct utsname u;
	char model[256];

	uname(&u);
	cpu_model(model, sizeof(model));
	fprintf(f, "{\n  \"program\": ");
	json_str(f, bench_opts.prog);
	fprintf(f, ",\n  \"reps\": %d,\n  \"quick\": %s,\n", bench_opts.reps,
		bench_opts.quick ? "true" : "false");
	fprintf(f, "  \"machine\": {\"nproc\": %ld, \"cpu\": ",
		sysconf(_SC_NPROCESSORS_ONLN));
	json_str(f, model);
	fprintf(f, ", \"kernel\": ");
	json_str(f, u.release);
#ifdef __VERSION__
	fprintf(f, ", \"compiler\": ");
	json_str(f, __VERSION__);
#endif
	fprintf(f, "},\n  \"results\": [\n");
	for (int i = 0; i < nrows; i++) {
		const struct bench_row *r = &rows[i];

		fprintf(f, "    {\"name\": ");
		json_str(f, r->name);
		fprintf(f, ", \"unit\": ");
		json_str(f, r->unit);
		fprintf(f, ", \"value\": ");
		json_num(f, r->value);
		fprintf(f, ", \"baseline_name\": ");
		json_str(f, r->base_name);
		fprintf(f, ", \"baseline\": ");
		json_num(f, r->base);
		fprintf(f, ", \"ratio\": ");
		json_num(f, r->ratio);
		fprintf(f, ", \"goal\": ");
		json_str(f, r->goal);
		fprintf(f, ", \"result\": ");
		json_str(f, verdict_str(r->verdict));
		fprintf(f, ", \"note\": ");
		json_str(f, r->note);
		fprintf(f, ", \"runs\": [");
		for (int k = 0; k < r->nruns; k++) {
			fprintf(f, "%s", k ? ", " : "");
			json_num(f, r->runs_value[k]);
		}
		fprintf(f, "], \"runs_baseline\": [");
		for (int k = 0; k < r->nruns; k++) {
			fprintf(f, "%s", k ? ", " : "");
			json_num(f, r->runs_base[k]);
		}
		fprintf(f, "]}%s\n", i + 1 < nrows ? "," : "");
	}
	fprintf(f, "  ]\n}\n");
}

/* mkdir -p for a relative or absolute directory path. */
static int mkdirs(const char *dir)
{
	char path[512];

	if (snprintf(path, sizeof(path), "%s", dir) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int bench_finish(void)
{
	char load[64];
	static const char legend[] =
		"value and baseline: each the median over the runs; ratio: "
		"the median of the per-run ratios value/baseline (baseline "
		"measured next to the value in the same run), so it need not "
		"equal value/baseline.";
	char path[600];
	FILE *f;
	int r;

	loadavg(load, sizeof(load));
	printf("\n## %s (median of %d runs%s)\n\n%s Load average when "
	       "done: %s (start: %s).\n\n", bench_opts.prog, bench_opts.reps,
	       bench_opts.quick ? ", --quick" : "", legend, load, start_load);
	print_table(stdout);
	fflush(stdout);

	r = mkdirs(bench_opts.out_dir);
	if (r < 0) {
		fprintf(stderr, "%s: cannot create %s: %s\n", bench_opts.prog,
			bench_opts.out_dir, strerror(-r));
		return r;
	}
	snprintf(path, sizeof(path), "%s/%s.json", bench_opts.out_dir,
		 bench_opts.prog);
	f = fopen(path, "w");
	if (!f)
		return -errno;
	write_json(f);
	if (fclose(f) != 0)
		return -errno;
	snprintf(path, sizeof(path), "%s/%s.txt", bench_opts.out_dir,
		 bench_opts.prog);
	f = fopen(path, "w");
	if (!f)
		return -errno;
	fprintf(f, "## %s (median of %d runs%s)\n\n%s Load average when "
		"done: %s (start: %s).\n\n", bench_opts.prog, bench_opts.reps,
		bench_opts.quick ? ", --quick" : "", legend, load, start_load);
	print_table(f);
	if (fclose(f) != 0)
		return -errno;
	return 0;
}

int bench_daemon_start(struct esdt_daemon *d, unsigned slots,
		       const char *const *extra)
{
	const char *bin = getenv("ERRSEQD_BIN");
	char log[2048];
	int r;

	if (!bin || !*bin)
		bin = "daemon/errseqd";
	if (access(bin, X_OK) < 0) {
		fprintf(stderr, "%s: no errseqd at %s (set ERRSEQD_BIN)\n",
			bench_opts.prog, bin);
		return -ENOENT;
	}
	r = esdt_daemon_start(d, slots, extra);
	if (r < 0) {
		esdt_read_log(d, log, sizeof(log));
		fprintf(stderr, "%s: errseqd did not start (%s): %s\n",
			bench_opts.prog, strerror(-r), log);
		esdt_daemon_cleanup(d);
	}
	return r;
}

int bench_pin_cpu(int cpu)
{
	return bench_pin_tid(0, cpu);
}

int bench_pin_tid(pid_t tid, int cpu)
{
	cpu_set_t one;
	int n;

	if (!have_affinity)
		return -ENOSYS;
	n = CPU_COUNT(&orig_affinity);
	if (n < 2)
		return 0;
	cpu %= n;
	CPU_ZERO(&one);
	for (int i = 0, k = 0; i < CPU_SETSIZE; i++) {
		if (!CPU_ISSET(i, &orig_affinity))
			continue;
		if (k++ == cpu) {
			CPU_SET(i, &one);
			break;
		}
	}
	if (sched_setaffinity(tid, sizeof(one), &one) < 0)
		return -errno;
	return 0;
}

int bench_unpin_tid(pid_t tid)
{
	if (!have_affinity)
		return -ENOSYS;
	if (sched_setaffinity(tid, sizeof(orig_affinity), &orig_affinity) < 0)
		return -errno;
	return 0;
}

int bench_unpin(void)
{
	if (!have_affinity)
		return -ENOSYS;
	if (sched_setaffinity(0, sizeof(orig_affinity), &orig_affinity) < 0)
		return -errno;
	return 0;
}

int bench_ncpus(void)
{
	return have_affinity ? CPU_COUNT(&orig_affinity) : 1;
}

long bench_proc_status_kb(pid_t pid, const char *field)
{
	char path[64], line[256];
	size_t flen = strlen(field);
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, field, flen) && line[flen] == ':') {
			kb = strtol(line + flen + 1, NULL, 10);
			break;
		}
	fclose(f);
	return kb;
}

char bench_proc_state(pid_t pid)
{
	char path[64], buf[512];
	char *close_paren;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* "pid (comm) S ...": comm may hold spaces and parentheses */
	close_paren = strrchr(buf, ')');
	if (!close_paren || close_paren[1] != ' ')
		return 0;
	return close_paren[2];
}

void bench_check_deadline(uint64_t deadline_ns, const char *what)
{
	if (bench_now_ns() > deadline_ns)
		bench_die("timed out: %s", what);
}

void bench_die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", bench_opts.prog ? bench_opts.prog : "bench");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	/* A forked helper must not run the harness's atexit cleanup: that
	 * would stop the parent's daemon. */
	if (getpid() != main_pid)
		_exit(2);
	exit(2);
}
