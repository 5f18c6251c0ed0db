/*
 * client_util.h - shared fixture and helpers of liberrseq-client's
 * tests (tests/client/test_*.c), against the real errseqd started
 * through tests/support/harness.h on a temporary socket and shm name.
 *
 * Every case starts its own daemon (up()), so no case sees another's
 * slots.  Multi-process cases fork real processes ("kids", kid()); a
 * kid never touches Check: it reports through its exit status (0 =
 * fine; else a message on stderr naming the failed condition, see
 * KID_REQUIRE and KID_EQ) and always leaves with _exit(), so it never
 * runs the harness's atexit cleanup (which would kill the daemon).
 * Kids get PR_SET_PDEATHSIG(SIGKILL), and teardown() kills any still
 * alive.
 *
 * Waiting is always bounded (a lost wake-up fails a case as -ETIMEDOUT
 * instead of hanging it) and no case asserts on elapsed time.  Where a
 * case needs a process to be waiting in errseq_slot_wait before it
 * acts, it reads the slot's `waiters` word from its own read-only
 * mapping of the slot's chunk (await_waiter()), instead of sleeping and
 * hoping.  In layout 2 `waiters` is written only by the daemon: the
 * number of connections ARMed on the slot, which a waiter does before
 * its first sleep (doc/shm-layout.md, "Waiting").
 */
#ifndef ESDT_CLIENT_UTIL_H
#define ESDT_CLIENT_UTIL_H

#include <check.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <unistd.h>

#include "common/shm_layout.h"
#include "errseq/client.h"
#include "tests/support/harness.h"

#ifndef LONG_MS
#define LONG_MS		60000	/* "forever" for a bounded wait */
#endif

#define MAX_KIDS	128

extern struct esdt_daemon D;
extern bool D_up;
extern struct errseq_client *C;
extern pid_t kids[MAX_KIDS];

/* ---------------------------------------------------------------- helpers */

int64_t mono_ms(void);

void nap_ms(int ms);

/*
 * seg_slot - a read-only view of slot @index, to watch waiters and
 * statistics.  Layout 2 has no segment to open by name: the first call
 * for a chunk opens a private raw connection to D, finds the slot's name
 * with errseq_list, OPENs it to be given the chunk's fd, CLOSEs the hold
 * again (so holder counts are as before) and maps the chunk PROT_READ.
 * The mapping is cached per chunk until seg_unmap() (teardown calls it;
 * call it after a --recreate, which replaces the chunks).
 */
const struct esd_slot *seg_slot(uint32_t index);

void seg_unmap(void);

uint32_t slot_index(struct errseq_slot *s);

/* Start a daemon with @slots slots and @extra arguments, and open C. */
void up(unsigned slots, const char *const *extra);

void setup(void);

void teardown(void);

/* Fork a kid running @fn(@arg); its return value is its exit status. */
pid_t kid(int (*fn)(void *), void *arg);

/* Reap @pid; its exit code, or 128 + signal. */
int reap(pid_t pid);

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
struct errseq_client *kid_client(void);

void put_byte(int fd);

/* Read one byte within @ms; 0 or -ETIMEDOUT / -EPIPE. */
int get_byte(int fd, int ms);

/* Wait until slot @index has a sleeper (or @ms pass): true if it does. */
bool await_waiter(uint32_t index, int ms);

/* Retry errseq_status until the client is connected again. */
void await_reconnect(struct errseq_client *c);

/* Poll errseq_stat until @name has @holders holders. */
void await_holders(const char *name, uint32_t holders);

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

void *sleeper_main(void *arg);

void sleeper_start(struct sleeper *w);

/* Join the sleeper; fail if it is not woken within LONG_MS. */
int sleeper_join(struct sleeper *w);

struct errseq_slot *must_open(const char *name, unsigned flags);
#endif
