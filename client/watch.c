/*
 * watch.c - one pollable fd for many cursors (errseq_watch_*), so that an
 * event loop (epoll, poll, libevent, libuv, GLib, asyncio) can wait for a
 * new error on any of them without a thread of its own per slot.
 *
 * The caller polls an eventfd.  Two ways to make it readable, chosen per
 * watch at errseq_watch_new:
 *
 * io_uring (Linux 6.7 and later; the fast way).  The watch's thread (the
 * "looker") owns an io_uring instance, set up with raw system calls (no
 * liburing) as IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
 * with the eventfd registered (IORING_REGISTER_EVENTFD).  The cursors are
 * cut into groups of ESQ_GROUP; each group has one IORING_OP_FUTEX_WAITV
 * request in flight on its cursors' slot words, each compared with the
 * cursor's position.  A set that changes a watched word wakes the request
 * (FUTEX_WAKE: the slot is ARMed as for any waiter, doc/shm-layout.md,
 * "Waiting"), and the kernel signals the eventfd from the setter's wake
 * itself, as it queues the completion: the looker is not on that path.
 * errseq_watch_next reports one cursor's news at a time; when a full pass
 * finds nothing it empties the eventfd and asks the looker to re-arm: the
 * looker takes the completions (with the eventfd's signal switched off,
 * IORING_CQ_EVENTFD_DISABLED, so that taking them does not fire the fd
 * again) and submits a new request for every group whose request
 * completed, with the positions just advanced to.  A group whose request
 * is still in flight needs nothing: it is queued on every word of the
 * group, and any later set wakes it.  Adding or removing a cursor changes
 * its group (and the last one): the looker cancels the old request and
 * submits a new one.  Every ESQ_WATCH_SLICE_MS the looker also takes a
 * fresh look at every cursor (the bounded re-check every waiter keeps: a
 * writer may scribble `waiters`) and signals the eventfd if one has news
 * that no wake reported.  Smaller groups than FUTEX_WAITV_MAX keep the
 * wake cheap: the kernel unqueues every futex of a request it completes.
 *
 * Helper thread (the fallback: kernels before 6.7, io_uring disabled by
 * sysctl or seccomp, or ERRSEQ_WATCH=thread in the environment).  The
 * watch's thread sleeps in futex_waitv(2) on the slot words of up to
 * ESQ_WATCH_WAITV - 1 cursors plus a private "kick" word.  When any word
 * differs from its cursor's position the thread makes the eventfd
 * readable and stops looking until the caller has drained the watch: the
 * 0 of errseq_watch_next reads the eventfd empty and kicks the thread,
 * which takes the cursors' new positions and sleeps again.  Sleeps last at
 * most ESQ_WATCH_SLICE_MS and end with a fresh look; cursors beyond the
 * first ESQ_WATCH_WAITV - 1, and kernels without futex_waitv (before
 * 5.16), are looked at every ESQ_WATCH_POLL_MS instead.  The thread
 * remembers which word woke it (futex_waitv's return) and
 * errseq_watch_next looks at that cursor first.
 *
 * No miss, either way: the kernel compares every word with the position it
 * was given atomically with queueing the waiter, so a change made after
 * the caller's last look is seen either then or by the wake of the set.
 *
 * Locking.  w->lock guards the cursor list, the groups and the threads'
 * state; it is never held across a sleep.  errseq_watch_add ARMs the
 * cursor's slot before taking it; the threads ARM again under it, which is
 * a round trip only after a reconnect.  Only the looker touches the ring.  A cursor must be
 * removed from its watch before it, or its slot, is freed.  Cursor
 * positions are read with the relaxed loads errseq_cursor_check uses.  A
 * slot word is reached only through slot_word().
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#if defined(__has_include)
#if __has_include(<linux/io_uring.h>)
#include <linux/io_uring.h>
#define ESQ_HAVE_URING 1
#endif
#endif

#include "common/visibility.h"
#include "client/internal.h"

#define ESQ_WATCH_WAITV		128	/* FUTEX_WAITV_MAX */
#define ESQ_WATCH_SLICE_MS	250	/* longest sleep without a fresh look */
#define ESQ_WATCH_POLL_MS	10	/* look period beyond futex_waitv */

#ifndef __NR_futex_waitv
#define __NR_futex_waitv	449
#endif

struct esq_futex_waitv {	/* struct futex_waitv of linux/futex.h */
	uint64_t val;
	uint64_t uaddr;
	uint32_t flags;
	uint32_t reserved;
};

struct watch_entry {
	struct errseq_cursor *cur;
	bool stale_told;	/* ERRSEQ_ESTALE reported once already */
};

#ifdef ESQ_HAVE_URING
/*
 * IORING_OP_FUTEX_WAITV is an enum constant of Linux 6.7's header, so it
 * cannot be tested with #ifdef: its value is fixed ABI.  Debian 12's
 * headers (6.1) lack it.
 */
