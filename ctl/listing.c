/*
 * listing.c - collect, deduplicate, filter, sort and write a listing of
 * errseqd's slots; shared by errseqctl and errseq-exporter.  See listing.h.
 */
#include "config.h"

#include <errno.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/format.h"
#include "ctl/listing.h"

#define LISTING_PAGE 256	/* slots asked for per errseq_list call */

bool ctl_filter_name(const struct ctl_filter *f, const char *name)
{
	bool in;

	if (!f)
		return true;
	in = f->n_include == 0;
	for (size_t i = 0; i < f->n_include && !in; i++)
		in = fnmatch(f->include[i], name, 0) == 0;
	for (size_t i = 0; i < f->n_exclude && in; i++)
		in = fnmatch(f->exclude[i], name, 0) != 0;
	return in;
}

bool ctl_filter_state(const struct ctl_filter *f,
		      const struct errseq_slot_info *e)
{
	if (!f)
		return true;
	if (f->pending && !ctl_val_pending(e->value))
		return false;
	if (f->errno_only && ctl_val_errno(e->value) != (unsigned)f->errno_only)
		return false;
	return true;
}

void ctl_listing_free(struct ctl_listing *l)
{
	free(l->slot);
	l->slot = NULL;
	l->n = 0;
	l->duplicates = 0;
}

/* ---- deduplication ------------------------------------------------------ */

/* By name, then incarnation (created_ns), then listing position: the last
 * of a run of equal names is the one to keep. */
static int cmp_dedup(const void *a, const void *b, void *base)
{
	size_t i = *(const size_t *)a, j = *(const size_t *)b;
	const struct errseq_slot_info *x = (const struct errseq_slot_info *)base + i;
	const struct errseq_slot_info *y = (const struct errseq_slot_info *)base + j;
	int c = strcmp(x->name, y->name);

	if (c)
		return c;
	if (x->created_ns != y->created_ns)
		return x->created_ns < y->created_ns ? -1 : 1;
	return i < j ? -1 : i > j;
}

void ctl_listing_dedup(struct ctl_listing *l)
{
	size_t *order;
	unsigned char *drop;
	size_t k = 0;

	if (l->n < 2)
		return;
	order = malloc(l->n * sizeof(*order));
	drop = calloc(l->n, 1);
	if (!order || !drop) {
		/* no memory for the index: keep the list as it is */
		free(order);
		free(drop);
		return;
	}
	for (size_t i = 0; i < l->n; i++)
		order[i] = i;
	qsort_r(order, l->n, sizeof(*order), cmp_dedup, l->slot);
	for (size_t i = 0; i + 1 < l->n; i++)
		if (!strcmp(l->slot[order[i]].name, l->slot[order[i + 1]].name))
			drop[order[i]] = 1;
	for (size_t i = 0; i < l->n; i++)
		if (!drop[i])
			l->slot[k++] = l->slot[i];
	l->duplicates += l->n - k;
	l->n = k;
	free(order);
	free(drop);
}

int ctl_listing_collect(struct errseq_client *c, const struct ctl_filter *f,
			struct ctl_listing *out)
{
	struct errseq_slot_info *page;
	struct ctl_listing l = { .slot = NULL };
	size_t cap = 0;
	uint32_t pos = 0;
	int r = 0;

