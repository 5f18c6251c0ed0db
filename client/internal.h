/*
 * internal.h - liberrseq-client's private structures and helpers (never
 * installed).
 *
 * Object graph and who guards what:
 *
 *   errseq__clients (global list)          guarded by errseq__registry_lock
 *    `- struct errseq_client
 *        |- mutex     serialises every request/reply exchange and every
 *        |            change of the connection (fd, map, incarnation)
 *        |- space ---> struct errseq__space (the chunks mapped, one
 *        |            daemon state)
 *        `- slots (list)                   links guarded by registry_lock
 *            `- struct errseq__handle (cold) ---> space (refcounted)
 *                |- hot ---> struct errseq_slot, 16 bytes in a slab:
 *                |           what the user holds and the data path reads
 *                `- cursors (list)         links guarded by registry_lock
 *                    `- struct errseq_cursor (lock-free: CAS on since)
 *
 * Lock order: client->mutex, then errseq__registry_lock.  registry_lock is
 * held only for a few list and slab operations (never across I/O), so the
 * fork handlers can take it (see proc.c): a fork() child then finds every
 * list consistent, with nothing to repair (no per-handle lock exists, so
 * fork costs the same whatever the number of handles).  In the owning
 * process a client's handle list is changed with both client->mutex and
 * registry_lock held, so the reconnect code may walk it with client->mutex
 * alone.
 */
#ifndef ERRSEQ_CLIENT_INTERNAL_H
#define ERRSEQ_CLIENT_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "common/errseq_word.h"
#include "common/protocol.h"
#include "common/shm_layout.h"
#include "errseq/client.h"

#define ERRSEQ__HIDDEN __attribute__((visibility("hidden")))

/* Intrusive doubly linked list (circular, with a head node). */
struct errseq__link {
	struct errseq__link *prev, *next;
};

static inline void errseq__list_init(struct errseq__link *h)
{
	h->prev = h->next = h;
}

static inline void errseq__list_add(struct errseq__link *h,
				    struct errseq__link *n)
{
	n->prev = h->prev;
	n->next = h;
	h->prev->next = n;
	h->prev = n;
}

static inline void errseq__list_del(struct errseq__link *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	n->prev = n->next = n;
}

#define errseq__container(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

/*
 * The chunks of one daemon state (incarnation) that this client mapped:
 * each chunk lazily, when an OPEN reply first carried its fd, read-write if
 * the daemon said we may write it, else read-only.  The client holds one
 * reference on its current space, every slot handle one on the space its
 * shm pointer points into; the last reference unmaps every chunk.  A space
 * outlives a state replacement (new incarnation) for as long as stale
 * handles point into it.  refs is guarded by errseq__registry_lock; the
 * chunk table by the client's mutex.
 */
struct errseq__space {
	uint64_t incarnation;
	uint32_t max_slots;		/* from HELLO */
	uint32_t max_chunks;
	void **base;			/* [max_chunks]: mapping or NULL */
	uint8_t *writable;		/* [max_chunks]: mapped PROT_WRITE */
	unsigned refs;
};

struct errseq_client {
	pthread_mutex_t mutex;		/* see the top of this file */
	char path[108];			/* socket path (sun_path) */
	int fd;				/* connection, -1 while away */
	uint64_t conn_id;		/* bumped at every (re)connect */
	uint32_t seq;			/* last request seq used */
	struct errseq__space *space;	/* current daemon state's chunks */
	uint32_t daemon_uid;		/* from HELLO */
	struct errseq__link slots;	/* open struct errseq_slot */
	struct errseq__link all;	/* in errseq__clients */
	unsigned fork_gen;		/* errseq__fork_gen at open */
	int evfd;			/* eventfd: kicks the thread */
	bool stopping;			/* close in progress (mutex) */
	bool thread_started;
	bool thread_ready;		/* set by the thread (mutex) */
	pthread_cond_t ready;		/* signals thread_ready */
	pthread_t thread;		/* the reconnect thread */
	unsigned char *rxbuf;		/* ESP_MAX_MSG bytes, under mutex */
};

/*
 * A slot handle is two parts.  The part users hold (struct errseq_slot) is
 * 16 bytes, packed densely with other handles in slabs (handles.c), so
 * that checks over many handles touch few cache lines: it is all the data
 * path reads.  Its layout is the inline ABI (struct errseq__inline_slot in
 * <errseq/client.h>): frozen for programs built with ERRSEQ_INLINE.
 * Everything else (struct errseq__handle) is found through the slab.
 */
struct errseq_slot {
	struct esd_slot *shm;		/* the slot in its chunk's mapping */
	uint64_t gen_hi;		/* gen << 32 | ERRSEQ__HOT_*; gen 0:
					 * stale (atomic, see errseq__slot_gen) */
};

#define ERRSEQ__HOT_WRITABLE	0x1ull	/* mapped read-write: set allowed */
#define ERRSEQ__GEN_MASK	0xffffffff00000000ull

