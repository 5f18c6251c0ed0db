/*
 * store.c - slot chunks, the private registry, and what keeps them across
 * restarts (see store.h; the layout is common/shm_layout.h).
 *
 * Creation order.  A chunk is created, sized, allocated (posix_fallocate:
 * a lack of memory fails here, never later as SIGBUS), sealed, recorded in
 * the chunk table and handed to the keeper (which acknowledges) before the
 * registry header counts it (release store).  The registry's magic is
 * stored last at creation.  A daemon killed anywhere in between leaves
 * either an uncounted chunk (dropped at the next start) or a counted one
 * that the keeper holds.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/common.h"
#include "daemon/log.h"
#include "daemon/sdnotify.h"
#include "daemon/store.h"

#define CHUNK_SEALS	(F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)
#define KEEP_MAGIC	0x5045454bu	/* "KEEP" */
#define KEEP_KIND_REG	1u
#define KEEP_KIND_CHUNK	2u

enum keep_op {
	KEEP_GET = 1,	/* daemon -> keeper: send me everything */
	KEEP_ITEM = 2,	/* keeper -> daemon: one fd (kind, id) */
	KEEP_END = 3,	/* keeper -> daemon: that was all (id = count) */
	KEEP_PUT = 4,	/* daemon -> keeper: hold this fd (kind, id) */
	KEEP_RESET = 5,	/* daemon -> keeper: drop everything */
	KEEP_ACK = 6,	/* keeper -> daemon: PUT or RESET done */
};

struct keep_msg {
	uint32_t magic;
	uint32_t op;
	uint32_t kind;
	uint32_t id;
};

/* ---- small helpers ---- */

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

static void *map_rw(int fd, size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* A new memfd of @size bytes, mode 0600, allocated; sealed if @seal. */
static int new_memfd(const char *name, uint64_t size, uint64_t alloc,
		     bool seal)
{
	int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING), r;

	if (fd < 0)
		return -errno;
	if (fchmod(fd, 0600) < 0 || ftruncate(fd, (off_t)size) < 0)
		goto fail;
	if (alloc) {
		r = posix_fallocate(fd, 0, (off_t)alloc);
		if (r) {
			errno = r;
			goto fail;
		}
	}
	if (seal && fcntl(fd, F_ADD_SEALS, CHUNK_SEALS) < 0)
		goto fail;
	return fd;
fail:
	r = -errno;
	close(fd);
	return r;
}

/* A read-only file description of the same memfd: what a watcher that may
 * not write gets.  (The memfd's mode is 0600, so only our uid and root
 * could reopen it read-write through /proc.) */
static int reopen_ro(int fd)
{
	char path[64];
	int ro;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	ro = open(path, O_RDONLY | O_CLOEXEC);
	return ro < 0 ? -errno : ro;
}

/* Is @fd a memfd we made: a regular file owned by our euid, no group or
 * other permission bits, @size bytes, and (if @seals) sealed so. */
static const char *check_fd(int fd, uint64_t size, bool seals)
{
	struct stat sb;
	int s;

	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode))
		return "not a regular file";
	if (sb.st_uid != geteuid())
		return "not owned by this daemon's user";
	if (sb.st_mode & 077)
		return "has group or other permissions";
	if (size && (uint64_t)sb.st_size != size)
		return "has the wrong size";
	if (seals) {
		s = fcntl(fd, F_GET_SEALS);
		if (s < 0 || (s & CHUNK_SEALS) != CHUNK_SEALS)
			return "is not sealed";
	}
	return NULL;
}

/* ---- sending and receiving one fd with a keep_msg ---- */

static int send_fd_msg(int sock, const struct keep_msg *m, int fd)
{
	long n = esd_send_fd(sock, m, sizeof(*m), fd, 0, NULL, 0);

	if (n < 0)
		return (int)n;
	return n == (long)sizeof(*m) ? 0 : -EPROTO;
}

