/*
 * test_client.c - liberrseq-client's suite (Check), against the real errseqd
 * started through tests/harness.h on a temporary socket and shm name.
 *
 * Every case starts its own daemon (up()), so no case sees another's slots.
 * Multi-process cases fork real processes ("kids"); a kid never touches
 * Check: it reports through its exit status (0 = fine; else a message on
 * stderr naming the failed condition) and always leaves with _exit(), so
 * it never runs the harness's atexit cleanup (which would kill the daemon).
 * Kids get PR_SET_PDEATHSIG(SIGKILL), and teardown kills any still alive.
 *
 * Waiting is always bounded (a lost wake-up fails a case as -ETIMEDOUT
 * instead of hanging it) and no case asserts on elapsed time.  Where a case
 * needs a process to be asleep in errseq_slot_wait before it acts, it reads
 * the slot's `waiters` counter from its own read-only mapping of the data
 * segment, instead of sleeping and hoping.
 *
 * A part of the suite needs no daemon (strerror, default socket, refusals
 * of client_open, a fake daemon for protocol violations).
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <grp.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/protocol.h"
#include "common/shm_layout.h"
#include "errseq/client.h"
#include "tests/harness.h"

#ifndef LONG_MS
#define LONG_MS		60000	/* "forever" for a bounded wait */
#endif
#define MAX_KIDS	128

static struct esdt_daemon D;
static bool D_up;
static struct errseq_client *C;
static pid_t kids[MAX_KIDS];
static void *seg_map;		/* our read-only view of the data segment */
static size_t seg_len;

/* ---------------------------------------------------------------- helpers */

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void nap_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Map the data segment read-only, to watch waiters and statistics. */
static void map_segment(void)
{
	struct errseq_daemon_status st;
	int fd;

	ck_assert_int_eq(errseq_status(C, &st), 0);
	fd = shm_open(D.shm, O_RDONLY, 0);
	ck_assert_int_ge(fd, 0);
	seg_len = (size_t)st.segment_bytes;
	seg_map = mmap(NULL, seg_len, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	ck_assert_ptr_ne(seg_map, MAP_FAILED);
}

static const struct esd_slot *seg_slot(uint32_t index)
{
	if (!seg_map)
		map_segment();
	return esd_seg_slot(seg_map, index);
}

static uint32_t slot_index(struct errseq_slot *s)
{
	struct errseq_slot_info info;

	ck_assert_int_eq(errseq_stat(C, errseq_slot_name(s), &info), 0);
	return info.index;
}

/* Start a daemon with @slots slots and @extra arguments, and open C. */
static void up(unsigned slots, const char *const *extra)
{
	char log[2048];
	int r;

	r = esdt_daemon_start(&D, slots, extra);
	if (r != 0) {
		esdt_read_log(&D, log, sizeof(log));
		ck_abort_msg("errseqd did not start (%d): %s", r, log);
	}
	D_up = true;
	ck_assert_int_eq(errseq_client_open(D.sock, &C), 0);
}

static void setup(void)
{
	esdt_sweep();
	D_up = false;
	C = NULL;
	seg_map = NULL;
	memset(kids, 0, sizeof(kids));
}

static void teardown(void)
{
	for (int i = 0; i < MAX_KIDS; i++)
		if (kids[i] > 0) {
			kill(kids[i], SIGKILL);
			waitpid(kids[i], NULL, 0);
			kids[i] = 0;
		}
	errseq_client_close(C);
	C = NULL;
	if (seg_map)
		munmap(seg_map, seg_len);
	seg_map = NULL;
	if (D_up)
		esdt_daemon_cleanup(&D);
	D_up = false;
}

/* Fork a kid running @fn(@arg); its return value is its exit status. */
static pid_t kid(int (*fn)(void *), void *arg)
{
	pid_t parent = getpid();
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(120);
		_exit(fn(arg));
	}
	for (int i = 0; i < MAX_KIDS; i++)
		if (kids[i] == 0) {
			kids[i] = pid;
			return pid;
		}
	ck_abort_msg("too many kids");
	return -1;
}