#define ESQ_IORING_OP_FUTEX_WAITV	53
#ifndef __NR_io_uring_setup
#define __NR_io_uring_setup	425
#endif
#ifndef __NR_io_uring_enter
#define __NR_io_uring_enter	426
#endif
#ifndef __NR_io_uring_register
#define __NR_io_uring_register	427
#endif

#ifndef IORING_SETUP_TASKRUN_FLAG
#define IORING_SETUP_TASKRUN_FLAG	(1U << 9)
#endif
#ifndef IORING_SETUP_SINGLE_ISSUER
#define IORING_SETUP_SINGLE_ISSUER	(1U << 12)
#endif
#ifndef IORING_SETUP_DEFER_TASKRUN
#define IORING_SETUP_DEFER_TASKRUN	(1U << 13)
#endif
#ifndef IORING_SQ_CQ_OVERFLOW
#define IORING_SQ_CQ_OVERFLOW		(1U << 1)
#endif
#ifndef IORING_SQ_TASKRUN
#define IORING_SQ_TASKRUN		(1U << 2)
#endif
#ifndef IORING_CQ_EVENTFD_DISABLED
#define IORING_CQ_EVENTFD_DISABLED	(1U << 0)
#endif

#define ESQ_URING_ENTRIES	64	/* SQ size; the CQ is twice that */
#define ESQ_GROUP		16	/* cursors per request (<= 128) */

/* user_data of a request: its kind in the top bits */
#define UD_KIND_SHIFT	62
#define UD_GROUP	0ull	/* | gen << 24 | group */
#define UD_OTHER	2ull	/* cancels, the probe: ignored */

struct ring {
	int fd;
	void *sq_map, *cq_map;
	size_t sq_len, cq_len;
	struct io_uring_sqe *sqes;
	size_t sqes_len;
	unsigned *sq_head, *sq_tail, *sq_flags, sq_mask, sq_entries;
	unsigned *cq_head, *cq_tail, *cq_flags, cq_mask;
	struct io_uring_cqe *cqes;
	unsigned tail;		/* our SQ tail, published at enter */
	unsigned pending;	/* SQEs written since the last enter */
};

/* One FUTEX_WAITV request: the entries [gi * ESQ_GROUP, + ESQ_GROUP). */
struct group {
	uint32_t gen;		/* bumped at every submission */
	bool inflight;		/* submitted, completion not consumed */
	bool dirty;		/* membership changed since submission */
	unsigned nv;
	struct esq_futex_waitv v[ESQ_GROUP];	/* read at submit */
	uint32_t ent[ESQ_GROUP];	/* v[k] watches entry ent[k] */
};
#endif

struct errseq_watch {
	struct errseq_client *client;
	pthread_mutex_t lock;
	struct watch_entry *e;
	size_t n, cap;
	size_t next;		/* round-robin start of the next pass */
	size_t hint;		/* entry to look at first; SIZE_MAX: none */
	int efd;		/* the caller's fd, an eventfd */
	bool uring;		/* the io_uring way; else the helper */
	bool signalled;		/* helper: efd made readable, caller not
				 * done */
	bool stop;
	uint32_t kick;		/* private futex: membership, drain, stop */
	bool thread_started;
	pthread_t thread;
#ifdef ESQ_HAVE_URING
	/* the io_uring way; the ring is the looker's alone */
	struct ring r;
	int start;		/* looker: 0 starting, 1 running, < 0 failed */
	pthread_cond_t started;
	bool rearm;		/* the caller drained: re-arm */
	bool changed;		/* some group is dirty */
	struct group **g;
	size_t ng;
	bool degraded;		/* a request failed: look every POLL_MS */
#endif
};

/* The slot word of @cur (the one place that knows the handle's shape). */
static inline uint64_t *slot_word(const struct errseq_cursor *cur)
{
	return &cur->slot->shm->word;
}

/*
 * Does @cur have news: a word other than its position (stale included)?
 * If not, *@val is the low half to sleep on: the position, or the word
 * itself for a read-only handle whose SEEN could not be marked (its
 * position then holds SEEN and the word not; sleeping on the position
 * would return at once, forever).
 */
static bool has_news(const struct errseq_cursor *cur, uint32_t *val)
{
	const struct errseq_slot *s = cur->slot;
	uint64_t w = __atomic_load_n(slot_word(cur), __ATOMIC_ACQUIRE);
	errseq_t since = __atomic_load_n(&cur->since, __ATOMIC_RELAXED);

	if (val)
		*val = (uint32_t)w;
	if ((w & ERRSEQ__GEN_MASK) != errseq__slot_gen(s))
		return true;
	if ((uint32_t)w == since)
		return false;
	return errseq__slot_writable(s) ||
	       ((uint32_t)w | ERRSEQ_SEEN) != since;
}

