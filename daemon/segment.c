/*
 * segment.c - create, adopt, validate and retire errseqd's segment pair
 * (see segment.h; the layout is common/shm_layout.h).
 *
 * Creation order: both objects are created with O_EXCL, sized and
 * allocated (posix_fallocate, so a full /dev/shm fails here and not later
 * with SIGBUS), then every header field is written and the magic is stored
 * last with release order.  A daemon killed half-way leaves a pair without
 * a magic, which the next start refuses (naming --recreate) rather than
 * wipes.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/common.h"
#include "daemon/log.h"
#include "daemon/segment.h"
#include "daemon/slotword.h"

static int fail(char *err, size_t errlen, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return code;
}

static void *map_fd(int fd, size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* A random, non-zero incarnation. */
static int new_incarnation(uint64_t *out)
{
	uint64_t v = 0;

	while (v == 0) {
		ssize_t n = getrandom(&v, sizeof(v), 0);

		if (n < 0 && errno != EINTR)
			return -errno;
		if (n >= 0 && (size_t)n != sizeof(v))
			v = 0;
	}
	*out = v;
	return 0;
}

/*
 * Retire the old data segment on @fd if it looks like ours (magic and
 * layout): mark it retired, then make every live slot stale and wake its
 * sleepers, so clients still mapping it learn at once that it is gone.
 * Returns the number of live slots invalidated, or -1 if the segment was
 * not recognisable (then nothing is touched).
 */
static long retire_old(int fd)
{
	struct stat st;
	struct esd_seg_header *h;
	uint32_t n;
	long live = 0;
	void *base;

	if (fstat(fd, &st) < 0 || st.st_size < (off_t)ESD_PAGE)
		return -1;
	base = map_fd(fd, (size_t)st.st_size);
	if (!base)
		return -1;
	h = base;
	/* Acquire: pairs with the creator's release store of the magic, so
	 * the geometry read below is the one it wrote. */
	if (__atomic_load_n(&h->magic, __ATOMIC_ACQUIRE) != ESD_SEG_MAGIC ||
	    h->layout_version != ESD_LAYOUT_VERSION ||
	    h->header_size != ESD_PAGE ||
	    h->slot_stride != sizeof(struct esd_slot)) {
		munmap(base, (size_t)st.st_size);
		return -1;
	}
	n = h->slot_count;
	if ((uint64_t)st.st_size < esd_seg_size(n))
		n = (uint32_t)(((uint64_t)st.st_size - ESD_PAGE) /
			       sizeof(struct esd_slot));
	__atomic_store_n(&h->retired, 1, __ATOMIC_SEQ_CST);
	for (uint32_t i = 0; i < n; i++) {
		struct esd_slot *s = esd_seg_slot(base, i);
		uint64_t w = __atomic_load_n(&s->word, __ATOMIC_SEQ_CST);
		uint64_t old;

		if (!ESD_GEN_LIVE(ESD_WORD_GEN(w)))
			continue;
		old = esd_slot_bump(s, ESD_WORD_GEN(w) + 1);
		/* A client moved the generation meanwhile: bump from what
		 * was there, so the word still ends up even (free). */
		if (ESD_WORD_GEN(old) != ESD_WORD_GEN(w) &&
		    ESD_GEN_LIVE(ESD_WORD_GEN(old)))
			esd_slot_bump(s, ESD_WORD_GEN(old) + 1);
		live++;
	}
	munmap(base, (size_t)st.st_size);
	return live;
}