/* Reap @pid; its exit code, or 128 + signal. */
static int reap(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -errno;
	for (int i = 0; i < MAX_KIDS; i++)
		if (kids[i] == pid)
			kids[i] = 0;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* In a kid: fail with a message and a non-zero status. */
#define KID_REQUIRE(cond)						\
	do {								\
		if (!(cond)) {						\
			fprintf(stderr, "kid %d: %s:%d: %s\n",		\
				(int)getpid(), __FILE__, __LINE__, #cond); \
			_exit(1);					\
		}							\
	} while (0)

#define KID_EQ(a, b)							\
	do {								\
		long long a_ = (long long)(a), b_ = (long long)(b);	\
		if (a_ != b_) {						\
			fprintf(stderr, "kid %d: %s:%d: %s == %lld, "	\
				"expected %s == %lld\n", (int)getpid(),	\
				__FILE__, __LINE__, #a, a_, #b, b_);	\
			_exit(1);					\
		}							\
	} while (0)

/* A kid's own client on D (the inherited C answers ERRSEQ_EFORKED). */
static struct errseq_client *kid_client(void)
{
	struct errseq_client *c = NULL;

	KID_EQ(errseq_client_open(D.sock, &c), 0);
	return c;
}

static void put_byte(int fd)
{
	char b = 1;

	while (write(fd, &b, 1) < 0 && errno == EINTR)
		;
}

/* Read one byte within @ms; 0 or -ETIMEDOUT / -EPIPE. */
static int get_byte(int fd, int ms)
{
	struct pollfd p = { fd, POLLIN, 0 };
	char b;

	if (poll(&p, 1, ms) <= 0)
		return -ETIMEDOUT;
	return read(fd, &b, 1) == 1 ? 0 : -EPIPE;
}

/* Wait until slot @index has a sleeper (or @ms pass): true if it does. */
static bool await_waiter(uint32_t index, int ms)
{
	int64_t end = mono_ms() + ms;

	while (__atomic_load_n(&seg_slot(index)->waiters, __ATOMIC_SEQ_CST) ==
	       0) {
		if (mono_ms() > end)
			return false;
		nap_ms(1);
	}
	return true;
}

/* Retry errseq_status until the client is connected again. */
static void await_reconnect(struct errseq_client *c)
{
	struct errseq_daemon_status st;
	int64_t end = mono_ms() + LONG_MS;
	int r;

	while ((r = errseq_status(c, &st)) == -ENOTCONN && mono_ms() < end)
		nap_ms(20);
	ck_assert_int_eq(r, 0);
}

/* Poll errseq_stat until @name has @holders holders. */
static void await_holders(const char *name, uint32_t holders)
{
	struct errseq_slot_info info;
	int64_t end = mono_ms() + LONG_MS;
	int r;

	for (;;) {
		r = errseq_stat(C, name, &info);
		if (r == 0 && info.holders == holders)
			return;
		if (mono_ms() > end)
			break;
		nap_ms(20);
	}
	ck_assert_int_eq(r, 0);
	ck_assert_uint_eq(info.holders, holders);
}

/*
 * A thread sleeping in errseq_slot_wait (or errseq_cursor_wait with @cur)
 * with no timeout, so that only a wake-up can end it: the library's own
 * last look at a timeout would hide a lost FUTEX_WAKE.
 */
struct sleeper {
	struct errseq_slot *s;
	struct errseq_cursor *cur;
	errseq_t since;
	int r;
	pthread_t t;
};

static void *sleeper_main(void *arg)
{
	struct sleeper *w = arg;

	w->r = w->cur ? errseq_cursor_wait(w->cur, -1) :
			errseq_slot_wait(w->s, w->since, -1);
	return NULL;
}

static void sleeper_start(struct sleeper *w)
{
	w->r = 1;
	ck_assert_int_eq(pthread_create(&w->t, NULL, sleeper_main, w), 0);
}

/* Join the sleeper; fail if it is not woken within LONG_MS. */
static int sleeper_join(struct sleeper *w)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += LONG_MS / 1000;
	ck_assert_msg(pthread_timedjoin_np(w->t, NULL, &ts) == 0,
		      "the sleeper was never woken");
	return w->r;
}

static struct errseq_slot *must_open(const char *name, unsigned flags)
{
	struct errseq_slot *s = NULL;

	ck_assert_int_eq(errseq_slot_open(C, name, flags, &s), 0);
	ck_assert_ptr_nonnull(s);
	return s;
}

/* ------------------------------------------------- no daemon needed */

START_TEST(client_strerror_codes)
{
	ck_assert_str_eq(errseq_strerror(ERRSEQ_ESTALE),
			 "stale slot: it was deleted or the segment replaced; "
			 "reopen it by name");
	ck_assert_ptr_nonnull(strstr(errseq_strerror(ERRSEQ_EFORKED),
				     "fork"));
	ck_assert_ptr_nonnull(strstr(errseq_strerror(ERRSEQ_EPROTO),
				     "protocol"));
	ck_assert_str_eq(errseq_strerror(-EIO), "Input/output error");
	ck_assert_str_eq(errseq_strerror(EIO), "Input/output error");
	ck_assert_str_eq(errseq_strerror(-ENOSPC), "No space left on device");
	ck_assert_str_eq(errseq_strerror(0), "success");
	ck_assert_str_eq(errseq_strerror(-4000), "unknown error");
	ck_assert_str_eq(errseq_strerror(INT_MIN), "unknown error");
	ck_assert_str_eq(errseq_strerror(INT_MAX), "unknown error");
	ck_assert_str_eq(errseq_strerror(-4096), "unknown error");
}
END_TEST

START_TEST(client_default_socket_env)
{
	char buf[128];

	setenv("ERRSEQD_SOCKET", "/tmp/some/where.sock", 1);
	ck_assert_int_eq(errseq_default_socket(buf, sizeof(buf)),
			 (int)strlen("/tmp/some/where.sock"));
	ck_assert_str_eq(buf, "/tmp/some/where.sock");
	ck_assert_int_eq(errseq_default_socket(buf, 5), -ENAMETOOLONG);
	unsetenv("ERRSEQD_SOCKET");
	ck_assert_int_gt(errseq_default_socket(buf, sizeof(buf)), 0);
	ck_assert_int_eq(buf[0], '/');
}
END_TEST

START_TEST(client_open_refusals)
{
	char dir[] = "/tmp/esdt-cl-XXXXXX", path[108], longp[200];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct errseq_client *c = (void *)1;
	int fd;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/none.sock", dir);
	ck_assert_int_eq(errseq_client_open(path, &c), -ENOENT);
	ck_assert_ptr_eq(c, (void *)1);	/* untouched on failure */

	/* a socket file nobody listens on */
	snprintf(path, sizeof(path), "%s/dead.sock", dir);
	fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(errseq_client_open(path, &c), -ECONNREFUSED);
	close(fd);
	unlink(path);
	rmdir(dir);

	memset(longp, 'a', sizeof(longp) - 1);
	longp[0] = '/';
	longp[sizeof(longp) - 1] = '\0';
	ck_assert_int_eq(errseq_client_open(longp, &c), -ENAMETOOLONG);
	ck_assert_int_eq(errseq_client_open("", &c), -EINVAL);
	ck_assert_int_eq(errseq_client_open(path, NULL), -EINVAL);
	errseq_client_close(NULL);	/* a no-op */
}
END_TEST

/*
 * A fake daemon: one thread, one connection, answering HELLO (and then one
 * OPEN) as the scenario says, to see the library refuse a broken peer.
 */
enum fake_mode {
	FAKE_BAD_MAGIC, FAKE_BAD_SEQ, FAKE_BAD_OP, FAKE_VERSION2,
	FAKE_BAD_LAYOUT, FAKE_NO_FD, FAKE_SEG_MAGIC, FAKE_SEG_SHORT,
	FAKE_SEG_INCARNATION, FAKE_ERR_REPLY, FAKE_SHORT_REPLY,
	FAKE_OPEN_BAD_INDEX, FAKE_OPEN_EVEN_GEN, FAKE_OK,
};

struct fake {
	enum fake_mode mode;
	int lfd;
	char path[108];
	char dir[32];
};

static int fake_segment(enum fake_mode mode, uint32_t slots, uint64_t inc)
{
	struct esd_seg_header h = {
		.magic = ESD_SEG_MAGIC,
		.layout_version = ESD_LAYOUT_VERSION,
		.header_size = ESD_PAGE,
		.slot_count = slots,
		.slot_stride = sizeof(struct esd_slot),
		.incarnation = inc,
	};
	int fd = memfd_create("fake-seg", MFD_CLOEXEC);

	if (mode == FAKE_SEG_MAGIC)
		h.magic ^= 1;
	if (mode == FAKE_SEG_INCARNATION)
		h.incarnation++;
	if (ftruncate(fd, mode == FAKE_SEG_SHORT ? ESD_PAGE :
		      (off_t)esd_seg_size(slots)) < 0 ||
	    pwrite(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h)) {
		close(fd);
		return -1;
	}
	return fd;
}

static void *fake_main(void *arg)
{
	struct fake *f = arg;
	unsigned char buf[512];
	struct esp_hdr *req = (struct esp_hdr *)buf;
	struct esp_hello_rep rep = {
		.version = ESP_VERSION,
		.layout_version = ESD_LAYOUT_VERSION,
		.slot_count = 8,
		.slot_stride = sizeof(struct esd_slot),
		.header_size = ESD_PAGE,
		.daemon_pid = 1,
		.incarnation = 0x1234,
		.seg_size = esd_seg_size(8),
	};
	struct esp_err_rep err = { .msg_len = 3, .msg = "no" };
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int))];
	} cb;
	struct iovec iov = { &rep, sizeof(rep) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	int fd, seg = -1;

	fd = accept4(f->lfd, NULL, NULL, SOCK_CLOEXEC);
	/* one connection only: the library's reconnects find nobody */
	close(f->lfd);
	if (fd < 0 || recv(fd, buf, sizeof(buf), 0) < (ssize_t)sizeof(*req))
		goto out;
	rep.hdr = *req;
	if (f->mode == FAKE_BAD_MAGIC)
		rep.hdr.magic++;
	if (f->mode == FAKE_BAD_SEQ)
		rep.hdr.seq++;
	if (f->mode == FAKE_BAD_OP)
		rep.hdr.op = ESP_OP_OPEN;
	if (f->mode == FAKE_VERSION2)
		rep.version = 2;
	if (f->mode == FAKE_BAD_LAYOUT)
		rep.layout_version++;
	if (f->mode == FAKE_SHORT_REPLY)
		iov.iov_len = sizeof(rep) - 8;
	if (f->mode == FAKE_ERR_REPLY) {
		err.hdr = *req;
		err.hdr.status = -EMFILE;
		iov.iov_base = &err;
		iov.iov_len = sizeof(err);
	}
	if (f->mode != FAKE_NO_FD && f->mode != FAKE_ERR_REPLY) {
		seg = fake_segment(f->mode, rep.slot_count, rep.incarnation);
		memset(&cb, 0, sizeof(cb));
		mh.msg_control = cb.b;
		mh.msg_controllen = sizeof(cb.b);
		CMSG_FIRSTHDR(&mh)->cmsg_level = SOL_SOCKET;
		CMSG_FIRSTHDR(&mh)->cmsg_type = SCM_RIGHTS;
		CMSG_FIRSTHDR(&mh)->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(CMSG_FIRSTHDR(&mh)), &seg, sizeof(int));
	}
	if (sendmsg(fd, &mh, MSG_NOSIGNAL) < 0)
		goto out;

	/* A second request (OPEN) for the scenarios that get that far. */
	if (recv(fd, buf, sizeof(buf), 0) >= (ssize_t)sizeof(*req)) {
		struct esp_open_rep orep = { .hdr = *req, .index = 1,
					     .gen = 1 };

		if (f->mode == FAKE_OPEN_BAD_INDEX)
			orep.index = 8;
		if (f->mode == FAKE_OPEN_EVEN_GEN)
			orep.gen = 2;
		(void)!send(fd, &orep, sizeof(orep), MSG_NOSIGNAL);
		/* answer CLOSE until the client hangs up */
		while (recv(fd, buf, sizeof(buf), 0) >= (ssize_t)sizeof(*req))
			(void)!send(fd, req, sizeof(*req), MSG_NOSIGNAL);
	}
out:
	if (seg >= 0)
		close(seg);
	if (fd >= 0)
		close(fd);
	return NULL;
}

static int fake_run(enum fake_mode mode, struct errseq_slot **slot_out,
		    int *open_r)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct fake f = { .mode = mode };
	struct errseq_client *c = NULL;
	pthread_t t;
	int r;

	snprintf(f.dir, sizeof(f.dir), "/tmp/esdt-fake-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(f.dir));
	snprintf(f.path, sizeof(f.path), "%s/s", f.dir);
	f.lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", f.path);
	ck_assert_int_eq(bind(f.lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(f.lfd, 4), 0);
	ck_assert_int_eq(pthread_create(&t, NULL, fake_main, &f), 0);

	r = errseq_client_open(f.path, &c);
	if (r == 0) {
		*open_r = errseq_slot_open(c, "x", ERRSEQ_CREATE, slot_out);
		if (*open_r == 0)
			errseq_slot_close(*slot_out);
		errseq_client_close(c);
	}
	pthread_join(t, NULL);
	unlink(f.path);
	rmdir(f.dir);
	return r;
}

START_TEST(client_protocol_violations)
{
	static const struct {
		enum fake_mode mode;
		int open_r;	/* errseq_client_open's result */
	} cases[] = {
		{ FAKE_BAD_MAGIC, ERRSEQ_EPROTO },
		{ FAKE_BAD_SEQ, ERRSEQ_EPROTO },
		{ FAKE_BAD_OP, ERRSEQ_EPROTO },
		{ FAKE_VERSION2, -EPROTONOSUPPORT },
		{ FAKE_BAD_LAYOUT, ERRSEQ_EPROTO },
		{ FAKE_NO_FD, ERRSEQ_EPROTO },
		{ FAKE_SEG_MAGIC, ERRSEQ_EPROTO },
		{ FAKE_SEG_SHORT, ERRSEQ_EPROTO },
		{ FAKE_SEG_INCARNATION, ERRSEQ_EPROTO },
		{ FAKE_ERR_REPLY, -EMFILE },
		{ FAKE_SHORT_REPLY, ERRSEQ_EPROTO },
	};
	struct errseq_slot *s;
	int open_r = 1;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r = fake_run(cases[i].mode, &s, &open_r);

		ck_assert_msg(r == cases[i].open_r,
			      "fake mode %d: client_open %d, expected %d",
			      (int)cases[i].mode, r, cases[i].open_r);
	}

	/* a good handshake, then broken OPEN replies */
	ck_assert_int_eq(fake_run(FAKE_OPEN_BAD_INDEX, &s, &open_r), 0);
	ck_assert_int_eq(open_r, ERRSEQ_EPROTO);
	ck_assert_int_eq(fake_run(FAKE_OPEN_EVEN_GEN, &s, &open_r), 0);
	ck_assert_int_eq(open_r, ERRSEQ_EPROTO);
	ck_assert_int_eq(fake_run(FAKE_OK, &s, &open_r), 0);
	ck_assert_int_eq(open_r, 0);
}
END_TEST

/* -------------------------------------------------- control path */

