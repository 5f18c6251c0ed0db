/*
 * test_security.c - least privilege (issue 9): a client may touch only
 * what it owns, and nothing a client can write is trusted.
 *
 * Every case starts the real errseqd (tests/harness.h) as root and runs
 * its clients in forked processes that drop to other uids (nobody 65534,
 * 65533, 65532) with setgroups/setgid/setuid.  The cases:
 *   hostile      a hostile nobody takes every fd the daemon passes it and
 *                every mapping, tries ftruncate, fallocate, read-write
 *                mmap, mprotect, seals, fchmod, a read-write reopen (exact
 *                errnos), scribbles on its own chunk, forges through the
 *                API and the raw protocol, and floods the protocol; all
 *                the while root's producer and two watchers (root
 *                read-write, nobody read-only) see every set exactly once;
 *                then the daemon survives kill -9 with root's slots intact
 *   story        errseq.rst's story (a worker, 77 supervisors, the boss)
 *                with the supervisors and the boss read-only
 *   seen         a read-only watcher's report: the daemon has set SEEN
 *                before errseq_slot_check_and_advance returns
 *   squat        /dev/shm names and the keeper's path made in advance by
 *                another uid do not stop the daemon
 *   tmp          a /tmp/errseqd-UID fallback directory that is not the
 *                user's own, or is writable by others, is refused by the
 *                client (ERRSEQ_EUNSAFE) and the daemon; a daemon of an
 *                untrusted uid is refused by the client
 *   waiters      zeroing `waiters` costs latency, never a report
 *   recreate     --recreate while a client scribbles: handles turn stale,
 *                nothing hangs
 *   limits       per-uid connections, slots, handles; the HELLO timeout
 *   groups       writer groups
 *   repair       a scribbled generation is restored at restart from the
 *                private record, never taken as a delete
 * The raw protocol client below is self-contained (common/protocol.h).
 * Needs root: exits 77 (skipped) otherwise.
 */
#include "config.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/falloc.h>

#include <errseq/client.h>

#include "common/protocol.h"
#include "common/shm_layout.h"
#include "tests/support/harness.h"

#define NOBODY		65534u
#define OTHER		65533u
#define THIRD		65532u
#define WGROUP		65530u	/* a writer group (no name needed) */
#define NOTGROUP	65531u
#define TMPUID		65529u	/* the /tmp fallback case's user */

/* ------------------------------------------------------------------ */
/* processes                                                          */
/* ------------------------------------------------------------------ */

/* fork a child that dies with us (PR_SET_PDEATHSIG). */
static pid_t sec_fork(void)
{
	pid_t parent = getpid();
	pid_t pid = fork();

	ck_assert_msg(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(99);
	}
	return pid;
}

/* Unmap every chunk mapping inherited from the parent: root's client maps
 * root's chunks read-write, and a fork keeps them whatever uid the child
 * becomes (liberrseq-client(3), fork()). */
static void drop_inherited_chunks(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	unsigned long lo[64], hi[64];
	int n = 0;

	if (!f)
		_exit(97);
	while (n < 64 && fgets(line, sizeof(line), f))
		if (strstr(line, "errseqd-chunk") &&
		    sscanf(line, "%lx-%lx", &lo[n], &hi[n]) == 2)
			n++;
	fclose(f);
	for (int i = 0; i < n; i++)
		munmap((void *)lo[i], hi[i] - lo[i]);
}

/* In a child: become @uid/@gid with @n supplementary @groups, with none
 * of the parent's chunk mappings.  The death signal is cleared by a
 * change of credentials: set it again.  Exits 98 on failure. */
static void become(uid_t uid, gid_t gid, const gid_t *groups, size_t n)
{
	pid_t parent = getppid();

	drop_inherited_chunks();
	if (setgroups(n, groups) < 0 || setgid(gid) < 0 || setuid(uid) < 0 ||
	    getuid() != uid || geteuid() != uid)
		_exit(98);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(99);
}

