/*
 * watch.c - errseqctl watch: print each new error recorded in one or more
 * slots, one line per report, as it happens.
 *
 * Every watched slot gets its own handle, its own errseq_t cursor and its
 * own thread.  A cursor starts at errseq_slot_sample(), so an error nobody
 * has consumed yet is reported at once (as errseq_cursor_new would).
 *
 * An error is consumed only after its report is out: the thread looks
 * first (errseq_slot_check and errseq_slot_peek never consume), writes and
 * flushes the report, and only then advances its cursor with
 * errseq_slot_check_and_advance(), if the slot still holds the value it
 * reported (else it loops and reports the newer value first).  If writing
 * fails, the watch stops at once with the write's own errno and nothing is
 * consumed.  One window is left: an error recorded between that last look
 * and the advance is consumed with it; it is then reported right after
 * (or, with --once, left out: the one report of --once is already out).
 *
 * Arguments with a glob character are patterns: the main thread lists the
 * slots every WATCH_RELIST_MS and starts a watcher for every matching name
 * it does not watch yet; a watcher whose glob-matched slot is deleted ends
 * quietly, and a slot re-created under that name is picked up by the next
 * listing.  A name is watched at most once, however many arguments name
 * or match it.
 *
 * The main thread waits on a self-pipe that the threads (first report
 * with --once, or a fatal error) and the SIGINT/SIGTERM handler write to,
 * bounded by --timeout.  Threads wait in slices of WATCH_SLICE_MS so that
 * they notice the stop flag; output goes through one mutex, a whole line
 * at a time, flushed at once.
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
#include "ctl/listing.h"

#define WATCH_SLICE_MS 200	/* longest a thread sleeps between stop checks */
#define WATCH_RELIST_MS 1000	/* how often globs are matched again */

/* What the threads tell the main thread through the pipe. */
#define WAKE_SIGNAL	'S'	/* SIGINT or SIGTERM */
#define WAKE_REPORT	'R'	/* first report, with --once */
#define WAKE_FATAL	'E'	/* a thread gave up (message printed) */

struct watcher;

struct watch_state {
	const struct ctl_opts *o;
	int wake_fd;		/* write end of the self-pipe */
	int stop;		/* set by main: threads return */
	pthread_mutex_t lock;	/* stdout and the three fields below */
	bool reported;		/* a report was printed */
	bool fatal;		/* a thread failed */
	bool claimed;		/* --once: a thread has printed its report */
	struct watcher **w;	/* main thread's: every watcher started */
	size_t n, cap;
};

struct watcher {
	struct watch_state *st;
	char name[ERRSEQ_NAME_MAX + 1];
	bool from_glob;		/* found by a pattern: may come and go */
	struct errseq_slot *slot;
	pthread_t thread;
	bool running;
	int done;		/* the thread has returned (atomic) */
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

/* Write and flush one report of @value.  Returns 0, or the errno of the
 * failed write (EIO if the stream did not say). */
static int print_report(struct watcher *w, errseq_t value)
{
	struct timespec ts;
	uint64_t ns;
	char tbuf[64], nbuf[ERRSEQ_NAME_MAX * 4 + 1];
	int e = (int)ctl_val_errno(value);
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
		printf(",\"counter\":%u}\n", ctl_val_counter(value));
	} else {
		if (!ctl_iso_time(tbuf, sizeof(tbuf), ns, false))
			snprintf(tbuf, sizeof(tbuf), "-");
		ctl_text_escape(nbuf, sizeof(nbuf), w->name);
		if (ename)
			printf("%s %s %s (%d) counter=%u\n", tbuf, nbuf, ename,
			       e, ctl_val_counter(value));
		else
			printf("%s %s %d (%d) counter=%u\n", tbuf, nbuf, e, e,
			       ctl_val_counter(value));
	}
	errno = 0;
	if (fflush(stdout) != 0 || ferror(stdout))
		return errno ? errno : EIO;
	return 0;
}