START_TEST(client_status_reports_daemon)
{
	struct errseq_daemon_status st;

	up(64, NULL);
	ck_assert_int_eq(errseq_status(C, &st), 0);
	ck_assert_int_eq(st.pid, D.pid);
	ck_assert_uint_eq(st.capacity, 64);
	ck_assert_uint_eq(st.slots_used, 0);
	ck_assert_uint_eq(st.slots_held, 0);
	ck_assert_uint_ge(st.clients, 1);
	ck_assert_uint_ne(st.incarnation, 0);
	ck_assert_uint_eq(st.segment_bytes, esd_seg_size(64));
	ck_assert_uint_gt(st.start_ns, 0);
	ck_assert_uint_gt(strlen(st.version), 0);
	ck_assert_int_eq(errseq_status(C, NULL), -EINVAL);
	ck_assert_int_eq(errseq_status(NULL, &st), -EINVAL);
}
END_TEST

START_TEST(client_open_errors)
{
	static const char *const bad[] = {
		"", "a b", "tab\t", "é", "semi;colon", "star*", "back\\slash",
	};
	char name[ERRSEQ_NAME_MAX + 2];
	struct errseq_slot *s = NULL, *s2 = NULL;
	struct errseq_daemon_status st;

	up(64, NULL);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_int_eq(errseq_slot_open(C, bad[i], ERRSEQ_CREATE, &s),
				 -EINVAL);
	ck_assert_int_eq(errseq_slot_open(C, NULL, ERRSEQ_CREATE, &s),
			 -EINVAL);
	memset(name, 'n', sizeof(name));
	name[ERRSEQ_NAME_MAX + 1] = '\0';	/* 129 bytes */
	ck_assert_int_eq(errseq_slot_open(C, name, ERRSEQ_CREATE, &s), -EINVAL);
	name[ERRSEQ_NAME_MAX] = '\0';		/* 128 bytes: fine */
	s = must_open(name, ERRSEQ_CREATE);
	ck_assert_str_eq(errseq_slot_name(s), name);
	errseq_slot_close(s);

	/* every allowed character */
	s = must_open("Az09._:/@-", ERRSEQ_CREATE);
	errseq_slot_close(s);

	ck_assert_int_eq(errseq_slot_open(C, "ok", ERRSEQ_EXCL, &s), -EINVAL);
	ck_assert_int_eq(errseq_slot_open(C, "ok", 0x4, &s), -EINVAL);
	ck_assert_int_eq(errseq_slot_open(C, "ok", ERRSEQ_CREATE, NULL),
			 -EINVAL);
	ck_assert_int_eq(errseq_slot_open(C, "missing", 0, &s), -ENOENT);

	s = must_open("dup", ERRSEQ_CREATE | ERRSEQ_EXCL);
	ck_assert_int_eq(errseq_slot_open(C, "dup", ERRSEQ_CREATE |
					  ERRSEQ_EXCL, &s2), -EEXIST);
	s2 = must_open("dup", ERRSEQ_CREATE);	/* exists: just opens */
	errseq_slot_set(s2, -EIO);
	ck_assert_uint_eq(errseq_slot_peek(s), errseq_slot_peek(s2));
	ck_assert_uint_ne(errseq_slot_peek(s), 0);
	errseq_slot_close(s2);
	s2 = must_open("dup", 0);
	ck_assert_int_eq(errseq_slot_check(s2, 0), -EIO);
	errseq_slot_close(s2);
	errseq_slot_close(s);
	errseq_slot_close(NULL);	/* a no-op */

	/* none of the refusals created anything */
	ck_assert_int_eq(errseq_status(C, &st), 0);
	ck_assert_uint_eq(st.slots_used, 3);	/* name, Az09..., dup */
}
END_TEST

START_TEST(client_open_enospc)
{
	struct errseq_slot *s[5];
	char name[16];

	up(4, NULL);
	for (int i = 0; i < 4; i++) {
		snprintf(name, sizeof(name), "s%d", i);
		s[i] = must_open(name, ERRSEQ_CREATE);
	}
	ck_assert_int_eq(errseq_slot_open(C, "s4", ERRSEQ_CREATE, &s[4]),
			 -ENOSPC);
	for (int i = 0; i < 4; i++)
		errseq_slot_close(s[i]);
}
END_TEST

START_TEST(client_open_emfile)
{
	static const char *const extra[] = { "--max-open", "2", NULL };
	struct errseq_slot *a, *b, *x;

	up(16, extra);
	a = must_open("a", ERRSEQ_CREATE);
	b = must_open("b", ERRSEQ_CREATE);
	ck_assert_int_eq(errseq_slot_open(C, "c", ERRSEQ_CREATE, &x), -EMFILE);
	errseq_slot_close(b);
	b = must_open("c", ERRSEQ_CREATE);	/* room again */
	errseq_slot_close(a);
	errseq_slot_close(b);
}
END_TEST

START_TEST(client_open_eusers)
{
	static const char *const extra[] = { "--max-clients", "1", NULL };
	struct errseq_client *c2 = NULL;
	int64_t end;
	int r;

	up(16, extra);
	ck_assert_int_eq(errseq_client_open(D.sock, &c2), -EUSERS);
	ck_assert_ptr_null(c2);
	/* room again once C has gone (the daemon notices asynchronously) */
	errseq_client_close(C);
	C = NULL;
	end = mono_ms() + LONG_MS;
	while ((r = errseq_client_open(D.sock, &C)) == -EUSERS &&
	       mono_ms() < end)
		nap_ms(10);
	ck_assert_int_eq(r, 0);
}
END_TEST

START_TEST(client_unlink_errors)
{
	struct errseq_slot *s;
	char name[ERRSEQ_NAME_MAX + 2];

	up(64, NULL);
	ck_assert_int_eq(errseq_slot_unlink(C, "nope"), -ENOENT);
	ck_assert_int_eq(errseq_slot_unlink(C, "bad name"), -EINVAL);
	ck_assert_int_eq(errseq_slot_unlink(C, ""), -EINVAL);
	ck_assert_int_eq(errseq_slot_unlink(C, NULL), -EINVAL);
	memset(name, 'x', sizeof(name));
	name[ERRSEQ_NAME_MAX + 1] = '\0';
	ck_assert_int_eq(errseq_slot_unlink(C, name), -EINVAL);

	s = must_open("gone", ERRSEQ_CREATE);
	ck_assert_int_eq(errseq_slot_unlink(C, "gone"), 0);
	ck_assert_int_eq(errseq_slot_unlink(C, "gone"), -ENOENT);
	errseq_slot_close(s);
	ck_assert_int_eq(errseq_slot_open(C, "gone", 0, &s), -ENOENT);
}
END_TEST

/* The kid of client_unlink_eperm: nobody may not delete root's slot. */
static int eperm_kid(void *arg)
{
	struct errseq_client *c;
	struct errseq_slot *s;

	(void)arg;
	KID_EQ(setgroups(0, NULL), 0);
	KID_EQ(setgid(65534), 0);
	KID_EQ(setuid(65534), 0);
	c = kid_client();
	KID_EQ(errseq_slot_unlink(c, "roots"), -EPERM);
	/* opening and setting is not deleting: allowed */
	KID_EQ(errseq_slot_open(c, "roots", 0, &s), 0);
	KID_EQ(errseq_slot_set(s, -EIO), 0);
	errseq_slot_close(s);
	/* its own slot it may delete */
	KID_EQ(errseq_slot_open(c, "nobodys", ERRSEQ_CREATE, &s), 0);
	errseq_slot_close(s);
	KID_EQ(errseq_slot_unlink(c, "nobodys"), 0);
	errseq_client_close(c);
	return 0;
}

START_TEST(client_unlink_eperm)
{
	static const char *const extra[] = { "--mode", "0666", NULL };
	struct errseq_slot_info info;
	struct errseq_slot *s;

	if (geteuid() != 0) {
		fprintf(stderr, "client_unlink_eperm: skipped, not root\n");
		return;
	}
	up(64, extra);
	chmod(D.dir, 0755);
	s = must_open("roots", ERRSEQ_CREATE);
	ck_assert_int_eq(reap(kid(eperm_kid, NULL)), 0);
	ck_assert_int_eq(errseq_stat(C, "roots", &info), 0);
	ck_assert_uint_eq(info.creator_uid, 0);
	ck_assert_int_eq(errseq_slot_check(s, 0), -EIO);
	ck_assert_int_eq(errseq_stat(C, "nobodys", &info), -ENOENT);
	/* the creator (root) may */
	ck_assert_int_eq(errseq_slot_unlink(C, "roots"), 0);
	errseq_slot_close(s);
}
END_TEST

static int eacces_kid(void *arg)
{
	struct errseq_client *c = NULL;

	(void)arg;
	KID_EQ(setgroups(0, NULL), 0);
	KID_EQ(setgid(65534), 0);
	KID_EQ(setuid(65534), 0);
	KID_EQ(errseq_client_open(D.sock, &c), -EACCES);
	return 0;
}

START_TEST(client_open_eacces)
{
	if (geteuid() != 0) {
		fprintf(stderr, "client_open_eacces: skipped, not root\n");
		return;
	}
	up(64, NULL);	/* default --mode 0660, root's group */
	chmod(D.dir, 0755);
	ck_assert_int_eq(reap(kid(eacces_kid, NULL)), 0);
}
END_TEST

