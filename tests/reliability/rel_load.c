/*
 * rel_load.c - reliability figure 4: 1,000 concurrent connections.
 *
 * Worker processes hold 1,000 library clients (connections) open at once
 * and, for a bounded time (and at most a bounded number of operations),
 * open a slot (with create), set it and close it again through randomly
 * chosen clients.  Meanwhile the test samples the daemon's VmRSS
 * (/proc/PID/status) and fd count (/proc/PID/fd) every 100 ms.
 *
 * Asserted:
 *   - no call failed at all (the run stays inside the documented limits:
 *     max-clients 4096, max-open 65536 holds per connection, enough slots);
 *   - the daemon counts every connection;
 *   - fds: the largest count in the last quarter of the run is not above
 *     the largest in the first quarter.  The connection count is constant
 *     while it runs, so any growth is a leak: the tolerance is 0;
 *   - RSS: the mean of the last quarter exceeds the mean of the first by at
 *     most max(1 MiB, 5 %).  Every connection and name exists before the
 *     first sample, so steady state should allocate nothing new; 1 MiB
 *     absorbs allocator noise (a few arenas' worth of pages touched late),
 *     and 5 % scales it for bigger runs.  Under ASan the allocator keeps
 *     freed memory in a quarantine of up to 256 MiB that fills up with
 *     churn, so sanitizer builds allow max(64 MiB, 50 %) instead;
 *   - afterwards, with every worker gone, the daemon is back to one client
 *     (ours) and to the fd count it had before the workers connected.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <errseq/client.h>

#include "tests/support/harness.h"
#include "tests/reliability/rel.h"

#define MAX_WORKERS	32
#define POOL		200
#define MAX_SAMPLES	20000

struct ld_worker {
	uint64_t ops, errors, open_errors;
	int32_t first_error;
	int32_t connected;
};

struct ld_shared {
	int ready, go, stop;
	int exit_now;
	struct ld_worker w[MAX_WORKERS];
};

struct ld_run {
	const struct esdt_daemon *d;
	struct ld_shared *sh;
	int per_worker;
	long max_ops;
};

static void pool_name(char *buf, size_t len, int i)
{
	snprintf(buf, len, "load.pool-%d", i);
}

static void count_error(struct ld_worker *w, int rc)
{
	if (!w->errors)
		w->first_error = rc;
	w->errors++;
}

static int worker_main(void *arg, int idx)
{
	struct ld_run *r = arg;
	struct ld_worker *me = &r->sh->w[idx];
	struct errseq_client **cl = calloc((size_t)r->per_worker,
					   sizeof(*cl));
	char name[48];
	int n = 0;

	if (!cl)
		return 2;
	rel_rand_seed(0x7000 + (uint64_t)idx * 977 + (uint64_t)getpid());
	for (int i = 0; i < r->per_worker; i++) {
		int rc = errseq_client_open(r->d->sock, &cl[n]);

		if (rc == 0)
			n++;
		else {
			me->open_errors++;
			count_error(me, rc);
		}
	}
	me->connected = n;
	__atomic_fetch_add(&r->sh->ready, 1, __ATOMIC_SEQ_CST);
	while (!__atomic_load_n(&r->sh->go, __ATOMIC_ACQUIRE))
		rel_sleep_us(1000);
	while (n > 0 && me->ops < (uint64_t)r->max_ops &&
	       !__atomic_load_n(&r->sh->stop, __ATOMIC_ACQUIRE)) {
		struct errseq_client *c = cl[rel_rand_below((uint32_t)n)];
		struct errseq_slot *s;
		int rc;

		pool_name(name, sizeof(name), (int)rel_rand_below(POOL));
		rc = errseq_slot_open(c, name, ERRSEQ_CREATE, &s);
		if (rc < 0) {
			count_error(me, rc);
		} else {
			rc = errseq_slot_set(s, -EIO);
			if (rc < 0)
				count_error(me, rc);
			errseq_slot_close(s);
		}
		me->ops++;
	}
	__atomic_fetch_add(&r->sh->ready, 1, __ATOMIC_SEQ_CST);
	while (!__atomic_load_n(&r->sh->exit_now, __ATOMIC_ACQUIRE))
		rel_sleep_us(2000);
	for (int i = 0; i < n; i++)
		errseq_client_close(cl[i]);
	free(cl);
	return 0;
}

struct sample {
	long rss_kib;
	int fds;
};

struct back_to {
	struct errseq_client *c;
	pid_t daemon;
	int fds_want, fds;
	struct errseq_daemon_status st;
};

static bool back_to_idle(void *arg)
{
	struct back_to *b = arg;

	if (errseq_status(b->c, &b->st) < 0 || b->st.clients != 1)
		return false;
	b->fds = esdt_count_fds(b->daemon);
	return b->fds == b->fds_want;
}

START_TEST(load_thousand_connections_flat)
{
	struct esdt_daemon d;
	struct ld_run r = { .d = &d };
	struct errseq_client *c;
	struct errseq_slot *pool[POOL];
	struct errseq_daemon_status st;
	struct sample *smp = calloc(MAX_SAMPLES, sizeof(*smp));
	int connections = (int)rel_pick(1000, 1000, 200);
	int workers = 10;
	long seconds = rel_pick(8, 120, 20);
	pid_t pids[MAX_WORKERS];
	uint64_t ops = 0, errors = 0, t0, elapsed;
	int nsmp = 0, fds0, q, rc, connected = 0;
	long rss_first = 0, rss_last = 0, tol_kib, nofile;
	int fds_first_max = 0, fds_last_max = 0, fds_first_min = 1 << 30;
	char name[48];
	struct back_to b;

	ck_assert_ptr_nonnull(smp);
	r.per_worker = connections / workers;
	r.max_ops = rel_pick(200000, 20000000, 20000);
	/* 100 clients per worker, a few fds each, plus the daemon's 1,000 */
	nofile = rel_raise_nofile(8192);
	ck_assert_msg(nofile >= connections + 64,
		      "RLIMIT_NOFILE %ld is too low for %d connections to one "
		      "daemon", nofile, connections);
	esdt_sweep();
	rel_start(&d, 4096, NULL);
	ck_assert_int_eq(errseq_client_open(d.sock, &c), 0);
	for (int i = 0; i < POOL; i++) {	/* every name exists up front */
		pool_name(name, sizeof(name), i);
		ck_assert_int_eq(errseq_slot_open(c, name, ERRSEQ_CREATE,
						  &pool[i]), 0);
		errseq_slot_close(pool[i]);
	}
	fds0 = esdt_count_fds(d.pid);
	r.sh = rel_shared_alloc(sizeof(*r.sh));
	for (int i = 0; i < workers; i++)
		pids[i] = rel_fork(worker_main, &r, i);
	while (__atomic_load_n(&r.sh->ready, __ATOMIC_SEQ_CST) < workers) {
		for (int i = 0; i < workers; i++)
			ck_assert_msg(rel_alive(pids[i]), "worker %d died", i);
		rel_sleep_us(10000);
	}
	for (int i = 0; i < workers; i++)
		connected += r.sh->w[i].connected;
	ck_assert_int_eq(connected, connections);
	ck_assert_int_eq(errseq_status(c, &st), 0);
	ck_assert_uint_eq(st.clients, (uint32_t)connections + 1);

	__atomic_store_n(&r.sh->ready, 0, __ATOMIC_SEQ_CST);
	__atomic_store_n(&r.sh->go, 1, __ATOMIC_RELEASE);
	t0 = rel_now_ns();
	while (__atomic_load_n(&r.sh->ready, __ATOMIC_SEQ_CST) < workers &&
	       nsmp < MAX_SAMPLES) {
		if (rel_now_ns() - t0 > (uint64_t)seconds * 1000000000ull)
			__atomic_store_n(&r.sh->stop, 1, __ATOMIC_RELEASE);
		smp[nsmp].rss_kib = rel_rss_kib(d.pid);
		smp[nsmp].fds = esdt_count_fds(d.pid);
		ck_assert_int_gt(smp[nsmp].rss_kib, 0);
		ck_assert_int_gt(smp[nsmp].fds, 0);
		nsmp++;
		rel_sleep_us(100000);
	}
	__atomic_store_n(&r.sh->stop, 1, __ATOMIC_RELEASE);
	while (__atomic_load_n(&r.sh->ready, __ATOMIC_SEQ_CST) < workers)
		rel_sleep_us(10000);
	elapsed = rel_now_ns() - t0;
	ck_assert_msg(nsmp >= 8, "only %d samples: the run was too short",
		      nsmp);

	q = nsmp / 4;
	for (int i = 0; i < q; i++) {
		rss_first += smp[i].rss_kib;
		rss_last += smp[nsmp - q + i].rss_kib;
		if (smp[i].fds > fds_first_max)
			fds_first_max = smp[i].fds;
		if (smp[i].fds < fds_first_min)
			fds_first_min = smp[i].fds;
		if (smp[nsmp - q + i].fds > fds_last_max)
			fds_last_max = smp[nsmp - q + i].fds;
	}
	rss_first /= q;
	rss_last /= q;
	for (int i = 0; i < workers; i++) {
		ops += r.sh->w[i].ops;
		errors += r.sh->w[i].errors;
		ck_assert_msg(r.sh->w[i].errors == 0,
			      "worker %d: %llu errors, first %d (%s)", i,
			      (unsigned long long)r.sh->w[i].errors,
			      r.sh->w[i].first_error,
			      errseq_strerror(r.sh->w[i].first_error));
	}
	if (rel_sanitized())
		tol_kib = rss_first / 2 > 65536 ? rss_first / 2 : 65536;
	else
		tol_kib = rss_first / 20 > 1024 ? rss_first / 20 : 1024;

	rel_figure("load.connections", "%d", connections);
	rel_figure("load.seconds", "%.1f", (double)elapsed / 1e9);
	rel_figure("load.open_set_close_cycles", "%llu",
		   (unsigned long long)ops);
	rel_figure("load.cycles_per_second", "%.0f",
		   (double)ops / ((double)elapsed / 1e9));
	rel_figure("load.errors", "%llu", (unsigned long long)errors);
	rel_figure("load.samples", "%d", nsmp);
	rel_figure("load.rss_first_quarter_kib", "%ld", rss_first);
	rel_figure("load.rss_last_quarter_kib", "%ld", rss_last);
	rel_figure("load.rss_growth_kib", "%ld", rss_last - rss_first);
	rel_figure("load.rss_tolerance_kib", "%ld", tol_kib);
	rel_figure("load.fds_first_quarter_max", "%d", fds_first_max);
	rel_figure("load.fds_last_quarter_max", "%d", fds_last_max);
	ck_assert_msg(fds_last_max <= fds_first_max,
		      "daemon fds grew: %d -> %d", fds_first_max,
		      fds_last_max);
	ck_assert_msg(rss_last - rss_first <= tol_kib,
		      "daemon RSS grew by %ld KiB (tolerance %ld KiB)",
		      rss_last - rss_first, tol_kib);

	__atomic_store_n(&r.sh->exit_now, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < workers; i++) {
		rc = rel_reap(pids[i]);
		ck_assert_msg(rc == 0, "worker %d exited with %d", i, rc);
	}
	b = (struct back_to){ .c = c, .daemon = d.pid, .fds_want = fds0 };
	ck_assert_msg(rel_wait_until(back_to_idle, &b, 60000, 50),
		      "after the run: %u clients (want 1), %d fds (before: %d)",
		      b.st.clients, b.fds, fds0);
	rel_figure("load.daemon_fds_idle_before", "%d", fds0);
	rel_figure("load.daemon_fds_idle_after", "%d", b.fds);

	errseq_client_close(c);
	rel_stop_clean(&d);
	esdt_daemon_cleanup(&d);
	rel_shared_free(r.sh, sizeof(*r.sh));
	free(smp);
}
END_TEST

int main(void)
{
	TCase *tc;
	Suite *s;

	s = rel_suite("load", &tc);
	tcase_add_test(tc, load_thousand_connections_flat);
	return rel_run(s);
}
