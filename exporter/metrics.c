/*
 * metrics.c - errseq-exporter's GET /metrics: the Prometheus text format
 * (version 0.0.4).  Names follow Prometheus' conventions and pass
 * `promtool check metrics`: counters end in _total, times are _seconds,
 * the daemon's identity is an info metric (value 1, labels), and a daemon
 * that does not answer is errseqd_up 0 with the exporter's own series, not
 * a failed scrape.
 *
 * Cardinality: aggregate series (slots by state, pending, sets) are always
 * written; per-slot series only for the slots the --include/--exclude
 * globs select, at most --max-slot-series of them, and
 * errseq_exporter_slots_cut says how many matching slots the cap left out.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl/format.h"
#include "exporter/exporter.h"

uint64_t exp_now_ns(bool mono)
{
	struct timespec ts;

	clock_gettime(mono ? CLOCK_MONOTONIC : CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_cut(const void *a, const void *b)
{
	const struct errseq_slot_info *x = a, *y = b;
	bool px = ctl_val_pending(x->value), py = ctl_val_pending(y->value);

	if (px != py)
		return px ? -1 : 1;
	if (x->last_set_ns != y->last_set_ns)
		return x->last_set_ns > y->last_set_ns ? -1 : 1;
	return strcmp(x->name, y->name);
}

void exp_sort_for_cut(struct ctl_listing *l)
{
	if (l->n > 1)
		qsort(l->slot, l->n, sizeof(*l->slot), cmp_cut);
}

static void family(FILE *f, const char *name, const char *type,
		   const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void seconds(FILE *f, uint64_t ns)
{
	fprintf(f, "%" PRIu64 ".%09" PRIu64 "\n", ns / 1000000000u,
		ns % 1000000000u);
}

static void daemon_series(FILE *f, const struct exp_snapshot *s)
{
	const struct errseq_daemon_status *st = &s->st;
	uint64_t never = 0, pending = 0, seen = 0, sets = 0;
	char version[sizeof(st->version) + 1];

	for (size_t i = 0; i < s->slots.n; i++) {
		errseq_t v = s->slots.slot[i].value;

		if (ctl_val_errno(v) == 0)
			never++;
		else if (ctl_val_pending(v))
			pending++;
		else
			seen++;
		sets += s->slots.slot[i].sets_total;
	}
	snprintf(version, sizeof(version), "%.*s", (int)sizeof(st->version),
		 st->version);
	family(f, "errseqd_info", "gauge",
	       "errseqd's version and segment incarnation (value 1); a new incarnation means the segment was replaced.");
	fputs("errseqd_info{version=\"", f);
	ctl_prom_label(f, version);
	fprintf(f, "\",incarnation=\"%016" PRIx64 "\"} 1\n", st->incarnation);
	family(f, "errseqd_start_time_seconds", "gauge",
	       "When errseqd started, in seconds since the epoch.");
	fputs("errseqd_start_time_seconds ", f);
	seconds(f, st->start_ns);
	family(f, "errseqd_slots_capacity", "gauge",
	       "Slots in the shared-memory segment.");
	fprintf(f, "errseqd_slots_capacity %" PRIu32 "\n", st->capacity);
	family(f, "errseqd_slots_used", "gauge", "Live slots.");
	fprintf(f, "errseqd_slots_used %" PRIu32 "\n", st->slots_used);
	family(f, "errseqd_slots_held", "gauge",
	       "Deleted slots still held open by a client.");
	fprintf(f, "errseqd_slots_held %" PRIu32 "\n", st->slots_held);
	family(f, "errseqd_clients", "gauge",
	       "Connections to errseqd, the exporter's own included.");
	fprintf(f, "errseqd_clients %" PRIu32 "\n", st->clients);
	family(f, "errseqd_clients_max", "gauge",
	       "Connections errseqd accepts at once.");
	fprintf(f, "errseqd_clients_max %" PRIu32 "\n", st->max_clients);
	family(f, "errseqd_segment_bytes", "gauge",
	       "Size of the shared-memory segment.");
	fprintf(f, "errseqd_segment_bytes %" PRIu64 "\n", st->segment_bytes);
	family(f, "errseqd_slots", "gauge",
	       "Live slots by state: never_set, pending (an error no watcher has consumed) or seen.");
	fprintf(f, "errseqd_slots{state=\"never_set\"} %" PRIu64 "\n", never);
	fprintf(f, "errseqd_slots{state=\"pending\"} %" PRIu64 "\n", pending);
	fprintf(f, "errseqd_slots{state=\"seen\"} %" PRIu64 "\n", seen);
	family(f, "errseqd_slots_pending", "gauge",
	       "Live slots holding an error no watcher has consumed yet.");
	fprintf(f, "errseqd_slots_pending %" PRIu64 "\n", pending);
	family(f, "errseqd_sets_total", "counter",
	       "Set calls summed over the live slots (drops when a slot is deleted: rate() treats that as a reset).");
	fprintf(f, "errseqd_sets_total %" PRIu64 "\n", sets);
}

int exp_write_metrics(FILE *f, struct exp_snapshot *snap,
		      const struct exp_opts *o, uint64_t scrape_start_ns,
		      uint64_t scrapes)
{
	static const struct ctl_prom_opts popts = { .errno_label = true,
						    .pending = true };
	struct ctl_filter flt = {
		.include = o->include, .n_include = o->n_include,
		.exclude = o->exclude, .n_exclude = o->n_exclude,
	};
	size_t matched = 0, cut = 0;

	family(f, "errseqd_up", "gauge",
	       "1 if errseqd answered this scrape, else 0.");
	fprintf(f, "errseqd_up %d\n", snap->up ? 1 : 0);
	if (snap->up) {
		struct errseq_slot_info *sel;

		daemon_series(f, snap);
		/* per-slot series: the selected slots, moved to the front */
		for (size_t i = 0; i < snap->slots.n; i++) {
			if (!ctl_filter_name(&flt, snap->slots.slot[i].name))
				continue;
			if (matched != i) {
				struct errseq_slot_info t = snap->slots.slot[matched];

				snap->slots.slot[matched] = snap->slots.slot[i];
				snap->slots.slot[i] = t;
			}
			matched++;
		}
		sel = snap->slots.slot;
		if (matched > o->max_slot_series) {
			struct ctl_listing part = { .slot = sel, .n = matched };

			exp_sort_for_cut(&part);
			cut = matched - o->max_slot_series;
			matched = o->max_slot_series;
		}
		ctl_write_prom_slots(f, sel, matched, &popts);
	}
	family(f, "errseq_exporter_slot_series_limit", "gauge",
	       "--max-slot-series: slots that may have per-slot series.");
	fprintf(f, "errseq_exporter_slot_series_limit %zu\n",
		o->max_slot_series);
	family(f, "errseq_exporter_slots_exported", "gauge",
	       "Slots with per-slot series in this scrape.");
	fprintf(f, "errseq_exporter_slots_exported %zu\n", matched);
	family(f, "errseq_exporter_slots_cut", "gauge",
	       "Slots matching --include/--exclude left without per-slot series by --max-slot-series (0: none cut).");
	fprintf(f, "errseq_exporter_slots_cut %zu\n", cut);
	family(f, "errseq_exporter_scrapes_total", "counter",
	       "Requests for /metrics served since the exporter started.");
	fprintf(f, "errseq_exporter_scrapes_total %" PRIu64 "\n", scrapes);
	family(f, "errseq_exporter_build_info", "gauge",
	       "The exporter's version (value 1).");
	fprintf(f, "errseq_exporter_build_info{version=\"%s\"} 1\n",
		PACKAGE_VERSION);
	family(f, "errseq_exporter_scrape_duration_seconds", "gauge",
	       "Time this scrape took to read errseqd and write every series above.");
	fputs("errseq_exporter_scrape_duration_seconds ", f);
	seconds(f, exp_now_ns(true) - scrape_start_ns);
	return ferror(f) ? -EIO : 0;
}