START_TEST(client_list_pages)
{
	struct errseq_slot_info info[3];
	struct errseq_slot *s[7];
	char name[16];
	uint32_t pos = 0, prev = 0;
	int seen = 0, r, pages = 0;
	bool found[7] = { false };

	up(64, NULL);
	for (int i = 0; i < 7; i++) {
		snprintf(name, sizeof(name), "list-%d", i);
		s[i] = must_open(name, ERRSEQ_CREATE);
		errseq_slot_set(s[i], -(i + 1));
	}
	ck_assert_int_eq(errseq_slot_unlink(C, "list-3"), 0);

	ck_assert_int_eq(errseq_list(C, &pos, info, 0), -EINVAL);
	ck_assert_int_eq(errseq_list(C, NULL, info, 3), -EINVAL);
	while (pos != ERRSEQ_LIST_END) {
		r = errseq_list(C, &pos, info, 3);
		ck_assert_int_ge(r, 0);
		ck_assert_int_le(r, 3);
		pages++;
		ck_assert_int_lt(pages, 20);
		for (int k = 0; k < r; k++) {
			int i;

			ck_assert_int_eq(sscanf(info[k].name, "list-%d", &i), 1);
			ck_assert(i >= 0 && i < 7 && i != 3 && !found[i]);
			found[i] = true;
			ck_assert_uint_ge(info[k].index, prev);	/* index order */
			prev = info[k].index;
			ck_assert_uint_eq(info[k].value & ERRSEQ_MAX_ERRNO,
					  (unsigned)(i + 1));
			ck_assert_uint_eq(info[k].sets_total, 1);
			ck_assert_int_eq(info[k].last_pid, getpid());
			ck_assert_uint_eq(info[k].holders, 1);
			ck_assert(ESD_GEN_LIVE(info[k].generation));
			seen++;
		}
	}
	ck_assert_int_eq(seen, 6);
	ck_assert_int_ge(pages, 2);
	/* done: further calls return 0 */
	ck_assert_int_eq(errseq_list(C, &pos, info, 3), 0);
	ck_assert_uint_eq(pos, ERRSEQ_LIST_END);
	/* listing never consumed anything */
	ck_assert_int_eq(errseq_slot_check(s[0], 0), -1);
	ck_assert_uint_eq(errseq_slot_sample(s[0]), 0);
	for (int i = 0; i < 7; i++)
		errseq_slot_close(s[i]);
}
END_TEST

START_TEST(client_stat_holders)
{
	struct errseq_slot_info info;
	struct errseq_slot *a, *b;
	struct errseq_client *c2;

	up(64, NULL);
	a = must_open("held", ERRSEQ_CREATE);
	b = must_open("held", 0);
	ck_assert_int_eq(errseq_stat(C, "held", &info), 0);
	ck_assert_str_eq(info.name, "held");
	ck_assert_uint_eq(info.holders, 2);
	ck_assert_uint_eq(info.creator_uid, geteuid());
	ck_assert_uint_gt(info.created_ns, 0);
	ck_assert_uint_eq(info.value, 0);
	ck_assert_uint_eq(info.sets_total, 0);
	ck_assert_uint_eq(info.last_set_ns, 0);
	ck_assert_int_eq(info.last_pid, 0);
	errseq_slot_close(b);
	await_holders("held", 1);

	/* another client's handles count too, and go with its connection */
	ck_assert_int_eq(errseq_client_open(D.sock, &c2), 0);
	ck_assert_int_eq(errseq_slot_open(c2, "held", 0, &b), 0);
	await_holders("held", 2);
	errseq_client_close(c2);	/* closes b */
	await_holders("held", 1);

	ck_assert_int_eq(errseq_stat(C, "nope", &info), -ENOENT);
	ck_assert_int_eq(errseq_stat(C, "bad name", &info), -EINVAL);
	errseq_slot_close(a);
	await_holders("held", 0);
}
END_TEST

/* ------------------------------------------------------ data path */

START_TEST(client_set_semantics)
{
	struct errseq_slot *s;
	errseq_t since, boss, v;

	up(64, NULL);
	s = must_open("sem", ERRSEQ_CREATE);

	ck_assert_uint_eq(errseq_slot_peek(s), 0);
	ck_assert_uint_eq(errseq_slot_sample(s), 0);
	ck_assert_int_eq(errseq_slot_check(s, 0), 0);
	since = 0;
	ck_assert_int_eq(errseq_slot_check_and_advance(s, &since), 0);
	ck_assert_uint_eq(since, 0);

	ck_assert_int_eq(errseq_slot_set(s, -EIO), 0);
	ck_assert_uint_eq(errseq_slot_peek(s), EIO);
	/* unconsumed: a new watcher still gets it */
	ck_assert_uint_eq(errseq_slot_sample(s), 0);
	boss = errseq_slot_sample(s);
	ck_assert_int_eq(errseq_slot_check(s, boss), -EIO);
	ck_assert_int_eq(errseq_slot_check(s, boss), -EIO); /* no consume */
	ck_assert_uint_eq(errseq_slot_peek(s), EIO);

	ck_assert_int_eq(errseq_slot_check_and_advance(s, &since), -EIO);
	ck_assert_uint_eq(since, EIO | ERRSEQ_SEEN);
	ck_assert_uint_eq(errseq_slot_peek(s), EIO | ERRSEQ_SEEN);
	ck_assert_int_eq(errseq_slot_check_and_advance(s, &since), 0);
	ck_assert_uint_eq(errseq_slot_sample(s), EIO | ERRSEQ_SEEN);

	/* after SEEN, the same errno again bumps the counter */
	ck_assert_int_eq(errseq_slot_set(s, -EIO), 0);
	v = errseq_slot_peek(s);
	ck_assert_uint_eq(v, ERRSEQ_CTR_INC | EIO);
	ck_assert_int_eq(errseq_slot_set(s, -EIO), 0);	/* unconsumed repeat */
	ck_assert_uint_eq(errseq_slot_peek(s), v);
	ck_assert_int_eq(errseq_slot_set(s, -ENOSPC), 0); /* no bump */
	ck_assert_uint_eq(errseq_slot_peek(s), ERRSEQ_CTR_INC | ENOSPC);
	ck_assert_int_eq(errseq_slot_check_and_advance(s, &since), -ENOSPC);
	ck_assert_int_eq(errseq_slot_check_and_advance(s, &since), 0);

	/* bad errors: nothing stored, -EINVAL */
	v = errseq_slot_peek(s);
	ck_assert_int_eq(errseq_slot_set(s, 0), -EINVAL);
	ck_assert_int_eq(errseq_slot_set(s, 5), -EINVAL);
	ck_assert_int_eq(errseq_slot_set(s, -4096), -EINVAL);
	ck_assert_int_eq(errseq_slot_set(s, INT_MIN), -EINVAL);
	ck_assert_int_eq(errseq_slot_set(s, INT_MAX), -EINVAL);
	ck_assert_uint_eq(errseq_slot_peek(s), v);
	ck_assert_int_eq(errseq_slot_set(s, -4095), 0);	/* the edge */
	ck_assert_uint_eq(errseq_slot_peek(s) & ERRSEQ_MAX_ERRNO, 4095);
	errseq_slot_close(s);
}
END_TEST

START_TEST(client_stats_exact)
{
	struct errseq_slot_info info;
	struct errseq_slot *s;
	struct timespec now;

	up(64, NULL);
	s = must_open("stats", ERRSEQ_CREATE);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(errseq_slot_set(s, -EIO), 0); /* 2 no-ops */
	ck_assert_int_eq(errseq_slot_set(s, -ENOSPC), 0);
	ck_assert_int_eq(errseq_slot_set(s, 0), -EINVAL);  /* not counted */
	ck_assert_int_eq(errseq_slot_set(s, -5000), -EINVAL);
	ck_assert_int_eq(errseq_stat(C, "stats", &info), 0);
	ck_assert_uint_eq(info.sets_total, 4);
	ck_assert_int_eq(info.last_pid, getpid());
	clock_gettime(CLOCK_REALTIME, &now);
	ck_assert_uint_gt(info.last_set_ns, 0);
	ck_assert_uint_le(info.last_set_ns,
			  (uint64_t)now.tv_sec * 1000000000ull + now.tv_nsec);
	ck_assert_uint_eq(info.value, ENOSPC);
	ck_assert_uint_eq(info.value, errseq_slot_peek(s));
	for (int i = 0; i < 1000; i++)
		errseq_slot_set(s, -(i % 4095 + 1));
	ck_assert_int_eq(errseq_stat(C, "stats", &info), 0);
	ck_assert_uint_eq(info.sets_total, 1004);
	errseq_slot_close(s);
}
END_TEST

START_TEST(client_stale_after_unlink)
{
	struct errseq_slot *old, *fresh, *x;
	struct errseq_cursor *cur, *cur2;
	errseq_t since = 0;

	up(64, NULL);
	old = must_open("phoenix", ERRSEQ_CREATE);
	ck_assert_int_eq(errseq_cursor_new(old, &cur), 0);
	ck_assert_int_eq(errseq_slot_set(old, -EIO), 0);
	ck_assert_int_eq(errseq_slot_unlink(C, "phoenix"), 0);

	ck_assert_int_eq(errseq_slot_set(old, -EIO), ERRSEQ_ESTALE);
	ck_assert_int_eq(errseq_slot_set(old, 0), -EINVAL);
	ck_assert_int_eq(errseq_slot_check(old, 0), ERRSEQ_ESTALE);
	ck_assert_int_eq(errseq_slot_check_and_advance(old, &since),
			 ERRSEQ_ESTALE);
	ck_assert_uint_eq(since, 0);
	ck_assert_uint_eq(errseq_slot_sample(old), 0);
	ck_assert_uint_eq(errseq_slot_peek(old), 0);
	ck_assert_int_eq(errseq_slot_wait(old, 0, 10), ERRSEQ_ESTALE);
	ck_assert_int_eq(errseq_cursor_check(cur), ERRSEQ_ESTALE);
	ck_assert_int_eq(errseq_cursor_wait(cur, 10), ERRSEQ_ESTALE);
	ck_assert_int_eq(errseq_cursor_new(old, &cur2), ERRSEQ_ESTALE);

	/* re-created under the same name: a new slot, the old handle stays
	 * stale forever, even when the index is reused */
	fresh = must_open("phoenix", ERRSEQ_CREATE | ERRSEQ_EXCL);
	ck_assert_uint_eq(errseq_slot_peek(fresh), 0);
	ck_assert_int_eq(errseq_slot_set(fresh, -ENOSPC), 0);
	ck_assert_int_eq(errseq_slot_check(fresh, 0), -ENOSPC);
	ck_assert_int_eq(errseq_slot_set(old, -EIO), ERRSEQ_ESTALE);
	ck_assert_int_eq(errseq_cursor_check(cur), ERRSEQ_ESTALE);
	ck_assert_uint_eq(errseq_slot_peek(fresh), ENOSPC);

	/* churn so that the old index is taken again by someone */
	for (int i = 0; i < 70; i++) {
		char name[16];

		snprintf(name, sizeof(name), "churn%d", i);
		if (errseq_slot_open(C, name, ERRSEQ_CREATE, &x) != 0)
			break;
		errseq_slot_set(x, -EIO);
		errseq_slot_close(x);
		ck_assert_int_eq(errseq_slot_unlink(C, name), 0);
	}
	ck_assert_int_eq(errseq_slot_set(old, -EIO), ERRSEQ_ESTALE);
	ck_assert_int_eq(errseq_slot_check(old, 0), ERRSEQ_ESTALE);
	ck_assert_int_eq(errseq_cursor_check(cur), ERRSEQ_ESTALE);

	errseq_cursor_free(cur);
	errseq_slot_close(old);
	errseq_slot_close(fresh);
}
END_TEST

