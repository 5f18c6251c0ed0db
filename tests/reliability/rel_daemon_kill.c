/*
 * rel_daemon_kill.c - reliability figure 2: the daemon dies, clients don't.
 *
 * Producers set and watchers check a set of slots while the daemon is
 * killed with SIGKILL and restarted again and again (>= 20 times at CI
 * scale).  Afterwards:
 *   - the data path never failed: every set returned 0 (also while the
 *     daemon was away; each producer made sets during the outages), every
 *     check returned 0 or an errno; the longest set is a figure, asserted
 *     only against a generous sanity bound;
 *   - every name, index, generation and sets_total is intact; a producer's
 *     own slots hold the errno it set last; and one more kill -9 with
 *     nothing running leaves every slot word bit-for-bit unchanged;
 *   - every client reconnected: the daemon's client count equals the live
 *     client processes (plus ours), after a bounded wait;
 *   - the holder count of each slot equals the handles the live processes
 *     have open on it.
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

#include "common/shm_layout.h"
#include "tests/support/harness.h"
#include "tests/reliability/rel.h"

#define MAX_PROCS	32
#define MAX_SLOTS	128

struct dk_params {
	int producers, watchers, shared_slots, own_slots, kills;
};

struct dk_proc {		/* one child's figures, in shared memory */
	uint64_t ops, fails, down_ops, reports;
	uint64_t max_set_ns;
	int32_t first_fail;
	int32_t pad;
	uint64_t per_slot[MAX_SLOTS];	/* successful sets per slot */
	int32_t last_err[MAX_SLOTS];	/* the last errno this one set */
};

struct dk_shared {
	int down;		/* 1 while the daemon is away */
	int stop;		/* 1: finish the loop, report, then idle */
	int exit_now;		/* 1: close and exit */
	int done;		/* children that finished their loop */
	int ready;
	struct dk_proc proc[MAX_PROCS];
};

struct dk_run {
	struct dk_params p;
	struct esdt_daemon *d;
	struct dk_shared *sh;
	int nslots;
	char names[MAX_SLOTS][48];
};

static const int errnos[] = { EIO, ENOSPC, EDQUOT, EROFS, ENXIO };

/* Slots 0..shared-1 are shared; then own_slots per producer. */
static int own_slot(const struct dk_run *r, int producer, int k)
{
	return r->p.shared_slots + producer * r->p.own_slots + k;
}

static void finish(struct dk_run *r)
{
	__atomic_fetch_add(&r->sh->done, 1, __ATOMIC_SEQ_CST);
	while (!__atomic_load_n(&r->sh->exit_now, __ATOMIC_ACQUIRE))
		rel_sleep_us(2000);
}

static int producer_main(void *arg, int idx)
{
	struct dk_run *r = arg;
	struct dk_proc *me = &r->sh->proc[idx];
	struct errseq_client *c;
	struct errseq_slot *slots[MAX_SLOTS] = { 0 };
	int mine[MAX_SLOTS], nmine = 0;

	rel_rand_seed(0x3000 + (uint64_t)idx * 31 + (uint64_t)getpid());
	if (errseq_client_open(r->d->sock, &c) < 0)
		return 2;
	for (int i = 0; i < r->p.shared_slots; i++)
		mine[nmine++] = i;
	for (int k = 0; k < r->p.own_slots; k++)
		mine[nmine++] = own_slot(r, idx, k);
	for (int i = 0; i < nmine; i++)
		if (errseq_slot_open(c, r->names[mine[i]], 0,
				     &slots[mine[i]]) < 0)
			return 3;
	__atomic_fetch_add(&r->sh->ready, 1, __ATOMIC_SEQ_CST);
	while (!__atomic_load_n(&r->sh->stop, __ATOMIC_ACQUIRE)) {
		int s = mine[rel_rand_below((uint32_t)nmine)];
		int err = -errnos[rel_rand_below(5)];
		int down = __atomic_load_n(&r->sh->down, __ATOMIC_ACQUIRE);
		uint64_t t0 = rel_now_ns(), dt;
		int rc = errseq_slot_set(slots[s], err);

		dt = rel_now_ns() - t0;
		if (dt > me->max_set_ns)
			me->max_set_ns = dt;
		me->ops++;
		if (rc != 0) {
			if (!me->fails)
				me->first_fail = rc;
			me->fails++;
		} else {
			me->per_slot[s]++;
			me->last_err[s] = -err;
			if (down && __atomic_load_n(&r->sh->down,
						    __ATOMIC_ACQUIRE))
				me->down_ops++;
		}
		if (rel_rand_below(16) == 0)
			rel_sleep_us(100 + rel_rand_below(400));
	}
	finish(r);
	errseq_client_close(c);
	return 0;
}