/* Receive one keep_msg; *@fd gets a passed fd or -1 (extra fds closed). */
static int recv_fd_msg(int sock, struct keep_msg *m, int *fd)
{
	union {
		char buf[CMSG_SPACE(4 * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = m, .iov_len = sizeof(*m) };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf),
	};
	ssize_t n;

	*fd = -1;
	do
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	*fd = esd_take_passed_fd(&msg);
	if (n == 0)
		return -ECONNRESET;
	if (n != (ssize_t)sizeof(*m) || (msg.msg_flags & MSG_TRUNC) ||
	    m->magic != KEEP_MAGIC) {
		if (*fd >= 0)
			close(*fd);
		*fd = -1;
		return -EPROTO;
	}
	return 0;
}

/* Same uid as ours at the other end of @sock? */
static bool peer_is_us(int sock)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);

	return getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cr, &len) == 0 &&
	       cr.uid == geteuid();
}

/* ---- the keeper process ---- */

struct kept {
	int reg;
	int *chunk;		/* [ESD_MAX_CHUNKS] */
};

static void kept_reset(struct kept *k)
{
	if (k->reg >= 0)
		close(k->reg);
	k->reg = -1;
	for (uint32_t i = 0; i < ESD_MAX_CHUNKS; i++) {
		if (k->chunk[i] >= 0)
			close(k->chunk[i]);
		k->chunk[i] = -1;
	}
}

static void keeper_serve(int c, struct kept *k)
{
	for (;;) {
		struct keep_msg m, a = { .magic = KEEP_MAGIC };
		int fd, r = recv_fd_msg(c, &m, &fd);

		if (r < 0)
			return;
		switch (m.op) {
		case KEEP_GET: {
			uint32_t n = 0;

			if (k->reg >= 0) {
				a.op = KEEP_ITEM;
				a.kind = KEEP_KIND_REG;
				if (send_fd_msg(c, &a, k->reg) < 0)
					return;
				n++;
			}
			for (uint32_t i = 0; i < ESD_MAX_CHUNKS; i++) {
				if (k->chunk[i] < 0)
					continue;
				a.op = KEEP_ITEM;
				a.kind = KEEP_KIND_CHUNK;
				a.id = i;
				if (send_fd_msg(c, &a, k->chunk[i]) < 0)
					return;
				n++;
			}
			a = (struct keep_msg){ KEEP_MAGIC, KEEP_END, 0, n };
			if (send_fd_msg(c, &a, -1) < 0)
				return;
			break;
		}
		case KEEP_PUT:
			if (fd < 0)
				return;
			if (m.kind == KEEP_KIND_REG) {
				if (k->reg >= 0)
					close(k->reg);
				k->reg = fd;
			} else if (m.kind == KEEP_KIND_CHUNK &&
				   m.id < ESD_MAX_CHUNKS) {
				if (k->chunk[m.id] >= 0)
					close(k->chunk[m.id]);
				k->chunk[m.id] = fd;
			} else {
				close(fd);
			}
			fd = -1;
			a.op = KEEP_ACK;
			if (send_fd_msg(c, &a, -1) < 0)
				return;
			break;
		case KEEP_RESET:
			kept_reset(k);
			a.op = KEEP_ACK;
			if (send_fd_msg(c, &a, -1) < 0)
				return;
			break;
		default:
			if (fd >= 0)
				close(fd);
			return;
		}
		if (fd >= 0)
			close(fd);
	}
}

/* Is @path still the socket we bound (@dev, @ino)? */
static bool still_ours(const char *path, dev_t dev, ino_t ino)
{
	struct stat sb;

	return lstat(path, &sb) == 0 && sb.st_dev == dev && sb.st_ino == ino;
}