START_TEST(client_wait_timeout)
{
	struct errseq_slot *s;
	errseq_t since;

	up(64, NULL);
	s = must_open("w", ERRSEQ_CREATE);
	ck_assert_int_eq(errseq_slot_wait(s, 0, 0), -ETIMEDOUT);
	ck_assert_int_eq(errseq_slot_wait(s, 0, 30), -ETIMEDOUT);
	errseq_slot_set(s, -EIO);
	ck_assert_int_eq(errseq_slot_wait(s, 0, 30), 0);	/* differs */
	ck_assert_int_eq(errseq_slot_wait(s, 0, -1), 0);
	since = errseq_slot_peek(s);
	ck_assert_int_eq(errseq_slot_wait(s, since, 20), -ETIMEDOUT);
	/* nobody is left counted as a sleeper */
	ck_assert_uint_eq(seg_slot(slot_index(s))->waiters, 0);
	errseq_slot_close(s);
}
END_TEST

struct setter_arg {
	uint32_t index;
	const char *name;
	int err;	/* what to set, or 0: unlink instead */
};

static int setter_kid(void *arg)
{
	struct setter_arg *a = arg;
	struct errseq_client *c = kid_client();
	struct errseq_slot *s;

	/* the parent is asleep in wait before we act */
	KID_REQUIRE(await_waiter(a->index, LONG_MS));
	if (a->err == 0) {
		KID_EQ(errseq_slot_unlink(c, a->name), 0);
	} else {
		KID_EQ(errseq_slot_open(c, a->name, 0, &s), 0);
		KID_EQ(errseq_slot_set(s, a->err), 0);
	}
	errseq_client_close(c);
	return 0;
}

START_TEST(client_wait_woken_by_set)
{
	struct setter_arg a = { .name = "wake", .err = -EXDEV };
	struct errseq_slot_info info;
	struct sleeper w = { 0 };
	struct errseq_slot *s;
	pid_t pid;

	up(64, NULL);
	s = must_open("wake", ERRSEQ_CREATE);
	a.index = slot_index(s);
	seg_slot(0);	/* map before forking, the kid uses it */
	w.s = s;
	w.since = errseq_slot_sample(s);
	pid = kid(setter_kid, &a);	/* fork before making threads */
	sleeper_start(&w);
	ck_assert_int_eq(sleeper_join(&w), 0);
	ck_assert_int_eq(errseq_slot_check(s, w.since), -EXDEV);
	ck_assert_int_eq(reap(pid), 0);
	ck_assert_int_eq(errseq_stat(C, "wake", &info), 0);
	ck_assert_int_eq(info.last_pid, pid);
	ck_assert_uint_eq(seg_slot(a.index)->waiters, 0);
	errseq_slot_close(s);
}
END_TEST

START_TEST(client_wait_woken_stale_by_unlink)
{
	struct setter_arg a = { .name = "doomed", .err = 0 };
	struct sleeper w = { 0 };
	struct errseq_slot *s;
	pid_t pid;

	up(64, NULL);
	s = must_open("doomed", ERRSEQ_CREATE);
	a.index = slot_index(s);
	seg_slot(0);
	ck_assert_int_eq(errseq_cursor_new(s, &w.cur), 0);
	pid = kid(setter_kid, &a);	/* fork before making threads */
	sleeper_start(&w);
	ck_assert_int_eq(sleeper_join(&w), ERRSEQ_ESTALE);
	ck_assert_int_eq(reap(pid), 0);
	ck_assert_int_eq(errseq_slot_check(s, 0), ERRSEQ_ESTALE);
	errseq_slot_close(s);	/* frees cur as well */
}
END_TEST

static void on_usr1(int sig)
{
	(void)sig;
}

struct eintr_arg {
	struct errseq_slot *s;
	int r;
};

static void *eintr_waiter(void *arg)
{
	struct eintr_arg *a = arg;

	a->r = errseq_slot_wait(a->s, 0, LONG_MS);
	return NULL;
}

START_TEST(client_wait_eintr)
{
	struct sigaction sa = { .sa_handler = on_usr1 };	/* no SA_RESTART */
	struct eintr_arg a = { .r = 1 };
	pthread_t t;

	up(64, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	a.s = must_open("intr", ERRSEQ_CREATE);
	ck_assert_int_eq(pthread_create(&t, NULL, eintr_waiter, &a), 0);
	ck_assert(await_waiter(slot_index(a.s), LONG_MS));
	pthread_kill(t, SIGUSR1);
	pthread_join(t, NULL);
	ck_assert_int_eq(a.r, -EINTR);
	ck_assert_uint_eq(seg_slot(slot_index(a.s))->waiters, 0);
	errseq_slot_close(a.s);
}
END_TEST

START_TEST(client_cursor_basics)
{
	struct errseq_cursor *c1, *c2, *c3;
	struct errseq_slot *s;

	up(64, NULL);
	s = must_open("cur", ERRSEQ_CREATE);
	ck_assert_int_eq(errseq_cursor_new(s, &c1), 0);
	ck_assert_int_eq(errseq_cursor_check(c1), 0);
	ck_assert_int_eq(errseq_cursor_wait(c1, 20), 0);	/* timeout: nothing new */

	errseq_slot_set(s, -EIO);
	/* a cursor made now still gets the unconsumed error */
	ck_assert_int_eq(errseq_cursor_new(s, &c2), 0);
	ck_assert_int_eq(errseq_cursor_check(c1), -EIO);
	ck_assert_int_eq(errseq_cursor_check(c1), 0);	/* once */
	ck_assert_int_eq(errseq_cursor_wait(c2, LONG_MS), -EIO);
	ck_assert_int_eq(errseq_cursor_check(c2), 0);
	/* consumed now: a new cursor starts after it */
	ck_assert_int_eq(errseq_cursor_new(s, &c3), 0);
	ck_assert_int_eq(errseq_cursor_check(c3), 0);

	errseq_slot_set(s, -EIO);	/* counter bump: new to everyone */
	ck_assert_int_eq(errseq_cursor_check(c1), -EIO);
	ck_assert_int_eq(errseq_cursor_check(c2), -EIO);
	ck_assert_int_eq(errseq_cursor_wait(c3, LONG_MS), -EIO);
	ck_assert_int_eq(errseq_cursor_wait(c3, 10), 0);	/* timeout: nothing new */
	/* a recorded ETIMEDOUT is a report, unlike the timeout above */
	errseq_slot_set(s, -ETIMEDOUT);
	ck_assert_int_eq(errseq_cursor_wait(c3, LONG_MS), -ETIMEDOUT);
	ck_assert_int_eq(errseq_cursor_wait(c3, 10), 0);
	errseq_cursor_free(c1);
	errseq_cursor_free(NULL);
	/* c2 and c3 are freed with the slot */
	errseq_slot_close(s);
}
END_TEST

/*
 * Threads sharing one cursor: each error is reported exactly once.  Every
 * round the threads are released together (a generation flag they spin
 * on) to call errseq_cursor_check once each on a freshly set error, so
 * they race inside it; exactly one of them may report the error.
 */
#define SHARE_THREADS	2	/* one per core on CI */

struct share {
	struct errseq_cursor *cur;
	int round;		/* atomic: bumped to release the threads */
	int calls;		/* atomic: cursor_check calls made */
	int reports;		/* atomic */
	int bad;		/* atomic: reports of a wrong value */
	int expect;		/* atomic: the errno now pending */
	int stop;		/* atomic */
};

static void *share_thread(void *arg)
{
	struct share *sh = arg;
	int mine = 0, r;

	for (;;) {
		/* spin, so that both threads leave together; yield now and
		 * then, so that the main thread gets a core */
		for (unsigned n = 1; __atomic_load_n(&sh->round,
						     __ATOMIC_ACQUIRE) == mine;
		     n++) {
			if (__atomic_load_n(&sh->stop, __ATOMIC_ACQUIRE))
				return NULL;
			if (n % 256 == 0)
				sched_yield();
		}
		mine++;
		r = errseq_cursor_check(sh->cur);
		if (r != 0) {
			if (r != -__atomic_load_n(&sh->expect,
						  __ATOMIC_ACQUIRE))
				__atomic_fetch_add(&sh->bad, 1,
						   __ATOMIC_RELAXED);
			__atomic_fetch_add(&sh->reports, 1, __ATOMIC_ACQ_REL);
		}
		__atomic_fetch_add(&sh->calls, 1, __ATOMIC_ACQ_REL);
	}
}

START_TEST(client_cursor_shared_by_threads)
{
	struct share sh = { 0 };
	struct errseq_slot *s;
	pthread_t t[SHARE_THREADS];
	const int rounds = 5000;

	up(64, NULL);
	s = must_open("shared", ERRSEQ_CREATE);
	ck_assert_int_eq(errseq_cursor_new(s, &sh.cur), 0);
	for (int i = 0; i < SHARE_THREADS; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, share_thread,
						&sh), 0);
	for (int k = 1; k <= rounds; k++) {
		int64_t end = mono_ms() + LONG_MS;

		__atomic_store_n(&sh.expect, k % 4095 + 1, __ATOMIC_RELEASE);
		ck_assert_int_eq(errseq_slot_set(s, -(k % 4095 + 1)), 0);
		__atomic_store_n(&sh.round, k, __ATOMIC_RELEASE);
		while (__atomic_load_n(&sh.calls, __ATOMIC_ACQUIRE) <
		       k * SHARE_THREADS && mono_ms() < end)
			sched_yield();
		ck_assert_int_eq(__atomic_load_n(&sh.calls, __ATOMIC_ACQUIRE),
				 k * SHARE_THREADS);
		/* once per error, among all the threads */
		ck_assert_int_eq(__atomic_load_n(&sh.reports,
						 __ATOMIC_ACQUIRE), k);
	}
	__atomic_store_n(&sh.stop, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < SHARE_THREADS; i++)
		pthread_join(t[i], NULL);
	ck_assert_int_eq(sh.bad, 0);
	ck_assert_int_eq(errseq_cursor_check(sh.cur), 0);
	errseq_slot_close(s);
}
END_TEST

