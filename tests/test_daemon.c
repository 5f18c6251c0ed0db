/*
 * test_daemon.c - integration tests of errseqd, the daemon: every protocol
 * operation and error code (through tests/rawclient.h, exact codes), slot
 * lifecycle and holds, limits, hostile peers, restart with adoption,
 * refusal of foreign segments and --recreate, signals, and the command line.
 *
 * Each test starts the real daemon ($ERRSEQD_BIN) on its own temporary
 * socket and shm name through tests/harness.h.  Check runs every test in a
 * forked process and leaves it with _exit() when an assertion fails, which
 * skips the harness's atexit cleanup: the unchecked fixture (and a checked
 * setup) call esdt_sweep(), which removes what dead test processes left.
 * Children forked by the tests leave with _exit() for the same reason: a
 * child running the harness's atexit handler would kill the daemon.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/protocol.h"
#include "common/shm_layout.h"
#include "tests/harness.h"
#include "tests/rawclient.h"

#define WAIT_MS		10000	/* upper bound for "eventually" conditions */

/* ---- helpers ---------------------------------------------------------- */

#define CK_CODE(got, want)						\
	do {								\
		int got_ = (int)(got), want_ = (int)(want);		\
		ck_assert_msg(got_ == want_,				\
			      "%s: got %d (%s), want %d (%s)", #got,	\
			      got_, esrc_strerror(got_), want_,		\
			      esrc_strerror(want_));			\
	} while (0)

#define NAME(s)	(s), strlen(s)

static const char *daemon_bin(void)
{
	const char *b = getenv("ERRSEQD_BIN");

	return b && *b ? b : "daemon/errseqd";
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void start_daemon(struct esdt_daemon *d, unsigned slots,
			 const char *const *extra)
{
	int r = esdt_daemon_start(d, slots, extra);

	if (r < 0) {
		char log[4096];

		esdt_read_log(d, log, sizeof(log));
		ck_abort_msg("errseqd did not start: %d (%s); its log:\n%s", r,
			     esrc_strerror(r), log);
	}
}

static void restart_daemon(struct esdt_daemon *d, const char *const *extra)
{
	int r = esdt_daemon_restart(d, extra);

	if (r < 0) {
		char log[4096];

		esdt_read_log(d, log, sizeof(log));
		ck_abort_msg("errseqd did not restart: %d (%s); its log:\n%s",
			     r, esrc_strerror(r), log);
	}
}

static void conn(struct esrc *c, const struct esdt_daemon *d)
{
	int r = esrc_connect_hello(c, d->sock);

	ck_assert_msg(r == 0, "connect+HELLO: %d (%s) %s", r, esrc_strerror(r),
		      c->errmsg);
}

static struct esp_open_rep open_ok(struct esrc *c, const char *name,
				   uint32_t flags)
{
	struct esp_open_rep o;
	int r = esrc_open(c, name, strlen(name), flags, &o);

	ck_assert_msg(r == 0, "OPEN %s flags %u: %d (%s) %s", name, flags, r,
		      esrc_strerror(r), c->errmsg);
	return o;
}

static struct esp_slot_info stat_ok(struct esrc *c, const char *name)
{
	struct esp_slot_info info;
	int r = esrc_stat(c, name, strlen(name), &info);

	ck_assert_msg(r == 0, "STAT %s: %d (%s) %s", name, r, esrc_strerror(r),
		      c->errmsg);
	return info;
}

static struct esp_status_rep status_ok(struct esrc *c)
{
	struct esp_status_rep st;
	int r = esrc_status(c, &st);

	ck_assert_msg(r == 0, "STATUS: %d (%s)", r, esrc_strerror(r));
	return st;
}

/* Map the data segment passed at HELLO. */
static void *map_hello(const struct esrc *c)
{
	void *p = mmap(NULL, c->hello.seg_size, PROT_READ | PROT_WRITE,
		       MAP_SHARED, c->seg_fd, 0);

	ck_assert_msg(p != MAP_FAILED, "mmap: %s", strerror(errno));
	return p;
}

/* Map a segment by its shm name (size from fstat); *@len gets the size. */
static void *map_shm(const char *name, size_t *len)
{
	struct stat st;
	void *p;
	int fd = shm_open(name, O_RDWR, 0);

	ck_assert_msg(fd >= 0, "shm_open %s: %s", name, strerror(errno));
	ck_assert_int_eq(fstat(fd, &st), 0);
	*len = (size_t)st.st_size;
	p = mmap(NULL, *len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	ck_assert_msg(p != MAP_FAILED, "mmap %s: %s", name, strerror(errno));
	return p;
}

static uint64_t slot_word(void *base, uint32_t i)
{
	return __atomic_load_n(&esd_seg_slot(base, i)->word, __ATOMIC_ACQUIRE);
}

static void shm_path(char *buf, size_t len, const char *name,
		     const char *suffix)
{
	snprintf(buf, len, "/dev/shm%s%s", name, suffix);
}

/* Whole content of @path (malloc'd) and its size; NULL if absent. */
static char *slurp(const char *path, size_t *len)
{
	struct stat st;
	char *buf;
	size_t used = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	*len = 0;
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0) {
		close(fd);
		return NULL;
	}
	buf = malloc((size_t)st.st_size + 1);
	ck_assert_ptr_nonnull(buf);
	while (used < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + used, (size_t)st.st_size - used);

		if (n <= 0)
			break;
		used += (size_t)n;
	}
	close(fd);
	*len = used;
	return buf;
}

/* Send @len raw bytes of @req (header as given) and read the reply's
 * status; checks that it echoes @req's seq.  Returns hdr.status or an
 * ESRC_E* code. */
static int raw_call(struct esrc *c, const void *req, size_t len)
{
	union {
		struct esp_err_rep err;
		char buf[ESP_MAX_MSG];
	} u;
	struct esp_hdr h;
	ssize_t n;
	int r;

	memcpy(&h, req, sizeof(h));
	r = esrc_send(c->fd, req, len, c->timeout_ms);
	if (r < 0)
		return r == -ETIMEDOUT ? ESRC_ETIMEDOUT : ESRC_ECLOSED;
	n = esrc_recv(c->fd, &u, sizeof(u), NULL, c->timeout_ms);
	if (n == 0 || n == -ECONNRESET)
		return ESRC_ECLOSED;
	if (n == -ETIMEDOUT)
		return ESRC_ETIMEDOUT;
	if (n < (ssize_t)sizeof(struct esp_hdr))
		return ESRC_EBADREPLY;
	if (u.err.hdr.magic != ESP_MAGIC || u.err.hdr.seq != h.seq)
		return ESRC_EBADREPLY;
	if (u.err.hdr.status < 0 && n != (ssize_t)sizeof(struct esp_err_rep))
		return ESRC_EBADREPLY;
	return u.err.hdr.status;
}

/*
 * run_capture - run errseqd with @argv (argv[0] is replaced by the binary)
 * and @env_set ("NAME=value" entries, NULL-terminated, may be NULL),
 * capture stdout and stderr, wait up to @timeout_ms.  Returns the exit
 * code, 128 + signal, or -ETIMEDOUT (then killed).
 */
