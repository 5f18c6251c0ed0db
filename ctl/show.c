/*
 * show.c - errseqctl's read-only commands: list, stat and status, each as
 * an aligned table (or key: value lines) for people, as one JSON document
 * (--json) or, for list, in the Prometheus text format (--prometheus).
 *
 * Nothing here consumes an error: slot values come from errseq_list() and
 * errseq_stat(), which the daemon answers by peeking, never through
 * check_and_advance.  list pages through the daemon CTL_LIST_PAGE slots
 * at a time and streams its output, so a million slots cost a bounded
 * amount of memory: the table and the Prometheus families are built from
 * memory when the list is small (so columns fit their content and each
 * family is printed from one pass) and fall back to fixed column widths,
 * or to one pass per family, when it is not.
 */
#include "config.h"

#include <errno.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <errseq/client.h>

#include "ctl/ctl.h"
#include "ctl/format.h"

#define CTL_LIST_PAGE 256	/* slots asked for per errseq_list call */
#define LIST_BUFFER_MAX 8192	/* slots kept in memory to size a table */

/* The three fields of an errseq_t value. */
static unsigned val_errno(errseq_t v)
{
	return v & ERRSEQ_MAX_ERRNO;
}

static unsigned val_counter(errseq_t v)
{
	return v >> 13;
}

static bool val_seen(errseq_t v)
{
	return (v & ERRSEQ_SEEN) != 0;
}

/* ---- paging through errseq_list --------------------------------------- */

struct lister {
	struct errseq_client *c;
	const char *pattern;	/* fnmatch glob, or NULL for all */
	uint32_t pos;
	size_t n, i;		/* entries in page, next one to hand out */
	bool end;		/* the daemon said ERRSEQ_LIST_END */
	struct errseq_slot_info page[CTL_LIST_PAGE];
};

static struct lister *lister_new(struct errseq_client *c, const char *pattern)
{
	struct lister *l = calloc(1, sizeof(*l));

	if (l) {
		l->c = c;
		l->pattern = pattern;
	}
	return l;
}

static void lister_rewind(struct lister *l)
{
	l->pos = 0;
	l->n = l->i = 0;
	l->end = false;
}

/* The next slot matching the pattern: 1 and *@out set, 0 at the end, or a
 * negative code from errseq_list. */
static int lister_next(struct lister *l, const struct errseq_slot_info **out)
{
	for (;;) {
		while (l->i < l->n) {
			const struct errseq_slot_info *e = &l->page[l->i++];

			if (l->pattern && fnmatch(l->pattern, e->name, 0))
				continue;
			*out = e;
			return 1;
		}
		if (l->end)
			return 0;

		uint32_t before = l->pos;
		int r = errseq_list(l->c, &l->pos, l->page, CTL_LIST_PAGE);

		if (r < 0)
			return r;
		l->n = (size_t)r;
		l->i = 0;
		if (l->pos == ERRSEQ_LIST_END)
			l->end = true;
		else if (r == 0 && l->pos == before)
			return ERRSEQ_EPROTO;	/* no progress: avoid a loop */
	}
}

