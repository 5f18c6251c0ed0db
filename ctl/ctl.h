/*
 * ctl.h - what the parts of errseqctl share: parsed options, exit codes,
 * messages and the command entry points (list, stat and status live in
 * show.c, watch in watch.c, top in top.c, the rest in errseqctl.c).
 *
 * Every command takes a connected client and the options and returns the
 * process exit status; messages go to stderr through ctl_err(), results to
 * stdout.
 */
#ifndef ERRSEQ_CTL_CTL_H
#define ERRSEQ_CTL_CTL_H

#include <stdbool.h>
#include <stdint.h>

#include <errseq/client.h>

#include "ctl/listing.h"

#define CTL_EXIT_OK	0	/* success */
#define CTL_EXIT_FAIL	1	/* an operation failed */
#define CTL_EXIT_USAGE	2	/* bad command line */

enum ctl_format {
	CTL_FMT_TABLE,		/* for people */
	CTL_FMT_JSON,		/* --json */
	CTL_FMT_PROMETHEUS,	/* --prometheus (list only) */
};

struct ctl_opts {
	const char *socket;	/* --socket, or NULL for the default */
	enum ctl_format format;
	bool once;		/* watch --once */
	bool has_timeout;	/* watch --timeout given */
	int64_t timeout_ms;	/* watch --timeout, in milliseconds */
	bool pending;		/* list --pending */
	int errno_only;		/* list --errno NAME (0: any) */
	enum ctl_sort sort;	/* list --sort */
	const char *writers;	/* create --writers GROUP, or NULL */
};

/* Set once a command has reported a failed write to stdout itself, so that
 * ctl_finish_output does not report it again (with a stale errno). */
extern bool ctl_output_error_reported;

/* ctl_err - print "errseqctl: " and the formatted message, and a newline,
 * to stderr. */
void ctl_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ctl_finish_output - flush stdout; if writing failed, say so and return
 * CTL_EXIT_FAIL, else return @status unchanged. */
int ctl_finish_output(int status);

/*
 * ctl_cmd_list - print the live slots whose names match the fnmatch glob
 * @pattern (NULL: all) and o->pending / o->errno_only, sorted by o->sort,
 * in o->format, each name at most once (see ctl/listing.h); never
 * consumes.  Returns CTL_EXIT_OK, or CTL_EXIT_FAIL after a message if
 * listing failed (nothing is printed then).
 */
int ctl_cmd_list(struct errseq_client *c, const struct ctl_opts *o,
		 const char *pattern);

/* ctl_cmd_stat - print slot @name (table or JSON) through errseq_stat;
 * never consumes.  CTL_EXIT_FAIL with a message if there is no such slot
 * or the daemon fails. */
int ctl_cmd_stat(struct errseq_client *c, const struct ctl_opts *o,
		 const char *name);

/* ctl_cmd_status - print the daemon's status (key: value lines or JSON).
 * CTL_EXIT_FAIL with a message if the daemon fails. */
int ctl_cmd_status(struct errseq_client *c, const struct ctl_opts *o);

/*
 * ctl_cmd_watch - watch the slots named by the @n (>= 1) arguments in
 * @names and print one line per new error until SIGINT/SIGTERM, until
 * o->timeout_ms runs out, or (o->once) after the first report.  An
 * argument holding a glob character (*, ? or [) follows every matching
 * slot, including ones created later (the listing is read again every
 * second); any other is a slot name, which must exist.  A name given
 * twice, or matched by several arguments, is watched once.  An error is
 * consumed only after its report was written and flushed; a failed write
 * stops the watch at once with its cause.  Installs SIGINT and SIGTERM
 * handlers for its duration and starts one thread per slot.  Returns
 * CTL_EXIT_OK; CTL_EXIT_FAIL after a message if a named slot is missing or
 * deleted meanwhile (a slot matched by a glob may come and go), if writing
 * failed, or if o->once and the timeout ran out with nothing reported.
 */
int ctl_cmd_watch(struct errseq_client *c, const struct ctl_opts *o,
		  char *const *names, int n);

/*
 * ctl_cmd_top - the live view (top.c): on a terminal, redraw every
 * @interval_ms (> 0) until q, SIGINT, SIGTERM or SIGHUP; otherwise print
 * one plain snapshot (listing twice, @interval_ms apart, for the rates).
 * Shows only slots matching the fnmatch glob @pattern (NULL: all) until
 * the filter is changed.  Connects by itself to o->socket (the daemon may
 * be away: the live view says so and keeps trying); opens no slot and
 * consumes nothing.  Returns CTL_EXIT_OK, or CTL_EXIT_FAIL after a message
 * (snapshot: the daemon failed; live: the terminal is unusable).
 */
int ctl_cmd_top(const struct ctl_opts *o, const char *pattern,
		int64_t interval_ms);

#endif /* ERRSEQ_CTL_CTL_H */
