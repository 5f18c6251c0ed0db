/*
 * rel_concurrency.c - reliability figure 1: "told once" under concurrency.
 *
 * P producer processes record errors in a shared set of slots and W watcher
 * processes check them through two cursors per slot (a library cursor,
 * errseq_cursor_check, and a bare errseq_t with
 * errseq_slot_check_and_advance), all for a fixed number of operations.
 * Every operation is bracketed by two fetch_adds on one global sequence
 * number in shared memory: a producer logs (seq before, seq after, errno) of
 * each set, a watcher logs (seq before, seq after, result) of each check.
 * Afterwards a checker replays the logs against the semantics
 * (doc/semantics.md, "Under concurrency: what told once means")
 * and counts three figures that must all be 0:
 *
 *   missed      a check returned 0 although a set certainly happened between
 *               the end of the cursor's previous check and the start of this
 *               one (see "exempt" below);
 *   duplicates  a check reported an error although no set can have happened
 *               since the cursor's previous check started (one recorded error
 *               reported twice);
 *   phantoms    a check reported an errno that no set which could be the
 *               latest at that moment recorded (an error never recorded).
 *
 * Reports are judged against recorded events, never by comparing values: the
 * same value reported twice in a row is fine when a set happened in between.
 *
 * Why the windows are sound.  Each set's CAS (its linearization point) lies
 * between its two fetch_adds, and each check's load lies between its two;
 * fetch_add on one location is totally ordered and, on x86-64, a full
 * barrier, so "sa < b" means the set took effect before the check's load.
 *
 * "Exempt".  errseq_check_and_advance moves the cursor to old|SEEN even when
 * its CAS lost to a racing set (the kernel does the same).  If that set left
 * the word unseen and later sets bring the same errno back before somebody
 * else consumes it, the word can equal the cursor again and the cursor's
 * next check legitimately returns 0 (kernel semantics, not a bug).  That
 * needs a set overlapping the previous check's window while it reported, and
 * the errno it reported to be the latest again, so such a check is not
 * judged for "missed"; the number of such checks is printed as a figure.
 *
 * The checker can fail: the checker_* test cases run the same workload with
 * a deliberately broken watcher (one that skips the cursor advance, one that
 * drops reports, one that invents reports) and require the matching figure
 * to be non-zero.
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

enum inject {
	INJ_NONE = 0,
	INJ_SKIP_ADVANCE,	/* bare cursor: check_and_advance on a copy */
	INJ_DROP,		/* log every 5th report as 0 */
	INJ_PHANTOM,		/* log every 5th 0 as -EBADE (never set) */
};

struct pev {			/* one set, as its producer logged it */
	uint64_t sb, sa;	/* sequence before / after */
	uint32_t slot;
	int32_t err;
	int32_t rc;
	int32_t pad;
};

enum { REC_CREATE = 1, REC_CHECK = 2 };

struct wrec {			/* one watcher operation */
	uint64_t b, a;
	uint16_t slot;
	uint8_t cur;		/* 0: errseq_cursor, 1: bare errseq_t */
	uint8_t kind;		/* REC_* */
	int32_t res;
};

struct conc_params {
	int producers, watchers, slots;
	long sets_per_producer;
	long rounds;		/* watcher check rounds while producers run */
	enum inject inject;
};

struct conc_shared {
	uint64_t seq;		/* the global sequence number */
	int go;			/* 1: everyone starts */
	int producers_left;
	int ready;
	uint64_t wrec_count[];	/* per watcher */
};

struct conc_run {
	struct conc_params p;
	const struct esdt_daemon *d;
	struct conc_shared *sh;
	size_t sh_size;
	struct pev *pev;	/* producers * sets_per_producer */
	size_t pev_size;
	struct wrec *wrec;	/* watchers * wrec_cap */
	size_t wrec_size;
	uint64_t wrec_cap;
};

struct conc_figures {
	uint64_t sets, set_errors, checks, reports, creates;
	uint64_t missed, duplicates, phantoms, errors, exempt;
	uint64_t racing;	/* checks with a set possibly inside their window */
};

static const int errnos[] = { EIO, ENOSPC, EDQUOT, EROFS, 4095 };