void esd_keeper_main(int lfd, const char *path, uint32_t grace_s)
{
	struct kept k = { .reg = -1 };
	struct stat sb;
	uint64_t alone_since = esd_now_ns(CLOCK_MONOTONIC);

	prctl(PR_SET_NAME, "errseqd-keeper", 0, 0, 0);
	signal(SIGHUP, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, SIG_DFL);
	k.chunk = malloc(ESD_MAX_CHUNKS * sizeof(int));
	if (!k.chunk || lstat(path, &sb) < 0)
		_exit(1);
	for (uint32_t i = 0; i < ESD_MAX_CHUNKS; i++)
		k.chunk[i] = -1;
	for (;;) {
		struct pollfd p = { lfd, POLLIN, 0 };
		int c;

		if (!still_ours(path, sb.st_dev, sb.st_ino))
			_exit(0);	/* the directory went away */
		if (esd_now_ns(CLOCK_MONOTONIC) - alone_since >
		    (uint64_t)grace_s * 1000000000ull)
			break;
		if (poll(&p, 1, 1000) <= 0)
			continue;
		c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0)
			continue;
		if (peer_is_us(c))
			keeper_serve(c, &k);	/* until the daemon goes */
		close(c);
		alone_since = esd_now_ns(CLOCK_MONOTONIC);
	}
	if (still_ours(path, sb.st_dev, sb.st_ino))
		unlink(path);
	_exit(0);
}

/* Bind the keeper's socket at st->keeper_path, replacing only a dead
 * socket of ours.  Returns the listening fd or a negative errno. */
static int keeper_bind(struct esd_store *st)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat sb;
	int fd;

	if (lstat(st->keeper_path, &sb) == 0) {
		if (!S_ISSOCK(sb.st_mode) || sb.st_uid != geteuid())
			return -EEXIST;
		unlink(st->keeper_path);	/* ours, and nobody answered */
	}
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memcpy(sa.sun_path, st->keeper_path, strlen(st->keeper_path) + 1);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    chmod(st->keeper_path, 0600) < 0 || listen(fd, 4) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	return fd;
}

/* Fork the keeper on a fresh socket, then connect to it. */
static int keeper_spawn(struct esd_store *st, uint32_t grace_s)
{
	int lfd = keeper_bind(st);
	pid_t pid;

	if (lfd < 0)
		return lfd;
	pid = fork();
	if (pid < 0) {
		int r = -errno;

		close(lfd);
		unlink(st->keeper_path);
		return r;
	}
	if (pid == 0) {
		/* The keeper: its own session (no terminal signals), and no
		 * fd but its socket and stderr. */
		pid_t inner;
		int nul = open("/dev/null", O_RDWR);

		setsid();
		/* Double fork: the daemon need not reap us, and the keeper
		 * is no child of a daemon that may be killed and replaced. */
		inner = fork();
		if (inner != 0)
			_exit(inner < 0 ? 1 : 0);
		if (nul >= 0) {
			dup2(nul, 0);
			dup2(nul, 1);
		}
		if (dup2(lfd, 3) != 3)
			_exit(1);
		for (int fd = 4; fd < 65536; fd++)
			close(fd);
		esd_keeper_main(3, st->keeper_path, grace_s);
	}
	close(lfd);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	return 0;
}

/* Connect to the keeper.  Returns the fd, -ENOENT (none), -EACCES (not
 * ours), or another negative errno. */
static int keeper_dial(const struct esd_store *st)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat sb;
	int fd;

	if (lstat(st->keeper_path, &sb) < 0)
		return -ENOENT;
	if (!S_ISSOCK(sb.st_mode) || sb.st_uid != geteuid())
		return -EACCES;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memcpy(sa.sun_path, st->keeper_path, strlen(st->keeper_path) + 1);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int r = errno == ECONNREFUSED ? -ENOENT : -errno;

		close(fd);
		return r;
	}
	if (!peer_is_us(fd)) {
		close(fd);
		return -EACCES;
	}
	return fd;
}