/* Wait for @pid: its exit code, 128 + signal, or -1. */
static int reap(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void kill_reap(pid_t pid)
{
	if (pid > 0) {
		kill(pid, SIGKILL);
		reap(pid);
	}
}

/* Shared memory every later child inherits. */
static void *shared(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	ck_assert_ptr_ne(p, MAP_FAILED);
	memset(p, 0, size);
	return p;
}

static bool write_full(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

/* Read exactly @len bytes within @timeout_ms (a bound on a hang, never a
 * measurement).  false on EOF, error or timeout. */
static bool read_full(int fd, void *buf, size_t len, int timeout_ms)
{
	char *p = buf;

	while (len) {
		struct pollfd pf = { fd, POLLIN, 0 };
		ssize_t n;
		int r = poll(&pf, 1, timeout_ms);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return false;
		n = read(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static uint64_t rnd_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	uint64_t x = rnd_state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	rnd_state = x;
	return x * 0x2545f4914f6cdd1dull;
}

/* ------------------------------------------------------------------ */
/* the daemon                                                         */
/* ------------------------------------------------------------------ */

/* Everyone may connect; the memory decides who may write. */
static const char *const open_mode[] = { "--mode", "0666", NULL };
static const char *const open_mode_nopersist[] = { "--mode", "0666",
						   "--persist", "none", NULL };

static void start(struct esdt_daemon *d, const char *const *extra)
{
	char log[4096];
	int r = esdt_daemon_start(d, 0, extra);

	if (r < 0) {
		esdt_read_log(d, log, sizeof(log));
		ck_abort_msg("errseqd did not start (%s): %s", strerror(-r),
			     log);
	}
}

static void restart(struct esdt_daemon *d, const char *const *extra)
{
	char log[4096];
	int r = esdt_daemon_restart(d, extra);

	if (r < 0) {
		esdt_read_log(d, log, sizeof(log));
		ck_abort_msg("errseqd did not restart (%s): %s", strerror(-r),
			     log);
	}
}

/* Stop the daemon, remove its keeper's socket (the keeper then exits),
 * and everything else the harness made. */
static void finish(struct esdt_daemon *d)
{
	char keeper[160];

	if (!d->dir[0])
		return;
	esdt_daemon_stop(d, SIGKILL);
	snprintf(keeper, sizeof(keeper), "%s.keeper", d->sock);
	unlink(keeper);
	esdt_daemon_cleanup(d);
}

static bool log_has(const struct esdt_daemon *d, const char *what)
{
	static char log[1 << 16];

	esdt_read_log(d, log, sizeof(log));
	return strstr(log, what) != NULL;
}

/* ------------------------------------------------------------------ */
/* a raw protocol-2 client                                            */
/* ------------------------------------------------------------------ */

static uint32_t raw_seq;

static int raw_dial(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	return fd;
}

/* Send @len bytes as they are, with @pass (>= 0) by SCM_RIGHTS. */
static int send_with_fd(int fd, const void *buf, size_t len, int pass)
{
	union {
		char b[CMSG_SPACE(sizeof(int))];
		struct cmsghdr a;
	} ctl;
	struct iovec iov = { (void *)buf, len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (pass >= 0) {
		struct cmsghdr *cm;

		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.b;
		mh.msg_controllen = sizeof(ctl.b);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &pass, sizeof(int));
	}
	n = sendmsg(fd, &mh, MSG_NOSIGNAL);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EPROTO;
}

/* Send @req (@len bytes) as op @op with a valid header. */
static int raw_send(int fd, void *req, size_t len, uint16_t op)
{
	struct esp_hdr *h = req;

	h->magic = ESP_MAGIC;
	h->version = ESP_VERSION;
	h->op = op;
	h->seq = ++raw_seq;
	h->status = 0;
	return send_with_fd(fd, req, len, -1);
}

/* One packet within 20 s: its length, 0 at EOF, or -errno.  The first
 * fd passed goes to *@fd_out (-1 if none); *@nfds counts them all. */
static ssize_t raw_recv(int fd, void *buf, size_t cap, int *fd_out,
			int *nfds)
{
	union {
		char b[CMSG_SPACE(8 * sizeof(int))];
		struct cmsghdr a;
	} ctl;
	struct iovec iov = { buf, cap };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = ctl.b, .msg_controllen = sizeof(ctl.b),
	};
	struct pollfd pf = { fd, POLLIN, 0 };
	ssize_t n;
	int count = 0;

	*fd_out = -1;
	if (nfds)
		*nfds = 0;
	if (poll(&pf, 1, 20000) != 1)
		return -ETIMEDOUT;
	n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
	if (n < 0)
		return -errno;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm;
	     cm = CMSG_NXTHDR(&mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET ||
		    cm->cmsg_type != SCM_RIGHTS)
			continue;
		for (size_t i = 0; i < (cm->cmsg_len - CMSG_LEN(0)) /
				       sizeof(int); i++) {
			int got;

			memcpy(&got, CMSG_DATA(cm) + i * sizeof(int),
			       sizeof(int));
			if (*fd_out < 0)
				*fd_out = got;
			else
				close(got);
			count++;
		}
	}
	if (nfds)
		*nfds = count;
	return n;
}

/* One exchange: the reply's status (0 or -errno), -ECONNRESET at EOF,
 * -EBADMSG for a runt.  @rep gets the reply, *@fd_out a passed fd. */
static int raw_call(int fd, void *req, size_t len, uint16_t op, void *rep,
		    size_t cap, int *fd_out, int *nfds)
{
	int r = raw_send(fd, req, len, op);
	ssize_t n;

	if (r < 0)
		return r;
	n = raw_recv(fd, rep, cap, fd_out, nfds);
	if (n == 0)
		return -ECONNRESET;
	if (n < 0)
		return (int)n;
	if ((size_t)n < sizeof(struct esp_hdr))
		return -EBADMSG;
	return ((struct esp_hdr *)rep)->status;
}

static int raw_hello(int fd, int *nfds)
{
	struct esp_hello_req req = { .min_version = ESP_VERSION,
				     .max_version = ESP_VERSION };
	union {
		struct esp_hello_rep ok;
		struct esp_err_rep err;
	} rep;
	int got, r;

	r = raw_call(fd, &req, sizeof(req), ESP_OP_HELLO, &rep, sizeof(rep),
		     &got, nfds);
	if (got >= 0)
		close(got);
	return r;
}

/* OPEN @name: status; *@rep and the chunk fd (or -1) in *@chunk. */
static int raw_open(int fd, const char *name, uint32_t flags, uint32_t gid,
		    struct esp_open_rep *rep, int *chunk, int *nfds)
{
	struct esp_name_req req = { .flags = flags, .gid = gid };
	union {
		struct esp_open_rep ok;
		struct esp_err_rep err;
	} r;
	int st;

	req.name_len = (uint32_t)strlen(name);
	memcpy(req.name, name, req.name_len);
	st = raw_call(fd, &req, sizeof(req), ESP_OP_OPEN, &r, sizeof(r), chunk,
		      nfds);
	if (st == 0)
		*rep = r.ok;
	return st;
}

/* SEEN (@op ESP_OP_SEEN) or ARM (ESP_OP_ARM, @value = on). */
static int raw_slot_op(int fd, uint16_t op, uint32_t index, uint32_t gen,
		       uint32_t value)
{
	struct esp_seen_req req = { .index = index, .gen = gen,
				    .value = value };
	union {
		struct esp_hdr ok;
		struct esp_err_rep err;
	} rep;
	int got, r;

	r = raw_call(fd, &req, sizeof(req), op, &rep, sizeof(rep), &got,
		     NULL);
	if (got >= 0)
		close(got);
	return r;
}

/* Map a chunk fd; read-write if @rw. */
static struct esd_slot *map_chunk(int fd, bool rw)
{
	void *p = mmap(NULL, ESD_CHUNK_BYTES,
		       PROT_READ | (rw ? PROT_WRITE : 0), MAP_SHARED, fd, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* Root's connection holding @name with its chunk mapped read-write. */
struct raw_hold {
	int fd;
	struct esp_open_rep rep;
	struct esd_slot *base;
	struct esd_slot *slot;
};

static void raw_hold_open(struct raw_hold *h, const char *sock,
			  const char *name)
{
	int chunk;

	h->fd = raw_dial(sock);
	ck_assert_int_ge(h->fd, 0);
	ck_assert_int_eq(raw_hello(h->fd, NULL), 0);
	ck_assert_int_eq(raw_open(h->fd, name, 0, 0, &h->rep, &chunk, NULL),
			 0);
	ck_assert_msg(chunk >= 0 && (h->rep.flags & ESP_RIGHT_WRITE),
		      "root got no read-write chunk for %s", name);
	h->base = map_chunk(chunk, true);
	close(chunk);
	ck_assert_ptr_nonnull(h->base);
	h->slot = h->base + ESD_INDEX_SLOT(h->rep.index);
}

static void raw_hold_close(struct raw_hold *h)
{
	if (h->base)
		munmap(h->base, ESD_CHUNK_BYTES);
	if (h->fd >= 0)
		close(h->fd);
	h->base = h->slot = NULL;
	h->fd = -1;
}

/* ------------------------------------------------------------------ */
/* fixtures                                                           */
/* ------------------------------------------------------------------ */

static void sweep(void)
{
	esdt_sweep();
}

/* ------------------------------------------------------------------ */
/* hostile client vs. root's exact producer and watchers              */
/* ------------------------------------------------------------------ */

#define ATTACKS_MAX	64

struct attack {
	char what[56];
	int got, want;
};

struct hostile {
	struct attack a[ATTACKS_MAX];
	int n;
	int phase1_done;	/* set when the fd attacks are over */
	int stop;		/* set by root: end phase 2 */
	long rounds;		/* flood rounds done */
	long conns;		/* flood connections made */
	long garbage;		/* garbage packets sent */
	long hello_again_bad;	/* second HELLO not answered -EPROTO */
	long scribbles;		/* garbage passes over its own chunk */
	int ro_maps, rw_maps;	/* library chunk mappings found */
	int fail_line;		/* where the hostile gave up, or 0 */
};

static void record(struct hostile *h, const char *what, int got, int want)
{
	if (h->n < ATTACKS_MAX) {
		snprintf(h->a[h->n].what, sizeof(h->a[h->n].what), "%s",
			 what);
		h->a[h->n].got = got;
		h->a[h->n].want = want;
		h->n++;
	}
}

#define SYS(expr)	((expr) < 0 ? -errno : 0)
#define GIVE_UP(h)	do { (h)->fail_line = __LINE__; _exit(3); } while (0)

/* Every attack on a chunk fd the daemon passed: @rw says which kind. */
static void attack_fd(struct hostile *h, int fd, bool rw)
{
	const char *k = rw ? "rw" : "ro";
	char what[56], path[64];
	void *p;
	int r;

#define REC(name, expr, want) do {					\
		snprintf(what, sizeof(what), "%s fd: %s", k, name);	\
		record(h, what, SYS(expr), want);			\
	} while (0)

	REC("ftruncate grow", ftruncate(fd, 2 * ESD_CHUNK_BYTES),
	    rw ? -EPERM : -EINVAL);
	REC("ftruncate shrink", ftruncate(fd, 0), rw ? -EPERM : -EINVAL);
	REC("fallocate grow", fallocate(fd, 0, ESD_CHUNK_BYTES, 4096),
	    rw ? -EPERM : -EBADF);
	if (!rw)
		REC("fallocate punch hole", fallocate(fd, FALLOC_FL_PUNCH_HOLE |
						      FALLOC_FL_KEEP_SIZE,
						      0, ESD_CHUNK_BYTES),
		    -EBADF);
	REC("F_ADD_SEALS", fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE), -EPERM);
	REC("fchmod 0666", fchmod(fd, 0666), -EPERM);
	REC("fchown", fchown(fd, getuid(), getgid()), -EPERM);
	r = pwrite(fd, "x", 1, rw ? ESD_CHUNK_BYTES : 0) < 0 ? -errno : 0;
	snprintf(what, sizeof(what), "%s fd: pwrite %s", k,
		 rw ? "beyond the end" : "inside");
	record(h, what, r, rw ? -EPERM : -EBADF);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	r = open(path, O_RDWR | O_CLOEXEC);
	REC("reopen /proc/self/fd read-write", r, -EACCES);
	if (r >= 0)
		close(r);
	if (!rw) {
		p = mmap(NULL, ESD_CHUNK_BYTES, PROT_READ | PROT_WRITE,
			 MAP_SHARED, fd, 0);
		snprintf(what, sizeof(what), "ro fd: mmap PROT_WRITE shared");
		record(h, what, p == MAP_FAILED ? -errno : 0, -EACCES);
		p = mmap(NULL, ESD_CHUNK_BYTES, PROT_READ, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED)
			GIVE_UP(h);
		REC("mprotect PROT_WRITE of its mapping",
		    mprotect(p, ESD_CHUNK_BYTES, PROT_READ | PROT_WRITE),
		    -EACCES);
		munmap(p, ESD_CHUNK_BYTES);
	}
	/* the size never changed, whatever was tried */
	{
		struct stat sb;

		snprintf(what, sizeof(what), "%s fd: size still one chunk", k);
		record(h, what, fstat(fd, &sb) == 0 &&
		       sb.st_size == (off_t)ESD_CHUNK_BYTES ? 0 : -1, 0);
	}
#undef REC
}

/* Random bytes over all of @base (a chunk of our own domain). */
static void scribble(void *base)
{
	uint64_t *w = base;

	for (size_t i = 0; i < ESD_CHUNK_BYTES / 8; i++)
		w[i] = rnd();
}

/* Every library mapping of a chunk: read-only ones refuse mprotect,
 * read-write ones (our own domain) get garbage. */
static void attack_library_maps(struct hostile *h)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];

	if (!f)
		GIVE_UP(h);
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		char perms[8];

		if (!strstr(line, "errseqd-chunk") ||
		    sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) != 3)
			continue;
		if (perms[1] == 'w') {
			h->rw_maps++;
			scribble((void *)lo);
		} else {
			h->ro_maps++;
			if (h->ro_maps == 1)
				record(h, "library ro mapping: mprotect "
				       "PROT_WRITE", SYS(mprotect((void *)lo,
				       hi - lo, PROT_READ | PROT_WRITE)),
				       -EACCES);
		}
	}
	fclose(f);
}

/* One round of protocol abuse on fresh connections. */
static void flood_round(struct hostile *h, const char *sock, int pass_fd)
{
	int fds[48], n = 0;
	unsigned char buf[512];

	for (int i = 0; i < 48; i++) {
		int fd = raw_dial(sock);

		if (fd < 0)
			break;
		fds[n++] = fd;
	}
	h->conns += n;
	for (int i = 0; i < n; i++) {
		size_t len;

		switch (rnd() % 5) {
		case 0:	/* HELLO twice */
			if (raw_hello(fds[i], NULL) == 0 &&
			    raw_hello(fds[i], NULL) != -EPROTO)
				h->hello_again_bad++;
			break;
		case 1:	/* pure garbage, maybe with an fd */
			len = rnd() % sizeof(buf);
			for (size_t k = 0; k < len; k++)
				buf[k] = (unsigned char)rnd();
			(void)send_with_fd(fds[i], buf, len,
					   rnd() % 2 ? pass_fd : -1);
			h->garbage++;
			break;
		case 2:	/* a valid header, random op and size */
			if (raw_hello(fds[i], NULL) != 0)
				break;
			for (int k = 0; k < 8; k++) {
				len = sizeof(struct esp_hdr) + rnd() % 300;
				for (size_t j = 0; j < len; j++)
					buf[j] = (unsigned char)rnd();
				(void)raw_send(fds[i], buf, len,
					       (uint16_t)(rnd() % 16));
				h->garbage++;
			}
			break;
		case 3:	/* a packet larger than any message */
			{
				static unsigned char big[ESP_MAX_MSG + 64];

				(void)!send(fds[i], big, sizeof(big),
					    MSG_NOSIGNAL);
				h->garbage++;
			}
			break;
		default:	/* idle: never says HELLO */
			break;
		}
	}
	for (int i = 0; i < n; i++)
		close(fds[i]);
}

/* The hostile nobody.  Phase 1 (root waits): the fd and mapping
 * attacks, forgeries.  Phase 2 (with root's producer running): floods,
 * scribbles and SEEN/ARM forgeries until told to stop. */
