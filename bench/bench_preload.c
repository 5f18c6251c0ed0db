/*
 * bench_preload.c - what liberrseq-preload.so adds to the calls it
 * interposes, measured in the same run as the bare calls:
 *
 *   fsync        on a tmpfs file (the cheapest real fsync: the syscall
 *                alone), through the preload vs libc's own fsync
 *   write        1 byte to /dev/null
 *   pwrite       4 KiB to a tmpfs file
 *   error path   a pwrite failing with EFBIG (RLIMIT_FSIZE) that the
 *                preload records in a private errseqd (connect, open the
 *                slot, set, disconnect), vs the same failing call bare
 *
 *   bench_preload [--out DIR] [--reps N] [--quick]
 *
 * The program re-executes itself with the library in LD_PRELOAD
 * ($ERRSEQ_PRELOAD_LIB, else the build tree's).  Then `fsync` in this
 * program is the preload's interposer, and libc's own fsync is taken from
 * libc's handle (dlsym): both are called through a function pointer in
 * alternating blocks, so the ratio is the interposer's cost alone.
 */
#define _GNU_SOURCE
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bench/bench.h"
#include "tests/support/harness.h"

#ifndef BENCH_PRELOAD_LIB
#error "BENCH_PRELOAD_LIB (the build tree's liberrseq-preload.so) is not set"
#endif

static long scaled(long full)
{
	return bench_opts.quick ? full / 10 : full;
}

/* Re-execute with the library preloaded, once. */
static void preload_self(char **argv)
{
	const char *lib = getenv("ERRSEQ_PRELOAD_LIB");
	const char *cur = getenv("LD_PRELOAD");
	char *v;

	if (getenv("BENCH_PRELOAD_CHILD") != NULL)
		return;
	if (lib == NULL || lib[0] == '\0')
		lib = BENCH_PRELOAD_LIB;
	if (access(lib, R_OK) < 0)
		bench_die("%s: %s (build it: make)", lib, strerror(errno));
	if (asprintf(&v, "%s%s%s", cur ? cur : "", cur ? " " : "", lib) < 0)
		bench_die("asprintf");
	setenv("LD_PRELOAD", v, 1);
	setenv("BENCH_PRELOAD_CHILD", "1", 1);
	execv("/proc/self/exe", argv);
	bench_die("execv: %s", strerror(errno));
}

typedef int (*fd_fn)(int);
typedef ssize_t (*write_fn)(int, const void *, size_t);
typedef ssize_t (*pwrite_fn)(int, const void *, size_t, off_t);

static void *libc_sym(const char *name)
{
	void *h = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
	void *p = h ? dlsym(h, name) : NULL;

	if (p == NULL)
		bench_die("libc's %s not found", name);
	return p;
}

/* ns per call of @f on @fd over @n calls; aborts on a wrong result. */
static double time_fsync(fd_fn f, int fd, long n)
{
	uint64_t t0 = bench_now_ns();

	for (long i = 0; i < n; i++)
		if (f(fd) != 0)
			bench_die("fsync: %s", strerror(errno));
	return (double)(bench_now_ns() - t0) / (double)n;
}

static double time_write(write_fn f, int fd, long n)
{
	uint64_t t0 = bench_now_ns();

	for (long i = 0; i < n; i++)
		if (f(fd, "x", 1) != 1)
			bench_die("write: %s", strerror(errno));
	return (double)(bench_now_ns() - t0) / (double)n;
}

static double time_pwrite(pwrite_fn f, int fd, long n, off_t off,
			  ssize_t want)
{
	static char buf[4096];
	uint64_t t0 = bench_now_ns();

	for (long i = 0; i < n; i++)
		if (f(fd, buf, sizeof(buf), off) != want)
			bench_die("pwrite: %s", strerror(errno));
	return (double)(bench_now_ns() - t0) / (double)n;
}