/* Called with st->lock held: the output failed with @err; stop at once. */
static void write_failed(struct watch_state *st, int err)
{
	if (!ctl_output_error_reported)
		ctl_err("watch: error writing output: %s", strerror(err));
	ctl_output_error_reported = true;
	st->fatal = true;
	wake_main(st, WAKE_FATAL);
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
 * Report the error the slot holds (it differs from *@since) and consume
 * it.  Returns true if the thread should go on watching.
 */
static bool report_and_consume(struct watcher *w, errseq_t *since)
{
	struct watch_state *st = w->st;
	errseq_t v = errseq_slot_peek(w->slot), after;
	bool first;
	int err;

	if (v == *since || ctl_val_errno(v) == 0)
		return true;	/* changed back under us: look again */
	pthread_mutex_lock(&st->lock);
	if (st->o->once && st->claimed) {
		/* --once: another slot's report is out; leave this one */
		pthread_mutex_unlock(&st->lock);
		return false;
	}
	err = print_report(w, v);
	if (err) {
		write_failed(st, err);
		pthread_mutex_unlock(&st->lock);
		return false;
	}
	first = !st->reported;
	st->reported = true;
	if (st->o->once)
		st->claimed = true;
	/* consume only what was reported: if a newer error came meanwhile,
	 * leave the word alone (it is reported next, or kept for others) */
	if (errseq_slot_peek(w->slot) == v) {
		after = *since;
		errseq_slot_check_and_advance(w->slot, &after);
		if (after != (v | ERRSEQ_SEEN) && !st->o->once &&
		    ctl_val_errno(after) != 0) {
			/* recorded in the instant between the look and the
			 * advance: consumed with it, so report it now */
			err = print_report(w, after);
			if (err)
				write_failed(st, err);
		}
		*since = after;
	}
	pthread_mutex_unlock(&st->lock);
	if (err)
		return false;
	if (st->o->once) {
		if (first)
			wake_main(st, WAKE_REPORT);
		return false;
	}
	return true;
}

static void *watch_thread(void *arg)
{
	struct watcher *w = arg;
	errseq_t since = errseq_slot_sample(w->slot);

	/* check before the first look at the stop flag, so that --timeout 0
	 * still reports an error that is already pending */
	for (;;) {
		int r = errseq_slot_check(w->slot, since);

		if (r < 0 && r >= -ERRSEQ_MAX_ERRNO) {
			if (!report_and_consume(w, &since))
				break;
			continue;
		}
		if (r < 0)
			goto failed;
		if (stopping(w->st))
			break;
		r = errseq_slot_wait(w->slot, since, WATCH_SLICE_MS);
		if (r == 0 || r == -ETIMEDOUT || r == -EINTR)
			continue;
failed:
		/* a slot found by a glob may be deleted: stop quietly */
		if (!(w->from_glob && r == ERRSEQ_ESTALE))
			fail(w, r);
		break;
	}
	__atomic_store_n(&w->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* Is @name watched by a live watcher already? */
static bool watching(const struct watch_state *st, const char *name)
{
	for (size_t i = 0; i < st->n; i++)
		if (!__atomic_load_n(&st->w[i]->done, __ATOMIC_ACQUIRE) &&
		    !strcmp(st->w[i]->name, name))
			return true;
	return false;
}

/* Start a thread for @w with SIGINT and SIGTERM blocked in it, so that
 * the signals reach the main thread. */
static int start_thread(struct watcher *w)
{
	sigset_t block, old;
	int r;

	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	r = pthread_create(&w->thread, NULL, watch_thread, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r) {
		ctl_err("watch: cannot start a thread: %s", strerror(r));
		return CTL_EXIT_FAIL;
	}
	w->running = true;
	return CTL_EXIT_OK;
}

/*
 * Open @name and start watching it.  A missing slot is an error for a
 * name given as such, and skipped (0) for one found by a glob (it was
 * deleted since the listing).
 */
static int add_watcher(struct errseq_client *c, struct watch_state *st,
		       const char *name, bool from_glob)
{
	struct watcher *w;
	int r;

	if (watching(st, name))
		return CTL_EXIT_OK;
	if (st->n == st->cap) {
		size_t ncap = st->cap ? st->cap * 2 : 8;
		void *p = realloc(st->w, ncap * sizeof(*st->w));

		if (!p)
			goto nomem;
		st->w = p;
		st->cap = ncap;
	}
	w = calloc(1, sizeof(*w));
	if (!w)
		goto nomem;
	w->st = st;
	w->from_glob = from_glob;
	snprintf(w->name, sizeof(w->name), "%s", name);
	r = errseq_slot_open(c, name, 0, &w->slot);
	if (r < 0) {
		free(w);
		if (from_glob && (r == -ENOENT || r == ERRSEQ_ESTALE))
			return CTL_EXIT_OK;
		if (r == -ENOENT)
			ctl_err("watch: no such slot '%s'", name);
		else
			ctl_err("watch: cannot open slot '%s': %s", name,
				errseq_strerror(r));
		return CTL_EXIT_FAIL;
	}
	st->w[st->n++] = w;
	return start_thread(w);
nomem:
	ctl_err("watch: out of memory");
	return CTL_EXIT_FAIL;
}

/* Join and free the watchers whose threads have ended on their own. */
static void reap_watchers(struct watch_state *st)
{
	size_t k = 0;

	for (size_t i = 0; i < st->n; i++) {
		struct watcher *w = st->w[i];

		if (__atomic_load_n(&w->done, __ATOMIC_ACQUIRE)) {
			if (w->running)
				pthread_join(w->thread, NULL);
			errseq_slot_close(w->slot);
			free(w);
		} else {
			st->w[k++] = w;
		}
	}
	st->n = k;
}

/* Match the globs against the slots now; start watchers for new names. */
static int relist(struct errseq_client *c, struct watch_state *st,
		  const char *const *globs, size_t n_globs)
{
	struct ctl_filter f = { .include = globs, .n_include = n_globs };
	struct ctl_listing l;
	int r;

	if (n_globs == 0)
		return CTL_EXIT_OK;
	r = ctl_listing_collect(c, &f, &l);
	if (r < 0) {
		/* the daemon may be restarting: try again next time */
		return CTL_EXIT_OK;
	}
	reap_watchers(st);
	r = CTL_EXIT_OK;
	for (size_t i = 0; i < l.n && r == CTL_EXIT_OK; i++)
		r = add_watcher(c, st, l.slot[i].name, true);
	ctl_listing_free(&l);
	return r;
}

/* Wait for a reason to stop, matching the globs again every
 * WATCH_RELIST_MS.  Returns 1 if --timeout ran out first, 0 on another
 * reason to stop, CTL_EXIT_FAIL << 1 if relisting failed fatally. */
static int wait_main(int rfd, struct errseq_client *c, struct watch_state *st,
		     const char *const *globs, size_t n_globs)
{
	const struct ctl_opts *o = st->o;
	int64_t deadline = o->has_timeout ? now_ms() + o->timeout_ms : 0;
	int64_t next_list = now_ms() + WATCH_RELIST_MS;

	for (;;) {
		struct pollfd pfd = { .fd = rfd, .events = POLLIN };
		int64_t now = now_ms();
		int64_t left = o->has_timeout ? deadline - now : -1;
		char why;
		int r;

		if (o->has_timeout && left <= 0)
			return 1;
		if (n_globs) {
			if (now >= next_list) {
				if (relist(c, st, globs, n_globs))
					return 2;
				next_list = now_ms() + WATCH_RELIST_MS;
			}
			if (left < 0 || left > next_list - now)
				left = next_list - now;
		}
		r = poll(&pfd, 1, left > INT32_MAX ? INT32_MAX : (int)left);
		if (r < 0 && errno != EINTR)
			return 0;
		if (r > 0 && read(rfd, &why, 1) == 1)
			return 0;	/* any message means stop */
	}
}

int ctl_cmd_watch(struct errseq_client *c, const struct ctl_opts *o,
		  char *const *names, int n)
{
	struct watch_state st = { .o = o, .wake_fd = -1 };
	struct sigaction sa = { .sa_handler = on_signal,
				.sa_flags = SA_RESTART }, old_int, old_term;
	const char **globs = calloc((size_t)n, sizeof(*globs));
	size_t n_globs = 0;
	int pipefd[2];
	int waited = 0;
	int status = CTL_EXIT_OK;

	if (!globs) {
		ctl_err("watch: out of memory");
		return CTL_EXIT_FAIL;
	}
	if (pipe2(pipefd, O_CLOEXEC | O_NONBLOCK) < 0) {
		ctl_err("watch: pipe: %s", strerror(errno));
		free(globs);
		return CTL_EXIT_FAIL;
	}
	pthread_mutex_init(&st.lock, NULL);
	st.wake_fd = pipefd[1];
	/* handlers first: once a slot is open (its holders count shows it),
	 * SIGINT and SIGTERM already mean a clean exit */
	signal_wake_fd = pipefd[1];
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);

	for (int i = 0; i < n; i++)
		if (strpbrk(names[i], "*?["))
			globs[n_globs++] = names[i];
	for (int i = 0; i < n && status == CTL_EXIT_OK; i++)
		if (!strpbrk(names[i], "*?["))
			status = add_watcher(c, &st, names[i], false);
	if (status == CTL_EXIT_OK && n_globs) {
		/* the first match must succeed: a daemon that cannot list
		 * now is an error, later it is retried */
		struct ctl_listing l;
		struct ctl_filter f = { .include = globs,
					.n_include = n_globs };
		int r = ctl_listing_collect(c, &f, &l);

		if (r < 0) {
			ctl_err("watch: cannot list slots: %s",
				errseq_strerror(r));
			status = CTL_EXIT_FAIL;
		} else {
			for (size_t i = 0; i < l.n && status == CTL_EXIT_OK;
			     i++)
				status = add_watcher(c, &st, l.slot[i].name,
						     true);
			ctl_listing_free(&l);
		}
	}
	if (status == CTL_EXIT_OK)
		waited = wait_main(pipefd[0], c, &st, globs, n_globs);
	if (waited == 2)
		status = CTL_EXIT_FAIL;

	/* relaxed: see stopping() */
	__atomic_store_n(&st.stop, 1, __ATOMIC_RELAXED);
	for (size_t i = 0; i < st.n; i++)
		if (st.w[i]->running)
			pthread_join(st.w[i]->thread, NULL);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);

	if (status == CTL_EXIT_OK) {
		if (ctl_output_error_reported)
			status = CTL_EXIT_FAIL;
		else if (o->once && st.reported)
			status = CTL_EXIT_OK;
		else if (st.fatal)
			status = CTL_EXIT_FAIL;
		else if (o->once && waited == 1) {
			ctl_err("watch: timed out after %g s: nothing reported",
				(double)o->timeout_ms / 1000.0);
			status = CTL_EXIT_FAIL;
		}
	}
	for (size_t i = 0; i < st.n; i++) {
		errseq_slot_close(st.w[i]->slot);
		free(st.w[i]);
	}
	free(st.w);
	free(globs);
	signal_wake_fd = -1;
	close(pipefd[0]);
	close(pipefd[1]);
	pthread_mutex_destroy(&st.lock);
	return status;
}
