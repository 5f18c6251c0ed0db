/*
 * test_top.c - `errseqctl top` in a real terminal (tmux), as a plain
 * snapshot, and its pure helpers (ctl/topfmt.c) on their own.
 *
 * Each terminal case starts a real errseqd (tests/harness.h: its own
 * socket and shm names), makes three slots through liberrseq-client
 * (alpha: never set, bravo: an error a watcher consumed, charlie: a
 * pending error) and runs the built errseqctl ($ERRSEQCTL_BIN) top in a
 * detached tmux session of a fixed size, on a tmux server of the test's
 * own (-S: a socket in the test's temporary directory, -f: a config
 * written here).  It types with `tmux send-keys` and reads the screen
 * with `tmux capture-pane -p` (-e for the attributes), polling a bounded
 * number of times; nothing asserts on wall time.  The pane stays after
 * top exits (remain-on-exit); top runs under sh, which writes its exit
 * status to a file, so that q's exit status is checked.
 *
 * Cleanup: each case kills its tmux server; the unchecked teardown (in
 * the parent, which runs even when a case failed and its child exited)
 * kills the server again and removes the directory, and sweeps the
 * daemons' leftovers.  Without tmux the terminal cases are skipped: the
 * program runs the unit cases and then exits 77 saying why.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <errseq/client.h>

#include "ctl/topfmt.h"
#include "tests/support/harness.h"

#define SCREEN_MAX 65536
#define POLLS 3000		/* screen polls before giving up */
#define POLL_MS 10		/* between polls */
#define MAX_ARGS 32

static struct esdt_daemon d;
static struct errseq_client *cl;
static char tmpdir[64];		/* the tmux socket and config live here */
static char tmux_sock[128];
static char tmux_conf[128];
static char status_file[128];	/* top's exit status, written by sh */
static char screen[SCREEN_MAX];	/* the last capture */