/* Create one shm object of @size bytes with mode @mode. */
static int create_one(const char *name, uint64_t size, mode_t mode,
		      const struct esd_segment_params *p, bool data,
		      char *err, size_t errlen)
{
	int fd, r;

	fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0) {
		r = -errno;
		return fail(err, errlen, r, "cannot create shm %s: %s", name,
			    strerror(-r));
	}
	/* fchmod, not the open mode: the umask must not decide. */
	if (fchmod(fd, mode) < 0) {
		r = -errno;
		close(fd);
		return fail(err, errlen, r, "cannot chmod shm %s to %04o: %s",
			    name, (unsigned)mode, strerror(-r));
	}
	if (data && p->have_group && fchown(fd, (uid_t)-1, p->gid) < 0) {
		r = -errno;
		close(fd);
		return fail(err, errlen, r, "cannot give shm %s to group %u: "
			    "%s", name, (unsigned)p->gid, strerror(-r));
	}
	if (ftruncate(fd, (off_t)size) < 0) {
		r = -errno;
		close(fd);
		return fail(err, errlen, r, "cannot size shm %s to %" PRIu64
			    " bytes in /dev/shm: %s", name, size,
			    strerror(-r));
	}
	r = posix_fallocate(fd, 0, (off_t)size);
	if (r != 0) {
		close(fd);
		return fail(err, errlen, -r, "cannot allocate %" PRIu64
			    " bytes for shm %s in /dev/shm: %s (free space "
			    "in /dev/shm, or use fewer --slots)", size, name,
			    strerror(r));
	}
	return fd;
}

static int create_pair(struct esd_segment *seg,
		       const struct esd_segment_params *p,
		       char *err, size_t errlen)
{
	struct esd_seg_header *h;
	struct esd_reg_header *rh;
	uint64_t inc = 0;
	int rfd, r;

	r = new_incarnation(&inc);
	if (r < 0)
		return fail(err, errlen, r, "getrandom failed: %s",
			    strerror(-r));
	seg->slot_count = p->slots;
	seg->size = esd_seg_size(p->slots);
	seg->reg_size = esd_reg_size(p->slots);

	seg->fd = create_one(seg->name, seg->size, p->mode, p, true,
			     err, errlen);
	if (seg->fd < 0) {
		r = seg->fd;
		seg->fd = -1;
		if (r != -EEXIST)
			shm_unlink(seg->name);
		return r;
	}
	rfd = create_one(seg->reg_name, seg->reg_size, 0600, p, false,
			 err, errlen);
	if (rfd < 0) {
		r = rfd;
		if (r != -EEXIST)
			shm_unlink(seg->reg_name);
		goto undo;
	}
	seg->reg_fd = rfd;
	/* Ours from birth: a daemon starting meanwhile cannot adopt it. */
	if (flock(rfd, LOCK_EX | LOCK_NB) < 0) {
		r = -errno;
		fail(err, errlen, r, "cannot lock shm %s: %s", seg->reg_name,
		     strerror(-r));
		shm_unlink(seg->reg_name);
		goto undo;
	}
	seg->reg = map_fd(rfd, seg->reg_size);
	r = -errno;
	if (!seg->reg) {
		fail(err, errlen, r, "cannot map shm %s (%zu bytes): %s",
		     seg->reg_name, seg->reg_size, strerror(-r));
		shm_unlink(seg->reg_name);
		goto undo;
	}
	seg->base = map_fd(seg->fd, seg->size);
	if (!seg->base) {
		r = -errno;
		fail(err, errlen, r, "cannot map shm %s (%zu bytes): %s",
		     seg->name, seg->size, strerror(-r));
		shm_unlink(seg->reg_name);
		goto undo;
	}

	/* The files are fresh zeroes: every slot is free at generation 0 and
	 * every registry entry FREE.  Headers: magic last. */
	rh = seg->reg;
	rh->layout_version = ESD_LAYOUT_VERSION;
	rh->entry_size = sizeof(struct esd_reg_entry);
	rh->slot_count = p->slots;
	rh->incarnation = inc;
	/* Release: whoever sees the magic sees the fields above. */
	__atomic_store_n(&rh->magic, ESD_REG_MAGIC, __ATOMIC_RELEASE);

	h = seg->base;
	h->layout_version = ESD_LAYOUT_VERSION;
	h->header_size = ESD_PAGE;
	h->slot_count = p->slots;
	h->slot_stride = sizeof(struct esd_slot);
	h->incarnation = inc;
	h->created_ns = esd_now_ns(CLOCK_REALTIME);
	h->retired = 0;
	__atomic_store_n(&h->magic, ESD_SEG_MAGIC, __ATOMIC_RELEASE);

	seg->incarnation = inc;
	seg->created = true;
	return 0;

undo:
	shm_unlink(seg->name);
	esd_segment_close(seg);
	return r;
}

