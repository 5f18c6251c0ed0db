/*
 * bench_watch.c - wake latency of the pollable fd (errseq_watch) against
 * errseq_cursor_wait, the goal of issue 11: p50 from a set to the watcher
 * learning of it within 1.5x of cursor_wait's, at 1 and at 128 slots.
 *
 * A producer thread sets a slot and notes the time; the watcher thread
 * (another thread of this process: the wake path is the same futex on the
 * same shared chunk as between processes) is either blocked in
 * errseq_cursor_wait on that slot (the baseline), or blocked in poll() on
 * the watch's fd with 1 or 128 cursors in the watch and then calls
 * errseq_watch_next.  The producer waits until the watcher is asleep
 * again (it publishes "armed" before blocking; the producer then waits a
 * little more) before the next set.  Latency = the watcher's clock when it
 * holds the report minus the producer's clock just before the set.
 *
 * Both ways of the watch are measured in every run: the one the library
 * chooses (io_uring where the kernel has IORING_OP_FUTEX_WAITV; the goal
 * rows), and the helper thread it falls back to (ERRSEQ_WATCH=thread;
 * information).  Which one was chosen is told by the process holding an
 * io_uring fd while the watch exists.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <errseq/client.h>

#include "bench/bench.h"

#define MAXSLOTS	128

struct shared {
	uint64_t t0 __attribute__((aligned(64)));	/* set time */
	uint32_t armed __attribute__((aligned(64)));	/* watcher asleep */
	uint32_t stop;
	double *lat;
	long n;
};

static struct errseq_client *C;
static struct errseq_slot *S[MAXSLOTS];
static struct errseq_cursor *CUR[MAXSLOTS];
static struct shared SH;

static void nap_us(long us)
{
	struct timespec ts = { 0, us * 1000L };

	nanosleep(&ts, NULL);
}

/* The baseline watcher: errseq_cursor_wait on slot 0. */
static void *waiter_main(void *arg)
{
	(void)arg;
	for (long k = 0; k < SH.n; k++) {
		int r;

		__atomic_store_n(&SH.armed, (uint32_t)k + 1, __ATOMIC_RELEASE);
		do
			r = errseq_cursor_wait(CUR[0], 10000);
		while (r == 0);
		if (r > -4096 && r < 0)
			SH.lat[k] = (double)(bench_now_ns() -
					     __atomic_load_n(&SH.t0,
							     __ATOMIC_ACQUIRE)) /
				    1000.0;
		else
			bench_die("errseq_cursor_wait: %s", errseq_strerror(r));
	}
	return NULL;
}

/* The watch watcher: poll() on the fd, then errseq_watch_next. */
static struct errseq_watch *W;

static void *watcher_main(void *arg)
{
	(void)arg;
	for (long k = 0; k < SH.n; k++) {
		struct pollfd p = { errseq_watch_fd(W), POLLIN, 0 };
		struct errseq_cursor *cur;
		int r = 0;

		__atomic_store_n(&SH.armed, (uint32_t)k + 1, __ATOMIC_RELEASE);
		while (r == 0) {
			if (poll(&p, 1, 10000) != 1)
				bench_die("watch: poll timed out");
			while ((r = errseq_watch_next(W, &cur)) == 0 &&
			       poll(&p, 1, 0) == 1)
				;
		}
		if (r > -4096 && r < 0)
			SH.lat[k] = (double)(bench_now_ns() -
					     __atomic_load_n(&SH.t0,
							     __ATOMIC_ACQUIRE)) /
				    1000.0;
		else
			bench_die("errseq_watch_next: %s", errseq_strerror(r));
		/* drain to 0 so that the fd is re-armed */
		while (errseq_watch_next(W, &cur) != 0)
			;
	}
	return NULL;
}

/* Does this process hold an io_uring instance's fd? */
static int holds_io_uring(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int found = 0;

	while (d && (de = readdir(d))) {
		char path[300], link[64];
		ssize_t k;

		snprintf(path, sizeof(path), "/proc/self/fd/%s", de->d_name);
		k = readlink(path, link, sizeof(link) - 1);
		if (k > 0) {
			link[k] = 0;
			found |= strstr(link, "io_uring") != NULL;
		}
	}
	if (d)
		closedir(d);
	return found;
}

