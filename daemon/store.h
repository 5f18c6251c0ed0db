/*
 * store.h - the memory errseqd serves and keeps: slot chunks (sealed
 * memfds, one writer domain each) and the private registry (one more
 * memfd, never handed out).  Layout: common/shm_layout.h.
 *
 * Nothing here has a name another user could take first: memfds have no
 * name in any namespace.  What keeps them across a daemon restart (kill -9
 * included) is, by --persist:
 *
 *   keeper    (default) a small child process, "errseqd-keeper", that
 *             holds the fds and hands them to the next daemon that connects
 *             to its socket (the daemon's socket path + ".keeper", mode
 *             0600; both ends check SO_PEERCRED: same uid only).  It lives
 *             while a daemon is connected, then --keep-state seconds more,
 *             and never beyond the removal of its socket file.
 *   fdstore   systemd's file descriptor store (FDSTORE=1 with FDNAME
 *             esd-reg and esd-chunk-N; they come back in LISTEN_FDS with
 *             LISTEN_FDNAMES).  For errseqd.service.
 *   none      nothing: every start begins empty.
 *
 * Everything adopted is checked before use: owner (our euid), mode (no
 * group or other bits), size, seals, the registry's magic, version,
 * geometry and chunk table.  A mismatch is refused with a line naming
 * --recreate; --recreate discards the kept state and starts empty.
 */
#ifndef ERRSEQD_STORE_H
#define ERRSEQD_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/shm_layout.h"

enum esd_persist {
	ESD_PERSIST_KEEPER = 0,
	ESD_PERSIST_FDSTORE = 1,
	ESD_PERSIST_NONE = 2,
};

struct esd_store {
	uint32_t max_slots;	/* index space (esd_index_capacity), from
				 * the registry; the live maximum is the
				 * registry's max_live */
	uint32_t max_chunks;	/* esd_max_chunks(max_slots) */
	uint32_t chunks;	/* chunks in use (a copy of the header's) */
	int reg_fd;		/* the private registry memfd */
	void *reg;		/* its mapping */
	size_t reg_size;
	int *chunk_fd;		/* [max_chunks]: O_RDWR memfd, or -1 */
	int *chunk_ro_fd;	/* [max_chunks]: O_RDONLY reopen, or -1 */
	void **chunk_base;	/* [max_chunks]: the daemon's mapping */
	uint64_t incarnation;
	bool created;		/* made by this start (else adopted) */
	enum esd_persist persist;
	int keeper_fd;		/* connection to the keeper, or -1 */
	char keeper_path[108];	/* its socket */
};

struct esd_store_params {
	uint32_t slots;		/* live maximum a new store is sized for */
	bool recreate;		/* discard kept state */
	enum esd_persist persist;
	const char *socket_path;	/* the daemon's (keeper path base) */
	uint32_t keep_state_s;	/* keeper's grace without a daemon */
};

/*
 * esd_store_open - adopt the kept state or create an empty one.  Returns 0
 * with @st ready, or a negative errno with a one-line reason naming the fix
 * in @err (nothing stays open).  -EEXIST: kept state that does not match
 * this build (refused, untouched); -EBUSY: another daemon holds it.
 */
int esd_store_open(struct esd_store *st, const struct esd_store_params *p,
		   char *err, size_t errlen);

/* esd_store_close - unmap and close everything (the keeper or systemd keep
 * their copies).  Safe on a closed or half-opened @st. */
void esd_store_close(struct esd_store *st);

/* The registry header. */
static inline struct esd_reg_header *esd_store_header(const struct esd_store *st)
{
	return (struct esd_reg_header *)st->reg;
}

/*
 * esd_store_add_chunk - a new chunk for domain (@uid, @gid): a sealed,
 * allocated memfd, recorded in the chunk table and handed to the keeper or
 * systemd before it counts.  Returns its number, or -ENOSPC at the global
 * maximum, or another negative errno (out of memory: nothing changed).
 */
int esd_store_add_chunk(struct esd_store *st, uint32_t uid, uint32_t gid);

/* Slot @index (< chunks * ESD_CHUNK_SLOTS). */
static inline struct esd_slot *esd_store_slot(const struct esd_store *st,
					      uint32_t index)
{
	return (struct esd_slot *)st->chunk_base[ESD_INDEX_CHUNK(index)] +
	       ESD_INDEX_SLOT(index);
}

/* Registry entry of @index (< max_slots). */
static inline struct esd_reg_entry *esd_store_entry(const struct esd_store *st,
						    uint32_t index)
{
	return esd_reg_entry_at(st->reg, st->max_slots, index);
}

/* Owner domain of chunk @c (< chunks). */
static inline const struct esd_reg_chunk *
esd_store_chunk(const struct esd_store *st, uint32_t c)
{
	return esd_reg_chunk_at(st->reg, c);
}

/*
 * esd_keeper_main - the keeper's body (the forked child): hold fds for
 * daemons of our uid on @listen_fd bound at @path; exit when no daemon was
 * connected for @grace_s seconds, when @path no longer is our socket, or
 * on SIGTERM.  Never returns.
 */
void esd_keeper_main(int listen_fd, const char *path, uint32_t grace_s)
	__attribute__((noreturn));

#endif /* ERRSEQD_STORE_H */
