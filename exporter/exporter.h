/*
 * exporter.h - what the parts of errseq-exporter share: its options, one
 * scrape's snapshot of the daemon, and the writers of each HTTP resource
 * (metrics.c: GET /metrics; page.c: GET /; the JSON resources come from
 * ctl/listing.c, shared with errseqctl).
 *
 * errseq-exporter is a read-only client of errseqd: it lists slots and
 * reads the daemon's status, never opens, sets, checks or deletes a slot,
 * and never consumes an error.
 */
#ifndef ERRSEQ_EXPORTER_EXPORTER_H
#define ERRSEQ_EXPORTER_EXPORTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <errseq/client.h>

#include "ctl/listing.h"

#define EXP_DEFAULT_PORT 9877		/* see errseq-exporter(1) */
#define EXP_DEFAULT_MAX_SLOT_SERIES 2000
#define EXP_PAGE_ROWS 2000		/* rows the status page shows at most */

struct exp_opts {
	const char *listen;		/* ADDR:PORT as given */
	const char *socket;		/* errseqd's socket, NULL: default */
	const char **include;		/* --include globs */
	size_t n_include;
	const char **exclude;		/* --exclude globs */
	size_t n_exclude;
	size_t max_slot_series;		/* slots with per-slot series */
};

/* One look at the daemon, taken per request. */
struct exp_snapshot {
	bool up;			/* status and listing both answered */
	int error;			/* why not (negative code), if !up */
	struct errseq_daemon_status st;
	struct ctl_listing slots;	/* every live slot, index order */
};

/*
 * exp_write_metrics - the Prometheus text exposition of @snap into @f:
 * daemon series, aggregate slot series, per-slot series for the slots @o
 * selects (include/exclude globs, at most o->max_slot_series of them,
 * pending first, then the most recently set), and the exporter's own
 * series.  @scrape_start_ns is CLOCK_MONOTONIC at the request's start, for
 * errseq_exporter_scrape_duration_seconds; @scrapes counts requests so far.
 * Reorders @snap->slots.  Returns 0, or -EIO/-ENOMEM.
 */
int exp_write_metrics(FILE *f, struct exp_snapshot *snap,
		      const struct exp_opts *o, uint64_t scrape_start_ns,
		      uint64_t scrapes);

/*
 * exp_write_page - the status page (HTML, one self-contained document)
 * into @f.  @filter is the ?q= value from the URL (may be NULL; any bytes:
 * it is escaped), @nonce the CSP nonce of the page's one script.
 * Reorders @snap->slots.  Returns 0, or -EIO.
 */
int exp_write_page(FILE *f, struct exp_snapshot *snap, const char *filter,
		   const char *nonce);

/* exp_html_escape - write @s to @f with & < > " ' escaped as entities and
 * control bytes as U+FFFD, so that it is text in element content and in
 * quoted attribute values alike. */
void exp_html_escape(FILE *f, const char *s);

/* exp_now_ns - CLOCK_MONOTONIC (@mono) or CLOCK_REALTIME, nanoseconds. */
uint64_t exp_now_ns(bool mono);

/* exp_sort_for_cut - order @l for a cut: pending first, then the most
 * recently set, then by name. */
void exp_sort_for_cut(struct ctl_listing *l);

#endif /* ERRSEQ_EXPORTER_EXPORTER_H */