	*out = l;
	page = malloc(LISTING_PAGE * sizeof(*page));
	if (!page)
		return -ENOMEM;
	while (pos != ERRSEQ_LIST_END) {
		uint32_t before = pos;

		r = errseq_list(c, &pos, page, LISTING_PAGE);
		if (r < 0)
			goto fail;
		if (r == 0 && pos == before && pos != ERRSEQ_LIST_END) {
			r = ERRSEQ_EPROTO;	/* no progress: avoid a loop */
			goto fail;
		}
		for (int i = 0; i < r; i++) {
			/* the daemon NUL-terminates; make sure */
			page[i].name[ERRSEQ_NAME_MAX] = '\0';
			if (!ctl_filter_name(f, page[i].name))
				continue;
			if (l.n == cap) {
				size_t ncap = cap ? cap * 2 : 64;
				void *p = realloc(l.slot, ncap * sizeof(*l.slot));

				if (!p) {
					r = -ENOMEM;
					goto fail;
				}
				l.slot = p;
				cap = ncap;
			}
			l.slot[l.n++] = page[i];
		}
	}
	free(page);
	ctl_listing_dedup(&l);
	/* state filters after deduplication: the kept incarnation decides */
	if (f && (f->pending || f->errno_only)) {
		size_t k = 0;

		for (size_t i = 0; i < l.n; i++)
			if (ctl_filter_state(f, &l.slot[i]))
				l.slot[k++] = l.slot[i];
		l.n = k;
	}
	*out = l;
	return 0;
fail:
	free(page);
	free(l.slot);
	return r;
}

/* ---- sorting ------------------------------------------------------------ */

static int cmp_index(const struct errseq_slot_info *x,
		     const struct errseq_slot_info *y)
{
	return x->index < y->index ? -1 : x->index > y->index;
}

static int cmp_name(const void *a, const void *b)
{
	const struct errseq_slot_info *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c ? c : cmp_index(x, y);
}

static int cmp_last(const void *a, const void *b)
{
	const struct errseq_slot_info *x = a, *y = b;

	if (x->last_set_ns != y->last_set_ns)
		return x->last_set_ns > y->last_set_ns ? -1 : 1;
	return cmp_index(x, y);
}

static int cmp_sets(const void *a, const void *b)
{
	const struct errseq_slot_info *x = a, *y = b;

	if (x->sets_total != y->sets_total)
		return x->sets_total > y->sets_total ? -1 : 1;
	return cmp_index(x, y);
}

static int cmp_idx(const void *a, const void *b)
{
	return cmp_index(a, b);
}

void ctl_listing_sort(struct ctl_listing *l, enum ctl_sort key)
{
	int (*cmp)(const void *, const void *) =
		key == CTL_SORT_NAME ? cmp_name :
		key == CTL_SORT_LAST ? cmp_last :
		key == CTL_SORT_SETS ? cmp_sets : cmp_idx;

	if (l->n > 1)
		qsort(l->slot, l->n, sizeof(*l->slot), cmp);
}

/* ---- JSON -------------------------------------------------------------- */

/*
 * One slot is built as one line in a buffer and written with one fwrite:
 * list --json of a million slots is hundreds of MB, and per-field stdio
 * calls (each taking the stream lock) and printf parsing were most of its
 * CPU time.
 */
struct jbuf {
	char b[1024];	/* a slot line is under 700 bytes (name <= 128) */
	size_t n;
};

static void jb_str(struct jbuf *j, const char *s)
{
	size_t len = strlen(s);

	if (len < sizeof(j->b) - j->n) {
		memcpy(j->b + j->n, s, len);
		j->n += len;
	}
}