/* The cold part of a handle: what control calls and the reconnect code
 * need.  Guarded as the old handle was (see the top of this file). */
struct errseq__handle {
	struct errseq_slot *hot;	/* the user's handle (in a slab) */
	uint32_t index;
	uint32_t gen;			/* as opened (for CLOSE/REATTACH) */
	bool held;			/* this connection holds it (mutex) */
	uint64_t armed_conn;		/* conn_id it was ARMed on (mutex) */
	struct errseq_client *client;
	struct errseq__space *space;
	struct errseq__link link;	/* in client->slots */
	struct errseq__link cursors;	/* struct errseq_cursor */
	uint32_t name_len;
	char name[ESD_NAME_MAX + 1];
};

/*
 * A slab: ERRSEQ__SLAB_BYTES, aligned to its size, so a handle's slab is
 * its address rounded down, and its cold part is the slab's cold[] entry
 * of the same position.  Slabs with a free entry are on a list guarded by
 * errseq__registry_lock.
 */
#define ERRSEQ__SLAB_BYTES	65536u
#define ERRSEQ__SLAB_SLOTS	2727u
struct errseq__slab {
	struct errseq__slab *prev, *next;	/* slabs with a free entry */
	uint32_t used;				/* entries in use */
	uint32_t free_head;			/* first free entry + 1, or 0 */
	uint8_t pad[40];
	struct errseq_slot hot[ERRSEQ__SLAB_SLOTS];
	struct errseq__handle *cold[ERRSEQ__SLAB_SLOTS];
};
_Static_assert(sizeof(struct errseq_slot) == 16, "a hot handle is 16 bytes");
_Static_assert(sizeof(struct errseq__slab) <= ERRSEQ__SLAB_BYTES,
	       "a slab fits its alignment");
_Static_assert(offsetof(struct errseq__slab, hot) % 16 == 0, "hot aligned");

/* The cold part of the live handle @s. */
static inline struct errseq__handle *errseq__cold(const struct errseq_slot *s)
{
	struct errseq__slab *sl = (struct errseq__slab *)
		((uintptr_t)s & ~(uintptr_t)(ERRSEQ__SLAB_BYTES - 1));

	return sl->cold[s - sl->hot];
}

/*
 * handles.c: a hot entry for the cold part @h (h->hot is set), or NULL
 * (ENOMEM); and back.  Registry lock held for both.
 */
struct errseq_slot *errseq__slot_alloc_locked(struct errseq__handle *h)
	ERRSEQ__HIDDEN;
void errseq__slot_free_locked(struct errseq_slot *s) ERRSEQ__HIDDEN;

/* The handle's generation, pre-shifted; 0 once the segment was replaced.
 * relaxed: it changes once, from the slot's generation to 0, and a call
 * that still sees the old generation is ordered before the replacement. */
static inline uint64_t errseq__slot_gen(const struct errseq_slot *s)
{
	return __atomic_load_n(&s->gen_hi, __ATOMIC_RELAXED) &
	       ERRSEQ__GEN_MASK;
}

/* May this handle set?  (The flag never changes after open.) */
static inline bool errseq__slot_writable(const struct errseq_slot *s)
{
	/* relaxed: as errseq__slot_gen */
	return (__atomic_load_n(&s->gen_hi, __ATOMIC_RELAXED) &
		ERRSEQ__HOT_WRITABLE) != 0;
}

/*
 * errseq_slot_check, inlined into errseq_cursor_check's lock-free fast
 * path so that a cursor check is one call, not two.  A read-only handle
 * whose SEEN request could not reach the daemon holds since = value |
 * SEEN while the word still lacks SEEN; that is the same value (a word
 * never loses SEEN but by a set, which changes counter or errno), so it
 * is "nothing new", not a second report.
 */
static inline int errseq__slot_check(struct errseq_slot *s, errseq_t since)
{
	/* acquire: pairs with set */
	uint64_t w = __atomic_load_n(&s->shm->word, __ATOMIC_ACQUIRE);
	uint64_t g = __atomic_load_n(&s->gen_hi, __ATOMIC_RELAXED);

	if (((w ^ g) & ERRSEQ__GEN_MASK) != 0)
		return ERRSEQ_ESTALE;
	if ((uint32_t)w == since)
		return 0;
	if (!(g & ERRSEQ__HOT_WRITABLE) && ((uint32_t)w | ERRSEQ_SEEN) == since)
		return 0;
	return errseq__check_of((uint32_t)w, since);
}

/* A cursor.  Its first two fields are the inline ABI (struct
 * errseq__inline_cursor in <errseq/client.h>). */
struct errseq_cursor {
	struct errseq_slot *slot;
	errseq_t since;			/* atomic: moved by CAS only */
	struct errseq__link link;	/* in the handle's cursors */
};