/* Send one request to the keeper and wait for its ACK. */
static int keeper_put(struct esd_store *st, uint32_t op, uint32_t kind,
		      uint32_t id, int fd)
{
	struct keep_msg m = { KEEP_MAGIC, op, kind, id };
	struct pollfd p = { st->keeper_fd, POLLIN, 0 };
	int r, got;

	if (st->keeper_fd < 0)
		return 0;
	r = send_fd_msg(st->keeper_fd, &m, fd);
	if (r == 0 && poll(&p, 1, 5000) != 1)
		r = -ETIMEDOUT;
	if (r == 0)
		r = recv_fd_msg(st->keeper_fd, &m, &got);
	if (r == 0 && got >= 0)
		close(got);
	if (r == 0 && m.op != KEEP_ACK)
		r = -EPROTO;
	if (r < 0) {
		esd_warn("the state keeper at %s failed (%s); slots created "
			 "from now on will not survive a restart",
			 st->keeper_path, strerror(-r));
		close(st->keeper_fd);
		st->keeper_fd = -1;
	}
	return r;
}

/* ---- systemd's fd store ---- */

static void fdstore_put(uint32_t kind, uint32_t id, int fd)
{
	char state[96];
	int r;

	if (kind == KEEP_KIND_REG)
		snprintf(state, sizeof(state), "FDSTORE=1\nFDNAME=esd-reg");
	else
		snprintf(state, sizeof(state),
			 "FDSTORE=1\nFDNAME=esd-chunk-%u", id);
	r = esd_sd_notify_fd(state, fd);
	if (r <= 0)
		esd_warn("cannot store an fd with systemd (%s); set "
			 "FileDescriptorStoreMax= in the unit",
			 r == 0 ? "no NOTIFY_SOCKET" : strerror(-r));
}

static int persist_put(struct esd_store *st, uint32_t kind, uint32_t id,
		       int fd)
{
	if (st->persist == ESD_PERSIST_KEEPER)
		return keeper_put(st, KEEP_PUT, kind, id, fd);
	if (st->persist == ESD_PERSIST_FDSTORE)
		fdstore_put(kind, id, fd);
	return 0;
}

/* ---- adopting kept fds ---- */

struct found {
	int reg;
	int *chunk;		/* [ESD_MAX_CHUNKS] */
	uint32_t n;
};

static void found_close(struct found *f)
{
	if (f->reg >= 0)
		close(f->reg);
	f->reg = -1;
	if (!f->chunk)
		return;
	for (uint32_t i = 0; i < ESD_MAX_CHUNKS; i++)
		if (f->chunk[i] >= 0)
			close(f->chunk[i]);
	free(f->chunk);
	f->chunk = NULL;
}

static void found_add(struct found *f, uint32_t kind, uint32_t id, int fd)
{
	int *slot = kind == KEEP_KIND_REG ? &f->reg :
		    (kind == KEEP_KIND_CHUNK && id < ESD_MAX_CHUNKS) ?
		    &f->chunk[id] : NULL;

	if (!slot) {
		close(fd);
		return;
	}
	if (*slot >= 0)
		close(*slot);
	*slot = fd;
	f->n++;
}

static int keeper_get(struct esd_store *st, struct found *f)
{
	struct keep_msg m = { KEEP_MAGIC, KEEP_GET, 0, 0 };
	int r = send_fd_msg(st->keeper_fd, &m, -1);

	while (r == 0) {
		struct pollfd p = { st->keeper_fd, POLLIN, 0 };
		int fd;

		if (poll(&p, 1, 5000) != 1)
			return -ETIMEDOUT;
		r = recv_fd_msg(st->keeper_fd, &m, &fd);
		if (r < 0)
			break;
		if (m.op == KEEP_END) {
			if (fd >= 0)
				close(fd);
			return 0;
		}
		if (m.op != KEEP_ITEM || fd < 0) {
			if (fd >= 0)
				close(fd);
			return -EPROTO;
		}
		found_add(f, m.kind, m.id, fd);
	}
	return r;
}