static int watcher_main(void *arg, int idx)
{
	struct dk_run *r = arg;
	struct dk_proc *me = &r->sh->proc[idx];
	struct errseq_client *c;
	struct errseq_slot *slots[MAX_SLOTS];
	struct errseq_cursor *cur[MAX_SLOTS];

	if (errseq_client_open(r->d->sock, &c) < 0)
		return 2;
	for (int i = 0; i < r->nslots; i++)
		if (errseq_slot_open(c, r->names[i], 0, &slots[i]) < 0 ||
		    errseq_cursor_new(slots[i], &cur[i]) < 0)
			return 3;
	__atomic_fetch_add(&r->sh->ready, 1, __ATOMIC_SEQ_CST);
	while (!__atomic_load_n(&r->sh->stop, __ATOMIC_ACQUIRE)) {
		for (int i = 0; i < r->nslots; i++) {
			int rc = errseq_cursor_check(cur[i]);

			me->ops++;
			if (rc < -ERRSEQ_MAX_ERRNO || rc > 0) {
				if (!me->fails)
					me->first_fail = rc;
				me->fails++;
			} else if (rc < 0) {
				me->reports++;
			}
		}
		rel_sleep_us(500 + rel_rand_below(1000));
	}
	finish(r);
	errseq_client_close(c);
	return 0;
}

struct status_want {
	struct errseq_client *c;
	uint32_t clients;
	struct errseq_daemon_status st;
	int rc;
};

static bool clients_match(void *arg)
{
	struct status_want *w = arg;

	w->rc = errseq_status(w->c, &w->st);
	return w->rc == 0 && w->st.clients == w->clients;
}

struct holders_want {
	struct dk_run *r;
	struct errseq_client *c;
	uint32_t want[MAX_SLOTS];
	int bad;		/* first slot that differs, or -1 */
	uint32_t got;
	int rc;
};

static bool holders_match(void *arg)
{
	struct holders_want *w = arg;
	struct errseq_slot_info info;

	for (int i = 0; i < w->r->nslots; i++) {
		w->rc = errseq_stat(w->c, w->r->names[i], &info);
		if (w->rc < 0 || info.holders != w->want[i]) {
			w->bad = i;
			w->got = w->rc < 0 ? 0 : info.holders;
			return false;
		}
	}
	w->bad = -1;
	return true;
}

/* Wait (bounded) until our own client is reconnected and can stat. */
static bool stat_ok(void *arg)
{
	struct holders_want *w = arg;
	struct errseq_slot_info info;

	return errseq_stat(w->c, w->r->names[0], &info) == 0;
}