/* ---------------------------------------------------------- fork */

struct fork_arg {
	struct errseq_slot *s;
	struct errseq_cursor *cur;
};

static int forked_kid(void *arg)
{
	struct fork_arg *a = arg;
	struct errseq_daemon_status st;
	struct errseq_slot_info info;
	struct errseq_slot *x = NULL;
	struct errseq_client *own;
	uint32_t pos = 0;

	/* control calls on the inherited client: refused, socket untouched */
	KID_EQ(errseq_slot_open(C, "other", ERRSEQ_CREATE, &x),
	       ERRSEQ_EFORKED);
	KID_REQUIRE(x == NULL);
	KID_EQ(errseq_slot_unlink(C, "forked"), ERRSEQ_EFORKED);
	KID_EQ(errseq_stat(C, "forked", &info), ERRSEQ_EFORKED);
	KID_EQ(errseq_list(C, &pos, &info, 1), ERRSEQ_EFORKED);
	KID_EQ(errseq_status(C, &st), ERRSEQ_EFORKED);

	/* the data path works on inherited handles and cursors */
	KID_EQ(errseq_cursor_check(a->cur), -EIO);
	KID_EQ(errseq_cursor_check(a->cur), 0);
	KID_EQ(errseq_slot_set(a->s, -ENOSPC), 0);
	KID_EQ(errseq_cursor_check(a->cur), -ENOSPC);

	/* an own client works; then release the inherited one */
	own = kid_client();
	KID_EQ(errseq_stat(own, "forked", &info), 0);
	KID_EQ(info.last_pid, getpid());
	KID_EQ(info.holders, 1);	/* the parent's: we hold nothing */
	errseq_client_close(own);
	errseq_client_close(C);		/* no CLOSE sent, parent unaffected */
	return 0;
}

static int grandchild_setter(void *arg)
{
	struct fork_arg *a = arg;

	return errseq_slot_set(a->s, -EBUSY) == 0 ? 0 : 1;
}

static int forking_kid(void *arg)
{
	struct errseq_slot_info info;
	struct errseq_client *c;
	pid_t g = fork();
	int st;

	if (g == 0)
		_exit(grandchild_setter(arg));
	KID_REQUIRE(g > 0);
	KID_REQUIRE(waitpid(g, &st, 0) == g);
	KID_REQUIRE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	/* the grandchild's set recorded the grandchild's pid */
	c = kid_client();
	KID_EQ(errseq_stat(c, "forked", &info), 0);
	KID_EQ(info.last_pid, g);
	errseq_client_close(c);
	return 0;
}

START_TEST(client_fork_child)
{
	struct fork_arg a;
	struct errseq_slot_info info;
	struct errseq_daemon_status st;
	pid_t pid;

	up(64, NULL);
	a.s = must_open("forked", ERRSEQ_CREATE);
	ck_assert_int_eq(errseq_cursor_new(a.s, &a.cur), 0);
	ck_assert_int_eq(errseq_slot_set(a.s, -EIO), 0);
	ck_assert_int_eq(errseq_stat(C, "forked", &info), 0);
	ck_assert_int_eq(info.last_pid, getpid());

	pid = kid(forked_kid, &a);
	ck_assert_int_eq(reap(pid), 0);
	ck_assert_int_eq(errseq_stat(C, "forked", &info), 0);
	ck_assert_int_eq(info.last_pid, pid);
	ck_assert_uint_eq(info.holders, 1);
	ck_assert_int_eq(errseq_status(C, &st), 0);
	/* the parent's cursor is its own: it still has EIO pending */
	ck_assert_int_eq(errseq_cursor_check(a.cur), -ENOSPC);
	ck_assert_int_eq(errseq_cursor_check(a.cur), 0);

	/* a grandchild's set records the grandchild's pid */
	ck_assert_int_eq(reap(kid(forking_kid, &a)), 0);
	ck_assert_int_eq(errseq_slot_set(a.s, -EIO), 0);
	ck_assert_int_eq(errseq_stat(C, "forked", &info), 0);
	ck_assert_int_eq(info.last_pid, getpid());
	errseq_slot_close(a.s);
}
END_TEST

/* ----------------------------------------------- errseq.rst's story */

#define SUPERVISORS 77

struct story {
	int ready[2];	/* kids -> boss: one byte each when set up */
	int got[2];	/* supervisors -> boss: one byte per error seen */
	int go[2];	/* boss -> worker: one byte per error to make */
};

static int supervisor_kid(void *arg)
{
	struct story *st = arg;
	struct errseq_client *c = kid_client();
	struct errseq_cursor *cur;
	struct errseq_slot *s;

	KID_EQ(errseq_slot_open(c, "wd", 0, &s), 0);
	KID_EQ(errseq_cursor_new(s, &cur), 0);
	put_byte(st->ready[1]);

	KID_EQ(errseq_cursor_wait(cur, LONG_MS), -EIO);
	KID_EQ(errseq_cursor_check(cur), 0);	/* told once */
	put_byte(st->got[1]);
	KID_EQ(errseq_cursor_wait(cur, LONG_MS), -ENOSPC);
	KID_EQ(errseq_cursor_check(cur), 0);
	put_byte(st->got[1]);
	errseq_client_close(c);
	return 0;
}

static int worker_kid(void *arg)
{
	struct story *st = arg;
	struct errseq_client *c = kid_client();
	struct errseq_slot *s;

	KID_EQ(errseq_slot_open(c, "wd", 0, &s), 0);
	put_byte(st->ready[1]);
	KID_EQ(get_byte(st->go[0], LONG_MS), 0);
	KID_EQ(errseq_slot_set(s, -EIO), 0);
	KID_EQ(get_byte(st->go[0], LONG_MS), 0);
	KID_EQ(errseq_slot_set(s, -ENOSPC), 0);
	errseq_client_close(c);
	return 0;
}

START_TEST(client_story_77_supervisors)
{
	struct story st;
	struct errseq_slot_info info;
	struct errseq_slot *s;
	errseq_t boss, late_boss;
	pid_t sup[SUPERVISORS], worker;

	up(64, NULL);
	ck_assert_int_eq(pipe(st.ready), 0);
	ck_assert_int_eq(pipe(st.got), 0);
	ck_assert_int_eq(pipe(st.go), 0);
	s = must_open("wd", ERRSEQ_CREATE);
	boss = errseq_slot_sample(s);	/* the big boss's spot check */

	worker = kid(worker_kid, &st);
	for (int i = 0; i < SUPERVISORS; i++)
		sup[i] = kid(supervisor_kid, &st);
	for (int i = 0; i < SUPERVISORS + 1; i++)
		ck_assert_int_eq(get_byte(st.ready[0], LONG_MS), 0);
	await_holders("wd", SUPERVISORS + 2);

	put_byte(st.go[1]);	/* the worker makes a mistake: EIO */
	for (int i = 0; i < SUPERVISORS; i++)
		ck_assert_int_eq(get_byte(st.got[0], LONG_MS), 0);
	/* the boss sees it, every time, and consumes nothing */
	ck_assert_int_eq(errseq_slot_check(s, boss), -EIO);
	ck_assert_int_eq(errseq_slot_check(s, boss), -EIO);
	/* a boss arriving now starts after the consumed EIO */
	late_boss = errseq_slot_sample(s);
	ck_assert_int_eq(errseq_slot_check(s, late_boss), 0);

	put_byte(st.go[1]);	/* and ENOSPC */
	for (int i = 0; i < SUPERVISORS; i++)
		ck_assert_int_eq(get_byte(st.got[0], LONG_MS), 0);
	ck_assert_int_eq(errseq_slot_check(s, late_boss), -ENOSPC);
	ck_assert_int_eq(errseq_slot_check(s, boss), -ENOSPC);

	ck_assert_int_eq(reap(worker), 0);
	for (int i = 0; i < SUPERVISORS; i++)
		ck_assert_int_eq(reap(sup[i]), 0);
	ck_assert_int_eq(errseq_stat(C, "wd", &info), 0);
	ck_assert_uint_eq(info.sets_total, 2);
	ck_assert_int_eq(info.last_pid, worker);
	await_holders("wd", 1);
	errseq_slot_close(s);
	for (int i = 0; i < 2; i++) {
		close(st.ready[i]);
		close(st.got[i]);
		close(st.go[i]);
	}
}
END_TEST

/* ------------------------------------------ producers and watchers */

#define PROD_SETS 20000

static int producer_kid(void *arg)
{
	struct errseq_client *c = kid_client();
	struct errseq_slot *s;

	(void)arg;
	KID_EQ(errseq_slot_open(c, "pw", 0, &s), 0);
	for (int i = 0; i < PROD_SETS; i++)
		KID_EQ(errseq_slot_set(s, -(i % 200 + 1)), 0);
	errseq_client_close(c);
	return 0;
}