/* The fds systemd passed back from its store (LISTEN_FDNAMES esd-*). */
static void fdstore_get(struct found *f)
{
	const char *pid = getenv("LISTEN_PID"), *nfd = getenv("LISTEN_FDS");
	const char *names = getenv("LISTEN_FDNAMES");
	long n;

	if (!pid || !nfd || !names || strtol(pid, NULL, 10) != (long)getpid())
		return;
	n = strtol(nfd, NULL, 10);
	for (long i = 0; i < n && i < 65536 && *names; i++) {
		const char *end = strchr(names, ':');
		size_t len = end ? (size_t)(end - names) : strlen(names);
		int fd = 3 + (int)i;
		unsigned id;
		char tail;

		if (len == 7 && memcmp(names, "esd-reg", 7) == 0) {
			found_add(f, KEEP_KIND_REG, 0, fd);
		} else if (len > 10 && len < 24 &&
			   memcmp(names, "esd-chunk-", 10) == 0 &&
			   sscanf(names + 10, "%u%c", &id, &tail) >= 1 &&
			   (tail == ':' || !end)) {
			found_add(f, KEEP_KIND_CHUNK, id, fd);
		}
		names += len + (end ? 1 : 0);
	}
}

/* ---- opening ---- */

static int alloc_tables(struct esd_store *st)
{
	st->chunk_fd = malloc(st->max_chunks * sizeof(int));
	st->chunk_ro_fd = malloc(st->max_chunks * sizeof(int));
	st->chunk_base = calloc(st->max_chunks, sizeof(void *));
	if (!st->chunk_fd || !st->chunk_ro_fd || !st->chunk_base)
		return -ENOMEM;
	for (uint32_t i = 0; i < st->max_chunks; i++)
		st->chunk_fd[i] = st->chunk_ro_fd[i] = -1;
	return 0;
}

/* Map chunk @c from @fd (ours now) and make its read-only twin. */
static int attach_chunk(struct esd_store *st, uint32_t c, int fd)
{
	int ro = reopen_ro(fd);
	void *base;

	if (ro < 0)
		return ro;
	base = map_rw(fd, ESD_CHUNK_BYTES);
	if (!base) {
		int r = -errno;

		close(ro);
		return r;
	}
	st->chunk_fd[c] = fd;
	st->chunk_ro_fd[c] = ro;
	st->chunk_base[c] = base;
	return 0;
}

static int adopt(struct esd_store *st, struct found *f, char *err,
		 size_t errlen)
{
	const struct esd_reg_header *h;
	const char *why;
	struct stat sb;
	uint32_t chunks;
	int r;

	why = check_fd(f->reg, 0, false);
	if (why || fstat(f->reg, &sb) < 0 || sb.st_size < ESD_PAGE)
		return esd_errf(err, errlen, -EEXIST, "the kept registry %s; "
				"start with --recreate to discard the kept "
				"state", why ? why : "is too small");
	h = mmap(NULL, ESD_PAGE, PROT_READ, MAP_SHARED, f->reg, 0);
	if (h == MAP_FAILED)
		return esd_errf(err, errlen, -errno, "cannot map the kept "
				"registry: %s", strerror(errno));
	st->max_slots = h->max_slots;
	chunks = __atomic_load_n(&h->chunks, __ATOMIC_ACQUIRE);
	r = 0;
	if (__atomic_load_n(&h->magic, __ATOMIC_ACQUIRE) != ESD_REG_MAGIC ||
	    h->layout_version != ESD_LAYOUT_VERSION ||
	    h->entry_size != sizeof(struct esd_reg_entry))
		why = "was written by another version of errseqd";
	else if (h->max_slots < ESD_CHUNK_SLOTS ||
		 h->max_slots > ESD_MAX_SLOTS ||
		 h->max_slots % ESD_CHUNK_SLOTS ||
		 (uint64_t)sb.st_size != esd_reg_size(h->max_slots))
		why = "has an impossible geometry";
	else if (chunks > esd_max_chunks(h->max_slots) || h->incarnation == 0)
		why = "has an impossible header";
	st->incarnation = h->incarnation;
	munmap((void *)h, ESD_PAGE);
	if (why)
		return esd_errf(err, errlen, -EEXIST, "the kept registry %s; "
				"start with --recreate to discard the kept "
				"state", why);
	st->max_chunks = esd_max_chunks(st->max_slots);
	st->reg_size = (size_t)sb.st_size;
	if (alloc_tables(st) < 0)
		return esd_errf(err, errlen, -ENOMEM, "out of memory");
	st->reg = map_rw(f->reg, st->reg_size);
	if (!st->reg)
		return esd_errf(err, errlen, -errno, "cannot map the kept "
				"registry: %s", strerror(errno));
	st->reg_fd = f->reg;
	f->reg = -1;
	for (uint32_t c = 0; c < chunks; c++) {
		int fd = f->chunk[c];

		why = fd < 0 ? "is missing" : check_fd(fd, ESD_CHUNK_BYTES,
							 true);
		if (why)
			return esd_errf(err, errlen, -EEXIST, "kept chunk %u "
					"%s; start with --recreate to discard "
					"the kept state", c, why);
		r = attach_chunk(st, c, fd);
		if (r < 0)
			return esd_errf(err, errlen, r, "cannot map kept "
					"chunk %u: %s", c, strerror(-r));
		f->chunk[c] = -1;
	}
	st->chunks = chunks;
	return 0;
}

