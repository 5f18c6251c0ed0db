/*
 * harness.h - start and stop the real errseqd for integration tests.
 *
 * Every daemon gets a fresh temporary directory (/tmp/esdt-PID-N) holding its
 * socket and log, and a fresh shm name (/esdt-PID-N), never the system
 * defaults.  The daemon binary is $ERRSEQD_BIN (set by `make check`).
 * Readiness is the daemon's own sd_notify READY=1, received on a datagram
 * socket the harness passes as $NOTIFY_SOCKET.  The daemon gets
 * PR_SET_PDEATHSIG(SIGKILL), so it dies with the test process; everything
 * else is removed by esdt_daemon_cleanup(), by an atexit() handler if a test
 * returns or calls exit() first, and by esdt_sweep() for leftovers of dead
 * test processes.  Check's fork mode ends a failed test with _exit(1) (and
 * kills a timed-out one), which skips atexit(): call esdt_sweep() from an
 * unchecked teardown too.  The atexit() handler acts only in the process
 * that started the daemons, never in a child the test forked.
 * $ERRSEQD_WRAPPER, if set, is prefixed to the daemon's command line (for
 * example "valgrind --leak-check=full --error-exitcode=99").  Start daemons
 * from the test's main thread: PR_SET_PDEATHSIG follows the forking thread.
 */
#ifndef ERRSEQ_TESTS_HARNESS_H
#define ERRSEQ_TESTS_HARNESS_H

#include <stddef.h>
#include <sys/types.h>

struct esdt_daemon {
	pid_t pid;		/* running daemon, or 0 */
	unsigned slots;
	char dir[48];		/* temporary directory */
	char sock[96];		/* dir/errseqd.sock */
	char shm[64];		/* data segment name; registry is shm + ".reg" */
	char log[96];		/* dir/errseqd.log: the daemon's stderr */
	char notify[96];	/* dir/notify: our NOTIFY_SOCKET */
	int notify_fd;
	int registered;		/* on the atexit cleanup list */
};

/*
 * esdt_daemon_start - pick fresh names and start errseqd with
 * --socket, --shm, --slots @slots (0: the daemon's default) and the
 * NULL-terminated @extra arguments (may be NULL).  Waits (up to 60 s) for
 * READY=1.  Returns 0, or -errno (-ECHILD if the daemon exited: see d->log).
 */
int esdt_daemon_start(struct esdt_daemon *d, unsigned slots,
		      const char *const *extra);

/* esdt_daemon_restart - start again on the same socket and shm names
 * (after esdt_daemon_stop), with @extra.  Returns as esdt_daemon_start. */
int esdt_daemon_restart(struct esdt_daemon *d, const char *const *extra);

/* esdt_daemon_stop - send @sig and reap.  Returns the wait status, or
 * -ESRCH if no daemon runs. */
int esdt_daemon_stop(struct esdt_daemon *d, int sig);

/*
 * esdt_daemon_run_to_exit - run errseqd on d's names with @extra in the
 * foreground and wait (up to @timeout_ms) for it to exit, for tests of
 * refusals.  Its stderr goes to @err (NUL-terminated, may be cut).
 * Returns the exit code (0..255), 128+signal, or -ETIMEDOUT (then killed).
 */
int esdt_daemon_run_to_exit(struct esdt_daemon *d, const char *const *extra,
			    char *err, size_t errlen, int timeout_ms);

/* esdt_daemon_cleanup - SIGKILL the daemon if it runs, shm_unlink both
 * (layout 1) segment names, remove socket, the state keeper's socket
 * (socket + ".keeper": errseqd-keeper exits once it is gone, dropping the
 * kept state), log and directory.  Idempotent. */
void esdt_daemon_cleanup(struct esdt_daemon *d);

/* esdt_read_log - the daemon's stderr so far, into @buf. Returns length. */
size_t esdt_read_log(const struct esdt_daemon *d, char *buf, size_t len);

/* esdt_sweep - remove /dev/shm/esdt-P-* and /tmp/esdt-P-* left by test
 * processes P that no longer exist (removing a directory's keeper socket
 * makes its keeper exit).  Call it from a suite's setup. */
void esdt_sweep(void);

/* esdt_count_fds - number of open fds of process @pid (via /proc), or -errno. */
int esdt_count_fds(pid_t pid);

#endif /* ERRSEQ_TESTS_HARNESS_H */