static int list_failed(int r)
{
	ctl_err("list: %s", errseq_strerror(r));
	return CTL_EXIT_FAIL;
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

static void json_time(FILE *f, uint64_t ns)
{
	struct jbuf j = { .n = 0 };

	jb_time(&j, ns);
	fwrite(j.b, 1, j.n, f);
}

/* One slot as a JSON object, on one line, no newline. */
static void json_slot(FILE *f, const struct errseq_slot_info *e)
{
	const char *ename = ctl_errno_name((int)val_errno(e->value));
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
	jb_u64(&j, val_errno(e->value));
	jb_str(&j, ",\"errno_name\":");
	if (ename)
		jb_json_string(&j, ename);
	else
		jb_str(&j, "null");
	jb_str(&j, ",\"counter\":");
	jb_u64(&j, val_counter(e->value));
	jb_str(&j, val_seen(e->value) ? ",\"seen\":true" : ",\"seen\":false");
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
	jb_str(&j, ",\"created\":");
	jb_time(&j, e->created_ns);
	jb_str(&j, ",\"created_ns\":");
	jb_u64(&j, e->created_ns);
	jb_str(&j, "}");
	fwrite(j.b, 1, j.n, f);
}

static int list_json(struct lister *l)
{
	const struct errseq_slot_info *e;
	bool first = true;
	int r;

	printf("{\"version\":%d,\"slots\":[", CTL_JSON_VERSION);
	while ((r = lister_next(l, &e)) > 0) {
		fputs(first ? "\n" : ",\n", stdout);
		json_slot(stdout, e);
		first = false;
	}
	if (r < 0)
		return list_failed(r);
	fputs(first ? "]}\n" : "\n]}\n", stdout);
	return CTL_EXIT_OK;
}

/* ---- the table ---------------------------------------------------------- */

enum { COL_NAME, COL_ERRNO, COL_COUNTER, COL_SEEN, COL_SETS, COL_LAST,
       COL_PID, COL_HOLDERS, NCOLS };

#define FIELD_MAX 160

static const char *const col_title[NCOLS] = {
	"NAME", "ERRNO", "COUNTER", "SEEN", "SETS", "LAST SET", "PID",
	"HOLDERS" };
static const bool col_right[NCOLS] = {
	false, false, true, false, true, false, true, true };
/* Widths used once the list is too long to measure first. */
static const int col_fixed[NCOLS] = { 32, 12, 7, 4, 10, 29, 7, 7 };

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

static void row_fields(const struct errseq_slot_info *e,
		       char f[NCOLS][FIELD_MAX])
{
	snprintf(f[COL_NAME], FIELD_MAX, "%s", e->name);
	errno_field(f[COL_ERRNO], FIELD_MAX, val_errno(e->value));
	snprintf(f[COL_COUNTER], FIELD_MAX, "%u", val_counter(e->value));
	snprintf(f[COL_SEEN], FIELD_MAX, "%s",
		 val_errno(e->value) == 0 ? "-" :
		 val_seen(e->value) ? "yes" : "no");
	snprintf(f[COL_SETS], FIELD_MAX, "%" PRIu64, e->sets_total);
	if (!e->last_set_ns ||
	    !ctl_iso_time(f[COL_LAST], FIELD_MAX, e->last_set_ns, false))
		snprintf(f[COL_LAST], FIELD_MAX, "-");
	if (e->last_pid)
		snprintf(f[COL_PID], FIELD_MAX, "%ld", (long)e->last_pid);
	else
		snprintf(f[COL_PID], FIELD_MAX, "-");
	snprintf(f[COL_HOLDERS], FIELD_MAX, "%" PRIu32, e->holders);
}

static void print_row(const char f[NCOLS][FIELD_MAX], const int *width)
{
	for (int k = 0; k < NCOLS; k++) {
		int w = k == NCOLS - 1 && !col_right[k] ? 0 : width[k];

		printf(col_right[k] ? "%*s" : "%-*s", w, f[k]);
		fputs(k == NCOLS - 1 ? "\n" : "  ", stdout);
	}
}

static void print_header(const int *width)
{
	char f[NCOLS][FIELD_MAX];

	for (int k = 0; k < NCOLS; k++)
		snprintf(f[k], FIELD_MAX, "%s", col_title[k]);
	print_row((const char (*)[FIELD_MAX])f, width);
}

static void widen(int *width, const char f[NCOLS][FIELD_MAX])
{
	for (int k = 0; k < NCOLS; k++) {
		int len = (int)strlen(f[k]);

		if (len > width[k])
			width[k] = len;
	}
}

static int list_table(struct lister *l)
{
	struct errseq_slot_info *buf;
	const struct errseq_slot_info *e;
	char f[NCOLS][FIELD_MAX];
	int width[NCOLS];
	size_t n = 0;
	int r = 0;

	buf = malloc(LIST_BUFFER_MAX * sizeof(*buf));
	if (!buf) {
		ctl_err("list: out of memory");
		return CTL_EXIT_FAIL;
	}
	for (int k = 0; k < NCOLS; k++)
		width[k] = (int)strlen(col_title[k]);

	/* first pass: keep up to LIST_BUFFER_MAX slots and measure them */
	while (n < LIST_BUFFER_MAX && (r = lister_next(l, &e)) > 0) {
		buf[n++] = *e;
		row_fields(e, f);
		widen(width, (const char (*)[FIELD_MAX])f);
	}
	if (n == LIST_BUFFER_MAX) {
		/* too many to measure: at least the generous fixed widths */
		for (int k = 0; k < NCOLS; k++)
			if (width[k] < col_fixed[k])
				width[k] = col_fixed[k];
		r = 1;
	}
	if (r < 0) {
		free(buf);
		return list_failed(r);
	}
	print_header(width);
	for (size_t i = 0; i < n; i++) {
		row_fields(&buf[i], f);
		print_row((const char (*)[FIELD_MAX])f, width);
	}
	free(buf);
	if (n < LIST_BUFFER_MAX)
		return CTL_EXIT_OK;

	/* the rest streams with the widths found so far */
	while ((r = lister_next(l, &e)) > 0) {
		row_fields(e, f);
		print_row((const char (*)[FIELD_MAX])f, width);
	}
	if (r < 0)
		return list_failed(r);
	return CTL_EXIT_OK;
}

/* ---- Prometheus --------------------------------------------------------- */

struct prom_family {
	const char *name;
	const char *type;
	const char *help;
};

enum { PROM_ERRNO, PROM_COUNTER, PROM_SEEN, PROM_SETS, PROM_LAST_SET,
       PROM_HOLDERS, NPROM };

static const struct prom_family prom_families[NPROM] = {
	{ "errseq_slot_errno", "gauge",
	  "Latest errno recorded in the slot (0: never set)." },
	{ "errseq_slot_counter", "gauge",
	  "errseq counter of the slot: moves when an error follows a consumed one (wraps at 2^19)." },
	{ "errseq_slot_seen", "gauge",
	  "1 if a watcher has consumed the latest error, else 0." },
	{ "errseq_slot_sets_total", "counter",
	  "Valid set calls on the slot since it was created." },
	{ "errseq_slot_last_set_timestamp_seconds", "gauge",
	  "Time of the latest set in seconds since the epoch (0: never)." },
	{ "errseq_slot_holders", "gauge",
	  "Handles open on the slot over all clients." },
};

static void prom_sample(int fam, const struct errseq_slot_info *e)
{
	printf("%s{slot=\"", prom_families[fam].name);
	ctl_prom_label(stdout, e->name);
	fputs("\"} ", stdout);
	switch (fam) {
	case PROM_ERRNO:
		printf("%u\n", val_errno(e->value));
		break;
	case PROM_COUNTER:
		printf("%u\n", val_counter(e->value));
		break;
	case PROM_SEEN:
		printf("%d\n", val_seen(e->value) ? 1 : 0);
		break;
	case PROM_SETS:
		printf("%" PRIu64 "\n", e->sets_total);
		break;
	case PROM_LAST_SET:
		printf("%" PRIu64 ".%03u\n", e->last_set_ns / 1000000000u,
		       (unsigned)(e->last_set_ns % 1000000000u / 1000000u));
		break;
	default:
		printf("%" PRIu32 "\n", e->holders);
		break;
	}
}

static void prom_header(int fam)
{
	printf("# HELP %s %s\n# TYPE %s %s\n", prom_families[fam].name,
	       prom_families[fam].help, prom_families[fam].name,
	       prom_families[fam].type);
}

/*
 * The format wants each family's samples together, after its HELP and TYPE.
 * A list that fits in memory is printed family by family from there; a
 * longer one is listed again for every family.
 */
static int list_prometheus(struct lister *l)
{
	struct errseq_slot_info *buf;
	const struct errseq_slot_info *e;
	size_t n = 0;
	int r = 0;

	buf = malloc(LIST_BUFFER_MAX * sizeof(*buf));
	if (!buf) {
		ctl_err("list: out of memory");
		return CTL_EXIT_FAIL;
	}
	while (n < LIST_BUFFER_MAX && (r = lister_next(l, &e)) > 0)
		buf[n++] = *e;
	if (r < 0) {
		free(buf);
		return list_failed(r);
	}
	if (n < LIST_BUFFER_MAX) {
		for (int fam = 0; fam < NPROM; fam++) {
			prom_header(fam);
			for (size_t i = 0; i < n; i++)
				prom_sample(fam, &buf[i]);
		}
		free(buf);
		return CTL_EXIT_OK;
	}
	free(buf);
	for (int fam = 0; fam < NPROM; fam++) {
		prom_header(fam);
		lister_rewind(l);
		while ((r = lister_next(l, &e)) > 0)
			prom_sample(fam, e);
		if (r < 0)
			return list_failed(r);
	}
	return CTL_EXIT_OK;
}

int ctl_cmd_list(struct errseq_client *c, const struct ctl_opts *o,
		 const char *pattern)
{
	struct lister *l = lister_new(c, pattern);
	int r;

	if (!l) {
		ctl_err("list: out of memory");
		return CTL_EXIT_FAIL;
	}
	switch (o->format) {
	case CTL_FMT_JSON:
		r = list_json(l);
		break;
	case CTL_FMT_PROMETHEUS:
		r = list_prometheus(l);
		break;
	default:
		r = list_table(l);
		break;
	}
	free(l);
	return r;
}

/* ---- stat ------------------------------------------------------------- */

static void stat_text(const struct errseq_slot_info *e)
{
	unsigned en = val_errno(e->value);
	char ebuf[32], tbuf[64];

	errno_field(ebuf, sizeof(ebuf), en);
	printf("name:        %s\n", e->name);
	printf("index:       %" PRIu32 "\n", e->index);
	printf("generation:  %" PRIu32 "\n", e->generation);
	printf("value:       0x%08" PRIx32 "\n", e->value);
	if (en)
		printf("errno:       %s (%u: %s)\n", ebuf, en,
		       errseq_strerror(-(int)en));
	else
		printf("errno:       - (never set)\n");
	printf("counter:     %u\n", val_counter(e->value));
	printf("seen:        %s\n", val_seen(e->value) ? "yes" : "no");
	printf("sets total:  %" PRIu64 "\n", e->sets_total);
	if (e->last_set_ns && ctl_iso_time(tbuf, sizeof(tbuf), e->last_set_ns,
					   false))
		printf("last set:    %s by pid %ld\n", tbuf, (long)e->last_pid);
	else
		printf("last set:    -\n");
	printf("holders:     %" PRIu32 "\n", e->holders);
	printf("creator uid: %lu\n", (unsigned long)e->creator_uid);
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
		json_slot(stdout, &e);
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
		printf("{\"version\":%d,\"status\":{\"pid\":%ld,"
		       "\"daemon_version\":", CTL_JSON_VERSION, (long)st.pid);
		ctl_json_string(stdout, st.version);
		fputs(",\"started\":", stdout);
		json_time(stdout, st.start_ns);
		printf(",\"start_ns\":%" PRIu64 ",\"uptime_ns\":%" PRIu64
		       ",\"uptime_seconds\":%" PRIu64 ",\"capacity\":%" PRIu32
		       ",\"slots_used\":%" PRIu32 ",\"slots_held\":%" PRIu32
		       ",\"clients\":%" PRIu32 ",\"max_clients\":%" PRIu32
		       ",\"incarnation\":\"%016" PRIx64 "\",\"segment_bytes\":%" PRIu64
		       "}}\n", st.start_ns, st.uptime_ns,
		       st.uptime_ns / 1000000000u, st.capacity, st.slots_used,
		       st.slots_held, st.clients, st.max_clients,
		       st.incarnation, st.segment_bytes);
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