static int create(struct esd_store *st, uint32_t slots, char *err,
		  size_t errlen)
{
	struct esd_reg_header *h;
	int fd, r;

	st->max_slots = esd_index_capacity(slots);
	st->max_chunks = esd_max_chunks(st->max_slots);
	st->reg_size = (size_t)esd_reg_size(st->max_slots);
	if (alloc_tables(st) < 0)
		return esd_errf(err, errlen, -ENOMEM, "out of memory");
	r = new_incarnation(&st->incarnation);
	if (r < 0)
		return esd_errf(err, errlen, r, "getrandom: %s", strerror(-r));
	fd = new_memfd("errseqd-registry", st->reg_size,
		       esd_reg_entries(st->max_slots), false);
	if (fd < 0)
		return esd_errf(err, errlen, fd, "cannot create the registry "
				"(%zu bytes): %s", st->reg_size,
				strerror(-fd));
	st->reg_fd = fd;
	st->reg = map_rw(fd, st->reg_size);
	if (!st->reg)
		return esd_errf(err, errlen, -errno, "cannot map the "
				"registry: %s", strerror(errno));
	h = st->reg;
	h->layout_version = ESD_LAYOUT_VERSION;
	h->entry_size = sizeof(struct esd_reg_entry);
	h->max_slots = st->max_slots;
	h->chunks = 0;
	h->incarnation = st->incarnation;
	h->created_ns = esd_now_ns(CLOCK_REALTIME);
	__atomic_store_n(&h->magic, ESD_REG_MAGIC, __ATOMIC_RELEASE);
	st->created = true;
	r = persist_put(st, KEEP_KIND_REG, 0, st->reg_fd);
	(void)r;	/* warned; we serve without persistence */
	return 0;
}

