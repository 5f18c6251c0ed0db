/*
 * preload.c - liberrseq-preload.so: record the write-back errors that
 * unmodified programs meet (and often swallow) in errseqd slots.
 *
 * Loaded with LD_PRELOAD (errseq-run(1) does it), it interposes fsync,
 * fdatasync, sync_file_range, syncfs, msync, close, write, pwrite, writev,
 * pwritev, pwritev2 and their 64-bit variants.  Each interposer calls the
 * real function (found with dlsym(RTLD_NEXT)) and returns exactly what it
 * returned, errno included.  Only when that result is a failure with a
 * storage errno (esp_is_storage_errno) does it record the error in a slot,
 * through the public liberrseq-client API:
 *
 *   - the success path is one compare of the return value: no syscall, no
 *     lock, no daemon, no state;
 *   - the error path connects to errseqd, opens (creating) the slot, sets
 *     the error and disconnects.  No descriptor outlives the call, so a
 *     program that closes or dup2()s over every fd cannot hurt us, and
 *     fork and exec need no care (the environment carries LD_PRELOAD and
 *     the settings to children);
 *   - a thread-local guard makes every call made while recording (the
 *     client library's own close() and write(), ...) go straight to the
 *     real function;
 *   - one errno in one slot within ERRSEQ_PRELOAD_WINDOW_MS is one error,
 *     recorded once however many processes (or fds, or files) meet it:
 *     see esp_dedup_claim() (policy.c), doc/preload.md, errseq-preload(7).
 *
 * Settings, all read on the error path only (secure_getenv):
 *   ERRSEQ_PRELOAD_SLOT       a fixed slot for every error
 *   ERRSEQ_PRELOAD_MAP        "PREFIX=SLOT;PREFIX=SLOT..." path prefixes
 *   ERRSEQ_PRELOAD_MAP_FILE   a file of PREFIX=SLOT lines
 *   ERRSEQ_PRELOAD_WINDOW_MS  the one-error window (default 5000, 0: off)
 *   ERRSEQ_PRELOAD_VERBOSE    say once on stderr why an error was not
 *                             recorded
 *   ERRSEQD_SOCKET            the daemon's socket (liberrseq-client)
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <errseq/client.h>

#include "preload/preload.h"

#define EXPORT __attribute__((visibility("default")))

/* Set while this thread records: calls made meanwhile are passed through. */
static __thread int in_preload __attribute__((tls_model("initial-exec")));

/* ---- the real functions ---------------------------------------------- */

/*
 * Each real_X starts out pointing at first_X, which looks up the next X
 * (RTLD_NEXT), stores it and calls it; from then on real_X is the libc
 * function itself.  So an interposer is: one indirect call, one compare.
 */
static void *lookup(const char *name)
{
	void *p = dlsym(RTLD_NEXT, name);

	/* libc itself ahead of us in LD_PRELOAD ("libc.so.6 ours.so"): the
	 * next definition is behind us, ask libc directly. */
	if (p == NULL) {
		void *libc = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);

		if (libc != NULL) {
			p = dlsym(libc, name);
			dlclose(libc);
		}
	}
	if (p == NULL) {
		static const char msg[] =
			"liberrseq-preload: a libc function is missing\n";
		/* Not recoverable: there is nothing to call. */
		(void)!syscall(SYS_write, 2, msg, sizeof(msg) - 1);
		abort();
	}
	return p;
}