static int watcher_kid(void *arg)
{
	struct errseq_client *c = kid_client();
	struct errseq_cursor *cur;
	struct errseq_slot *s;
	int r, reports = 0;

	(void)arg;
	KID_EQ(errseq_slot_open(c, "pw", 0, &s), 0);
	KID_EQ(errseq_cursor_new(s, &cur), 0);
	/* until the end marker; every report a valid errno */
	for (;;) {
		r = errseq_cursor_wait(cur, LONG_MS);
		KID_REQUIRE(r < 0 && r >= -4095);
		reports++;
		if (r == -4095)
			break;
		KID_REQUIRE(r >= -200);
	}
	KID_EQ(errseq_cursor_check(cur), 0);
	KID_REQUIRE(reports <= 3 * PROD_SETS + 1);
	errseq_client_close(c);
	return 0;
}

START_TEST(client_producers_and_watchers)
{
	struct errseq_slot_info info;
	struct errseq_slot *s;
	pid_t p[3], w[3];

	up(64, NULL);
	s = must_open("pw", ERRSEQ_CREATE);
	for (int i = 0; i < 3; i++)
		w[i] = kid(watcher_kid, NULL);
	await_holders("pw", 4);
	for (int i = 0; i < 3; i++)
		p[i] = kid(producer_kid, NULL);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(reap(p[i]), 0);
	ck_assert_int_eq(errseq_slot_set(s, -4095), 0);	/* the end */
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(reap(w[i]), 0);
	ck_assert_int_eq(errseq_stat(C, "pw", &info), 0);
	ck_assert_uint_eq(info.sets_total, 3 * PROD_SETS + 1);
	ck_assert_int_eq(info.last_pid, getpid());
	errseq_slot_close(s);
}
END_TEST

/* ------------------------------------------ the daemon goes away */

START_TEST(client_enotconn_while_down)
{
	struct errseq_daemon_status st;
	struct errseq_slot_info info;
	struct errseq_cursor *cur;
	struct errseq_slot *s, *x, *y;
	uint32_t pos = 0;

	up(64, NULL);
	s = must_open("kept", ERRSEQ_CREATE);
	y = must_open("closed-while-down", ERRSEQ_CREATE);
	ck_assert_int_eq(errseq_cursor_new(s, &cur), 0);
	ck_assert_int_gt(esdt_daemon_stop(&D, SIGKILL), 0);

	ck_assert_int_eq(errseq_status(C, &st), -ENOTCONN);
	ck_assert_int_eq(errseq_slot_open(C, "new", ERRSEQ_CREATE, &x),
			 -ENOTCONN);
	ck_assert_int_eq(errseq_slot_unlink(C, "kept"), -ENOTCONN);
	ck_assert_int_eq(errseq_stat(C, "kept", &info), -ENOTCONN);
	ck_assert_int_eq(errseq_list(C, &pos, &info, 1), -ENOTCONN);
	/* arguments are still checked first */
	ck_assert_int_eq(errseq_slot_open(C, "bad name", 0, &x), -EINVAL);
	errseq_slot_close(y);	/* frees the handle, daemon or not */

	/* the data path does not need the daemon */
	ck_assert_int_eq(errseq_slot_set(s, -EIO), 0);
	ck_assert_int_eq(errseq_cursor_check(cur), -EIO);
	ck_assert_int_eq(errseq_cursor_check(cur), 0);

	ck_assert_int_eq(esdt_daemon_restart(&D, NULL), 0);
	await_reconnect(C);
	/* the open handle was registered again; the closed one not */
	await_holders("kept", 1);
	await_holders("closed-while-down", 0);
	ck_assert_int_eq(errseq_slot_set(s, -ENOSPC), 0);
	ck_assert_int_eq(errseq_cursor_check(cur), -ENOSPC);
	ck_assert_int_eq(errseq_stat(C, "kept", &info), 0);
	ck_assert_uint_eq(info.sets_total, 2);
	errseq_slot_close(s);
	await_holders("kept", 0);
}
END_TEST

/*
 * Ping-pong pairs through a daemon SIGKILL and restart.  A producer sets
 * an error on ping-P and waits for the watcher's ack on pong-P before the
 * next one, so the watcher must see every error, in order, exactly once.
 */
#define PAIRS	2
#define PP_END	(-4095)

struct pp_done {
	int pair;
	int role;	/* 0: producer, 1: watcher */
	int rounds;
};

struct pp {
	int pair;
	int stop[2];	/* boss -> producers: one byte each: finish */
	int done[2];	/* kids -> boss: producers write their round count */
	int quit[2];	/* boss -> kids: one byte each: exit */
};

static int pp_val(int i)
{
	return -(i % 100 + 1);
}

static int pp_producer(void *arg)
{
	struct pp *pp = arg;
	struct errseq_client *c = kid_client();
	struct errseq_slot *ping, *pong;
	struct errseq_cursor *ack;
	char name[32];
	int rounds = 0;
	bool stopping = false;

	snprintf(name, sizeof(name), "ping-%d", pp->pair);
	KID_EQ(errseq_slot_open(c, name, 0, &ping), 0);
	snprintf(name, sizeof(name), "pong-%d", pp->pair);
	KID_EQ(errseq_slot_open(c, name, 0, &pong), 0);
	KID_EQ(errseq_cursor_new(pong, &ack), 0);
	while (!stopping) {
		stopping = get_byte(pp->stop[0], 0) == 0;
		rounds++;
		KID_EQ(errseq_slot_set(ping, stopping ? PP_END :
				       pp_val(rounds)), 0);
		KID_EQ(errseq_cursor_wait(ack, LONG_MS), -EPERM);
	}
	{
		struct pp_done d = { pp->pair, 0, rounds };

		KID_REQUIRE(write(pp->done[1], &d, sizeof(d)) == sizeof(d));
	}
	KID_EQ(get_byte(pp->quit[0], LONG_MS), 0);
	errseq_client_close(c);
	return 0;
}

static int pp_watcher(void *arg)
{
	struct pp *pp = arg;
	struct errseq_client *c = kid_client();
	struct errseq_slot *ping, *pong;
	struct errseq_cursor *cur;
	char name[32];
	int r, i = 0;

	snprintf(name, sizeof(name), "ping-%d", pp->pair);
	KID_EQ(errseq_slot_open(c, name, 0, &ping), 0);
	snprintf(name, sizeof(name), "pong-%d", pp->pair);
	KID_EQ(errseq_slot_open(c, name, 0, &pong), 0);
	KID_EQ(errseq_cursor_new(ping, &cur), 0);
	for (;;) {
		r = errseq_cursor_wait(cur, LONG_MS);
		i++;
		if (r == PP_END) {
			KID_EQ(errseq_slot_set(pong, -EPERM), 0);
			break;
		}
		KID_EQ(r, pp_val(i));	/* every one, in order, once */
		KID_EQ(errseq_cursor_check(cur), 0);
		KID_EQ(errseq_slot_set(pong, -EPERM), 0);
	}
	{
		struct pp_done d = { pp->pair, 1, i };

		KID_REQUIRE(write(pp->done[1], &d, sizeof(d)) == sizeof(d));
	}
	KID_EQ(get_byte(pp->quit[0], LONG_MS), 0);
	errseq_client_close(c);
	return 0;
}

static uint64_t sets_of(uint32_t index)
{
	return __atomic_load_n(&seg_slot(index)->sets_total, __ATOMIC_RELAXED);
}

static void await_sets(uint32_t index, uint64_t n)
{
	int64_t end = mono_ms() + LONG_MS;

	while (sets_of(index) < n && mono_ms() < end)
		nap_ms(5);
	ck_assert_uint_ge(sets_of(index), n);
}

START_TEST(client_daemon_restart_loses_nothing)
{
	struct pp pp[PAIRS];
	struct errseq_slot_info info;
	struct errseq_daemon_status st;
	struct errseq_slot *s;
	uint32_t ping_index[PAIRS];
	uint64_t before, inc;
	pid_t pids[2 * PAIRS];
	int stop[2], done[2], quit[2], rounds[PAIRS][2];
	char name[32];

	up(64, NULL);
	ck_assert_int_eq(pipe(stop), 0);
	ck_assert_int_eq(pipe(done), 0);
	ck_assert_int_eq(pipe(quit), 0);
	for (int p = 0; p < PAIRS; p++) {
		snprintf(name, sizeof(name), "ping-%d", p);
		s = must_open(name, ERRSEQ_CREATE);
		ping_index[p] = slot_index(s);
		errseq_slot_close(s);
		snprintf(name, sizeof(name), "pong-%d", p);
		s = must_open(name, ERRSEQ_CREATE);
		errseq_slot_close(s);
	}
	ck_assert_int_eq(errseq_status(C, &st), 0);
	inc = st.incarnation;
	seg_slot(0);
	for (int p = 0; p < PAIRS; p++) {
		pp[p] = (struct pp){ .pair = p, .stop = { stop[0], stop[1] },
				     .done = { done[0], done[1] },
				     .quit = { quit[0], quit[1] } };
		pids[2 * p] = kid(pp_producer, &pp[p]);
		pids[2 * p + 1] = kid(pp_watcher, &pp[p]);
	}
	for (int p = 0; p < PAIRS; p++)
		await_sets(ping_index[p], 50);

	/* kill -9 the daemon under the running pairs */
	ck_assert_int_gt(esdt_daemon_stop(&D, SIGKILL), 0);
	ck_assert_int_eq(errseq_status(C, &st), -ENOTCONN);
	/* they go on without it */
	for (int p = 0; p < PAIRS; p++) {
		before = sets_of(ping_index[p]);
		await_sets(ping_index[p], before + 50);
	}
	ck_assert_int_eq(esdt_daemon_restart(&D, NULL), 0);
	await_reconnect(C);
	ck_assert_int_eq(errseq_status(C, &st), 0);
	ck_assert_uint_eq(st.incarnation, inc);	/* adopted, not replaced */
	for (int p = 0; p < PAIRS; p++) {
		snprintf(name, sizeof(name), "ping-%d", p);
		await_holders(name, 2);	/* both kids registered again */
		snprintf(name, sizeof(name), "pong-%d", p);
		await_holders(name, 2);
		before = sets_of(ping_index[p]);
		await_sets(ping_index[p], before + 50);
	}

	for (int p = 0; p < PAIRS; p++)
		put_byte(stop[1]);
	memset(rounds, 0, sizeof(rounds));
	for (int k = 0; k < 2 * PAIRS; k++) {
		struct pollfd pf = { done[0], POLLIN, 0 };
		struct pp_done d;

		ck_assert_int_eq(poll(&pf, 1, LONG_MS), 1);
		ck_assert_int_eq(read(done[0], &d, sizeof(d)), sizeof(d));
		ck_assert(d.pair >= 0 && d.pair < PAIRS);
		ck_assert(d.role == 0 || d.role == 1);
		ck_assert_int_eq(rounds[d.pair][d.role], 0);
		rounds[d.pair][d.role] = d.rounds;
	}
	for (int k = 0; k < 2 * PAIRS; k++)
		put_byte(quit[1]);
	for (int k = 0; k < 2 * PAIRS; k++)
		ck_assert_int_eq(reap(pids[k]), 0);

	/* every round was set once, seen once and acknowledged once */
	for (int p = 0; p < PAIRS; p++) {
		uint64_t pings, pongs;

		ck_assert_int_eq(rounds[p][0], rounds[p][1]);

		snprintf(name, sizeof(name), "ping-%d", p);
		ck_assert_int_eq(errseq_stat(C, name, &info), 0);
		pings = info.sets_total;
		snprintf(name, sizeof(name), "pong-%d", p);
		ck_assert_int_eq(errseq_stat(C, name, &info), 0);
		pongs = info.sets_total;
		ck_assert_uint_eq(pings, (uint64_t)rounds[p][0]);
		ck_assert_uint_eq(pongs, (uint64_t)rounds[p][0]);
		ck_assert_uint_ge(pings, 150);
	}
	for (int p = 0; p < PAIRS; p++) {
		snprintf(name, sizeof(name), "ping-%d", p);
		await_holders(name, 0);
	}
	for (int i = 0; i < 2; i++) {
		close(stop[i]);
		close(done[i]);
		close(quit[i]);
	}
}
END_TEST

