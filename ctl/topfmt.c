/*
 * topfmt.c - the pure parts of `errseqctl top`: listings as rows, rates,
 * state, age and name texts, sort orders, the filter.  See topfmt.h.
 */
#include "config.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/format.h"
#include "ctl/topfmt.h"

const char *top_snap_name(const struct top_snap *s, const struct top_row *r)
{
	return s->names + r->name_off;
}

int top_snap_add(struct top_snap *s, const struct errseq_slot_info *e)
{
	size_t len = strnlen(e->name, sizeof(e->name) - 1) + 1;
	struct top_row *r;

	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 256;
		struct top_row *rows = realloc(s->rows, cap * sizeof(*rows));

		if (!rows)
			return -ENOMEM;
		s->rows = rows;
		s->cap = cap;
	}
	if (s->names_cap - s->names_len < len) {
		size_t cap = s->names_cap ? s->names_cap * 2 : 4096;
		char *names;

		while (cap - s->names_len < len)
			cap *= 2;
		names = realloc(s->names, cap);
		if (!names)
			return -ENOMEM;
		s->names = names;
		s->names_cap = cap;
	}
	memcpy(s->names + s->names_len, e->name, len - 1);
	s->names[s->names_len + len - 1] = '\0';
	r = &s->rows[s->n++];
	*r = (struct top_row){
		.index = e->index,
		.generation = e->generation,
		.value = e->value,
		.holders = e->holders,
		.sets_total = e->sets_total,
		.last_set_ns = e->last_set_ns,
		.created_ns = e->created_ns,
		.rate = -1,
		.name_off = s->names_len,
	};
	s->names_len += len;
	return 0;
}

void top_snap_reset(struct top_snap *s)
{
	s->n = 0;
	s->names_len = 0;
	s->mono_ns = s->real_ns = 0;
}

void top_snap_free(struct top_snap *s)
{
	free(s->rows);
	free(s->names);
	*s = (struct top_snap){ .rows = NULL };
}

static int cmp_index(const void *a, const void *b)
{
	const struct top_row *x = a, *y = b;

	return x->index < y->index ? -1 : x->index > y->index;
}

/* Row positions by name, the newest incarnation of a name first. */
static int cmp_name_newest(const void *a, const void *b, void *arg)
{
	const struct top_snap *s = arg;
	const struct top_row *x = &s->rows[*(const size_t *)a];
	const struct top_row *y = &s->rows[*(const size_t *)b];
	int c = strcmp(top_snap_name(s, x), top_snap_name(s, y));

	if (c)
		return c;
	if (x->created_ns != y->created_ns)
		return x->created_ns > y->created_ns ? -1 : 1;
	return x->index > y->index ? -1 : x->index < y->index;
}

/* Drop all but the newest row of each name; keeps index order. */
static int dedupe(struct top_snap *s)
{
	size_t *by_name, k = 0;
	unsigned char *drop;
	bool any = false;

	if (s->n < 2)
		return 0;
	by_name = malloc(s->n * sizeof(*by_name));
	drop = calloc(s->n, 1);
	if (!by_name || !drop) {
		free(by_name);
		free(drop);
		return -ENOMEM;
	}
	for (size_t i = 0; i < s->n; i++)
		by_name[i] = i;
	qsort_r(by_name, s->n, sizeof(*by_name), cmp_name_newest, s);
	for (size_t i = 1; i < s->n; i++)
		if (!strcmp(top_snap_name(s, &s->rows[by_name[i - 1]]),
			    top_snap_name(s, &s->rows[by_name[i]]))) {
			drop[by_name[i]] = 1;
			any = true;
		}
	if (any) {
		for (size_t i = 0; i < s->n; i++)
			if (!drop[i])
				s->rows[k++] = s->rows[i];
		s->n = k;
	}
	free(by_name);
	free(drop);
	return 0;
}

