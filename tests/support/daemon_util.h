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

/* Map the data segment passed at HELLO. */
void *map_hello(const struct esrc *c);

/* Map a segment by its shm name (size from fstat); *@len gets the size. */
void *map_shm(const char *name, size_t *len);

uint64_t slot_word(void *base, uint32_t i);

void shm_path(char *buf, size_t len, const char *name,
	      const char *suffix);

/* Whole content of @path (malloc'd) and its size; NULL if absent. */
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
