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
#include <stddef.h>
#include <stdint.h>

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

/* esd_log_to_journal - do records go to the journal (JOURNAL_STREAM
 * names our stderr), with "<N>" priorities and no timestamp? */
bool esd_log_to_journal(void);

/*
 * esd_errf - format a one-line reason into @err (@errlen bytes) and return
 * @code: the one helper every setup step uses to fail with a message.
 */
int esd_errf(char *err, size_t errlen, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* esd_refuse - set *@why (if @why) to @reason and return @code: how a
 * decoder or an op says no. */
static inline int esd_refuse(const char **why, int code, const char *reason)
{
	if (why)
		*why = reason;
	return code;
}

/* A token bucket for log lines a peer can provoke: at most @burst records
 * per @interval_ns. */
struct esd_ratelimit {
	uint64_t interval_ns;
	uint32_t burst;
	uint32_t count, dropped;
	uint64_t start_ns;
};

/* esd_ratelimit - may one more record go out now?  When a new interval
 * starts, *@suppressed gets how many were dropped in the last one (to be
 * reported), else 0. */
bool esd_ratelimit(struct esd_ratelimit *rl, uint32_t *suppressed);

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