int top_snap_finish(struct top_snap *s, const struct top_snap *prev)
{
	double dt;

	qsort(s->rows, s->n, sizeof(*s->rows), cmp_index);
	if (dedupe(s) < 0)
		return -ENOMEM;
	if (!prev || !prev->mono_ns || s->mono_ns <= prev->mono_ns)
		return 0;
	dt = (double)(s->mono_ns - prev->mono_ns) / 1e9;
	for (size_t i = 0; i < s->n; i++) {
		struct top_row *r = &s->rows[i];
		const struct top_row *p = bsearch(r, prev->rows, prev->n,
						  sizeof(*prev->rows),
						  cmp_index);

		if (p && p->generation == r->generation &&
		    p->created_ns == r->created_ns)
			r->rate = r->sets_total >= p->sets_total ?
				  (double)(r->sets_total - p->sets_total) / dt :
				  0;
		else if (r->created_ns >= prev->real_ns)
			r->rate = (double)r->sets_total / dt;
		/* else: listed now but missed by the last listing: unknown */
	}
	return 0;
}

enum top_state top_row_state(const struct top_row *r)
{
	if ((r->value & ERRSEQ_MAX_ERRNO) == 0)
		return TOP_NEVER;
	return (r->value & ERRSEQ_SEEN) ? TOP_SEEN : TOP_PENDING;
}

const char *top_state_name(enum top_state st)
{
	switch (st) {
	case TOP_PENDING: return "pending";
	case TOP_SEEN:    return "seen";
	default:          return "never set";
	}
}

const char *top_sort_name(enum top_sort k)
{
	static const char *const names[TOP_NSORT] = {
		"name", "state", "last set", "sets/s" };

	return (unsigned)k < TOP_NSORT ? names[k] : "?";
}

int top_row_cmp(const struct top_snap *s, enum top_sort k,
		const struct top_row *a, const struct top_row *b)
{
	switch (k) {
	case TOP_SORT_STATE:
		if (top_row_state(a) != top_row_state(b))
			return (int)top_row_state(a) - (int)top_row_state(b);
		break;
	case TOP_SORT_LAST:
		if (a->last_set_ns != b->last_set_ns)
			return a->last_set_ns > b->last_set_ns ? -1 : 1;
		break;
	case TOP_SORT_RATE:
		if (a->rate != b->rate)
			return a->rate > b->rate ? -1 : 1;
		break;
	default:
		break;
	}
	return strcmp(top_snap_name(s, a), top_snap_name(s, b));
}

bool top_row_visible(const struct top_snap *s, const struct top_row *r,
		     const char *glob, bool pending_only)
{
	if (pending_only && top_row_state(r) != TOP_PENDING)
		return false;
	return !glob || !*glob || fnmatch(glob, top_snap_name(s, r), 0) == 0;
}

size_t top_escape(char *buf, size_t len, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 0;

	if (!len)
		return 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		char esc[5];
		size_t k;

		if (*p == '\\') {
			esc[0] = '\\';
			esc[1] = '\\';
			k = 2;
		} else if (*p >= 0x20 && *p < 0x7f) {
			esc[0] = (char)*p;
			k = 1;
		} else {
			esc[0] = '\\';
			esc[1] = 'x';
			esc[2] = hex[*p >> 4];
			esc[3] = hex[*p & 15];
			k = 4;
		}
		if (n + k >= len)
			break;
		memcpy(buf + n, esc, k);
		n += k;
	}
	buf[n] = '\0';
	return n;
}

void top_rate_text(char *buf, size_t len, double rate)
{
	if (rate < 0)
		snprintf(buf, len, "-");
	else if (rate == 0)
		snprintf(buf, len, "0");
	else if (rate < 10)
		snprintf(buf, len, "%.1f", rate);
	else
		snprintf(buf, len, "%.0f", rate);
}

void top_age_text(char *buf, size_t len, uint64_t then_ns, uint64_t now_ns)
{
	char d[48];

	if (!then_ns) {
		snprintf(buf, len, "-");
		return;
	}
	if (!ctl_duration(d, sizeof(d), now_ns > then_ns ? now_ns - then_ns
							 : 0))
		snprintf(d, sizeof(d), "?");
	snprintf(buf, len, "%s ago", d);
}