static const char *ctl_bin(void)
{
	const char *b = getenv("ERRSEQCTL_BIN");

	return b && *b ? b : "ctl/errseqctl";
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, ms % 1000 * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Is @prog an executable in $PATH? */
static bool in_path(const char *prog)
{
	const char *path = getenv("PATH");
	char buf[4096];

	if (!path)
		path = "/usr/bin:/bin";
	while (*path) {
		size_t len = strcspn(path, ":");

		snprintf(buf, sizeof(buf), "%.*s/%s", (int)len, path, prog);
		if (len && access(buf, X_OK) == 0)
			return true;
		path += len;
		if (*path == ':')
			path++;
	}
	return false;
}

/* ---- running programs -------------------------------------------------- */

/*
 * Run @argv (argv[0] looked up in $PATH) with stdin from /dev/null; its
 * stdout (and stderr, if @err) into @out (NUL-terminated, cut at @len).
 * Returns the exit code, or 128 + signal.
 */
static int run_argv(const char *const *argv, char *out, size_t len, bool err)
{
	int pfd[2], status;
	size_t n = 0;
	pid_t pid;

	ck_assert_int_eq(pipe2(pfd, O_CLOEXEC), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(null, 0);
		dup2(pfd[1], 1);
		dup2(err ? pfd[1] : null, 2);
		unsetenv("TMUX");
		signal(SIGPIPE, SIG_DFL);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(pfd[1]);
	for (;;) {
		char sink[4096];
		ssize_t k = n + 1 < len ? read(pfd[0], out + n, len - 1 - n)
					: read(pfd[0], sink, sizeof(sink));

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		if (n + 1 < len)
			n += (size_t)k;
	}
	close(pfd[0]);
	if (len)
		out[n] = '\0';
	while (waitpid(pid, &status, 0) < 0)
		ck_assert_int_eq(errno, EINTR);
	return WIFEXITED(status) ? WEXITSTATUS(status)
				 : 128 + WTERMSIG(status);
}

/* tmux on the test's own server with the NULL-terminated arguments;
 * stdout into @out (may be NULL).  Returns its exit status. */
static int tmux(char *out, size_t len, const char *first, ...)
{
	const char *argv[MAX_ARGS];
	char sink[256];
	int n = 0;
	va_list ap;

	argv[n++] = "tmux";
	argv[n++] = "-S";
	argv[n++] = tmux_sock;
	argv[n++] = "-f";
	argv[n++] = tmux_conf;
	va_start(ap, first);
	for (const char *a = first; a; a = va_arg(ap, const char *)) {
		ck_assert_int_lt(n, MAX_ARGS - 1);
		argv[n++] = a;
	}
	va_end(ap);
	argv[n] = NULL;
	if (!out) {
		out = sink;
		len = sizeof(sink);
	}
	return run_argv(argv, out, len, true);
}

#define TMUX(out, len, ...) tmux(out, len, __VA_ARGS__, (const char *)NULL)

static void kill_tmux_server(void)
{
	char sink[256];
	const char *argv[] = { "tmux", "-S", tmux_sock, "kill-server", NULL };

	if (tmux_sock[0] && access(tmux_sock, F_OK) == 0)
		run_argv(argv, sink, sizeof(sink), true);
	if (tmux_sock[0])
		unlink(tmux_sock);
}

/* ---- the screen -------------------------------------------------------- */

/* Capture the pane's text (with -e: its attributes too) into screen[]. */
static void capture(bool attrs)
{
	int r = attrs ? TMUX(screen, sizeof(screen), "capture-pane", "-p",
			     "-e", "-t", "top")
		      : TMUX(screen, sizeof(screen), "capture-pane", "-p",
			     "-t", "top");

	ck_assert_msg(r == 0, "tmux capture-pane failed (%d): %s", r, screen);
}

/* The line of screen[] that starts with @word and a blank, into @out;
 * false if there is none. */
static bool screen_line(const char *word, char *out, size_t len)
{
	size_t wl = strlen(word);

	for (const char *p = screen; *p;) {
		size_t ll = strcspn(p, "\n");

		if (ll > wl && !strncmp(p, word, wl) && p[wl] == ' ') {
			snprintf(out, len, "%.*s", (int)ll, p);
			return true;
		}
		p += ll;
		if (*p)
			p++;
	}
	return false;
}

static bool has_row(const char *name)
{
	char line[512];

	return screen_line(name, line, sizeof(line));
}

/* Where the row of @name starts in screen[], or -1. */
static long row_pos(const char *name)
{
	char pat[160];
	const char *p;

	snprintf(pat, sizeof(pat), "\n%s ", name);
	p = strstr(screen, pat);
	return p ? (long)(p - screen) : -1;
}

/* Poll the screen until @pred holds (bounded); fails with @what. */
static void wait_screen(bool (*pred)(void *), void *arg, const char *what)
{
	for (int i = 0; i < POLLS; i++) {
		capture(false);
		if (pred(arg))
			return;
		sleep_ms(POLL_MS);
	}
	ck_abort_msg("screen never showed %s; last screen:\n%s", what, screen);
}

static bool pred_text(void *arg)
{
	return strstr(screen, arg) != NULL;
}

static bool pred_three_rows(void *arg)
{
	(void)arg;
	return has_row("alpha") && has_row("bravo") && has_row("charlie");
}

static void wait_text(const char *text)
{
	wait_screen(pred_text, (void *)text, text);
}

/* ---- slots and top ------------------------------------------------------ */

static struct errseq_slot_info stat_of(const char *name)
{
	struct errseq_slot_info info;

	ck_assert_int_eq(errseq_stat(cl, name, &info), 0);
	return info;
}

static void set_slot(const char *name, int err)
{
	struct errseq_slot *s;

	ck_assert_int_eq(errseq_slot_open(cl, name, 0, &s), 0);
	ck_assert_int_eq(errseq_slot_set(s, err), 0);
	errseq_slot_close(s);
}

/* alpha: never set; charlie: -ENOSPC, pending; bravo: -EIO set after
 * charlie (a later last-set time), then consumed by a watcher. */
static void three_slots(void)
{
	const char *names[] = { "alpha", "bravo", "charlie" };
	struct errseq_slot *s;
	errseq_t since;
	uint64_t charlie_at;

	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(errseq_slot_open(cl, names[i], ERRSEQ_CREATE |
						  ERRSEQ_EXCL, &s), 0);
		errseq_slot_close(s);
	}
	set_slot("charlie", -ENOSPC);
	charlie_at = stat_of("charlie").last_set_ns;
	ck_assert_int_eq(errseq_slot_open(cl, "bravo", 0, &s), 0);
	/* the time is coarse: set until bravo's last set is later */
	for (int i = 0; stat_of("bravo").last_set_ns <= charlie_at; i++) {
		ck_assert_int_lt(i, 100000);
		ck_assert_int_eq(errseq_slot_set(s, -EIO), 0);
		if (stat_of("bravo").last_set_ns <= charlie_at)
			sleep_ms(1);
	}
	since = 0;
	ck_assert_int_eq(errseq_slot_check_and_advance(s, &since), -EIO);
	errseq_slot_close(s);
	ck_assert(stat_of("bravo").value & ERRSEQ_SEEN);
	ck_assert(!(stat_of("charlie").value & ERRSEQ_SEEN));
}

/* Start errseqctl top --socket (the test's daemon) --interval 0.1 in a
 * detached @cols x @rows tmux session called "top", through sh, which
 * writes top's exit status to status_file when it exits (tmux's own
 * #{pane_dead_status} can miss it: tmux 3.3a sometimes sees the pty close
 * and never reaps the process). */
static void start_top(const char *cols, const char *rows)
{
	char out[1024];
	int r;

	unlink(status_file);
	r = TMUX(out, sizeof(out), "new-session", "-d", "-s", "top", "-x", cols,
		 "-y", rows, "sh", "-c",
		 "\"$0\" top --socket \"$1\" --interval 0.1; "
		 "echo $? > \"$2.tmp\"; mv \"$2.tmp\" \"$2\"",
		 ctl_bin(), d.sock, status_file);
	ck_assert_msg(r == 0, "tmux new-session failed (%d): %s", r, out);
}

/* Wait until top has exited; returns its exit status (128 + the signal
 * if a signal ended it, as sh reports it). */
static int wait_pane_exit(void)
{
	for (int i = 0; i < POLLS; i++) {
		FILE *f = fopen(status_file, "r");
		int status;

		if (f) {
			ck_assert_int_eq(fscanf(f, "%d", &status), 1);
			fclose(f);
			unlink(status_file);
			return status;
		}
		sleep_ms(POLL_MS);
	}
	ck_abort_msg("errseqctl top never exited");
	return -1;
}

static bool pane_alive(void)
{
	char out[256];

	ck_assert_int_eq(TMUX(out, sizeof(out), "display-message", "-p", "-t",
			      "top", "#{pane_dead}"), 0);
	return out[0] == '0';
}

static void send_keys(const char *keys, bool literal)
{
	int r = literal ? TMUX(NULL, 0, "send-keys", "-t", "top", "-l", keys)
			: TMUX(NULL, 0, "send-keys", "-t", "top", keys);

	ck_assert_int_eq(r, 0);
}

static void quit_top_exits_0(void)
{
	send_keys("q", true);
	ck_assert_int_eq(wait_pane_exit(), 0);
}

/*
 * Is SGR bold on where @name's row starts, in a `capture-pane -e` screen?
 * Finds the line whose text (escape sequences left out) starts with @name
 * and a blank, and interprets the SGR sequences before its first
 * character: 1 sets bold; 0, 22 and an empty list clear it.
 */
static bool bold_at_row(const char *name)
{
	const char *row = NULL, *line = screen;
	size_t nl = strlen(name);
	bool bold = false;

	while (*line && !row) {
		const char *p = line, *first = NULL;
		char text[256];
		size_t n = 0;

		while (*p && *p != '\n') {
			if (p[0] == '\033' && p[1] == '[') {
				p += 2;
				p += strspn(p, "0123456789;?");
				if (*p && *p != '\n')
					p++;
				continue;
			}
			if (!first)
				first = p;
			if (n + 1 < sizeof(text))
				text[n++] = *p;
			p++;
		}
		text[n] = '\0';
		if (n > nl && !strncmp(text, name, nl) && text[nl] == ' ')
			row = first;
		line = *p ? p + 1 : p;
	}
	ck_assert_msg(row != NULL, "no row %s in:\n%s", name, screen);
	for (const char *p = screen; p < row; p++) {
		size_t plen;

		if (p[0] != '\033' || p[1] != '[')
			continue;
		p += 2;
		plen = strspn(p, "0123456789;");
		if (p[plen] != 'm')
			continue;
		if (plen == 0)
			bold = false;
		for (const char *q = p; q < p + plen;) {
			int v = atoi(q);

			if (v == 1)
				bold = true;
			else if (v == 0 || v == 22)
				bold = false;
			q += strcspn(q, ";m");
			if (*q == ';')
				q++;
		}
	}
	return bold;
}

/* The last field of @name's row (its holders), or -1 without a row. */
static long row_holders(const char *name)
{
	char line[512];
	const char *sp;

	if (!screen_line(name, line, sizeof(line)))
		return -1;
	sp = strrchr(line, ' ');
	return sp ? atol(sp + 1) : -1;
}

struct holders_arg {
	const char *name;
	long n;
};

static bool pred_holders(void *arg)
{
	const struct holders_arg *h = arg;

	return row_holders(h->name) == h->n;
}

/* ---- fixtures ----------------------------------------------------------- */

/* Unchecked (in the parent, once per case set): the directory for the
 * tmux socket and config and top's exit status. */
static void setup_tmpdir(void)
{
	FILE *f;

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/esqtop-%ld", (long)getpid());
	ck_assert(mkdir(tmpdir, 0700) == 0 || errno == EEXIST);
	snprintf(tmux_sock, sizeof(tmux_sock), "%s/tmux.sock", tmpdir);
	snprintf(tmux_conf, sizeof(tmux_conf), "%s/tmux.conf", tmpdir);
	snprintf(status_file, sizeof(status_file), "%s/status", tmpdir);
	f = fopen(tmux_conf, "w");
	ck_assert_ptr_nonnull(f);
	/* the pane stays after top exits, for its exit status; no status
	 * bar, so the pane is the whole window */
	fputs("set -g remain-on-exit on\n"
	      "set -g status off\n"
	      "set -g default-terminal screen\n"
	      "set -g history-limit 0\n", f);
	ck_assert_int_eq(fclose(f), 0);
}

/* Unchecked: runs in the parent even when a case failed. */
static void teardown_tmpdir(void)
{
	kill_tmux_server();
	unlink(tmux_conf);
	unlink(status_file);
	rmdir(tmpdir);
	esdt_sweep();
}

static void setup_daemon(void)
{
	signal(SIGPIPE, SIG_IGN);
	esdt_sweep();
	kill_tmux_server();	/* a failed case's leftover, if any */
	ck_assert_int_eq(esdt_daemon_start(&d, 64, NULL), 0);
	ck_assert_int_eq(errseq_client_open(d.sock, &cl), 0);
	three_slots();
}

static void teardown_daemon(void)
{
	kill_tmux_server();
	errseq_client_close(cl);
	cl = NULL;
	esdt_daemon_cleanup(&d);
}

/* ---- the live view ------------------------------------------------------ */

START_TEST(top_shows_slots_states_and_highlights_pending)
{
	struct errseq_slot *held;
	char line[512];

	start_top("120", "30");
	wait_screen(pred_three_rows, NULL, "the three slots");
	/* the daemon's status on top */
	ck_assert_msg(!strncmp(screen, "errseqd ", 8), "%s", screen);
	ck_assert_ptr_nonnull(strstr(screen, "slots 3/64"));
	ck_assert_ptr_nonnull(strstr(screen,
		"NAME     STATE      ERRNO   SETS/S  LAST SET"));

	ck_assert(screen_line("alpha", line, sizeof(line)));
	ck_assert_msg(strstr(line, " never set ") && strstr(line, " - "),
		      "%s", line);
	ck_assert(screen_line("bravo", line, sizeof(line)));
	ck_assert_msg(strstr(line, " seen ") && strstr(line, " EIO ") &&
		      strstr(line, " ago"), "%s", line);
	ck_assert(screen_line("charlie", line, sizeof(line)));
	ck_assert_msg(strstr(line, " pending ") && strstr(line, " ENOSPC ") &&
		      strstr(line, " ago"), "%s", line);

	/* the pending row is highlighted, the others are not */
	capture(true);
	ck_assert_msg(bold_at_row("charlie"), "charlie not bold:\n%s", screen);
	ck_assert_msg(!bold_at_row("alpha"), "alpha bold:\n%s", screen);
	ck_assert_msg(!bold_at_row("bravo"), "bravo bold:\n%s", screen);

	/* holders: a handle the test holds shows up */
	capture(false);
	ck_assert_int_eq(row_holders("alpha"), 0);
	ck_assert_int_eq(errseq_slot_open(cl, "alpha", 0, &held), 0);
	wait_screen(pred_holders, &(struct holders_arg){ "alpha", 1 },
		    "alpha with 1 holder");
	errseq_slot_close(held);
	wait_screen(pred_holders, &(struct holders_arg){ "alpha", 0 },
		    "alpha with 0 holders");

	/* top opened nothing and consumed nothing */
	ck_assert(!(stat_of("charlie").value & ERRSEQ_SEEN));
	ck_assert_uint_eq(stat_of("charlie").holders, 0);
	ck_assert_uint_eq(stat_of("bravo").holders, 0);
	quit_top_exits_0();
	ck_assert(!(stat_of("charlie").value & ERRSEQ_SEEN));
}
END_TEST

static bool pred_rate_positive(void *arg)
{
	char line[512], name[160], state[32], err[32], rate[32];

	if (!screen_line(arg, line, sizeof(line)))
		return false;
	if (sscanf(line, "%159s %31s %31s %31s", name, state, err, rate) != 4)
		return false;
	return strcmp(rate, "-") && atof(rate) > 0;
}

static bool pred_rate_zero(void *arg)
{
	char line[512], name[160], state[32], err[32], rate[32];

	if (!screen_line(arg, line, sizeof(line)))
		return false;
	if (sscanf(line, "%159s %31s %31s %31s", name, state, err, rate) != 4)
		return false;
	return !strcmp(rate, "0");
}

START_TEST(top_sets_per_second_follow_sets)
{
	pid_t setter;
	int status;

	start_top("120", "30");
	wait_screen(pred_three_rows, NULL, "the three slots");
	wait_screen(pred_rate_zero, (void *)"bravo", "bravo at 0 sets/s");

	/* a producer that keeps setting bravo until it is stopped */
	setter = fork();
	ck_assert_int_ge(setter, 0);
	if (setter == 0) {
		struct errseq_client *c2;
		struct errseq_slot *s;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (errseq_client_open(d.sock, &c2) < 0 ||
		    errseq_slot_open(c2, "bravo", 0, &s) < 0)
			_exit(1);
		for (;;) {
			if (errseq_slot_set(s, -EIO) < 0)
				_exit(1);
			sleep_ms(2);
		}
	}
	wait_screen(pred_rate_positive, (void *)"bravo",
		    "a non-zero sets/s for bravo");
	ck_assert_int_eq(kill(setter, SIGKILL), 0);
	ck_assert_int_eq(waitpid(setter, &status, 0), setter);
	ck_assert(WIFSIGNALED(status));
	/* and back to zero once nobody sets */
	wait_screen(pred_rate_zero, (void *)"bravo", "bravo back at 0 sets/s");
	{
		char line[512];

		ck_assert(screen_line("bravo", line, sizeof(line)));
		ck_assert_ptr_nonnull(strstr(line, " pending "));
	}
	quit_top_exits_0();
}
END_TEST

static bool pred_only_bravo(void *arg)
{
	(void)arg;
	return has_row("bravo") && !has_row("alpha") && !has_row("charlie") &&
	       strstr(screen, "filter: b*") != NULL;
}

static bool pred_only_charlie(void *arg)
{
	(void)arg;
	return has_row("charlie") && !has_row("alpha") && !has_row("bravo") &&
	       strstr(screen, ", pending only") != NULL;
}

static bool pred_all_by_name(void *arg)
{
	(void)arg;
	return pred_three_rows(NULL) && strstr(screen, "sort: name ") &&
	       strstr(screen, "filter: none ") &&
	       !strstr(screen, "pending only");
}

START_TEST(top_keys_filter_pending_sort_quit)
{
	long a, b, c;

	start_top("120", "30");
	wait_screen(pred_all_by_name, NULL, "all three, by name");
	a = row_pos("alpha");
	b = row_pos("bravo");
	c = row_pos("charlie");
	ck_assert(a < b && b < c);

	/* / and a glob filter; / and an empty glob show all again */
	send_keys("/", true);
	wait_text("filter (glob");
	send_keys("b*", true);
	send_keys("Enter", false);
	wait_screen(pred_only_bravo, NULL, "only bravo (filter b*)");
	send_keys("/", true);
	wait_text("filter (glob");
	send_keys("BSpace", false);
	send_keys("BSpace", false);
	send_keys("Enter", false);
	wait_screen(pred_all_by_name, NULL, "all three again");

	/* p: pending only, and back */
	send_keys("p", true);
	wait_screen(pred_only_charlie, NULL, "only the pending charlie");
	send_keys("p", true);
	wait_screen(pred_all_by_name, NULL, "all three after p again");

	/* s: by state (pending, seen, never set) */
	send_keys("s", true);
	wait_text("sort: state ");
	wait_screen(pred_three_rows, NULL, "the three slots by state");
	a = row_pos("alpha");
	b = row_pos("bravo");
	c = row_pos("charlie");
	ck_assert_msg(c < b && b < a, "not by state:\n%s", screen);
	/* s: by last set, latest first (bravo was set after charlie) */
	send_keys("s", true);
	wait_text("sort: last set ");
	wait_screen(pred_three_rows, NULL, "the three slots by last set");
	a = row_pos("alpha");
	b = row_pos("bravo");
	c = row_pos("charlie");
	ck_assert_msg(b < c && c < a, "not by last set:\n%s", screen);
	/* s: sets/s, then back to name */
	send_keys("s", true);
	wait_text("sort: sets/s ");
	send_keys("s", true);
	wait_screen(pred_all_by_name, NULL, "sorted by name again");

	quit_top_exits_0();
}
END_TEST

START_TEST(top_survives_daemon_restart)
{
	int status;

	start_top("120", "30");
	wait_screen(pred_three_rows, NULL, "the three slots");
	errseq_client_close(cl);
	cl = NULL;
	status = esdt_daemon_stop(&d, SIGTERM);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	wait_text("errseqd UNREACHABLE");
	/* the last listing stays on screen */
	ck_assert(pred_three_rows(NULL));
	ck_assert(pane_alive());

	ck_assert_int_eq(esdt_daemon_restart(&d, NULL), 0);
	ck_assert_int_eq(errseq_client_open(d.sock, &cl), 0);
	ck_assert_int_eq(errseq_slot_unlink(cl, "alpha"), 0);
	/* back: status line and a fresh listing without alpha */
	for (int i = 0;; i++) {
		ck_assert_msg(i < POLLS, "no fresh listing:\n%s", screen);
		capture(false);
		if (!strncmp(screen, "errseqd 0", 9) && !has_row("alpha") &&
		    has_row("bravo") && has_row("charlie"))
			break;
		sleep_ms(POLL_MS);
	}
	quit_top_exits_0();
}
END_TEST


START_TEST(top_waits_for_a_daemon_not_there_yet)
{
	int status;

	errseq_client_close(cl);
	cl = NULL;
	status = esdt_daemon_stop(&d, SIGTERM);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	start_top("120", "30");
	wait_text("errseqd UNREACHABLE: connect: ");
	ck_assert(!has_row("alpha"));
	ck_assert(pane_alive());
	ck_assert_int_eq(esdt_daemon_restart(&d, NULL), 0);
	wait_screen(pred_three_rows, NULL, "the three slots once it is up");
	ck_assert_ptr_null(strstr(screen, "UNREACHABLE"));
	quit_top_exits_0();
}
END_TEST

START_TEST(top_redraws_on_resize)
{
	char line[512];

	start_top("120", "30");
	wait_screen(pred_three_rows, NULL, "the three slots");
	ck_assert_ptr_null(strstr(screen, "rows 1-"));
	/* 6 lines leave room for two slots: only a redraw at the new size
	 * says so on the bottom line */
	ck_assert_int_eq(TMUX(NULL, 0, "resize-window", "-t", "top", "-x",
			      "60", "-y", "6"), 0);
	wait_text("rows 1-2 of 3 ");
	ck_assert(has_row("alpha") && has_row("bravo") && !has_row("charlie"));
	send_keys("End", false);
	wait_text("rows 2-3 of 3 ");
	ck_assert(has_row("bravo") && has_row("charlie") && !has_row("alpha"));
	ck_assert(screen_line("charlie", line, sizeof(line)));
	ck_assert_ptr_nonnull(strstr(line, " pending "));
	/* and back to a size that holds them all */
	ck_assert_int_eq(TMUX(NULL, 0, "resize-window", "-t", "top", "-x",
			      "120", "-y", "30"), 0);
	wait_screen(pred_three_rows, NULL, "the three slots again");
	ck_assert(pane_alive());
	quit_top_exits_0();
}
END_TEST

/* ---- the plain snapshot ------------------------------------------------- */

START_TEST(top_plain_snapshot_when_not_a_terminal)
{
	char out[8192];
	const char *all[] = { ctl_bin(), "top", "--socket", d.sock,
			      "--interval", "0.1", NULL };
	const char *glob[] = { ctl_bin(), "-s", d.sock, "top", "c*",
			       "--interval", "0.1", NULL };
	char missing[160];
	const char *none[] = { ctl_bin(), "top", "--socket", missing,
			       "--interval", "0.1", NULL };
	const char *bad[] = { ctl_bin(), "top", "--interval", "0", NULL };

	ck_assert_int_eq(run_argv(all, out, sizeof(out), false), 0);
	memcpy(screen, out, sizeof(out));
	ck_assert_msg(!strncmp(screen, "errseqd ", 8), "%s", screen);
	ck_assert_ptr_nonnull(strstr(screen, "3 slots shown, 1 pending"));
	ck_assert_ptr_nonnull(strstr(screen, "\nNAME     STATE      ERRNO"));
	ck_assert(pred_three_rows(NULL));
	ck_assert_ptr_null(strchr(screen, '\033'));	/* plain text */
	ck_assert(screen_line("charlie", out, sizeof(out)));
	ck_assert_ptr_nonnull(strstr(out, " pending "));
	ck_assert_ptr_nonnull(strstr(out, " ENOSPC "));

	ck_assert_int_eq(run_argv(glob, out, sizeof(out), false), 0);
	memcpy(screen, out, sizeof(out));
	ck_assert(has_row("charlie") && !has_row("alpha") &&
		  !has_row("bravo"));

	snprintf(missing, sizeof(missing), "%s.none", d.sock);
	ck_assert_int_eq(run_argv(none, out, sizeof(out), true), 1);
	ck_assert_msg(strstr(out, "cannot connect to errseqd at ") != NULL,
		      "%s", out);
	ck_assert_int_eq(run_argv(bad, out, sizeof(out), true), 2);
	ck_assert_ptr_nonnull(strstr(out, "invalid --interval"));
	/* nothing consumed */
	ck_assert(!(stat_of("charlie").value & ERRSEQ_SEEN));
}
END_TEST

/* ---- ctl/topfmt.c on its own -------------------------------------------- */

START_TEST(topfmt_escape_control_characters)
{
	char buf[64];

	ck_assert_uint_eq(top_escape(buf, sizeof(buf), "disk0:a/b@c-d_e.f"),
			  17);
	ck_assert_str_eq(buf, "disk0:a/b@c-d_e.f");
	top_escape(buf, sizeof(buf), "a\nb\033[2Jc\td\x7f\xff\\");
	ck_assert_str_eq(buf, "a\\x0ab\\x1b[2Jc\\x09d\\x7f\\xff\\\\");
	/* cut on a whole escape, never in the middle of one */
	ck_assert_uint_eq(top_escape(buf, 6, "ab\033cd"), 2);
	ck_assert_str_eq(buf, "ab");
	ck_assert_uint_eq(top_escape(buf, 1, "abc"), 0);
	ck_assert_str_eq(buf, "");
}
END_TEST

START_TEST(topfmt_rate_and_age_texts)
{
	char buf[64];

	top_rate_text(buf, sizeof(buf), -1);
	ck_assert_str_eq(buf, "-");
	top_rate_text(buf, sizeof(buf), 0);
	ck_assert_str_eq(buf, "0");
	top_rate_text(buf, sizeof(buf), 2.5);
	ck_assert_str_eq(buf, "2.5");
	top_rate_text(buf, sizeof(buf), 1234.4);
	ck_assert_str_eq(buf, "1234");
	top_age_text(buf, sizeof(buf), 0, 5000000000u);
	ck_assert_str_eq(buf, "-");
	top_age_text(buf, sizeof(buf), 1000000000u, 4000000000u);
	ck_assert_str_eq(buf, "3s ago");
	top_age_text(buf, sizeof(buf), 1000000000u, 126000000000u);
	ck_assert_str_eq(buf, "2m 5s ago");
	top_age_text(buf, sizeof(buf), 9000000000u, 4000000000u);
	ck_assert_str_eq(buf, "0s ago");
}
END_TEST

static struct errseq_slot_info info(const char *name, uint32_t index,
				    uint32_t gen, uint64_t sets,
				    uint64_t created)
{
	struct errseq_slot_info e = { .index = index, .generation = gen,
				      .sets_total = sets,
				      .created_ns = created };

	snprintf(e.name, sizeof(e.name), "%s", name);
	return e;
}

static const struct top_row *row_named(const struct top_snap *s,
				       const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(top_snap_name(s, &s->rows[i]), name))
			return &s->rows[i];
	return NULL;
}