/* @n wake-ups of the watcher started by @fn; returns the p50 in us. */
static double run(void *(*fn)(void *), long n, double *p99)
{
	pthread_t t;
	double *v;
	double p50;

	SH.n = n;
	SH.lat = calloc((size_t)n, sizeof(double));
	__atomic_store_n(&SH.armed, 0, __ATOMIC_RELEASE);
	if (!SH.lat || pthread_create(&t, NULL, fn, NULL) != 0)
		bench_die("cannot start the watcher");
	for (long k = 0; k < n; k++) {
		uint64_t deadline = bench_now_ns() + 10000000000ull;

		while (__atomic_load_n(&SH.armed, __ATOMIC_ACQUIRE) !=
		       (uint32_t)k + 1)
			bench_check_deadline(deadline, "watcher armed");
		nap_us(300);	/* let it block */
		__atomic_store_n(&SH.t0, bench_now_ns(), __ATOMIC_RELEASE);
		/* alternate two errnos: every set is a new value */
		if (errseq_slot_set(S[0], k % 2 ? -EIO : -ENOSPC) < 0)
			bench_die("set failed");
	}
	pthread_join(t, NULL);
	v = SH.lat;
	bench_sort(v, (size_t)n);
	p50 = bench_pct_sorted(v, (size_t)n, 0.5);
	*p99 = bench_pct_sorted(v, (size_t)n, 0.99);
	free(v);
	return p50;
}

/* A watch on the first @slots cursors, the helper thread's if @thread. */
static void watch_make(int slots, int thread)
{
	if (thread)
		setenv("ERRSEQ_WATCH", "thread", 1);
	else
		unsetenv("ERRSEQ_WATCH");
	if (errseq_watch_new(C, &W) < 0)
		bench_die("errseq_watch_new");
	unsetenv("ERRSEQ_WATCH");
	for (int i = 0; i < slots; i++)
		if (errseq_watch_add(W, CUR[i]) < 0)
			bench_die("errseq_watch_add");
}

static void watch_drop(int slots)
{
	for (int i = 0; i < slots; i++)
		errseq_watch_remove(W, CUR[i]);
	errseq_watch_free(W);
}

int main(int argc, char **argv)
{
	struct esdt_daemon d;
	/* [way][1 or 128 slots]: way 0 as chosen, 1 the helper thread */
	struct bench_row *row[2][2], *r99[2];
	const char *chosen;
	long n;
	int r;

	argc = bench_init(argc, argv, "bench_watch", 5);
	(void)argc;
	n = bench_opts.quick ? 200 : 2000;
	r = bench_daemon_start(&d, 1024, NULL);
	if (r < 0)
		bench_die("cannot start errseqd: %s", strerror(-r));
	r = errseq_client_open(d.sock, &C);
	if (r < 0)
		bench_die("errseq_client_open: %s", errseq_strerror(r));
	for (int i = 0; i < MAXSLOTS; i++) {
		char name[32];

		snprintf(name, sizeof(name), "watch.%d", i);
		if (errseq_slot_open(C, name, ERRSEQ_CREATE, &S[i]) < 0 ||
		    errseq_cursor_new(S[i], &CUR[i]) < 0)
			bench_die("cannot open slot %s", name);
	}
	watch_make(0, 0);
	chosen = holds_io_uring() ? "io_uring" : "helper thread";
	watch_drop(0);
	for (int k = 0; k < 2; k++) {
		int slots = k == 0 ? 1 : MAXSLOTS;

		row[0][k] = bench_row_add("us", "set -> watch fd + "
					  "errseq_watch_next, %d slot%s, %s "
					  "(p50)", slots, k ? "s" : "",
					  chosen);
		row[1][k] = bench_row_add("us", "same, %d slot%s, helper "
					  "thread: ERRSEQ_WATCH=thread (p50)",
					  slots, k ? "s" : "");
		r99[k] = bench_row_add("us", "same, %d slot%s, %s (p99)",
				       slots, k ? "s" : "", chosen);
		for (int way = 0; way < 2; way++)
			snprintf(row[way][k]->base_name,
				 sizeof(row[way][k]->base_name),
				 "errseq_cursor_wait (p50)");
		snprintf(r99[k]->base_name, sizeof(r99[k]->base_name),
			 "errseq_cursor_wait (p99)");
	}
	for (int rep = 0; rep < bench_opts.reps; rep++) {
		double base99, base50 = run(waiter_main, n, &base99);

		for (int way = 0; way < 2; way++) {
			for (int k = 0; k < 2; k++) {
				int slots = k == 0 ? 1 : MAXSLOTS;
				double p99, p50;

				watch_make(slots, way);
				p50 = run(watcher_main, n, &p99);
				watch_drop(slots);
				bench_row_run(row[way][k], p50, base50);
				if (way == 0)
					bench_row_run(r99[k], p99, base99);
			}
		}
	}
	for (int k = 0; k < 2; k++) {
		bench_row_reduce(row[0][k]);
		bench_row_reduce(row[1][k]);
		bench_row_reduce(r99[k]);
		bench_goal_le(row[0][k], row[0][k]->ratio, 1.5, "<= 1.5x");
	}
	errseq_client_close(C);
	esdt_daemon_cleanup(&d);
	return bench_finish() < 0;
}
