/*
 * options.c - parse errseqd's command line (see options.h).
 *
 * Every value is checked here so that a typo stops the daemon with exit
 * status 2 before it touches any socket or segment.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/common.h"
#include "common/shm_layout.h"
#include "daemon/log.h"
#include "daemon/options.h"

enum {
	OPT_SOCKET = 256,
	OPT_SHM,
	OPT_SLOTS,
	OPT_GROUP,
	OPT_MODE,
	OPT_RECREATE,
	OPT_LOG_LEVEL,
	OPT_MAX_CLIENTS,
	OPT_MAX_OPEN,
	OPT_UID_CLIENTS,
	OPT_UID_SLOTS,
	OPT_UID_HOLDS,
	OPT_HELLO_TIMEOUT,
	OPT_PERSIST,
	OPT_KEEP_STATE,
	OPT_VERSION,
	OPT_HELP,
};

static const struct option long_opts[] = {
	{ "socket", required_argument, NULL, OPT_SOCKET },
	{ "shm", required_argument, NULL, OPT_SHM },
	{ "slots", required_argument, NULL, OPT_SLOTS },
	{ "group", required_argument, NULL, OPT_GROUP },
	{ "mode", required_argument, NULL, OPT_MODE },
	{ "recreate", no_argument, NULL, OPT_RECREATE },
	{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
	{ "max-clients", required_argument, NULL, OPT_MAX_CLIENTS },
	{ "max-open", required_argument, NULL, OPT_MAX_OPEN },
	{ "max-clients-per-uid", required_argument, NULL, OPT_UID_CLIENTS },
	{ "max-slots-per-uid", required_argument, NULL, OPT_UID_SLOTS },
	{ "max-open-per-uid", required_argument, NULL, OPT_UID_HOLDS },
	{ "hello-timeout", required_argument, NULL, OPT_HELLO_TIMEOUT },
	{ "persist", required_argument, NULL, OPT_PERSIST },
	{ "keep-state", required_argument, NULL, OPT_KEEP_STATE },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

#define fail(err, errlen, ...) esd_errf(err, errlen, -EINVAL, __VA_ARGS__)

/* A decimal number in [lo, hi], nothing else (no sign, no suffix). */
static int parse_u32(const char *s, uint32_t lo, uint32_t hi, uint32_t *out)
{
	unsigned long long v;
	char *end;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

/* A group name, or a numeric gid. */
static int parse_group(const char *s, gid_t *out)
{
	struct group *gr;
	uint32_t v;

	if (!s || !*s)
		return -EINVAL;
	gr = getgrnam(s);
	if (gr) {
		*out = gr->gr_gid;
		return 0;
	}
	if (parse_u32(s, 0, UINT32_MAX - 1, &v) == 0) {
		*out = (gid_t)v;
		return 0;
	}
	return -ENOENT;
}

int esd_options_parse(int argc, char **argv, struct esd_options *o,
		      char *err, size_t errlen)
{
	int c, r;
	uint32_t v;
	char *end;
	unsigned long m;

	bool uid_slots_given = false;

	memset(o, 0, sizeof(*o));
	o->slots = ESD_DEFAULT_SLOTS;
	o->mode = geteuid() == 0 ? ESD_DEFAULT_MODE_ROOT : ESD_DEFAULT_MODE_USER;
	o->max_uid_clients = ESD_DEFAULT_UID_CLIENTS;
	o->max_uid_holds = ESD_DEFAULT_UID_HOLDS;
	o->hello_timeout_ms = ESD_DEFAULT_HELLO_MS;
	o->persist = ESD_PERSIST_KEEPER;
	o->keep_state_s = ESD_DEFAULT_KEEP_S;
	o->log_level = ESD_LOG_INFO;
	o->max_clients = ESD_DEFAULT_MAX_CLIENTS;
	o->max_open = ESD_DEFAULT_MAX_OPEN;
	if (esd_default_socket(o->socket_path, sizeof(o->socket_path)) < 0)
		return fail(err, errlen, "default socket path is too long "
			    "(check $ERRSEQD_SOCKET / $XDG_RUNTIME_DIR); "
			    "pass --socket");
	if (esd_default_shm(o->shm_name, sizeof(o->shm_name)) < 0)
		return fail(err, errlen, "default shm name is too long");

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":", long_opts, NULL)) != -1) {
		switch (c) {
		case OPT_SOCKET:
			if (!*optarg)
				return fail(err, errlen,
					    "--socket: empty path");
			if (strlen(optarg) >= sizeof(o->socket_path))
				return fail(err, errlen, "--socket: path longer "
					    "than %zu bytes",
					    sizeof(o->socket_path) - 1);
			strcpy(o->socket_path, optarg);
			break;
		case OPT_SHM:
			if (esd_shm_name_check(optarg) < 0)
				return fail(err, errlen, "--shm: '%s' is not "
					    "'/' then 1..200 of "
					    "[A-Za-z0-9._-] (not . or ..)",
					    optarg);
			snprintf(o->shm_name, sizeof(o->shm_name), "%s",
				 optarg);
			o->shm_given = true;
			break;
		case OPT_SLOTS:
			if (parse_u32(optarg, 1, ESD_MAX_SLOTS, &o->slots) < 0)
				return fail(err, errlen, "--slots: '%s' is not "
					    "a number in 1..%u", optarg,
					    ESD_MAX_SLOTS);
			break;
		case OPT_GROUP:
			r = parse_group(optarg, &o->gid);
			if (r < 0)
				return fail(err, errlen, "--group: no such "
					    "group '%s'", optarg);
			o->have_group = true;
			break;
		case OPT_MODE:
			errno = 0;
			m = strtoul(optarg, &end, 8);
			if (!*optarg || *optarg < '0' || *optarg > '7' ||
			    errno || *end || m > 0777)
				return fail(err, errlen, "--mode: '%s' is not an "
					    "octal mode in 0..0777", optarg);
			o->mode = (mode_t)m;
			break;
		case OPT_RECREATE:
			o->recreate = true;
			break;
		case OPT_LOG_LEVEL:
			r = esd_log_parse_level(optarg);
			if (r < 0)
				return fail(err, errlen, "--log-level: '%s' is "
					    "not error, warn, info or debug",
					    optarg);
			o->log_level = r;
			break;
		case OPT_MAX_CLIENTS:
			if (parse_u32(optarg, 1, 1u << 20, &v) < 0)
				return fail(err, errlen, "--max-clients: '%s' "
					    "is not a number in 1..%u",
					    optarg, 1u << 20);
			o->max_clients = v;
			break;
		case OPT_MAX_OPEN:
			if (parse_u32(optarg, 1, 1u << 24, &v) < 0)
				return fail(err, errlen, "--max-open: '%s' is "
					    "not a number in 1..%u", optarg,
					    1u << 24);
			o->max_open = v;
			break;
		case OPT_UID_CLIENTS:
			if (parse_u32(optarg, 0, 1u << 20, &v) < 0)
				return fail(err, errlen, "--max-clients-per-uid:"
					    " '%s' is not a number in 0..%u",
					    optarg, 1u << 20);
			o->max_uid_clients = v;
			break;
		case OPT_UID_SLOTS:
			if (parse_u32(optarg, 0, ESD_MAX_SLOTS, &v) < 0)
				return fail(err, errlen, "--max-slots-per-uid: "
					    "'%s' is not a number in 0..%u",
					    optarg, ESD_MAX_SLOTS);
			o->max_uid_slots = v;
			uid_slots_given = true;
			break;
		case OPT_UID_HOLDS:
			if (parse_u32(optarg, 0, 1u << 24, &v) < 0)
				return fail(err, errlen, "--max-open-per-uid: "
					    "'%s' is not a number in 0..%u",
					    optarg, 1u << 24);
			o->max_uid_holds = v;
			break;
		case OPT_HELLO_TIMEOUT:
			if (parse_u32(optarg, 1, 3600000, &v) < 0)
				return fail(err, errlen, "--hello-timeout: '%s' "
					    "is not milliseconds in 1..3600000",
					    optarg);
			o->hello_timeout_ms = v;
			break;
		case OPT_PERSIST:
			if (strcmp(optarg, "keeper") == 0)
				o->persist = ESD_PERSIST_KEEPER;
			else if (strcmp(optarg, "fdstore") == 0)
				o->persist = ESD_PERSIST_FDSTORE;
			else if (strcmp(optarg, "none") == 0)
				o->persist = ESD_PERSIST_NONE;
			else
				return fail(err, errlen, "--persist: '%s' is "
					    "not keeper, fdstore or none",
					    optarg);
			break;
		case OPT_KEEP_STATE:
			if (parse_u32(optarg, 1, 1u << 30, &v) < 0)
				return fail(err, errlen, "--keep-state: '%s' is "
					    "not seconds in 1..%u", optarg,
					    1u << 30);
			o->keep_state_s = v;
			break;
		case OPT_VERSION:
			return ESD_OPTIONS_VERSION;
		case OPT_HELP:
			return ESD_OPTIONS_HELP;
		case ':':
			return fail(err, errlen, "%s needs a value (see "
				    "--help)", argv[optind - 1]);
		default:
			if (optopt > 0 && optopt < 256)
				return fail(err, errlen, "unknown option '-%c' "
					    "(see --help)", optopt);
			return fail(err, errlen, "unknown option '%s' (see "
				    "--help)", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return fail(err, errlen, "unexpected argument '%s' (see "
			    "--help)", argv[optind]);
	if (!uid_slots_given)
		o->max_uid_slots = esd_default_uid_slots(o->slots);
	return ESD_OPTIONS_RUN;
}

void esd_options_usage(FILE *f)
{
	char sock[128];

	if (esd_default_socket(sock, sizeof(sock)) < 0)
		snprintf(sock, sizeof(sock), "(too long)");
	fprintf(f,
"Usage: errseqd [OPTION]...\n"
"Serve named errseq_t slots in shared memory to local processes.\n"
"Runs in the foreground and logs to stderr.\n"
"\n"
"  --socket PATH      listening socket (default %s;\n"
"                     $ERRSEQD_SOCKET overrides the built-in default)\n"
"  --slots N          maximum of live slots, up to %u (default %u); memory\n"
"                     grows in chunks of %u slots, each holding the slots\n"
"                     of one writer set.  New state gets an index space of\n"
"                     2N + 65536 slots; kept state keeps its index space\n"
"                     (--recreate to grow it)\n"
"  --group GROUP      group (name or gid) of the socket (default: unchanged)\n"
"  --mode OCTAL       mode of the socket (default %04o as root, %04o\n"
"                     otherwise: who may connect at all)\n"
"  --recreate         discard the kept state (open handles turn stale)\n"
"  --persist HOW      keep slots across restarts with a keeper process\n"
"                     (keeper, the default), systemd's fd store (fdstore)\n"
"                     or not at all (none)\n"
"  --keep-state S     the keeper holds the state S seconds without a\n"
"                     daemon (default %u)\n"
"  --log-level LEVEL  error, warn, info or debug (default info)\n"
"  --max-clients N    connections at once (default %u)\n"
"  --max-open N       slot handles held per connection (default %u)\n"
"  --max-clients-per-uid N  connections per user (default %u; 0: no limit)\n"
"  --max-slots-per-uid N    live slots a user may have created (default a\n"
"                     quarter of --slots; 0: no limit)\n"
"  --max-open-per-uid N     handles per user over all its connections\n"
"                     (default %u; 0: no limit)\n"
"  --hello-timeout MS close connections that send no HELLO by then\n"
"                     (default %u)\n"
"  --version          print the version and exit\n"
"  --help             print this help and exit\n"
"\n"
"Per-user limits do not apply to root or to the daemon's own user.\n"
"--shm NAME is accepted for compatibility and ignored: slots live in\n"
"memfds that no other user can name.\n"
"\n"
"Exit status: 0 after SIGTERM/SIGINT/SIGHUP, 1 if startup failed, 2 on bad\n"
"usage.\n",
		sock, ESD_MAX_SLOTS, ESD_DEFAULT_SLOTS,
		ESD_CHUNK_SLOTS, ESD_DEFAULT_MODE_ROOT, ESD_DEFAULT_MODE_USER,
		ESD_DEFAULT_KEEP_S, ESD_DEFAULT_MAX_CLIENTS,
		ESD_DEFAULT_MAX_OPEN, ESD_DEFAULT_UID_CLIENTS,
		ESD_DEFAULT_UID_HOLDS, ESD_DEFAULT_HELLO_MS);
}