/* proc.c: process-wide state. */
extern pthread_mutex_t errseq__registry_lock ERRSEQ__HIDDEN;
extern struct errseq__link errseq__clients ERRSEQ__HIDDEN;
extern int32_t errseq__pid ERRSEQ__HIDDEN;	/* cached getpid() */
extern unsigned errseq__fork_gen ERRSEQ__HIDDEN; /* forks so far */

/* Has @c been inherited across fork() (so its socket is not ours)? */
static inline bool errseq__forked(const struct errseq_client *c)
{
	/* relaxed: only this process's fork child handler writes it, and it
	 * runs before any other thread of the child exists */
	return c->fork_gen != __atomic_load_n(&errseq__fork_gen,
					       __ATOMIC_RELAXED);
}

/* Drop one reference on @sp (registry lock held); unmaps at zero. */
void errseq__space_put_locked(struct errseq__space *sp) ERRSEQ__HIDDEN;

/*
 * conn.c: make chunk @chunk of c->space usable: map @fd (from an OPEN
 * reply, or -1 if none came) read-write if @writable, else read-only.
 * Takes @fd.  Returns 0 (mapped now or before), or ERRSEQ_EPROTO (no fd
 * for an unmapped chunk, a bad fd), or -errno.  c->mutex held.
 */
int errseq__chunk_attach_locked(struct errseq_client *c, uint32_t chunk,
				int fd, bool writable) ERRSEQ__HIDDEN;

/*
 * conn.c: ask the daemon to mark value @value of @s seen (a read-only
 * handle; if !@block, only when the client's lock is free at once), or to
 * count this connection among the waiters of @s (once per connection).
 * Best effort from the data path: returns 0, or a negative code if the
 * daemon could not be asked (away, fork child); the caller then goes on
 * without it (doc/design.md says what that costs).
 */
int errseq__request_seen(struct errseq_slot *s, uint32_t value,
			 bool block) ERRSEQ__HIDDEN;
int errseq__request_arm(struct errseq_slot *s) ERRSEQ__HIDDEN;

/*
 * slot.c: wait with an absolute CLOCK_MONOTONIC @deadline (NULL: forever).
 * Returns as errseq_slot_wait.
 */
int errseq__slot_wait_until(struct errseq_slot *s, errseq_t since,
			    const struct timespec *deadline) ERRSEQ__HIDDEN;

/* slot.c: turn @s stale (gen 0) and wake its waiters in this process.
 * Called by the reconnect code when the daemon's state was replaced.
 * Writes nothing shared and never waits. */
void errseq__slot_mark_stale(struct errseq_slot *s) ERRSEQ__HIDDEN;

/* cursor.c: errseq_cursor_check's locked half for a watch: reports and
 * advances as it does, and also advances past a change without errno.
 * Returns as errseq_cursor_check. */
int errseq__cursor_poll(struct errseq_cursor *cur) ERRSEQ__HIDDEN;

/* cursor.c: free every cursor of @h (registry lock held). */
void errseq__cursors_free_locked(struct errseq__handle *h) ERRSEQ__HIDDEN;

/* Deadline helpers (CLOCK_MONOTONIC). */
void errseq__deadline(struct timespec *out, int timeout_ms) ERRSEQ__HIDDEN;

/*
 * conn.c: the transport.  All of them need c->mutex held.
 *
 * errseq__connect_locked - one attempt: connect, HELLO, map or reuse the
 * segment, REATTACH the open slots (or mark them stale on a new
 * incarnation).  0 or a negative code; on failure c->fd stays -1.
 */
int errseq__connect_locked(struct errseq_client *c) ERRSEQ__HIDDEN;

/* errseq__drop_locked - shut down and close the connection (if any) and
 * kick the reconnect thread. */
void errseq__drop_locked(struct errseq_client *c) ERRSEQ__HIDDEN;

/*
 * errseq__call_locked - one request/reply exchange on the connection.
 * @req (@req_len bytes, hdr.op set by the caller; seq, magic, version are
 * filled here).  The reply lands in c->rxbuf; *@rep_len gets its length.
 * Returns 0 with a well-formed reply of @op whose size the caller checks,
 * the reply's negative status for an error reply, -ENOTCONN when the
 * connection failed (it is dropped), ERRSEQ_EPROTO on a malformed reply
 * (dropped), -ETIMEDOUT if the daemon did not answer in time (dropped),
 * -EPIPE if the request could not be sent (dropped; the daemon did not
 * see it, so it may be sent again on a new connection).
 * @fd_out, if not NULL, receives a passed fd (else any fd is closed).
 */
int errseq__call_locked(struct errseq_client *c, void *req, size_t req_len,
			size_t *rep_len, int *fd_out) ERRSEQ__HIDDEN;

/* errseq__thread_main - the reconnect thread's body (conn.c). */
void *errseq__thread_main(void *arg) ERRSEQ__HIDDEN;

/* errseq__kick - wake the reconnect thread (any context). */
void errseq__kick(struct errseq_client *c) ERRSEQ__HIDDEN;

#endif /* ERRSEQ_CLIENT_INTERNAL_H */
