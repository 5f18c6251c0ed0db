/*
 * top.c - `errseqctl top`: a live, refreshing view of every slot, in the
 * spirit of varnishstat.
 *
 * Every interval it reads the daemon's status and pages through every live
 * slot with errseq_status() and errseq_list(), the public read-only calls:
 * it opens no slot handle and consumes nothing (pending errors stay
 * pending).  Sets per second come from the difference of each slot's
 * sets_total between two listings (ctl/topfmt.c).  On a terminal it draws
 * with ncurses and takes keys (q quits, / filters by glob, s cycles the
 * sort, p shows only pending errors, arrows and page keys scroll); when
 * stdout is not a terminal it lists twice, one interval apart so that the
 * rates are known, prints one plain snapshot and exits.
 *
 * The daemon going away (or never having been there) is shown on the
 * status line and the last listing stays on screen, dimmed, while top
 * keeps trying every interval; the client library reconnects by itself
 * once a connection was made.  Slot names are data: they are written
 * through top_escape(), never raw.
 */
#include "config.h"

#include <curses.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <errseq/client.h>

#include "ctl/ctl.h"
#include "ctl/format.h"
#include "ctl/topfmt.h"

#define TOP_PAGE 256		/* slots asked for per errseq_list call */
#define GLOB_MAX 256
#define NAME_TEXT (4 * ERRSEQ_NAME_MAX + 1)	/* escaped, worst case */

struct top {
	const char *socket;	/* --socket, or NULL for the default */
	char sock_text[256];	/* the socket, for messages (cut) */
	struct errseq_client *c;
	uint64_t interval_ns;

	struct top_snap cur;	/* the listing shown */
	struct top_snap spare;	/* the next listing is built here */
	bool have_data;		/* cur holds a listing */
	struct errseq_daemon_status st;
	int err;		/* last refresh's failure, 0 if it worked */
	const char *err_what;	/* "connect", "status" or "list" */
	uint64_t err_since_ns;	/* CLOCK_REALTIME of the first failure */

	char glob[GLOB_MAX];	/* filter, "" for none */
	bool pending_only;
	enum top_sort sort;
	const struct top_row **view;	/* visible rows, sorted */
	size_t nview, view_cap, npending;
	size_t scroll;		/* first visible row shown */

	bool prompting;		/* typing a filter after '/' */
	char input[GLOB_MAX];
	size_t input_len;
	bool color;

	struct errseq_slot_info page[TOP_PAGE];
};

static volatile sig_atomic_t top_stop;

static void on_signal(int sig)
{
	(void)sig;
	top_stop = 1;
}

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- reading the daemon ------------------------------------------------ */

static void set_error(struct top *t, const char *what, int r)
{
	if (!t->err)
		t->err_since_ns = clock_ns(CLOCK_REALTIME);
	t->err = r;
	t->err_what = what;
}

/* List every live slot into t->spare and make it the current listing. */
static int list_all(struct top *t)
{
	struct top_snap *s = &t->spare, tmp;
	uint32_t pos = 0;
	int r;

	top_snap_reset(s);
	s->mono_ns = clock_ns(CLOCK_MONOTONIC);
	s->real_ns = clock_ns(CLOCK_REALTIME);
	while (pos != ERRSEQ_LIST_END) {
		uint32_t before = pos;

		r = errseq_list(t->c, &pos, t->page, TOP_PAGE);
		if (r < 0)
			return r;
		if (r == 0 && pos == before && pos != ERRSEQ_LIST_END)
			return ERRSEQ_EPROTO;	/* no progress: avoid a loop */
		for (int i = 0; i < r; i++)
			if (top_snap_add(s, &t->page[i]) < 0)
				return -ENOMEM;
	}
	if (top_snap_finish(s, t->have_data ? &t->cur : NULL) < 0)
		return -ENOMEM;
	tmp = t->cur;
	t->cur = *s;
	*s = tmp;
	t->have_data = true;
	return 0;
}

/* One refresh: connect if need be, then status and listing.  A failure
 * is kept in t->err (the last listing stays); returns it. */