static int run_capture(const char **argv, const char *const *env_set,
		       char *out, size_t outlen, char *err, size_t errlen,
		       int timeout_ms)
{
	int po[2], pe[2], status = 0;
	size_t used[2] = { 0, 0 };
	int open_fds = 2;
	pid_t pid;
	struct timespec t0, t;

	ck_assert_int_eq(pipe2(po, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(pe, O_CLOEXEC), 0);
	out[0] = err[0] = '\0';
	argv[0] = daemon_bin();
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(po[1], STDOUT_FILENO);
		dup2(pe[1], STDERR_FILENO);
		unsetenv("NOTIFY_SOCKET");
		unsetenv("LISTEN_FDS");
		unsetenv("LISTEN_PID");
		for (int i = 0; env_set && env_set[i]; i++)
			putenv((char *)env_set[i]);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (open_fds > 0) {
		struct pollfd pfd[2] = { { .fd = po[0], .events = POLLIN },
					 { .fd = pe[0], .events = POLLIN } };
		long el;

		clock_gettime(CLOCK_MONOTONIC, &t);
		el = (t.tv_sec - t0.tv_sec) * 1000 +
		     (t.tv_nsec - t0.tv_nsec) / 1000000;
		if (el >= timeout_ms) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			close(po[0]);
			close(pe[0]);
			return -ETIMEDOUT;
		}
		if (poll(pfd, 2, (int)(timeout_ms - el)) <= 0)
			continue;
		for (int k = 0; k < 2; k++) {
			char *dst = k ? err : out;
			size_t cap = k ? errlen : outlen;
			char buf[512];
			ssize_t n;

			if (pfd[k].fd < 0 || !(pfd[k].revents & (POLLIN | POLLHUP)))
				continue;
			n = read(pfd[k].fd, buf, sizeof(buf));
			if (n <= 0) {
				close(k ? pe[0] : po[0]);
				if (k)
					pe[0] = -1;
				else
					po[0] = -1;
				open_fds--;
				continue;
			}
			for (ssize_t i = 0; i < n && used[k] + 1 < cap; i++)
				dst[used[k]++] = buf[i];
			dst[used[k]] = '\0';
		}
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}

/* Wait until STAT @name reports @holders holders.  Returns the last value. */
static uint32_t wait_holders(struct esrc *c, const char *name,
			     uint32_t holders)
{
	struct esp_slot_info info = { 0 };

	for (int i = 0; i < WAIT_MS / 10; i++) {
		info = stat_ok(c, name);
		if (info.holders == holders)
			break;
		sleep_ms(10);
	}
	return info.holders;
}

/* Wait until STATUS reports @clients connections.  Returns the last value. */
static uint32_t wait_clients(struct esrc *c, uint32_t clients)
{
	struct esp_status_rep st = { 0 };

	for (int i = 0; i < WAIT_MS / 10; i++) {
		st = status_ok(c);
		if (st.clients == clients)
			break;
		sleep_ms(10);
	}
	return st.clients;
}

static void sweep(void)
{
	esdt_sweep();
}

/* ---- HELLO ------------------------------------------------------------ */

START_TEST(daemon_hello_passes_segment_fd)
{
	struct esdt_daemon d;
	struct esrc c, c2;
	struct esd_seg_header *h;
	struct stat st;
	char path[128];
	void *base;

	start_daemon(&d, 16, NULL);
	conn(&c, &d);
	ck_assert_uint_eq(c.hello.version, ESP_VERSION);
	ck_assert_uint_eq(c.hello.layout_version, ESD_LAYOUT_VERSION);
	ck_assert_uint_eq(c.hello.slot_count, 16);
	ck_assert_uint_eq(c.hello.slot_stride, sizeof(struct esd_slot));
	ck_assert_uint_eq(c.hello.header_size, ESD_PAGE);
	ck_assert_int_eq((pid_t)c.hello.daemon_pid, d.pid);
	ck_assert_uint_ne(c.hello.incarnation, 0);
	ck_assert_uint_eq(c.hello.seg_size, esd_seg_size(16));

	/* The fd is the data segment, read-write, of the advertised size. */
	ck_assert_int_eq(fstat(c.seg_fd, &st), 0);
	ck_assert_uint_eq((uint64_t)st.st_size, c.hello.seg_size);
	ck_assert_uint_eq(st.st_mode & 07777, 0660);
	ck_assert_int_eq(fcntl(c.seg_fd, F_GETFL) & O_ACCMODE, O_RDWR);
	base = map_hello(&c);
	h = base;
	ck_assert_uint_eq(h->magic, ESD_SEG_MAGIC);
	ck_assert_uint_eq(h->layout_version, ESD_LAYOUT_VERSION);
	ck_assert_uint_eq(h->header_size, ESD_PAGE);
	ck_assert_uint_eq(h->slot_count, 16);
	ck_assert_uint_eq(h->slot_stride, sizeof(struct esd_slot));
	ck_assert_uint_eq(h->incarnation, c.hello.incarnation);
	ck_assert_int_eq(h->daemon_pid, d.pid);
	ck_assert_uint_eq(h->retired, 0);
	ck_assert_uint_ne(h->created_ns, 0);
	ck_assert_uint_ne(h->daemon_start_ns, 0);
	for (uint32_t i = 0; i < 16; i++)
		ck_assert_uint_eq(slot_word(base, i), 0);

	/* It is the named segment in /dev/shm; the registry is 0600. */
	shm_path(path, sizeof(path), d.shm, "");
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq((uint64_t)st.st_size, esd_seg_size(16));
	shm_path(path, sizeof(path), d.shm, ESD_REG_SUFFIX);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq((uint64_t)st.st_size, esd_reg_size(16));
	ck_assert_uint_eq(st.st_mode & 07777, 0600);

	/* HELLO may be repeated: the fd comes again. */
	CK_CODE(esrc_hello(&c), 0);
	ck_assert_int_ge(c.seg_fd, 0);
	ck_assert_int_eq(fstat(c.seg_fd, &st), 0);
	ck_assert_uint_eq((uint64_t)st.st_size, c.hello.seg_size);

	/* Every connection gets the same segment. */
	conn(&c2, &d);
	ck_assert_uint_eq(c2.hello.incarnation, c.hello.incarnation);
	ck_assert_uint_eq(c2.hello.seg_size, c.hello.seg_size);

	munmap(base, c.hello.seg_size);
	esrc_fini(&c);
	esrc_fini(&c2);
	esdt_daemon_cleanup(&d);
}
END_TEST

START_TEST(daemon_hello_version_negotiation)
{
	struct esdt_daemon d;
	struct esrc c;
	struct esp_hdr h;

	start_daemon(&d, 4, NULL);
	ck_assert_int_eq(esrc_init(&c, d.sock), 0);
	/* No overlap with version 1: refused, connection stays usable. */
	CK_CODE(esrc_hello_versions(&c, 2, 7), -EPROTONOSUPPORT);
	CK_CODE(esrc_hello_versions(&c, 0, 0), -EPROTONOSUPPORT);
	CK_CODE(esrc_hello_versions(&c, 5, 2), -EPROTONOSUPPORT);
	ck_assert_int_lt(c.seg_fd, 0);
	/* A range that includes 1 picks 1. */
	CK_CODE(esrc_hello_versions(&c, 1, 9), 0);
	ck_assert_uint_eq(c.hello.version, 1);
	ck_assert_int_ge(c.seg_fd, 0);

	/* A header with another version: -EPROTONOSUPPORT, still usable. */
	esrc_hdr(&h, ESP_OP_STATUS, 77);
	h.version = 2;
	CK_CODE(raw_call(&c, &h, sizeof(h)), -EPROTONOSUPPORT);
	h.version = 0;
	CK_CODE(raw_call(&c, &h, sizeof(h)), -EPROTONOSUPPORT);
	status_ok(&c);
	esrc_fini(&c);
	esdt_daemon_cleanup(&d);
}
END_TEST

START_TEST(daemon_op_before_hello_is_eproto)
{
	struct esdt_daemon d;
	struct esrc c;
	struct esp_list_rep *lr = malloc(ESP_MAX_MSG);

	start_daemon(&d, 4, NULL);
	ck_assert_int_eq(esrc_init(&c, d.sock), 0);
	CK_CODE(esrc_status(&c, NULL), -EPROTO);
	CK_CODE(esrc_open(&c, NAME("a"), ESP_OPEN_CREATE, NULL), -EPROTO);
	CK_CODE(esrc_close_slot(&c, 0, 1), -EPROTO);
	CK_CODE(esrc_unlink(&c, NAME("a")), -EPROTO);
	CK_CODE(esrc_stat(&c, NAME("a"), NULL), -EPROTO);
	CK_CODE(esrc_list(&c, 0, 0, lr, ESP_MAX_MSG), -EPROTO);
	CK_CODE(esrc_reattach(&c, 0, 1, NAME("a"), NULL), -EPROTO);
	/* Nothing was created, and HELLO still works afterwards. */
	CK_CODE(esrc_hello(&c), 0);
	CK_CODE(esrc_stat(&c, NAME("a"), NULL), -ENOENT);
	free(lr);
	esrc_fini(&c);
	esdt_daemon_cleanup(&d);
}
END_TEST

/* ---- OPEN, names ------------------------------------------------------ */

START_TEST(daemon_open_create_excl)
{
	struct esdt_daemon d;
	struct esrc c;
	struct esp_open_rep a, a2, a3, b;
	void *base;

	start_daemon(&d, 8, NULL);
	conn(&c, &d);
	base = map_hello(&c);
	CK_CODE(esrc_open(&c, NAME("a"), 0, NULL), -ENOENT);
	CK_CODE(esrc_open(&c, NAME("a"), ESP_OPEN_EXCL, NULL), -EINVAL);
	CK_CODE(esrc_open(&c, NAME("a"), 0x4, NULL), -EINVAL);
	CK_CODE(esrc_open(&c, NAME("a"), ESP_OPEN_CREATE | 0x80000000u, NULL),
		-EINVAL);
	CK_CODE(esrc_stat(&c, NAME("a"), NULL), -ENOENT);

	a = open_ok(&c, "a", ESP_OPEN_CREATE);
	ck_assert_uint_eq(a.created, 1);
	ck_assert_uint_lt(a.index, 8);
	ck_assert_msg(ESD_GEN_LIVE(a.gen), "gen %u must be odd", a.gen);
	ck_assert_uint_eq(slot_word(base, a.index), ESD_WORD(a.gen, 0));

	a2 = open_ok(&c, "a", ESP_OPEN_CREATE);
	ck_assert_uint_eq(a2.created, 0);
	ck_assert_uint_eq(a2.index, a.index);
	ck_assert_uint_eq(a2.gen, a.gen);
	a3 = open_ok(&c, "a", 0);
	ck_assert_uint_eq(a3.created, 0);
	ck_assert_uint_eq(a3.index, a.index);
	ck_assert_uint_eq(a3.gen, a.gen);
	CK_CODE(esrc_open(&c, NAME("a"), ESP_OPEN_CREATE | ESP_OPEN_EXCL,
			  NULL), -EEXIST);
	CK_CODE(esrc_open(&c, NAME("a"), ESP_OPEN_EXCL, NULL), -EINVAL);

	b = open_ok(&c, "b", ESP_OPEN_CREATE | ESP_OPEN_EXCL);
	ck_assert_uint_eq(b.created, 1);
	ck_assert_uint_ne(b.index, a.index);
	ck_assert_msg(ESD_GEN_LIVE(b.gen), "gen %u must be odd", b.gen);

	/* Three successful opens of a, none counted for the failures. */
	ck_assert_uint_eq(stat_ok(&c, "a").holders, 3);
	ck_assert_uint_eq(stat_ok(&c, "b").holders, 1);
	ck_assert_uint_eq(status_ok(&c).slots_used, 2);
	munmap(base, c.hello.seg_size);
	esrc_fini(&c);
	esdt_daemon_cleanup(&d);
}
END_TEST

START_TEST(daemon_names_valid_and_invalid)
{
	static const unsigned char bad[] = {
		' ', '\0', '\t', '\n', '\r', '!', '"', '#', '$', '%', '&',
		'\'', '(', ')', '*', '+', ',', ';', '<', '=', '>', '?', '[',
		'\\', ']', '^', '`', '{', '|', '}', '~', 0x01, 0x7f, 0x80,
		0xc3, 0xff,
	};
	static const size_t bad_len[] = { 0, ESD_NAME_MAX + 1, 1000,
					  UINT32_MAX };
	static char buf[ESP_MAX_MSG];
	struct esdt_daemon d;
	struct esrc c;
	struct esp_slot_info info;
	struct esp_name_req req;
	char name[ESD_NAME_MAX + 8];
	uint32_t good = 0;
	size_t len;

	start_daemon(&d, 16, NULL);
	conn(&c, &d);

	/* 1 byte, 128 bytes, and every allowed character class. */
	open_ok(&c, "x", ESP_OPEN_CREATE);
	good++;
	for (size_t i = 0; i < sizeof(name); i++)
		name[i] = "abcXYZ059._:/@-"[i % 15];
	CK_CODE(esrc_open(&c, name, ESD_NAME_MAX, ESP_OPEN_CREATE, NULL), 0);
	good++;
	CK_CODE(esrc_stat(&c, name, ESD_NAME_MAX, &info), 0);
	ck_assert_uint_eq(info.name_len, ESD_NAME_MAX);
	ck_assert_int_eq(memcmp(info.name, name, ESD_NAME_MAX), 0);
	open_ok(&c, "azAZ09._:/@-", ESP_OPEN_CREATE);
	open_ok(&c, "@", ESP_OPEN_CREATE);
	open_ok(&c, "/", ESP_OPEN_CREATE);
	open_ok(&c, "..", ESP_OPEN_CREATE);
	good += 4;

	/* Lengths 0, 129 and beyond: -EINVAL for every op that takes a name. */
	for (size_t k = 0; k < sizeof(bad_len) / sizeof(bad_len[0]); k++) {
		len = bad_len[k];
		CK_CODE(esrc_open(&c, name, len, ESP_OPEN_CREATE, NULL),
			-EINVAL);
		CK_CODE(esrc_open(&c, name, len, 0, NULL), -EINVAL);
		CK_CODE(esrc_stat(&c, name, len, NULL), -EINVAL);
		CK_CODE(esrc_unlink(&c, name, len), -EINVAL);
		CK_CODE(esrc_reattach(&c, 0, 1, name, len, NULL), -EINVAL);
	}

	/* Each byte outside [A-Za-z0-9._:/@-], at the start, middle, end. */
	for (size_t k = 0; k < sizeof(bad); k++)
		for (int pos = 0; pos < 5; pos += 2) {
			char n[5] = { 'a', 'b', 'c', 'd', 'e' };

			n[pos] = (char)bad[k];
			ck_assert_msg(esrc_open(&c, n, 5, ESP_OPEN_CREATE,
						NULL) == -EINVAL,
				      "byte 0x%02x at %d accepted", bad[k], pos);
			CK_CODE(esrc_stat(&c, n, 5, NULL), -EINVAL);
			CK_CODE(esrc_unlink(&c, n, 5), -EINVAL);
		}

	/* Bytes of the name field past name_len are ignored. */
	memset(&req, '!', sizeof(req));
	req.flags = ESP_OPEN_CREATE;
	req.name_len = 3;
	memcpy(req.name, "abc", 3);
	CK_CODE(esrc_request(&c, ESP_OP_OPEN, &req, sizeof(req), buf,
			     sizeof(buf), &len, NULL), 0);
	ck_assert_uint_eq(len, sizeof(struct esp_open_rep));
	good++;
	info = stat_ok(&c, "abc");
	ck_assert_uint_eq(info.name_len, 3);

	ck_assert_uint_eq(status_ok(&c).slots_used, good);
	esrc_fini(&c);
	esdt_daemon_cleanup(&d);
}
END_TEST

START_TEST(daemon_stat_and_status_report)
{
	struct esdt_daemon d;
	struct esrc c, c2;
	struct esp_slot_info info;
	struct esp_status_rep st, st2;
	struct esp_name_req req = { .flags = 1, .name_len = 1, .name = "s" };
	struct esp_open_rep o;
	struct esd_slot *slot;
	struct timespec ts;
	char buf[512];
	void *base;

	start_daemon(&d, 8, NULL);
	conn(&c, &d);
	base = map_hello(&c);
	o = open_ok(&c, "s", ESP_OPEN_CREATE);
	info = stat_ok(&c, "s");
	ck_assert_uint_eq(info.index, o.index);
	ck_assert_uint_eq(info.gen, o.gen);
	ck_assert_uint_eq(info.creator_uid, geteuid());
	ck_assert_uint_eq(info.holders, 1);
	clock_gettime(CLOCK_REALTIME, &ts);
	ck_assert_uint_ne(info.created_ns, 0);
	ck_assert_uint_le(info.created_ns,
			  (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec);
	ck_assert_uint_eq(info.word, ESD_WORD(o.gen, 0));
	ck_assert_uint_eq(info.sets_total, 0);
	ck_assert_uint_eq(info.last_set_ns, 0);
	ck_assert_int_eq(info.last_pid, 0);
	ck_assert_uint_eq(info.name_len, 1);
	ck_assert_int_eq(info.name[0], 's');

	/* What producers wrote in the segment is reported, and STAT has no
	 * side effect on the word (no SEEN set). */
	slot = esd_seg_slot(base, o.index);
	__atomic_store_n(&slot->word, ESD_WORD(o.gen, 5), __ATOMIC_SEQ_CST);
	__atomic_store_n(&slot->sets_total, 3, __ATOMIC_RELAXED);
	__atomic_store_n(&slot->last_set_ns, 12345, __ATOMIC_RELAXED);
	__atomic_store_n(&slot->last_pid, 4321, __ATOMIC_RELAXED);
	info = stat_ok(&c, "s");
	ck_assert_uint_eq(info.word, ESD_WORD(o.gen, 5));
	ck_assert_uint_eq(info.sets_total, 3);
	ck_assert_uint_eq(info.last_set_ns, 12345);
	ck_assert_int_eq(info.last_pid, 4321);
	ck_assert_uint_eq(slot_word(base, o.index), ESD_WORD(o.gen, 5));

	CK_CODE(esrc_stat(&c, NAME("nope"), NULL), -ENOENT);
	/* STAT takes no flags. */
	CK_CODE(esrc_request(&c, ESP_OP_STAT, &req, sizeof(req), buf,
			     sizeof(buf), NULL, NULL), -EINVAL);

	st = status_ok(&c);
	ck_assert_int_eq((pid_t)st.pid, d.pid);
	ck_assert_uint_eq(st.slot_count, 8);
	ck_assert_uint_eq(st.slots_used, 1);
	ck_assert_uint_eq(st.slots_held, 0);
	ck_assert_uint_eq(st.clients, 1);
	ck_assert_uint_eq(st.max_clients, 4096);
	ck_assert_uint_eq(st.incarnation, c.hello.incarnation);
	ck_assert_uint_eq(st.seg_size, c.hello.seg_size);
	ck_assert_uint_ne(st.start_ns, 0);
	ck_assert_msg(memchr(st.version, '\0', sizeof(st.version)) != NULL,
		      "version not NUL-terminated");
	ck_assert_str_eq(st.version, PACKAGE_VERSION);

	conn(&c2, &d);
	ck_assert_uint_eq(wait_clients(&c, 2), 2);
	st2 = status_ok(&c2);
	ck_assert_uint_ge(st2.uptime_ns, st.uptime_ns);
	ck_assert_uint_eq(st2.start_ns, st.start_ns);
	munmap(base, c.hello.seg_size);
	esrc_fini(&c);
	esrc_fini(&c2);
	esdt_daemon_cleanup(&d);
}
END_TEST

/* ---- CLOSE, UNLINK, holds, reuse ------------------------------------- */

START_TEST(daemon_close_releases_holds)
{
	struct esdt_daemon d;
	struct esrc a, b;
	struct esp_open_rep x, y;

	start_daemon(&d, 8, NULL);
	conn(&a, &d);
	conn(&b, &d);
	x = open_ok(&a, "x", ESP_OPEN_CREATE);
	open_ok(&a, "x", 0);
	y = open_ok(&b, "y", ESP_OPEN_CREATE);
	ck_assert_uint_eq(stat_ok(&a, "x").holders, 2);
	CK_CODE(esrc_close_slot(&a, x.index, x.gen), 0);
	ck_assert_uint_eq(stat_ok(&a, "x").holders, 1);
	CK_CODE(esrc_close_slot(&a, x.index, x.gen), 0);
	ck_assert_uint_eq(stat_ok(&a, "x").holders, 0);
	/* No hold left on this connection. */
	CK_CODE(esrc_close_slot(&a, x.index, x.gen), -EBADF);
	/* A slot only another connection holds. */
	CK_CODE(esrc_close_slot(&a, y.index, y.gen), -EBADF);
	ck_assert_uint_eq(stat_ok(&a, "y").holders, 1);
	/* Indexes never used, or beyond the segment. */
	CK_CODE(esrc_close_slot(&a, 7, 1), -EBADF);
	CK_CODE(esrc_close_slot(&a, 8, 1), -EBADF);
	CK_CODE(esrc_close_slot(&a, UINT32_MAX, 1), -EBADF);
	/* The slot stays; b's hold is unaffected and releasable. */
	stat_ok(&a, "x");
	CK_CODE(esrc_close_slot(&b, y.index, y.gen), 0);
	ck_assert_uint_eq(stat_ok(&a, "y").holders, 0);
	esrc_fini(&a);
	esrc_fini(&b);
	esdt_daemon_cleanup(&d);
}
END_TEST

START_TEST(daemon_unlink_invalidates_slot)
{
	struct esdt_daemon d;
	struct esrc c;
	struct esp_open_rep x, y;
	struct esp_status_rep st;
	void *base;

	start_daemon(&d, 8, NULL);
	conn(&c, &d);
	base = map_hello(&c);
	x = open_ok(&c, "x", ESP_OPEN_CREATE);
	__atomic_store_n(&esd_seg_slot(base, x.index)->word,
			 ESD_WORD(x.gen, 5), __ATOMIC_SEQ_CST);
	CK_CODE(esrc_unlink(&c, NAME("x")), 0);
	/* Generation to even, value complemented (wakes futex sleepers). */
	ck_assert_uint_eq(slot_word(base, x.index),
			  ESD_WORD(x.gen + 1, ~(uint32_t)5));
	CK_CODE(esrc_stat(&c, NAME("x"), NULL), -ENOENT);
	CK_CODE(esrc_unlink(&c, NAME("x")), -ENOENT);
	CK_CODE(esrc_open(&c, NAME("x"), 0, NULL), -ENOENT);
	CK_CODE(esrc_reattach(&c, x.index, x.gen, NAME("x"), NULL), -ESTALE);
	st = status_ok(&c);
	ck_assert_uint_eq(st.slots_used, 0);
	ck_assert_uint_eq(st.slots_held, 1);
	/* The hold on the deleted slot is released with its old identity. */
	CK_CODE(esrc_close_slot(&c, x.index, x.gen), 0);
	ck_assert_uint_eq(status_ok(&c).slots_held, 0);
	CK_CODE(esrc_close_slot(&c, x.index, x.gen), -EBADF);
	CK_CODE(esrc_unlink(&c, NAME("never")), -ENOENT);
	CK_CODE(esrc_unlink(&c, NAME("bad name")), -EINVAL);

	/* Re-created: a new generation, value reset. */
	y = open_ok(&c, "x", ESP_OPEN_CREATE);
	ck_assert_uint_eq(y.created, 1);
	ck_assert_msg(ESD_GEN_LIVE(y.gen), "gen %u must be odd", y.gen);
	ck_assert_msg(y.index != x.index || y.gen == x.gen + 2,
		      "index %u reused with gen %u after gen %u", y.index,
		      y.gen, x.gen);
	ck_assert_uint_eq(slot_word(base, y.index), ESD_WORD(y.gen, 0));
	munmap(base, c.hello.seg_size);
	esrc_fini(&c);
	esdt_daemon_cleanup(&d);
}
END_TEST

START_TEST(daemon_enospc_and_held_index_not_reused)
{
	struct esdt_daemon d;
	struct esrc a, b;
	struct esp_open_rep s[4], n1, n2;
	struct esp_status_rep st;
	char name[16];
	int r = 0;

	start_daemon(&d, 4, NULL);
	conn(&a, &d);
	conn(&b, &d);
	for (int i = 0; i < 4; i++) {
		snprintf(name, sizeof(name), "s%d", i);
		s[i] = open_ok(&a, name, ESP_OPEN_CREATE);
	}
	CK_CODE(esrc_open(&a, NAME("s4"), ESP_OPEN_CREATE, NULL), -ENOSPC);
	CK_CODE(esrc_open(&a, NAME("s4"), ESP_OPEN_CREATE | ESP_OPEN_EXCL,
			  NULL), -ENOSPC);
	CK_CODE(esrc_open(&a, NAME("s4"), 0, NULL), -ENOENT);
	ck_assert_uint_eq(status_ok(&a).slots_used, 4);
	/* Existing slots still open when full. */
	open_ok(&b, "s0", 0);

	/* s1 deleted while a holds it: its index stays out of use. */
	CK_CODE(esrc_unlink(&a, NAME("s1")), 0);
	st = status_ok(&a);
	ck_assert_uint_eq(st.slots_used, 3);
	ck_assert_uint_eq(st.slots_held, 1);
	CK_CODE(esrc_open(&a, NAME("n1"), ESP_OPEN_CREATE, NULL), -ENOSPC);
	CK_CODE(esrc_close_slot(&a, s[1].index, s[1].gen), 0);
	ck_assert_uint_eq(status_ok(&a).slots_held, 0);
	n1 = open_ok(&a, "n1", ESP_OPEN_CREATE);
	ck_assert_uint_eq(n1.index, s[1].index);
	ck_assert_uint_eq(n1.gen, s[1].gen + 2);

	/* s2 also held by b: released when b's connection goes away. */
	open_ok(&b, "s2", 0);
	CK_CODE(esrc_unlink(&a, NAME("s2")), 0);
	CK_CODE(esrc_close_slot(&a, s[2].index, s[2].gen), 0);
	CK_CODE(esrc_open(&a, NAME("n2"), ESP_OPEN_CREATE, NULL), -ENOSPC);
	ck_assert_uint_eq(status_ok(&a).slots_held, 1);
	esrc_fini(&b);
	for (int i = 0; i < WAIT_MS / 10; i++) {
		r = esrc_open(&a, NAME("n2"), ESP_OPEN_CREATE, &n2);
		if (r != -ENOSPC)
			break;
		sleep_ms(10);
	}
	CK_CODE(r, 0);
	ck_assert_uint_eq(n2.index, s[2].index);
	ck_assert_uint_eq(status_ok(&a).slots_held, 0);
	esrc_fini(&a);
	esdt_daemon_cleanup(&d);
}
END_TEST

START_TEST(daemon_free_list_is_fifo)
{
	struct esdt_daemon d;
	struct esrc c;
	struct esp_open_rep a, x[4];
	char name[16];

	start_daemon(&d, 4, NULL);
	conn(&c, &d);
	a = open_ok(&c, "a", ESP_OPEN_CREATE);
	CK_CODE(esrc_close_slot(&c, a.index, a.gen), 0);
	CK_CODE(esrc_unlink(&c, NAME("a")), 0);
	/* The freed index goes to the tail: every other free index first. */
	for (int k = 0; k < 4; k++) {
		snprintf(name, sizeof(name), "f%d", k);
		x[k] = open_ok(&c, name, ESP_OPEN_CREATE);
		if (k < 3)
			ck_assert_msg(x[k].index != a.index,
				      "create %d reused freed index %u early",
				      k, a.index);
	}
	ck_assert_uint_eq(x[3].index, a.index);
	ck_assert_uint_eq(x[3].gen, a.gen + 2);
	CK_CODE(esrc_open(&c, NAME("f4"), ESP_OPEN_CREATE, NULL), -ENOSPC);
	esrc_fini(&c);
	esdt_daemon_cleanup(&d);
}
END_TEST

START_TEST(daemon_max_open_is_emfile)
{
	static const char *const extra[] = { "--max-open", "3", NULL };
	struct esdt_daemon d;
	struct esrc a, b;
	struct esp_open_rep oa, ob;

	start_daemon(&d, 8, extra);
	conn(&a, &d);
	conn(&b, &d);
	oa = open_ok(&a, "a", ESP_OPEN_CREATE);
	ob = open_ok(&a, "b", ESP_OPEN_CREATE);
	open_ok(&a, "c", ESP_OPEN_CREATE);
	CK_CODE(esrc_open(&a, NAME("d"), ESP_OPEN_CREATE, NULL), -EMFILE);
	CK_CODE(esrc_stat(&a, NAME("d"), NULL), -ENOENT);
	CK_CODE(esrc_open(&a, NAME("a"), 0, NULL), -EMFILE);
	CK_CODE(esrc_reattach(&a, oa.index, oa.gen, NAME("a"), NULL), -EMFILE);
	ck_assert_uint_eq(stat_ok(&a, "a").holders, 1);
	/* The limit is per connection. */
	open_ok(&b, "d", ESP_OPEN_CREATE);
	/* Releasing one makes room. */
	CK_CODE(esrc_close_slot(&a, ob.index, ob.gen), 0);
	open_ok(&a, "d", 0);
	CK_CODE(esrc_open(&a, NAME("b"), 0, NULL), -EMFILE);
	esrc_fini(&a);
	esrc_fini(&b);
	esdt_daemon_cleanup(&d);
}
END_TEST

START_TEST(daemon_holds_released_when_client_killed)
{
	struct esdt_daemon d;
	struct esrc c;
	int p[2], r = -1, status;
	pid_t pid;

	start_daemon(&d, 8, NULL);
	conn(&c, &d);
	open_ok(&c, "k", ESP_OPEN_CREATE);
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct esrc cc;

		close(p[0]);
		r = esrc_connect_hello(&cc, d.sock);
		if (r == 0)
			r = esrc_open(&cc, NAME("k"), 0, NULL);
		if (r == 0)
			r = esrc_open(&cc, NAME("k"), 0, NULL);
		if (r == 0)
			r = esrc_open(&cc, NAME("k2"), ESP_OPEN_CREATE, NULL);
		if (write(p[1], &r, sizeof(r)) != sizeof(r))
			_exit(1);
		pause();
		_exit(0);
	}
	close(p[1]);
	ck_assert_int_eq(read(p[0], &r, sizeof(r)), (ssize_t)sizeof(r));
	close(p[0]);
	CK_CODE(r, 0);
	ck_assert_uint_eq(stat_ok(&c, "k").holders, 3);
	ck_assert_uint_eq(stat_ok(&c, "k2").holders, 1);
	ck_assert_uint_eq(status_ok(&c).clients, 2);

	kill(pid, SIGKILL);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_uint_eq(wait_holders(&c, "k", 1), 1);
	ck_assert_uint_eq(wait_holders(&c, "k2", 0), 0);
	ck_assert_uint_eq(wait_clients(&c, 1), 1);
	/* Dropping holds deletes nothing. */
	ck_assert_uint_eq(status_ok(&c).slots_used, 2);
	esrc_fini(&c);
	esdt_daemon_cleanup(&d);
}
END_TEST

START_TEST(daemon_unlink_permissions)
{
	static const char *const extra[] = { "--mode", "0666", NULL };
	struct esdt_daemon d;
	struct esrc c;
	struct {
		int hello, unlink_root, create_a, create_b, unlink_own;
	} res;
	int p[2], status;
	pid_t pid;

	if (geteuid() != 0) {
		printf("daemon_unlink_permissions: skipped (needs root)\n");
		return;
	}
	start_daemon(&d, 8, extra);
	conn(&c, &d);
	open_ok(&c, "root-slot", ESP_OPEN_CREATE);
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct esrc cc;

		close(p[0]);
		memset(&res, 0x7f, sizeof(res));
		if (setgroups(0, NULL) < 0 || setgid(65534) < 0 ||
		    setuid(65534) < 0)
			_exit(90);
		res.hello = esrc_connect_hello(&cc, d.sock);
		res.unlink_root = esrc_unlink(&cc, NAME("root-slot"));
		res.create_a = esrc_open(&cc, NAME("nobody-a"),
					 ESP_OPEN_CREATE, NULL);
		res.create_b = esrc_open(&cc, NAME("nobody-b"),
					 ESP_OPEN_CREATE, NULL);
		res.unlink_own = esrc_unlink(&cc, NAME("nobody-a"));
		if (write(p[1], &res, sizeof(res)) != sizeof(res))
			_exit(1);
		_exit(0);
	}
	close(p[1]);
	ck_assert_int_eq(read(p[0], &res, sizeof(res)), (ssize_t)sizeof(res));
	close(p[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "child status %d", status);
	CK_CODE(res.hello, 0);
	CK_CODE(res.unlink_root, -EPERM);
	CK_CODE(res.create_a, 0);
	CK_CODE(res.create_b, 0);
	CK_CODE(res.unlink_own, 0);
	stat_ok(&c, "root-slot");
	CK_CODE(esrc_stat(&c, NAME("nobody-a"), NULL), -ENOENT);
	ck_assert_uint_eq(stat_ok(&c, "nobody-b").creator_uid, 65534);
	/* Root may delete anyone's slot. */
	CK_CODE(esrc_unlink(&c, NAME("nobody-b")), 0);
	esrc_fini(&c);
	esdt_daemon_cleanup(&d);
}
END_TEST

START_TEST(daemon_reattach)
{
	struct esdt_daemon d;
	struct esrc a, b;
	struct esp_open_rep r, o;

	start_daemon(&d, 8, NULL);
	conn(&a, &d);
	conn(&b, &d);
	r = open_ok(&a, "r", ESP_OPEN_CREATE);
	open_ok(&a, "s", ESP_OPEN_CREATE);
	CK_CODE(esrc_reattach(&b, r.index, r.gen, NAME("r"), &o), 0);
	ck_assert_uint_eq(o.index, r.index);
	ck_assert_uint_eq(o.gen, r.gen);
	ck_assert_uint_eq(o.created, 0);
	ck_assert_uint_eq(stat_ok(&a, "r").holders, 2);

	CK_CODE(esrc_reattach(&b, r.index, r.gen + 2, NAME("r"), NULL),
		-ESTALE);
	CK_CODE(esrc_reattach(&b, r.index, r.gen + 1, NAME("r"), NULL),
		-ESTALE);
	CK_CODE(esrc_reattach(&b, r.index, r.gen, NAME("q"), NULL), -ESTALE);
	CK_CODE(esrc_reattach(&b, r.index, r.gen, NAME("rr"), NULL), -ESTALE);
	CK_CODE(esrc_reattach(&b, r.index, r.gen, NAME("s"), NULL), -ESTALE);
	CK_CODE(esrc_reattach(&b, 999, r.gen, NAME("r"), NULL), -ESTALE);
	CK_CODE(esrc_reattach(&b, r.index, r.gen, NAME("bad name"), NULL),
		-EINVAL);
	ck_assert_uint_eq(stat_ok(&a, "r").holders, 2);

	CK_CODE(esrc_unlink(&a, NAME("r")), 0);
	CK_CODE(esrc_reattach(&b, r.index, r.gen, NAME("r"), NULL), -ESTALE);
	/* The reattached hold is a hold like any other. */
	CK_CODE(esrc_close_slot(&b, r.index, r.gen), 0);
	CK_CODE(esrc_close_slot(&b, r.index, r.gen), -EBADF);
	esrc_fini(&a);
	esrc_fini(&b);
	esdt_daemon_cleanup(&d);
}
END_TEST

START_TEST(daemon_list_pages)
{
	struct esdt_daemon d;
	struct esrc c;
	struct esp_list_rep *lr = malloc(ESP_MAX_MSG);
	uint32_t pos, seen, last;
	char name[16];
	const uint32_t n = ESP_LIST_MAX + 44;

	ck_assert_ptr_nonnull(lr);
	start_daemon(&d, 512, NULL);
	conn(&c, &d);
	for (uint32_t i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "l%u", i);
		open_ok(&c, name, ESP_OPEN_CREATE);
	}
	CK_CODE(esrc_unlink(&c, NAME("l3")), 0);

	/* max 0 means ESP_LIST_MAX; pages continue at next. */
	CK_CODE(esrc_list(&c, 0, 0, lr, ESP_MAX_MSG), 0);
	ck_assert_uint_eq(lr->count, ESP_LIST_MAX);
	ck_assert_uint_ne(lr->next, ESP_LIST_END);
	CK_CODE(esrc_list(&c, 0, 100000, lr, ESP_MAX_MSG), 0);
	ck_assert_uint_eq(lr->count, ESP_LIST_MAX);

	/* Small pages: every live slot exactly once, in index order. */
	pos = 0;
	seen = 0;
	last = 0;
	do {
		CK_CODE(esrc_list(&c, pos, 7, lr, ESP_MAX_MSG), 0);
		ck_assert_uint_le(lr->count, 7);
		for (uint32_t i = 0; i < lr->count; i++) {
			const struct esp_slot_info *e = &lr->entries[i];

			ck_assert_uint_ge(e->index, pos);
			if (seen)
				ck_assert_uint_gt(e->index, last);
			last = e->index;
			ck_assert_msg(ESD_GEN_LIVE(e->gen), "dead slot listed");
			ck_assert_uint_eq(e->holders, 1);
			ck_assert_uint_eq(ESD_WORD_GEN(e->word), e->gen);
			ck_assert_msg(!(e->name_len == 2 &&
					!memcmp(e->name, "l3", 2)),
				      "deleted slot listed");
			seen++;
		}
		ck_assert_msg(lr->next == ESP_LIST_END || lr->next > pos,
			      "next %u does not advance from %u", lr->next, pos);
		pos = lr->next;
	} while (pos != ESP_LIST_END);
	ck_assert_uint_eq(seen, n - 1);

	/* Past the end. */
	CK_CODE(esrc_list(&c, 512, 0, lr, ESP_MAX_MSG), 0);
	ck_assert_uint_eq(lr->count, 0);
	ck_assert_uint_eq(lr->next, ESP_LIST_END);
	CK_CODE(esrc_list(&c, UINT32_MAX - 1, 0, lr, ESP_MAX_MSG), 0);
	ck_assert_uint_eq(lr->count, 0);
	ck_assert_uint_eq(lr->next, ESP_LIST_END);
	free(lr);
	esrc_fini(&c);
	esdt_daemon_cleanup(&d);
}
END_TEST