/* Check one data segment header against the wanted geometry. */
static int check_data(struct esd_segment *seg, const struct stat *st,
		      const struct esd_segment_params *p,
		      char *err, size_t errlen)
{
	const struct esd_seg_header *h = seg->base;
	/* Acquire: pairs with the creator's release store of the magic, so
	 * every header field read below is the one it wrote. */
	uint64_t magic = __atomic_load_n(&h->magic, __ATOMIC_ACQUIRE);

	if (magic != ESD_SEG_MAGIC)
		return fail(err, errlen, -EEXIST, "shm %s is not a complete "
			    "errseqd segment (magic %016" PRIx64 "); pass "
			    "--recreate to discard it", seg->name, magic);
	if (h->layout_version != ESD_LAYOUT_VERSION)
		return fail(err, errlen, -EEXIST, "segment %s has layout "
			    "version %08x but this errseqd uses %08x; pass "
			    "--recreate to discard it", seg->name,
			    h->layout_version, ESD_LAYOUT_VERSION);
	if (h->header_size != ESD_PAGE ||
	    h->slot_stride != sizeof(struct esd_slot) ||
	    h->slot_count < 1 || h->slot_count > ESD_MAX_SLOTS)
		return fail(err, errlen, -EEXIST, "segment %s has a bad "
			    "geometry (header %u, stride %u, %u slots); pass "
			    "--recreate to discard it", seg->name,
			    h->header_size, h->slot_stride, h->slot_count);
	/* Acquire: a retiring daemon's seq_cst store; nothing else read
	 * here depends on it. */
	if (__atomic_load_n(&h->retired, __ATOMIC_ACQUIRE))
		return fail(err, errlen, -EEXIST, "segment %s was retired by "
			    "a --recreate; pass --recreate to replace it",
			    seg->name);
	if (h->slot_count != p->slots)
		return fail(err, errlen, -EEXIST, "segment %s has %u slots "
			    "but --slots is %u; pass --slots %u, or "
			    "--recreate to discard it", seg->name,
			    h->slot_count, p->slots, h->slot_count);
	if ((uint64_t)st->st_size != esd_seg_size(h->slot_count))
		return fail(err, errlen, -EEXIST, "segment %s is %lld bytes "
			    "but %u slots need %" PRIu64 "; pass --recreate "
			    "to discard it", seg->name,
			    (long long)st->st_size, h->slot_count,
			    esd_seg_size(h->slot_count));
	if (h->incarnation == 0)
		return fail(err, errlen, -EEXIST, "segment %s has no "
			    "incarnation; pass --recreate to discard it",
			    seg->name);
	return 0;
}

static int check_reg(struct esd_segment *seg, const struct stat *st,
		     char *err, size_t errlen)
{
	const struct esd_reg_header *rh = seg->reg;
	const struct esd_seg_header *h = seg->base;
	/* Acquire: as in check_data. */
	uint64_t magic = __atomic_load_n(&rh->magic, __ATOMIC_ACQUIRE);

	if (magic != ESD_REG_MAGIC)
		return fail(err, errlen, -EEXIST, "shm %s is not a complete "
			    "errseqd registry (magic %016" PRIx64 "); pass "
			    "--recreate to discard the pair", seg->reg_name,
			    magic);
	if (rh->layout_version != ESD_LAYOUT_VERSION ||
	    rh->entry_size != sizeof(struct esd_reg_entry))
		return fail(err, errlen, -EEXIST, "registry %s has layout "
			    "version %08x (entry %u bytes) but this errseqd "
			    "uses %08x; pass --recreate to discard the pair",
			    seg->reg_name, rh->layout_version, rh->entry_size,
			    ESD_LAYOUT_VERSION);
	if (rh->slot_count != h->slot_count)
		return fail(err, errlen, -EEXIST, "registry %s has %u slots "
			    "but segment %s has %u; pass --recreate to discard "
			    "the pair", seg->reg_name, rh->slot_count,
			    seg->name, h->slot_count);
	if ((uint64_t)st->st_size != esd_reg_size(rh->slot_count))
		return fail(err, errlen, -EEXIST, "registry %s is %lld bytes "
			    "but %u slots need %" PRIu64 "; pass --recreate "
			    "to discard the pair", seg->reg_name,
			    (long long)st->st_size, rh->slot_count,
			    esd_reg_size(rh->slot_count));
	if (rh->incarnation != h->incarnation)
		return fail(err, errlen, -EEXIST, "segment %s (incarnation "
			    "%016" PRIx64 ") and registry %s (incarnation "
			    "%016" PRIx64 ") do not belong together; pass "
			    "--recreate to discard both", seg->name,
			    h->incarnation, seg->reg_name, rh->incarnation);
	return 0;
}

