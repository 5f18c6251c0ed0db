/*
 * cursor.c - cursors: a watcher's position on a slot, shareable between
 * threads of one process.
 *
 * A cursor is errseq.rst's supervisor: a private errseq_t "since" that many
 * threads may share, which must neither report one error twice nor move
 * backward.  The kernel's pattern serialises check_and_advance with a lock;
 * here the cursor moves by a CAS on since instead, so no lock exists:
 *
 *   errseq_cursor_check   load since, check the slot word (one acquire
 *                         load; the common case ends here, "nothing new")
 *   when it differs       check_and_advance on a local copy of since, then
 *                         CAS since from the value read to the new one.
 *                         The thread whose CAS wins reports; a loser looks
 *                         again from the winner's position (so a change
 *                         is reported to the cursor once, by one thread,
 *                         and since only moves to a value read after it).
 *
 * The SEEN mark a loser may also have made is the winner's value or an
 * older one: marking it twice is harmless (the daemon's SEEN for a
 * read-only handle is the same single CAS).  With no lock, fork() has no
 * cursor to repair: a child may use an inherited cursor at once.
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
	/* relaxed: since only decides what to compare; the word's acquire
	 * load orders what the caller reads after a report */
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
	errseq__list_init(&cur->link);

	pthread_mutex_lock(&errseq__registry_lock);
	errseq__list_add(&errseq__cold(s)->cursors, &cur->link);
	pthread_mutex_unlock(&errseq__registry_lock);
	*out = cur;
	return 0;
}

/*
 * Move @cur past the slot's present value and say what that reports:
 * check_and_advance on a copy of since, then a CAS of since.  Losing the
 * CAS means another thread moved the cursor (and reports what it saw):
 * look again from there.  Returns as errseq_slot_check_and_advance; a
 * change with no errno (0 | SEEN) moves the cursor and returns 0.
 */
static int cursor_advance(struct errseq_cursor *cur)
{
	for (;;) {
		errseq_t old = since_load(cur), local = old;
		int r = errseq_slot_check_and_advance(cur->slot, &local);

		if (local == old)
			return r;	/* nothing new, or ERRSEQ_ESTALE */
		/* relaxed: since carries no data of its own; the reporting
		 * thread read the word with acquire */
		if (__atomic_compare_exchange_n(&cur->since, &old, local,
						false, __ATOMIC_RELAXED,
						__ATOMIC_RELAXED))
			return r;
	}
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
		 * The word differs from the since we waited on.  Advance even
		 * when the change carries no errno (a word of 0 | SEEN reads
		 * as "no error" to check), so the next wait sleeps on the new
		 * value instead of spinning.  0 means another thread sharing
		 * this cursor consumed the change first: wait again, until
		 * the deadline.
		 */
		r = cursor_advance(cur);
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
	/* As cursor_wait's advance: even a change that carries no errno
	 * moves the position, so a watcher never spins on it. */
	return cursor_advance(cur);
}

/* Unlink and free @cur (registry lock held). */
static void cursor_free_locked(struct errseq_cursor *cur)
{
	errseq__list_del(&cur->link);
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

void errseq__cursors_free_locked(struct errseq__handle *h)
{
	while (h->cursors.next != &h->cursors)
		cursor_free_locked(errseq__container(h->cursors.next,
						     struct errseq_cursor,
						     link));
}