START_TEST(topfmt_rates_between_listings_and_dedupe)
{
	struct top_snap a = { .rows = NULL }, b = { .rows = NULL };
	struct errseq_slot_info e;
	const struct top_row *r;

	e = info("x", 1, 1, 10, 100);
	ck_assert_int_eq(top_snap_add(&a, &e), 0);
	e = info("y", 2, 1, 5, 100);
	ck_assert_int_eq(top_snap_add(&a, &e), 0);
	a.mono_ns = 1000000000u;
	a.real_ns = 5000000000u;
	ck_assert_int_eq(top_snap_finish(&a, NULL), 0);
	ck_assert(a.rows[0].rate < 0 && a.rows[1].rate < 0);

	/* two seconds later: x made 20 sets; y was deleted and made again
	 * at index 3 (listed twice: the old index and the new); z is new;
	 * w existed before but was missed by the first listing */
	e = info("y", 3, 1, 4, 6000000000u);
	ck_assert_int_eq(top_snap_add(&b, &e), 0);
	e = info("x", 1, 1, 30, 100);
	ck_assert_int_eq(top_snap_add(&b, &e), 0);
	e = info("y", 2, 1, 5, 100);
	ck_assert_int_eq(top_snap_add(&b, &e), 0);
	e = info("z", 4, 1, 6, 5500000000u);
	ck_assert_int_eq(top_snap_add(&b, &e), 0);
	e = info("w", 5, 1, 6, 50);
	ck_assert_int_eq(top_snap_add(&b, &e), 0);
	b.mono_ns = 3000000000u;
	b.real_ns = 7000000000u;
	ck_assert_int_eq(top_snap_finish(&b, &a), 0);

	ck_assert_uint_eq(b.n, 4);
	for (size_t i = 1; i < b.n; i++)	/* index order */
		ck_assert_uint_lt(b.rows[i - 1].index, b.rows[i].index);
	r = row_named(&b, "x");
	ck_assert(r && r->rate == 10.0);
	r = row_named(&b, "y");
	ck_assert(r && r->index == 3 && r->rate == 2.0);	/* newest */
	r = row_named(&b, "z");
	ck_assert(r && r->rate == 3.0);
	r = row_named(&b, "w");
	ck_assert(r && r->rate < 0);
	top_snap_free(&a);
	top_snap_free(&b);
}
END_TEST

