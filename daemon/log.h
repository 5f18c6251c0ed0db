/*
 * log.h - errseqd's logging: one record per line on stderr, with a level.
 *
 * On a terminal (or any plain stderr) a record reads
 * "errseqd: info: message".  When $JOURNAL_STREAM is set (systemd connected
 * stderr to the journal), the record carries the sd-daemon priority prefix
 * instead: "<6>message", so the journal files it at the right priority.
 */
#ifndef ERRSEQD_LOG_H
#define ERRSEQD_LOG_H

#include <stdbool.h>

enum esd_log_level {
	ESD_LOG_ERROR = 0,
	ESD_LOG_WARN = 1,
	ESD_LOG_INFO = 2,
	ESD_LOG_DEBUG = 3,
};

/*
 * esd_log_parse_level - "error", "warn", "info" or "debug" to a level.
 * Returns the level (>= 0), or -EINVAL for any other string.
 */
int esd_log_parse_level(const char *s);

/* The name of @level, as esd_log_parse_level accepts it. */
const char *esd_log_level_name(int level);

/*
 * esd_log_init - set the threshold (records above it are dropped) and pick
 * the record format from $JOURNAL_STREAM.  Call once at start; until then
 * the threshold is ESD_LOG_INFO with the terminal format.
 */
void esd_log_init(int level);

/* Is @level logged at the current threshold? (to skip costly formatting) */
bool esd_log_enabled(int level);

/*
 * esd_log - write one record at @level.  The message is printf-formatted;
 * a trailing newline is added, and embedded newlines are replaced by
 * spaces so a record is always exactly one line.  Never fails visibly.
 */
void esd_log(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define esd_error(...)	esd_log(ESD_LOG_ERROR, __VA_ARGS__)
#define esd_warn(...)	esd_log(ESD_LOG_WARN, __VA_ARGS__)
#define esd_info(...)	esd_log(ESD_LOG_INFO, __VA_ARGS__)
#define esd_debug(...)						\
	do {							\
		if (esd_log_enabled(ESD_LOG_DEBUG))		\
			esd_log(ESD_LOG_DEBUG, __VA_ARGS__);	\
	} while (0)

#endif /* ERRSEQD_LOG_H */