static void jb_u64(struct jbuf *j, uint64_t v)
{
	char tmp[24];
	size_t k = sizeof(tmp);

	do {
		tmp[--k] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	if (sizeof(tmp) - k < sizeof(j->b) - j->n) {
		memcpy(j->b + j->n, tmp + k, sizeof(tmp) - k);
		j->n += sizeof(tmp) - k;
	}
}

/* A JSON string: names are [A-Za-z0-9._:/@-], times and errno names are
 * plain ASCII, but escape anyway (ctl_json_escape). */
static void jb_json_string(struct jbuf *j, const char *s)
{
	char esc[sizeof(j->b)];

	if (ctl_json_escape(esc, sizeof(esc), s) == 0)
		jb_str(j, "null");
	else
		jb_str(j, esc);
}

static void jb_time(struct jbuf *j, uint64_t ns)
{
	char buf[64];

	if (ns && ctl_iso_time(buf, sizeof(buf), ns, true))
		jb_json_string(j, buf);
	else
		jb_str(j, "null");
}

void ctl_write_json_time(FILE *f, uint64_t ns)
{
	struct jbuf j = { .n = 0 };

	jb_time(&j, ns);
	fwrite(j.b, 1, j.n, f);
}

void ctl_write_json_slot(FILE *f, const struct errseq_slot_info *e)
{
	const char *ename = ctl_errno_name((int)ctl_val_errno(e->value));
	struct jbuf j = { .n = 0 };

	jb_str(&j, "{\"name\":");
	jb_json_string(&j, e->name);
	jb_str(&j, ",\"index\":");
	jb_u64(&j, e->index);
	jb_str(&j, ",\"generation\":");
	jb_u64(&j, e->generation);
	jb_str(&j, ",\"value\":");
	jb_u64(&j, e->value);
	jb_str(&j, ",\"errno\":");
	jb_u64(&j, ctl_val_errno(e->value));
	jb_str(&j, ",\"errno_name\":");
	if (ename)
		jb_json_string(&j, ename);
	else
		jb_str(&j, "null");
	jb_str(&j, ",\"counter\":");
	jb_u64(&j, ctl_val_counter(e->value));
	jb_str(&j, ctl_val_seen(e->value) ? ",\"seen\":true" :
					    ",\"seen\":false");
	jb_str(&j, ",\"sets_total\":");
	jb_u64(&j, e->sets_total);
	jb_str(&j, ",\"last_set\":");
	jb_time(&j, e->last_set_ns);
	jb_str(&j, ",\"last_set_ns\":");
	jb_u64(&j, e->last_set_ns);
	jb_str(&j, ",\"last_pid\":");
	jb_u64(&j, (uint64_t)(e->last_pid > 0 ? e->last_pid : 0));
	jb_str(&j, ",\"holders\":");
	jb_u64(&j, e->holders);
	jb_str(&j, ",\"creator_uid\":");
	jb_u64(&j, (uint64_t)e->creator_uid);
	if (e->writers_gid == ERRSEQ_NO_GROUP) {
		jb_str(&j, ",\"writers_gid\":null");
	} else {
		jb_str(&j, ",\"writers_gid\":");
		jb_u64(&j, e->writers_gid);
	}
	jb_str(&j, e->writable ? ",\"writable\":true" : ",\"writable\":false");
	jb_str(&j, ",\"created\":");
	jb_time(&j, e->created_ns);
	jb_str(&j, ",\"created_ns\":");
	jb_u64(&j, e->created_ns);
	jb_str(&j, "}");
	fwrite(j.b, 1, j.n, f);
}

int ctl_write_json_list(FILE *f, const struct ctl_listing *l)
{
	fprintf(f, "{\"version\":%d,\"slots\":[", CTL_JSON_VERSION);
	for (size_t i = 0; i < l->n; i++) {
		fputs(i ? ",\n" : "\n", f);
		ctl_write_json_slot(f, &l->slot[i]);
	}
	fputs(l->n ? "\n]}\n" : "]}\n", f);
	return ferror(f) ? -EIO : 0;
}

void ctl_write_json_status(FILE *f, const struct errseq_daemon_status *st)
{
	char version[sizeof(st->version) + 1];

	snprintf(version, sizeof(version), "%.*s", (int)sizeof(st->version),
		 st->version);
	fprintf(f, "{\"version\":%d,\"status\":{\"pid\":%ld,"
		"\"daemon_version\":", CTL_JSON_VERSION, (long)st->pid);
	ctl_json_string(f, version);
	fputs(",\"started\":", f);
	ctl_write_json_time(f, st->start_ns);
	fprintf(f, ",\"start_ns\":%" PRIu64 ",\"uptime_ns\":%" PRIu64
		",\"uptime_seconds\":%" PRIu64 ",\"capacity\":%" PRIu32
		",\"slots_used\":%" PRIu32 ",\"slots_held\":%" PRIu32
		",\"clients\":%" PRIu32 ",\"max_clients\":%" PRIu32
		",\"incarnation\":\"%016" PRIx64 "\",\"segment_bytes\":%" PRIu64
		"}}\n", st->start_ns, st->uptime_ns,
		st->uptime_ns / 1000000000u, st->capacity, st->slots_used,
		st->slots_held, st->clients, st->max_clients,
		st->incarnation, st->segment_bytes);
}

/* ---- Prometheus --------------------------------------------------------- */

struct prom_family {
	const char *name;
	const char *type;
	const char *help;
};

enum { PROM_ERRNO, PROM_SEQUENCE, PROM_SEEN, PROM_SETS, PROM_LAST_SET,
       PROM_HOLDERS, PROM_PENDING, NPROM };

/*
 * promtool's lint: no type name ("counter", "gauge"...) inside a name,
 * "_total" on counters only, base units ("_seconds").  The errseq counter
 * field is therefore errseq_slot_sequence.
 */
static const struct prom_family prom_families[NPROM] = {
	{ "errseq_slot_errno", "gauge",
	  "Latest errno recorded in the slot (0: never set)." },
	{ "errseq_slot_sequence", "gauge",
	  "The errseq sequence field of the slot: moves when an error follows a consumed one (wraps at 2^19)." },
	{ "errseq_slot_seen", "gauge",
	  "1 if a watcher has consumed the latest error, else 0." },
	{ "errseq_slot_sets_total", "counter",
	  "Valid set calls on the slot since it was created." },
	{ "errseq_slot_last_set_timestamp_seconds", "gauge",
	  "Time of the latest set in seconds since the epoch (0: never)." },
	{ "errseq_slot_holders", "gauge",
	  "Handles open on the slot over all clients." },
	{ "errseq_slot_pending", "gauge",
	  "1 if the slot holds an error no watcher has consumed yet, else 0." },
};

static void prom_sample(FILE *f, int fam, const struct errseq_slot_info *e,
			const struct ctl_prom_opts *o)
{
	unsigned en = ctl_val_errno(e->value);

	fputs(prom_families[fam].name, f);
	fputs("{slot=\"", f);
	ctl_prom_label(f, e->name);
	if (fam == PROM_ERRNO && o->errno_label && en) {
		const char *name = ctl_errno_name((int)en);

		if (name)
			fprintf(f, "\",errno=\"%s", name);
		else
			fprintf(f, "\",errno=\"%u", en);
	}
	fputs("\"} ", f);
	switch (fam) {
	case PROM_ERRNO:
		fprintf(f, "%u\n", en);
		break;
	case PROM_SEQUENCE:
		fprintf(f, "%u\n", ctl_val_counter(e->value));
		break;
	case PROM_SEEN:
		fprintf(f, "%d\n", ctl_val_seen(e->value) ? 1 : 0);
		break;
	case PROM_SETS:
		fprintf(f, "%" PRIu64 "\n", e->sets_total);
		break;
	case PROM_LAST_SET:
		fprintf(f, "%" PRIu64 ".%03u\n", e->last_set_ns / 1000000000u,
			(unsigned)(e->last_set_ns % 1000000000u / 1000000u));
		break;
	case PROM_PENDING:
		fprintf(f, "%d\n", ctl_val_pending(e->value) ? 1 : 0);
		break;
	default:
		fprintf(f, "%" PRIu32 "\n", e->holders);
		break;
	}
}

int ctl_write_prom_slots(FILE *f, const struct errseq_slot_info *e, size_t n,
			 const struct ctl_prom_opts *o)
{
	static const struct ctl_prom_opts none = { .errno_label = false };

	if (!o)
		o = &none;
	for (int fam = 0; fam < NPROM; fam++) {
		if (fam == PROM_PENDING && !o->pending)
			continue;
		fprintf(f, "# HELP %s %s\n# TYPE %s %s\n",
			prom_families[fam].name, prom_families[fam].help,
			prom_families[fam].name, prom_families[fam].type);
		for (size_t i = 0; i < n; i++)
			prom_sample(f, fam, &e[i], o);
	}
	return ferror(f) ? -EIO : 0;
}