static int refresh_data(struct top *t)
{
	int r;

	if (!t->c) {
		r = errseq_client_open(t->socket, &t->c);
		if (r < 0) {
			t->c = NULL;
			set_error(t, "connect", r);
			return r;
		}
	}
	r = errseq_status(t->c, &t->st);
	if (r < 0) {
		set_error(t, "status", r);
		return r;
	}
	t->st.version[sizeof(t->st.version) - 1] = '\0';
	r = list_all(t);
	if (r < 0) {
		set_error(t, "list", r);
		return r;
	}
	t->err = 0;
	return 0;
}

/* ---- what is shown ----------------------------------------------------- */

static int cmp_view(const void *a, const void *b, void *arg)
{
	const struct top *t = arg;

	return top_row_cmp(&t->cur, t->sort, *(const struct top_row *const *)a,
			   *(const struct top_row *const *)b);
}

/* Rebuild the visible rows from the current listing, filter and sort. */
static int build_view(struct top *t)
{
	t->nview = t->npending = 0;
	if (t->view_cap < t->cur.n) {
		const struct top_row **v = realloc(t->view,
						   t->cur.n * sizeof(*v));

		if (!v)
			return -ENOMEM;
		t->view = v;
		t->view_cap = t->cur.n;
	}
	for (size_t i = 0; i < t->cur.n; i++) {
		const struct top_row *r = &t->cur.rows[i];

		if (!top_row_visible(&t->cur, r, t->glob, t->pending_only))
			continue;
		t->view[t->nview++] = r;
		if (top_row_state(r) == TOP_PENDING)
			t->npending++;
	}
	if (t->nview > 1)
		qsort_r(t->view, t->nview, sizeof(*t->view), cmp_view, t);
	return 0;
}

static void errno_text(char *buf, size_t len, errseq_t v)
{
	unsigned e = v & ERRSEQ_MAX_ERRNO;
	const char *name = ctl_errno_name((int)e);

	if (!e)
		snprintf(buf, len, "-");
	else if (name)
		snprintf(buf, len, "%s", name);
	else
		snprintf(buf, len, "%u", e);
}

/* The status line: the daemon, or why it cannot be reached. */
static void status_text(const struct top *t, char *buf, size_t len)
{
	char up[64], since[16] = "?";

	if (t->err) {
		time_t secs = (time_t)(t->err_since_ns / 1000000000u);
		struct tm tm;

		if (localtime_r(&secs, &tm))
			strftime(since, sizeof(since), "%H:%M:%S", &tm);
		snprintf(buf, len, "errseqd UNREACHABLE: %s: %s (since %s, "
			 "retrying every %.3gs%s) at %s", t->err_what,
			 errseq_strerror(t->err), since,
			 (double)t->interval_ns / 1e9,
			 t->have_data ? "; rows from the last listing" : "",
			 t->sock_text);
		return;
	}
	if (!ctl_duration(up, sizeof(up), t->st.uptime_ns))
		snprintf(up, sizeof(up), "?");
	snprintf(buf, len, "errseqd %s  pid %ld  up %s  slots %" PRIu32 "/%"
		 PRIu32 " (%" PRIu32 " deleted but held)  clients %" PRIu32 "/%"
		 PRIu32 "  incarnation %016" PRIx64, t->st.version,
		 (long)t->st.pid, up, t->st.slots_used, t->st.capacity,
		 t->st.slots_held, t->st.clients, t->st.max_clients,
		 t->st.incarnation);
}

enum { C_NAME, C_STATE, C_ERRNO, C_RATE, C_LAST, C_HOLDERS, NCOL };

static const char *const col_title[NCOL] = {
	"NAME", "STATE", "ERRNO", "SETS/S", "LAST SET", "HOLDERS" };
static const bool col_right[NCOL] = {
	false, false, false, true, false, true };

struct cells {
	char c[NCOL][NAME_TEXT];
};