START_TEST(topfmt_states_sorts_and_filter)
{
	struct top_snap s = { .rows = NULL };
	struct errseq_slot_info e;
	const struct top_row *p, *n, *q;

	e = info("pend", 1, 1, 1, 1);
	e.value = 5;			/* EIO, not seen */
	e.last_set_ns = 10;
	ck_assert_int_eq(top_snap_add(&s, &e), 0);
	e = info("seen", 2, 1, 1, 1);
	e.value = 5 | ERRSEQ_SEEN;
	e.last_set_ns = 20;
	ck_assert_int_eq(top_snap_add(&s, &e), 0);
	e = info("aaa", 3, 1, 0, 1);
	ck_assert_int_eq(top_snap_add(&s, &e), 0);
	ck_assert_int_eq(top_snap_finish(&s, NULL), 0);
	p = row_named(&s, "pend");
	q = row_named(&s, "seen");
	n = row_named(&s, "aaa");
	ck_assert_int_eq(top_row_state(p), TOP_PENDING);
	ck_assert_int_eq(top_row_state(q), TOP_SEEN);
	ck_assert_int_eq(top_row_state(n), TOP_NEVER);
	ck_assert_str_eq(top_state_name(TOP_NEVER), "never set");

	ck_assert_int_lt(top_row_cmp(&s, TOP_SORT_NAME, n, p), 0);
	ck_assert_int_lt(top_row_cmp(&s, TOP_SORT_STATE, p, q), 0);
	ck_assert_int_lt(top_row_cmp(&s, TOP_SORT_STATE, q, n), 0);
	ck_assert_int_lt(top_row_cmp(&s, TOP_SORT_LAST, q, p), 0);
	ck_assert_int_lt(top_row_cmp(&s, TOP_SORT_LAST, p, n), 0);
	ck_assert_str_eq(top_sort_name(TOP_SORT_RATE), "sets/s");

	ck_assert(top_row_visible(&s, p, NULL, false));
	ck_assert(top_row_visible(&s, p, "", true));
	ck_assert(!top_row_visible(&s, q, NULL, true));
	ck_assert(top_row_visible(&s, q, "se*", false));
	ck_assert(!top_row_visible(&s, n, "se*", false));
	ck_assert(top_row_visible(&s, p, "p*", false));
	top_snap_free(&s);
}
END_TEST