__attribute__((noreturn))
static void hostile_main(struct hostile *h, const char *sock)
{
	struct esp_open_rep rep, rep2, mine;
	struct errseq_client *c;
	struct errseq_slot *s, *own;
	int a, b, ro, rw, extra, nfds, r;
	struct esd_slot *rw_base, *ro_base;
	errseq_t before;

	become(NOBODY, NOBODY, NULL, 0);
	rnd_state ^= (uint64_t)getpid() << 17;

	/* HELLO passes no fd, and may be said once */
	a = raw_dial(sock);
	if (a < 0)
		GIVE_UP(h);
	r = raw_hello(a, &nfds);
	record(h, "HELLO", r, 0);
	record(h, "fds passed with HELLO", nfds, 0);
	record(h, "second HELLO", raw_hello(a, &nfds), -EPROTO);

	/* root's slot: a read-only fd, once per connection */
	r = raw_open(a, "root.a", 0, 0, &rep, &ro, &nfds);
	record(h, "OPEN root.a", r, 0);
	if (r < 0 || ro < 0)
		GIVE_UP(h);
	record(h, "root.a: ESP_RIGHT_WRITE", (int)(rep.flags &
					       ESP_RIGHT_WRITE), 0);
	record(h, "root.a fd: O_ACCMODE", fcntl(ro, F_GETFL) & O_ACCMODE,
	       O_RDONLY);
	r = raw_open(a, "root.a", 0, 0, &rep2, &extra, &nfds);
	record(h, "fds passed with the 2nd OPEN of a chunk", nfds, 0);
	if (extra >= 0)
		close(extra);

	/* its own slot: a read-write fd */
	r = raw_open(a, "nobody.a", ESP_OPEN_CREATE, 0, &mine, &rw, &nfds);
	record(h, "OPEN CREATE nobody.a", r, 0);
	if (r < 0 || rw < 0)
		GIVE_UP(h);
	record(h, "nobody.a: ESP_RIGHT_WRITE", (int)(mine.flags &
						 ESP_RIGHT_WRITE),
	       (int)ESP_RIGHT_WRITE);
	record(h, "nobody.a fd: O_ACCMODE", fcntl(rw, F_GETFL) & O_ACCMODE,
	       O_RDWR);

	attack_fd(h, ro, false);
	attack_fd(h, rw, true);

	/* forged SEEN and ARM */
	b = raw_dial(sock);
	if (b < 0 || raw_hello(b, NULL) < 0)
		GIVE_UP(h);
	record(h, "SEEN on a slot not held", raw_slot_op(b, ESP_OP_SEEN,
		rep.index, rep.gen, 0x1005), -EBADF);
	record(h, "ARM on a slot not held", raw_slot_op(b, ESP_OP_ARM,
		rep.index, rep.gen, 1), -EBADF);
	record(h, "SEEN with another generation", raw_slot_op(a, ESP_OP_SEEN,
		rep.index, rep.gen + 2, 0x1005), -ESTALE);
	record(h, "SEEN on an index beyond the chunks", raw_slot_op(a,
		ESP_OP_SEEN, ESD_MAX_SLOTS - 1, 1, 0x1005), -EBADF);
	record(h, "ARM with on = 7", raw_slot_op(a, ESP_OP_ARM, rep.index,
						 rep.gen, 7), -EINVAL);

	/* the library: read-only handle, set is refused, nothing stored */
	r = errseq_client_open(sock, &c);
	record(h, "errseq_client_open", r, 0);
	if (r < 0)
		GIVE_UP(h);
	r = errseq_slot_open(c, "root.a", 0, &s);
	record(h, "errseq_slot_open root.a", r, 0);
	if (r < 0)
		GIVE_UP(h);
	record(h, "errseq_slot_writable root.a", errseq_slot_writable(s), 0);
	before = errseq_slot_peek(s);
	record(h, "errseq_slot_set root.a", errseq_slot_set(s, -EIO),
	       -EPERM);
	record(h, "root.a unchanged after the set",
	       errseq_slot_peek(s) == before ? 0 : -1, 0);
	r = errseq_slot_open(c, "nobody.a", 0, &own);
	record(h, "errseq_slot_writable nobody.a", r == 0 ?
	       errseq_slot_writable(own) : r, 1);
	record(h, "errseq_slot_unlink root.a", errseq_slot_unlink(c,
								 "root.a"),
	       -EPERM);
	attack_library_maps(h);

	/* garbage on all of its own chunk */
	rw_base = map_chunk(rw, true);
	ro_base = map_chunk(ro, false);
	if (!rw_base || !ro_base)
		GIVE_UP(h);
	scribble(rw_base);
	__atomic_store_n(&h->phase1_done, 1, __ATOMIC_RELEASE);

	/* phase 2 */
	while (!__atomic_load_n(&h->stop, __ATOMIC_ACQUIRE)) {
		uint32_t w = (uint32_t)__atomic_load_n(&ro_base[ESD_INDEX_SLOT(
						rep.index)].word,
					__ATOMIC_ACQUIRE);

		flood_round(h, sock, ro);
		scribble(rw_base);
		h->scribbles++;
		/* a forged SEEN for a value never set, ARM spam */
		(void)raw_slot_op(a, ESP_OP_SEEN, rep.index, rep.gen,
				  (w + 0x2000u) & ~ERRSEQ_SEEN);
		(void)raw_slot_op(a, ESP_OP_ARM, rep.index, rep.gen,
				  (uint32_t)(rnd() % 2));
		h->rounds++;
	}
	errseq_client_close(c);
	_exit(0);
}

/* A watcher of root.a: reports each error with the check after it. */
struct ack {
	int code;	/* errseq_cursor_wait's return */
	int again;	/* errseq_cursor_check right after: 0 = no duplicate */
};

__attribute__((noreturn))
static void watcher_main(const char *sock, uid_t uid, int ack_w)
{
	struct errseq_client *c;
	struct errseq_slot *s;
	struct errseq_cursor *cur;
	struct ack a;

	int r;

	if (uid != 0)
		become(uid, uid, NULL, 0);
	if ((r = errseq_client_open(sock, &c)) < 0 ||
	    (r = errseq_slot_open(c, "root.a", 0, &s)) < 0 ||
	    (r = errseq_cursor_new(s, &cur)) < 0) {
		fprintf(stderr, "watcher uid %u: %s\n", (unsigned)uid,
			errseq_strerror(r));
		_exit(4);
	}
	a.code = 1;
	a.again = errseq_slot_writable(s);
	if (!write_full(ack_w, &a, sizeof(a)))
		_exit(5);
	for (;;) {
		a.code = errseq_cursor_wait(cur, -1);
		a.again = errseq_cursor_check(cur);
		if (!write_full(ack_w, &a, sizeof(a)))
			_exit(5);
		if (a.code == -ECANCELED || a.code < -ERRSEQ_MAX_ERRNO)
			break;
	}
	errseq_client_close(c);
	_exit(0);
}

#define PRODUCER_SETS	300

START_TEST(hostile_client_cannot_disturb_root)
{
	static const int errs[] = { -EIO, -EIO, -ENOSPC, -EDQUOT, -EIO,
				    -EROFS, -ENOSPC, -ENOSPC };
	struct esdt_daemon d;
	struct hostile *h = shared(sizeof(*h));
	struct errseq_client *c;
	struct errseq_slot *s, *s2;
	struct errseq_slot_info info;
	struct errseq_daemon_status st;
	errseq_t before, last;
	pid_t hostile, watcher[2];
	int ackp[2][2];
	const uid_t wuid[2] = { 0, NOBODY };

	start(&d, open_mode);
	ck_assert_int_eq(errseq_client_open(d.sock, &c), 0);
	ck_assert_int_eq(errseq_slot_open(c, "root.a", ERRSEQ_CREATE, &s), 0);
	ck_assert_int_eq(errseq_slot_open(c, "root.b", ERRSEQ_CREATE, &s2),
			 0);
	ck_assert_int_eq(errseq_slot_set(s2, -EXDEV), 0);
	ck_assert_int_eq(errseq_slot_writable(s), 1);

	/* phase 1: the hostile's attacks, root's value must not move */
	before = errseq_slot_peek(s);
	hostile = sec_fork();
	if (hostile == 0)
		hostile_main(h, d.sock);
	for (int i = 0; i < 2000 &&
	     !__atomic_load_n(&h->phase1_done, __ATOMIC_ACQUIRE); i++) {
		int st2;

		if (waitpid(hostile, &st2, WNOHANG) == hostile) {
			ck_abort_msg("the hostile client died in phase 1 "
				     "(exit %d, signal %d) after %d attacks; "
				     "gave up at line %d",
				     WIFEXITED(st2) ? WEXITSTATUS(st2) : -1,
				     WIFSIGNALED(st2) ? WTERMSIG(st2) : 0,
				     h->n, h->fail_line);
		}
		sleep_ms(10);
	}
	ck_assert_msg(h->phase1_done, "the hostile client gave up at line "
		      "%d", h->fail_line);
	for (int i = 0; i < h->n; i++)
		ck_assert_msg(h->a[i].got == h->a[i].want,
			      "hostile: %s: got %d (%s), want %d", h->a[i].what,
			      h->a[i].got, strerror(-h->a[i].got),
			      h->a[i].want);
	ck_assert_int_ge(h->n, 30);
	/* root's value did not move (check: peek would hide a stale word) */
	ck_assert_int_eq(errseq_slot_check(s, before), 0);
	ck_assert_uint_eq(errseq_slot_peek(s), before);
	ck_assert_msg(h->ro_maps >= 1 && h->rw_maps >= 1, "library maps: "
		      "%d ro, %d rw", h->ro_maps, h->rw_maps);

	/* phase 2: root's producer and two watchers, each its own cursor */
	for (int w = 0; w < 2; w++) {
		struct ack a;

		ck_assert_int_eq(pipe2(ackp[w], O_CLOEXEC), 0);
		watcher[w] = sec_fork();
		if (watcher[w] == 0) {
			close(ackp[w][0]);
			watcher_main(d.sock, wuid[w], ackp[w][1]);
		}
		close(ackp[w][1]);
		if (!read_full(ackp[w][0], &a, sizeof(a), 30000)) {
			kill(watcher[w], SIGKILL);
			ck_abort_msg("watcher %d did not start: exit %d", w,
				     reap(watcher[w]));
		}
		ck_assert_int_eq(a.code, 1);
		ck_assert_msg(a.again == (w == 0),
			      "watcher %d: writable %d", w, a.again);
	}
	for (int k = 0; k <= PRODUCER_SETS; k++) {
		int err = k == PRODUCER_SETS ? -ECANCELED :
			  errs[k % (sizeof(errs) / sizeof(errs[0]))];

		ck_assert_int_eq(errseq_slot_set(s, err), 0);
		for (int w = 0; w < 2; w++) {
			struct ack a;

			ck_assert_msg(read_full(ackp[w][0], &a, sizeof(a),
						60000),
				      "watcher %d (uid %u) never reported set "
				      "%d", w, wuid[w], k);
			ck_assert_msg(a.code == err && a.again == 0,
				      "watcher %d (uid %u), set %d (%d): "
				      "reported %d, then %d", w, wuid[w], k,
				      err, a.code, a.again);
		}
	}
	last = errseq_slot_peek(s);
	for (int w = 0; w < 2; w++) {
		ck_assert_int_eq(reap(watcher[w]), 0);
		close(ackp[w][0]);
	}
	__atomic_store_n(&h->stop, 1, __ATOMIC_RELEASE);
	ck_assert_msg(reap(hostile) == 0, "hostile: gave up at line %d",
		      h->fail_line);
	ck_assert_int_gt(h->rounds, 0);
	ck_assert_int_eq(h->hello_again_bad, 0);
	printf("hostile: %ld flood rounds, %ld connections, %ld garbage "
	       "packets, %ld scribbles, %d attacks checked\n", h->rounds,
	       h->conns, h->garbage, h->scribbles, h->n);

	/* the daemon is alive and serving */
	ck_assert_int_eq(errseq_status(c, &st), 0);
	ck_assert_int_eq(st.pid, d.pid);
	ck_assert_uint_eq(errseq_slot_peek(s), last);
	errseq_slot_close(s);
	errseq_slot_close(s2);
	errseq_client_close(c);

	/* kill -9 and restart on the kept state: root's slots intact */
	ck_assert_int_eq(WTERMSIG(esdt_daemon_stop(&d, SIGKILL)), SIGKILL);
	restart(&d, open_mode);
	ck_assert_int_eq(errseq_client_open(d.sock, &c), 0);
	ck_assert_int_eq(errseq_stat(c, "root.a", &info), 0);
	ck_assert_uint_eq(info.value, last);
	ck_assert_uint_eq(info.creator_uid, 0);
	ck_assert_uint_eq(info.sets_total, PRODUCER_SETS + 1);
	ck_assert_int_eq(errseq_stat(c, "root.b", &info), 0);
	ck_assert_int_eq(-(int)(info.value & ERRSEQ_MAX_ERRNO), -EXDEV);
	/* the scribbled slot was the hostile's to spoil, not to delete */
	ck_assert_int_eq(errseq_stat(c, "nobody.a", &info), 0);
	ck_assert_uint_eq(info.creator_uid, NOBODY);
	ck_assert_int_eq(errseq_slot_open(c, "root.a", 0, &s), 0);
	ck_assert_int_eq(errseq_slot_set(s, -EIO), 0);
	errseq_client_close(c);
	munmap(h, sizeof(*h));
	finish(&d);
}
END_TEST