#define REAL(ret, name, params, args)					\
	static ret first_##name params;					\
	static ret (*real_##name) params = first_##name;		\
	static ret first_##name params					\
	{								\
		ret (*p) params = (ret (*) params)lookup(#name);	\
		__atomic_store_n(&real_##name, p, __ATOMIC_RELAXED);	\
		return p args;						\
	}

REAL(int, fsync, (int fd), (fd))
REAL(int, fdatasync, (int fd), (fd))
REAL(int, sync_file_range, (int fd, off64_t off, off64_t n, unsigned fl),
     (fd, off, n, fl))
REAL(int, syncfs, (int fd), (fd))
REAL(int, msync, (void *addr, size_t len, int fl), (addr, len, fl))
REAL(int, close, (int fd), (fd))
REAL(ssize_t, write, (int fd, const void *b, size_t n), (fd, b, n))
REAL(ssize_t, pwrite, (int fd, const void *b, size_t n, off_t o),
     (fd, b, n, o))
REAL(ssize_t, pwrite64, (int fd, const void *b, size_t n, off64_t o),
     (fd, b, n, o))
REAL(ssize_t, writev, (int fd, const struct iovec *v, int c), (fd, v, c))
REAL(ssize_t, pwritev, (int fd, const struct iovec *v, int c, off_t o),
     (fd, v, c, o))
REAL(ssize_t, pwritev64, (int fd, const struct iovec *v, int c, off64_t o),
     (fd, v, c, o))
REAL(ssize_t, pwritev2,
     (int fd, const struct iovec *v, int c, off_t o, int f), (fd, v, c, o, f))
REAL(ssize_t, pwritev64v2,
     (int fd, const struct iovec *v, int c, off64_t o, int f),
     (fd, v, c, o, f))

#define CALL(name) (__atomic_load_n(&real_##name, __ATOMIC_RELAXED))

#define RESOLVE(name) \
	__atomic_store_n(&real_##name, (__typeof__(real_##name))lookup(#name), \
			 __ATOMIC_RELAXED)

/* Resolve everything at load time, so that the lookup (dlsym is not
 * async-signal-safe) only happens for calls made before this runs, by
 * other libraries' constructors. */
__attribute__((constructor)) static void resolve_all(void)
{
	RESOLVE(fsync);
	RESOLVE(fdatasync);
	RESOLVE(sync_file_range);
	RESOLVE(syncfs);
	RESOLVE(msync);
	RESOLVE(close);
	RESOLVE(write);
	RESOLVE(pwrite);
	RESOLVE(pwrite64);
	RESOLVE(writev);
	RESOLVE(pwritev);
	RESOLVE(pwritev64);
	RESOLVE(pwritev2);
	RESOLVE(pwritev64v2);
}

/* ---- saying things once ---------------------------------------------- */

static int verbose(void)
{
	const char *v = secure_getenv("ERRSEQ_PRELOAD_VERBOSE");

	return v != NULL && v[0] != '\0' && strcmp(v, "0") != 0;
}

/* Print once per process (and its forks) per @flag, only when verbose. */
static void say_once(int *flag, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	if (!verbose() || __atomic_exchange_n(flag, 1, __ATOMIC_RELAXED))
		return;
	n = snprintf(buf, sizeof(buf), "liberrseq-preload[%ld]: ",
		     (long)getpid());
	va_start(ap, fmt);
	n += vsnprintf(buf + n, sizeof(buf) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 2)
		n = (int)sizeof(buf) - 2;
	buf[n++] = '\n';
	(void)!CALL(write)(2, buf, (size_t)n);
}

static int said_unreachable, said_eperm, said_badslot, said_fail;

/* ---- where the error came from --------------------------------------- */

struct origin {
	int known;		/* dev is meaningful */
	dev_t dev;		/* the file system (or block device) */
	char path[PATH_MAX];	/* "" if unknown */
};

static void fd_path(int fd, char *out, size_t len)
{
	char link[64];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, out, len - 1);
	out[n > 0 ? n : 0] = '\0';
}

/* An fd: its file system, from fstat (a block device: the device itself). */
static int origin_fd(int fd, int whole_fs, struct origin *o)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -1;
	if (whole_fs) {
		o->dev = st.st_dev;
	} else if (S_ISBLK(st.st_mode)) {
		o->dev = st.st_rdev;
	} else if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) {
		o->dev = st.st_dev;
	} else {
		return -1;	/* a pipe, socket, tty...: not storage */
	}
	o->known = 1;
	fd_path(fd, o->path, sizeof(o->path));
	return 0;
}

/*
 * msync: the mapping that holds @addr, from /proc/self/maps (its device,
 * inode and path).  Read with plain open/read: no stdio, no allocation.
 */
