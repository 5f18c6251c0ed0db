/*
 * watch.c - errseqctl watch: print each new error recorded in one or more
 * slots, one line per report, as it happens.
 *
 * Every name gets its own slot handle, its own errseq_t cursor and its own
 * thread.  A cursor starts at errseq_slot_sample(), so an error nobody has
 * consumed yet is reported at once (as errseq_cursor_new would); the
 * thread then alternates errseq_slot_check_and_advance() and
 * errseq_slot_wait().  The bare cursor, owned by one thread, is used rather
 * than a struct errseq_cursor so the printed counter is exactly that of the
 * value reported, not of a later one read again.
 *
 * The main thread only waits: on a self-pipe that the threads (first
 * report with --once, or a fatal error) and the SIGINT/SIGTERM handler
 * write to, bounded by --timeout.  Threads wait in slices of
 * WATCH_SLICE_MS so that they notice the stop flag; output goes through
 * one mutex, a whole line at a time, flushed at once.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <errseq/client.h>

#include "ctl/ctl.h"
#include "ctl/format.h"

#define WATCH_SLICE_MS 200	/* longest a thread sleeps between stop checks */

/* What the threads tell the main thread through the pipe. */
#define WAKE_SIGNAL	'S'	/* SIGINT or SIGTERM */
#define WAKE_REPORT	'R'	/* first report, with --once */
#define WAKE_FATAL	'E'	/* a thread gave up (message printed) */

struct watch_state {
	const struct ctl_opts *o;
	int wake_fd;		/* write end of the self-pipe */
	int stop;		/* set by main: threads return */
	pthread_mutex_t lock;	/* stdout and the three fields below */
	bool reported;		/* a report was printed */
	bool fatal;		/* a thread failed */
	bool claimed;		/* --once: a thread consumed its report */
};

struct watcher {
	struct watch_state *st;
	const char *name;
	struct errseq_slot *slot;
	pthread_t thread;
	bool running;
};

/* The write end of the pipe, for the signal handler. */
static int signal_wake_fd = -1;

static void on_signal(int sig)
{
	int saved = errno;
	char ch = WAKE_SIGNAL;

	(void)sig;
	if (write(signal_wake_fd, &ch, 1) < 0) {
		/* the pipe is full: main is being woken anyway */
	}
	errno = saved;
}

static void wake_main(struct watch_state *st, char why)
{
	if (write(st->wake_fd, &why, 1) < 0) {
		/* full pipe (non-blocking): main has wake-ups pending */
	}
}

