/*
 * proc.c - liberrseq-client's process-wide state: the cached pid that
 * errseq_slot_set records, the fork generation that makes inherited clients
 * refuse control calls (ERRSEQ_EFORKED), and the registry lock with the
 * list of all clients.
 *
 * Why a pid cache: getpid() is a real syscall (about 10x a CAS, see
 * "Measured costs" in doc/design.md) and glibc no longer caches it, so set reads errseq__pid,
 * filled at library load and refreshed by a pthread_atfork() child handler.
 * A process made by a raw clone()/syscall(SYS_fork) bypasses the handler
 * and would record its parent's pid: use fork().
 *
 * Fork handlers: prepare takes errseq__registry_lock, so no list or slab
 * is half changed at the moment of fork; the parent releases it; the child
 * bumps the fork generation, refreshes the pid and releases the lock.  No
 * handle or cursor holds a lock of its own (cursors move by CAS), so the
 * child has nothing to walk: fork costs the same for one handle or 65,536.
 */
#include "config.h"

#include <pthread.h>
#include <unistd.h>

#include "client/internal.h"

pthread_mutex_t errseq__registry_lock = PTHREAD_MUTEX_INITIALIZER;
struct errseq__link errseq__clients = { &errseq__clients, &errseq__clients };
int32_t errseq__pid;
unsigned errseq__fork_gen;

static void fork_prepare(void)
{
	pthread_mutex_lock(&errseq__registry_lock);
}

static void fork_parent(void)
{
	pthread_mutex_unlock(&errseq__registry_lock);
}

static void fork_child(void)
{
	/* relaxed: the child has one thread until this handler returns */
	__atomic_store_n(&errseq__pid, (int32_t)getpid(), __ATOMIC_RELAXED);
	__atomic_store_n(&errseq__fork_gen, errseq__fork_gen + 1,
			 __ATOMIC_RELAXED);
	pthread_mutex_unlock(&errseq__registry_lock);
}

__attribute__((constructor)) static void errseq__proc_init(void)
{
	errseq__pid = (int32_t)getpid();
	/* Cannot usefully fail (ENOMEM at load): then a fork child would
	 * record its parent's pid and not report ERRSEQ_EFORKED. */
	(void)pthread_atfork(fork_prepare, fork_parent, fork_child);
}

void errseq__deadline(struct timespec *out, int timeout_ms)
{
	clock_gettime(CLOCK_MONOTONIC, out);
	out->tv_sec += timeout_ms / 1000;
	out->tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (out->tv_nsec >= 1000000000L) {
		out->tv_sec++;
		out->tv_nsec -= 1000000000L;
	}
}