/* ---- malformed and hostile requests ----------------------------------- */

START_TEST(daemon_bad_requests_get_error_replies)
{
	static const struct {
		uint16_t op;
		size_t len;
	} bad_size[] = {
		{ ESP_OP_OPEN, 16 }, { ESP_OP_OPEN, 151 }, { ESP_OP_OPEN, 153 },
		{ ESP_OP_CLOSE, 16 }, { ESP_OP_CLOSE, 23 }, { ESP_OP_CLOSE, 25 },
		{ ESP_OP_UNLINK, 151 }, { ESP_OP_UNLINK, 153 },
		{ ESP_OP_STAT, 16 }, { ESP_OP_STAT, 252 },
		{ ESP_OP_LIST, 16 }, { ESP_OP_LIST, 23 }, { ESP_OP_LIST, 25 },
		{ ESP_OP_STATUS, 17 }, { ESP_OP_STATUS, 24 },
		{ ESP_OP_STATUS, ESP_MAX_MSG },
		{ ESP_OP_REATTACH, 16 }, { ESP_OP_REATTACH, 159 },
		{ ESP_OP_REATTACH, 161 },
	};
	static const uint16_t bad_op[] = { 0, ESP_OP_MAX_, 10, 0x7fff, 0xffff };
	static char buf[ESP_MAX_MSG];
	struct esdt_daemon d;
	struct esrc c, f;
	struct esp_name_req req;
	uint32_t seq = 1000;

	start_daemon(&d, 4, NULL);

	/* HELLO of the wrong size, before any HELLO. */
	ck_assert_int_eq(esrc_init(&f, d.sock), 0);
	memset(buf, 0, sizeof(buf));
	for (size_t len = 16; len <= 32; len += 4) {
		if (len == sizeof(struct esp_hello_req))
			continue;
		esrc_hdr((struct esp_hdr *)buf, ESP_OP_HELLO, seq++);
		((struct esp_hello_req *)buf)->min_version = 1;
		((struct esp_hello_req *)buf)->max_version = 1;
		CK_CODE(raw_call(&f, buf, len), -EBADMSG);
	}
	CK_CODE(esrc_hello(&f), 0);
	esrc_fini(&f);

	conn(&c, &d);
	for (size_t k = 0; k < sizeof(bad_size) / sizeof(bad_size[0]); k++) {
		int r;

		memset(buf, 0, sizeof(buf));
		esrc_hdr((struct esp_hdr *)buf, bad_size[k].op, seq++);
		r = raw_call(&c, buf, bad_size[k].len);
		ck_assert_msg(r == -EBADMSG, "op %u, %zu bytes: %d (%s)",
			      bad_size[k].op, bad_size[k].len, r,
			      esrc_strerror(r));
	}
	/* A request with a non-zero status. */
	memset(buf, 0, sizeof(buf));
	esrc_hdr((struct esp_hdr *)buf, ESP_OP_STATUS, seq++);
	((struct esp_hdr *)buf)->status = -5;
	CK_CODE(raw_call(&c, buf, sizeof(struct esp_hdr)), -EBADMSG);
	((struct esp_hdr *)buf)->status = 1;
	CK_CODE(raw_call(&c, buf, sizeof(struct esp_hdr)), -EBADMSG);
	memset(&req, 0, sizeof(req));
	esrc_hdr(&req.hdr, ESP_OP_OPEN, seq++);
	req.hdr.status = -1;
	req.flags = ESP_OPEN_CREATE;
	req.name_len = 1;
	req.name[0] = 'z';
	CK_CODE(raw_call(&c, &req, sizeof(req)), -EBADMSG);
	CK_CODE(esrc_stat(&c, NAME("z"), NULL), -ENOENT);

	/* Unknown ops, of header size and larger. */
	for (size_t k = 0; k < sizeof(bad_op) / sizeof(bad_op[0]); k++) {
		memset(buf, 0, sizeof(buf));
		esrc_hdr((struct esp_hdr *)buf, bad_op[k], seq++);
		CK_CODE(raw_call(&c, buf, sizeof(struct esp_hdr)), -EOPNOTSUPP);
		esrc_hdr((struct esp_hdr *)buf, bad_op[k], seq++);
		CK_CODE(raw_call(&c, buf, 200), -EOPNOTSUPP);
	}
	/* The connection is still served normally. */
	ck_assert_uint_eq(status_ok(&c).slots_used, 0);
	open_ok(&c, "fine", ESP_OPEN_CREATE);
	esrc_fini(&c);
	esdt_daemon_cleanup(&d);
}
END_TEST

