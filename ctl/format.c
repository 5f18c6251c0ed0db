/*
 * format.c - errseqctl's pure formatting helpers: errno names, JSON and
 * Prometheus escaping, ISO-8601 times, human durations.  See format.h.
 */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <errseq/client.h>

#include "ctl/format.h"

/* The errno table lives in liberrseq-client (client/errnames.c), shared
 * with the examples; these keep errseqctl's own names and contracts. */
const char *ctl_errno_name(int e)
{
	return e > 0 ? errseq_errno_name(e) : NULL;
}

int ctl_errno_parse(const char *s)
{
	return errseq_errno_parse(s);
}

size_t ctl_json_escape(char *out, size_t len, const char *s)
{
	size_t n = 0;

#define PUT(c)	do { if (n + 1 >= len) goto full; out[n++] = (c); } while (0)
	PUT('"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		const char *hex = "0123456789abcdef";

		switch (*p) {
		case '"':  PUT('\\'); PUT('"'); break;
		case '\\': PUT('\\'); PUT('\\'); break;
		case '\n': PUT('\\'); PUT('n'); break;
		case '\r': PUT('\\'); PUT('r'); break;
		case '\t': PUT('\\'); PUT('t'); break;
		case '\b': PUT('\\'); PUT('b'); break;
		case '\f': PUT('\\'); PUT('f'); break;
		default:
			if (*p < 0x20 || *p == 0x7f) {
				PUT('\\'); PUT('u'); PUT('0'); PUT('0');
				PUT(hex[*p >> 4]); PUT(hex[*p & 15]);
			} else {
				PUT((char)*p);
			}
		}
	}
	PUT('"');
#undef PUT
	out[n] = '\0';
	return n;
full:
	if (len)
		out[0] = '\0';
	return 0;
}

void ctl_json_string(FILE *f, const char *s)
{
	putc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"':  fputs("\\\"", f); break;
		case '\\': fputs("\\\\", f); break;
		case '\n': fputs("\\n", f); break;
		case '\r': fputs("\\r", f); break;
		case '\t': fputs("\\t", f); break;
		case '\b': fputs("\\b", f); break;
		case '\f': fputs("\\f", f); break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				fprintf(f, "\\u%04x", *p);
			else
				putc(*p, f);
		}
	}
	putc('"', f);
}

void ctl_prom_label(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '"':  fputs("\\\"", f); break;
		case '\\': fputs("\\\\", f); break;
		case '\n': fputs("\\n", f); break;
		default:   putc(*s, f);
		}
	}
}

/*
 * The date and zone of the second last formatted, per thread (UTC only:
 * see ctl_iso_time): a list of a million slots set within a few seconds of each
 * other would otherwise pay gmtime_r/localtime_r and strftime (about a
 * microsecond together) for every timestamp, the bulk of list --json's time.
 */
struct iso_cache {
	bool valid;
	time_t secs;
	char date[32];
	char zone[32];
};
static __thread struct iso_cache iso_cache[2];

static bool iso_second(struct iso_cache *c, time_t secs, bool utc)
{
	struct tm tm;

	if (c->valid && c->secs == secs)
		return true;
	c->valid = false;
	if (!(utc ? gmtime_r(&secs, &tm) : localtime_r(&secs, &tm)))
		return false;
	if (!strftime(c->date, sizeof(c->date), "%Y-%m-%dT%H:%M:%S", &tm))
		return false;
	if (utc) {
		snprintf(c->zone, sizeof(c->zone), "Z");
	} else {
		/* strftime's %z is "+0100"; ISO-8601 extended wants "+01:00" */
		long off = tm.tm_gmtoff;
		char sign = off < 0 ? '-' : '+';

		if (off < 0)
			off = -off;
		off %= 86400;	/* real offsets are under 15 h */
		snprintf(c->zone, sizeof(c->zone), "%c%02u:%02u", sign,
			 (unsigned)(off / 3600), (unsigned)(off % 3600 / 60));
	}
	c->secs = secs;
	c->valid = true;
	return true;
}