START_TEST(client_incarnation_change_stales_handles)
{
	static const char *const recreate[] = { "--recreate", NULL };
	struct errseq_daemon_status st;
	struct errseq_cursor *cur;
	struct errseq_slot *old, *fresh, *x;
	struct sleeper w = { 0 };
	uint64_t inc;

	up(64, NULL);
	old = must_open("inc", ERRSEQ_CREATE);
	ck_assert_int_eq(errseq_cursor_new(old, &cur), 0);
	ck_assert_int_eq(errseq_slot_set(old, -EIO), 0);
	ck_assert_int_eq(errseq_status(C, &st), 0);
	inc = st.incarnation;

	w.s = old;
	w.since = errseq_slot_peek(old);
	sleeper_start(&w);
	ck_assert(await_waiter(slot_index(old), LONG_MS));

	ck_assert_int_gt(esdt_daemon_stop(&D, SIGKILL), 0);
	ck_assert_int_eq(esdt_daemon_restart(&D, recreate), 0);
	await_reconnect(C);
	ck_assert_int_eq(errseq_status(C, &st), 0);
	ck_assert_uint_ne(st.incarnation, inc);

	/* the sleeper woke with ERRSEQ_ESTALE */
	ck_assert_int_eq(sleeper_join(&w), ERRSEQ_ESTALE);
	ck_assert_int_eq(errseq_slot_set(old, -EIO), ERRSEQ_ESTALE);
	ck_assert_int_eq(errseq_slot_check(old, 0), ERRSEQ_ESTALE);
	ck_assert_uint_eq(errseq_slot_sample(old), 0);
	ck_assert_uint_eq(errseq_slot_peek(old), 0);
	ck_assert_int_eq(errseq_cursor_check(cur), ERRSEQ_ESTALE);
	ck_assert_int_eq(errseq_slot_wait(old, 0, -1), ERRSEQ_ESTALE);

	/* the new segment is empty; a new handle works */
	ck_assert_int_eq(errseq_slot_open(C, "inc", 0, &x), -ENOENT);
	fresh = must_open("inc", ERRSEQ_CREATE);
	ck_assert_uint_eq(errseq_slot_peek(fresh), 0);
	ck_assert_int_eq(errseq_slot_set(fresh, -ENOSPC), 0);
	ck_assert_int_eq(errseq_slot_check(fresh, 0), -ENOSPC);
	ck_assert_int_eq(errseq_slot_set(old, -EIO), ERRSEQ_ESTALE);
	await_holders("inc", 1);	/* the old handle holds nothing */
	errseq_slot_close(old);		/* unmaps the old segment */
	errseq_slot_close(fresh);
}
END_TEST

/*
 * The segment pair was removed behind the daemon's back (so nobody retired
 * the old segment and woke its sleepers) and a new daemon made a new one:
 * the library itself must turn the old handles stale and wake its own
 * sleepers.
 */
START_TEST(client_segment_removed_stales_handles)
{
	struct errseq_slot *old;
	struct sleeper w = { 0 };
	char reg[96];
	uint32_t index;

	up(64, NULL);
	old = must_open("lost", ERRSEQ_CREATE);
	index = slot_index(old);
	w.s = old;
	w.since = errseq_slot_peek(old);
	sleeper_start(&w);
	ck_assert(await_waiter(index, LONG_MS));	/* maps the old one */

	ck_assert_int_gt(esdt_daemon_stop(&D, SIGKILL), 0);
	snprintf(reg, sizeof(reg), "%s%s", D.shm, ESD_REG_SUFFIX);
	ck_assert_int_eq(shm_unlink(D.shm), 0);
	ck_assert_int_eq(shm_unlink(reg), 0);
	ck_assert_int_eq(esdt_daemon_restart(&D, NULL), 0);
	await_reconnect(C);

	ck_assert_int_eq(sleeper_join(&w), ERRSEQ_ESTALE);
	ck_assert_int_eq(errseq_slot_set(old, -EIO), ERRSEQ_ESTALE);
	ck_assert_int_eq(errseq_slot_check(old, 0), ERRSEQ_ESTALE);
	/* nobody sleeps on the old segment any more */
	ck_assert_uint_eq(seg_slot(index)->waiters, 0);
	errseq_slot_close(old);
}
END_TEST

/* ------------------------------------------------------ lifetimes */

START_TEST(client_close_frees_everything)
{
	struct errseq_cursor *cur[3];
	struct errseq_slot *s[3];
	struct errseq_client *c2;
	char name[8];

	up(64, NULL);
	ck_assert_int_eq(errseq_client_open(D.sock, &c2), 0);
	for (int i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		ck_assert_int_eq(errseq_slot_open(c2, name, ERRSEQ_CREATE,
						  &s[i]), 0);
		ck_assert_int_eq(errseq_cursor_new(s[i], &cur[i]), 0);
	}
	errseq_cursor_free(cur[0]);
	errseq_slot_close(s[1]);	/* and cur[1] */
	errseq_client_close(c2);	/* s[0], s[2], cur[2] */
	await_holders("f0", 0);
	await_holders("f2", 0);
	/* our fd count is back where it was (no leaked socket or segment) */
	ck_assert_int_eq(errseq_client_open(D.sock, &c2), 0);
	{
		int before = esdt_count_fds(getpid());

		errseq_client_close(c2);
		ck_assert_int_eq(esdt_count_fds(getpid()), before - 2);
	}
}
END_TEST

static Suite *client_suite(void)
{
	Suite *s = suite_create("client");
	TCase *t;

	t = tcase_create("local");
	tcase_add_checked_fixture(t, setup, teardown);
	tcase_add_test(t, client_strerror_codes);
	tcase_add_test(t, client_default_socket_env);
	tcase_add_test(t, client_open_refusals);
	tcase_add_test(t, client_protocol_violations);
	suite_add_tcase(s, t);

	t = tcase_create("daemon");
	tcase_add_checked_fixture(t, setup, teardown);
	tcase_set_timeout(t, 120);
	tcase_add_test(t, client_status_reports_daemon);
	tcase_add_test(t, client_open_errors);
	tcase_add_test(t, client_open_enospc);
	tcase_add_test(t, client_open_emfile);
	tcase_add_test(t, client_open_eacces);
	tcase_add_test(t, client_open_eusers);
	tcase_add_test(t, client_unlink_errors);
	tcase_add_test(t, client_unlink_eperm);
	tcase_add_test(t, client_list_pages);
	tcase_add_test(t, client_stat_holders);
	tcase_add_test(t, client_set_semantics);
	tcase_add_test(t, client_stats_exact);
	tcase_add_test(t, client_stale_after_unlink);
	tcase_add_test(t, client_wait_timeout);
	tcase_add_test(t, client_wait_woken_by_set);
	tcase_add_test(t, client_wait_woken_stale_by_unlink);
	tcase_add_test(t, client_wait_eintr);
	tcase_add_test(t, client_cursor_basics);
	tcase_add_test(t, client_cursor_shared_by_threads);
	tcase_add_test(t, client_fork_child);
	tcase_add_test(t, client_story_77_supervisors);
	tcase_add_test(t, client_producers_and_watchers);
	tcase_add_test(t, client_close_frees_everything);
	suite_add_tcase(s, t);

	t = tcase_create("restart");
	tcase_add_checked_fixture(t, setup, teardown);
	tcase_set_timeout(t, 180);
	tcase_add_test(t, client_enotconn_while_down);
	tcase_add_test(t, client_daemon_restart_loses_nothing);
	tcase_add_test(t, client_incarnation_change_stales_handles);
	tcase_add_test(t, client_segment_removed_stales_handles);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(client_suite());
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