/* Hostile packets that make the daemon close the connection; _i picks one,
 * sent before HELLO (even _i) or after (odd _i). */
START_TEST(daemon_closes_hostile_peer)
{
	static char buf[ESP_MAX_MSG + 64];
	struct esdt_daemon d;
	struct esrc good, h, fresh;
	int kind = _i / 2, after_hello = _i % 2;
	unsigned seed = 12345u + (unsigned)_i;
	size_t len = 0;

	start_daemon(&d, 4, NULL);
	conn(&good, &d);
	for (int round = 0; round < (kind == 4 ? 16 : 1); round++) {
		ck_assert_int_eq(esrc_init(&h, d.sock), 0);
		if (after_hello)
			CK_CODE(esrc_hello(&h), 0);
		memset(buf, 0, sizeof(buf));
		esrc_hdr((struct esp_hdr *)buf, ESP_OP_STATUS, 1);
		switch (kind) {
		case 0:		/* empty packet */
			len = 0;
			break;
		case 1:		/* a truncated header */
			len = 8;
			break;
		case 2:
			len = sizeof(struct esp_hdr) - 1;
			break;
		case 3:		/* bad magic */
			((struct esp_hdr *)buf)->magic = ESP_MAGIC ^ 0x100;
			len = sizeof(struct esp_hdr);
			break;
		case 4:		/* random bytes, any length */
			len = 1 + (size_t)rand_r(&seed) % 3000;
			for (size_t i = 0; i < len; i++)
				buf[i] = (char)rand_r(&seed);
			if (len >= 4 && ((struct esp_hdr *)buf)->magic ==
					ESP_MAGIC)
				buf[0] ^= 1;
			break;
		case 5:		/* larger than ESP_MAX_MSG */
			len = ESP_MAX_MSG + 1;
			break;
		}
		CK_CODE(esrc_send(h.fd, buf, len, WAIT_MS), 0);
		ck_assert_msg(esrc_wait_closed(h.fd, WAIT_MS) == 0,
			      "kind %d (%zu bytes, hello %d): still open",
			      kind, len, after_hello);
		esrc_fini(&h);
		/* A well-behaved client is still served. */
		status_ok(&good);
		conn(&fresh, &d);
		open_ok(&fresh, "ok", ESP_OPEN_CREATE);
		esrc_fini(&fresh);
	}
	ck_assert_uint_eq(wait_clients(&good, 1), 1);
	esrc_fini(&good);
	esdt_daemon_cleanup(&d);
}
END_TEST