static int adopt_pair(struct esd_segment *seg, int dfd, int rfd,
		      const struct esd_segment_params *p,
		      char *err, size_t errlen)
{
	struct stat dst, rst;
	int r;

	seg->fd = dfd;
	seg->reg_fd = rfd;
	if (fstat(dfd, &dst) < 0 || fstat(rfd, &rst) < 0) {
		r = -errno;
		fail(err, errlen, r, "cannot stat shm %s: %s", seg->name,
		     strerror(-r));
		goto out;
	}
	if (dst.st_size < (off_t)ESD_PAGE) {
		r = fail(err, errlen, -EEXIST, "shm %s is too small (%lld "
			 "bytes) to be an errseqd segment; pass --recreate to "
			 "discard it", seg->name, (long long)dst.st_size);
		goto out;
	}
	if (rst.st_size < (off_t)ESD_PAGE) {
		r = fail(err, errlen, -EEXIST, "shm %s is too small (%lld "
			 "bytes) to be an errseqd registry; pass --recreate "
			 "to discard the pair", seg->reg_name,
			 (long long)rst.st_size);
		goto out;
	}
	seg->size = (size_t)dst.st_size;
	seg->base = map_fd(dfd, seg->size);
	if (!seg->base) {
		r = -errno;
		fail(err, errlen, r, "cannot map shm %s: %s", seg->name,
		     strerror(-r));
		goto out;
	}
	r = check_data(seg, &dst, p, err, errlen);
	if (r < 0)
		goto out;
	seg->reg_size = (size_t)rst.st_size;
	seg->reg = map_fd(rfd, seg->reg_size);
	if (!seg->reg) {
		r = -errno;
		fail(err, errlen, r, "cannot map shm %s: %s", seg->reg_name,
		     strerror(-r));
		goto out;
	}
	r = check_reg(seg, &rst, err, errlen);
	if (r < 0)
		goto out;

	/* The configured mode and group apply to an adopted segment too. */
	if (fchmod(dfd, p->mode) < 0)
		esd_warn("cannot chmod shm %s to %04o: %s", seg->name,
			 (unsigned)p->mode, strerror(errno));
	if (p->have_group && fchown(dfd, (uid_t)-1, p->gid) < 0)
		esd_warn("cannot give shm %s to group %u: %s", seg->name,
			 (unsigned)p->gid, strerror(errno));
	if (fchmod(rfd, 0600) < 0)
		esd_warn("cannot chmod shm %s to 0600: %s", seg->reg_name,
			 strerror(errno));

	seg->slot_count = esd_segment_header(seg)->slot_count;
	seg->incarnation = esd_segment_header(seg)->incarnation;
	seg->created = false;
	return 0;
out:
	esd_segment_close(seg);
	return r;
}