size_t ctl_iso_time(char *buf, size_t len, uint64_t ns, bool utc)
{
	time_t secs = (time_t)(ns / 1000000000u);
	unsigned ms = (unsigned)(ns % 1000000000u / 1000000u);
	struct iso_cache *c = &iso_cache[utc ? 1 : 0];
	int n;

	/* Local time depends on TZ, which may change (tzset): cache UTC only. */
	if (!utc)
		c->valid = false;
	if (!iso_second(c, secs, utc)) {
		if (len)
			buf[0] = '\0';
		return 0;
	}
	n = snprintf(buf, len, "%s.%03u%s", c->date, ms, c->zone);
	if (n < 0 || (size_t)n >= len) {
		if (len)
			buf[0] = '\0';
		return 0;
	}
	return (size_t)n;
}

size_t ctl_duration(char *buf, size_t len, uint64_t ns)
{
	uint64_t s = ns / 1000000000u;
	uint64_t d = s / 86400, h = s % 86400 / 3600, m = s % 3600 / 60;
	int n;

	s %= 60;
	if (d)
		n = snprintf(buf, len, "%llud %lluh %llum %llus",
			     (unsigned long long)d, (unsigned long long)h,
			     (unsigned long long)m, (unsigned long long)s);
	else if (h)
		n = snprintf(buf, len, "%lluh %llum %llus",
			     (unsigned long long)h, (unsigned long long)m,
			     (unsigned long long)s);
	else if (m)
		n = snprintf(buf, len, "%llum %llus", (unsigned long long)m,
			     (unsigned long long)s);
	else
		n = snprintf(buf, len, "%llus", (unsigned long long)s);
	if (n < 0 || (size_t)n >= len) {
		if (len)
			buf[0] = '\0';
		return 0;
	}
	return (size_t)n;
}

size_t ctl_age(char *buf, size_t len, uint64_t now_ns, uint64_t then_ns)
{
	uint64_t s;
	int n;

	if (then_ns > now_ns)
		n = snprintf(buf, len, "in the future");
	else if ((s = (now_ns - then_ns) / 1000000000u) == 0)
		n = snprintf(buf, len, "just now");
	else if (s < 60)
		n = snprintf(buf, len, "%llus ago", (unsigned long long)s);
	else if (s < 3600)
		n = snprintf(buf, len, "%llum ago", (unsigned long long)(s / 60));
	else if (s < 86400)
		n = snprintf(buf, len, "%lluh ago",
			     (unsigned long long)(s / 3600));
	else
		n = snprintf(buf, len, "%llud ago",
			     (unsigned long long)(s / 86400));
	if (n < 0 || (size_t)n >= len) {
		if (len)
			buf[0] = '\0';
		return 0;
	}
	return (size_t)n;
}

size_t ctl_text_escape(char *out, size_t len, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 0;

	if (!len)
		return 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p >= 0x20 && *p < 0x7f && *p != '\\') {
			if (n + 1 >= len)
				break;
			out[n++] = (char)*p;
		} else {
			if (n + 4 >= len)
				break;
			out[n++] = '\\';
			out[n++] = 'x';
			out[n++] = hex[*p >> 4];
			out[n++] = hex[*p & 15];
		}
	}
	out[n] = '\0';
	return n;
}

size_t ctl_writers(char *buf, size_t len, const struct errseq_slot_info *e)
{
	struct passwd pw, *pwr = NULL;
	struct group gr, *grr = NULL;
	char tmp[1024], user[64], group[64];
	int n;

	if (getpwuid_r(e->creator_uid, &pw, tmp, sizeof(tmp), &pwr) == 0 &&
	    pwr)
		snprintf(user, sizeof(user), "%s", pwr->pw_name);
	else
		snprintf(user, sizeof(user), "%lu",
			 (unsigned long)e->creator_uid);
	if (e->writers_gid == ERRSEQ_NO_GROUP) {
		n = snprintf(buf, len, "%s", user);
	} else {
		if (getgrgid_r((gid_t)e->writers_gid, &gr, tmp, sizeof(tmp),
			       &grr) == 0 && grr)
			snprintf(group, sizeof(group), "%s", grr->gr_name);
		else
			snprintf(group, sizeof(group), "%lu",
				 (unsigned long)e->writers_gid);
		n = snprintf(buf, len, "%s+%s", user, group);
	}
	if (n < 0)
		return 0;
	return (size_t)n < len ? (size_t)n : len - 1;
}
