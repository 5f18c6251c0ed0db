/*
 * client.h - liberrseq-client: named errseq_t slots shared through errseqd.
 *
 * A producer opens a named slot and records errors in it with
 * errseq_slot_set(); a watcher opens the same name and learns of each new
 * error once, through a process-local cursor.  The slots live in a shared
 * memory segment that errseqd hands out at connect time: set, sample, check,
 * check_and_advance, peek and cursor_check are plain atomic operations on
 * that memory, with no syscall and no daemon involved.  Only naming (open,
 * close, unlink, stat, list, status) talks to the daemon.
 *
 * Every int-returning call returns 0 (or the documented non-negative value)
 * on success and a negative code on failure: a negative errno, or one of the
 * library's own codes below, all under -4095 so that no recorded errno can
 * be mistaken for them.  Nothing is reported through errno; nothing prints.
 *
 * Threads: a client, its slots and its cursors may be used from many threads
 * at once.  A bare errseq_t cursor passed to errseq_slot_check_and_advance()
 * is the caller's to serialise, as in the kernel.  Closing or freeing an
 * object (client, slot, cursor) while another thread still uses it is the
 * caller's bug, as with free().  Control calls on one client are
 * serialised (one request at a time on its connection); each is bounded by
 * a 5-second I/O timeout, so a wedged daemon costs -ETIMEDOUT, not a hang.
 *
 * Daemon restarts: each client runs one background thread that notices a
 * lost connection and reconnects (backoff 10 ms doubling to 500 ms, until
 * the client is closed).  If the daemon adopted the same segment, every
 * open slot is registered again and nothing changes for its handles; if the
 * segment was replaced, every old handle (and its cursors and waiters)
 * turns ERRSEQ_ESTALE: reopen by name.  While the daemon is away the data
 * path goes on working and control calls return -ENOTCONN.
 *
 * fork(): the child inherits the mappings.  It may go on calling the data
 * path (set, sample, check, check_and_advance, peek, wait, cursor_check,
 * cursor_wait) on inherited slots and cursors; set records the child's pid.
 * Any call that would talk to the daemon on an inherited client returns
 * ERRSEQ_EFORKED; the child opens a client of its own for that.  The child
 * may call errseq_client_close() on an inherited client to release its
 * memory; that does not affect the parent's connection.
 *
 * See liberrseq-client(3).
 */
#ifndef ERRSEQ_CLIENT_H
#define ERRSEQ_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <errseq/errseq.h>

