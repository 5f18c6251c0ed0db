/*
 * log.c - errseqd's stderr logger (see log.h for the record formats).
 *
 * The daemon is single-threaded, so a static threshold and one formatting
 * buffer are enough.  A record is written with a single write(2) so that
 * lines from a crashing daemon are never interleaved half-way.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/log.h"

static int log_threshold = ESD_LOG_INFO;
static bool log_journal;

static const char *const level_names[] = {
	[ESD_LOG_ERROR] = "error",
	[ESD_LOG_WARN] = "warn",
	[ESD_LOG_INFO] = "info",
	[ESD_LOG_DEBUG] = "debug",
};

/* syslog(3) priorities, as the sd-daemon "<N>" prefix wants them. */
static const int level_prio[] = {
	[ESD_LOG_ERROR] = 3,
	[ESD_LOG_WARN] = 4,
	[ESD_LOG_INFO] = 6,
	[ESD_LOG_DEBUG] = 7,
};

int esd_log_parse_level(const char *s)
{
	for (int i = 0; i <= ESD_LOG_DEBUG; i++)
		if (s && strcmp(s, level_names[i]) == 0)
			return i;
	return -EINVAL;
}

const char *esd_log_level_name(int level)
{
	if (level < 0 || level > ESD_LOG_DEBUG)
		return "?";
	return level_names[level];
}

void esd_log_init(int level)
{
	const char *js = getenv("JOURNAL_STREAM");

	log_threshold = level;
	log_journal = js && *js;
}

bool esd_log_enabled(int level)
{
	return level <= log_threshold;
}

void esd_log(int level, const char *fmt, ...)
{
	char buf[1024];
	size_t n;
	int r;
	va_list ap;

	if (level < 0 || level > ESD_LOG_DEBUG || !esd_log_enabled(level))
		return;
	if (log_journal)
		r = snprintf(buf, sizeof(buf), "<%d>", level_prio[level]);
	else
		r = snprintf(buf, sizeof(buf), "errseqd: %s: ",
			     level_names[level]);
	n = r > 0 ? (size_t)r : 0;

	va_start(ap, fmt);
	r = vsnprintf(buf + n, sizeof(buf) - n - 1, fmt, ap);
	va_end(ap);
	if (r > 0) {
		size_t m = (size_t)r;

		/* Truncated: keep what fit; the record stays one line. */
		if (m > sizeof(buf) - n - 2)
			m = sizeof(buf) - n - 2;
		for (size_t i = n; i < n + m; i++)
			if (buf[i] == '\n' || buf[i] == '\r')
				buf[i] = ' ';
		n += m;
	}
	buf[n++] = '\n';
	/* Nothing sensible to do if stderr is gone: the record is lost. */
	while (write(STDERR_FILENO, buf, n) < 0 && errno == EINTR)
		;
}
