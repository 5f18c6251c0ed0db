/*
 * daemon_util.c - shared helpers of the daemon's integration tests.
 * See daemon_util.h for the contracts.
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
#include "tests/support/harness.h"
#include "tests/support/rawclient.h"

#include "tests/support/daemon_util.h"

const char *daemon_bin(void)
{
	const char *b = getenv("ERRSEQD_BIN");

	return b && *b ? b : "daemon/errseqd";
}

void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

void start_daemon(struct esdt_daemon *d, unsigned slots,
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

void restart_daemon(struct esdt_daemon *d, const char *const *extra)
{
	int r = esdt_daemon_restart(d, extra);

	if (r < 0) {
		char log[4096];

		esdt_read_log(d, log, sizeof(log));
		ck_abort_msg("errseqd did not restart: %d (%s); its log:\n%s",
			     r, esrc_strerror(r), log);
	}
}

void conn(struct esrc *c, const struct esdt_daemon *d)
{
	int r = esrc_connect_hello(c, d->sock);

	ck_assert_msg(r == 0, "connect+HELLO: %d (%s) %s", r, esrc_strerror(r),
		      c->errmsg);
}

struct esp_open_rep open_ok(struct esrc *c, const char *name,
			    uint32_t flags)
{
	struct esp_open_rep o;
	int r = esrc_open(c, name, strlen(name), flags, &o);

	ck_assert_msg(r == 0, "OPEN %s flags %u: %d (%s) %s", name, flags, r,
		      esrc_strerror(r), c->errmsg);
	return o;
}

struct esp_slot_info stat_ok(struct esrc *c, const char *name)
{
	struct esp_slot_info info;
	int r = esrc_stat(c, name, strlen(name), &info);

	ck_assert_msg(r == 0, "STAT %s: %d (%s) %s", name, r, esrc_strerror(r),
		      c->errmsg);
	return info;
}

struct esp_status_rep status_ok(struct esrc *c)
{
	struct esp_status_rep st;
	int r = esrc_status(c, &st);

	ck_assert_msg(r == 0, "STATUS: %d (%s)", r, esrc_strerror(r));
	return st;
}

void *map_chunk(const struct esrc *c, uint32_t index, int prot)
{
	int fd = esrc_chunk_fd(c, index);
	void *p;

	ck_assert_msg(fd >= 0, "no chunk fd was passed for slot %u", index);
	p = mmap(NULL, ESD_CHUNK_BYTES, prot, MAP_SHARED, fd, 0);
	ck_assert_msg(p != MAP_FAILED, "mmap chunk of slot %u: %s", index,
		      strerror(errno));
	return p;
}

void unmap_chunk(void *chunk)
{
	if (chunk)
		munmap(chunk, ESD_CHUNK_BYTES);
}

struct esd_slot *chunk_slot(void *chunk, uint32_t index)
{
	return (struct esd_slot *)chunk + ESD_INDEX_SLOT(index);
}

uint64_t slot_word(void *chunk, uint32_t index)
{
	return __atomic_load_n(&chunk_slot(chunk, index)->word,
			       __ATOMIC_ACQUIRE);
}

/* Whole content of @path (malloc'd) and its size; NULL if absent. */
char *slurp(const char *path, size_t *len)
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
	buf[used] = '\0';	/* callers search it as a string */
	*len = used;
	return buf;
}

/* Send @len raw bytes of @req (header as given) and read the reply's
 * status; checks that it echoes @req's seq.  Returns hdr.status or an
 * ESRC_E* code. */
int raw_call(struct esrc *c, const void *req, size_t len)
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
int run_capture(const char **argv, const char *const *env_set,
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
uint32_t wait_holders(struct esrc *c, const char *name,
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
uint32_t wait_clients(struct esrc *c, uint32_t clients)
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

void sweep(void)
{
	esdt_sweep();
}

TCase *tcase(Suite *s, const char *name)
{
	TCase *tc = tcase_create(name);

	tcase_add_unchecked_fixture(tc, sweep, sweep);
	tcase_add_checked_fixture(tc, sweep, NULL);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return tc;
}
