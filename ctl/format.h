/*
 * format.h - errseqctl's pure formatting helpers: the errno name table,
 * JSON and Prometheus escaping, ISO-8601 times and human durations.
 *
 * Nothing here talks to the daemon or keeps state, so
 * tests/ctl/test_format.c links this file directly and checks it case by
 * case.
 */
#ifndef ERRSEQ_CTL_FORMAT_H
#define ERRSEQ_CTL_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/*
 * ctl_errno_name - the symbolic name of errno @e ("EIO" for 5), or NULL if
 * @e is 0, negative or has no name in the table (which covers every Linux
 * errno 1..133; for aliases such as EWOULDBLOCK the canonical name wins).
 */
const char *ctl_errno_name(int e);

/*
 * ctl_errno_parse - read an error as errseqctl's set takes it: a symbolic
 * name (case-insensitive, aliases accepted), a positive number or a
 * negative number ("EIO", "5" and "-5" all mean 5).
 * Returns the errno in [1, 4095], or -EINVAL for anything else (0, out of
 * range, trailing junk, unknown name, empty string).
 */
int ctl_errno_parse(const char *s);

/*
 * ctl_json_escape - @s as a quoted JSON string (the same escapes as
 * ctl_json_string) into @out.  Returns its length, or 0 (and "") if it does
 * not fit in @len bytes.
 */
size_t ctl_json_escape(char *out, size_t len, const char *s);

/* ctl_json_string - write @s to @f as a JSON string literal, quotes
 * included; control characters, quotes and backslashes are escaped, other
 * bytes are written as they are. */
void ctl_json_string(FILE *f, const char *s);

/* ctl_prom_label - write @s to @f escaped as a Prometheus label value
 * (backslash, double quote and newline escaped), without the quotes. */
void ctl_prom_label(FILE *f, const char *s);

/*
 * ctl_iso_time - format @ns (nanoseconds since the epoch) as ISO-8601 with
 * milliseconds: "2025-01-02T03:04:05.123Z" if @utc, else local time with
 * its offset, "2025-01-02T04:04:05.123+01:00".  Writes a NUL-terminated
 * string to @buf and returns its length, or 0 if it did not fit.
 */
size_t ctl_iso_time(char *buf, size_t len, uint64_t ns, bool utc);

/*
 * ctl_duration - format @ns as a human duration: "5s", "12m 5s",
 * "3h 12m 5s", "2d 3h 12m 5s" (whole seconds, rounded down; leading zero
 * units omitted).  Returns the length written to @buf, or 0 if it did not
 * fit.
 */
size_t ctl_duration(char *buf, size_t len, uint64_t ns);

/*
 * ctl_age - how long ago @then_ns was at @now_ns (both nanoseconds since the
 * epoch), in the largest whole unit: "3s ago", "2m ago", "5h ago", "4d ago";
 * "just now" under a second; "in the future" if @then_ns is later.  Returns
 * the length written to @buf, or 0 if it did not fit.
 */
size_t ctl_age(char *buf, size_t len, uint64_t now_ns, uint64_t then_ns);

/*
 * ctl_text_escape - @s for a terminal: printable ASCII (0x20..0x7e) except
 * the backslash as it is, every other byte (control bytes, escape
 * sequences, DEL, bytes >= 0x80) and the backslash as "\xHH".  Writes a
 * NUL-terminated string to @out (cut short at a whole escape if @len is too
 * small; 4 * strlen(@s) + 1 always fits) and returns its length.
 */
size_t ctl_text_escape(char *out, size_t len, const char *s);

struct errseq_slot_info;

/*
 * ctl_writers - who may write slot @e, for people: its creator's user name
 * (or uid), then "+" and the writer group's name (or gid) if it has one;
 * root and the daemon's user always may, and are not listed.  Returns the
 * length written to @buf (truncated to fit, NUL-terminated).
 */
size_t ctl_writers(char *buf, size_t len, const struct errseq_slot_info *e);

#endif /* ERRSEQ_CTL_FORMAT_H */
