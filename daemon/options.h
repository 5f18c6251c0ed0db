/*
 * options.h - errseqd's command line.
 *
 *   errseqd [--socket PATH] [--slots N] [--group GROUP] [--mode OCTAL]
 *           [--recreate] [--persist keeper|fdstore|none] [--keep-state S]
 *           [--log-level LEVEL] [--max-clients N] [--max-open N]
 *           [--max-clients-per-uid N] [--max-slots-per-uid N]
 *           [--max-open-per-uid N] [--hello-timeout MS] [--version] [--help]
 *
 * Parsing only checks and converts: it opens nothing and prints nothing.
 */
#ifndef ERRSEQD_OPTIONS_H
#define ERRSEQD_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <sys/un.h>

#include "daemon/store.h"

#define ESD_DEFAULT_MODE_ROOT	0660u	/* the system daemon: its group */
#define ESD_DEFAULT_MODE_USER	0600u	/* a user's own daemon: that user */
#define ESD_DEFAULT_MAX_CLIENTS	4096u
#define ESD_DEFAULT_MAX_OPEN	65536u
#define ESD_DEFAULT_UID_CLIENTS	256u
#define ESD_DEFAULT_UID_HOLDS	65536u
#define ESD_DEFAULT_HELLO_MS	10000u
#define ESD_DEFAULT_KEEP_S	600u
#define ESD_SHM_NAME_MAX	256u

struct esd_options {
	char socket_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char shm_name[ESD_SHM_NAME_MAX];
	uint32_t slots;		/* 1..ESD_MAX_SLOTS */
	bool have_group;
	gid_t gid;		/* --group, resolved; valid if have_group */
	mode_t mode;		/* socket and data segment, <= 0777 */
	bool recreate;
	int log_level;		/* enum esd_log_level */
	uint32_t max_clients;	/* connections at once */
	uint32_t max_open;	/* holds per connection */
	uint32_t max_uid_clients;	/* connections per uid (0: none) */
	uint32_t max_uid_slots;	/* live slots created per uid (0: none) */
	uint32_t max_uid_holds;	/* holds per uid (0: none) */
	uint32_t hello_timeout_ms;
	int persist;		/* enum esd_persist */
	uint32_t keep_state_s;	/* keeper grace without a daemon */
	bool shm_given;		/* the obsolete --shm was used */
};

/* The default per-uid slot limit for a global maximum of @slots: a
 * quarter, so that four users cannot be locked out by a fifth. */
static inline uint32_t esd_default_uid_slots(uint32_t slots)
{
	return slots / 4 ? slots / 4 : 1;
}

enum esd_options_result {
	ESD_OPTIONS_RUN = 0,	/* start the daemon */
	ESD_OPTIONS_HELP = 1,	/* --help: print esd_options_usage, exit 0 */
	ESD_OPTIONS_VERSION = 2,	/* --version: print it, exit 0 */
};

/*
 * esd_options_parse - fill @o from argv (defaults for what is not given,
 * including the default socket path and shm name of common.h).
 * Returns an enum esd_options_result, or -EINVAL with a one-line reason
 * (no "errseqd:" prefix, no newline) in @err (@errlen bytes) for bad usage.
 * Uses getopt_long: call once per process.
 */
int esd_options_parse(int argc, char **argv, struct esd_options *o,
		      char *err, size_t errlen);

/* esd_options_usage - the --help text, with the defaults this process would
 * use, to @f. */
void esd_options_usage(FILE *f);

#endif /* ERRSEQD_OPTIONS_H */