/* Send @req (@len bytes) with @n fds attached by SCM_RIGHTS. */
static void send_with_fds(int sock, const void *req, size_t len,
			  const int *fds, int n)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(8 * sizeof(int))];
	} ctl;
	struct iovec iov = { .iov_base = (void *)req, .iov_len = len };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = ctl.buf,
		.msg_controllen = CMSG_SPACE((size_t)n * sizeof(int)),
	};
	struct cmsghdr *cm;

	memset(&ctl, 0, sizeof(ctl));
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN((size_t)n * sizeof(int));
	memcpy(CMSG_DATA(cm), fds, (size_t)n * sizeof(int));
	ck_assert_int_eq(sendmsg(sock, &msg, MSG_NOSIGNAL), (ssize_t)len);
}

START_TEST(daemon_leaks_no_fds)
{
	struct esdt_daemon d;
	struct esrc c, x;
	struct esp_hdr req;
	struct esp_status_rep rep;
	int base, p[2], fds[3];

	start_daemon(&d, 4, NULL);
	conn(&c, &d);
	base = esdt_count_fds(d.pid);
	ck_assert_int_gt(base, 0);

	/* Fds a peer passes are closed unread. */
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	fds[0] = p[0];
	fds[1] = p[1];
	fds[2] = c.seg_fd;
	for (uint32_t i = 0; i < 10; i++) {
		esrc_hdr(&req, ESP_OP_STATUS, 900 + i);
		send_with_fds(c.fd, &req, sizeof(req), fds, 3);
		ck_assert_int_eq(esrc_recv(c.fd, &rep, sizeof(rep), NULL,
					   WAIT_MS), (ssize_t)sizeof(rep));
		ck_assert_int_eq(rep.hdr.status, 0);
		ck_assert_uint_eq(rep.hdr.seq, 900 + i);
	}
	close(p[0]);
	close(p[1]);
	ck_assert_int_eq(esdt_count_fds(d.pid), base);

	/* Connections that come and go, cleanly or closed by the daemon. */
	for (int i = 0; i < 100; i++) {
		conn(&x, &d);
		open_ok(&x, "leak", ESP_OPEN_CREATE);
		esrc_fini(&x);
	}
	for (int i = 0; i < 20; i++) {
		ck_assert_int_eq(esrc_init(&x, d.sock), 0);
		CK_CODE(esrc_send(x.fd, "junk", 4, WAIT_MS), 0);
		ck_assert_int_eq(esrc_wait_closed(x.fd, WAIT_MS), 0);
		esrc_fini(&x);
	}
	ck_assert_uint_eq(wait_clients(&c, 1), 1);
	ck_assert_int_eq(esdt_count_fds(d.pid), base);
	ck_assert_uint_eq(stat_ok(&c, "leak").holders, 0);
	esrc_fini(&c);
	esdt_daemon_cleanup(&d);
}
END_TEST

START_TEST(daemon_closes_peer_not_reading)
{
	struct esdt_daemon d;
	struct esrc c, good;
	struct esp_hdr req;
	int r = 0;
	long sent = 0;

	start_daemon(&d, 4, NULL);
	conn(&good, &d);
	conn(&c, &d);
	/* Requests, never reading a reply, until the daemon gives up. */
	for (sent = 0; sent < 1000000; sent++) {
		esrc_hdr(&req, ESP_OP_STATUS, (uint32_t)sent);
		r = esrc_send(c.fd, &req, sizeof(req), 2000);
		if (r < 0)
			break;
	}
	ck_assert_msg(r == -EPIPE || r == -ECONNRESET || r == -ETIMEDOUT,
		      "after %ld requests: send %d (%s)", sent, r,
		      esrc_strerror(r));
	ck_assert_msg(esrc_wait_closed(c.fd, WAIT_MS) == 0,
		      "daemon kept a peer that does not read (%ld sent, %s)",
		      sent, esrc_strerror(r));
	esrc_fini(&c);
	status_ok(&good);
	ck_assert_uint_eq(wait_clients(&good, 1), 1);
	esrc_fini(&good);
	esdt_daemon_cleanup(&d);
}
END_TEST

