/*
 * rel_client_kill.c - reliability figure 3: clients killed mid-call.
 *
 * Victim processes loop over client open, slot open (with create), bursts
 * of sets, cursor checks, slot close, unlink and client close, and are
 * killed with SIGKILL at random points (each victim publishes the call it
 * is in, so the figures say how many kills landed in which call).
 * Afterwards the daemon must have released every hold of the dead clients:
 *   - status: one client (ours), no deleted slot still held;
 *   - stat: 0 holders on every surviving slot;
 *   - the daemon's fd count (/proc/PID/fd) is back to what it was before;
 *   - no slot index leaked: once every name is unlinked, all `capacity`
 *     slots can be created again, and one more gets -ENOSPC.
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

/* The global maximum is a whole number of chunks (layout 2: --slots is
 * rounded up to 1024); every victim runs as our uid, so one chunk. */
#define CAPACITY	1024
#define NAMES		12
#define MAX_VICTIMS	16

enum phase {
	PH_START = 0,	/* forked, before anything */
	PH_CLIENT_OPEN,
	PH_SLOT_OPEN,
	PH_SET,
	PH_CURSOR,
	PH_SLOT_CLOSE,
	PH_UNLINK,
	PH_CLIENT_CLOSE,
	PH_BETWEEN,	/* between two calls */
	PH_COUNT
};

static const char *const phase_names[PH_COUNT] = {
	"start", "client_open", "slot_open", "set", "cursor", "slot_close",
	"unlink", "client_close", "between",
};

struct ck_shared {
	int phase[MAX_VICTIMS];
	uint64_t loops[MAX_VICTIMS];
};

struct ck_run {
	const struct esdt_daemon *d;
	struct ck_shared *sh;
};

static void pool_name(char *buf, size_t len, int i)
{
	snprintf(buf, len, "ck.pool-%d", i);
}

static void enter(struct ck_run *r, int idx, enum phase ph)
{
	__atomic_store_n(&r->sh->phase[idx], (int)ph, __ATOMIC_SEQ_CST);
}

/* Never returns: it is killed. */
static int victim_main(void *arg, int idx)
{
	struct ck_run *r = arg;
	struct errseq_client *c = NULL;
	char name[48];

	rel_rand_seed(0x5000 + (uint64_t)getpid() * 2654435761u);
	for (;;) {
		struct errseq_slot *s[3] = { NULL, NULL, NULL };
		int n = 1 + (int)rel_rand_below(3);

		if (!c) {
			enter(r, idx, PH_CLIENT_OPEN);
			if (errseq_client_open(r->d->sock, &c) < 0)
				c = NULL;
			enter(r, idx, PH_BETWEEN);
			if (!c)
				continue;
		}
		for (int i = 0; i < n; i++) {
			pool_name(name, sizeof(name),
				  (int)rel_rand_below(NAMES));
			enter(r, idx, PH_SLOT_OPEN);
			if (errseq_slot_open(c, name, ERRSEQ_CREATE, &s[i]) < 0)
				s[i] = NULL;
			enter(r, idx, PH_BETWEEN);
		}
		for (int i = 0; i < n; i++) {
			struct errseq_cursor *cur;

			if (!s[i])
				continue;
			enter(r, idx, PH_SET);
			for (int k = 0; k < 5000; k++)
				errseq_slot_set(s[i], -EIO);
			enter(r, idx, PH_CURSOR);
			if (errseq_cursor_new(s[i], &cur) == 0) {
				errseq_cursor_check(cur);
				errseq_cursor_free(cur);
			}
			enter(r, idx, PH_BETWEEN);
		}
		if (rel_rand_below(6) == 0) {
			pool_name(name, sizeof(name),
				  (int)rel_rand_below(NAMES));
			enter(r, idx, PH_UNLINK);
			errseq_slot_unlink(c, name);
			enter(r, idx, PH_BETWEEN);
		}
		for (int i = 0; i < n; i++) {
			if (!s[i])
				continue;
			enter(r, idx, PH_SLOT_CLOSE);
			errseq_slot_close(s[i]);
			enter(r, idx, PH_BETWEEN);
		}
		if (rel_rand_below(8) == 0) {
			enter(r, idx, PH_CLIENT_CLOSE);
			errseq_client_close(c);
			c = NULL;
			enter(r, idx, PH_BETWEEN);
		}
		r->sh->loops[idx]++;
	}
	return 0;
}

struct settle {
	struct errseq_client *c;
	pid_t daemon;
	int fds_want, fds;
	struct errseq_daemon_status st;
	int bad_holders;
};

/* The dead clients' connections and holds are all gone. */
static bool settled(void *arg)
{
	struct settle *w = arg;
	char name[48];

	if (errseq_status(w->c, &w->st) < 0 || w->st.clients != 1 ||
	    w->st.slots_held != 0)
		return false;
	w->bad_holders = 0;
	for (int i = 0; i < NAMES; i++) {
		struct errseq_slot_info info;
		int rc;

		pool_name(name, sizeof(name), i);
		rc = errseq_stat(w->c, name, &info);
		if (rc == 0 && info.holders != 0)
			w->bad_holders++;
		else if (rc < 0 && rc != -ENOENT)
			return false;
	}
	if (w->bad_holders)
		return false;
	w->fds = esdt_count_fds(w->daemon);
	return w->fds == w->fds_want;
}