static void row_cells(const struct top *t, const struct top_row *r,
		      uint64_t now_ns, struct cells *out)
{
	top_escape(out->c[C_NAME], sizeof(out->c[C_NAME]),
		   top_snap_name(&t->cur, r));
	snprintf(out->c[C_STATE], NAME_TEXT, "%s",
		 top_state_name(top_row_state(r)));
	errno_text(out->c[C_ERRNO], NAME_TEXT, r->value);
	top_rate_text(out->c[C_RATE], NAME_TEXT, t->err ? -1 : r->rate);
	top_age_text(out->c[C_LAST], NAME_TEXT, r->last_set_ns, now_ns);
	snprintf(out->c[C_HOLDERS], NAME_TEXT, "%" PRIu32, r->holders);
}

/* Column widths: the titles, the widest cell among @n rows from @first,
 * and the name column cut so the line fits @cols (0: no limit). */
static void widths(const struct top *t, size_t first, size_t n,
		   uint64_t now_ns, int cols, int *w)
{
	struct cells cl;
	int rest = 0;

	for (int k = 0; k < NCOL; k++)
		w[k] = (int)strlen(col_title[k]);
	w[C_STATE] = (int)strlen("never set");
	for (size_t i = first; i < first + n && i < t->nview; i++) {
		row_cells(t, t->view[i], now_ns, &cl);
		for (int k = 0; k < NCOL; k++) {
			int len = (int)strlen(cl.c[k]);

			if (len > w[k])
				w[k] = len;
		}
	}
	for (int k = 1; k < NCOL; k++)
		rest += 2 + w[k];
	if (cols > 0 && w[C_NAME] > cols - rest)
		w[C_NAME] = cols - rest < 8 ? 8 : cols - rest;
}

/* One line of cells; a name wider than its column ends in '~'. */
static void format_line(char *buf, size_t len, const struct cells *cl,
			const int *w)
{
	size_t n = 0;

	buf[0] = '\0';
	for (int k = 0; k < NCOL && n < len; k++) {
		char cell[NAME_TEXT];
		int r;

		snprintf(cell, sizeof(cell), "%s", cl->c[k]);
		if ((int)strlen(cell) > w[k] && w[k] > 0) {
			cell[w[k] - 1] = '~';
			cell[w[k]] = '\0';
		}
		r = snprintf(buf + n, len - n, col_right[k] ? "%*s%s" : "%-*s%s",
			     w[k], cell, k == NCOL - 1 ? "" : "  ");
		if (r < 0)
			break;
		n += (size_t)r;
	}
	/* no trailing blanks */
	n = strlen(buf);
	while (n && buf[n - 1] == ' ')
		buf[--n] = '\0';
}

static void header_cells(struct cells *cl)
{
	for (int k = 0; k < NCOL; k++)
		snprintf(cl->c[k], NAME_TEXT, "%s", col_title[k]);
}

/* ---- the plain snapshot ------------------------------------------------ */

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = { .tv_sec = (time_t)(ns / 1000000000u),
			       .tv_nsec = (long)(ns % 1000000000u) };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int snapshot(struct top *t)
{
	char line[2 * NAME_TEXT + 256];
	struct cells cl;
	int w[NCOL];
	uint64_t now;

	if (refresh_data(t) == 0) {
		sleep_ns(t->interval_ns);
		refresh_data(t);
	}
	if (t->err) {
		if (t->c)
			ctl_err("top: %s: %s", t->err_what,
				errseq_strerror(t->err));
		else
			ctl_err("top: cannot connect to errseqd at %s: %s",
				t->sock_text, errseq_strerror(t->err));
		return CTL_EXIT_FAIL;
	}
	if (build_view(t) < 0) {
		ctl_err("top: out of memory");
		return CTL_EXIT_FAIL;
	}
	now = clock_ns(CLOCK_REALTIME);
	status_text(t, line, sizeof(line));
	printf("%s\n", line);
	printf("%zu slots shown, %zu pending; sets/s over %.3g s\n",
	       t->nview, t->npending, (double)t->interval_ns / 1e9);
	widths(t, 0, t->nview, now, 0, w);
	header_cells(&cl);
	format_line(line, sizeof(line), &cl, w);
	printf("%s\n", line);
	for (size_t i = 0; i < t->nview; i++) {
		row_cells(t, t->view[i], now, &cl);
		format_line(line, sizeof(line), &cl, w);
		printf("%s\n", line);
	}
	return CTL_EXIT_OK;
}

/* ---- the live view ----------------------------------------------------- */