START_TEST(daemon_max_clients_is_eusers)
{
	static const char *const extra[] = { "--max-clients", "3", NULL };
	struct esdt_daemon d;
	struct esrc c[3];
	struct esp_err_rep er;
	ssize_t n;
	int fd;

	start_daemon(&d, 4, extra);
	for (int i = 0; i < 3; i++)
		conn(&c[i], &d);
	ck_assert_uint_eq(status_ok(&c[0]).max_clients, 3);
	ck_assert_uint_eq(wait_clients(&c[0], 3), 3);

	fd = esrc_connect(d.sock);
	ck_assert_int_ge(fd, 0);
	n = esrc_recv(fd, &er, sizeof(er), NULL, WAIT_MS);
	ck_assert_int_eq(n, (ssize_t)sizeof(er));
	ck_assert_uint_eq(er.hdr.magic, ESP_MAGIC);
	CK_CODE(er.hdr.status, -EUSERS);
	ck_assert_uint_lt(er.msg_len, ESP_ERRMSG_MAX);
	ck_assert_int_eq(esrc_wait_closed(fd, WAIT_MS), 0);
	close(fd);

	/* The others are unaffected; a freed place can be taken. */
	ck_assert_uint_eq(status_ok(&c[1]).clients, 3);
	esrc_fini(&c[2]);
	ck_assert_uint_eq(wait_clients(&c[0], 2), 2);
	conn(&c[2], &d);
	open_ok(&c[2], "x", ESP_OPEN_CREATE);
	for (int i = 0; i < 3; i++)
		esrc_fini(&c[i]);
	esdt_daemon_cleanup(&d);
}
END_TEST

START_TEST(daemon_serves_1000_clients)
{
	enum { N = 1000 };
	struct esdt_daemon d;
	struct esrc *cs = calloc(N, sizeof(*cs));
	struct esrc chk;
	struct rlimit rl;
	struct esp_hdr req;
	struct esp_status_rep rep;

	ck_assert_ptr_nonnull(cs);
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_cur < 4096) {
		rl.rlim_cur = rl.rlim_max < 4096 ? rl.rlim_max : 4096;
		ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	}
	if (rl.rlim_cur < 2 * N + 64) {
		printf("daemon_serves_1000_clients: skipped (RLIMIT_NOFILE "
		       "hard limit %llu)\n", (unsigned long long)rl.rlim_max);
		free(cs);
		return;
	}
	/* The daemon inherits the raised limit. */
	start_daemon(&d, 4, NULL);
	for (int i = 0; i < N; i++) {
		int r = esrc_connect_hello(&cs[i], d.sock);

		ck_assert_msg(r == 0, "client %d: %d (%s)", i, r,
			      esrc_strerror(r));
		close(cs[i].seg_fd);
		cs[i].seg_fd = -1;
	}
	conn(&chk, &d);
	ck_assert_uint_eq(wait_clients(&chk, N + 1), N + 1);
	/* All at once: every one sends, then every one reads. */
	for (int i = 0; i < N; i++) {
		esrc_hdr(&req, ESP_OP_STATUS, 5000u + (uint32_t)i);
		CK_CODE(esrc_send(cs[i].fd, &req, sizeof(req), WAIT_MS), 0);
	}
	for (int i = 0; i < N; i++) {
		ssize_t n = esrc_recv(cs[i].fd, &rep, sizeof(rep), NULL,
				      WAIT_MS);

		ck_assert_msg(n == (ssize_t)sizeof(rep), "client %d: %zd", i,
			      n);
		ck_assert_int_eq(rep.hdr.status, 0);
		ck_assert_uint_eq(rep.hdr.seq, 5000u + (uint32_t)i);
		ck_assert_uint_ge(rep.clients, N + 1);
	}
	for (int i = 0; i < N; i++)
		esrc_fini(&cs[i]);
	ck_assert_uint_eq(wait_clients(&chk, 1), 1);
	esrc_fini(&chk);
	free(cs);
	esdt_daemon_cleanup(&d);
}
END_TEST

/* ---- restart, adoption, refusal, --recreate --------------------------- */

START_TEST(daemon_restart_adopts_segments)
{
	struct esdt_daemon d;
	struct esrc c, c2;
	struct esp_open_rep a, b, o;
	struct esp_slot_info ia, ib, ia2, ib2;
	struct esd_slot *slot;
	uint64_t inc;
	pid_t old_pid;
	void *base;
	int st;

	start_daemon(&d, 8, NULL);
	conn(&c, &d);
	base = map_hello(&c);
	inc = c.hello.incarnation;
	a = open_ok(&c, "adopt-a", ESP_OPEN_CREATE);
	b = open_ok(&c, "adopt-b", ESP_OPEN_CREATE);
	open_ok(&c, "gone", ESP_OPEN_CREATE);
	CK_CODE(esrc_unlink(&c, NAME("gone")), 0);
	/* Values set directly in the mapped segment, as producers do. */
	slot = esd_seg_slot(base, a.index);
	__atomic_store_n(&slot->word, ESD_WORD(a.gen, 0x2000 | 0x1000 | 5),
			 __ATOMIC_SEQ_CST);
	__atomic_store_n(&slot->sets_total, 7, __ATOMIC_RELAXED);
	__atomic_store_n(&slot->last_pid, 4242, __ATOMIC_RELAXED);
	ia = stat_ok(&c, "adopt-a");
	ib = stat_ok(&c, "adopt-b");

	old_pid = d.pid;
	st = esdt_daemon_stop(&d, SIGKILL);
	ck_assert_msg(WIFSIGNALED(st), "status %d", st);
	ck_assert_int_eq(esrc_wait_closed(c.fd, WAIT_MS), 0);
	esrc_fini(&c);

	restart_daemon(&d, NULL);	/* the stale socket file is still there */
	ck_assert_int_ne(d.pid, old_pid);
	conn(&c2, &d);
	ck_assert_uint_eq(c2.hello.incarnation, inc);
	ck_assert_int_eq((pid_t)c2.hello.daemon_pid, d.pid);
	ck_assert_int_eq(__atomic_load_n(&((struct esd_seg_header *)base)
					  ->daemon_pid, __ATOMIC_ACQUIRE),
			 d.pid);
	ia2 = stat_ok(&c2, "adopt-a");
	ib2 = stat_ok(&c2, "adopt-b");
	ck_assert_uint_eq(ia2.index, ia.index);
	ck_assert_uint_eq(ia2.gen, ia.gen);
	ck_assert_uint_eq(ia2.creator_uid, ia.creator_uid);
	ck_assert_uint_eq(ia2.created_ns, ia.created_ns);
	ck_assert_uint_eq(ia2.word, ESD_WORD(a.gen, 0x2000 | 0x1000 | 5));
	ck_assert_uint_eq(ia2.sets_total, 7);
	ck_assert_int_eq(ia2.last_pid, 4242);
	ck_assert_uint_eq(ia2.holders, 0);	/* the old connection's holds died */
	ck_assert_uint_eq(ib2.index, ib.index);
	ck_assert_uint_eq(ib2.gen, ib.gen);
	ck_assert_uint_eq(ib2.word, ib.word);
	CK_CODE(esrc_stat(&c2, NAME("gone"), NULL), -ENOENT);
	ck_assert_uint_eq(status_ok(&c2).slots_used, 2);
	ck_assert_uint_eq(slot_word(base, a.index),
			  ESD_WORD(a.gen, 0x2000 | 0x1000 | 5));

	o = open_ok(&c2, "adopt-a", 0);
	ck_assert_uint_eq(o.index, a.index);
	ck_assert_uint_eq(o.gen, a.gen);
	CK_CODE(esrc_reattach(&c2, b.index, b.gen, NAME("adopt-b"), &o), 0);
	ck_assert_uint_eq(o.index, b.index);
	munmap(base, esd_seg_size(8));
	esrc_fini(&c2);
	esdt_daemon_cleanup(&d);
}
END_TEST

/* Write @len bytes of @buf as the whole content of @path. */
static void put_file(const char *path, const char *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	size_t used = 0;

	ck_assert_msg(fd >= 0, "open %s: %s", path, strerror(errno));
	while (used < len) {
		ssize_t n = write(fd, buf + used, len - used);

		ck_assert_int_gt(n, 0);
		used += (size_t)n;
	}
	close(fd);
}

/*
 * A stopped daemon's pair is made foreign in one way (_i); errseqd must
 * refuse it (exit 1, a message naming --recreate), leave both segments
 * byte for byte as they were, and adopt them again once repaired.
 */
START_TEST(daemon_refuses_foreign_segment)
{
	static const char *const what[] = {
		"data magic", "data layout version", "data slot_count",
		"registry magic", "registry layout version",
		"registry incarnation", "registry missing", "data missing",
		"data truncated", "other --slots",
	};
	struct esdt_daemon d;
	struct esrc c;
	char seg_path[128], reg_path[128], err[4096];
	char *seg0, *reg0, *seg1, *reg1, *seg2, *reg2;
	size_t seg0_len, reg0_len, seg1_len, reg1_len, seg2_len, reg2_len;
	uint64_t inc;
	int r, st;

	start_daemon(&d, 4, NULL);
	conn(&c, &d);
	inc = c.hello.incarnation;
	open_ok(&c, "keep", ESP_OPEN_CREATE);
	esrc_fini(&c);
	st = esdt_daemon_stop(&d, SIGTERM);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);

	shm_path(seg_path, sizeof(seg_path), d.shm, "");
	shm_path(reg_path, sizeof(reg_path), d.shm, ESD_REG_SUFFIX);
	seg0 = slurp(seg_path, &seg0_len);
	reg0 = slurp(reg_path, &reg0_len);
	ck_assert_ptr_nonnull(seg0);
	ck_assert_ptr_nonnull(reg0);

	/* Corrupt a copy and write it back. */
	seg1 = malloc(seg0_len);
	reg1 = malloc(reg0_len);
	memcpy(seg1, seg0, seg0_len);
	memcpy(reg1, reg0, reg0_len);
	seg1_len = seg0_len;
	reg1_len = reg0_len;
	switch (_i) {
	case 0:
		((struct esd_seg_header *)seg1)->magic ^= 1;
		break;
	case 1:
		((struct esd_seg_header *)seg1)->layout_version ^= 1u << 24;
		break;
	case 2:
		((struct esd_seg_header *)seg1)->slot_count = 5;
		break;
	case 3:
		((struct esd_reg_header *)reg1)->magic ^= 1;
		break;
	case 4:
		((struct esd_reg_header *)reg1)->layout_version ^= 1u << 24;
		break;
	case 5:
		((struct esd_reg_header *)reg1)->incarnation ^= 0x10;
		break;
	case 6:
		ck_assert_int_eq(unlink(reg_path), 0);
		reg1_len = 0;
		break;
	case 7:
		ck_assert_int_eq(unlink(seg_path), 0);
		seg1_len = 0;
		break;
	case 8:
		seg1_len = ESD_PAGE + 64;
		break;
	case 9:
		d.slots = 8;
		break;
	}
	if (seg1_len)
		put_file(seg_path, seg1, seg1_len);
	if (reg1_len)
		put_file(reg_path, reg1, reg1_len);

	r = esdt_daemon_run_to_exit(&d, NULL, err, sizeof(err), 20000);
	ck_assert_msg(r == 1, "%s: exit %d, want 1; stderr: %s", what[_i], r,
		      err);
	ck_assert_msg(strstr(err, "--recreate") != NULL,
		      "%s: message does not name --recreate: %s", what[_i], err);
	ck_assert_msg(access(d.sock, F_OK) < 0 && errno == ENOENT,
		      "%s: refusing daemon left its socket", what[_i]);

	/* Untouched, byte for byte (or still absent). */
	seg2 = slurp(seg_path, &seg2_len);
	reg2 = slurp(reg_path, &reg2_len);
	ck_assert_msg(seg2_len == seg1_len &&
		      (!seg1_len || !memcmp(seg1, seg2, seg1_len)),
		      "%s: data segment changed", what[_i]);
	ck_assert_msg(reg2_len == reg1_len &&
		      (!reg1_len || !memcmp(reg1, reg2, reg1_len)),
		      "%s: registry changed", what[_i]);
	if (!seg1_len)
		ck_assert_ptr_null(seg2);
	if (!reg1_len)
		ck_assert_ptr_null(reg2);

	/* Repaired, it is adopted as it was. */
	put_file(seg_path, seg0, seg0_len);
	put_file(reg_path, reg0, reg0_len);
	d.slots = 4;
	restart_daemon(&d, NULL);
	conn(&c, &d);
	ck_assert_uint_eq(c.hello.incarnation, inc);
	stat_ok(&c, "keep");
	esrc_fini(&c);
	free(seg0);
	free(reg0);
	free(seg1);
	free(reg1);
	free(seg2);
	free(reg2);
	esdt_daemon_cleanup(&d);
}
END_TEST

