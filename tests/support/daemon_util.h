/*
 * daemon_util.h - shared helpers of the daemon's integration tests
 * (tests/daemon/test_*.c): start/restart errseqd through the harness,
 * connect raw clients (tests/support/rawclient.h) and check replies with
 * exact codes, map segments, run errseqd and capture its output.
 *
 * Each test starts the real daemon ($ERRSEQD_BIN) on its own temporary
 * socket and shm name through tests/support/harness.h.  Check runs every
 * test in a forked process and leaves it with _exit() when an assertion
 * fails, which skips the harness's atexit cleanup: the fixtures that
 * tcase() installs call esdt_sweep(), which removes what dead test
 * processes left.  Children forked by the tests leave with _exit() for
 * the same reason: a child running the harness's atexit handler would
 * kill the daemon.
 */
#ifndef ESDT_DAEMON_UTIL_H
#define ESDT_DAEMON_UTIL_H

#include <check.h>
#include <stddef.h>
#include <stdint.h>

#include "common/protocol.h"
#include "common/shm_layout.h"
#include "tests/support/harness.h"
#include "tests/support/rawclient.h"

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

const char *daemon_bin(void);

void sleep_ms(int ms);

void start_daemon(struct esdt_daemon *d, unsigned slots,
		  const char *const *extra);

void restart_daemon(struct esdt_daemon *d, const char *const *extra);

void conn(struct esrc *c, const struct esdt_daemon *d);

struct esp_open_rep open_ok(struct esrc *c, const char *name,
			    uint32_t flags);

struct esp_slot_info stat_ok(struct esrc *c, const char *name);

struct esp_status_rep status_ok(struct esrc *c);

/*
 * Layout 2 has no segment to map by name: slots live in memfd chunks of
 * ESD_CHUNK_SLOTS slots, and a connection receives a chunk's fd with the
 * first OPEN reply for a slot in it (kept by rawclient, see
 * esrc_chunk_fd).
 *
 * map_chunk - map the chunk that holds global slot @index from the fd an
 * OPEN on @c passed (fails the test if @c was given none), with @prot
 * (PROT_READ, or PROT_READ | PROT_WRITE for a writer's fd).  The mapping
 * is ESD_CHUNK_BYTES long; unmap it with unmap_chunk.
 */
void *map_chunk(const struct esrc *c, uint32_t index, int prot);

void unmap_chunk(void *chunk);

/* The slot of global index @index in its chunk's mapping @chunk. */
struct esd_slot *chunk_slot(void *chunk, uint32_t index);

/* The slot word of global index @index, in its chunk's mapping (acquire). */
uint64_t slot_word(void *chunk, uint32_t index);

/* Whole content of @path (malloc'd, NUL-terminated) and its size; NULL if absent. */
char *slurp(const char *path, size_t *len);

/* Send @len raw bytes of @req (header as given) and read the reply's
 * status; checks that it echoes @req's seq.  Returns hdr.status or an
 * ESRC_E* code. */
int raw_call(struct esrc *c, const void *req, size_t len);

/*
 * run_capture - run errseqd with @argv (argv[0] is replaced by the binary)
 * and @env_set ("NAME=value" entries, NULL-terminated, may be NULL),
 * capture stdout and stderr, wait up to @timeout_ms.  Returns the exit
 * code, 128 + signal, or -ETIMEDOUT (then killed).
 */
int run_capture(const char **argv, const char *const *env_set,
		char *out, size_t outlen, char *err, size_t errlen,
		int timeout_ms);

/* Wait until STAT @name reports @holders holders.  Returns the last value. */
uint32_t wait_holders(struct esrc *c, const char *name,
		      uint32_t holders);

/* Wait until STATUS reports @clients connections.  Returns the last value. */
uint32_t wait_clients(struct esrc *c, uint32_t clients);

void sweep(void);

TCase *tcase(Suite *s, const char *name);
#endif