int esd_segment_open(struct esd_segment *seg,
		     const struct esd_segment_params *p,
		     char *err, size_t errlen)
{
	struct esd_seg_header *h;
	int dfd, rfd, derr = 0, rerr = 0, r;

	memset(seg, 0, sizeof(*seg));
	seg->fd = -1;
	seg->reg_fd = -1;
	if (esd_shm_name_check(p->name) < 0 ||
	    strlen(p->name) >= sizeof(seg->name))
		return fail(err, errlen, -EINVAL, "bad shm name '%s'",
			    p->name);
	snprintf(seg->name, sizeof(seg->name), "%s", p->name);
	snprintf(seg->reg_name, sizeof(seg->reg_name), "%s%s", p->name,
		 ESD_REG_SUFFIX);

	dfd = shm_open(seg->name, O_RDWR | O_CLOEXEC, 0);
	if (dfd < 0)
		derr = errno;
	rfd = shm_open(seg->reg_name, O_RDWR | O_CLOEXEC, 0);
	if (rfd < 0)
		rerr = errno;
	if ((derr && derr != ENOENT) || (rerr && rerr != ENOENT)) {
		bool d = derr && derr != ENOENT;

		if (dfd >= 0)
			close(dfd);
		if (rfd >= 0)
			close(rfd);
		return fail(err, errlen, -(d ? derr : rerr),
			    "cannot open shm %s: %s",
			    d ? seg->name : seg->reg_name,
			    strerror(d ? derr : rerr));
	}

	/* One daemon per pair: the registry's lock is held for the daemon's
	 * life and dropped by the kernel when it dies, even by kill -9. */
	if (rfd >= 0 && flock(rfd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;
		struct esd_seg_header oh;
		pid_t owner = 0;

		if (dfd >= 0 && pread(dfd, &oh, sizeof(oh), 0) == sizeof(oh) &&
		    oh.magic == ESD_SEG_MAGIC)
			owner = oh.daemon_pid;
		if (dfd >= 0)
			close(dfd);
		close(rfd);
		if (e == EWOULDBLOCK)
			return fail(err, errlen, -EBUSY, "segment %s is in use "
				    "by another errseqd (pid %d); stop it "
				    "first, or pass another --shm", seg->name,
				    (int)owner);
		return fail(err, errlen, -e, "cannot lock shm %s: %s",
			    seg->reg_name, strerror(e));
	}

	if (p->recreate) {
		if (dfd >= 0) {
			long live = retire_old(dfd);

			seg->retired_old = live >= 0;
			seg->retired_live = live > 0 ? (uint32_t)live : 0;
			close(dfd);
		}
		/* Unlink while still holding the old registry's lock, so no
		 * other daemon adopts the pair half-way. */
		if ((derr == 0 && shm_unlink(seg->name) < 0 &&
		     errno != ENOENT) ||
		    (rerr == 0 && shm_unlink(seg->reg_name) < 0 &&
		     errno != ENOENT)) {
			r = -errno;
			if (rfd >= 0)
				close(rfd);
			return fail(err, errlen, r, "cannot remove the old "
				    "segments %s, %s: %s", seg->name,
				    seg->reg_name, strerror(-r));
		}
		if (rfd >= 0)
			close(rfd);
		r = create_pair(seg, p, err, errlen);
	} else if (dfd < 0 && rfd < 0) {
		r = create_pair(seg, p, err, errlen);
	} else if (dfd < 0 || rfd < 0) {
		if (dfd >= 0)
			close(dfd);
		if (rfd >= 0)
			close(rfd);
		if (dfd < 0)
			return fail(err, errlen, -EEXIST, "registry %s exists "
				    "but segment %s does not; pass --recreate "
				    "to discard it", seg->reg_name, seg->name);
		return fail(err, errlen, -EEXIST, "segment %s exists but its "
			    "registry %s does not; pass --recreate to discard "
			    "it", seg->name, seg->reg_name);
	} else {
		r = adopt_pair(seg, dfd, rfd, p, err, errlen);
	}
	if (r < 0)
		return r;

	h = esd_segment_header(seg);
	/* Relaxed: diagnostics for errseqctl and tests, ordered with
	 * nothing; the atomic store only keeps readers from tearing them. */
	__atomic_store_n(&h->daemon_pid, (int32_t)getpid(), __ATOMIC_RELAXED);
	__atomic_store_n(&h->daemon_start_ns, p->start_ns, __ATOMIC_RELAXED);
	return 0;
}

void esd_segment_close(struct esd_segment *seg)
{
	if (seg->base)
		munmap(seg->base, seg->size);
	if (seg->reg)
		munmap(seg->reg, seg->reg_size);
	if (seg->fd >= 0)
		close(seg->fd);
	if (seg->reg_fd >= 0)
		close(seg->reg_fd);	/* drops the lock */
	seg->base = NULL;
	seg->reg = NULL;
	seg->fd = -1;
	seg->reg_fd = -1;
}
