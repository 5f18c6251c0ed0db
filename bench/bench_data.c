/*
 * bench_data.c - the in-process data path of liberrseq-client, each call
 * against a raw atomic baseline on the same word, and a syscall count.
 *
 *   bench_data [--out DIR] [--reps N] [--quick]
 *
 * Sections:
 *  1. core: errseq_check / errseq_set on a bare errseq_t versus a raw
 *     acquire load and a raw CAS loop (needs only the core functions).
 *  2. slot: errseq_slot_check, errseq_cursor_check, errseq_slot_set on a
 *     slot of a private errseqd versus the same raw operations on the very
 *     same 64-bit slot word, reached through our own mapping of the data
 *     segment (shm_open of the name the harness gave the daemon).
 *     The same checks built with ERRSEQ_INLINE against an inline acquire
 *     load (the "inline-load baseline"); random checks over 65,536 open
 *     handles against raw loads over as many slot words; the child's CPU
 *     time in fork() with 65,536 handles against one.
 *  3. syscalls: this program re-runs itself under `strace -f -c` twice, in
 *     a mode that only sets up (client, slot, cursor) and in a mode that
 *     also does 1M sets, 1M slot checks and 1M cursor checks; the
 *     difference of the two syscall totals is what the data path made.
 *
 * Every measured call, library or baseline, is an out-of-line call: the
 * library's through the PLT of the shared library, the baselines as
 * BENCH_NOINLINE functions here.  Each repetition times the baseline and
 * the call back to back (alternating which goes first) and the ratio of
 * the two is taken per repetition; the table shows medians.
 */
/* The inline rows use the header's inline checks; every other row calls
 * the library, by the parenthesised name (errseq_slot_check)(...). */
#define ERRSEQ_INLINE 1
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/errseq_word.h"
#include "common/shm_layout.h"
#include "errseq/client.h"
#include "errseq/errseq.h"
#include "bench/bench.h"
#include "bench/rawops.h"

#define SYSCALL_OPS 1000000L

/* Time @n iterations of @stmt (i is the iteration number); ns per iter. */
#define TIME_LOOP(n, stmt)						\
	({								\
		uint64_t t0_ = bench_now_ns();				\
		for (long i = 0; i < (n); i++) {			\
			stmt;						\
		}							\
		(double)(bench_now_ns() - t0_) / (double)(n);		\
	})

#define BATCHES 5

/*
 * Run the repetitions of (baseline, measured) into @row.  A repetition
 * alternates BATCHES batches of @n / BATCHES iterations of each, BASE
 * first then MEAS first, and keeps the fastest batch of each: a batch that
 * another process interrupted is dropped, not averaged in.  The row then
 * holds one (measured, baseline) pair per repetition, and the table their
 * medians.
 */
#define PAIRED(row, n, BASE, MEAS)					\
	do {								\
		for (int rep_ = 0; rep_ < bench_opts.reps; rep_++) {	\
			double b_ = INFINITY, m_ = INFINITY, t_;	\
			unsigned acc_ = 0;				\
			for (int k_ = 0; k_ < BATCHES; k_++) {		\
				if (k_ % 2 == 0) {			\
					t_ = TIME_LOOP((n) / BATCHES, BASE); \
					b_ = t_ < b_ ? t_ : b_;		\
					t_ = TIME_LOOP((n) / BATCHES, MEAS); \
					m_ = t_ < m_ ? t_ : m_;		\
				} else {				\
					t_ = TIME_LOOP((n) / BATCHES, MEAS); \
					m_ = t_ < m_ ? t_ : m_;		\
					t_ = TIME_LOOP((n) / BATCHES, BASE); \
					b_ = t_ < b_ ? t_ : b_;		\
				}					\
			}						\
			BENCH_KEEP(acc_);				\
			bench_row_run(row, m_, b_);			\
		}							\
		bench_row_reduce(row);					\
	} while (0)

static long iters(long full)
{
	return bench_opts.quick ? full / 10 : full;
}

/* ---- 1. the core functions on a bare word ---- */