/* ------------------------------------------------------------------ */
/* errseq.rst's story, supervisors read-only                          */
/* ------------------------------------------------------------------ */

#define STORY_SUPERVISORS 77

struct story_round {
	int err;		/* what the worker records */
	errseq_t after_set;	/* the word after the set */
	int told;		/* what each supervisor is told */
	errseq_t after;		/* the word once every supervisor checked */
};

/* The same rounds as test_errseq.c's story, on a slot. */
static const struct story_round story[] = {
	{ -EIO,    0x00000005, -EIO,    0x00001005 },
	{ -EIO,    0x00002005, -EIO,    0x00003005 },
	{ -ENOSPC, 0x0000401C, -ENOSPC, 0x0000501C },
	{ -4096,   0x0000501C, 0,       0x0000501C },	/* invalid */
	{ -EIO,    0x00006005, -EIO,    0x00007005 },
	{ -EDQUOT, 0x0000807A, -EDQUOT, 0x0000907A },
	{ -EIO,    0x0000A005, -EIO,    0x0000B005 },
	{ -EROFS,  0x0000C01E, -EROFS,  0x0000D01E },	/* the boss's day */
};
#define STORY_ROUNDS (sizeof(story) / sizeof(story[0]))

struct story_shared {
	int writable[STORY_SUPERVISORS + 1];
	errseq_t sampled[STORY_SUPERVISORS];
	int32_t first[STORY_SUPERVISORS];
	int32_t told[STORY_SUPERVISORS][STORY_ROUNDS];
	int32_t again[STORY_SUPERVISORS][STORY_ROUNDS];
	errseq_t cursor[STORY_SUPERVISORS][STORY_ROUNDS];
	errseq_t boss_since, boss_peek;
	int32_t boss_check, boss_check_again;
};

/* Open the story's slot read-only as nobody: the slot or exit. */
static struct errseq_slot *story_open(const char *sock, int *writable)
{
	struct errseq_client *c;
	struct errseq_slot *s;

	become(NOBODY, NOBODY, NULL, 0);
	if (errseq_client_open(sock, &c) < 0 ||
	    errseq_slot_open(c, "wd_err", 0, &s) < 0)
		_exit(4);
	*writable = errseq_slot_writable(s);
	return s;
}

__attribute__((noreturn))
static void story_supervisor(struct story_shared *sh, const char *sock,
			     unsigned i, int go, int done)
{
	struct errseq_slot *s = story_open(sock, &sh->writable[i]);
	errseq_t cursor = 0;
	unsigned char b;

	while (read_full(go, &b, 1, -1)) {
		if (b == 0) {
			cursor = errseq_slot_sample(s);
			sh->sampled[i] = cursor;
			sh->first[i] = errseq_slot_check_and_advance(s,
								     &cursor);
		} else {
			unsigned r = b - 1u;
			int err = 0;

			if (errseq_slot_check(s, cursor))
				err = errseq_slot_check_and_advance(s,
								    &cursor);
			sh->told[i][r] = err;
			sh->again[i][r] = errseq_slot_check_and_advance(s,
								     &cursor);
			sh->cursor[i][r] = cursor;
		}
		if (!write_full(done, &b, 1))
			_exit(2);
	}
	_exit(0);
}

__attribute__((noreturn))
static void story_boss(struct story_shared *sh, const char *sock, int cmd,
		       int ack)
{
	struct errseq_slot *s = story_open(sock,
					   &sh->writable[STORY_SUPERVISORS]);
	errseq_t since = 0;
	unsigned char b;

	while (read_full(cmd, &b, 1, -1)) {
		if (b == 'S') {
			since = errseq_slot_sample(s);
			sh->boss_since = since;
		} else {
			sh->boss_check = errseq_slot_check(s, since);
			sh->boss_peek = errseq_slot_peek(s);
			sh->boss_check_again = errseq_slot_check(s, since);
		}
		if (!write_full(ack, &b, 1))
			_exit(2);
	}
	_exit(0);
}

static bool story_round(const int *go_w, int done_r, unsigned char b)
{
	unsigned char acks[STORY_SUPERVISORS];

	for (unsigned i = 0; i < STORY_SUPERVISORS; i++)
		if (!write_full(go_w[i], &b, 1))
			return false;
	return read_full(done_r, acks, sizeof(acks), 60000);
}

static bool story_boss_cmd(int cmd_w, int ack_r, unsigned char b)
{
	return write_full(cmd_w, &b, 1) && read_full(ack_r, &b, 1, 60000);
}

