/*
 * listing.h - collecting a listing of errseqd's slots and writing it, shared
 * by errseqctl (list, watch's globs) and errseq-exporter (/metrics,
 * /api/v1/slots), so that both read the daemon the same way and write the
 * same bytes.
 *
 * A listing is collected page by page through errseq_list(), which pages by
 * slot index.  A slot deleted and re-created under the same name while the
 * pages are read can therefore be met twice (its old index before the
 * re-creation, its new one after).  ctl_listing_collect() keeps each name
 * at most once over the whole listing: of two entries with one name, the
 * newer incarnation wins (the greater created_ns; on a tie, the one met
 * later, at a later page).  What a concurrent create or delete may do to a
 * listing: a slot created while it runs may or may not appear; a slot
 * deleted while it runs may still appear, as it was when its page was
 * read; a name deleted and re-created appears once, usually as the new
 * slot (as the old one if the new one landed on a page already read).
 *
 * A listing is held in memory (about 200 bytes per slot), so that it can be
 * deduplicated and sorted.
 */
#ifndef ERRSEQ_CTL_LISTING_H
#define ERRSEQ_CTL_LISTING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <errseq/client.h>

/* The JSON documents' schema version: the top-level "version" key. */
#define CTL_JSON_VERSION 1

/* What a listing keeps.  All conditions must hold. */
struct ctl_filter {
	const char *const *include;	/* fnmatch globs; a name must match
					 * one (n_include 0: every name) */
	size_t n_include;
	const char *const *exclude;	/* a name matching one is left out */
	size_t n_exclude;
	bool pending;			/* only slots with an unseen error */
	int errno_only;			/* only this errno (0: any) */
};

enum ctl_sort {
	CTL_SORT_INDEX,	/* slot index, the daemon's order (default) */
	CTL_SORT_NAME,	/* by name, ascending (byte order) */
	CTL_SORT_LAST,	/* most recently set first; never set last */
	CTL_SORT_SETS,	/* most sets first */
};

struct ctl_listing {
	struct errseq_slot_info *slot;	/* n entries */
	size_t n;
	size_t duplicates;	/* entries dropped as repeated names */
};

/* The three fields of an errseq_t value, and the slot's state. */
static inline unsigned ctl_val_errno(errseq_t v)
{
	return v & ERRSEQ_MAX_ERRNO;
}

static inline unsigned ctl_val_counter(errseq_t v)
{
	return v >> ERRSEQ_CTR_SHIFT;
}

static inline bool ctl_val_seen(errseq_t v)
{
	return (v & ERRSEQ_SEEN) != 0;
}

/* Pending: an error is recorded and no watcher has consumed it yet. */
static inline bool ctl_val_pending(errseq_t v)
{
	return ctl_val_errno(v) != 0 && !ctl_val_seen(v);
}

/* ctl_filter_name - does @name pass @f's include and exclude globs? */
bool ctl_filter_name(const struct ctl_filter *f, const char *name);

/* ctl_filter_state - does @e pass @f's pending and errno conditions? */
bool ctl_filter_state(const struct ctl_filter *f,
		      const struct errseq_slot_info *e);

/*
 * ctl_listing_collect - list every live slot through @c, keep those @f
 * (NULL: all) lets through, each name at most once (see above), in slot
 * index order.  Never consumes.  Returns 0 and fills *@out (free it with
 * ctl_listing_free), or a negative code from errseq_list, -ENOMEM, or
 * ERRSEQ_EPROTO if the daemon stops making progress; *@out is then empty.
 */
int ctl_listing_collect(struct errseq_client *c, const struct ctl_filter *f,
			struct ctl_listing *out);

/* ctl_listing_dedup - drop repeated names from @l as collect does (for
 * listings built by hand); keeps index order. */
void ctl_listing_dedup(struct ctl_listing *l);

/* ctl_listing_sort - reorder @l by @key (ties: slot index). */
void ctl_listing_sort(struct ctl_listing *l, enum ctl_sort key);

/* ctl_listing_free - free @l's entries and empty it. */
void ctl_listing_free(struct ctl_listing *l);

/*
 * ctl_write_json_slot - @e as one JSON object on one line, no newline,
 * the schema of errseqctl --json stat/list (see errseqctl(1)).
 */
void ctl_write_json_slot(FILE *f, const struct errseq_slot_info *e);

/*
 * ctl_write_json_list - the whole list document
 * {"version":1,"slots":[...]} with a newline, one slot per line.
 * Returns 0, or -EIO if @f reports an error.
 */
int ctl_write_json_list(FILE *f, const struct ctl_listing *l);

/* ctl_write_json_time - @ns as an ISO-8601 UTC JSON string, or null for 0. */
void ctl_write_json_time(FILE *f, uint64_t ns);

/* ctl_write_json_status - the daemon's status as errseqctl --json status
 * writes it: {"version":1,"status":{...}} and a newline. */
void ctl_write_json_status(FILE *f, const struct errseq_daemon_status *st);

/* Which per-slot Prometheus families ctl_write_prom_slots writes. */
struct ctl_prom_opts {
	bool errno_label;	/* errseq_slot_errno gets an errno="EIO" label */
	bool pending;		/* add the errseq_slot_pending family */
};

/*
 * ctl_write_prom_slots - the per-slot series of the @n slots @e in the
 * Prometheus text format (version 0.0.4): for each family its HELP and
 * TYPE, then one sample per slot.  Names pass `promtool check metrics`.
 * Returns 0, or -EIO if @f reports an error.
 */
int ctl_write_prom_slots(FILE *f, const struct errseq_slot_info *e, size_t n,
			 const struct ctl_prom_opts *o);

#endif /* ERRSEQ_CTL_LISTING_H */
