/*
 * show.c - errseqctl's read-only commands: list, stat and status, each as
 * an aligned table (or key: value lines) for people, as one JSON document
 * (--json) or, for list, in the Prometheus text format (--prometheus).
 *
 * Nothing here consumes an error: slot values come from errseq_list() and
 * errseq_stat(), which the daemon answers by peeking, never through
 * check_and_advance.  list collects the whole listing through
 * ctl/listing.c (each name at most once, filtered and sorted) and writes
 * it; the JSON and Prometheus writers live there too, shared with
 * errseq-exporter.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <errseq/client.h>

#include "ctl/ctl.h"
#include "ctl/format.h"
#include "ctl/listing.h"

static int list_failed(int r)
{
	ctl_err("list: %s", errseq_strerror(r));
	return CTL_EXIT_FAIL;
}

/* ---- the table ---------------------------------------------------------- */

enum { COL_NAME, COL_ERRNO, COL_COUNTER, COL_SEEN, COL_SETS, COL_LAST,
       COL_PID, COL_HOLDERS, COL_WRITERS, NCOLS };

/* a name of 128 bytes, each escaped as \xHH, fits */
#define FIELD_MAX (ERRSEQ_NAME_MAX * 4 + 1)

static const char *const col_title[NCOLS] = {
	"NAME", "ERRNO", "COUNTER", "SEEN", "SETS", "LAST SET", "PID",
	"HOLDERS", "WRITERS" };
static const bool col_right[NCOLS] = {
	false, false, true, false, true, false, true, true, false };