#ifdef __cplusplus
extern "C" {
#endif

struct errseq_client;	/* a connection to errseqd plus the mapped slots */
struct errseq_slot;	/* an open handle on one named slot */
struct errseq_cursor;	/* a process-local, thread-safe cursor on one slot */

#define ERRSEQ_CREATE	0x1	/* create the slot if it does not exist */
#define ERRSEQ_EXCL	0x2	/* with ERRSEQ_CREATE: -EEXIST if it exists */

/* The library's own codes (all below -ERRSEQ_MAX_ERRNO). */
#define ERRSEQ_ESTALE	(-4097)	/* slot deleted or segment replaced: reopen */
#define ERRSEQ_EFORKED	(-4098)	/* client inherited across fork(): open anew */
#define ERRSEQ_EPROTO	(-4099)	/* the daemon broke the protocol */
#define ERRSEQ_EUNSAFE	(-4100)	/* the socket's directory or the daemon's
				 * user is not trusted: nothing was sent */
#define ERRSEQ_EABI	(-4101)	/* built with ERRSEQ_INLINE for an inline
				 * ABI this library does not have: rebuild */

#define ERRSEQ_NAME_MAX	128	/* 1..128 bytes of [A-Za-z0-9._:/@-] */

/*
 * errseq_client_open - connect to errseqd and map its segment.
 * @socket_path: the daemon's socket; NULL for errseq_default_socket()'s
 * answer ($ERRSEQD_SOCKET if set, else the default, see errseqd(8)).
 * Returns 0 and sets *@out, or a negative code and leaves *@out alone:
 * -ENOENT (no socket file), -ECONNREFUSED (no daemon listens), -EACCES,
 * -ENAMETOOLONG, -EINVAL (empty path, NULL @out), -EPROTONOSUPPORT (no
 * common protocol version), ERRSEQ_EPROTO (bad handshake or a daemon of
 * another layout), ERRSEQ_EUNSAFE (the daemon runs as a user other than
 * root, ours or the configured daemon user, or the /tmp fallback directory
 * is someone else's or group/other-writable), -ETIMEDOUT, -ENOMEM, or the
 * daemon's refusal (-EUSERS: too many clients, in all or for this user).
 * Starts the client's reconnect thread (which blocks every signal).
 */
int errseq_client_open(const char *socket_path, struct errseq_client **out);

/*
 * errseq_client_close - disconnect and free.  Closes any slots and cursors
 * still open on @c (their pointers become invalid); the daemon drops every
 * hold of the connection when it closes.  Joins the reconnect thread, which
 * may take up to the I/O timeout if it is mid-handshake with a daemon that
 * does not answer.  In a fork() child, on an inherited client, it frees
 * the child's copies only: no message, no effect on the parent.  NULL is a
 * no-op.
 */
void errseq_client_close(struct errseq_client *c);

/*
 * errseq_slot_open - open the slot called @name.
 * @flags: 0, ERRSEQ_CREATE, or ERRSEQ_CREATE | ERRSEQ_EXCL.
 * Anyone who may connect may open (watch) any slot.  Who may write it is
 * the slot's writer set: by default its creator's uid, root and the
 * daemon's user (see errseq_slot_open_attr to add a group); a handle for
 * anyone else is read-only (errseq_slot_writable).
 * Returns 0 and sets *@out; -ENOENT (no such slot and no ERRSEQ_CREATE),
 * -EEXIST (ERRSEQ_EXCL), -EINVAL (bad name or flags), -ENOSPC (errseqd at
 * its maximum of slots), -EDQUOT (this user created its maximum of
 * slots), -EMFILE (too many handles open on this connection or by this
 * user), -ENOTCONN (the daemon is away), ERRSEQ_EFORKED.
 */
int errseq_slot_open(struct errseq_client *c, const char *name,
		     unsigned flags, struct errseq_slot **out);

/* Attributes a slot gets when errseq_slot_open_attr creates it. */
#define ERRSEQ_ATTR_WRITERS_GROUP	0x1u	/* writers_gid is valid */
#define ERRSEQ_NO_GROUP			UINT32_MAX
struct errseq_slot_attr {
	unsigned flags;		/* ERRSEQ_ATTR_* */
	uint32_t writers_gid;	/* members of this group may write too */
};

/*
 * errseq_slot_open_attr - errseq_slot_open, and if this call creates the
 * slot, give it @attr (NULL: none).  With ERRSEQ_ATTR_WRITERS_GROUP the
 * members of group writers_gid may write it as well; the caller must be a
 * member (or root), else -EPERM.  An existing slot keeps its writers.
 * Returns as errseq_slot_open, plus -EPERM and -EINVAL (unknown attr
 * flags, or attributes without ERRSEQ_CREATE).
 */
int errseq_slot_open_attr(struct errseq_client *c, const char *name,
			  unsigned flags, const struct errseq_slot_attr *attr,
			  struct errseq_slot **out);

/* errseq_slot_writable - 1 if this handle may set (its chunk is mapped
 * read-write), 0 if it only watches (set returns -EPERM). */
int errseq_slot_writable(const struct errseq_slot *s);

/*
 * errseq_slot_close - release the handle and free any cursors still on it.
 * Tells the daemon (CLOSE) if it is reachable; the handle is freed in any
 * case.  No other thread may be using @s or its cursors (in particular not
 * waiting on them).  In a fork() child it only frees the child's copy.
 * NULL is a no-op.
 */
void errseq_slot_close(struct errseq_slot *s);

/*
 * errseq_slot_unlink - delete the slot called @name.  Handles still open on
 * it turn stale at once (ERRSEQ_ESTALE) and their waiters wake.
 * Returns 0; -ENOENT, -EPERM (not the creator, root or the daemon's uid),
 * -EINVAL, -ENOTCONN, ERRSEQ_EFORKED.
 */
int errseq_slot_unlink(struct errseq_client *c, const char *name);

/*
 * The data path: no syscall, no daemon (wait sleeps on a futex).
 * These calls do not check their pointers, so that a check stays one load:
 * the slot, cursor and since arguments must be valid (never NULL), like
 * the errseq_t pointer of errseq_check.  Everything else returns -EINVAL
 * for a NULL argument it needs.
 *
 * errseq_slot_set - record @err (a negative errno in [-4095, -1]).
 * Returns 0; -EINVAL if @err is out of range (nothing is stored);
 * ERRSEQ_ESTALE.  Also updates the slot's statistics.
 */
int errseq_slot_set(struct errseq_slot *s, int err);

/* errseq_sample on the slot; 0 on a stale handle (use errseq_slot_check
 * or errseq_cursor_new to tell). */
errseq_t errseq_slot_sample(struct errseq_slot *s);

/* errseq_check on the slot, or ERRSEQ_ESTALE. */
int errseq_slot_check(struct errseq_slot *s, errseq_t since);

/* errseq_check_and_advance on the slot, or ERRSEQ_ESTALE.  *@since is the
 * caller's to serialise. */
int errseq_slot_check_and_advance(struct errseq_slot *s, errseq_t *since);

/* The raw errseq_t, no side effect; 0 on a stale handle. */
errseq_t errseq_slot_peek(struct errseq_slot *s);

/*
 * errseq_slot_wait - sleep until the slot's value differs from @since.
 * Returns 0 at once if it already differs, 0 when it changes, -ETIMEDOUT
 * after @timeout_ms (0: do not sleep; -1 or any negative: wait forever),
 * ERRSEQ_ESTALE if the slot is deleted or its segment replaced meanwhile,
 * -EINTR if a signal handler without SA_RESTART interrupted the sleep.
 * Sleeps on a shared futex; a set makes a wake-up syscall only while
 * someone waits.
 */
int errseq_slot_wait(struct errseq_slot *s, errseq_t since, int timeout_ms);

/*
 * Cursors: a watcher's position on a slot, safe to share between threads.
 * errseq_cursor_new starts at errseq_slot_sample(): an error nobody has
 * consumed yet is reported to it.  Returns 0, -ENOMEM, -EINVAL (NULL
 * arguments) or ERRSEQ_ESTALE.
 * A cursor belongs to its slot: errseq_cursor_free frees it, and closing
 * the slot (or its client) frees every cursor still on it.
 */
int errseq_cursor_new(struct errseq_slot *s, struct errseq_cursor **out);

/* check_and_advance: 0 (nothing new), a negative errno (reported once to
 * this cursor), or ERRSEQ_ESTALE.  Lock-free: one load when nothing changed,
 * a CAS on the cursor when something did. */
int errseq_cursor_check(struct errseq_cursor *cur);

/* Wait (as errseq_slot_wait) for a change, then errseq_cursor_check.
 * Returns the error (a negative errno, reported once), ERRSEQ_ESTALE, or
 * 0 if nothing was reported within @timeout_ms (negative: forever) or a signal
 * interrupted the sleep.  Like errseq_cursor_check, 0 means "nothing new":
 * a timeout is not reported as -ETIMEDOUT, which would be indistinguishable
 * from a recorded ETIMEDOUT error.  A change consumed first by another
 * thread sharing the cursor is not reported twice: the wait goes on until
 * the deadline. */
int errseq_cursor_wait(struct errseq_cursor *cur, int timeout_ms);

/* errseq_cursor_free - free @cur (NULL is a no-op). */
void errseq_cursor_free(struct errseq_cursor *cur);

/* errseq_cursor_slot - the slot @cur watches (NULL for NULL). */
struct errseq_slot *errseq_cursor_slot(const struct errseq_cursor *cur);

/*
 * Watches: one pollable fd for many cursors, for event loops.
 *
 * errseq_watch_new - an empty watch on @c's cursors.  Starts one
 * thread (which blocks every signal).  Returns 0, -EINVAL, -ENOMEM,
 * ERRSEQ_EFORKED, or a negative errno from eventfd(2)/pthread_create(3).
 *
 * errseq_watch_add / errseq_watch_remove - put @cur in, or take it out of,
 * the watch.  0; -EINVAL (NULL), -EXDEV (@cur's slot is another client's),
 * -EEXIST (already in), -ENOENT (not in), -ENOMEM.  A cursor must be
 * removed before it or its slot is freed.
 *
 * errseq_watch_fd - the fd to poll for POLLIN (read it only through
 * errseq_watch_next).  It becomes readable when a cursor of the watch has
 * news.  Close nothing: errseq_watch_free does.
 *
 * errseq_watch_next - after POLLIN: the next cursor with news, in *@cur,
 * and its report, as errseq_cursor_check would give it (consumed once); a
 * stale slot is ERRSEQ_ESTALE, reported once (remove that cursor).
 * Returns 0 and *@cur = NULL when none is left: that also re-arms the fd.
 * Call it until it returns 0; nothing that changed before that 0 is lost.
 * Thread-safe.
 *
 * errseq_watch_free - stop and free; the cursors stay.  NULL: no-op.
 *
 * Cost: a set with a watch armed on its slot makes one FUTEX_WAKE, as with
 * any waiter; sets of slots nobody watches make none.  On Linux 6.7 and
 * later the fd is signalled by the kernel from inside the setter's wake
 * (io_uring FUTEX_WAITV requests, re-armed by the watch's thread); else,
 * or with ERRSEQ_WATCH=thread, a helper thread sleeps in futex_waitv(2)
 * (Linux 5.16 and later) and signals it.  Either way every cursor is also
 * looked at every 250 ms, so a lost wake-up costs latency, never a report.
 */
struct errseq_watch;
int errseq_watch_new(struct errseq_client *c, struct errseq_watch **out);
int errseq_watch_add(struct errseq_watch *w, struct errseq_cursor *cur);
int errseq_watch_remove(struct errseq_watch *w, struct errseq_cursor *cur);
int errseq_watch_fd(struct errseq_watch *w);
int errseq_watch_next(struct errseq_watch *w, struct errseq_cursor **cur);
void errseq_watch_free(struct errseq_watch *w);

/* A message for an errno (negative or positive) or a library code. Never
 * NULL; thread-safe; the string is static. */
const char *errseq_strerror(int code);

/* Introspection, for errseqctl and monitoring. */
struct errseq_slot_info {
	char name[ERRSEQ_NAME_MAX + 1];	/* NUL-terminated */
	uint32_t index;		/* position in the segment */
	uint32_t generation;
	errseq_t value;		/* peeked: listing never consumes */
	uint64_t sets_total;	/* valid set calls on this slot */
	uint64_t last_set_ns;	/* CLOCK_REALTIME (coarse); 0: never */
	pid_t last_pid;		/* 0: never */
	uid_t creator_uid;
	uint32_t holders;	/* handles open on it, over all clients */
	uint64_t created_ns;	/* CLOCK_REALTIME */
	uint32_t writers_gid;	/* writer group, or ERRSEQ_NO_GROUP */
	int writable;		/* 1 if the asking user may write it */
};

struct errseq_daemon_status {
	pid_t pid;
	char version[32];
	uint64_t start_ns;	/* CLOCK_REALTIME */
	uint64_t uptime_ns;
	uint32_t capacity;	/* the global maximum of slots */
	uint32_t slots_used;	/* live slots */
	uint32_t slots_held;	/* deleted slots still held open */
	uint32_t clients;	/* connections, this one included */
	uint32_t max_clients;
	uint64_t incarnation;
	uint64_t segment_bytes;	/* slot memory now: chunks * chunk bytes */
	uint32_t chunks;	/* chunks of slot memory in use */
	uint32_t chunk_slots;	/* slots per chunk */
	uint32_t uid_slots;	/* live slots the asking user created */
	uint32_t max_uid_slots;	/* its limit (0: none) */
	uint32_t uid_clients;	/* the asking user's connections */
	uint32_t max_uid_clients;
	uint32_t uid_holds;	/* handles the asking user has open */
	uint32_t max_uid_holds;
};

/* errseq_stat - one slot by name: 0, -ENOENT, -EINVAL, -ENOTCONN,
 * -ETIMEDOUT, ERRSEQ_EPROTO, ERRSEQ_EFORKED.  Never consumes. */
int errseq_stat(struct errseq_client *c, const char *name,
		struct errseq_slot_info *out);

/*
 * errseq_list - one page of live slots in index order.
 * Fills up to @max entries of @out starting at slot index *@pos and moves
 * *@pos past them; start with *@pos = 0.  Returns the number filled (0 with
 * *@pos == ERRSEQ_LIST_END: done), or a negative code (-EINVAL for @max
 * 0 or NULL arguments, -ENOTCONN, -ETIMEDOUT, ERRSEQ_EPROTO,
 * ERRSEQ_EFORKED).  Slots created or deleted between pages may or may not
 * appear.  Never consumes.
 */
#define ERRSEQ_LIST_END	UINT32_MAX
int errseq_list(struct errseq_client *c, uint32_t *pos,
		struct errseq_slot_info *out, size_t max);

/* errseq_status - the daemon's status: 0 or a negative code (-EINVAL,
 * -ENOTCONN, -ETIMEDOUT, ERRSEQ_EPROTO, ERRSEQ_EFORKED). */
int errseq_status(struct errseq_client *c, struct errseq_daemon_status *out);

/* The slot's name (NUL-terminated, owned by the handle); NULL for NULL. */
const char *errseq_slot_name(const struct errseq_slot *s);

/*
 * errseq_default_socket - the socket path a NULL @socket_path means:
 * $ERRSEQD_SOCKET if set and non-empty; else for root
 * /run/errseqd/errseqd.sock; else $XDG_RUNTIME_DIR/errseqd/errseqd.sock,
 * or /tmp/errseqd-UID/errseqd.sock without XDG_RUNTIME_DIR.
 * Writes it to @buf; returns its length, or -ENAMETOOLONG.
 */
int errseq_default_socket(char *buf, size_t len);

/*
 * Errno names, one table for every tool (errseqctl, the examples).
 *
 * errseq_errno_name - the symbolic name of errno @e or of its negative
 * ("EIO" for 5 and for -5), or NULL for 0 and for a number Linux gives no
 * name (the table covers every Linux errno; for a number with several
 * names, such as EAGAIN and EWOULDBLOCK, the canonical one).  The string is
 * static.  Thread-safe; never changes errno.
 */
const char *errseq_errno_name(int e);

/*
 * errseq_errno_parse - read an error as errseqctl takes it: a symbolic name
 * in any case, aliases included ("EIO", "eio", "EWOULDBLOCK"), or a decimal
 * number with an optional leading '-' ("5" and "-5" both mean EIO).
 * Returns the errno, in [1, ERRSEQ_MAX_ERRNO], or -EINVAL for anything
 * else: NULL, "", 0, a number out of range, an unknown name, and any other
 * character ("+5", " 7", "0x5", "5abc").  Thread-safe; never changes errno.
 */
int errseq_errno_parse(const char *s);

/*
 * The inline fast path (opt-in).
 *
 * With ERRSEQ_INLINE defined before this header is included,
 * errseq_slot_check() and errseq_cursor_check() are static inline when
 * nothing changed: one acquire load of the slot word and a compare, with
 * no call.  A stale handle is told inline too (ERRSEQ_ESTALE).  Only a
 * change calls into the library (to report it and move the cursor).
 *
 * To do that, the program reads two records the library otherwise keeps
 * private: the first 16 bytes of a slot handle and of a cursor, below.
 * They are frozen as inline ABI ERRSEQ_INLINE_ABI; a library that changes
 * them gets a new number.  A program built with ERRSEQ_INLINE checks the
 * number at errseq_client_open, errseq_slot_open(_attr) and
 * errseq_cursor_new: against a library without it, those return
 * ERRSEQ_EABI and give the program nothing to misread.  Without
 * ERRSEQ_INLINE, none of this is used and nothing is frozen for you.
 *
 *   slot handle:  word   the address of the slot's 64-bit word in shared
 *                        memory: generation << 32 | errseq_t (little-endian)
 *                 gen    the handle's generation << 32 in the high half
 *                        (the low half is the library's): generation 0
 *                        once the daemon's state was replaced
 *   cursor:       slot   its slot handle
 *                 since  its position (read with a relaxed atomic load)
 *
 * A check is "nothing new" iff the word's high half equals gen's and its
 * low half equals since; a differing high half means stale.
 */
#define ERRSEQ_INLINE_ABI	1

struct errseq__inline_slot {
	const uint64_t *word;
	uint64_t gen;
};

struct errseq__inline_cursor {
	struct errseq_slot *slot;
	errseq_t since;
};

/*
 * errseq_inline_abi - 0 if this library keeps inline ABI @abi (the
 * ERRSEQ_INLINE_ABI a program was built with), else ERRSEQ_EABI.  Called
 * by the ERRSEQ_INLINE wrappers below; any program may call it.
 */
int errseq_inline_abi(unsigned abi);

#ifdef ERRSEQ_INLINE
#if !defined(__GNUC__)
#error "ERRSEQ_INLINE needs GCC or Clang atomic builtins"
#endif

/* The look both inline checks make: 0 (nothing new), ERRSEQ_ESTALE, or 1
 * (the value moved: the library reports it). */
static inline int errseq__inline_look(const struct errseq_slot *s,
				      errseq_t since)
{
	const struct errseq__inline_slot *h =
		(const struct errseq__inline_slot *)(const void *)s;
	/* acquire: as errseq_slot_check (pairs with errseq_slot_set) */
	uint64_t w = __atomic_load_n(h->word, __ATOMIC_ACQUIRE);
	uint64_t g = __atomic_load_n(&h->gen, __ATOMIC_RELAXED);

	if ((w ^ g) >> 32)
		return ERRSEQ_ESTALE;
	return (uint32_t)w != since;
}

static inline int errseq__inline_slot_check(struct errseq_slot *s,
					    errseq_t since)
{
	int r = errseq__inline_look(s, since);

	return r == 1 ? (errseq_slot_check)(s, since) : r;
}

static inline int errseq__inline_cursor_check(struct errseq_cursor *cur)
{
	const struct errseq__inline_cursor *c =
		(const struct errseq__inline_cursor *)(const void *)cur;
	int r = errseq__inline_look(c->slot,
				    __atomic_load_n(&c->since,
						    __ATOMIC_RELAXED));

	return r == 1 ? (errseq_cursor_check)(cur) : r;
}

static inline int errseq__inline_client_open(const char *path,
					     struct errseq_client **out)
{
	int r = errseq_inline_abi(ERRSEQ_INLINE_ABI);

	return r ? r : (errseq_client_open)(path, out);
}

static inline int errseq__inline_slot_open_attr(
	struct errseq_client *c, const char *name, unsigned flags,
	const struct errseq_slot_attr *attr, struct errseq_slot **out)
{
	int r = errseq_inline_abi(ERRSEQ_INLINE_ABI);

	return r ? r : (errseq_slot_open_attr)(c, name, flags, attr, out);
}

static inline int errseq__inline_slot_open(struct errseq_client *c,
					   const char *name, unsigned flags,
					   struct errseq_slot **out)
{
	int r = errseq_inline_abi(ERRSEQ_INLINE_ABI);

	return r ? r : (errseq_slot_open)(c, name, flags, out);
}

static inline int errseq__inline_cursor_new(struct errseq_slot *s,
					    struct errseq_cursor **out)
{
	int r = errseq_inline_abi(ERRSEQ_INLINE_ABI);

	return r ? r : (errseq_cursor_new)(s, out);
}

#define errseq_slot_check(s, since)	errseq__inline_slot_check(s, since)
#define errseq_cursor_check(cur)	errseq__inline_cursor_check(cur)
#define errseq_client_open(p, out)	errseq__inline_client_open(p, out)
#define errseq_slot_open(c, n, f, out)	errseq__inline_slot_open(c, n, f, out)
#define errseq_slot_open_attr(c, n, f, a, out) \
	errseq__inline_slot_open_attr(c, n, f, a, out)
#define errseq_cursor_new(s, out)	errseq__inline_cursor_new(s, out)
#endif /* ERRSEQ_INLINE */

#ifdef __cplusplus
}
#endif

#endif /* ERRSEQ_CLIENT_H */
