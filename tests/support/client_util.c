/*
 * client_util.c - shared fixture and helpers of liberrseq-client's
 * tests.  See client_util.h for the contracts.
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
#include "tests/support/harness.h"
#include "tests/support/rawclient.h"

#include "tests/support/client_util.h"

struct esdt_daemon D;
bool D_up;
struct errseq_client *C;
pid_t kids[MAX_KIDS];
/* Our read-only views of chunks, by chunk number (seg_slot). */
#define SEG_CHUNKS	64
static void *seg_chunk[SEG_CHUNKS];

/* ---------------------------------------------------------------- helpers */

int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void nap_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Find the name of live slot @index with errseq_list into @name. */
static void name_of_index(uint32_t index, char *name, size_t len)
{
	struct errseq_slot_info info[64];
	uint32_t pos = 0;

	for (;;) {
		int n = errseq_list(C, &pos, info, 64);

		ck_assert_msg(n >= 0, "errseq_list: %d", n);
		for (int i = 0; i < n; i++)
			if (info[i].index == index) {
				snprintf(name, len, "%s", info[i].name);
				return;
			}
		if (n == 0 && pos == ERRSEQ_LIST_END)
			break;
	}
	ck_abort_msg("slot %u is not live: cannot map its chunk", index);
}

/* Map the chunk of slot @index read-only (see seg_slot). */
static void *map_chunk_of(uint32_t index)
{
	struct esrc rc;
	struct esp_open_rep o;
	char name[ERRSEQ_NAME_MAX + 1];
	void *p;
	int r, fd;

	name_of_index(index, name, sizeof(name));
	r = esrc_connect_hello(&rc, D.sock);
	ck_assert_msg(r == 0, "raw connect: %d (%s)", r, esrc_strerror(r));
	r = esrc_open(&rc, name, strlen(name), 0, &o);
	ck_assert_msg(r == 0, "raw OPEN %s: %d (%s)", name, r,
		      esrc_strerror(r));
	ck_assert_uint_eq(o.index, index);
	ck_assert_int_eq(esrc_close_slot(&rc, o.index, o.gen), 0);
	fd = esrc_chunk_fd(&rc, index);
	ck_assert_int_ge(fd, 0);
	p = mmap(NULL, ESD_CHUNK_BYTES, PROT_READ, MAP_SHARED, fd, 0);
	esrc_fini(&rc);
	ck_assert_ptr_ne(p, MAP_FAILED);
	return p;
}

const struct esd_slot *seg_slot(uint32_t index)
{
	uint32_t k = ESD_INDEX_CHUNK(index);

	ck_assert_uint_lt(k, SEG_CHUNKS);
	if (!seg_chunk[k])
		seg_chunk[k] = map_chunk_of(index);
	return (const struct esd_slot *)seg_chunk[k] + ESD_INDEX_SLOT(index);
}

void seg_unmap(void)
{
	for (int k = 0; k < SEG_CHUNKS; k++) {
		if (seg_chunk[k])
			munmap(seg_chunk[k], ESD_CHUNK_BYTES);
		seg_chunk[k] = NULL;
	}
}

uint32_t slot_index(struct errseq_slot *s)
{
	struct errseq_slot_info info;

	ck_assert_int_eq(errseq_stat(C, errseq_slot_name(s), &info), 0);
	return info.index;
}

/* Start a daemon with @slots slots and @extra arguments, and open C. */
void up(unsigned slots, const char *const *extra)
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

void setup(void)
{
	esdt_sweep();
	D_up = false;
	C = NULL;
	seg_unmap();
	memset(kids, 0, sizeof(kids));
}

void teardown(void)
{
	for (int i = 0; i < MAX_KIDS; i++)
		if (kids[i] > 0) {
			kill(kids[i], SIGKILL);
			waitpid(kids[i], NULL, 0);
			kids[i] = 0;
		}
	errseq_client_close(C);
	C = NULL;
	seg_unmap();
	if (D_up)
		esdt_daemon_cleanup(&D);
	D_up = false;
}

/* Fork a kid running @fn(@arg); its return value is its exit status. */
pid_t kid(int (*fn)(void *), void *arg)
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
int reap(pid_t pid)
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

/* A kid's own client on D (the inherited C answers ERRSEQ_EFORKED). */
struct errseq_client *kid_client(void)
{
	struct errseq_client *c = NULL;

	KID_EQ(errseq_client_open(D.sock, &c), 0);
	return c;
}

void put_byte(int fd)
{
	char b = 1;

	while (write(fd, &b, 1) < 0 && errno == EINTR)
		;
}

/* Read one byte within @ms; 0 or -ETIMEDOUT / -EPIPE. */
int get_byte(int fd, int ms)
{
	struct pollfd p = { fd, POLLIN, 0 };
	char b;

	if (poll(&p, 1, ms) <= 0)
		return -ETIMEDOUT;
	return read(fd, &b, 1) == 1 ? 0 : -EPIPE;
}

/* Wait until slot @index has a sleeper (or @ms pass): true if it does. */
bool await_waiter(uint32_t index, int ms)
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
void await_reconnect(struct errseq_client *c)
{
	struct errseq_daemon_status st;
	int64_t end = mono_ms() + LONG_MS;
	int r;

	while ((r = errseq_status(c, &st)) == -ENOTCONN && mono_ms() < end)
		nap_ms(20);
	ck_assert_int_eq(r, 0);
}

/* Poll errseq_stat until @name has @holders holders. */
void await_holders(const char *name, uint32_t holders)
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

void *sleeper_main(void *arg)
{
	struct sleeper *w = arg;

	w->r = w->cur ? errseq_cursor_wait(w->cur, -1) :
			errseq_slot_wait(w->s, w->since, -1);
	return NULL;
}

void sleeper_start(struct sleeper *w)
{
	w->r = 1;
	ck_assert_int_eq(pthread_create(&w->t, NULL, sleeper_main, w), 0);
}

/* Join the sleeper; fail if it is not woken within LONG_MS. */
int sleeper_join(struct sleeper *w)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += LONG_MS / 1000;
	ck_assert_msg(pthread_timedjoin_np(w->t, NULL, &ts) == 0,
		      "the sleeper was never woken");
	return w->r;
}

struct errseq_slot *must_open(const char *name, unsigned flags)
{
	struct errseq_slot *s = NULL;

	ck_assert_int_eq(errseq_slot_open(C, name, flags, &s), 0);
	ck_assert_ptr_nonnull(s);
	return s;
}