/* The errno as people read it: "EIO", the number if unnamed, "-" if 0. */
static void errno_field(char *buf, size_t len, unsigned e)
{
	const char *name = ctl_errno_name((int)e);

	if (e == 0)
		snprintf(buf, len, "-");
	else if (name)
		snprintf(buf, len, "%s", name);
	else
		snprintf(buf, len, "%u", e);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void row_fields(const struct errseq_slot_info *e, uint64_t now,
		       char f[NCOLS][FIELD_MAX])
{
	char age[32];
	size_t n;

	ctl_text_escape(f[COL_NAME], FIELD_MAX, e->name);
	errno_field(f[COL_ERRNO], FIELD_MAX, ctl_val_errno(e->value));
	snprintf(f[COL_COUNTER], FIELD_MAX, "%u", ctl_val_counter(e->value));
	snprintf(f[COL_SEEN], FIELD_MAX, "%s",
		 ctl_val_errno(e->value) == 0 ? "-" :
		 ctl_val_seen(e->value) ? "yes" : "no");
	snprintf(f[COL_SETS], FIELD_MAX, "%" PRIu64, e->sets_total);
	if (!e->last_set_ns ||
	    !(n = ctl_iso_time(f[COL_LAST], FIELD_MAX, e->last_set_ns, false)))
		snprintf(f[COL_LAST], FIELD_MAX, "-");
	else if (ctl_age(age, sizeof(age), now, e->last_set_ns))
		snprintf(f[COL_LAST] + n, FIELD_MAX - n, " (%s)", age);
	if (e->last_pid)
		snprintf(f[COL_PID], FIELD_MAX, "%ld", (long)e->last_pid);
	else
		snprintf(f[COL_PID], FIELD_MAX, "-");
	snprintf(f[COL_HOLDERS], FIELD_MAX, "%" PRIu32, e->holders);
	ctl_writers(f[COL_WRITERS], FIELD_MAX, e);
}

static void print_row(const char f[NCOLS][FIELD_MAX], const int *width)
{
	for (int k = 0; k < NCOLS; k++) {
		int w = k == NCOLS - 1 && !col_right[k] ? 0 : width[k];

		printf(col_right[k] ? "%*s" : "%-*s", w, f[k]);
		fputs(k == NCOLS - 1 ? "\n" : "  ", stdout);
	}
}

static void widen(int *width, const char f[NCOLS][FIELD_MAX])
{
	for (int k = 0; k < NCOLS; k++) {
		int len = (int)strlen(f[k]);

		if (len > width[k])
			width[k] = len;
	}
}

/* Two passes over the listing: measure, then print; each row's fields are
 * formatted twice rather than kept (a million rows of fields is 5 GB). */
static void list_table(const struct ctl_listing *l)
{
	static char f[NCOLS][FIELD_MAX];
	uint64_t now = now_ns();
	int width[NCOLS];

	for (int k = 0; k < NCOLS; k++) {
		width[k] = (int)strlen(col_title[k]);
		snprintf(f[k], FIELD_MAX, "%s", col_title[k]);
	}
	for (size_t i = 0; i < l->n; i++) {
		row_fields(&l->slot[i], now, f);
		widen(width, (const char (*)[FIELD_MAX])f);
	}
	for (int k = 0; k < NCOLS; k++)
		snprintf(f[k], FIELD_MAX, "%s", col_title[k]);
	print_row((const char (*)[FIELD_MAX])f, width);
	for (size_t i = 0; i < l->n; i++) {
		row_fields(&l->slot[i], now, f);
		print_row((const char (*)[FIELD_MAX])f, width);
	}
}

int ctl_cmd_list(struct errseq_client *c, const struct ctl_opts *o,
		 const char *pattern)
{
	const char *inc[1] = { pattern };
	struct ctl_filter flt = {
		.include = inc, .n_include = pattern ? 1 : 0,
		.pending = o->pending, .errno_only = o->errno_only,
	};
	struct ctl_listing l;
	int r = ctl_listing_collect(c, &flt, &l);

	if (r < 0)
		return list_failed(r);
	ctl_listing_sort(&l, o->sort);
	switch (o->format) {
	case CTL_FMT_JSON:
		ctl_write_json_list(stdout, &l);
		break;
	case CTL_FMT_PROMETHEUS:
		ctl_write_prom_slots(stdout, l.slot, l.n, NULL);
		break;
	default:
		list_table(&l);
		break;
	}
	ctl_listing_free(&l);
	return CTL_EXIT_OK;
}

/* ---- stat ------------------------------------------------------------- */

static void stat_text(const struct errseq_slot_info *e)
{
	unsigned en = ctl_val_errno(e->value);
	char ebuf[32], tbuf[64], nbuf[FIELD_MAX], wbuf[160];

	errno_field(ebuf, sizeof(ebuf), en);
	ctl_text_escape(nbuf, sizeof(nbuf), e->name);
	printf("name:        %s\n", nbuf);
	printf("index:       %" PRIu32 "\n", e->index);
	printf("generation:  %" PRIu32 "\n", e->generation);
	printf("value:       0x%08" PRIx32 "\n", e->value);
	if (en)
		printf("errno:       %s (%u: %s)\n", ebuf, en,
		       errseq_strerror(-(int)en));
	else
		printf("errno:       - (never set)\n");
	printf("counter:     %u\n", ctl_val_counter(e->value));
	printf("seen:        %s\n", ctl_val_seen(e->value) ? "yes" : "no");
	printf("sets total:  %" PRIu64 "\n", e->sets_total);
	if (e->last_set_ns && ctl_iso_time(tbuf, sizeof(tbuf), e->last_set_ns,
					   false))
		printf("last set:    %s by pid %ld\n", tbuf, (long)e->last_pid);
	else
		printf("last set:    -\n");
	printf("holders:     %" PRIu32 "\n", e->holders);
	printf("creator uid: %lu\n", (unsigned long)e->creator_uid);
	ctl_writers(wbuf, sizeof(wbuf), e);
	printf("writers:     %s (and root, and errseqd's user)\n", wbuf);
	printf("writable:    %s\n", e->writable ? "yes, by you" :
					       "no, not by you");
	if (e->created_ns && ctl_iso_time(tbuf, sizeof(tbuf), e->created_ns,
					  false))
		printf("created:     %s\n", tbuf);
	else
		printf("created:     -\n");
}

int ctl_cmd_stat(struct errseq_client *c, const struct ctl_opts *o,
		 const char *name)
{
	struct errseq_slot_info e;
	int r = errseq_stat(c, name, &e);

	if (r == -ENOENT) {
		ctl_err("stat: no such slot '%s'", name);
		return CTL_EXIT_FAIL;
	}
	if (r < 0) {
		ctl_err("stat: slot '%s': %s", name, errseq_strerror(r));
		return CTL_EXIT_FAIL;
	}
	if (o->format == CTL_FMT_JSON) {
		printf("{\"version\":%d,\"slot\":", CTL_JSON_VERSION);
		ctl_write_json_slot(stdout, &e);
		fputs("}\n", stdout);
	} else {
		stat_text(&e);
	}
	return CTL_EXIT_OK;
}

/* ---- status ----------------------------------------------------------- */

int ctl_cmd_status(struct errseq_client *c, const struct ctl_opts *o)
{
	struct errseq_daemon_status st;
	char up[64], started[64];
	int r = errseq_status(c, &st);

	if (r < 0) {
		ctl_err("status: %s", errseq_strerror(r));
		return CTL_EXIT_FAIL;
	}
	st.version[sizeof(st.version) - 1] = '\0';
	if (o->format == CTL_FMT_JSON) {
		ctl_write_json_status(stdout, &st);
		return CTL_EXIT_OK;
	}
	if (!ctl_duration(up, sizeof(up), st.uptime_ns))
		snprintf(up, sizeof(up), "?");
	if (!st.start_ns ||
	    !ctl_iso_time(started, sizeof(started), st.start_ns, false))
		snprintf(started, sizeof(started), "-");
	printf("pid:          %ld\n", (long)st.pid);
	printf("version:      %s\n", st.version);
	printf("started:      %s\n", started);
	printf("uptime:       %s\n", up);
	printf("capacity:     %" PRIu32 " slots\n", st.capacity);
	printf("slots used:   %" PRIu32 "\n", st.slots_used);
	printf("slots held:   %" PRIu32 " (deleted, still open)\n",
	       st.slots_held);
	printf("clients:      %" PRIu32 " (of at most %" PRIu32 ")\n",
	       st.clients, st.max_clients);
	/* hex, as errseqd logs it */
	printf("incarnation:  %016" PRIx64 "\n", st.incarnation);
	printf("segment:      %" PRIu64 " bytes\n", st.segment_bytes);
	return CTL_EXIT_OK;
}
