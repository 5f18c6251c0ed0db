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
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/common.h"
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

void esd_log_init(int level)
{
	/* systemd.exec(5): JOURNAL_STREAM is "DEV:INODE" of the stream
	 * stderr was connected to; only if stderr is still that stream do
	 * records go to the journal (priority prefix, no timestamp).  A
	 * program that inherited the variable but redirected stderr gets
	 * plain timestamped lines. */
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat sb;
	char tail;

	log_threshold = level;
	log_journal = js && sscanf(js, "%llu:%llu%c", &dev, &ino, &tail) == 2 &&
		      fstat(STDERR_FILENO, &sb) == 0 &&
		      (unsigned long long)sb.st_dev == dev &&
		      (unsigned long long)sb.st_ino == ino;
}

bool esd_log_to_journal(void)
{
	return log_journal;
}

int esd_errf(char *err, size_t errlen, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return code;
}

bool esd_ratelimit(struct esd_ratelimit *rl, uint32_t *suppressed)
{
	uint64_t now = esd_now_ns(CLOCK_MONOTONIC);

	*suppressed = 0;
	if (now - rl->start_ns >= rl->interval_ns) {
		*suppressed = rl->dropped;
		rl->start_ns = now;
		rl->count = 0;
		rl->dropped = 0;
	}
	if (rl->count < rl->burst) {
		rl->count++;
		return true;
	}
	rl->dropped++;
	return false;
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
	else {
		struct timespec ts;
		struct tm tm;

		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		r = snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d."
			     "%03ldZ errseqd: %s: ", tm.tm_year + 1900,
			     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
			     tm.tm_sec, ts.tv_nsec / 1000000L,
			     level_names[level]);
	}
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