static bool stopping(struct watch_state *st)
{
	/* relaxed: a lone flag guarding no data; pthread_join orders the rest */
	return __atomic_load_n(&st->stop, __ATOMIC_RELAXED) != 0;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void print_report(struct watcher *w, int e, errseq_t value)
{
	struct timespec ts;
	uint64_t ns;
	char tbuf[64];
	const char *ename = ctl_errno_name(e);

	clock_gettime(CLOCK_REALTIME, &ts);
	ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	if (w->st->o->format == CTL_FMT_JSON) {
		if (!ctl_iso_time(tbuf, sizeof(tbuf), ns, true))
			tbuf[0] = '\0';
		printf("{\"version\":%d,\"time\":\"%s\",\"time_ns\":%" PRIu64
		       ",\"slot\":", CTL_JSON_VERSION, tbuf, ns);
		ctl_json_string(stdout, w->name);
		printf(",\"errno\":%d,\"errno_name\":", e);
		if (ename)
			ctl_json_string(stdout, ename);
		else
			fputs("null", stdout);
		printf(",\"counter\":%u}\n", (unsigned)(value >> 13));
	} else {
		if (!ctl_iso_time(tbuf, sizeof(tbuf), ns, false))
			snprintf(tbuf, sizeof(tbuf), "-");
		if (ename)
			printf("%s %s %s (%d) counter=%u\n", tbuf, w->name,
			       ename, e, (unsigned)(value >> 13));
		else
			printf("%s %s %d (%d) counter=%u\n", tbuf, w->name, e,
			       e, (unsigned)(value >> 13));
	}
	fflush(stdout);
}

/* A report of errno @e, the cursor now at @value.  Returns true if the
 * thread should go on watching. */
static bool report(struct watcher *w, int e, errseq_t value)
{
	struct watch_state *st = w->st;
	bool first;

	pthread_mutex_lock(&st->lock);
	first = !st->reported;
	/* with --once only the first report of all threads is printed */
	if (first || !st->o->once)
		print_report(w, e, value);
	st->reported = true;
	pthread_mutex_unlock(&st->lock);
	if (st->o->once) {
		if (first)
			wake_main(st, WAKE_REPORT);
		return false;
	}
	return true;
}

static void fail(struct watcher *w, int r)
{
	struct watch_state *st = w->st;

	pthread_mutex_lock(&st->lock);
	fflush(stdout);
	if (r == ERRSEQ_ESTALE)
		ctl_err("watch: slot '%s' was deleted (or the segment "
			"replaced): reopen it by name", w->name);
	else
		ctl_err("watch: slot '%s': %s", w->name, errseq_strerror(r));
	st->fatal = true;
	pthread_mutex_unlock(&st->lock);
	wake_main(st, WAKE_FATAL);
}

/*
 * Consume for this watcher: errseq_slot_check_and_advance, except that
 * with --once only the one report that will be printed is consumed.  The
 * thread looks first (errseq_slot_check never consumes) and advances under
 * the lock only if no other thread has claimed the report, so errors on the
 * other slots stay pending for whoever watches next.  Returns as
 * check_and_advance, or 1 if another thread has the report.
 */
static int consume(struct watcher *w, errseq_t *since)
{
	struct watch_state *st = w->st;
	int r;

	if (!st->o->once)
		return errseq_slot_check_and_advance(w->slot, since);
	r = errseq_slot_check(w->slot, *since);
	if (r == 0 || r < -ERRSEQ_MAX_ERRNO)
		return r;	/* nothing new, or stale */
	pthread_mutex_lock(&st->lock);
	if (st->claimed) {
		r = 1;
	} else {
		r = errseq_slot_check_and_advance(w->slot, since);
		if (r < 0 && r >= -ERRSEQ_MAX_ERRNO)
			st->claimed = true;
	}
	pthread_mutex_unlock(&st->lock);
	return r;
}

static void *watch_thread(void *arg)
{
	struct watcher *w = arg;
	errseq_t since = errseq_slot_sample(w->slot);

	/* check before the first look at the stop flag, so that --timeout 0
	 * still reports an error that is already pending */
	for (;;) {
		int r = consume(w, &since);

		if (r == 1)
			break;	/* --once: another slot's report won */

		if (r < 0 && r >= -ERRSEQ_MAX_ERRNO) {
			if (!report(w, -r, since))
				break;
			continue;
		}
		if (r < 0) {
			fail(w, r);
			break;
		}
		if (stopping(w->st))
			break;
		r = errseq_slot_wait(w->slot, since, WATCH_SLICE_MS);
		if (r == 0 || r == -ETIMEDOUT || r == -EINTR)
			continue;
		fail(w, r);
		break;
	}
	return NULL;
}

static int open_slots(struct errseq_client *c, struct watcher *ws,
		      char *const *names, int n)
{
	for (int i = 0; i < n; i++) {
		int r = errseq_slot_open(c, names[i], 0, &ws[i].slot);

		ws[i].name = names[i];
		if (r == -ENOENT) {
			ctl_err("watch: no such slot '%s'", names[i]);
			return CTL_EXIT_FAIL;
		}
		if (r < 0) {
			ctl_err("watch: cannot open slot '%s': %s", names[i],
				errseq_strerror(r));
			return CTL_EXIT_FAIL;
		}
	}
	return CTL_EXIT_OK;
}

/* Start one thread per slot with SIGINT and SIGTERM blocked in them, so
 * that the signals reach the main thread. */
static int start_threads(struct watcher *ws, int n)
{
	sigset_t block, old;
	int r = 0;

	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	for (int i = 0; i < n && r == 0; i++) {
		r = pthread_create(&ws[i].thread, NULL, watch_thread, &ws[i]);
		if (r == 0)
			ws[i].running = true;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r) {
		ctl_err("watch: cannot start a thread: %s", strerror(r));
		return CTL_EXIT_FAIL;
	}
	return CTL_EXIT_OK;
}

/* Wait for a reason to stop.  Returns true if --timeout ran out first. */
static bool wait_main(int rfd, const struct ctl_opts *o)
{
	int64_t deadline = o->has_timeout ? now_ms() + o->timeout_ms : 0;

	for (;;) {
		struct pollfd pfd = { .fd = rfd, .events = POLLIN };
		int64_t left = o->has_timeout ? deadline - now_ms() : -1;
		char why;
		int r;

		if (o->has_timeout && left <= 0)
			return true;
		r = poll(&pfd, 1, left > INT32_MAX ? INT32_MAX : (int)left);
		if (r < 0 && errno != EINTR)
			return false;
		if (r > 0 && read(rfd, &why, 1) == 1)
			return false;	/* any message means stop */
	}
}

int ctl_cmd_watch(struct errseq_client *c, const struct ctl_opts *o,
		  char *const *names, int n)
{
	struct watch_state st = { .o = o, .wake_fd = -1 };
	struct sigaction sa = { .sa_handler = on_signal,
				.sa_flags = SA_RESTART }, old_int, old_term;
	struct watcher *ws = calloc((size_t)n, sizeof(*ws));
	int pipefd[2];
	bool timed_out = false;
	int status;

	if (!ws) {
		ctl_err("watch: out of memory");
		return CTL_EXIT_FAIL;
	}
	if (pipe2(pipefd, O_CLOEXEC | O_NONBLOCK) < 0) {
		ctl_err("watch: pipe: %s", strerror(errno));
		free(ws);
		return CTL_EXIT_FAIL;
	}
	pthread_mutex_init(&st.lock, NULL);
	for (int i = 0; i < n; i++)
		ws[i].st = &st;
	st.wake_fd = pipefd[1];
	/* handlers first: once a slot is open (its holders count shows it),
	 * SIGINT and SIGTERM already mean a clean exit */
	signal_wake_fd = pipefd[1];
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);

	status = open_slots(c, ws, names, n);
	if (status == CTL_EXIT_OK)
		status = start_threads(ws, n);
	if (status == CTL_EXIT_OK)
		timed_out = wait_main(pipefd[0], o);

	/* relaxed: see stopping() */
	__atomic_store_n(&st.stop, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < n; i++)
		if (ws[i].running)
			pthread_join(ws[i].thread, NULL);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);

	if (status == CTL_EXIT_OK) {
		if (o->once && st.reported)
			status = CTL_EXIT_OK;
		else if (st.fatal)
			status = CTL_EXIT_FAIL;
		else if (o->once && timed_out) {
			ctl_err("watch: timed out after %g s: nothing reported",
				(double)o->timeout_ms / 1000.0);
			status = CTL_EXIT_FAIL;
		}
	}
	for (int i = 0; i < n; i++)
		if (ws[i].slot)
			errseq_slot_close(ws[i].slot);
	signal_wake_fd = -1;
	close(pipefd[0]);
	close(pipefd[1]);
	pthread_mutex_destroy(&st.lock);
	free(ws);
	return status;
}