static uint64_t tick(struct conc_shared *sh)
{
	return __atomic_fetch_add(&sh->seq, 1, __ATOMIC_SEQ_CST);
}

static void slot_name(char *buf, size_t len, int i)
{
	snprintf(buf, len, "conc.slot-%d", i);
}

static int open_slots(const struct conc_run *r, struct errseq_client **cp,
		      struct errseq_slot **slots)
{
	char name[64];
	int rc = errseq_client_open(r->d->sock, cp);

	if (rc < 0)
		return rc;
	for (int i = 0; i < r->p.slots; i++) {
		slot_name(name, sizeof(name), i);
		rc = errseq_slot_open(*cp, name, 0, &slots[i]);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static void wait_go(struct conc_shared *sh)
{
	__atomic_fetch_add(&sh->ready, 1, __ATOMIC_SEQ_CST);
	while (!__atomic_load_n(&sh->go, __ATOMIC_ACQUIRE))
		rel_sleep_us(200);
}

static int producer_main(void *arg, int idx)
{
	struct conc_run *r = arg;
	struct errseq_client *c = NULL;
	struct errseq_slot *slots[r->p.slots];
	struct pev *log = r->pev + (size_t)idx * (size_t)r->p.sets_per_producer;

	rel_rand_seed(0x1000 + (uint64_t)idx * 7919 + (uint64_t)getpid());
	if (open_slots(r, &c, slots) < 0)
		return 2;
	wait_go(r->sh);
	for (long k = 0; k < r->p.sets_per_producer; k++) {
		struct pev *e = &log[k];

		e->slot = rel_rand_below((uint32_t)r->p.slots);
		e->err = -errnos[rel_rand_below(sizeof(errnos) /
						sizeof(errnos[0]))];
		e->sb = tick(r->sh);
		e->rc = errseq_slot_set(slots[e->slot], e->err);
		e->sa = tick(r->sh);
		/* quiet gaps, so that some sets fall strictly between checks */
		if (rel_rand_below(64) == 0)
			rel_sleep_us(rel_rand_below(300));
	}
	__atomic_fetch_sub(&r->sh->producers_left, 1, __ATOMIC_SEQ_CST);
	errseq_client_close(c);
	return 0;
}

static int watch_one(struct conc_run *r, struct wrec *log, uint64_t *n,
		     uint16_t slot, uint8_t cur, struct errseq_slot *s,
		     struct errseq_cursor *cursor, errseq_t *since,
		     uint64_t *nth)
{
	struct wrec *w;
	int res;

	if (*n >= r->wrec_cap)
		return -1;
	w = &log[(*n)++];
	w->slot = slot;
	w->cur = cur;
	w->kind = REC_CHECK;
	w->b = tick(r->sh);
	if (cur == 0) {
		res = errseq_cursor_check(cursor);
	} else if (r->p.inject == INJ_SKIP_ADVANCE) {
		errseq_t copy = *since;

		res = errseq_slot_check_and_advance(s, &copy);
	} else {
		res = errseq_slot_check_and_advance(s, since);
	}
	w->a = tick(r->sh);
	(*nth)++;
	if (r->p.inject == INJ_DROP && res < 0 && *nth % 5 == 0)
		res = 0;
	if (r->p.inject == INJ_PHANTOM && res == 0 && *nth % 5 == 0)
		res = -EBADE;
	w->res = res;
	return 0;
}

static int watcher_main(void *arg, int idx)
{
	struct conc_run *r = arg;
	int ns = r->p.slots;
	struct errseq_client *c = NULL;
	struct errseq_slot *slots[ns];
	struct errseq_cursor *cursors[ns];
	errseq_t since[ns];
	struct wrec *log = r->wrec + (size_t)idx * r->wrec_cap;
	uint64_t n = 0, nth = 0;
	int order[ns];

	rel_rand_seed(0x2000 + (uint64_t)idx * 104729 + (uint64_t)getpid());
	if (open_slots(r, &c, slots) < 0)
		return 2;
	wait_go(r->sh);
	for (int i = 0; i < ns; i++) {
		struct wrec *w = &log[n++];

		w->slot = (uint16_t)i;
		w->cur = 0;
		w->kind = REC_CREATE;
		w->b = tick(r->sh);
		w->res = errseq_cursor_new(slots[i], &cursors[i]);
		w->a = tick(r->sh);
		if (w->res < 0)
			return 3;
		w = &log[n++];
		w->slot = (uint16_t)i;
		w->cur = 1;
		w->kind = REC_CREATE;
		w->b = tick(r->sh);
		since[i] = errseq_slot_sample(slots[i]);
		w->res = 0;
		w->a = tick(r->sh);
	}
	for (int i = 0; i < ns; i++)
		order[i] = i;
	for (long round = 0;
	     round < r->p.rounds &&
	     __atomic_load_n(&r->sh->producers_left, __ATOMIC_SEQ_CST) > 0;
	     round++) {
		for (int i = ns - 1; i > 0; i--) {	/* shuffle */
			int j = (int)rel_rand_below((uint32_t)i + 1), t = order[i];

			order[i] = order[j];
			order[j] = t;
		}
		for (int k = 0; k < ns; k++) {
			int i = order[k];

			if (watch_one(r, log, &n, (uint16_t)i, 0, slots[i],
				      cursors[i], &since[i], &nth) < 0 ||
			    watch_one(r, log, &n, (uint16_t)i, 1, slots[i],
				      cursors[i], &since[i], &nth) < 0)
				return 4;
		}
		if (rel_rand_below(8) == 0)
			rel_sleep_us(rel_rand_below(200));
	}
	while (__atomic_load_n(&r->sh->producers_left, __ATOMIC_SEQ_CST) > 0)
		rel_sleep_us(1000);
	/* the final check of every cursor, after the last set */
	for (int i = 0; i < ns; i++)
		if (watch_one(r, log, &n, (uint16_t)i, 0, slots[i], cursors[i],
			      &since[i], &nth) < 0 ||
		    watch_one(r, log, &n, (uint16_t)i, 1, slots[i], cursors[i],
			      &since[i], &nth) < 0)
			return 4;
	r->sh->wrec_count[idx] = n;
	for (int i = 0; i < ns; i++)
		errseq_cursor_free(cursors[i]);
	errseq_client_close(c);
	return 0;
}

/* ---- the checker ---- */

struct slot_events {		/* the successful sets on one slot */
	size_t n;
	uint64_t *sb, *sa;	/* sorted by sb */
	int32_t *err;
	uint64_t *sufmin_sa;	/* min sa over [k, n) */
	uint64_t *premax_sa;	/* max sa over [0, k] */
	uint64_t *by_sa;	/* sa values sorted */
	uint64_t *premax_sb;	/* max sb over the first k+1 in sa order */
	uint64_t maxwin;	/* max sa - sb */
};

static int cmp_pev(const void *x, const void *y)
{
	const struct pev *a = x, *b = y;

	return a->sb < b->sb ? -1 : a->sb > b->sb;
}

static int cmp_pair(const void *x, const void *y)
{
	const uint64_t *a = x, *b = y;

	return a[0] < b[0] ? -1 : a[0] > b[0];
}

/* Number of events with sb < x. */
static size_t count_sb_below(const struct slot_events *e, uint64_t x)
{
	size_t lo = 0, hi = e->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (e->sb[mid] < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Is there a set with sb > x and sa < y (certainly within (x, y))? */
static bool set_within(const struct slot_events *e, uint64_t x, uint64_t y)
{
	size_t k = count_sb_below(e, x + 1);	/* first with sb > x */

	return k < e->n && e->sufmin_sa[k] < y;
}

/* Is there a set with sa > x and sb < y (possibly within (x, y))? */
static bool set_maybe_within(const struct slot_events *e, uint64_t x,
			     uint64_t y)
{
	size_t k = count_sb_below(e, y);

	return k > 0 && e->premax_sa[k - 1] > x;
}

/* Could @err be the slot's errno at some instant within [b, a]? */
static bool explainable(const struct slot_events *e, int32_t err, uint64_t b,
			uint64_t a)
{
	size_t lo = 0, hi = e->n, k;
	uint64_t z = 0;

	/* z: the latest start of a set certainly over before b */
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (e->by_sa[mid] < b)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo > 0)
		z = e->premax_sb[lo - 1];
	/* candidates: sb < a and sa >= z (not certainly overwritten) */
	for (k = count_sb_below(e, a); k-- > 0;) {
		if (e->sb[k] + e->maxwin < z)
			break;
		if (e->err[k] == err && e->sa[k] >= z)
			return true;
	}
	return false;
}

static void build_events(const struct conc_run *r, struct slot_events *ev,
			 struct conc_figures *f)
{
	size_t total = (size_t)r->p.producers * (size_t)r->p.sets_per_producer;
	struct pev *all = malloc(total * sizeof(*all));
	size_t m = 0;

	ck_assert_ptr_nonnull(all);
	for (size_t i = 0; i < total; i++) {
		f->sets++;
		if (r->pev[i].rc != 0)
			f->set_errors++;
		else
			all[m++] = r->pev[i];
	}
	qsort(all, m, sizeof(*all), cmp_pev);
	for (int s = 0; s < r->p.slots; s++) {
		struct slot_events *e = &ev[s];
		size_t n = 0, j = 0;
		uint64_t (*pairs)[2];

		for (size_t i = 0; i < m; i++)
			n += all[i].slot == (uint32_t)s;
		e->n = n;
		e->sb = calloc(n + 1, sizeof(uint64_t));
		e->sa = calloc(n + 1, sizeof(uint64_t));
		e->err = calloc(n + 1, sizeof(int32_t));
		e->sufmin_sa = calloc(n + 1, sizeof(uint64_t));
		e->premax_sa = calloc(n + 1, sizeof(uint64_t));
		e->by_sa = calloc(n + 1, sizeof(uint64_t));
		e->premax_sb = calloc(n + 1, sizeof(uint64_t));
		pairs = calloc(n + 1, sizeof(*pairs));
		ck_assert(e->sb && e->sa && e->err && e->sufmin_sa &&
			  e->premax_sa && e->by_sa && e->premax_sb && pairs);
		for (size_t i = 0; i < m; i++)
			if (all[i].slot == (uint32_t)s) {
				e->sb[j] = all[i].sb;
				e->sa[j] = all[i].sa;
				e->err[j] = all[i].err;
				if (all[i].sa - all[i].sb > e->maxwin)
					e->maxwin = all[i].sa - all[i].sb;
				pairs[j][0] = all[i].sa;
				pairs[j][1] = all[i].sb;
				j++;
			}
		for (size_t i = n; i-- > 0;)
			e->sufmin_sa[i] = (i + 1 < n && e->sufmin_sa[i + 1] <
							  e->sa[i]) ?
						  e->sufmin_sa[i + 1] :
						  e->sa[i];
		for (size_t i = 0; i < n; i++)
			e->premax_sa[i] = (i > 0 && e->premax_sa[i - 1] >
							e->sa[i]) ?
						  e->premax_sa[i - 1] :
						  e->sa[i];
		qsort(pairs, n, sizeof(*pairs), cmp_pair);
		for (size_t i = 0; i < n; i++) {
			e->by_sa[i] = pairs[i][0];
			e->premax_sb[i] = (i > 0 && e->premax_sb[i - 1] >
							pairs[i][1]) ?
						  e->premax_sb[i - 1] :
						  pairs[i][1];
		}
		free(pairs);
	}
	free(all);
}

static void free_events(struct slot_events *ev, int n)
{
	for (int s = 0; s < n; s++) {
		free(ev[s].sb);
		free(ev[s].sa);
		free(ev[s].err);
		free(ev[s].sufmin_sa);
		free(ev[s].premax_sa);
		free(ev[s].by_sa);
		free(ev[s].premax_sb);
	}
}

struct cursor_state {
	int seen;		/* a record exists */
	uint64_t b, a;		/* the previous record's window */
	int res;
	int kind;
	bool overlapped;	/* a set may have run within [b, a] */
};

static void check_logs(const struct conc_run *r, struct conc_figures *f)
{
	struct slot_events ev[r->p.slots];

	memset(ev, 0, sizeof(ev));
	build_events(r, ev, f);
	for (int w = 0; w < r->p.watchers; w++) {
		const struct wrec *log = r->wrec + (size_t)w * r->wrec_cap;
		struct cursor_state cs[r->p.slots][2];

		memset(cs, 0, sizeof(cs));
		for (uint64_t i = 0; i < r->sh->wrec_count[w]; i++) {
			const struct wrec *x = &log[i];
			const struct slot_events *e = &ev[x->slot];
			struct cursor_state *p = &cs[x->slot][x->cur];

			if (x->kind == REC_CREATE) {
				f->creates++;
				*p = (struct cursor_state){ 1, x->b, x->a,
							    x->res, REC_CREATE,
							    false };
				continue;
			}
			f->checks++;
			if (!p->seen) {	/* a check before its cursor: log bug */
				f->errors++;
				continue;
			}
			if (x->res < -ERRSEQ_MAX_ERRNO || x->res > 0) {
				f->errors++;	/* ESTALE or nonsense */
			} else if (x->res == 0) {
				/* the word can be back at the cursor only if
				 * the latest errno is again the one the
				 * previous check reported */
				bool exempt = p->kind == REC_CHECK &&
					      p->res != 0 && p->overlapped &&
					      explainable(e, p->res, x->b,
							  x->a);

				if (set_within(e, p->a, x->b)) {
					if (exempt)
						f->exempt++;
					else
						f->missed++;
				}
			} else {
				bool justified;

				f->reports++;
				if (p->kind == REC_CREATE)
					justified = count_sb_below(e, x->a) > 0;
				else
					justified = set_maybe_within(e, p->b,
								     x->a);
				if (!explainable(e, x->res, x->b, x->a))
					f->phantoms++;
				else if (!justified)
					f->duplicates++;
			}
			p->b = x->b;
			p->a = x->a;
			p->res = x->res;
			p->kind = REC_CHECK;
			p->overlapped = set_maybe_within(e, x->b, x->a);
			f->racing += p->overlapped;
		}
	}
	free_events(ev, r->p.slots);
}

/* ---- the run ---- */

static void run(const struct conc_params *prm, struct conc_figures *f)
{
	struct esdt_daemon d;
	struct conc_run r = { .p = *prm, .d = &d };
	struct errseq_client *c = NULL;
	struct errseq_slot *owner[prm->slots];
	pid_t pids[prm->producers + prm->watchers];
	char name[64];
	int np = 0, st;

	memset(f, 0, sizeof(*f));
	esdt_sweep();
	rel_start(&d, 0, NULL);
	ck_assert_int_eq(errseq_client_open(d.sock, &c), 0);
	for (int i = 0; i < prm->slots; i++) {
		slot_name(name, sizeof(name), i);
		ck_assert_int_eq(errseq_slot_open(c, name, ERRSEQ_CREATE,
						  &owner[i]), 0);
	}
	r.sh_size = sizeof(*r.sh) + (size_t)prm->watchers * sizeof(uint64_t);
	r.sh = rel_shared_alloc(r.sh_size);
	r.sh->producers_left = prm->producers;
	r.sh->seq = 1;
	r.pev_size = (size_t)prm->producers * (size_t)prm->sets_per_producer *
		     sizeof(struct pev);
	r.pev = rel_shared_alloc(r.pev_size);
	r.wrec_cap = (uint64_t)(prm->rounds + 2) * (uint64_t)prm->slots * 2;
	r.wrec_size = (size_t)prm->watchers * r.wrec_cap * sizeof(struct wrec);
	r.wrec = rel_shared_alloc(r.wrec_size);

	for (int i = 0; i < prm->producers; i++)
		pids[np++] = rel_fork(producer_main, &r, i);
	for (int i = 0; i < prm->watchers; i++)
		pids[np++] = rel_fork(watcher_main, &r, i);
	/* start together once every process has its client and slots */
	while (__atomic_load_n(&r.sh->ready, __ATOMIC_SEQ_CST) < np) {
		for (int i = 0; i < np; i++)
			ck_assert_msg(rel_alive(pids[i]),
				      "child %d died before the start", i);
		rel_sleep_us(1000);
	}
	__atomic_store_n(&r.sh->go, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < np; i++) {
		st = rel_reap(pids[i]);
		ck_assert_msg(st == 0, "%s %d exited with %d",
			      i < prm->producers ? "producer" : "watcher", i,
			      st);
	}
	check_logs(&r, f);

	for (int i = 0; i < prm->slots; i++)
		errseq_slot_close(owner[i]);
	errseq_client_close(c);
	rel_stop_clean(&d);
	esdt_daemon_cleanup(&d);
	rel_shared_free(r.sh, r.sh_size);
	rel_shared_free(r.pev, r.pev_size);
	rel_shared_free(r.wrec, r.wrec_size);
}

static struct conc_params scaled(enum inject inj)
{
	struct conc_params p = {
		.producers = (int)rel_pick(8, 16, 8),
		.watchers = (int)rel_pick(32, 64, 32),
		.slots = (int)rel_pick(8, 16, 4),
		.sets_per_producer = rel_pick(50000, 200000, 1000),
		.rounds = rel_pick(5000, 8000, 100),
		.inject = inj,
	};

	if (inj != INJ_NONE) {	/* the checker self-tests: smaller */
		p.producers = 4;
		p.watchers = 8;
		p.slots = 4;
		p.sets_per_producer = 2000;
		p.rounds = 300;
	}
	return p;
}

static void print_figures(const char *pfx, const struct conc_params *p,
			  const struct conc_figures *f)
{
	char n[96];

#define FIG(what, val)                                              \
	do {                                                        \
		snprintf(n, sizeof(n), "%s.%s", pfx, what);         \
		rel_figure(n, "%llu", (unsigned long long)(val));   \
	} while (0)
	FIG("producers", p->producers);
	FIG("watchers", p->watchers);
	FIG("slots", p->slots);
	FIG("sets", f->sets);
	FIG("set_errors", f->set_errors);
	FIG("cursors", f->creates);
	FIG("checks", f->checks);
	FIG("reports", f->reports);
	FIG("missed", f->missed);
	FIG("duplicates", f->duplicates);
	FIG("phantoms", f->phantoms);
	FIG("errors", f->errors);
	FIG("exempt", f->exempt);
	FIG("checks_racing_a_set", f->racing);
#undef FIG
}

START_TEST(concurrency_told_once)
{
	struct conc_params p = scaled(INJ_NONE);
	struct conc_figures f;

	run(&p, &f);
	print_figures("concurrency", &p, &f);
	ck_assert_uint_eq(f.sets, (uint64_t)p.producers *
					  (uint64_t)p.sets_per_producer);
	ck_assert_uint_eq(f.set_errors, 0);
	ck_assert_uint_eq(f.errors, 0);
	ck_assert_uint_gt(f.reports, 0);
	ck_assert_uint_eq(f.missed, 0);
	ck_assert_uint_eq(f.duplicates, 0);
	ck_assert_uint_eq(f.phantoms, 0);
}
END_TEST

/* The checker must be able to fail: a watcher that never advances its bare
 * cursor reports one recorded error again and again. */
START_TEST(concurrency_checker_catches_skipped_advance)
{
	struct conc_params p = scaled(INJ_SKIP_ADVANCE);
	struct conc_figures f;

	run(&p, &f);
	print_figures("checker_skip_advance", &p, &f);
	ck_assert_uint_gt(f.duplicates, 0);
}
END_TEST

/* A watcher that drops every fifth report misses errors. */
START_TEST(concurrency_checker_catches_dropped_reports)
{
	struct conc_params p = scaled(INJ_DROP);
	struct conc_figures f;

	run(&p, &f);
	print_figures("checker_drop", &p, &f);
	ck_assert_uint_gt(f.missed, 0);
}
END_TEST

/* A watcher that turns every fifth quiet check into -EBADE (which no
 * producer records) reports an error that was never recorded. */
START_TEST(concurrency_checker_catches_phantoms)
{
	struct conc_params p = scaled(INJ_PHANTOM);
	struct conc_figures f;

	run(&p, &f);
	print_figures("checker_phantom", &p, &f);
	ck_assert_uint_gt(f.phantoms, 0);
}
END_TEST

int main(void)
{
	TCase *tc;
	Suite *s;

	s = rel_suite("concurrency", &tc);
	tcase_add_test(tc, concurrency_told_once);
	if (rel_scale() != REL_SCALE_VALGRIND) {
		tcase_add_test(tc, concurrency_checker_catches_skipped_advance);
		tcase_add_test(tc, concurrency_checker_catches_dropped_reports);
		tcase_add_test(tc, concurrency_checker_catches_phantoms);
	}
	return rel_run(s);
}