#define PAIR_PENDING 1
#define PAIR_ERROR 2

/* Rows of the screen that hold slots: all but the status line, the info
 * line, the header and the bottom line. */
static int body_rows(void)
{
	return LINES > 4 ? LINES - 4 : 0;
}

static void put_line(int y, const char *s, attr_t attr)
{
	if (y < 0 || y >= LINES)
		return;
	move(y, 0);
	if (attr)
		attron(attr);
	addnstr(s, COLS);
	if (attr)
		attroff(attr);
}

static void draw(struct top *t)
{
	char line[2 * NAME_TEXT + 512], g[NAME_TEXT];
	struct cells cl;
	int w[NCOL], body = body_rows();
	uint64_t now = clock_ns(CLOCK_REALTIME);
	attr_t err_attr = A_BOLD | (t->color ? COLOR_PAIR(PAIR_ERROR) : 0);

	if (build_view(t) < 0)
		t->nview = 0;
	if (t->scroll + (size_t)body > t->nview)
		t->scroll = t->nview > (size_t)body ? t->nview - (size_t)body
						    : 0;
	erase();
	status_text(t, line, sizeof(line));
	put_line(0, line, t->err ? err_attr : A_BOLD);
	top_escape(g, sizeof(g), t->glob);
	snprintf(line, sizeof(line), "sort: %s  filter: %s%s  %zu of %zu slots, "
		 "%zu pending  every %.3gs  (q quit, / filter, s sort, p pending)",
		 top_sort_name(t->sort), t->glob[0] ? g : "none",
		 t->pending_only ? ", pending only" : "", t->nview, t->cur.n,
		 t->npending, (double)t->interval_ns / 1e9);
	put_line(1, line, 0);

	widths(t, t->scroll, (size_t)body, now, COLS, w);
	header_cells(&cl);
	format_line(line, sizeof(line), &cl, w);
	put_line(2, line, A_REVERSE);
	for (int y = 0; y < body && t->scroll + (size_t)y < t->nview; y++) {
		const struct top_row *r = t->view[t->scroll + (size_t)y];
		attr_t a = 0;

		row_cells(t, r, now, &cl);
		format_line(line, sizeof(line), &cl, w);
		if (top_row_state(r) == TOP_PENDING)
			a = A_BOLD | (t->color ? COLOR_PAIR(PAIR_PENDING) : 0);
		if (t->err)
			a |= A_DIM;
		put_line(3 + y, line, a);
	}
	if (t->prompting) {
		char in[NAME_TEXT];

		top_escape(in, sizeof(in), t->input);
		snprintf(line, sizeof(line), "filter (glob; empty shows all, "
			 "Esc cancels): %s", in);
		put_line(LINES - 1, line, 0);
		curs_set(1);
	} else {
		if (t->nview > (size_t)body)
			snprintf(line, sizeof(line), "rows %zu-%zu of %zu "
				 "(arrows, PgUp, PgDn, Home, End scroll)",
				 t->scroll + 1, t->scroll + (size_t)body,
				 t->nview);
		else
			line[0] = '\0';
		put_line(LINES - 1, line, 0);
		curs_set(0);
	}
	refresh();
}

static void prompt_key(struct top *t, int ch)
{
	if (ch == '\n' || ch == '\r' || ch == KEY_ENTER) {
		memcpy(t->glob, t->input, t->input_len);
		t->glob[t->input_len] = '\0';
		t->prompting = false;
		t->scroll = 0;
	} else if (ch == 27) {		/* Esc */
		t->prompting = false;
	} else if (ch == KEY_BACKSPACE || ch == 127 || ch == 8) {
		if (t->input_len)
			t->input[--t->input_len] = '\0';
	} else if (ch == 21) {		/* ^U */
		t->input_len = 0;
		t->input[0] = '\0';
	} else if (ch >= 0x20 && ch < 0x7f && t->input_len + 1 < GLOB_MAX) {
		t->input[t->input_len++] = (char)ch;
		t->input[t->input_len] = '\0';
	}
}

