/*
 * watch.c - one pollable fd for many cursors (errseq_watch_*), so that an
 * event loop (epoll, poll, libevent, libuv, GLib, asyncio) can wait for a
 * new error on any of them without a thread of its own per slot.
 *
 * How it works.  A watch owns an eventfd (the fd the caller polls) and one
 * helper thread.  The thread ARMs every slot once per connection (so that
 * setters wake it; doc/shm-layout.md, "Waiting") and sleeps in
 * futex_waitv(2) on the slot words of up to ESQ_WATCH_WAITV - 1 cursors
 * plus a private "kick" word, each compared with the cursor's position
 * (its since).  When any word differs from its cursor's position, the
 * thread makes the eventfd readable and stops looking until the caller
 * has drained the watch: errseq_watch_next reports one cursor's news at a
 * time and, when a full pass finds nothing, reads the eventfd empty and
 * kicks the thread, which takes the cursors' new positions and sleeps
 * again.  futex_waitv compares each word with the position it was given
 * atomically with going to sleep, so a change made after the caller's last
 * look is seen either then or by the next comparison: nothing is missed.
 *
 * Bounds.  Sleeps last at most ESQ_WATCH_SLICE_MS and end with a fresh
 * look (like errseq_slot_wait: a writer may scribble `waiters`).  Cursors
 * beyond the first ESQ_WATCH_WAITV - 1, and kernels without futex_waitv
 * (before Linux 5.16: ENOSYS), are looked at every ESQ_WATCH_POLL_MS
 * instead.
 *
 * Locking.  w->lock guards the cursor list and the thread's state; it is
 * never held across a sleep (it is across the ARM round trip of a slot not
 * armed on this connection yet, once per slot and connection).  A cursor
 * must be removed from its watch before it, or its slot, is freed.  Cursor positions are
 * read with the relaxed loads errseq_cursor_check uses.
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
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

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

struct errseq_watch {
	struct errseq_client *client;
	pthread_mutex_t lock;
	struct watch_entry *e;
	size_t n, cap;
	size_t next;		/* round-robin start of the next pass */
	int efd;		/* the caller's fd */
	bool signalled;		/* efd made readable, caller not done */
	bool stop;
	uint32_t kick;		/* private futex: membership, drain, stop */
	bool thread_started;
	pthread_t thread;
};

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

/* Does @cur have news: a word other than its position (stale included)? */
static bool has_news(const struct errseq_cursor *cur)
{
	const struct errseq_slot *s = cur->slot;
	uint64_t w = __atomic_load_n(&s->shm->word, __ATOMIC_ACQUIRE);
	errseq_t since = __atomic_load_n(&cur->since, __ATOMIC_RELAXED);

	if ((w & ERRSEQ__GEN_MASK) != errseq__slot_gen(s))
		return true;
	if ((uint32_t)w == since)
		return false;
	/* a read-only handle whose SEEN could not be marked: no news */
	return errseq__slot_writable(s) ||
	       ((uint32_t)w | ERRSEQ_SEEN) != since;
}

static void signal_fd(struct errseq_watch *w)
{
	uint64_t one = 1;

	(void)!write(w->efd, &one, sizeof(one));
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

static void *watch_thread(void *arg)
{
	struct errseq_watch *w = arg;
	struct esq_futex_waitv *v = calloc(ESQ_WATCH_WAITV, sizeof(*v));
	bool waitv_ok = true;

	if (!v)
		goto out;
	for (;;) {
		struct timespec until;
		uint32_t kicked;
		unsigned nv = 0;
		bool news = false, more;
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

				if (w->e[i].stale_told)
					continue;
				if (has_news(cur)) {
					news = true;
					break;
				}
				if (nv < ESQ_WATCH_WAITV - 1) {
					v[nv].uaddr = (uint64_t)(uintptr_t)
						&cur->slot->shm->word;
					v[nv].val = __atomic_load_n(
						&cur->since, __ATOMIC_RELAXED);
					v[nv].flags = FUTEX_32;
					v[nv].reserved = 0;
					nv++;
					/* once per connection; best effort:
					 * the bounded sleep covers a failure.
					 * Under w->lock, so that the slot
					 * cannot be removed meanwhile. */
					(void)errseq__request_arm(cur->slot);
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
		if (waitv_ok && futex_waitv(v, nv + 1, &until) < 0 &&
		    errno == ENOSYS)
			waitv_ok = false;
		if (!waitv_ok) {
			/* no futex_waitv: sleep on the kick word alone */
			struct timespec rel = { 0, slice * 1000000L };

			syscall(SYS_futex, &w->kick, FUTEX_WAIT_PRIVATE,
				kicked, &rel, NULL, 0);
		}
	}
out:
	free(v);
	return NULL;
}

ERRSEQ_EXPORT int errseq_watch_new(struct errseq_client *c,
				   struct errseq_watch **out)
{
	struct errseq_watch *w;
	sigset_t all, old;
	int r;

	if (!c || !out)
		return -EINVAL;
	if (errseq__forked(c))
		return ERRSEQ_EFORKED;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->client = c;
	pthread_mutex_init(&w->lock, NULL);
	w->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (w->efd < 0) {
		r = -errno;
		goto fail;
	}
	/* The thread takes no signal: they belong to the application. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = -pthread_create(&w->thread, NULL, watch_thread, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r < 0)
		goto fail;
	w->thread_started = true;
	*out = w;
	return 0;
fail:
	if (w->efd >= 0)
		close(w->efd);
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

ERRSEQ_EXPORT int errseq_watch_next(struct errseq_watch *w,
				    struct errseq_cursor **out)
{
	uint64_t drain;

	if (!w || !out)
		return -EINVAL;
	pthread_mutex_lock(&w->lock);
	for (size_t k = 0; k < w->n; k++) {
		size_t i = (w->next + k) % w->n;
		struct watch_entry *e = &w->e[i];
		int r;

		if (e->stale_told || !has_news(e->cur))
			continue;
		r = errseq__cursor_poll(e->cur);
		if (r == 0)
			continue;	/* consumed by another thread, or no
					 * errno in the change: advanced */
		if (r == ERRSEQ_ESTALE)
			e->stale_told = true;
		w->next = (i + 1) % w->n;
		*out = e->cur;
		pthread_mutex_unlock(&w->lock);
		return r;
	}
	/* Nothing left: empty the fd, then let the thread look again from
	 * the positions we just advanced to. */
	(void)!read(w->efd, &drain, sizeof(drain));
	w->signalled = false;
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
		pthread_join(w->thread, NULL);
	}
	close(w->efd);
	free(w->e);
	free(w);
}