static void bench_core(void)
{
	static errseq_t word __attribute__((aligned(64)));
	long nc = iters(20000000), ns = iters(5000000);
	struct bench_row *r;
	errseq_t since;

	errseq_set(&word, -EIO);
	since = 0;
	errseq_check_and_advance(&word, &since);	/* consumed: SEEN set */

	r = bench_row_add("ns/call", "core errseq_check, nothing new");
	snprintf(r->base_name, sizeof(r->base_name), "raw acquire load");
	PAIRED(r, nc, acc_ += (unsigned)raw_check32(&word, since),
	       acc_ += (unsigned)errseq_check(&word, since));
	bench_note(r, "Bare errseq_t (no daemon), for reference.");

	r = bench_row_add("ns/call", "core errseq_set, word changes each call "
			  "(alternating -EIO/-ENOSPC)");
	snprintf(r->base_name, sizeof(r->base_name), "raw CAS loop");
	PAIRED(r, ns, acc_ += raw_set32(&word, (i & 1) ? EIO : ENOSPC),
	       acc_ += errseq_set(&word, (i & 1) ? -EIO : -ENOSPC));

	r = bench_row_add("ns/call", "core errseq_set, same errno repeated "
			  "(no write)");
	snprintf(r->base_name, sizeof(r->base_name), "raw CAS loop");
	PAIRED(r, ns, acc_ += raw_set32(&word, EIO),
	       acc_ += errseq_set(&word, -EIO));
	bench_note(r, "An unconsumed repeat of the same errno does not change "
		   "the word, so errseq_set only loads; the raw baseline "
		   "still CASes. Labelled apart: not the meaningful set figure.");
}

/* ---- 2. slots ---- */

struct slot_bench {
	struct esdt_daemon d;
	struct errseq_client *c;
	struct errseq_slot *s;
	struct errseq_cursor *cur;
	void *seg;		/* our own mapping of the data segment */
	size_t seg_size;
	uint64_t *raw;		/* the slot's word in that mapping */
};