START_TEST(daemon_kill_clients_survive)
{
	struct esdt_daemon d;
	struct dk_run r = { .d = &d };
	struct errseq_client *c;
	struct errseq_slot *held[MAX_SLOTS];
	struct errseq_slot_info before[MAX_SLOTS], after[MAX_SLOTS];
	pid_t pids[MAX_PROCS];
	int nprocs, st;
	uint64_t total_ops = 0, total_fails = 0, down_ops = 0, max_ns = 0;
	uint64_t watch_ops = 0, watch_fails = 0, reports = 0, downtime = 0;
	uint64_t reconnect_ns;
	struct status_want sw;
	struct holders_want hw;

	r.p.producers = (int)rel_pick(4, 8, 2);
	r.p.watchers = (int)rel_pick(4, 8, 2);
	r.p.shared_slots = (int)rel_pick(4, 8, 2);
	r.p.own_slots = 2;
	r.p.kills = (int)rel_pick(20, 200, 6);
	r.nslots = r.p.shared_slots + r.p.producers * r.p.own_slots;
	nprocs = r.p.producers + r.p.watchers;
	ck_assert_int_le(nprocs, MAX_PROCS);
	ck_assert_int_le(r.nslots, MAX_SLOTS);
	for (int i = 0; i < r.p.shared_slots; i++)
		snprintf(r.names[i], sizeof(r.names[i]), "dk.shared-%d", i);
	for (int p = 0; p < r.p.producers; p++)
		for (int k = 0; k < r.p.own_slots; k++)
			snprintf(r.names[own_slot(&r, p, k)],
				 sizeof(r.names[0]), "dk.p%d-%d", p, k);

	esdt_sweep();
	rel_start(&d, 256, NULL);
	ck_assert_int_eq(errseq_client_open(d.sock, &c), 0);
	for (int i = 0; i < r.nslots; i++) {
		ck_assert_int_eq(errseq_slot_open(c, r.names[i], ERRSEQ_CREATE,
						  &held[i]), 0);
		ck_assert_int_eq(errseq_stat(c, r.names[i], &before[i]), 0);
	}
	r.sh = rel_shared_alloc(sizeof(*r.sh));
	for (int i = 0; i < r.p.producers; i++)
		pids[i] = rel_fork(producer_main, &r, i);
	for (int i = 0; i < r.p.watchers; i++)
		pids[r.p.producers + i] =
			rel_fork(watcher_main, &r, r.p.producers + i);
	while (__atomic_load_n(&r.sh->ready, __ATOMIC_SEQ_CST) < nprocs) {
		for (int i = 0; i < nprocs; i++)
			ck_assert_msg(rel_alive(pids[i]), "child %d died", i);
		rel_sleep_us(1000);
	}

	rel_rand_seed((uint64_t)getpid());
	for (int k = 0; k < r.p.kills; k++) {
		uint64_t t0;

		rel_sleep_us(100000 + rel_rand_below(300000));	/* up */
		__atomic_store_n(&r.sh->down, 1, __ATOMIC_RELEASE);
		t0 = rel_now_ns();
		st = esdt_daemon_stop(&d, SIGKILL);
		ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
			      "kill %d: daemon had exited by itself (0x%x)", k,
			      st);
		rel_sleep_us(50000 + rel_rand_below(250000));	/* away */
		rel_restart(&d, NULL);
		__atomic_store_n(&r.sh->down, 0, __ATOMIC_RELEASE);
		downtime += rel_now_ns() - t0;
	}
	rel_sleep_us(200000);
	__atomic_store_n(&r.sh->stop, 1, __ATOMIC_RELEASE);
	while (__atomic_load_n(&r.sh->done, __ATOMIC_SEQ_CST) < nprocs) {
		for (int i = 0; i < nprocs; i++)
			ck_assert_msg(rel_alive(pids[i]), "child %d died", i);
		rel_sleep_us(2000);
	}

	/* every client reconnected: ours plus one per live child */
	reconnect_ns = rel_now_ns();
	sw = (struct status_want){ .c = c, .clients = (uint32_t)nprocs + 1 };
	ck_assert_msg(rel_wait_until(clients_match, &sw, 60000, 50),
		      "daemon counts %u clients (rc %d), %d are live",
		      sw.st.clients, sw.rc, nprocs + 1);
	reconnect_ns = rel_now_ns() - reconnect_ns;

	/* holders: ours + every producer (shared, or its own) + watchers */
	hw = (struct holders_want){ .r = &r, .c = c };
	for (int i = 0; i < r.nslots; i++)
		hw.want[i] = 1u + (uint32_t)r.p.watchers +
			     (i < r.p.shared_slots ? (uint32_t)r.p.producers :
						     1u);
	ck_assert_msg(rel_wait_until(holders_match, &hw, 60000, 50),
		      "slot %s: %u holders (rc %d), want %u",
		      hw.bad >= 0 ? r.names[hw.bad] : "?", hw.got, hw.rc,
		      hw.bad >= 0 ? hw.want[hw.bad] : 0);

	for (int i = 0; i < nprocs; i++) {
		struct dk_proc *p = &r.sh->proc[i];

		if (i < r.p.producers) {
			total_ops += p->ops;
			total_fails += p->fails;
			if (p->max_set_ns > max_ns)
				max_ns = p->max_set_ns;
			down_ops += p->down_ops;
			ck_assert_msg(p->fails == 0,
				      "producer %d: %llu sets failed, first %d",
				      i, (unsigned long long)p->fails,
				      p->first_fail);
			ck_assert_msg(p->down_ops > 0,
				      "producer %d made no set while the daemon "
				      "was away", i);
		} else {
			watch_ops += p->ops;
			watch_fails += p->fails;
			reports += p->reports;
			ck_assert_msg(p->fails == 0,
				      "watcher %d: %llu checks failed, first %d",
				      i, (unsigned long long)p->fails,
				      p->first_fail);
		}
	}

	/* names, indexes, generations, statistics and values intact */
	for (int i = 0; i < r.nslots; i++) {
		uint64_t sets = 0;

		ck_assert_int_eq(errseq_stat(c, r.names[i], &after[i]), 0);
		ck_assert_str_eq(after[i].name, r.names[i]);
		ck_assert_uint_eq(after[i].index, before[i].index);
		ck_assert_uint_eq(after[i].generation, before[i].generation);
		ck_assert_uint_eq(after[i].created_ns, before[i].created_ns);
		for (int p = 0; p < r.p.producers; p++)
			sets += r.sh->proc[p].per_slot[i];
		ck_assert_uint_eq(after[i].sets_total, sets);
		ck_assert_uint_eq(after[i].value, errseq_slot_peek(held[i]));
		if (i >= r.p.shared_slots) {
			int owner = (i - r.p.shared_slots) / r.p.own_slots;
			int last = r.sh->proc[owner].last_err[i];

			if (sets)
				ck_assert_int_eq(
					(int)(after[i].value & ERRSEQ_MAX_ERRNO),
					last);
		}
	}

	/* one more kill -9 while nothing runs: every word bit-for-bit */
	__atomic_store_n(&r.sh->exit_now, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < nprocs; i++) {
		st = rel_reap(pids[i]);
		ck_assert_msg(st == 0, "child %d exited with %d", i, st);
	}
	st = esdt_daemon_stop(&d, SIGKILL);
	rel_restart(&d, NULL);
	hw = (struct holders_want){ .r = &r, .c = c };
	ck_assert(rel_wait_until(stat_ok, &hw, 60000, 50));
	for (int i = 0; i < r.nslots; i++) {
		struct errseq_slot_info again;

		ck_assert_int_eq(errseq_stat(c, r.names[i], &again), 0);
		ck_assert_uint_eq(again.index, after[i].index);
		ck_assert_uint_eq(again.generation, after[i].generation);
		ck_assert_uint_eq(again.value, after[i].value);
		ck_assert_uint_eq(again.sets_total, after[i].sets_total);
		ck_assert_uint_eq(again.last_set_ns, after[i].last_set_ns);
		ck_assert_int_eq(again.last_pid, after[i].last_pid);
	}
	sw = (struct status_want){ .c = c, .clients = 1 };
	ck_assert_msg(rel_wait_until(clients_match, &sw, 60000, 50),
		      "daemon counts %u clients, want 1", sw.st.clients);
	hw = (struct holders_want){ .r = &r, .c = c };
	for (int i = 0; i < r.nslots; i++)
		hw.want[i] = 1;
	ck_assert_msg(rel_wait_until(holders_match, &hw, 60000, 50),
		      "after the children exited: slot %s has %u holders",
		      hw.bad >= 0 ? r.names[hw.bad] : "?", hw.got);

	rel_figure("daemon_kill.kills", "%d", r.p.kills + 1);
	rel_figure("daemon_kill.producers", "%d", r.p.producers);
	rel_figure("daemon_kill.watchers", "%d", r.p.watchers);
	rel_figure("daemon_kill.slots", "%d", r.nslots);
	rel_figure("daemon_kill.sets", "%llu", (unsigned long long)total_ops);
	rel_figure("daemon_kill.set_failures", "%llu",
		   (unsigned long long)total_fails);
	rel_figure("daemon_kill.sets_while_away", "%llu",
		   (unsigned long long)down_ops);
	rel_figure("daemon_kill.time_away_ms", "%llu",
		   (unsigned long long)(downtime / 1000000));
	rel_figure("daemon_kill.max_set_latency_us", "%llu",
		   (unsigned long long)(max_ns / 1000));
	rel_figure("daemon_kill.checks", "%llu",
		   (unsigned long long)watch_ops);
	rel_figure("daemon_kill.check_failures", "%llu",
		   (unsigned long long)watch_fails);
	rel_figure("daemon_kill.reports", "%llu",
		   (unsigned long long)reports);
	rel_figure("daemon_kill.reconnect_wait_ms", "%llu",
		   (unsigned long long)(reconnect_ns / 1000000));
	rel_figure("daemon_kill.clients_mismatch", "0");
	rel_figure("daemon_kill.holders_mismatch", "0");
	rel_figure("daemon_kill.slots_changed", "0");
	/* a sanity bound only: a set that waited for the daemon would take
	 * as long as an outage; the figure above is the measurement */
	ck_assert_msg(max_ns < 5000000000ull, "a set took %llu us",
		      (unsigned long long)(max_ns / 1000));

	for (int i = 0; i < r.nslots; i++)
		errseq_slot_close(held[i]);
	errseq_client_close(c);
	rel_stop_clean(&d);
	esdt_daemon_cleanup(&d);
	rel_shared_free(r.sh, sizeof(*r.sh));
}
END_TEST

int main(void)
{
	TCase *tc;
	Suite *s;

	s = rel_suite("daemon_kill", &tc);
	tcase_add_test(tc, daemon_kill_clients_survive);
	return rel_run(s);
}