static void deadline_in(struct timespec *ts, int ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_nsec += (long)ms * 1000000L;
	while (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* ------------------------------------------------------------------ */
/* The helper thread's way                                             */
/* ------------------------------------------------------------------ */

static long futex_waitv(struct esq_futex_waitv *v, unsigned n,
			const struct timespec *abs_mono)
{
	return syscall(__NR_futex_waitv, v, n, 0, abs_mono, CLOCK_MONOTONIC);
}

static void kick(struct errseq_watch *w)
{
	/* seq_cst: the thread reads kick before it sleeps on it */
	__atomic_add_fetch(&w->kick, 1, __ATOMIC_SEQ_CST);
	syscall(SYS_futex, &w->kick, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL,
		0);
}

static void signal_fd(struct errseq_watch *w)
{
	uint64_t one = 1;

	(void)!write(w->efd, &one, sizeof(one));
}

static void *watch_thread(void *arg)
{
	struct errseq_watch *w = arg;
	struct esq_futex_waitv *v = calloc(ESQ_WATCH_WAITV, sizeof(*v));
	size_t *ent = calloc(ESQ_WATCH_WAITV, sizeof(*ent));
	bool waitv_ok = true;

	if (!v || !ent)
		goto out;
	for (;;) {
		struct timespec until;
		uint32_t kicked;
		unsigned nv = 0;
		bool news = false, more;
		long woke;
		int slice;

		pthread_mutex_lock(&w->lock);
		if (w->stop) {
			pthread_mutex_unlock(&w->lock);
			break;
		}
		/* seq_cst: pairs with kick(); a kick after this load makes
		 * the futex_waitv below return at once */
		kicked = __atomic_load_n(&w->kick, __ATOMIC_SEQ_CST);
		if (!w->signalled) {
			for (size_t i = 0; i < w->n; i++) {
				struct errseq_cursor *cur = w->e[i].cur;
				uint32_t val;

				if (w->e[i].stale_told)
					continue;
				if (nv < ESQ_WATCH_WAITV - 1)
					/* once per connection; best effort:
					 * the bounded sleep covers a failure.
					 * Under w->lock, so that the slot
					 * cannot be removed meanwhile. */
					(void)errseq__request_arm(cur->slot);
				if (has_news(cur, &val)) {
					news = true;
					w->hint = i;
					break;
				}
				if (nv < ESQ_WATCH_WAITV - 1) {
					v[nv].uaddr = (uint64_t)(uintptr_t)
						slot_word(cur);
					v[nv].val = val;
					v[nv].flags = FUTEX_32;
					v[nv].reserved = 0;
					ent[nv] = i;
					nv++;
				}
			}
			if (news) {
				w->signalled = true;
				signal_fd(w);
			}
		}
		more = w->n > nv;
		pthread_mutex_unlock(&w->lock);

		v[nv].uaddr = (uint64_t)(uintptr_t)&w->kick;
		v[nv].val = kicked;
		v[nv].flags = FUTEX_32 | FUTEX_PRIVATE_FLAG;
		v[nv].reserved = 0;
		slice = (more || !waitv_ok) && !news ? ESQ_WATCH_POLL_MS
						     : ESQ_WATCH_SLICE_MS;
		deadline_in(&until, slice);
		woke = -1;
		if (waitv_ok) {
			woke = futex_waitv(v, nv + 1, &until);
			if (woke < 0 && errno == ENOSYS)
				waitv_ok = false;
		}
		if (woke >= 0 && (unsigned long)woke < nv) {
			/* a slot word woke us: look at it first.  The
			 * kick (membership changes) bumps before any
			 * reordering of w->e can be looked at, and the
			 * hint is only ever a place to start. */
			pthread_mutex_lock(&w->lock);
			if (ent[woke] < w->n)
				w->hint = ent[woke];
			pthread_mutex_unlock(&w->lock);
		}
		if (!waitv_ok) {
			/* no futex_waitv: sleep on the kick word alone */
			struct timespec rel = { 0, slice * 1000000L };

			syscall(SYS_futex, &w->kick, FUTEX_WAIT_PRIVATE,
				kicked, &rel, NULL, 0);
		}
	}
out:
	free(ent);
	free(v);
	return NULL;
}

/* Start @fn as the watch's thread, which takes no signal (they belong to
 * the application). */
static int thread_start(struct errseq_watch *w, void *(*fn)(void *))
{
	sigset_t all, old;
	int r;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = -pthread_create(&w->thread, NULL, fn, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r < 0)
		return r;
	w->thread_started = true;
	return 0;
}


/* ------------------------------------------------------------------ */
/* The io_uring way                                                    */
/* ------------------------------------------------------------------ */

#ifdef ESQ_HAVE_URING

static int uring_enter(int fd, unsigned submit, unsigned min, unsigned flags)
{
	long r;

	do
		r = syscall(__NR_io_uring_enter, fd, submit, min, flags, NULL,
			    0);
	while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : (int)r;
}

static void ring_unmap(struct ring *r)
{
	if (r->sqes && r->sqes != MAP_FAILED)
		munmap(r->sqes, r->sqes_len);
	if (r->cq_map && r->cq_map != MAP_FAILED && r->cq_map != r->sq_map)
		munmap(r->cq_map, r->cq_len);
	if (r->sq_map && r->sq_map != MAP_FAILED)
		munmap(r->sq_map, r->sq_len);
	if (r->fd >= 0)
		close(r->fd);	/* cancels what is in flight */
	memset(r, 0, sizeof(*r));
	r->fd = -1;
}

/* Set up the calling thread's ring: 0 or a negative errno. */
static int ring_setup(struct ring *r)
{
	struct io_uring_params p;
	unsigned *array;
	long fd;

	memset(r, 0, sizeof(*r));
	memset(&p, 0, sizeof(p));
	p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
		  IORING_SETUP_TASKRUN_FLAG;
	fd = syscall(__NR_io_uring_setup, ESQ_URING_ENTRIES, &p);
	if (fd < 0) {
		r->fd = -1;
		return -errno;
	}
	r->fd = (int)fd;
	r->sq_len = p.sq_off.array + p.sq_entries * sizeof(unsigned);
	r->cq_len = p.cq_off.cqes + p.cq_entries *
		    sizeof(struct io_uring_cqe);
	if (p.features & IORING_FEAT_SINGLE_MMAP) {
		if (r->cq_len > r->sq_len)
			r->sq_len = r->cq_len;
		r->cq_len = r->sq_len;
	}
	r->sq_map = mmap(NULL, r->sq_len, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_SQ_RING);
	if (r->sq_map == MAP_FAILED)
		goto fail;
	if (p.features & IORING_FEAT_SINGLE_MMAP)
		r->cq_map = r->sq_map;
	else {
		r->cq_map = mmap(NULL, r->cq_len, PROT_READ | PROT_WRITE,
				 MAP_SHARED | MAP_POPULATE, r->fd,
				 IORING_OFF_CQ_RING);
		if (r->cq_map == MAP_FAILED)
			goto fail;
	}
	r->sqes_len = p.sq_entries * sizeof(struct io_uring_sqe);
	r->sqes = mmap(NULL, r->sqes_len, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_SQES);
	if (r->sqes == MAP_FAILED)
		goto fail;
	r->sq_head = (unsigned *)((char *)r->sq_map + p.sq_off.head);
	r->sq_tail = (unsigned *)((char *)r->sq_map + p.sq_off.tail);
	r->sq_flags = (unsigned *)((char *)r->sq_map + p.sq_off.flags);
	r->sq_mask = *(unsigned *)((char *)r->sq_map + p.sq_off.ring_mask);
	r->sq_entries = p.sq_entries;
	array = (unsigned *)((char *)r->sq_map + p.sq_off.array);
	for (unsigned i = 0; i < p.sq_entries; i++)
		array[i] = i;	/* SQE i is always at array slot i */
	r->cq_head = (unsigned *)((char *)r->cq_map + p.cq_off.head);
	r->cq_tail = (unsigned *)((char *)r->cq_map + p.cq_off.tail);
	r->cq_flags = (unsigned *)((char *)r->cq_map + p.cq_off.flags);
	r->cq_mask = *(unsigned *)((char *)r->cq_map + p.cq_off.ring_mask);
	r->cqes = (struct io_uring_cqe *)((char *)r->cq_map + p.cq_off.cqes);
	r->tail = *r->sq_tail;
	return 0;
fail:
	ring_unmap(r);
	return -ENOMEM;
}

/* Submit what was written; 0 or a negative errno. */
static int ring_flush(struct ring *r)
{
	while (r->pending) {
		int k;

		/* release: the SQEs before the tail the kernel reads */
		__atomic_store_n(r->sq_tail, r->tail, __ATOMIC_RELEASE);
		k = uring_enter(r->fd, r->pending, 0, 0);
		if (k < 0)
			return k;
		if (k == 0)
			return -EAGAIN;
		r->pending -= (unsigned)k;
	}
	return 0;
}

/* A zeroed SQE to fill, submitting first if the queue is full. */
static struct io_uring_sqe *ring_sqe(struct ring *r)
{
	struct io_uring_sqe *sqe;

	if (r->tail - __atomic_load_n(r->sq_head, __ATOMIC_ACQUIRE) >=
	    r->sq_entries && ring_flush(r) < 0)
		return NULL;
	sqe = &r->sqes[r->tail & r->sq_mask];
	memset(sqe, 0, sizeof(*sqe));
	r->tail++;
	r->pending++;
	return sqe;
}

static uint64_t ud_group(size_t gi, uint32_t gen)
{
	return UD_GROUP << UD_KIND_SHIFT | (uint64_t)(gen & 0xffffffffu) << 24 |
	       gi;
}

/* The eventfd's signal on completions: on or off. */
static void evfd_signal(struct ring *r, bool on)
{
	/* seq_cst: ordered before the take that follows */
	if (on)
		__atomic_and_fetch(r->cq_flags, ~IORING_CQ_EVENTFD_DISABLED,
				   __ATOMIC_SEQ_CST);
	else
		__atomic_or_fetch(r->cq_flags, IORING_CQ_EVENTFD_DISABLED,
				  __ATOMIC_SEQ_CST);
}

/*
 * Take every completion (w->lock held).  With DEFER_TASKRUN the kernel
 * queues a woken request's completion as work for the looker, signals the
 * eventfd when that queue goes from empty to not empty, and posts the
 * completion (signalling the eventfd again) only when the looker enters
 * the ring, which runs a bounded number of them (20 on Linux 6.18) per
 * enter: enter until IORING_SQ_TASKRUN says none is left.  A group's
 * completion (of its current generation) leaves it without a request; one
 * that failed other than by a change (-EAGAIN) or a cancel makes the watch
 * look every ESQ_WATCH_POLL_MS from then on.
 */
static void ring_take(struct errseq_watch *w)
{
	struct ring *r = &w->r;
	unsigned head, tail;

again:
	(void)uring_enter(r->fd, 0, 0, IORING_ENTER_GETEVENTS);
	head = *r->cq_head;
	/* acquire: the CQEs before the tail the kernel wrote */
	tail = __atomic_load_n(r->cq_tail, __ATOMIC_ACQUIRE);
	for (; head != tail; head++) {
		const struct io_uring_cqe *c = &r->cqes[head & r->cq_mask];
		size_t gi = c->user_data & 0xffffff;
		uint32_t gen = (uint32_t)(c->user_data >> 24);

		if (c->user_data >> UD_KIND_SHIFT != UD_GROUP ||
		    gi >= w->ng || w->g[gi]->gen != gen)
			continue;
		w->g[gi]->inflight = false;
		if (c->res < 0 && c->res != -EAGAIN && c->res != -ECANCELED)
			w->degraded = true;
	}
	/* release: we are done with the CQEs before head */
	__atomic_store_n(r->cq_head, head, __ATOMIC_RELEASE);
	/* completion work not run yet, or more completions than the CQ
	 * holds (kept in the kernel's overflow list: IORING_FEAT_NODROP):
	 * the next enter runs or moves them */
	if (__atomic_load_n(r->sq_flags, __ATOMIC_ACQUIRE) &
	    (IORING_SQ_CQ_OVERFLOW | IORING_SQ_TASKRUN))
		goto again;
}

/*
 * Queue group @gi's request with the cursors' present positions.  Returns
 * true if one of them has news already: then no request is queued (the
 * caller signals the eventfd; the caller's drain re-arms).
 */
static bool submit_group(struct errseq_watch *w, size_t gi)
{
	struct group *g = w->g[gi];
	size_t first = gi * ESQ_GROUP, end = first + ESQ_GROUP;
	struct io_uring_sqe *sqe;

	g->dirty = false;
	g->inflight = false;
	if (end > w->n)
		end = w->n;
	g->nv = 0;
	for (size_t i = first; i < end; i++) {
		struct errseq_cursor *cur = w->e[i].cur;
		uint32_t val = 0;

		if (w->e[i].stale_told)
			continue;
		/* once per connection, before the kernel's comparison; best
		 * effort: the looker's fresh look covers a failure.  Under
		 * w->lock, so that the slot cannot be removed meanwhile. */
		(void)errseq__request_arm(cur->slot);
		if (has_news(cur, &val))
			return true;
		g->v[g->nv] = (struct esq_futex_waitv){
			.val = val,
			.uaddr = (uint64_t)(uintptr_t)slot_word(cur),
			.flags = FUTEX_32,
		};
		g->ent[g->nv++] = (uint32_t)i;
	}
	if (g->nv == 0 || w->degraded)
		return false;
	sqe = ring_sqe(&w->r);
	if (!sqe) {
		w->degraded = true;
		return false;
	}
	g->gen++;
	sqe->opcode = ESQ_IORING_OP_FUTEX_WAITV;
	sqe->addr = (uint64_t)(uintptr_t)g->v;
	sqe->len = g->nv;
	sqe->user_data = ud_group(gi, g->gen);
	g->inflight = true;
	return false;
}

/*
 * The looker's re-arm (w->lock held): take the completions, cancel the
 * requests of groups whose membership changed, and queue a request for
 * every group without one.  The eventfd's signal is off while we take the
 * completions of wakes the caller has already been told of, and the
 * cancelled requests': taking them would signal it again.  A wake while it
 * is off is not lost: either its completion is among those taken (then its
 * group is submitted again below, and its news seen there), or it came
 * after the last take with the signal off; then the take with the signal
 * on posts it, which signals.  That take also empties the kernel's queue
 * of completion work, so that the next wake signals (the kernel signals
 * when that queue goes from empty to not empty).
 */
static void ring_rearm(struct errseq_watch *w)
{
	bool news = false, cancelled = false;

	evfd_signal(&w->r, false);
	ring_take(w);
	for (size_t gi = 0; gi < w->ng; gi++) {
		struct group *g = w->g[gi];
		struct io_uring_sqe *sqe;

		if (!g->inflight || !g->dirty)
			continue;
		sqe = ring_sqe(&w->r);
		if (!sqe)
			continue;
		sqe->opcode = IORING_OP_ASYNC_CANCEL;
		sqe->fd = -1;
		sqe->addr = ud_group(gi, g->gen);
		sqe->user_data = UD_OTHER << UD_KIND_SHIFT;
		cancelled = true;
	}
	if (cancelled) {
		/* the cancelled requests' completions, and the cancels' */
		(void)ring_flush(&w->r);
		ring_take(w);
	}
	evfd_signal(&w->r, true);
	ring_take(w);
	for (size_t gi = 0; gi < w->ng; gi++)
		if (!w->g[gi]->inflight || w->g[gi]->dirty)
			news |= submit_group(w, gi);
	if (ring_flush(&w->r) < 0)
		w->degraded = true;
	if (news)
		signal_fd(w);
}

/*
 * Does this kernel run IORING_OP_FUTEX_WAITV?  A request on a private word
 * that differs from its value must complete with -EAGAIN (an unknown op:
 * -EINVAL).
 */
static int ring_probe(struct ring *r)
{
	uint32_t word = 1;
	struct esq_futex_waitv v = {
		.val = 0,
		.uaddr = (uint64_t)(uintptr_t)&word,
		.flags = FUTEX_32 | FUTEX_PRIVATE_FLAG,
	};
	struct io_uring_sqe *sqe = ring_sqe(r);
	int res = -ENOSYS, k;
	unsigned head;

	if (!sqe)
		return -EAGAIN;
	sqe->opcode = ESQ_IORING_OP_FUTEX_WAITV;
	sqe->addr = (uint64_t)(uintptr_t)&v;
	sqe->len = 1;
	sqe->user_data = UD_OTHER << UD_KIND_SHIFT;
	__atomic_store_n(r->sq_tail, r->tail, __ATOMIC_RELEASE);
	k = uring_enter(r->fd, 1, 1, IORING_ENTER_GETEVENTS);
	if (k < 0)
		return k;
	r->pending = 0;
	head = *r->cq_head;
	if (head != __atomic_load_n(r->cq_tail, __ATOMIC_ACQUIRE)) {
		res = r->cqes[head & r->cq_mask].res;
		__atomic_store_n(r->cq_head, head + 1, __ATOMIC_RELEASE);
	}
	return res == -EAGAIN ? 0 : -ENOSYS;
}

/*
 * The looker: sets up the ring (so that it is its single issuer), then
 * re-arms when asked and takes a fresh look every ESQ_WATCH_SLICE_MS
 * (ESQ_WATCH_POLL_MS once degraded): ARM every cursor's slot (a no-op but
 * after a reconnect) and signal the eventfd if a cursor has news that no
 * wake reported (a writer zeroed `waiters`, the daemon was away).
 */
static void *looker_thread(void *arg)
{
	struct errseq_watch *w = arg;
	struct timespec next_look;
	int r = ring_setup(&w->r);

	if (r == 0)
		r = ring_probe(&w->r);
	if (r == 0 && syscall(__NR_io_uring_register, w->r.fd,
			      IORING_REGISTER_EVENTFD, &w->efd, 1) < 0)
		r = -errno;
	pthread_mutex_lock(&w->lock);
	w->start = r < 0 ? r : 1;
	pthread_cond_signal(&w->started);
	pthread_mutex_unlock(&w->lock);
	if (r < 0) {
		ring_unmap(&w->r);
		return NULL;
	}
	deadline_in(&next_look, ESQ_WATCH_SLICE_MS);
	for (;;) {
		struct timespec now, rel;
		uint32_t kicked;

		pthread_mutex_lock(&w->lock);
		if (w->stop) {
			pthread_mutex_unlock(&w->lock);
			break;
		}
		/* seq_cst: pairs with kick() */
		kicked = __atomic_load_n(&w->kick, __ATOMIC_SEQ_CST);
		if (w->rearm || w->changed) {
			w->rearm = w->changed = false;
			ring_rearm(w);
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec > next_look.tv_sec ||
		    (now.tv_sec == next_look.tv_sec &&
		     now.tv_nsec >= next_look.tv_nsec)) {
			for (size_t i = 0; i < w->n; i++) {
				if (w->e[i].stale_told)
					continue;
				(void)errseq__request_arm(w->e[i].cur->slot);
				if (has_news(w->e[i].cur, NULL)) {
					signal_fd(w);
					break;
				}
			}
			deadline_in(&next_look, w->degraded ?
				    ESQ_WATCH_POLL_MS : ESQ_WATCH_SLICE_MS);
			clock_gettime(CLOCK_MONOTONIC, &now);
		}
		rel.tv_sec = next_look.tv_sec - now.tv_sec;
		rel.tv_nsec = next_look.tv_nsec - now.tv_nsec;
		if (rel.tv_nsec < 0) {
			rel.tv_sec--;
			rel.tv_nsec += 1000000000L;
		}
		if (rel.tv_sec < 0)
			rel.tv_sec = rel.tv_nsec = 0;
		pthread_mutex_unlock(&w->lock);
		syscall(SYS_futex, &w->kick, FUTEX_WAIT_PRIVATE, kicked, &rel,
			NULL, 0);
	}
	ring_unmap(&w->r);
	return NULL;
}

/* Enough groups for @n entries (ng only grows).  w->lock held. */
static int groups_fit(struct errseq_watch *w, size_t n)
{
	size_t need = (n + ESQ_GROUP - 1) / ESQ_GROUP;
	struct group **g;

	if (need <= w->ng)
		return 0;
	g = realloc(w->g, need * sizeof(*g));
	if (!g)
		return -ENOMEM;
	w->g = g;
	for (; w->ng < need; w->ng++) {
		w->g[w->ng] = calloc(1, sizeof(struct group));
		if (!w->g[w->ng])
			return -ENOMEM;
	}
	return 0;
}

/* Entries @i and @j moved or changed: their groups need a new request. */
static void groups_dirty(struct errseq_watch *w, size_t i, size_t j)
{
	if (i / ESQ_GROUP < w->ng)
		w->g[i / ESQ_GROUP]->dirty = true;
	if (j / ESQ_GROUP < w->ng)
		w->g[j / ESQ_GROUP]->dirty = true;
	w->changed = true;
}

/* Start the looker and wait until it has a ring: 0, or a negative errno
 * (then nothing is left running). */
static int uring_start(struct errseq_watch *w)
{
	int r = thread_start(w, looker_thread);
	if (r < 0)
		return r;
	pthread_mutex_lock(&w->lock);
	while (w->start == 0)
		pthread_cond_wait(&w->started, &w->lock);
	r = w->start;
	pthread_mutex_unlock(&w->lock);
	if (r < 0) {
		pthread_join(w->thread, NULL);
		w->thread_started = false;
		return r;
	}
	w->uring = true;
	return 0;
}

static void uring_free(struct errseq_watch *w)
{
	for (size_t gi = 0; gi < w->ng; gi++)
		free(w->g[gi]);
	free(w->g);
	pthread_cond_destroy(&w->started);
}
#endif /* ESQ_HAVE_URING */

/* ------------------------------------------------------------------ */
/* The API                                                             */
/* ------------------------------------------------------------------ */

/* ERRSEQ_WATCH=thread: use the helper thread even where io_uring works. */
static bool thread_forced(void)
{
	const char *env = secure_getenv("ERRSEQ_WATCH");

	return env && strcmp(env, "thread") == 0;
}

ERRSEQ_EXPORT int errseq_watch_new(struct errseq_client *c,
				   struct errseq_watch **out)
{
	struct errseq_watch *w;
	int r = -ENOSYS;

	if (!c || !out)
		return -EINVAL;
	if (errseq__forked(c))
		return ERRSEQ_EFORKED;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->client = c;
	w->hint = SIZE_MAX;
	pthread_mutex_init(&w->lock, NULL);
	w->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (w->efd < 0) {
		r = -errno;
		pthread_mutex_destroy(&w->lock);
		free(w);
		return r;
	}
#ifdef ESQ_HAVE_URING
	w->r.fd = -1;
	pthread_cond_init(&w->started, NULL);
	if (!thread_forced())
		r = uring_start(w);
#else
	(void)thread_forced;
#endif
	if (r < 0)
		r = thread_start(w, watch_thread);
	if (r < 0)
		goto fail;
	*out = w;
	return 0;
fail:
	close(w->efd);
#ifdef ESQ_HAVE_URING
	uring_free(w);
#endif
	pthread_mutex_destroy(&w->lock);
	free(w);
	return r;
}

ERRSEQ_EXPORT int errseq_watch_add(struct errseq_watch *w,
				   struct errseq_cursor *cur)
{
	if (!w || !cur)
		return -EINVAL;
	if (errseq__cold(cur->slot)->client != w->client)
		return -EXDEV;
	/* Count the watch among the slot's waiters now (once per slot and
	 * connection; best effort, the threads' fresh looks cover a
	 * failure), so that the thread's ARM under w->lock is a no-op and
	 * errseq_watch_next never waits behind a round trip. */
	(void)errseq__request_arm(cur->slot);
	pthread_mutex_lock(&w->lock);
	for (size_t i = 0; i < w->n; i++)
		if (w->e[i].cur == cur) {
			pthread_mutex_unlock(&w->lock);
			return -EEXIST;
		}
	if (w->n == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 16;
		struct watch_entry *e = realloc(w->e, cap * sizeof(*e));

		if (!e) {
			pthread_mutex_unlock(&w->lock);
			return -ENOMEM;
		}
		w->e = e;
		w->cap = cap;
	}
#ifdef ESQ_HAVE_URING
	if (w->uring) {
		int r = groups_fit(w, w->n + 1);

		if (r < 0) {
			pthread_mutex_unlock(&w->lock);
			return r;
		}
		groups_dirty(w, w->n, w->n);
	}
#endif
	w->e[w->n++] = (struct watch_entry){ .cur = cur };
	pthread_mutex_unlock(&w->lock);
	kick(w);
	return 0;
}

ERRSEQ_EXPORT int errseq_watch_remove(struct errseq_watch *w,
				      struct errseq_cursor *cur)
{
	if (!w || !cur)
		return -EINVAL;
	pthread_mutex_lock(&w->lock);
	for (size_t i = 0; i < w->n; i++) {
		if (w->e[i].cur != cur)
			continue;
		w->e[i] = w->e[--w->n];
		if (w->next > w->n)
			w->next = 0;
		w->hint = SIZE_MAX;
#ifdef ESQ_HAVE_URING
		if (w->uring)
			groups_dirty(w, i, w->n);
#endif
		pthread_mutex_unlock(&w->lock);
		kick(w);
		return 0;
	}
	pthread_mutex_unlock(&w->lock);
	return -ENOENT;
}

ERRSEQ_EXPORT int errseq_watch_fd(struct errseq_watch *w)
{
	return w ? w->efd : -EINVAL;
}

/* Report entry @i if it has news: its report, or 0.  w->lock held. */
static int report(struct errseq_watch *w, size_t i,
		  struct errseq_cursor **out)
{
	struct watch_entry *e = &w->e[i];
	int r;

	if (e->stale_told || !has_news(e->cur, NULL))
		return 0;
	r = errseq__cursor_poll(e->cur);
	if (r == 0)
		return 0;	/* consumed by another thread, or no errno in
				 * the change: advanced */
	if (r == ERRSEQ_ESTALE)
		e->stale_told = true;
	*out = e->cur;
	return r;
}

ERRSEQ_EXPORT int errseq_watch_next(struct errseq_watch *w,
				    struct errseq_cursor **out)
{
	uint64_t drain;
	size_t hint;
	int r;

	if (!w || !out)
		return -EINVAL;
	pthread_mutex_lock(&w->lock);
	/* the cursor whose word woke the helper thread first */
	hint = w->hint;
	w->hint = SIZE_MAX;
	if (hint < w->n && (r = report(w, hint, out)) != 0) {
		pthread_mutex_unlock(&w->lock);
		return r;
	}
	for (size_t k = 0; k < w->n; k++) {
		size_t i = (w->next + k) % w->n;

		if ((r = report(w, i, out)) != 0) {
			w->next = (i + 1) % w->n;
			pthread_mutex_unlock(&w->lock);
			return r;
		}
	}
	/* Nothing left: empty the fd first (a wake after this signals it
	 * again), then have the thread look again from the positions we
	 * just advanced to. */
	(void)!read(w->efd, &drain, sizeof(drain));
	w->signalled = false;
#ifdef ESQ_HAVE_URING
	w->rearm = true;
#endif
	pthread_mutex_unlock(&w->lock);
	kick(w);
	*out = NULL;
	return 0;
}

ERRSEQ_EXPORT void errseq_watch_free(struct errseq_watch *w)
{
	if (!w)
		return;
	if (w->thread_started && !errseq__forked(w->client)) {
		pthread_mutex_lock(&w->lock);
		w->stop = true;
		pthread_mutex_unlock(&w->lock);
		kick(w);
		pthread_join(w->thread, NULL);	/* the looker closes its ring */
	}
#ifdef ESQ_HAVE_URING
	else if (w->uring)
		ring_unmap(&w->r);	/* a fork child's copy */
	uring_free(w);
#endif
	close(w->efd);
	pthread_mutex_destroy(&w->lock);
	free(w->e);
	free(w);
}