/* Map the daemon's data segment ourselves and find slot @name's word. */
static int map_raw_word(struct slot_bench *b, const char *name)
{
	struct errseq_slot_info info;
	struct stat st;
	int fd, r;

	r = errseq_stat(b->c, name, &info);
	if (r < 0) {
		fprintf(stderr, "bench_data: errseq_stat: %s\n",
			errseq_strerror(r));
		return r;
	}
	/* The raw baseline: the same kind of 64-byte slot in a shared page
	 * of our own (the daemon's chunks are not ours to map read-write
	 * twice), starting from the slot's current word. */
	b->seg_size = ESD_PAGE;
	b->seg = mmap(NULL, b->seg_size, PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (b->seg == MAP_FAILED)
		return -errno;
	b->raw = &((struct esd_slot *)b->seg)->word;
	*b->raw = ESD_WORD(info.generation, errseq_slot_peek(b->s));
	(void)fd;
	(void)st;
	return 0;
}

static int slot_setup(struct slot_bench *b, unsigned slots)
{
	int r;

	memset(b, 0, sizeof(*b));
	static const char *const extra[] = { "--mode", "0666", NULL };

	r = bench_daemon_start(&b->d, slots, extra);
	if (r < 0)
		return r;
	r = errseq_client_open(b->d.sock, &b->c);
	if (r < 0) {
		fprintf(stderr, "bench_data: errseq_client_open: %s\n",
			errseq_strerror(r));
		return r;
	}
	r = errseq_slot_open(b->c, "bench.data", ERRSEQ_CREATE, &b->s);
	if (r < 0) {
		fprintf(stderr, "bench_data: errseq_slot_open: %s\n",
			errseq_strerror(r));
		return r;
	}
	return 0;
}

static void slot_teardown(struct slot_bench *b)
{
	if (b->seg && b->seg != MAP_FAILED)
		munmap(b->seg, b->seg_size);
	if (b->cur)
		errseq_cursor_free(b->cur);
	if (b->s)
		errseq_slot_close(b->s);
	errseq_client_close(b->c);
	esdt_daemon_cleanup(&b->d);
}

static void skip_slot_rows(const char *why)
{
	static const char *const names[] = {
		"errseq_slot_check, nothing new",
		"errseq_cursor_check, nothing new",
		"errseq_slot_set, word changes each call",
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		bench_skip(bench_row_add("ns/call", "%s", names[i]), "%s", why);
}

/* The raw baselines in their own shared object (bench/rawso.c). */
struct rawso {
	void *h;
	int (*check64)(uint64_t *, uint64_t);
	uint64_t (*set64)(uint64_t *, uint32_t);
};

/* dlopen $BENCH_RAWSO, else rawso.so beside our real binary (libtool puts
 * both in bench/.libs).  Returns 0 or -ENOENT. */
static int rawso_open(struct rawso *so)
{
	const char *env = getenv("BENCH_RAWSO");
	char self[512], path[600];
	ssize_t n;

	memset(so, 0, sizeof(*so));
	if (env && *env) {
		snprintf(path, sizeof(path), "%s", env);
	} else {
		n = readlink("/proc/self/exe", self, sizeof(self) - 1);
		if (n <= 0)
			return -ENOENT;
		self[n] = '\0';
		snprintf(path, sizeof(path), "%s/rawso.so", dirname(self));
	}
	so->h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!so->h)
		return -ENOENT;
	*(void **)&so->check64 = dlsym(so->h, "bench_rawso_check64");
	*(void **)&so->set64 = dlsym(so->h, "bench_rawso_set64");
	if (!so->check64 || !so->set64) {
		dlclose(so->h);
		so->h = NULL;
		return -ENOENT;
	}
	return 0;
}

/*
 * Diagnostics: the same library calls against the raw baselines placed in
 * a shared object of their own, so that both sides pay the crossing into
 * a library.  What is left of a ratio here is the library's own work.
 */
static void bench_slots_dso(struct slot_bench *b, errseq_t since,
			    uint64_t want, long nc, long ns)
{
	struct rawso so;
	struct bench_row *r;

	if (rawso_open(&so) < 0) {
		bench_skip(bench_row_add("ns/call", "diagnostic: raw load in "
					 "a shared object"),
			   "bench/.libs/rawso.so not found (set BENCH_RAWSO).");
		return;
	}
	r = bench_row_add("ns/call", "diagnostic: raw acquire load in a "
			  "shared object (dlopen)");
	snprintf(r->base_name, sizeof(r->base_name), "raw acquire load");
	PAIRED(r, nc, acc_ += (unsigned)raw_check64(b->raw, want),
	       acc_ += (unsigned)so.check64(b->raw, want));
	bench_note(r, "The same load and compare, called across into another "
		   "shared object: what any library call pays here.");

	r = bench_row_add("ns/call", "diagnostic: errseq_slot_check vs the raw "
			  "load in a shared object");
	snprintf(r->base_name, sizeof(r->base_name), "raw load, in a .so");
	PAIRED(r, nc, acc_ += (unsigned)so.check64(b->raw, want),
	       acc_ += (unsigned)(errseq_slot_check)(b->s, since));

	r = bench_row_add("ns/call", "diagnostic: errseq_cursor_check vs the "
			  "raw load in a shared object");
	snprintf(r->base_name, sizeof(r->base_name), "raw load, in a .so");
	PAIRED(r, nc, acc_ += (unsigned)so.check64(b->raw, want),
	       acc_ += (unsigned)(errseq_cursor_check)(b->cur));

	r = bench_row_add("ns/call", "diagnostic: errseq_slot_set (word "
			  "changes) vs the raw CAS loop in a shared object");
	snprintf(r->base_name, sizeof(r->base_name), "raw CAS loop, in a .so");
	PAIRED(r, ns, acc_ += (unsigned)so.set64(b->raw, (i & 1) ? EIO : ENOSPC),
	       acc_ += (unsigned)errseq_slot_set(b->s, (i & 1) ? -EIO : -ENOSPC));
	dlclose(so.h);
}

/*
 * errseq_slot_check on a read-only handle: a child process of another uid
 * (nobody) opens the slot, which it may watch but not write, so its chunk
 * is mapped read-only; it times the check against a raw acquire load in
 * the same way as the parent does, and hands the pairs back.
 */
static void bench_readonly_check(struct slot_bench *b, long n)
{
	struct bench_row *r = bench_row_add("ns/call", "errseq_slot_check on "
					    "a read-only handle (another "
					    "uid), nothing new");
	double *pairs;
	pid_t pid;
	int st;

	snprintf(r->base_name, sizeof(r->base_name), "raw acquire load");
	if (geteuid() != 0) {
		bench_skip(r, "needs root, to run the watcher as nobody");
		return;
	}
	pairs = mmap(NULL, 2 * sizeof(double) * (size_t)bench_opts.reps + 64,
		     PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (pairs == MAP_FAILED) {
		bench_skip(r, "mmap failed");
		return;
	}
	pid = fork();
	if (pid == 0) {
		struct errseq_client *c;
		struct errseq_slot *s;
		errseq_t since;
		uint64_t local = *b->raw, want = local;
		uint64_t *raw = &local;

		if (setgid(65534) < 0 || setuid(65534) < 0 ||
		    errseq_client_open(b->d.sock, &c) < 0 ||
		    errseq_slot_open(c, "bench.data", 0, &s) < 0 ||
		    errseq_slot_writable(s))
			_exit(2);
		since = errseq_slot_sample(s);
		for (int rep_ = 0; rep_ < bench_opts.reps; rep_++) {
			double b_ = INFINITY, m_ = INFINITY, t_;
			unsigned acc_ = 0;

			for (int k_ = 0; k_ < BATCHES; k_++) {
				t_ = TIME_LOOP(n / BATCHES,
					       acc_ += (unsigned)raw_check64(
						       raw, want));
				b_ = t_ < b_ ? t_ : b_;
				t_ = TIME_LOOP(n / BATCHES,
					       acc_ += (unsigned)
						       (errseq_slot_check)(s,
									 since));
				m_ = t_ < m_ ? t_ : m_;
			}
			BENCH_KEEP(acc_);
			pairs[2 * rep_] = m_;
			pairs[2 * rep_ + 1] = b_;
		}
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) ||
	    WEXITSTATUS(st) != 0) {
		bench_skip(r, "the read-only watcher failed (status %d)", st);
		munmap(pairs, 2 * sizeof(double) * (size_t)bench_opts.reps + 64);
		return;
	}
	for (int k = 0; k < bench_opts.reps; k++)
		bench_row_run(r, pairs[2 * k], pairs[2 * k + 1]);
	bench_row_reduce(r);
	bench_goal_le(r, r->ratio, 1.2, "ratio <= 1.2 (as a writer's)");
	munmap(pairs, 2 * sizeof(double) * (size_t)bench_opts.reps + 64);
}

/* An inline acquire load and compare: the floor of any check. */
#define INLINE_LOAD(p, want) \
	(__atomic_load_n((p), __ATOMIC_ACQUIRE) != (want))

/*
 * ERRSEQ_INLINE: errseq_slot_check and errseq_cursor_check compiled into
 * the loop (one acquire load of the slot word, compares), against an
 * acquire load compiled into the loop; and the library's call against the
 * same inline load, the gap the inline path closes.
 */
static void bench_inline(struct slot_bench *b, errseq_t since, long nc)
{
	uint64_t want = __atomic_load_n(b->raw, __ATOMIC_ACQUIRE);
	struct bench_row *r;

	r = bench_row_add("ns/call", "errseq_slot_check with ERRSEQ_INLINE, "
			  "nothing new");
	snprintf(r->base_name, sizeof(r->base_name), "inline acquire load");
	PAIRED(r, nc, acc_ += (unsigned)INLINE_LOAD(b->raw, want),
	       acc_ += (unsigned)errseq_slot_check(b->s, since));
	bench_goal_le(r, r->ratio, 1.5, "ratio <= 1.5");

	r = bench_row_add("ns/call", "errseq_cursor_check with ERRSEQ_INLINE, "
			  "nothing new");
	snprintf(r->base_name, sizeof(r->base_name), "inline acquire load");
	PAIRED(r, nc, acc_ += (unsigned)INLINE_LOAD(b->raw, want),
	       acc_ += (unsigned)errseq_cursor_check(b->cur));
	bench_goal_le(r, r->ratio, 1.5, "ratio <= 1.5");

	r = bench_row_add("ns/call", "errseq_slot_check, library call (no "
			  "ERRSEQ_INLINE), nothing new");
	snprintf(r->base_name, sizeof(r->base_name), "inline acquire load");
	PAIRED(r, nc, acc_ += (unsigned)INLINE_LOAD(b->raw, want),
	       acc_ += (unsigned)(errseq_slot_check)(b->s, since));
	bench_note(r, "What a program without ERRSEQ_INLINE pays over a load "
		   "in its own code: the call (informative).");
}

/* ---- dense handles and fork, at 65,536 open handles ---- */

#define MANY_HANDLES 65536u

/* A small xorshift: the same random order for both sides of a row. */
static uint32_t xs32(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

/* The child's CPU time from fork() until it returns in the child, in ns:
 * what the library's fork handlers cost the child. */
static double fork_child_cpu_ns(void)
{
	int pfd[2];
	pid_t pid;
	uint64_t ns = 0;

	if (pipe(pfd) < 0)
		bench_die("pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		bench_die("fork: %s", strerror(errno));
	if (pid == 0) {
		struct timespec t;

		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
		ns = (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
		(void)!write(pfd[1], &ns, sizeof(ns));
		_exit(0);
	}
	close(pfd[1]);
	if (read(pfd[0], &ns, sizeof(ns)) != (ssize_t)sizeof(ns))
		bench_die("fork child: no report");
	close(pfd[0]);
	waitpid(pid, NULL, 0);
	return (double)ns;
}

/* Median child CPU over @n forks. */
static double fork_median(int n)
{
	double v[64];

	if (n > 64)
		n = 64;
	for (int i = 0; i < n; i++)
		v[i] = fork_child_cpu_ns();
	bench_sort(v, (size_t)n);
	return bench_median(v, (size_t)n);
}

static void bench_many(void)
{
	static const char *const extra[] = { "--mode", "0666",
					     "--max-slots-per-uid", "0",
					     "--max-open-per-uid", "0", NULL };
	struct bench_row *rd = bench_row_add("ns/call", "errseq_slot_check "
					     "over %u open handles, random "
					     "order", MANY_HANDLES);
	struct bench_row *rf = bench_row_add("ns", "fork(): the child's CPU "
					     "time until fork() returns in it, "
					     "%u handles open", MANY_HANDLES);
	struct esdt_daemon d;
	struct errseq_client *c = NULL;
	struct errseq_slot **h = NULL;
	struct esd_slot *raw = NULL;
	uint64_t **rawp = NULL;
	uint32_t *order = NULL, x = 12345, j, n = 0;
	long nr = iters(4000000);
	char name[32];
	int r;

	snprintf(rd->base_name, sizeof(rd->base_name), "raw acquire load, "
		 "same order over as many slot words");
	snprintf(rf->base_name, sizeof(rf->base_name), "the same with 1 "
		 "handle open");
	memset(&d, 0, sizeof(d));
	r = bench_daemon_start(&d, MANY_HANDLES, extra);
	if (r == 0)
		r = errseq_client_open(d.sock, &c);
	h = calloc(MANY_HANDLES, sizeof(*h));
	rawp = calloc(MANY_HANDLES, sizeof(*rawp));
	order = calloc(MANY_HANDLES, sizeof(*order));
	raw = mmap(NULL, (size_t)MANY_HANDLES * sizeof(*raw),
		   PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (r < 0 || !h || !rawp || !order || raw == MAP_FAILED) {
		bench_skip(rd, "no daemon or no memory (see stderr)");
		bench_skip(rf, "no daemon or no memory (see stderr)");
		goto out;
	}
	/* fork with one handle first */
	snprintf(name, sizeof(name), "many.%u", 0u);
	r = errseq_slot_open(c, name, ERRSEQ_CREATE, &h[0]);
	if (r < 0)
		bench_die("errseq_slot_open: %s", errseq_strerror(r));
	n = 1;
	double fork1[16], forkn[16];
	int reps = bench_opts.reps < 16 ? bench_opts.reps : 16;

	for (int k = 0; k < reps; k++)
		fork1[k] = fork_median(9);
	for (j = 1; j < MANY_HANDLES; j++, n++) {
		snprintf(name, sizeof(name), "many.%u", j);
		r = errseq_slot_open(c, name, ERRSEQ_CREATE, &h[j]);
		if (r < 0)
			bench_die("errseq_slot_open #%u: %s", j,
				  errseq_strerror(r));
	}
	for (int k = 0; k < reps; k++)
		forkn[k] = fork_median(9);
	for (int k = 0; k < reps; k++)
		bench_row_run(rf, forkn[k], fork1[k]);
	bench_row_reduce(rf);
	bench_goal_le(rf, rf->ratio, 1.5, "ratio <= 1.5 (independent of "
		      "the number of handles)");
	bench_note(rf, "CLOCK_THREAD_CPUTIME_ID read first thing in the child, "
		   "median of 9 forks per repetition.");

	for (j = 0; j < MANY_HANDLES; j++) {
		raw[j].word = ESD_WORD(1, 0);
		rawp[j] = &raw[j].word;
		order[j] = xs32(&x) % MANY_HANDLES;
	}
	PAIRED(rd, nr,
	       acc_ += (unsigned)raw_check64(rawp[order[i & (MANY_HANDLES - 1)]],
					     ESD_WORD(1, 0)),
	       acc_ += (unsigned)(errseq_slot_check)(h[order[i & (MANY_HANDLES - 1)]],
						     0));
	bench_goal_le(rd, rd->ratio, 1.5, "ratio <= 1.5");
	{
		struct bench_row *ri = bench_row_add("ns/call",
			"errseq_slot_check with ERRSEQ_INLINE over %u open "
			"handles, random order", MANY_HANDLES);

		snprintf(ri->base_name, sizeof(ri->base_name), "inline "
			 "acquire load, same order over as many slot words");
		PAIRED(ri, nr,
		       acc_ += (unsigned)INLINE_LOAD(
				rawp[order[i & (MANY_HANDLES - 1)]],
				ESD_WORD(1, 0)),
		       acc_ += (unsigned)errseq_slot_check(
				h[order[i & (MANY_HANDLES - 1)]], 0));
		bench_note(ri, "The same walk with the check compiled in on "
			   "both sides: what is left is the handle's own cache "
			   "line (informative).");
	}
	bench_note(rd, "A program holds one pointer per slot on both sides: "
		   "the baseline an array of pointers to 64-byte slot words "
		   "of its own (4 MiB), loaded in the same random order; the "
		   "library an array of handles, each a 16-byte record (four "
		   "to a cache line) read by one out-of-line call.");
out:
	for (j = 0; j < n && h; j++)
		errseq_slot_close(h[j]);
	free(h);
	free(rawp);
	free(order);
	if (raw && raw != MAP_FAILED)
		munmap(raw, (size_t)MANY_HANDLES * sizeof(*raw));
	errseq_client_close(c);
	esdt_daemon_cleanup(&d);
}

static void bench_slots(void)
{
	long nc = iters(20000000), ns = iters(5000000);
	struct slot_bench b;
	struct bench_row *r;
	errseq_t since = 0;
	uint64_t want;
	int rc;

	rc = slot_setup(&b, 0);
	if (rc == 0)
		rc = map_raw_word(&b, "bench.data");
	if (rc == 0) {
		/* A consumed error: the steady state of a healthy slot. */
		errseq_slot_set(b.s, -EIO);
		errseq_slot_check_and_advance(b.s, &since);
		rc = errseq_cursor_new(b.s, &b.cur);
	}
	if (rc < 0) {
		skip_slot_rows("no daemon or client library to measure "
			       "(see stderr)");
		slot_teardown(&b);
		return;
	}
	want = __atomic_load_n(b.raw, __ATOMIC_ACQUIRE);

	bench_inline(&b, since, nc);

	r = bench_row_add("ns/call", "errseq_slot_check, nothing new");
	snprintf(r->base_name, sizeof(r->base_name), "raw acquire load");
	PAIRED(r, nc, acc_ += (unsigned)raw_check64(b.raw, want),
	       acc_ += (unsigned)(errseq_slot_check)(b.s, since));
	bench_goal_le(r, r->ratio, 1.2, "ratio <= 1.2");

	r = bench_row_add("ns/call", "errseq_cursor_check, nothing new");
	snprintf(r->base_name, sizeof(r->base_name), "raw acquire load");
	PAIRED(r, nc, acc_ += (unsigned)raw_check64(b.raw, want),
	       acc_ += (unsigned)(errseq_cursor_check)(b.cur));
	bench_goal_le(r, r->ratio, 1.5, "ratio <= 1.5");

	bench_readonly_check(&b, nc);

	{
		struct raw_handle h = { b.raw, want & 0xffffffff00000000ull };

		r = bench_row_add("ns/call", "diagnostic: errseq_slot_check's "
				  "work compiled here, direct call");
		snprintf(r->base_name, sizeof(r->base_name),
			 "raw acquire load");
		PAIRED(r, nc, acc_ += (unsigned)raw_check64(b.raw, want),
		       acc_ += (unsigned)raw_handle_check(&h, since));
		bench_note(r, "Load the word through the handle, compare the "
			   "generation and the value: the library's work "
			   "without the call through the PLT.");
	}
	r = bench_row_add("ns/call", "diagnostic: raw acquire load through an "
			  "indirect call");
	snprintf(r->base_name, sizeof(r->base_name), "raw acquire load");
	PAIRED(r, nc, acc_ += (unsigned)raw_check64(b.raw, want),
	       acc_ += (unsigned)raw_check64_ptr(b.raw, want));
	bench_note(r, "About what calling through the PLT (a call and an "
		   "indirect jump) adds to a call.");

	r = bench_row_add("ns/call", "errseq_slot_check_and_advance, nothing "
			  "new");
	snprintf(r->base_name, sizeof(r->base_name), "raw acquire load");
	PAIRED(r, nc, acc_ += (unsigned)raw_check64(b.raw, want),
	       acc_ += (unsigned)errseq_slot_check_and_advance(b.s, &since));

	/* The meaningful set: every call really CASes a new value. */
	r = bench_row_add("ns/call", "errseq_slot_set, word changes each call "
			  "(alternating -EIO/-ENOSPC), stats included");
	snprintf(r->base_name, sizeof(r->base_name), "raw CAS loop");
	PAIRED(r, ns, acc_ += (unsigned)raw_set64(b.raw, (i & 1) ? EIO : ENOSPC),
	       acc_ += (unsigned)errseq_slot_set(b.s, (i & 1) ? -EIO : -ENOSPC));
	bench_goal_le(r, r->ratio, 1.6, "ratio <= 1.6");
	bench_note(r, "No waiter, so no FUTEX_WAKE; sets_total (in the same "
		   "16-byte CAS as the word where the CPU has cmpxchg16b), "
		   "last_set_ns and last_pid are written on every call.");

	{
		/* the model works on a private line, so the two do not share
		 * the slot's line */
		static struct raw_slot_line line __attribute__((aligned(64)));
		int32_t pid = (int32_t)getpid();

		line.word = want;
		r = bench_row_add("ns/call", "diagnostic: raw CAS loop + the "
				  "slot statistics, compiled here");
		snprintf(r->base_name, sizeof(r->base_name), "raw CAS loop");
		PAIRED(r, ns,
		       acc_ += (unsigned)raw_set64(&line.word,
						   (i & 1) ? EIO : ENOSPC),
		       acc_ += (unsigned)raw_set_with_stats(&line,
						   (i & 1) ? EIO : ENOSPC, pid));
		bench_note(r, "CAS, relaxed fetch_add of sets_total, "
			   "CLOCK_REALTIME_COARSE read, two relaxed stores, "
			   "seq_cst load of waiters: errseq_slot_set's work "
			   "without the library call.");
	}

	r = bench_row_add("ns/pair", "errseq_slot_set + check_and_advance, "
			  "same errno (SEEN in between: counter bumps)");
	snprintf(r->base_name, sizeof(r->base_name), "raw CAS + raw SEEN CAS");
	PAIRED(r, ns,
	       acc_ += (unsigned)raw_set64(b.raw, EIO);
	       acc_ += (unsigned)raw_seen64(b.raw),
	       acc_ += (unsigned)errseq_slot_set(b.s, -EIO);
	       acc_ += (unsigned)errseq_slot_check_and_advance(b.s, &since));
	bench_note(r, "Both sides pay two CASes per pair; shows the set with a "
		   "consumer in between (informative).");

	/* back to a consumed state, as the checks above measured */
	errseq_slot_set(b.s, -EIO);
	errseq_slot_check_and_advance(b.s, &since);
	while (errseq_cursor_check(b.cur) != 0)
		;
	want = __atomic_load_n(b.raw, __ATOMIC_ACQUIRE);
	bench_slots_dso(&b, since, want, nc, ns);

	/* Leave the word unconsumed so a repeat of -EIO changes nothing. */
	errseq_slot_set(b.s, -EIO);
	r = bench_row_add("ns/call", "errseq_slot_set, same errno repeated, "
			  "unconsumed (no write)");
	snprintf(r->base_name, sizeof(r->base_name), "raw CAS loop");
	PAIRED(r, ns, acc_ += (unsigned)raw_set64(b.raw, EIO),
	       acc_ += (unsigned)errseq_slot_set(b.s, -EIO));
	bench_note(r, "The word does not change (the set only loads, then "
		   "updates the statistics), while the raw loop CASes: a "
		   "label, not the set figure.");

	slot_teardown(&b);
}

/* ---- 3. syscalls, counted by strace ---- */

#define MARK_BEGIN "/nonexistent/errseq-bench-begin"
#define MARK_END "/nonexistent/errseq-bench-end"

/*
 * The child run under strace: set up, then between two marker syscalls
 * (access() of a path that does not exist) do nothing ("empty") or 1M of
 * each data-path call ("ops").
 */
static int syscall_child(const char *mode, const char *sock)
{
	struct errseq_client *c;
	struct errseq_slot *s;
	struct errseq_cursor *cur;
	unsigned acc = 0;
	errseq_t since;
	int r;

	r = errseq_client_open(sock, &c);
	if (r < 0)
		return 3;
	r = errseq_slot_open(c, "bench.syscalls", ERRSEQ_CREATE, &s);
	if (r < 0)
		return 4;
	r = errseq_cursor_new(s, &cur);
	if (r < 0)
		return 5;
	since = errseq_slot_sample(s);
	(void)access(MARK_BEGIN, F_OK);
	if (!strcmp(mode, "ops")) {
		for (long i = 0; i < SYSCALL_OPS; i++) {
			acc += (unsigned)errseq_slot_set(s, (i & 1) ? -EIO :
							 -ENOSPC);
			acc += (unsigned)(errseq_slot_check)(s, since);
			acc += (unsigned)(errseq_cursor_check)(cur);
		}
	}
	(void)access(MARK_END, F_OK);
	BENCH_KEEP(acc);
	errseq_cursor_free(cur);
	errseq_slot_close(s);
	errseq_client_close(c);
	return 0;
}

struct syscall_tally {
	long total;		/* syscalls in the whole run, all threads */
	long window_main;	/* between the markers, by the calling thread */
	long window_other;	/* between the markers, by other threads */
	char names[256];	/* the calling thread's, in the window */
};

/*
 * Count the syscalls of an `strace -f -o` trace of process @pid: each line
 * is "TID name(...) = ..."; a call interrupted by another thread's shows as
 * "<unfinished ...>" then "<... name resumed>", and is counted once.
 */
static int parse_trace(const char *path, pid_t pid, struct syscall_tally *t)
{
	FILE *f = fopen(path, "r");
	char line[4096];
	int in_window = 0, saw_end = 0;

	memset(t, 0, sizeof(*t));
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char *p;
		long tid = strtol(line, &p, 10);

		while (*p == ' ')
			p++;
		if (!strncmp(p, "<...", 4) || !strncmp(p, "+++", 3) ||
		    !strncmp(p, "---", 3) || !*p)
			continue;	/* resumed, exit or signal lines */
		t->total++;
		if (strstr(p, MARK_BEGIN)) {
			in_window = 1;
			continue;
		}
		if (strstr(p, MARK_END)) {
			in_window = 0;
			saw_end = 1;
			continue;
		}
		if (!in_window)
			continue;
		if (tid == pid) {
			size_t used = strlen(t->names);

			t->window_main++;
			if (used + 40 < sizeof(t->names))
				snprintf(t->names + used,
					 sizeof(t->names) - used, "%s%.*s",
					 used ? " " : "",
					 (int)strcspn(p, "("), p);
		} else {
			t->window_other++;
		}
	}
	fclose(f);
	return saw_end ? 0 : -EPROTO;
}

static const char *find_strace(void)
{
	static const char *const cands[] = { "/usr/bin/strace", "/bin/strace",
					     "/usr/local/bin/strace" };

	for (size_t i = 0; i < sizeof(cands) / sizeof(cands[0]); i++)
		if (access(cands[i], X_OK) == 0)
			return cands[i];
	return NULL;
}

/*
 * Run ourselves in @mode under strace -f; fill @t.  The traced process is
 * strace's child, so we learn its pid from the trace's first line.
 */
static int run_traced(const char *strace, const char *self, const char *mode,
		      const char *sock, const char *out, struct syscall_tally *t)
{
	char first[256];
	FILE *f;
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		/* LeakSanitizer cannot run under ptrace (sanitizer builds) */
		setenv("ASAN_OPTIONS", "detect_leaks=0", 1);
		execl(strace, strace, "-f", "-qq", "-o", out, self,
		      "--syscall-child", mode, sock, (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "bench_data: traced child (%s) failed: %d\n",
			mode, status);
		return -ECHILD;
	}
	f = fopen(out, "r");
	if (!f || !fgets(first, sizeof(first), f)) {
		if (f)
			fclose(f);
		return -EPROTO;
	}
	fclose(f);
	return parse_trace(out, (pid_t)strtol(first, NULL, 10), t);
}

static void bench_syscalls(void)
{
	const char *strace = find_strace();
	struct bench_row *r, *rall;
	struct esdt_daemon d;
	char self[512], out[160];
	ssize_t n;
	int reps = bench_opts.reps < 3 ? bench_opts.reps : 3;

	r = bench_row_add("syscalls", "syscalls by the calling thread during "
			  "1M slot_set + 1M slot_check + 1M cursor_check");
	snprintf(r->base_name, sizeof(r->base_name), "same window, empty");
	rall = bench_row_add("syscalls", "whole traced run, all threads: "
			     "setup + 3M calls");
	snprintf(rall->base_name, sizeof(rall->base_name),
		 "setup only (empty mode)");
	if (!strace) {
		bench_skip(r, "strace is not installed.");
		bench_skip(rall, "strace is not installed.");
		return;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0 || bench_daemon_start(&d, 0, NULL) < 0) {
		bench_skip(r, "no /proc/self/exe or no daemon.");
		bench_skip(rall, "no /proc/self/exe or no daemon.");
		return;
	}
	self[n] = '\0';
	snprintf(out, sizeof(out), "%s/strace.out", d.dir);
	for (int rep = 0; rep < reps; rep++) {
		struct syscall_tally empty, ops;

		if (run_traced(strace, self, "empty", d.sock, out, &empty) < 0 ||
		    run_traced(strace, self, "ops", d.sock, out, &ops) < 0) {
			bench_skip(r, "the traced run failed (see stderr).");
			bench_skip(rall, "the traced run failed.");
			unlink(out);
			esdt_daemon_cleanup(&d);
			return;
		}
		bench_row_run(r, (double)ops.window_main,
			      (double)empty.window_main);
		bench_row_run(rall, (double)ops.total, (double)empty.total);
		if (ops.window_main && !strstr(r->note, ops.names))
			bench_note(r, "Run %d: %s.", rep + 1, ops.names);
		if (ops.window_other)
			bench_note(rall, "Run %d: %ld syscalls by other threads "
				   "(the client's reconnect thread) inside the "
				   "window.", rep + 1, ops.window_other);
	}
	unlink(out);
	esdt_daemon_cleanup(&d);
	bench_row_reduce(r);
	bench_row_reduce(rall);
	r->ratio = NAN;		/* counts, not ratios */
	rall->ratio = NAN;
	bench_goal_le(r, r->value, 0, "0");
	bench_note(r, "strace -f of this program in a mode that only sets up "
		   "and one that also makes the 3M calls; the window is "
		   "bracketed by marker syscalls.");
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "--syscall-child"))
		return syscall_child(argv[2], argv[3]);

	argc = bench_init(argc, argv, "bench_data", 7);
	if (argc > 1) {
		fprintf(stderr, "usage: bench_data [--out DIR] [--reps N] "
			"[--quick]\n");
		return 2;
	}
	bench_pin_cpu(0);
	bench_core();
	bench_slots();
	bench_many();
	bench_syscalls();
	return bench_finish() < 0 ? 1 : 0;
}