int esd_store_open(struct esd_store *st, const struct esd_store_params *p,
		   char *err, size_t errlen)
{
	struct found f = { .reg = -1 };
	int r;

	memset(st, 0, sizeof(*st));
	st->reg_fd = -1;
	st->keeper_fd = -1;
	st->persist = p->persist;
	f.chunk = malloc(ESD_MAX_CHUNKS * sizeof(int));
	if (!f.chunk)
		return esd_errf(err, errlen, -ENOMEM, "out of memory");
	for (uint32_t i = 0; i < ESD_MAX_CHUNKS; i++)
		f.chunk[i] = -1;

	if (st->persist == ESD_PERSIST_KEEPER) {
		if (strlen(p->socket_path) + sizeof(".keeper") >
		    sizeof(st->keeper_path)) {
			found_close(&f);
			return esd_errf(err, errlen, -ENAMETOOLONG, "the socket "
					"path is too long for its keeper "
					"(%s.keeper)", p->socket_path);
		}
		snprintf(st->keeper_path, sizeof(st->keeper_path), "%s.keeper",
			 p->socket_path);
		r = keeper_dial(st);
		if (r == -EACCES) {
			esd_warn("%s is not this daemon's keeper (another user "
				 "made it?); starting without persistence",
				 st->keeper_path);
			st->persist = ESD_PERSIST_NONE;
		} else if (r >= 0) {
			st->keeper_fd = r;
			r = p->recreate ? keeper_put(st, KEEP_RESET, 0, 0, -1)
					: keeper_get(st, &f);
			if (r < 0) {
				found_close(&f);
				esd_store_close(st);
				return esd_errf(err, errlen, -EBUSY, "the state "
						"keeper at %s does not answer "
						"(another errseqd uses it?)",
						st->keeper_path);
			}
		} else {
			r = keeper_spawn(st, p->keep_state_s);
			if (r == 0)
				r = keeper_dial(st);
			if (r < 0) {
				esd_warn("cannot start the state keeper at %s "
					 "(%s); starting without persistence",
					 st->keeper_path, strerror(-r));
				st->persist = ESD_PERSIST_NONE;
			} else {
				st->keeper_fd = r;
			}
		}
	} else if (st->persist == ESD_PERSIST_FDSTORE && !p->recreate) {
		fdstore_get(&f);
	}

	if (f.reg >= 0 && !p->recreate)
		r = adopt(st, &f, err, errlen);
	else
		r = create(st, p->slots, err, errlen);
	found_close(&f);
	if (r < 0)
		esd_store_close(st);
	return r;
}

int esd_store_add_chunk(struct esd_store *st, uint32_t uid, uint32_t gid)
{
	struct esd_reg_header *h = esd_store_header(st);
	struct esd_reg_chunk *ct;
	uint32_t c = st->chunks;
	uint64_t eoff;
	int fd, r;

	if (c >= st->max_chunks)
		return -ENOSPC;
	/* The registry entries of the new chunk first: allocated memory, so
	 * a full system fails here and not later with SIGBUS. */
	eoff = esd_reg_entries(st->max_slots) +
	       (uint64_t)c * ESD_CHUNK_SLOTS * sizeof(struct esd_reg_entry);
	r = posix_fallocate(st->reg_fd, (off_t)eoff,
			    (off_t)(ESD_CHUNK_SLOTS *
				    sizeof(struct esd_reg_entry)));
	if (r)
		return -r;
	fd = new_memfd("errseqd-chunk", ESD_CHUNK_BYTES, ESD_CHUNK_BYTES,
		       true);
	if (fd < 0)
		return fd;
	r = attach_chunk(st, c, fd);
	if (r < 0) {
		close(fd);
		return r;
	}
	ct = esd_reg_chunk_at(st->reg, c);
	ct->uid = uid;
	ct->gid = gid;
	(void)persist_put(st, KEEP_KIND_CHUNK, c, fd);
	/* release: the chunk table entry is in place before it counts */
	__atomic_store_n(&h->chunks, c + 1, __ATOMIC_RELEASE);
	st->chunks = c + 1;
	return (int)c;
}

void esd_store_close(struct esd_store *st)
{
	if (st->chunk_base) {
		for (uint32_t c = 0; c < st->max_chunks; c++) {
			if (st->chunk_base[c])
				munmap(st->chunk_base[c], ESD_CHUNK_BYTES);
			if (st->chunk_fd[c] >= 0)
				close(st->chunk_fd[c]);
			if (st->chunk_ro_fd[c] >= 0)
				close(st->chunk_ro_fd[c]);
		}
	}
	free(st->chunk_base);
	free(st->chunk_fd);
	free(st->chunk_ro_fd);
	st->chunk_base = NULL;
	st->chunk_fd = st->chunk_ro_fd = NULL;
	if (st->reg)
		munmap(st->reg, st->reg_size);
	st->reg = NULL;
	if (st->reg_fd >= 0)
		close(st->reg_fd);
	st->reg_fd = -1;
	if (st->keeper_fd >= 0)
		close(st->keeper_fd);
	st->keeper_fd = -1;
}