START_TEST(story_read_only_supervisors)
{
	struct esdt_daemon d;
	struct story_shared *sh = shared(sizeof(*sh));
	struct errseq_client *c;
	struct errseq_slot *s;
	int go[STORY_SUPERVISORS][2], done[2], cmd[2], ack[2];
	int go_w[STORY_SUPERVISORS];
	pid_t pids[STORY_SUPERVISORS + 1];
	errseq_t after_set[STORY_ROUNDS], after[STORY_ROUNDS];
	int set_rc[STORY_ROUNDS];
	bool ok = true;

	start(&d, open_mode_nopersist);
	ck_assert_int_eq(errseq_client_open(d.sock, &c), 0);
	ck_assert_int_eq(errseq_slot_open(c, "wd_err", ERRSEQ_CREATE, &s), 0);
	ck_assert_int_eq(pipe2(done, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(cmd, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(ack, O_CLOEXEC), 0);
	for (unsigned i = 0; i < STORY_SUPERVISORS; i++)
		ck_assert_int_eq(pipe2(go[i], O_CLOEXEC), 0);
	for (unsigned i = 0; i <= STORY_SUPERVISORS; i++) {
		pids[i] = sec_fork();
		if (pids[i] != 0)
			continue;
		/* keep only our own ends, so that the worker's close is
		 * our EOF */
		for (unsigned j = 0; j < STORY_SUPERVISORS; j++) {
			close(go[j][1]);
			if (j != i)
				close(go[j][0]);
		}
		close(done[0]);
		close(cmd[1]);
		close(ack[0]);
		if (i == STORY_SUPERVISORS) {
			close(done[1]);
		} else {
			close(cmd[0]);
			close(ack[1]);
		}
		if (i == STORY_SUPERVISORS)
			story_boss(sh, d.sock, cmd[0], ack[1]);
		story_supervisor(sh, d.sock, i, go[i][0], done[1]);
	}
	for (unsigned i = 0; i < STORY_SUPERVISORS; i++) {
		close(go[i][0]);
		go_w[i] = go[i][1];
	}
	close(done[1]);
	close(cmd[0]);
	close(ack[1]);

	ok = story_round(go_w, done[0], 0);
	for (unsigned r = 0; r < STORY_ROUNDS && ok; r++) {
		bool boss_day = r == STORY_ROUNDS - 1;

		if (boss_day)
			ok = story_boss_cmd(cmd[1], ack[0], 'S');
		set_rc[r] = errseq_slot_set(s, story[r].err);
		after_set[r] = errseq_slot_peek(s);
		if (boss_day && ok)
			ok = story_boss_cmd(cmd[1], ack[0], 'C');
		if (ok)
			ok = story_round(go_w, done[0], (unsigned char)(r + 1));
		after[r] = errseq_slot_peek(s);
	}
	for (unsigned i = 0; i < STORY_SUPERVISORS; i++)
		close(go_w[i]);
	close(done[0]);
	close(cmd[1]);
	close(ack[0]);
	if (!ok)
		for (unsigned i = 0; i <= STORY_SUPERVISORS; i++)
			kill(pids[i], SIGKILL);
	for (unsigned i = 0; i <= STORY_SUPERVISORS; i++)
		ck_assert_msg(reap(pids[i]) == 0 || !ok, "child %u failed", i);
	ck_assert_msg(ok, "the round protocol broke (a child died or hung)");

	for (unsigned i = 0; i <= STORY_SUPERVISORS; i++)
		ck_assert_msg(sh->writable[i] == 0, "supervisor %u may write",
			      i);
	for (unsigned i = 0; i < STORY_SUPERVISORS; i++)
		ck_assert_msg(sh->sampled[i] == 0 && sh->first[i] == 0,
			      "supervisor %u: sample 0x%08x, first check %d",
			      i, sh->sampled[i], sh->first[i]);
	for (unsigned r = 0; r < STORY_ROUNDS; r++) {
		ck_assert_int_eq(set_rc[r], story[r].err == -4096 ? -EINVAL
								 : 0);
		ck_assert_msg(after_set[r] == story[r].after_set &&
			      after[r] == story[r].after,
			      "round %u: word 0x%08x then 0x%08x", r,
			      after_set[r], after[r]);
		for (unsigned i = 0; i < STORY_SUPERVISORS; i++)
			ck_assert_msg(sh->told[i][r] == story[r].told &&
				      sh->again[i][r] == 0 &&
				      sh->cursor[i][r] == story[r].after,
				      "round %u supervisor %u: told %d, then "
				      "%d, cursor 0x%08x", r, i,
				      sh->told[i][r], sh->again[i][r],
				      sh->cursor[i][r]);
	}
	ck_assert_uint_eq(sh->boss_since, 0x0000B005);
	ck_assert_int_eq(sh->boss_check, -EROFS);
	ck_assert_int_eq(sh->boss_check_again, -EROFS);
	ck_assert_uint_eq(sh->boss_peek, 0x0000C01E);	/* SEEN still clear */
	errseq_client_close(c);
	munmap(sh, sizeof(*sh));
	finish(&d);
}
END_TEST

/* ------------------------------------------------------------------ */
/* a read-only watcher's report: SEEN is in place before it returns    */
/* ------------------------------------------------------------------ */

struct seen_res {
	int writable, told;
	errseq_t word_when_told;	/* peeked right after the report */
	int check_rc;
};

START_TEST(ro_report_marks_seen_first)
{
	struct esdt_daemon d;
	struct seen_res *res = shared(sizeof(*res));
	struct errseq_client *c;
	struct errseq_slot *s;
	int go[2], done[2];
	errseq_t told_word;
	pid_t pid;
	char b = 'g';

	start(&d, open_mode_nopersist);
	ck_assert_int_eq(errseq_client_open(d.sock, &c), 0);
	ck_assert_int_eq(errseq_slot_open(c, "seen.a", ERRSEQ_CREATE, &s), 0);
	ck_assert_int_eq(pipe2(go, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(done, O_CLOEXEC), 0);
	pid = sec_fork();
	if (pid == 0) {
		struct errseq_client *wc;
		struct errseq_slot *ws;
		errseq_t since;

		become(NOBODY, NOBODY, NULL, 0);
		if (errseq_client_open(d.sock, &wc) < 0 ||
		    errseq_slot_open(wc, "seen.a", 0, &ws) < 0)
			_exit(4);
		res->writable = errseq_slot_writable(ws);
		since = errseq_slot_sample(ws);
		(void)!write(done[1], &b, 1);
		if (!read_full(go[0], &b, 1, -1))
			_exit(5);
		/* one report, then look at the word before anything else */
		res->told = errseq_slot_check_and_advance(ws, &since);
		res->word_when_told = errseq_slot_peek(ws);
		(void)!write(done[1], &b, 1);
		_exit(0);
	}
	ck_assert(read_full(done[0], &b, 1, 30000));
	ck_assert_int_eq(errseq_slot_set(s, -EIO), 0);
	ck_assert(write_full(go[1], &b, 1));
	ck_assert(read_full(done[0], &b, 1, 30000));
	ck_assert_int_eq(reap(pid), 0);
	ck_assert_int_eq(res->writable, 0);
	ck_assert_int_eq(res->told, -EIO);
	told_word = res->word_when_told;
	ck_assert_msg(told_word & ERRSEQ_SEEN, "reported -EIO but the word "
		      "0x%08x has no SEEN: a later watcher's first sample "
		      "would miss it", told_word);
	/* so the same errno again is a new value, not merged */
	ck_assert_int_eq(errseq_slot_set(s, -EIO), 0);
	ck_assert_uint_ne(errseq_slot_peek(s), told_word);
	errseq_client_close(c);
	munmap(res, sizeof(*res));
	finish(&d);
}
END_TEST

/* ------------------------------------------------------------------ */
/* squatted names                                                     */
/* ------------------------------------------------------------------ */

/* Create @path as @uid, mode 0666, with junk; true if we made it. */
static bool squat_file(const char *path, uid_t uid)
{
	char junk[4096];
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0666);

	if (fd < 0)
		return false;
	memset(junk, 0x5a, sizeof(junk));
	(void)!write(fd, junk, sizeof(junk));
	(void)!fchown(fd, uid, uid);
	(void)!fchmod(fd, 0666);
	close(fd);
	return true;
}

/* The daemon serves: create, set, stat through the library. */
static void serves(const struct esdt_daemon *d, const char *name)
{
	struct errseq_client *c;
	struct errseq_slot *s;
	struct errseq_slot_info info;

	ck_assert_int_eq(errseq_client_open(d->sock, &c), 0);
	ck_assert_int_eq(errseq_slot_open(c, name, ERRSEQ_CREATE, &s), 0);
	ck_assert_int_eq(errseq_slot_set(s, -EIO), 0);
	ck_assert_int_eq(errseq_stat(c, name, &info), 0);
	ck_assert_int_eq(-(int)(info.value & ERRSEQ_MAX_ERRNO), -EIO);
	errseq_client_close(c);
}

/* Remove the default names if they are the junk squat_file() made (a
 * failed test leaves them behind; anything else is not ours). */
static void squat_teardown(void)
{
	static const char *const defaults[] = { "/dev/shm/errseqd",
						"/dev/shm/errseqd.reg" };

	for (int i = 0; i < 2; i++) {
		unsigned char b = 0;
		struct stat sb;
		int fd = open(defaults[i], O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

		if (fd < 0)
			continue;
		if (fstat(fd, &sb) == 0 && sb.st_uid == NOBODY &&
		    sb.st_size == 4096 && read(fd, &b, 1) == 1 && b == 0x5a)
			unlink(defaults[i]);
		close(fd);
	}
	esdt_sweep();
}

START_TEST(squatted_names_do_not_stop_the_daemon)
{
	static const char *const defaults[] = { "/dev/shm/errseqd",
						"/dev/shm/errseqd.reg" };
	struct esdt_daemon d;
	char shm[128], reg[128], keeper[160];
	bool made_default[2];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int lfd;

	start(&d, open_mode_nopersist);
	ck_assert_int_eq(esdt_daemon_stop(&d, SIGTERM), 0);

	/* another uid made the shm names (--shm and the defaults) and a
	 * file where the keeper's socket goes */
	snprintf(shm, sizeof(shm), "/dev/shm%s", d.shm);
	snprintf(reg, sizeof(reg), "/dev/shm%s.reg", d.shm);
	snprintf(keeper, sizeof(keeper), "%s.keeper", d.sock);
	ck_assert(squat_file(shm, NOBODY));
	ck_assert(squat_file(reg, NOBODY));
	for (int i = 0; i < 2; i++)
		made_default[i] = squat_file(defaults[i], NOBODY);
	ck_assert(squat_file(keeper, NOBODY));

	restart(&d, open_mode);
	serves(&d, "squat.a");
	ck_assert_msg(log_has(&d, "is not this daemon's keeper"),
		      "no warning about the squatted keeper path");
	ck_assert_int_eq(esdt_daemon_stop(&d, SIGTERM), 0);

	/* a socket there, owned by another uid, with someone listening */
	unlink(keeper);
	lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(lfd, 0);
	ck_assert_int_lt(strlen(keeper), sizeof(sa.sun_path));
	memcpy(sa.sun_path, keeper, strlen(keeper) + 1);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(lfd, 4), 0);
	ck_assert_int_eq(lchown(keeper, NOBODY, NOBODY), 0);
	ck_assert_int_eq(chmod(keeper, 0666), 0);
	restart(&d, open_mode);
	serves(&d, "squat.b");
	{
		struct pollfd pf = { lfd, POLLIN, 0 };

		/* the daemon never talked to it */
		ck_assert_int_eq(poll(&pf, 1, 0), 0);
	}
	close(lfd);

	/* the squatted files are untouched */
	for (int i = 0; i < 2; i++) {
		struct stat sb;
		const char *p = i ? reg : shm;

		ck_assert_int_eq(stat(p, &sb), 0);
		ck_assert_uint_eq(sb.st_uid, NOBODY);
		ck_assert_int_eq(sb.st_size, 4096);
	}
	unlink(shm);
	unlink(reg);
	for (int i = 0; i < 2; i++)
		if (made_default[i])
			unlink(defaults[i]);
	unlink(keeper);
	finish(&d);
}
END_TEST

/* ------------------------------------------------------------------ */
/* the /tmp fallback and the daemon's uid                             */
/* ------------------------------------------------------------------ */

struct trust_res {
	int client;		/* errseq_client_open(NULL) */
	int daemon_exit;	/* errseqd's exit code, or -1 */
	int sock_mode;		/* its socket's mode, or -errno */
	char daemon_err[1024];
};

/* As @uid, with neither XDG_RUNTIME_DIR nor ERRSEQD_SOCKET: try the
 * client's default, then errseqd's default (it must exit). */
__attribute__((noreturn))
static void fallback_child(struct trust_res *res, uid_t uid)
{
	struct errseq_client *c;
	int pfd[2];
	pid_t pid;
	size_t used = 0;

	become(uid, uid, NULL, 0);
	unsetenv("XDG_RUNTIME_DIR");
	unsetenv("ERRSEQD_SOCKET");
	unsetenv("NOTIFY_SOCKET");
	res->client = errseq_client_open(NULL, &c);
	if (res->client == 0)
		errseq_client_close(c);
	if (pipe(pfd) < 0)
		_exit(6);
	pid = fork();
	if (pid == 0) {
		const char *bin = getenv("ERRSEQD_BIN");

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(pfd[1], 2);
		close(pfd[0]);
		execl(bin && *bin ? bin : "daemon/errseqd", "errseqd",
		      "--persist", "none", (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	/* a refusal is immediate; a daemon that starts would run on: the
	 * bound below only ends the wait for it */
	for (;;) {
		ssize_t n;

		if (!read_full(pfd[0], res->daemon_err + used, 1, 20000))
			break;
		n = 1;
		if (used + (size_t)n < sizeof(res->daemon_err) - 1)
			used += (size_t)n;
	}
	kill(pid, SIGKILL);
	res->daemon_exit = reap(pid);
	_exit(0);
}

/* A listening socket at @dir/errseqd.sock, bound by root. */
static int listen_in(const char *dir)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/errseqd.sock", dir);
	unlink(sa.sun_path);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(fd, 16), 0);
	return fd;
}

static void rm_dir(const char *dir)
{
	char p[160];

	snprintf(p, sizeof(p), "%s/errseqd.sock", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/errseqd.log", dir);
	unlink(p);
	rmdir(dir);
}

/* Set in the test's process; the teardown (in Check's runner) removes the
 * fixed /tmp/errseqd-TMPUID itself, and esdt_sweep the /tmp/esdt-PID-*
 * directory of a test process that died. */
static char tmp_dir[64];

static void tmp_teardown(void)
{
	char dir[64];

	snprintf(dir, sizeof(dir), "/tmp/errseqd-%u", TMPUID);
	rm_dir(dir);
	esdt_sweep();
}

START_TEST(tmp_fallback_squatted_is_refused)
{
	struct trust_res *res = shared(sizeof(*res));
	struct {
		uid_t owner;
		mode_t mode;
		const char *label;
	} cases[] = {
		{ NOBODY, 0755, "owned by another uid" },
		{ TMPUID, 0777, "its own but mode 0777" },
		{ TMPUID, 0757, "its own but other-writable" },
	};
	int lfd;

	snprintf(tmp_dir, sizeof(tmp_dir), "/tmp/errseqd-%u", TMPUID);
	rm_dir(tmp_dir);
	ck_assert_msg(mkdir(tmp_dir, 0700) == 0, "%s: %s", tmp_dir,
		      strerror(errno));
	/* someone answers there: only the directory check can refuse */
	lfd = listen_in(tmp_dir);
	{
		char p[128];

		snprintf(p, sizeof(p), "%s/errseqd.sock", tmp_dir);
		ck_assert_int_eq(chmod(p, 0666), 0);
	}
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		pid_t pid;

		ck_assert_int_eq(chown(tmp_dir, cases[i].owner,
				       cases[i].owner), 0);
		ck_assert_int_eq(chmod(tmp_dir, cases[i].mode), 0);
		memset(res, 0, sizeof(*res));
		pid = sec_fork();
		if (pid == 0)
			fallback_child(res, TMPUID);
		ck_assert_int_eq(reap(pid), 0);
		ck_assert_msg(res->client == ERRSEQ_EUNSAFE,
			      "%s: errseq_client_open(NULL) = %d, want "
			      "ERRSEQ_EUNSAFE", cases[i].label, res->client);
		ck_assert_msg(res->daemon_exit == 1 &&
			      strstr(res->daemon_err, "XDG_RUNTIME_DIR"),
			      "%s: errseqd exited %d: %s", cases[i].label,
			      res->daemon_exit, res->daemon_err);
	}
	close(lfd);

	/* its own directory, mode 0700: the daemon starts there and the
	 * client uses it (the check above can tell the two apart) */
	rm_dir(tmp_dir);
	ck_assert_int_eq(mkdir(tmp_dir, 0700), 0);
	ck_assert_int_eq(chown(tmp_dir, TMPUID, TMPUID), 0);
	{
		pid_t pid = sec_fork();

		if (pid == 0) {
			const char *bin = getenv("ERRSEQD_BIN");
			struct errseq_client *c;
			pid_t dpid;
			int r = -1;

			become(TMPUID, TMPUID, NULL, 0);
			unsetenv("XDG_RUNTIME_DIR");
			unsetenv("ERRSEQD_SOCKET");
			unsetenv("NOTIFY_SOCKET");
			dpid = fork();
			if (dpid == 0) {
				int nul = open("/dev/null", O_WRONLY);

				prctl(PR_SET_PDEATHSIG, SIGKILL);
				dup2(nul, 2);
				execl(bin && *bin ? bin : "daemon/errseqd",
				      "errseqd", "--persist", "none",
				      (char *)NULL);
				_exit(127);
			}
			for (int i = 0; i < 600; i++) {
				r = errseq_client_open(NULL, &c);
				if (r != -ENOENT && r != -ECONNREFUSED)
					break;
				sleep_ms(50);
			}
			if (r == 0) {
				struct stat sb;
				char p[96];

				errseq_client_close(c);
				/* a user's daemon: 0600 by default */
				snprintf(p, sizeof(p), "/tmp/errseqd-%u/"
					 "errseqd.sock", TMPUID);
				res->sock_mode = stat(p, &sb) == 0 ?
					(int)(sb.st_mode & 07777) : -errno;
			}
			res->client = r;
			kill(dpid, SIGTERM);
			res->daemon_exit = reap(dpid);
			_exit(0);
		}
		ck_assert_int_eq(reap(pid), 0);
		ck_assert_int_eq(res->client, 0);
		ck_assert_int_eq(res->daemon_exit, 0);
		ck_assert_int_eq(res->sock_mode, 0600);
	}
	rm_dir(tmp_dir);
	munmap(res, sizeof(*res));
}
END_TEST

/* errseq_client_open(@sock) as @uid (0: as we are), in a child. */
static int open_as(const char *sock, uid_t uid)
{
	int *rc = shared(sizeof(int));
	pid_t pid = sec_fork();
	int r;

	if (pid == 0) {
		struct errseq_client *c;

		if (uid != 0)
			become(uid, uid, NULL, 0);
		*rc = errseq_client_open(sock, &c);
		if (*rc == 0)
			errseq_client_close(c);
		_exit(0);
	}
	ck_assert_int_eq(reap(pid), 0);
	r = *rc;
	munmap(rc, sizeof(int));
	return r;
}

START_TEST(daemon_of_untrusted_uid_is_refused)
{
	char sock[128];
	pid_t dpid;
	int r = -1;

	snprintf(tmp_dir, sizeof(tmp_dir), "/tmp/esdt-%d-u%u", (int)getpid(),
		 OTHER);
	rm_dir(tmp_dir);
	ck_assert_int_eq(mkdir(tmp_dir, 0755), 0);
	ck_assert_int_eq(chown(tmp_dir, OTHER, OTHER), 0);
	snprintf(sock, sizeof(sock), "%s/errseqd.sock", tmp_dir);
	dpid = sec_fork();
	if (dpid == 0) {
		const char *bin = getenv("ERRSEQD_BIN");
		char log[160];
		int fd;

		become(OTHER, OTHER, NULL, 0);
		snprintf(log, sizeof(log), "%s/errseqd.log", tmp_dir);
		fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd >= 0)
			dup2(fd, 2);
		unsetenv("NOTIFY_SOCKET");
		execl(bin && *bin ? bin : "daemon/errseqd", "errseqd",
		      "--socket", sock, "--mode", "0666", "--persist", "none",
		      (char *)NULL);
		_exit(127);
	}
	/* its own user may use it (and tells us it is up) */
	for (int i = 0; i < 600; i++) {
		r = open_as(sock, OTHER);
		if (r != -ENOENT && r != -ECONNREFUSED)
			break;
		sleep_ms(50);
	}
	ck_assert_int_eq(r, 0);
	ck_assert_int_eq(open_as(sock, 0), ERRSEQ_EUNSAFE);
	ck_assert_int_eq(open_as(sock, THIRD), ERRSEQ_EUNSAFE);
	kill(dpid, SIGTERM);
	ck_assert_int_eq(reap(dpid), 0);
	rm_dir(tmp_dir);
}
END_TEST

/* ------------------------------------------------------------------ */
/* zeroed waiters                                                     */
/* ------------------------------------------------------------------ */

START_TEST(zeroed_waiters_lose_no_wakeup)
{
	struct esdt_daemon d;
	struct errseq_client *c;
	struct errseq_slot *s;
	struct raw_hold rh;
	int res[2], cmd[2];
	pid_t watcher, zeroer;
	int got = 0, n;
	char byte = 'c';

	start(&d, open_mode_nopersist);
	ck_assert_int_eq(errseq_client_open(d.sock, &c), 0);
	ck_assert_int_eq(errseq_slot_open(c, "wait.a", ERRSEQ_CREATE, &s), 0);
	raw_hold_open(&rh, d.sock, "wait.a");
	ck_assert_int_eq(pipe2(res, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(cmd, O_CLOEXEC), 0);

	watcher = sec_fork();
	if (watcher == 0) {
		struct errseq_client *wc;
		struct errseq_slot *ws;
		struct errseq_cursor *cur;
		int r;

		become(NOBODY, NOBODY, NULL, 0);
		if (errseq_client_open(d.sock, &wc) < 0 ||
		    errseq_slot_open(wc, "wait.a", 0, &ws) < 0 ||
		    errseq_slot_writable(ws) != 0 ||
		    errseq_cursor_new(ws, &cur) < 0)
			_exit(4);
		r = errseq_cursor_wait(cur, -1);
		(void)!write(res[1], &r, sizeof(r));
		if (!read_full(cmd[0], &byte, 1, -1))
			_exit(5);
		errseq_client_close(wc);
		r = 0;
		(void)!write(res[1], &r, sizeof(r));
		_exit(0);
	}
	/* the watcher armed: the daemon counts it */
	for (n = 0; n < 2000 && __atomic_load_n(&rh.slot->waiters,
						 __ATOMIC_SEQ_CST) != 1; n++)
		sleep_ms(5);
	ck_assert_uint_eq(__atomic_load_n(&rh.slot->waiters,
					  __ATOMIC_SEQ_CST), 1);

	/* a writer of the slot zeroes waiters, again and again */
	zeroer = sec_fork();
	if (zeroer == 0)
		for (;;)
			__atomic_store_n(&rh.slot->waiters, 0,
					 __ATOMIC_SEQ_CST);
	sleep_ms(100);
	ck_assert_int_eq(errseq_slot_set(s, -EIO), 0);
	ck_assert_msg(read_full(res[0], &got, sizeof(got), 60000),
		      "the watcher never woke");
	ck_assert_int_eq(got, -EIO);
	kill_reap(zeroer);

	/* waiters is the daemon's count, not a counter anyone bumps: one
	 * more ARM makes it 2 whatever the word held */
	ck_assert_int_eq(raw_slot_op(rh.fd, ESP_OP_ARM, rh.rep.index,
				     rh.rep.gen, 1), 0);
	ck_assert_uint_eq(__atomic_load_n(&rh.slot->waiters,
					  __ATOMIC_SEQ_CST), 2);
	ck_assert(write_full(cmd[1], &byte, 1));
	ck_assert(read_full(res[0], &got, sizeof(got), 60000));
	ck_assert_int_eq(reap(watcher), 0);
	for (n = 0; n < 2000 && __atomic_load_n(&rh.slot->waiters,
						 __ATOMIC_SEQ_CST) != 1; n++)
		sleep_ms(5);
	ck_assert_uint_eq(__atomic_load_n(&rh.slot->waiters,
					  __ATOMIC_SEQ_CST), 1);
	ck_assert_int_eq(raw_slot_op(rh.fd, ESP_OP_ARM, rh.rep.index,
				     rh.rep.gen, 0), 0);
	ck_assert_uint_eq(__atomic_load_n(&rh.slot->waiters,
					  __ATOMIC_SEQ_CST), 0);
	raw_hold_close(&rh);
	errseq_client_close(c);
	finish(&d);
}
END_TEST

/* ------------------------------------------------------------------ */
/* --recreate under a scribbling client                               */
/* ------------------------------------------------------------------ */

struct waiter_arg {
	struct errseq_cursor *cur;
	int result;
};

static void *waiter_thread(void *arg)
{
	struct waiter_arg *w = arg;

	w->result = errseq_cursor_wait(w->cur, -1);
	return NULL;
}

START_TEST(recreate_under_a_scribbler_never_hangs)
{
	static const char *const recreate[] = { "--mode", "0666",
						"--recreate", NULL };
	struct esdt_daemon d;
	struct errseq_client *c;
	struct errseq_slot *mine, *theirs;
	struct errseq_cursor *cm, *ct;
	struct errseq_daemon_status st;
	struct waiter_arg wa = { 0 };
	pthread_t th;
	uint64_t old_inc;
	int ready[2], r = -1;
	pid_t scrib;
	char b;

	start(&d, open_mode);
	ck_assert_int_eq(pipe2(ready, O_CLOEXEC), 0);
	scrib = sec_fork();
	if (scrib == 0) {
		struct esp_open_rep rep;
		int fd, chunk;
		struct esd_slot *base;

		become(NOBODY, NOBODY, NULL, 0);
		fd = raw_dial(d.sock);
		if (fd < 0 || raw_hello(fd, NULL) < 0 ||
		    raw_open(fd, "scr.a", ESP_OPEN_CREATE, 0, &rep, &chunk,
			     NULL) < 0 || chunk < 0 ||
		    !(base = map_chunk(chunk, true)))
			_exit(4);
		(void)!write(ready[1], "r", 1);
		for (;;)
			scribble(base);
	}
	ck_assert(read_full(ready[0], &b, 1, 30000));
	ck_assert_int_eq(errseq_client_open(d.sock, &c), 0);
	ck_assert_int_eq(errseq_slot_open(c, "root.r", ERRSEQ_CREATE, &mine),
			 0);
	ck_assert_int_eq(errseq_slot_open(c, "scr.a", 0, &theirs), 0);
	ck_assert_int_eq(errseq_slot_writable(theirs), 1);	/* root */
	ck_assert_int_eq(errseq_cursor_new(mine, &cm), 0);
	ck_assert_int_eq(errseq_cursor_new(mine, &ct), 0);
	wa.cur = ct;
	ck_assert_int_eq(pthread_create(&th, NULL, waiter_thread, &wa), 0);
	ck_assert_int_eq(errseq_status(c, &st), 0);
	old_inc = st.incarnation;

	ck_assert_int_eq(WTERMSIG(esdt_daemon_stop(&d, SIGKILL)), SIGKILL);
	restart(&d, recreate);
	/* every call returns; the reconnect sees the new state */
	for (int i = 0; i < 400; i++) {
		r = errseq_status(c, &st);
		if (r == 0 && st.incarnation != old_inc)
			break;
		sleep_ms(25);
	}
	ck_assert_int_eq(r, 0);
	ck_assert_uint_ne(st.incarnation, old_inc);
	ck_assert_int_eq(errseq_slot_check(mine, 0), ERRSEQ_ESTALE);
	ck_assert_int_eq(errseq_slot_set(mine, -EIO), ERRSEQ_ESTALE);
	ck_assert_int_eq(errseq_slot_check(theirs, 0), ERRSEQ_ESTALE);
	ck_assert_int_eq(errseq_cursor_check(cm), ERRSEQ_ESTALE);
	ck_assert_int_eq(pthread_join(th, NULL), 0);
	ck_assert_int_eq(wa.result, ERRSEQ_ESTALE);
	ck_assert_int_eq(errseq_status(c, &st), 0);
	{
		struct errseq_slot_info info;

		/* the state was replaced: the old names are gone */
		ck_assert_int_eq(errseq_stat(c, "root.r", &info), -ENOENT);
	}
	kill_reap(scrib);
	errseq_client_close(c);
	finish(&d);
}
END_TEST

/* ------------------------------------------------------------------ */
/* per-uid limits                                                     */
/* ------------------------------------------------------------------ */

struct limits_res {
	int conns[4];
	int create[3];
	int unlink_one, create_after;
	int holds[5];
	struct errseq_daemon_status st;
	int status_rc;
};

START_TEST(per_uid_limits)
{
	static const char *const extra[] = {
		"--mode", "0666", "--persist", "none",
		"--max-clients-per-uid", "3", "--max-slots-per-uid", "2",
		"--max-open-per-uid", "4", "--hello-timeout", "300", NULL };
	struct esdt_daemon d;
	struct limits_res *res = shared(sizeof(*res));
	struct errseq_client *rc;
	struct errseq_slot *rs[3];
	int go[2], up[2], fd, n;
	char b = 'g', buf[256];
	pid_t pid;

	start(&d, extra);
	ck_assert_int_eq(pipe2(go, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(up, O_CLOEXEC), 0);
	pid = sec_fork();
	if (pid == 0) {
		struct errseq_client *c[4] = { NULL };
		struct errseq_slot *s[8];
		char name[16];

		become(NOBODY, NOBODY, NULL, 0);
		for (int i = 0; i < 4; i++)
			res->conns[i] = errseq_client_open(d.sock, &c[i]);
		(void)!write(up[1], "u", 1);
		if (!read_full(go[0], &b, 1, -1) || !c[0] || !c[1] || !c[2])
			_exit(4);
		for (int i = 0; i < 3; i++) {
			snprintf(name, sizeof(name), "lim.%d", i);
			res->create[i] = errseq_slot_open(c[0], name,
				ERRSEQ_CREATE | ERRSEQ_EXCL, &s[i]);
		}
		if (res->create[0] < 0 || res->create[1] < 0)
			_exit(5);
		errseq_slot_close(s[0]);
		res->unlink_one = errseq_slot_unlink(c[0], "lim.0");
		res->create_after = errseq_slot_open(c[0], "lim.2",
				ERRSEQ_CREATE | ERRSEQ_EXCL, &s[2]);
		/* 2 holds now (lim.1, lim.2); 2 more on another
		 * connection, then the fifth is refused */
		res->holds[0] = errseq_slot_open(c[1], "lim.1", 0, &s[3]);
		res->holds[1] = errseq_slot_open(c[1], "lim.2", 0, &s[4]);
		res->holds[2] = errseq_slot_open(c[2], "lim.1", 0, &s[5]);
		res->status_rc = errseq_status(c[2], &res->st);
		(void)!write(up[1], "u", 1);
		(void)!read_full(go[0], &b, 1, -1);
		_exit(0);
	}
	ck_assert(read_full(up[0], &b, 1, 30000));
	for (int i = 0; i < 3; i++)
		ck_assert_msg(res->conns[i] == 0, "nobody's connection %d: %d",
			      i, res->conns[i]);
	ck_assert_int_eq(res->conns[3], -EUSERS);
	/* root is exempt */
	ck_assert_int_eq(errseq_client_open(d.sock, &rc), 0);
	for (int i = 0; i < 3; i++) {
		char name[16];

		snprintf(name, sizeof(name), "root.%d", i);
		ck_assert_int_eq(errseq_slot_open(rc, name, ERRSEQ_CREATE,
						  &rs[i]), 0);
	}
	ck_assert(write_full(go[1], &b, 1));
	ck_assert(read_full(up[0], &b, 1, 30000));
	ck_assert_int_eq(res->create[0], 0);
	ck_assert_int_eq(res->create[1], 0);
	ck_assert_int_eq(res->create[2], -EDQUOT);
	ck_assert_int_eq(res->unlink_one, 0);
	ck_assert_int_eq(res->create_after, 0);
	ck_assert_int_eq(res->holds[0], 0);
	ck_assert_int_eq(res->holds[1], 0);
	ck_assert_int_eq(res->holds[2], -EMFILE);
	ck_assert_int_eq(res->status_rc, 0);
	ck_assert_uint_eq(res->st.uid_clients, 3);
	ck_assert_uint_eq(res->st.max_uid_clients, 3);
	ck_assert_uint_eq(res->st.uid_slots, 2);
	ck_assert_uint_eq(res->st.max_uid_slots, 2);
	ck_assert_uint_eq(res->st.uid_holds, 4);
	ck_assert_uint_eq(res->st.max_uid_holds, 4);
	ck_assert(write_full(go[1], &b, 1));
	ck_assert_int_eq(reap(pid), 0);

	/* a connection that never says HELLO is closed by the daemon */
	fd = raw_dial(d.sock);
	ck_assert_int_ge(fd, 0);
	{
		struct pollfd pf = { fd, POLLIN, 0 };

		/* the bound ends a hang; the daemon's timeout is 300 ms */
		ck_assert_int_eq(poll(&pf, 1, 30000), 1);
		n = (int)recv(fd, buf, sizeof(buf), 0);
		ck_assert_msg(n == 0, "recv after the HELLO timeout: %d", n);
	}
	close(fd);
	ck_assert_msg(log_has(&d, "no HELLO within 300 ms"),
		      "the HELLO timeout is not logged");
	errseq_client_close(rc);
	munmap(res, sizeof(*res));
	finish(&d);
}
END_TEST

/* ------------------------------------------------------------------ */
/* writer groups                                                      */
/* ------------------------------------------------------------------ */

struct group_res {
	int create, writable, not_member, set, peek_changed;
	int info_rc, info_writable;
	uint32_t info_gid;
};

/* As @uid with supplementary @group (or none): create (if @create) or
 * open grp.a, and try to set it. */
static void group_child(struct group_res *r, const char *sock, uid_t uid,
			gid_t group, bool create)
{
	struct errseq_slot_attr attr = { ERRSEQ_ATTR_WRITERS_GROUP, WGROUP };
	struct errseq_slot_attr other = { ERRSEQ_ATTR_WRITERS_GROUP,
					  NOTGROUP };
	struct errseq_slot_info info;
	struct errseq_client *c;
	struct errseq_slot *s, *x;
	errseq_t before;

	become(uid, uid, &group, group ? 1 : 0);
	if (errseq_client_open(sock, &c) < 0)
		_exit(4);
	if (create) {
		r->not_member = errseq_slot_open_attr(c, "grp.x",
			ERRSEQ_CREATE, &other, &x);
		r->create = errseq_slot_open_attr(c, "grp.a", ERRSEQ_CREATE |
						  ERRSEQ_EXCL, &attr, &s);
	} else {
		r->create = errseq_slot_open(c, "grp.a", 0, &s);
	}
	if (r->create < 0)
		_exit(0);
	r->writable = errseq_slot_writable(s);
	before = errseq_slot_peek(s);
	r->set = errseq_slot_set(s, create ? -ENOSPC : -EIO);
	r->peek_changed = errseq_slot_peek(s) != before;
	r->info_rc = errseq_stat(c, "grp.a", &info);
	r->info_writable = info.writable;
	r->info_gid = info.writers_gid;
	errseq_client_close(c);
	_exit(0);
}

START_TEST(writer_groups)
{
	struct esdt_daemon d;
	struct group_res *r = shared(3 * sizeof(*r));
	struct errseq_client *c;
	struct errseq_slot_info info;
	const uid_t uids[3] = { OTHER, NOBODY, THIRD };
	const gid_t groups[3] = { WGROUP, WGROUP, 0 };

	start(&d, open_mode_nopersist);
	for (int i = 0; i < 3; i++) {
		pid_t pid = sec_fork();

		if (pid == 0)
			group_child(&r[i], d.sock, uids[i], groups[i], i == 0);
		ck_assert_int_eq(reap(pid), 0);
	}
	/* the creator: a member of the group; not of another */
	ck_assert_int_eq(r[0].not_member, -EPERM);
	ck_assert_int_eq(r[0].create, 0);
	ck_assert_int_eq(r[0].writable, 1);
	ck_assert_int_eq(r[0].set, 0);
	/* a member: may write */
	ck_assert_int_eq(r[1].create, 0);
	ck_assert_int_eq(r[1].writable, 1);
	ck_assert_int_eq(r[1].set, 0);
	ck_assert_int_eq(r[1].peek_changed, 1);
	ck_assert_int_eq(r[1].info_rc, 0);
	ck_assert_int_eq(r[1].info_writable, 1);
	ck_assert_uint_eq(r[1].info_gid, WGROUP);
	/* anyone else: may watch, not write */
	ck_assert_int_eq(r[2].create, 0);
	ck_assert_int_eq(r[2].writable, 0);
	ck_assert_int_eq(r[2].set, -EPERM);
	ck_assert_int_eq(r[2].peek_changed, 0);
	ck_assert_int_eq(r[2].info_writable, 0);

	ck_assert_int_eq(errseq_client_open(d.sock, &c), 0);
	ck_assert_int_eq(errseq_stat(c, "grp.a", &info), 0);
	ck_assert_uint_eq(info.creator_uid, OTHER);
	ck_assert_uint_eq(info.writers_gid, WGROUP);
	ck_assert_int_eq(-(int)(info.value & ERRSEQ_MAX_ERRNO), -EIO);
	ck_assert_uint_eq(info.sets_total, 2);
	ck_assert_int_eq(errseq_stat(c, "grp.x", &info), -ENOENT);
	errseq_client_close(c);
	munmap(r, 3 * sizeof(*r));
	finish(&d);
}
END_TEST

/* ------------------------------------------------------------------ */
/* crash repair from the private record                               */
/* ------------------------------------------------------------------ */

struct repair_res {
	uint32_t gen;
	errseq_t value;
	int stale_after;	/* the library handle after the scribble */
};

START_TEST(repair_restores_a_scribbled_word)
{
	struct esdt_daemon d;
	struct repair_res *res = shared(sizeof(*res));
	struct errseq_client *c;
	struct errseq_slot *s;
	struct errseq_slot_info info;
	pid_t pid;

	start(&d, open_mode);
	pid = sec_fork();
	if (pid == 0) {
		struct errseq_client *wc;
		struct errseq_slot *ws;
		struct esp_open_rep rep;
		struct esd_slot *base;
		uint64_t w;
		int fd, chunk;

		become(NOBODY, NOBODY, NULL, 0);
		if (errseq_client_open(d.sock, &wc) < 0 ||
		    errseq_slot_open(wc, "rep.a", ERRSEQ_CREATE, &ws) < 0 ||
		    errseq_slot_set(ws, -EIO) < 0)
			_exit(4);
		fd = raw_dial(d.sock);
		if (fd < 0 || raw_hello(fd, NULL) < 0 ||
		    raw_open(fd, "rep.a", 0, 0, &rep, &chunk, NULL) < 0 ||
		    chunk < 0 || !(base = map_chunk(chunk, true)))
			_exit(5);
		w = __atomic_load_n(&base[ESD_INDEX_SLOT(rep.index)].word,
				    __ATOMIC_SEQ_CST);
		res->gen = ESD_WORD_GEN(w);
		res->value = ESD_WORD_VAL(w);
		/* what a delete would have stored: gen + 1 */
		__atomic_store_n(&base[ESD_INDEX_SLOT(rep.index)].word,
				 ESD_WORD(ESD_WORD_GEN(w) + 1, ESD_WORD_VAL(w)),
				 __ATOMIC_SEQ_CST);
		res->stale_after = errseq_slot_check(ws, 0);
		_exit(0);
	}
	ck_assert_int_eq(reap(pid), 0);
	ck_assert_int_eq(res->stale_after, ERRSEQ_ESTALE);
	ck_assert_int_eq(-(int)(res->value & ERRSEQ_MAX_ERRNO), -EIO);

	ck_assert_int_eq(WTERMSIG(esdt_daemon_stop(&d, SIGKILL)), SIGKILL);
	restart(&d, open_mode);
	ck_assert_int_eq(errseq_client_open(d.sock, &c), 0);
	ck_assert_int_eq(errseq_stat(c, "rep.a", &info), 0);
	ck_assert_uint_eq(info.generation, res->gen);
	ck_assert_uint_eq(info.value, res->value);
	ck_assert_uint_eq(info.creator_uid, NOBODY);
	ck_assert_msg(log_has(&d, "restoring the word"),
		      "the restart did not log the restored word");
	ck_assert_int_eq(errseq_slot_open(c, "rep.a", 0, &s), 0);
	ck_assert_int_eq(errseq_slot_check(s, 0), -EIO);
	ck_assert_int_eq(errseq_slot_set(s, -ENOSPC), 0);
	ck_assert_int_eq(errseq_slot_check(s, res->value), -ENOSPC);
	errseq_client_close(c);
	munmap(res, sizeof(*res));
	finish(&d);
}
END_TEST

int main(void)
{
	struct {
		const char *name;
		const TTest *test;
		int timeout;
		void (*teardown)(void);
	} cases[] = {
		{ "hostile", hostile_client_cannot_disturb_root, 300, sweep },
		{ "story", story_read_only_supervisors, 300, sweep },
		{ "seen", ro_report_marks_seen_first, 120, sweep },
		{ "squat", squatted_names_do_not_stop_the_daemon, 120,
		  squat_teardown },
		{ "tmp", tmp_fallback_squatted_is_refused, 120,
		  tmp_teardown },
		{ "peer", daemon_of_untrusted_uid_is_refused, 120,
		  tmp_teardown },
		{ "waiters", zeroed_waiters_lose_no_wakeup, 120, sweep },
		{ "recreate", recreate_under_a_scribbler_never_hangs, 120,
		  sweep },
		{ "limits", per_uid_limits, 120, sweep },
		{ "groups", writer_groups, 120, sweep },
		{ "repair", repair_restores_a_scribbled_word, 120, sweep },
	};
	Suite *s;
	SRunner *sr;
	int failed;

	if (geteuid() != 0) {
		printf("test_security: needs root (the daemon runs as root, "
		       "its clients as other uids): skipped\n");
		return 77;
	}
	s = suite_create("security");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		TCase *tc = tcase_create(cases[i].name);

		tcase_set_timeout(tc, cases[i].timeout);
		tcase_add_unchecked_fixture(tc, sweep, cases[i].teardown);
		tcase_add_test(tc, cases[i].test);
		suite_add_tcase(s, tc);
	}
	sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