static int origin_addr(const void *addr, struct origin *o)
{
	char buf[8192], line[PATH_MAX + 256];
	size_t ll = 0;
	ssize_t n;
	int fd, found = -1;

	fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	while (found < 0 && (n = read(fd, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < n && found < 0; i++) {
			unsigned long lo, hi, maj, min, ino;
			int pos = 0;

			if (buf[i] != '\n') {
				if (ll < sizeof(line) - 1)
					line[ll++] = buf[i];
				continue;
			}
			line[ll] = '\0';
			ll = 0;
			if (sscanf(line, "%lx-%lx %*s %*s %lx:%lx %lu %n",
				   &lo, &hi, &maj, &min, &ino, &pos) < 5)
				continue;
			if ((uintptr_t)addr < lo || (uintptr_t)addr >= hi)
				continue;
			if (ino == 0)
				break;	/* anonymous: no file behind it */
			o->dev = makedev(maj, min);
			o->known = 1;
			snprintf(o->path, sizeof(o->path), "%s",
				 pos > 0 ? line + pos : "");
			found = 0;
		}
	}
	CALL(close)(fd);
	return found;
}

/* ---- which slot ------------------------------------------------------ */

/* The slot for an error of origin @o (@o->known 0: close(), unknown). */
static void choose_slot(const struct origin *o, char *slot)
{
	const char *fixed = secure_getenv("ERRSEQ_PRELOAD_SLOT");

	if (fixed != NULL && fixed[0] != '\0') {
		if (esp_valid_slot_name(fixed)) {
			strcpy(slot, fixed);
			return;
		}
		say_once(&said_badslot, "ERRSEQ_PRELOAD_SLOT is not a valid "
			 "slot name; using the per-device slots");
	}
	if (o->path[0] != '\0' &&
	    esp_map_lookup(secure_getenv("ERRSEQ_PRELOAD_MAP"),
			   secure_getenv("ERRSEQ_PRELOAD_MAP_FILE"), o->path,
			   slot))
		return;
	if (o->known)
		esp_dev_slot(o->dev, slot, ERRSEQ_NAME_MAX + 1);
	else
		strcpy(slot, "dev/unknown");
}

/* ---- one error, however many processes meet it ----------------------- */

/*
 * The one-error table: ESP_DEDUP_ENTRIES words in a POSIX shared memory
 * object private to the effective uid, /errseq-preload-UID.  A word holds
 * a 32-bit hash of (daemon socket, slot, errno) and the
 * CLOCK_MONOTONIC millisecond (mod 2^32) of its first recording.  Mapped on the first error
 * and kept mapped (a mapping is not an fd: closing fds cannot break it,
 * fork shares it, exec drops it).
 */
static uint64_t *dedup_table;

static uint64_t *dedup_map(void)
{
	char name[64];
	struct stat st;
	uint64_t *t = __atomic_load_n(&dedup_table, __ATOMIC_ACQUIRE);
	void *m;
	int fd;

	if (t != NULL)
		return t;
	snprintf(name, sizeof(name), "/errseq-preload-%u",
		 (unsigned)geteuid());
	fd = shm_open(name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return NULL;
	/* Someone else's object (shm is world-writable, sticky): not ours
	 * to trust.  Then no table, and nothing is suppressed. */
	if (fstat(fd, &st) < 0 || st.st_uid != geteuid() ||
	    (st.st_mode & 077) != 0 || !S_ISREG(st.st_mode) ||
	    (st.st_size < ESP_DEDUP_BYTES &&
	     ftruncate(fd, ESP_DEDUP_BYTES) < 0)) {
		CALL(close)(fd);
		return NULL;
	}
	m = mmap(NULL, ESP_DEDUP_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED,
		 fd, 0);
	CALL(close)(fd);
	if (m == MAP_FAILED)
		return NULL;
	t = NULL;
	if (!__atomic_compare_exchange_n(&dedup_table, &t, (uint64_t *)m, 0,
					 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		munmap(m, ESP_DEDUP_BYTES);	/* another thread won */
		return t;
	}
	return m;
}

static uint32_t window_ms(void)
{
	const char *v = secure_getenv("ERRSEQ_PRELOAD_WINDOW_MS");
	char *end;
	unsigned long ms;

	if (v == NULL || v[0] == '\0')
		return ESP_DEFAULT_WINDOW_MS;
	errno = 0;
	ms = strtoul(v, &end, 10);
	if (errno != 0 || *end != '\0' || v[0] == '-' || ms > 86400000ul)
		return ESP_DEFAULT_WINDOW_MS;
	return (uint32_t)ms;
}

static uint32_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint32_t)((uint64_t)ts.tv_sec * 1000u +
			  (uint64_t)ts.tv_nsec / 1000000u);
}

/* ---- recording ------------------------------------------------------- */

/* Record -@err in @slot; returns 0 or the library's negative code. */
static int record_in(const char *slot, int err)
{
	struct errseq_client *c;
	struct errseq_slot *s;
	int r;

	r = errseq_client_open(NULL, &c);
	if (r < 0) {
		say_once(&said_unreachable, "errseqd is not reachable (%s): "
			 "write-back errors are not recorded",
			 errseq_strerror(r));
		return r;
	}
	r = errseq_slot_open(c, slot, ERRSEQ_CREATE, &s);
	if (r == 0) {
		r = errseq_slot_set(s, -err);
		errseq_slot_close(s);
	}
	errseq_client_close(c);
	if (r == -EPERM || r == -EACCES)
		say_once(&said_eperm, "not allowed to record in slot %s (%s): "
			 "ask the operator to create it with a writers group "
			 "that includes this user", slot, errseq_strerror(r));
	else if (r < 0)
		say_once(&said_fail, "cannot record in slot %s: %s", slot,
			 errseq_strerror(r));
	return r;
}

enum esp_what { ON_FD, ON_FS, ON_ADDR, ON_CLOSE };

/* The error path of every interposer.  Keeps errno as it found it. */
static __attribute__((noinline, cold)) void
on_error(enum esp_what what, int fd, const void *addr)
{
	int err = errno;
	struct origin o;
	char slot[ERRSEQ_NAME_MAX + 1], sock[PATH_MAX];
	uint64_t *table, claimed = 0, prev = 0;
	uint32_t key, win;
	int mine = 1;

	if (in_preload || !esp_is_storage_errno(err))
		return;
	in_preload = 1;
	memset(&o, 0, sizeof(o));
	if (what == ON_FD || what == ON_FS) {
		if (origin_fd(fd, what == ON_FS, &o) < 0)
			goto out;
	} else if (what == ON_ADDR) {
		if (origin_addr(addr, &o) < 0)
			o.known = 0;
	}
	choose_slot(&o, slot);

	win = window_ms();
	if (errseq_default_socket(sock, sizeof(sock)) < 0)
		sock[0] = '\0';
	key = esp_key(sock, slot, err);
	table = win > 0 ? dedup_map() : NULL;
	if (table != NULL)
		mine = esp_dedup_claim(table, key, now_ms(), win, &claimed,
				       &prev);
	if (mine && record_in(slot, err) < 0 && table != NULL)
		esp_dedup_release(table, key, claimed, prev);
out:
	in_preload = 0;
	errno = err;
}

/* ---- the interposers ------------------------------------------------- */

#define UNLIKELY(x) __builtin_expect(!!(x), 0)

EXPORT int fsync(int fd)
{
	int r = CALL(fsync)(fd);

	if (UNLIKELY(r < 0))
		on_error(ON_FD, fd, NULL);
	return r;
}

EXPORT int fdatasync(int fd)
{
	int r = CALL(fdatasync)(fd);

	if (UNLIKELY(r < 0))
		on_error(ON_FD, fd, NULL);
	return r;
}

EXPORT int sync_file_range(int fd, off64_t off, off64_t n, unsigned fl)
{
	int r = CALL(sync_file_range)(fd, off, n, fl);

	if (UNLIKELY(r < 0))
		on_error(ON_FD, fd, NULL);
	return r;
}

EXPORT int syncfs(int fd)
{
	int r = CALL(syncfs)(fd);

	if (UNLIKELY(r < 0))
		on_error(ON_FS, fd, NULL);
	return r;
}

EXPORT int msync(void *addr, size_t len, int fl)
{
	int r = CALL(msync)(addr, len, fl);

	if (UNLIKELY(r < 0))
		on_error(ON_ADDR, -1, addr);
	return r;
}

EXPORT int close(int fd)
{
	int r = CALL(close)(fd);

	if (UNLIKELY(r < 0))
		on_error(ON_CLOSE, fd, NULL);
	return r;
}

EXPORT ssize_t write(int fd, const void *b, size_t n)
{
	ssize_t r = CALL(write)(fd, b, n);

	if (UNLIKELY(r < 0))
		on_error(ON_FD, fd, NULL);
	return r;
}

EXPORT ssize_t pwrite(int fd, const void *b, size_t n, off_t o)
{
	ssize_t r = CALL(pwrite)(fd, b, n, o);

	if (UNLIKELY(r < 0))
		on_error(ON_FD, fd, NULL);
	return r;
}

EXPORT ssize_t pwrite64(int fd, const void *b, size_t n, off64_t o)
{
	ssize_t r = CALL(pwrite64)(fd, b, n, o);

	if (UNLIKELY(r < 0))
		on_error(ON_FD, fd, NULL);
	return r;
}

EXPORT ssize_t writev(int fd, const struct iovec *v, int c)
{
	ssize_t r = CALL(writev)(fd, v, c);

	if (UNLIKELY(r < 0))
		on_error(ON_FD, fd, NULL);
	return r;
}

EXPORT ssize_t pwritev(int fd, const struct iovec *v, int c, off_t o)
{
	ssize_t r = CALL(pwritev)(fd, v, c, o);

	if (UNLIKELY(r < 0))
		on_error(ON_FD, fd, NULL);
	return r;
}

EXPORT ssize_t pwritev64(int fd, const struct iovec *v, int c, off64_t o)
{
	ssize_t r = CALL(pwritev64)(fd, v, c, o);

	if (UNLIKELY(r < 0))
		on_error(ON_FD, fd, NULL);
	return r;
}

EXPORT ssize_t pwritev2(int fd, const struct iovec *v, int c, off_t o, int f)
{
	ssize_t r = CALL(pwritev2)(fd, v, c, o, f);

	if (UNLIKELY(r < 0))
		on_error(ON_FD, fd, NULL);
	return r;
}

EXPORT ssize_t pwritev64v2(int fd, const struct iovec *v, int c, off64_t o,
			   int f)
{
	ssize_t r = CALL(pwritev64v2)(fd, v, c, o, f);

	if (UNLIKELY(r < 0))
		on_error(ON_FD, fd, NULL);
	return r;
}
