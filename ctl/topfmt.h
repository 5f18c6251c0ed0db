/*
 * topfmt.h - the pure parts of `errseqctl top` (ctl/top.c): a listing kept
 * as rows, sets per second between two listings, the state, age and name
 * texts, the sort orders and the filter.
 *
 * Nothing here talks to the daemon or the terminal, so tests/test_top.c
 * links this file directly and checks it case by case.
 */
#ifndef ERRSEQ_CTL_TOPFMT_H
#define ERRSEQ_CTL_TOPFMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <errseq/client.h>

/* One slot of a listing.  The name lives in the snapshot's name arena. */
struct top_row {
	uint32_t index, generation;
	errseq_t value;
	uint32_t holders;
	uint64_t sets_total;
	uint64_t last_set_ns;	/* CLOCK_REALTIME; 0: never */
	uint64_t created_ns;	/* CLOCK_REALTIME */
	double rate;		/* sets per second; negative: not known yet */
	size_t name_off;	/* into top_snap.names */
};

/* One listing of every live slot, in index order, each name at most once. */
struct top_snap {
	struct top_row *rows;
	size_t n, cap;
	char *names;		/* NUL-terminated names, back to back */
	size_t names_len, names_cap;
	uint64_t mono_ns;	/* CLOCK_MONOTONIC when listed */
	uint64_t real_ns;	/* CLOCK_REALTIME when listed */
};

/* top_snap_name - the name of row @r of @s. */
const char *top_snap_name(const struct top_snap *s, const struct top_row *r);

/* top_snap_add - append @e to @s.  Returns 0 or -ENOMEM (@s unchanged). */
int top_snap_add(struct top_snap *s, const struct errseq_slot_info *e);

/* top_snap_reset - empty @s, keeping its memory. */
void top_snap_reset(struct top_snap *s);

/* top_snap_free - free @s's memory and empty it. */
void top_snap_free(struct top_snap *s);

/*
 * top_snap_finish - make @s a listing: rows in index order, each name once
 * (a name deleted and created again while the listing paged past it can
 * be listed twice; the newer incarnation stays), and each row's rate
 * computed against @prev (NULL or empty: unknown, -1).  A slot in @prev
 * with the same index, generation and creation time gets
 * (sets now - sets then) / (time between the listings); a slot created
 * since @prev was listed counts from zero; any other is unknown.
 * Returns 0 or -ENOMEM (rates then unknown).
 */
int top_snap_finish(struct top_snap *s, const struct top_snap *prev);

/* The three states a slot shows. */
enum top_state { TOP_PENDING, TOP_SEEN, TOP_NEVER };

/* top_row_state - pending: an error no watcher consumed yet; seen: the
 * latest error was consumed; never: no error was ever recorded. */
enum top_state top_row_state(const struct top_row *r);

/* "pending", "seen" or "never set". */
const char *top_state_name(enum top_state st);

/* The sort orders `s` cycles through, in that order. */
enum top_sort { TOP_SORT_NAME, TOP_SORT_STATE, TOP_SORT_LAST, TOP_SORT_RATE,
		TOP_NSORT };

/* "name", "state", "last set" or "sets/s". */
const char *top_sort_name(enum top_sort k);

/*
 * top_row_cmp - compare rows @a and @b of @s for order @k: by name; by
 * state (pending, seen, never set), then name; by last set, latest first
 * (never last), then name; by sets per second, highest first (unknown
 * last), then name.  Returns <0, 0 or >0 like strcmp.
 */
int top_row_cmp(const struct top_snap *s, enum top_sort k,
		const struct top_row *a, const struct top_row *b);

/* top_row_visible - does row @r of @s pass the filter: its name matches the
 * fnmatch glob @glob (NULL or "": any) and, with @pending_only, it is
 * pending? */
bool top_row_visible(const struct top_snap *s, const struct top_row *r,
		     const char *glob, bool pending_only);

/*
 * top_escape - @s for a terminal: printable ASCII as it is, a backslash as
 * "\\", any other byte (control characters, DEL, bytes >= 0x80) as
 * "\xHH".  A slot name is data: it never reaches the terminal raw.
 * Writes at most @len - 1 bytes and a NUL to @buf (cut on a whole escape);
 * returns the length written.
 */
size_t top_escape(char *buf, size_t len, const char *s);

/* top_rate_text - "-" for an unknown (negative) rate, "0" for none, one
 * decimal below 10 ("2.5"), whole numbers above ("1234"). */
void top_rate_text(char *buf, size_t len, double rate);

/* top_age_text - "-" if @then_ns is 0 (never), else the time from @then_ns
 * to @now_ns as ctl_duration writes it and " ago" ("3s ago", "2m 5s ago");
 * a time in the future counts as "0s ago". */
void top_age_text(char *buf, size_t len, uint64_t then_ns, uint64_t now_ns);

#endif /* ERRSEQ_CTL_TOPFMT_H */
