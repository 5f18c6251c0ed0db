/*
 * cursor.c - cursors: a watcher's position on a slot, shareable between
 * threads of one process.
 *
 * A cursor is errseq.rst's supervisor: a private errseq_t "since" and a
 * lock that serialises check_and_advance on it, so that two threads
 * sharing the cursor can neither report one error twice nor move the
 * cursor backward.  errseq_cursor_check follows the document's pattern:
 * check first without the lock (a single acquire load of the slot word,
 * the common case when nothing happened), and only if something changed
 * take the lock and check_and_advance.
 *
 *   since      read: relaxed atomic load, lock-free (the pre-check only
 *              decides whether to take the lock; the locked path re-reads
 *              it under the lock)
 *              written: relaxed atomic store, with the lock held
 *
 * Lifetime: a cursor belongs to its slot.  errseq_cursor_free frees it;
 * any cursor still alive when its slot is closed (errseq_slot_close,
 * errseq_client_close) is freed with the slot, and its pointer becomes
 * invalid.  The slot keeps the list under errseq__registry_lock.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>

#include "common/visibility.h"
#include "client/internal.h"

static errseq_t since_load(struct errseq_cursor *cur)
{
	/* relaxed: see the top of the file */
	return __atomic_load_n(&cur->since, __ATOMIC_RELAXED);
}

ERRSEQ_EXPORT int errseq_cursor_new(struct errseq_slot *s,
				    struct errseq_cursor **out)
{
	struct errseq_cursor *cur;
	errseq_t since;

	if (!s || !out)
		return -EINVAL;
	/* A stale slot would give a meaningless 0: refuse instead.  (The
	 * slot may still turn stale right after; the cursor reports it.) */
	if (errseq_slot_check(s, 0) == ERRSEQ_ESTALE)
		return ERRSEQ_ESTALE;
	since = errseq_slot_sample(s);

	cur = calloc(1, sizeof(*cur));
	if (!cur)
		return -ENOMEM;
	cur->slot = s;
	cur->since = since;
	pthread_mutex_init(&cur->lock, NULL);
	errseq__list_init(&cur->link);

	pthread_mutex_lock(&errseq__registry_lock);
	errseq__list_add(&s->cursors, &cur->link);
	pthread_mutex_unlock(&errseq__registry_lock);
	*out = cur;
	return 0;
}

/* The locked half of errseq_cursor_check, out of line so that the
 * lock-free fast path stays a leaf function with no stack frame. */
static __attribute__((noinline)) int cursor_advance(struct errseq_cursor *cur)
{
	errseq_t local;
	int r;

	pthread_mutex_lock(&cur->lock);
	local = cur->since;
	r = errseq_slot_check_and_advance(cur->slot, &local);
	/* relaxed: the lock orders this with the next locked reader; the
	 * lock-free readers only use it as a hint */
	__atomic_store_n(&cur->since, local, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&cur->lock);
	return r;
}

ERRSEQ_EXPORT int errseq_cursor_check(struct errseq_cursor *cur)
{
	int r = errseq__slot_check(cur->slot, since_load(cur));

	if (r == 0 || r == ERRSEQ_ESTALE)
		return r;
	return cursor_advance(cur);
}

ERRSEQ_EXPORT int errseq_cursor_wait(struct errseq_cursor *cur,
				     int timeout_ms)
{
	struct timespec deadline;
	errseq_t local;
	int r;

	if (timeout_ms >= 0)
		errseq__deadline(&deadline, timeout_ms);

	for (;;) {
		r = errseq__slot_wait_until(cur->slot, since_load(cur),
					    timeout_ms >= 0 ? &deadline : NULL);
		/*
		 * A timeout or a signal is "nothing new", as cursor_check
		 * says it: 0.  Returning -ETIMEDOUT or -EINTR here would be
		 * indistinguishable from a recorded ETIMEDOUT or EINTR error.
		 */
		if (r == -ETIMEDOUT || r == -EINTR)
			return 0;
		if (r < 0)
			return r;	/* ERRSEQ_ESTALE */

		/*
		 * The word differs from the since we waited on.  Advance
		 * under the lock even when the change carries no errno (a
		 * word of 0 | SEEN reads as "no error" to check), so the next
		 * wait sleeps on the new value instead of spinning.  0 means
		 * another thread sharing this cursor consumed the change
		 * first: wait again, until the deadline.
		 */
		pthread_mutex_lock(&cur->lock);
		local = cur->since;
		r = errseq_slot_check_and_advance(cur->slot, &local);
		/* relaxed: as in errseq_cursor_check */
		__atomic_store_n(&cur->since, local, __ATOMIC_RELAXED);
		pthread_mutex_unlock(&cur->lock);
		if (r != 0)
			return r;
	}
}

ERRSEQ_EXPORT struct errseq_slot *errseq_cursor_slot(
	const struct errseq_cursor *cur)
{
	return cur ? cur->slot : NULL;
}

int errseq__cursor_poll(struct errseq_cursor *cur)
{
	errseq_t local;
	int r;

	/* As cursor_wait's advance: under the lock, and even a change that
	 * carries no errno moves the position, so a watcher never spins on
	 * it. */
	pthread_mutex_lock(&cur->lock);
	local = cur->since;
	r = errseq_slot_check_and_advance(cur->slot, &local);
	/* relaxed: as in errseq_cursor_check */
	__atomic_store_n(&cur->since, local, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&cur->lock);
	return r;
}

/* Unlink and free @cur (registry lock held). */
static void cursor_free_locked(struct errseq_cursor *cur)
{
	errseq__list_del(&cur->link);
	pthread_mutex_destroy(&cur->lock);
	free(cur);
}

ERRSEQ_EXPORT void errseq_cursor_free(struct errseq_cursor *cur)
{
	if (!cur)
		return;
	pthread_mutex_lock(&errseq__registry_lock);
	cursor_free_locked(cur);
	pthread_mutex_unlock(&errseq__registry_lock);
}

void errseq__cursors_free_locked(struct errseq_slot *s)
{
	while (s->cursors.next != &s->cursors)
		cursor_free_locked(errseq__container(s->cursors.next,
						     struct errseq_cursor,
						     link));
}

void errseq__cursors_reinit_locked(struct errseq_slot *s)
{
	struct errseq__link *l;

	for (l = s->cursors.next; l != &s->cursors; l = l->next)
		pthread_mutex_init(&errseq__container(l, struct errseq_cursor,
						      link)->lock, NULL);
}