START_TEST(client_kill_holds_released)
{
	struct esdt_daemon d;
	struct ck_run r = { .d = &d };
	struct errseq_client *c;
	struct errseq_slot *all[CAPACITY + 1];
	uint64_t by_phase[PH_COUNT] = { 0 };
	pid_t pids[MAX_VICTIMS] = { 0 };
	int victims = (int)rel_pick(4, 8, 2);
	int kills = (int)rel_pick(300, 5000, 40);
	long max_delay_us = rel_pick(20000, 20000, 200000);
	int done = 0, fds0, st, created = 0, rc;
	struct settle w;
	char name[48];
	uint64_t loops = 0;

	esdt_sweep();
	rel_start(&d, CAPACITY, NULL);
	ck_assert_int_eq(errseq_client_open(d.sock, &c), 0);
	/* Layout 2 creates slot memory on demand: the first create adds a
	 * chunk, whose fds (read-write and read-only) the daemon keeps for
	 * good.  Create it before counting, so that the count measures what
	 * the dead clients leave behind, as in layout 1. */
	ck_assert_int_eq(errseq_slot_open(c, "ck.warm", ERRSEQ_CREATE,
					  &all[0]), 0);
	errseq_slot_close(all[0]);
	fds0 = esdt_count_fds(d.pid);
	ck_assert_int_gt(fds0, 0);
	r.sh = rel_shared_alloc(sizeof(*r.sh));
	rel_rand_seed((uint64_t)getpid());

	while (done < kills) {
		for (int v = 0; v < victims; v++)
			if (!pids[v]) {
				r.sh->phase[v] = PH_START;
				pids[v] = rel_fork(victim_main, &r, v);
			}
		for (int v = 0; v < victims; v++) {	/* the whole batch */
			long us = rel_rand_below(3) == 0 ?
					  (long)rel_rand_below(500) :
					  (long)rel_rand_below(
						  (uint32_t)max_delay_us);

			rel_sleep_us(us / victims);
			kill(pids[v], SIGKILL);
			by_phase[__atomic_load_n(&r.sh->phase[v],
						 __ATOMIC_SEQ_CST)]++;
			st = rel_reap(pids[v]);
			ck_assert_msg(st == 128 + SIGKILL,
				      "victim %d ended with %d, not by SIGKILL",
				      v, st);
			loops += r.sh->loops[v];
			r.sh->loops[v] = 0;
			pids[v] = 0;
			done++;
		}
	}

	w = (struct settle){ .c = c, .daemon = d.pid, .fds_want = fds0 };
	ck_assert_msg(rel_wait_until(settled, &w, 60000, 50),
		      "not settled: clients %u (want 1), slots_held %u, "
		      "%d slots with holders, daemon fds %d (before: %d)",
		      w.st.clients, w.st.slots_held, w.bad_holders, w.fds,
		      fds0);

	rel_figure("client_kill.kills", "%d", done);
	rel_figure("client_kill.victim_loops", "%llu",
		   (unsigned long long)loops);
	for (int p = 0; p < PH_COUNT; p++) {
		char fig[64];

		snprintf(fig, sizeof(fig), "client_kill.killed_in_%s",
			 phase_names[p]);
		rel_figure(fig, "%llu", (unsigned long long)by_phase[p]);
	}
	rel_figure("client_kill.daemon_fds_before", "%d", fds0);
	rel_figure("client_kill.daemon_fds_after", "%d", w.fds);
	rel_figure("client_kill.clients_after", "%u", w.st.clients);
	rel_figure("client_kill.slots_held_after", "%u", w.st.slots_held);
	rel_figure("client_kill.slots_with_holders_after", "%d",
		   w.bad_holders);

	/* the kills did land inside the calls the brief names (with 300+
	 * kills a zero here would mean the victims' timing changed) */
	if (kills >= 300) {
		ck_assert_uint_gt(by_phase[PH_SLOT_OPEN], 0);
		ck_assert_uint_gt(by_phase[PH_SLOT_CLOSE], 0);
		ck_assert_uint_gt(by_phase[PH_SET], 0);
	}

	/* no index leaked: unlink everything, then fill the segment */
	ck_assert_int_eq(errseq_slot_unlink(c, "ck.warm"), 0);
	for (int i = 0; i < NAMES; i++) {
		pool_name(name, sizeof(name), i);
		rc = errseq_slot_unlink(c, name);
		ck_assert_msg(rc == 0 || rc == -ENOENT, "unlink %s: %d", name,
			      rc);
	}
	ck_assert_int_eq(errseq_status(c, &w.st), 0);
	ck_assert_uint_eq(w.st.slots_used, 0);
	ck_assert_uint_eq(w.st.slots_held, 0);
	ck_assert_uint_eq(w.st.capacity, CAPACITY);
	for (int i = 0; i < CAPACITY; i++) {
		snprintf(name, sizeof(name), "ck.fill-%d", i);
		rc = errseq_slot_open(c, name, ERRSEQ_CREATE | ERRSEQ_EXCL,
				      &all[i]);
		if (rc == 0)
			created++;
		else
			all[i] = NULL;
	}
	rc = errseq_slot_open(c, "ck.fill-one-too-many",
			      ERRSEQ_CREATE | ERRSEQ_EXCL, &all[CAPACITY]);
	rel_figure("client_kill.slots_creatable_after", "%d", created);
	rel_figure("client_kill.slots_leaked", "%d", CAPACITY - created);
	ck_assert_int_eq(created, CAPACITY);
	ck_assert_int_eq(rc, -ENOSPC);
	ck_assert_int_eq(errseq_status(c, &w.st), 0);
	ck_assert_uint_eq(w.st.chunks, CAPACITY / w.st.chunk_slots);
	for (int i = 0; i < CAPACITY; i++) {
		snprintf(name, sizeof(name), "ck.fill-%d", i);
		errseq_slot_close(all[i]);
		ck_assert_int_eq(errseq_slot_unlink(c, name), 0);
	}

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

	s = rel_suite("client_kill", &tc);
	tcase_add_test(tc, client_kill_holds_released);
	return rel_run(s);
}
