/*
 * segment.h - errseqd's two shared-memory segments: the data segment that
 * clients map (slots) and the registry only the daemon maps (names,
 * generations of record, creators).  Layout: common/shm_layout.h.
 *
 * At start the daemon either adopts an existing, valid pair or creates a
 * new one; it never wipes a pair silently.  --recreate first retires the
 * old data segment (every live slot turns stale and its sleepers wake),
 * then replaces both.
 */
#ifndef ERRSEQD_SEGMENT_H
#define ERRSEQD_SEGMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/shm_layout.h"

#define ESD_SEG_NAME_MAX	256u

struct esd_segment {
	char name[ESD_SEG_NAME_MAX];		/* e.g. "/errseqd" */
	char reg_name[ESD_SEG_NAME_MAX + sizeof(ESD_REG_SUFFIX)];
	int fd;			/* data segment, O_RDWR: sent at HELLO */
	void *base;		/* data segment mapping (shared) */
	size_t size;		/* esd_seg_size(slot_count) */
	int reg_fd;		/* registry, flock()ed: one daemon per pair */
	void *reg;		/* registry mapping (shared, daemon only) */
	size_t reg_size;	/* esd_reg_size(slot_count) */
	uint32_t slot_count;
	uint64_t incarnation;
	bool created;		/* made by this start (else adopted) */
	uint32_t retired_live;	/* --recreate: live slots made stale */
	bool retired_old;	/* --recreate found an old data segment */
};

struct esd_segment_params {
	const char *name;	/* valid per esd_shm_name_check */
	uint32_t slots;		/* 1..ESD_MAX_SLOTS */
	mode_t mode;		/* of the data segment (the registry: 0600) */
	bool have_group;
	gid_t gid;		/* group of the data segment if have_group */
	bool recreate;
	uint64_t start_ns;	/* CLOCK_REALTIME the daemon started */
};

/*
 * esd_segment_open - adopt or create the segment pair named by @p.
 * On success returns 0 with @seg mapped, seg->fd open, and the header's
 * daemon_pid / daemon_start_ns updated; the registry stays open and
 * flock()ed until esd_segment_close, so a second daemon on the same pair
 * is refused (-EBUSY) whatever its socket.  On failure returns a negative
 * errno and a one-line reason naming the fix (no prefix, no newline) in
 * @err; nothing stays mapped or open, and a pair this call created is
 * unlinked again.  Refusals of an existing pair return -EEXIST (wrong
 * geometry, version, incarnation, one of the pair missing, ...).
 */
int esd_segment_open(struct esd_segment *seg,
		     const struct esd_segment_params *p,
		     char *err, size_t errlen);

/* esd_segment_close - unmap and close (dropping the lock); the segments
 * stay in /dev/shm.  Safe on an already closed @seg, or one that
 * esd_segment_open left (fds -1, NULL maps). */
void esd_segment_close(struct esd_segment *seg);

/* Slot @i of @seg (i < slot_count). */
static inline struct esd_slot *esd_segment_slot(const struct esd_segment *seg,
						uint32_t i)
{
	return esd_seg_slot(seg->base, i);
}

/* The data segment header. */
static inline struct esd_seg_header *
esd_segment_header(const struct esd_segment *seg)
{
	return (struct esd_seg_header *)seg->base;
}

#endif /* ERRSEQD_SEGMENT_H */