/* A key outside the prompt; returns false for quit. */
static bool view_key(struct top *t, int ch)
{
	size_t body = (size_t)body_rows();

	switch (ch) {
	case 'q':
	case 'Q':
		return false;
	case '/':
		t->prompting = true;
		snprintf(t->input, sizeof(t->input), "%s", t->glob);
		t->input_len = strlen(t->input);
		break;
	case 's':
		t->sort = (enum top_sort)((t->sort + 1) % TOP_NSORT);
		break;
	case 'p':
		t->pending_only = !t->pending_only;
		t->scroll = 0;
		break;
	case KEY_UP:
		if (t->scroll)
			t->scroll--;
		break;
	case KEY_DOWN:
		t->scroll++;
		break;
	case KEY_PPAGE:
		t->scroll = t->scroll > body ? t->scroll - body : 0;
		break;
	case KEY_NPAGE:
		t->scroll += body;
		break;
	case KEY_HOME:
		t->scroll = 0;
		break;
	case KEY_END:
		t->scroll = SIZE_MAX / 2;	/* draw() clamps it */
		break;
	case 12:			/* ^L: redraw from scratch */
		clearok(curscr, TRUE);
		break;
	default:			/* KEY_RESIZE and others: redraw */
		break;
	}
	return true;
}

static int live(struct top *t)
{
	SCREEN *scr = newterm(NULL, stdout, stdin);
	uint64_t next = 0;

	if (!scr) {
		const char *term = getenv("TERM");

		ctl_err("top: cannot use the terminal (TERM=%s)",
			term ? term : "unset");
		return CTL_EXIT_FAIL;
	}
	cbreak();
	noecho();
	nonl();
	keypad(stdscr, TRUE);
	set_escdelay(25);
	curs_set(0);
	if (has_colors() && start_color() == OK) {
		use_default_colors();
		init_pair(PAIR_PENDING, COLOR_RED, -1);
		init_pair(PAIR_ERROR, COLOR_YELLOW, -1);
		t->color = true;
	}
	while (!top_stop) {
		uint64_t now = clock_ns(CLOCK_MONOTONIC);
		int ch;

		if (now >= next) {
			refresh_data(t);
			now = clock_ns(CLOCK_MONOTONIC);
			next = now + t->interval_ns;
		}
		draw(t);
		timeout((int)((next - now + 999999) / 1000000));
		ch = getch();
		if (ch == ERR)
			continue;
		if (t->prompting)
			prompt_key(t, ch);
		else if (!view_key(t, ch))
			break;
	}
	endwin();
	delscreen(scr);
	return CTL_EXIT_OK;
}

int ctl_cmd_top(const struct ctl_opts *o, const char *pattern,
		int64_t interval_ms)
{
	struct top *t = calloc(1, sizeof(*t));
	struct sigaction sa = { .sa_handler = on_signal }, old_int, old_term,
			 old_hup;
	int r;

	if (!t) {
		ctl_err("top: out of memory");
		return CTL_EXIT_FAIL;
	}
	t->socket = o->socket;
	if (o->socket)
		snprintf(t->sock_text, sizeof(t->sock_text), "%s", o->socket);
	else if (errseq_default_socket(t->sock_text, sizeof(t->sock_text)) < 0)
		snprintf(t->sock_text, sizeof(t->sock_text), "(default)");
	t->interval_ns = (uint64_t)interval_ms * 1000000u;
	if (pattern)
		snprintf(t->glob, sizeof(t->glob), "%s", pattern);

	if (!isatty(STDOUT_FILENO)) {
		r = snapshot(t);
	} else {
		/* before newterm(), which leaves handlers already set alone;
		 * no SA_RESTART, so that a signal ends getch()'s wait */
		sigemptyset(&sa.sa_mask);
		sigaction(SIGINT, &sa, &old_int);
		sigaction(SIGTERM, &sa, &old_term);
		sigaction(SIGHUP, &sa, &old_hup);
		r = live(t);
		sigaction(SIGINT, &old_int, NULL);
		sigaction(SIGTERM, &old_term, NULL);
		sigaction(SIGHUP, &old_hup, NULL);
	}
	errseq_client_close(t->c);
	top_snap_free(&t->cur);
	top_snap_free(&t->spare);
	free(t->view);
	free(t);
	return r;
}