START_TEST(daemon_recreate_retires_old_segment)
{
	static const char *const recreate[] = { "--recreate", NULL };
	struct esdt_daemon d;
	struct esrc c, c2;
	struct esp_open_rep a, b;
	struct esd_seg_header *oh;
	char path[128], err[4096];
	struct stat st;
	uint64_t inc;
	void *old;
	int r;

	start_daemon(&d, 4, NULL);
	conn(&c, &d);
	old = map_hello(&c);
	inc = c.hello.incarnation;
	a = open_ok(&c, "a", ESP_OPEN_CREATE);
	b = open_ok(&c, "b", ESP_OPEN_CREATE);
	CK_CODE(esrc_close_slot(&c, b.index, b.gen), 0);
	esrc_fini(&c);
	r = esdt_daemon_stop(&d, SIGTERM);
	ck_assert_msg(WIFEXITED(r) && WEXITSTATUS(r) == 0, "status %d", r);

	/* Another geometry is refused, then --recreate replaces the pair. */
	d.slots = 8;
	r = esdt_daemon_run_to_exit(&d, NULL, err, sizeof(err), 20000);
	ck_assert_msg(r == 1, "exit %d; stderr: %s", r, err);
	restart_daemon(&d, recreate);

	/* The old segment is retired: marked, its live slots stale. */
	oh = old;
	ck_assert_uint_eq(__atomic_load_n(&oh->retired, __ATOMIC_ACQUIRE), 1);
	ck_assert_uint_eq(ESD_WORD_GEN(slot_word(old, a.index)), a.gen + 1);
	ck_assert_uint_eq(ESD_WORD_GEN(slot_word(old, b.index)), b.gen + 1);

	conn(&c2, &d);
	ck_assert_uint_ne(c2.hello.incarnation, inc);
	ck_assert_uint_eq(c2.hello.slot_count, 8);
	ck_assert_uint_eq(c2.hello.seg_size, esd_seg_size(8));
	CK_CODE(esrc_stat(&c2, NAME("a"), NULL), -ENOENT);
	CK_CODE(esrc_reattach(&c2, a.index, a.gen, NAME("a"), NULL), -ESTALE);
	ck_assert_uint_eq(status_ok(&c2).slots_used, 0);
	shm_path(path, sizeof(path), d.shm, "");
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq((uint64_t)st.st_size, esd_seg_size(8));
	shm_path(path, sizeof(path), d.shm, ESD_REG_SUFFIX);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq((uint64_t)st.st_size, esd_reg_size(8));
	inc = c2.hello.incarnation;
	open_ok(&c2, "new", ESP_OPEN_CREATE);
	esrc_fini(&c2);

	/* The new pair is adopted by a plain restart. */
	r = esdt_daemon_stop(&d, SIGTERM);
	ck_assert_msg(WIFEXITED(r) && WEXITSTATUS(r) == 0, "status %d", r);
	restart_daemon(&d, NULL);
	conn(&c2, &d);
	ck_assert_uint_eq(c2.hello.incarnation, inc);
	stat_ok(&c2, "new");
	esrc_fini(&c2);
	munmap(old, esd_seg_size(4));
	esdt_daemon_cleanup(&d);
}
END_TEST

START_TEST(daemon_recreate_replaces_corrupt_segment)
{
	static const char *const recreate[] = { "--recreate", NULL };
	struct esdt_daemon d;
	struct esrc c;
	struct esd_seg_header *h;
	uint64_t inc;
	size_t len;
	int r;

	start_daemon(&d, 4, NULL);
	conn(&c, &d);
	inc = c.hello.incarnation;
	open_ok(&c, "a", ESP_OPEN_CREATE);
	esrc_fini(&c);
	r = esdt_daemon_stop(&d, SIGKILL);
	ck_assert_msg(WIFSIGNALED(r), "status %d", r);
	h = map_shm(d.shm, &len);
	h->magic = 0x0123456789abcdefull;
	munmap(h, len);
	restart_daemon(&d, recreate);
	conn(&c, &d);
	ck_assert_uint_ne(c.hello.incarnation, inc);
	CK_CODE(esrc_stat(&c, NAME("a"), NULL), -ENOENT);
	open_ok(&c, "b", ESP_OPEN_CREATE);
	h = map_hello(&c);
	ck_assert_uint_eq(h->magic, ESD_SEG_MAGIC);
	ck_assert_uint_eq(h->retired, 0);
	munmap(h, c.hello.seg_size);
	esrc_fini(&c);
	esdt_daemon_cleanup(&d);
}
END_TEST

START_TEST(daemon_second_daemon_refused)
{
	static const char *const recreate[] = { "--recreate", NULL };
	struct esdt_daemon d;
	struct esrc c, c2;
	struct esp_open_rep o;
	char err[4096];
	void *base;
	int r;

	start_daemon(&d, 4, NULL);
	conn(&c, &d);
	base = map_hello(&c);
	o = open_ok(&c, "live", ESP_OPEN_CREATE);
	/* Same socket and segment, even with --recreate: refused before the
	 * segment is touched, and the first daemon's socket stays. */
	r = esdt_daemon_run_to_exit(&d, recreate, err, sizeof(err), 20000);
	ck_assert_msg(r == 1, "exit %d, want 1; stderr: %s", r, err);
	ck_assert_msg(strstr(err, d.sock) != NULL,
		      "message does not name the socket: %s", err);
	ck_assert_uint_eq(__atomic_load_n(&((struct esd_seg_header *)base)
					  ->retired, __ATOMIC_ACQUIRE), 0);
	ck_assert_uint_eq(slot_word(base, o.index), ESD_WORD(o.gen, 0));
	ck_assert_int_eq(access(d.sock, F_OK), 0);
	stat_ok(&c, "live");
	conn(&c2, &d);
	ck_assert_uint_eq(c2.hello.incarnation, c.hello.incarnation);
	munmap(base, c.hello.seg_size);
	esrc_fini(&c);
	esrc_fini(&c2);
	esdt_daemon_cleanup(&d);
}
END_TEST

/* ---- signals, sd_notify, command line, environment -------------------- */

/* _i: 0 SIGTERM, 1 SIGINT, 2 SIGHUP. */
START_TEST(daemon_signal_exits_cleanly)
{
	struct esdt_daemon d;
	struct esrc c;
	char path[128], msgs[4096];
	size_t used = 0;
	uint64_t inc;
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP };
	int sig = sigs[_i], st;

	start_daemon(&d, 4, NULL);
	conn(&c, &d);
	inc = c.hello.incarnation;
	open_ok(&c, "a", ESP_OPEN_CREATE);
	st = esdt_daemon_stop(&d, sig);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		      "status %#x after signal %d", st, sig);
	ck_assert_int_eq(esrc_wait_closed(c.fd, WAIT_MS), 0);
	esrc_fini(&c);
	ck_assert_msg(access(d.sock, F_OK) < 0 && errno == ENOENT,
		      "socket file left behind");
	shm_path(path, sizeof(path), d.shm, "");
	ck_assert_int_eq(access(path, F_OK), 0);
	shm_path(path, sizeof(path), d.shm, ESD_REG_SUFFIX);
	ck_assert_int_eq(access(path, F_OK), 0);

	/* It told the service manager it was stopping. */
	for (;;) {
		ssize_t n = recv(d.notify_fd, msgs + used,
				 sizeof(msgs) - 1 - used, MSG_DONTWAIT);

		if (n <= 0)
			break;
		used += (size_t)n;
		msgs[used++] = '\n';
		if (used >= sizeof(msgs) - 2)
			break;
	}
	msgs[used] = '\0';
	ck_assert_msg(strstr(msgs, "STOPPING=1") != NULL,
		      "no STOPPING=1 among: %s", msgs);

	restart_daemon(&d, NULL);
	conn(&c, &d);
	ck_assert_uint_eq(c.hello.incarnation, inc);
	ck_assert_uint_eq(stat_ok(&c, "a").holders, 0);
	esrc_fini(&c);
	esdt_daemon_cleanup(&d);
}
END_TEST

START_TEST(daemon_cli_help_version_usage)
{
	static const char *const opts[] = {
		"--socket", "--shm", "--slots", "--group", "--mode",
		"--recreate", "--log-level", "--max-clients", "--max-open",
		"--version", "--help",
	};
	static const char *const bad[][3] = {
		{ "--bogus" }, { "-x" }, { "--slots", "0" },
		{ "--slots", "abc" }, { "--slots", "16777217" },
		{ "--slots", "-4" }, { "--mode", "999" }, { "--mode", "x" },
		{ "--log-level", "loud" }, { "--shm", "noslash" },
		{ "--shm", "/a/b" }, { "stray-argument" }, { "--max-clients", "0" },
		{ "--max-open", "x" }, { "--group", "no-such-group-esdt" },
		{ "--socket", "" }, { "--log-level" },
	};
	char out[8192], err[8192], sock[64], shm[64], path[128];
	const char *argv[12];
	int r;

	argv[1] = "--help";
	argv[2] = NULL;
	r = run_capture(argv, NULL, out, sizeof(out), err, sizeof(err), 10000);
	ck_assert_msg(r == 0, "--help: exit %d", r);
	for (size_t k = 0; k < sizeof(opts) / sizeof(opts[0]); k++)
		ck_assert_msg(strstr(out, opts[k]) != NULL,
			      "--help does not mention %s", opts[k]);

	argv[1] = "--version";
	r = run_capture(argv, NULL, out, sizeof(out), err, sizeof(err), 10000);
	ck_assert_msg(r == 0, "--version: exit %d", r);
	ck_assert_msg(strstr(out, PACKAGE_VERSION) != NULL,
		      "--version printed: %s", out);

	/* Bad usage: exit 2, a message, nothing created. */
	snprintf(sock, sizeof(sock), "/tmp/esdt-%d-cli.sock", (int)getpid());
	snprintf(shm, sizeof(shm), "/esdt-%d-cli", (int)getpid());
	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		int n = 1;

		argv[n++] = "--socket";
		argv[n++] = sock;
		argv[n++] = "--shm";
		argv[n++] = shm;
		for (int j = 0; j < 3 && bad[k][j]; j++)
			argv[n++] = bad[k][j];
		argv[n] = NULL;
		r = run_capture(argv, NULL, out, sizeof(out), err, sizeof(err),
				10000);
		ck_assert_msg(r == 2, "%s %s: exit %d, want 2 (stderr: %s)",
			      bad[k][0], bad[k][1] ? bad[k][1] : "", r, err);
		ck_assert_msg(strstr(err, "errseqd") != NULL,
			      "%s: no message on stderr", bad[k][0]);
		ck_assert_msg(access(sock, F_OK) < 0, "%s: socket created",
			      bad[k][0]);
		shm_path(path, sizeof(path), shm, "");
		ck_assert_msg(access(path, F_OK) < 0, "%s: segment created",
			      bad[k][0]);
	}
	unlink(sock);
}
END_TEST