static Suite *top_suite(bool with_tmux)
{
	Suite *s = suite_create("top");
	TCase *unit = tcase_create("topfmt");
	TCase *live = tcase_create("tmux");
	TCase *plain = tcase_create("plain");

	tcase_add_test(unit, topfmt_escape_control_characters);
	tcase_add_test(unit, topfmt_rate_and_age_texts);
	tcase_add_test(unit, topfmt_rates_between_listings_and_dedupe);
	tcase_add_test(unit, topfmt_states_sorts_and_filter);
	suite_add_tcase(s, unit);

	tcase_add_unchecked_fixture(plain, NULL, esdt_sweep);
	tcase_add_checked_fixture(plain, setup_daemon, teardown_daemon);
	if (!getenv("CK_DEFAULT_TIMEOUT"))
		tcase_set_timeout(plain, 120);
	tcase_add_test(plain, top_plain_snapshot_when_not_a_terminal);
	suite_add_tcase(s, plain);
	if (!with_tmux)
		return s;

	tcase_add_unchecked_fixture(live, setup_tmpdir, teardown_tmpdir);
	tcase_add_checked_fixture(live, setup_daemon, teardown_daemon);
	if (!getenv("CK_DEFAULT_TIMEOUT"))
		tcase_set_timeout(live, 120);
	tcase_add_test(live, top_shows_slots_states_and_highlights_pending);
	tcase_add_test(live, top_sets_per_second_follow_sets);
	tcase_add_test(live, top_keys_filter_pending_sort_quit);
	tcase_add_test(live, top_survives_daemon_restart);
	tcase_add_test(live, top_waits_for_a_daemon_not_there_yet);
	tcase_add_test(live, top_redraws_on_resize);
	suite_add_tcase(s, live);
	return s;
}

int main(void)
{
	bool with_tmux = in_path("tmux");
	SRunner *sr = srunner_create(top_suite(with_tmux));
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	if (failed)
		return EXIT_FAILURE;
	if (!with_tmux) {
		printf("SKIP: tmux not found in PATH (apt-get install tmux); "
		       "errseqctl top's terminal tests did not run\n");
		return 77;
	}
	return EXIT_SUCCESS;
}