int main(int argc, char **argv)
{
	struct bench_row *rf, *rw, *rp, *re;
	struct esdt_daemon d;
	struct rlimit rl;
	fd_fn bare_fsync, pre_fsync = fsync;
	write_fn bare_write, pre_write = write;
	pwrite_fn bare_pwrite, pre_pwrite = pwrite;
	char path[64];
	Dl_info info;
	int fd, nul, big;

	preload_self(argv);
	argc = bench_init(argc, argv, "bench_preload", 7);
	if (argc > 1) {
		fprintf(stderr, "usage: bench_preload [--out DIR] [--reps N] "
			"[--quick]\n");
		return 2;
	}
	bare_fsync = (fd_fn)libc_sym("fsync");
	bare_write = (write_fn)libc_sym("write");
	bare_pwrite = (pwrite_fn)libc_sym("pwrite");
	if (dladdr((void *)pre_fsync, &info) == 0 || info.dli_fname == NULL ||
	    strstr(info.dli_fname, "liberrseq-preload") == NULL ||
	    (void *)pre_fsync == (void *)bare_fsync)
		bench_die("fsync is not the preload's: LD_PRELOAD=%s",
			  getenv("LD_PRELOAD"));

	snprintf(path, sizeof(path), "/dev/shm/esq-bench-preload-%d",
		 (int)getpid());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		bench_die("%s: %s", path, strerror(errno));
	unlink(path);
	nul = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (nul < 0)
		bench_die("/dev/null: %s", strerror(errno));

	rf = bench_row_add("ns/call", "fsync (tmpfs file) through the preload");
	snprintf(rf->base_name, sizeof(rf->base_name), "libc fsync");
	rw = bench_row_add("ns/call", "write 1 B to /dev/null through the "
			   "preload");
	snprintf(rw->base_name, sizeof(rw->base_name), "libc write");
	rp = bench_row_add("ns/call", "pwrite 4 KiB (tmpfs) through the "
			   "preload");
	snprintf(rp->base_name, sizeof(rp->base_name), "libc pwrite");
	re = bench_row_add("ns/call", "error path: EFBIG pwrite recorded in "
			   "errseqd");
	snprintf(re->base_name, sizeof(re->base_name),
		 "the same failing pwrite, bare");

	for (int rep = 0; rep < bench_opts.reps; rep++) {
		long n = scaled(200000);
		double b = 0, v = 0;

		/* Alternating blocks, so that drift hits both sides. */
		for (int blk = 0; blk < 4; blk++) {
			b += time_fsync(bare_fsync, fd, n / 4);
			v += time_fsync(pre_fsync, fd, n / 4);
		}
		bench_row_run(rf, v / 4, b / 4);
		b = v = 0;
		for (int blk = 0; blk < 4; blk++) {
			b += time_write(bare_write, nul, n / 4);
			v += time_write(pre_write, nul, n / 4);
		}
		bench_row_run(rw, v / 4, b / 4);
		b = v = 0;
		for (int blk = 0; blk < 4; blk++) {
			b += time_pwrite(bare_pwrite, fd, n / 4, 0, 4096);
			v += time_pwrite(pre_pwrite, fd, n / 4, 0, 4096);
		}
		bench_row_run(rp, v / 4, b / 4);
	}
	bench_row_reduce(rf);
	bench_row_reduce(rw);
	bench_row_reduce(rp);
	bench_goal_le(rf, rf->ratio, 1.10, "ratio <= 1.10");
	bench_goal_le(rw, rw->ratio, 1.10, "ratio <= 1.10");
	bench_goal_le(rp, rp->ratio, 1.10, "ratio <= 1.10");
	bench_note(rf, "Success path: one compare on the return value, no "
		   "syscall, no lock, no daemon.");

	/* The error path: every failure recorded (window 0), in a private
	 * daemon. */
	if (bench_daemon_start(&d, 64, NULL) < 0) {
		bench_skip(re, "errseqd did not start");
	} else {
		setenv("ERRSEQD_SOCKET", d.sock, 1);
		setenv("ERRSEQ_PRELOAD_SLOT", "bench/preload", 1);
		setenv("ERRSEQ_PRELOAD_WINDOW_MS", "0", 1);
		signal(SIGXFSZ, SIG_IGN);
		rl.rlim_cur = rl.rlim_max = 1 << 20;
		if (setrlimit(RLIMIT_FSIZE, &rl) < 0)
			bench_die("setrlimit: %s", strerror(errno));
		snprintf(path, sizeof(path), "/dev/shm/esq-bench-preload-%d.b",
			 (int)getpid());
		big = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (big < 0)
			bench_die("%s: %s", path, strerror(errno));
		unlink(path);
		for (int rep = 0; rep < bench_opts.reps; rep++) {
			long n = scaled(2000);
			double b = time_pwrite(bare_pwrite, big, n * 10,
					       2 << 20, -1);
			double v = time_pwrite(pre_pwrite, big, n, 2 << 20,
					       -1);

			bench_row_run(re, v, b);
		}
		bench_row_reduce(re);
		bench_note(re, "Connect, open the slot, set, disconnect, per "
			   "error (ERRSEQ_PRELOAD_WINDOW_MS=0); only paid "
			   "when a call fails with a storage errno.");
		close(big);
		esdt_daemon_cleanup(&d);
	}
	close(fd);
	close(nul);
	return bench_finish() < 0 ? 1 : 0;
}