/*
 * spawn_ready - start errseqd outside the harness, on d's log and notify
 * socket: argv is the binary then @args; @env ("NAME=value") is added;
 * @fd3 >= 0 is passed as fd 3 with LISTEN_FDS=1 and LISTEN_PID set, as
 * systemd does for socket activation.  Sets d->pid (so that
 * esdt_daemon_stop() and esdt_daemon_cleanup() reap it) and waits for
 * READY=1.
 */
static void spawn_ready(struct esdt_daemon *d, const char *const *args,
			const char *const *env, int fd3)
{
	const char *argv[16];
	char notify[160], buf[512];
	int logfd, st, n = 0, ready = 0;
	pid_t pid;

	argv[n++] = daemon_bin();
	for (int i = 0; args && args[i] && n < 15; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	snprintf(notify, sizeof(notify), "NOTIFY_SOCKET=%s", d->notify);
	logfd = open(d->log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	ck_assert_int_ge(logfd, 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		static char lpid[32];

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(logfd, STDERR_FILENO);
		unsetenv("LISTEN_FDS");
		unsetenv("LISTEN_PID");
		unsetenv("ERRSEQD_SOCKET");
		putenv(notify);
		for (int i = 0; env && env[i]; i++)
			putenv((char *)env[i]);
		if (fd3 >= 0) {
			if (fd3 != 3 && dup2(fd3, 3) < 0)
				_exit(126);
			if (fcntl(3, F_SETFD, 0) < 0)
				_exit(126);
			snprintf(lpid, sizeof(lpid), "LISTEN_PID=%d",
				 (int)getpid());
			putenv(lpid);
			putenv((char *)"LISTEN_FDS=1");
		}
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(logfd);
	d->pid = pid;
	for (int i = 0; i < 2000 && !ready; i++) {
		struct pollfd pfd = { .fd = d->notify_fd, .events = POLLIN };

		if (waitpid(pid, &st, WNOHANG) == pid) {
			d->pid = 0;
			esdt_read_log(d, buf, sizeof(buf));
			ck_abort_msg("errseqd exited (status %d): %s", st, buf);
		}
		if (poll(&pfd, 1, 10) > 0) {
			ssize_t k = recv(d->notify_fd, buf, sizeof(buf) - 1, 0);

			if (k > 0) {
				buf[k] = '\0';
				ready = strstr(buf, "READY=1") != NULL;
			}
		}
	}
	ck_assert_msg(ready, "no READY=1");
}

START_TEST(daemon_env_socket_when_no_option)
{
	struct esdt_daemon d;
	struct esrc c;
	char env_sock[160];
	const char *const env[] = { env_sock, NULL };
	const char *const args[] = { "--shm", d.shm, "--slots", "4", NULL };
	int st;

	/* --socket wins over $ERRSEQD_SOCKET (the harness passes --socket). */
	setenv("ERRSEQD_SOCKET", "/nonexistent-esdt/errseqd.sock", 1);
	start_daemon(&d, 4, NULL);
	conn(&c, &d);
	esrc_fini(&c);
	st = esdt_daemon_stop(&d, SIGTERM);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
	ck_assert_int_lt(access("/nonexistent-esdt", F_OK), 0);

	/* Without --socket, $ERRSEQD_SOCKET is where it listens. */
	snprintf(env_sock, sizeof(env_sock), "ERRSEQD_SOCKET=%s", d.sock);
	spawn_ready(&d, args, env, -1);
	conn(&c, &d);
	open_ok(&c, "env", ESP_OPEN_CREATE);
	esrc_fini(&c);
	st = esdt_daemon_stop(&d, SIGTERM);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
	esdt_daemon_cleanup(&d);
}
END_TEST

START_TEST(daemon_socket_activation)
{
	struct esdt_daemon d;
	struct esrc c, q;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char other[160];
	const char *const args[] = { "--socket", other, "--shm", d.shm,
				     "--slots", "4", NULL };
	uint64_t inc;
	int lfd, st;

	start_daemon(&d, 4, NULL);
	st = esdt_daemon_stop(&d, SIGTERM);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);

	/* The service manager's part: bind, listen, pass it as fd 3. */
	lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(lfd, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", d.sock);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(lfd, 16), 0);
	ck_assert_int_eq(chmod(d.sock, 0600), 0);
	snprintf(other, sizeof(other), "%s/other.sock", d.dir);

	spawn_ready(&d, args, NULL, lfd);
	conn(&c, &d);
	inc = c.hello.incarnation;
	open_ok(&c, "act", ESP_OPEN_CREATE);
	ck_assert_msg(access(other, F_OK) < 0, "--socket was bound too");
	esrc_fini(&c);
	st = esdt_daemon_stop(&d, SIGTERM);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
	/* The socket file is the manager's: left in place, mode untouched. */
	{
		struct stat sb;

		ck_assert_int_eq(stat(d.sock, &sb), 0);
		ck_assert_uint_eq(sb.st_mode & 07777, 0600);
	}

	/* A client connecting while no daemon runs waits in the backlog and
	 * is served by the next instance on the same socket. */
	ck_assert_int_eq(esrc_init(&q, d.sock), 0);
	spawn_ready(&d, args, NULL, lfd);
	CK_CODE(esrc_hello(&q), 0);
	ck_assert_uint_eq(q.hello.incarnation, inc);
	stat_ok(&q, "act");
	esrc_fini(&q);
	st = esdt_daemon_stop(&d, SIGTERM);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
	close(lfd);
	esdt_daemon_cleanup(&d);
}
END_TEST

START_TEST(daemon_mode_and_group)
{
	struct esdt_daemon d;
	struct esrc c;
	char gid_str[16], path[128];
	const char *extra[] = { "--mode", "0640", "--group", gid_str, NULL };
	gid_t gid = geteuid() == 0 ? 12345 : getegid();
	struct stat st;

	snprintf(gid_str, sizeof(gid_str), "%u", (unsigned)gid);
	start_daemon(&d, 4, extra);
	ck_assert_int_eq(stat(d.sock, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	ck_assert_uint_eq(st.st_mode & 07777, 0640);
	ck_assert_uint_eq(st.st_gid, gid);
	shm_path(path, sizeof(path), d.shm, "");
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0640);
	ck_assert_uint_eq(st.st_gid, gid);
	shm_path(path, sizeof(path), d.shm, ESD_REG_SUFFIX);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
	conn(&c, &d);
	ck_assert_int_eq(fstat(c.seg_fd, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0640);
	esrc_fini(&c);
	esdt_daemon_cleanup(&d);
}
END_TEST

START_TEST(daemon_log_lines_have_prefix)
{
	struct esdt_daemon d;
	struct esrc c;
	char log[16384];
	int lines = 0;

	start_daemon(&d, 4, NULL);
	conn(&c, &d);
	esrc_fini(&c);
	esdt_daemon_stop(&d, SIGTERM);
	esdt_read_log(&d, log, sizeof(log));
	for (char *line = strtok(log, "\n"); line; line = strtok(NULL, "\n")) {
		ck_assert_msg(!strncmp(line, "errseqd: error: ", 16) ||
			      !strncmp(line, "errseqd: warn: ", 15) ||
			      !strncmp(line, "errseqd: info: ", 15) ||
			      !strncmp(line, "errseqd: debug: ", 16),
			      "log line without prefix: %s", line);
		lines++;
	}
	ck_assert_int_gt(lines, 0);
	esdt_daemon_cleanup(&d);
}
END_TEST

/* ---- suite ------------------------------------------------------------ */

static TCase *tcase(Suite *s, const char *name)
{
	TCase *tc = tcase_create(name);

	tcase_add_unchecked_fixture(tc, sweep, sweep);
	tcase_add_checked_fixture(tc, sweep, NULL);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return tc;
}

static Suite *daemon_suite(void)
{
	Suite *s = suite_create("daemon");
	TCase *tc;

	tc = tcase(s, "protocol");
	tcase_add_test(tc, daemon_hello_passes_segment_fd);
	tcase_add_test(tc, daemon_hello_version_negotiation);
	tcase_add_test(tc, daemon_op_before_hello_is_eproto);
	tcase_add_test(tc, daemon_open_create_excl);
	tcase_add_test(tc, daemon_names_valid_and_invalid);
	tcase_add_test(tc, daemon_stat_and_status_report);
	tcase_add_test(tc, daemon_close_releases_holds);
	tcase_add_test(tc, daemon_unlink_invalidates_slot);
	tcase_add_test(tc, daemon_reattach);
	tcase_add_test(tc, daemon_list_pages);

	tc = tcase(s, "lifecycle");
	tcase_add_test(tc, daemon_enospc_and_held_index_not_reused);
	tcase_add_test(tc, daemon_free_list_is_fifo);
	tcase_add_test(tc, daemon_max_open_is_emfile);
	tcase_add_test(tc, daemon_holds_released_when_client_killed);
	tcase_add_test(tc, daemon_unlink_permissions);

	tc = tcase(s, "robustness");
	tcase_add_test(tc, daemon_bad_requests_get_error_replies);
	tcase_add_loop_test(tc, daemon_closes_hostile_peer, 0, 12);
	tcase_add_test(tc, daemon_closes_peer_not_reading);
	tcase_add_test(tc, daemon_leaks_no_fds);
	tcase_add_test(tc, daemon_max_clients_is_eusers);
	tcase_add_test(tc, daemon_serves_1000_clients);

	tc = tcase(s, "restart");
	tcase_add_test(tc, daemon_restart_adopts_segments);
	tcase_add_loop_test(tc, daemon_refuses_foreign_segment, 0, 10);
	tcase_add_test(tc, daemon_recreate_retires_old_segment);
	tcase_add_test(tc, daemon_recreate_replaces_corrupt_segment);
	tcase_add_test(tc, daemon_second_daemon_refused);
	tcase_add_loop_test(tc, daemon_signal_exits_cleanly, 0, 3);

	tc = tcase(s, "cli");
	tcase_add_test(tc, daemon_cli_help_version_usage);
	tcase_add_test(tc, daemon_env_socket_when_no_option);
	tcase_add_test(tc, daemon_socket_activation);
	tcase_add_test(tc, daemon_mode_and_group);
	tcase_add_test(tc, daemon_log_lines_have_prefix);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	/* Log records must use the terminal format, not the journal's. */
	unsetenv("JOURNAL_STREAM");
	sr = srunner_create(daemon_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
