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
	{ "version", no_argument, NULL, OPT_VERSION },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

static int fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

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

	memset(o, 0, sizeof(*o));
	o->slots = ESD_DEFAULT_SLOTS;
	o->mode = ESD_DEFAULT_MODE;
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
	return ESD_OPTIONS_RUN;
}

void esd_options_usage(FILE *f)
{
	char sock[128], shm[ESD_SHM_NAME_MAX];

	if (esd_default_socket(sock, sizeof(sock)) < 0)
		snprintf(sock, sizeof(sock), "(too long)");
	if (esd_default_shm(shm, sizeof(shm)) < 0)
		snprintf(shm, sizeof(shm), "(too long)");
	fprintf(f,
"Usage: errseqd [OPTION]...\n"
"Serve named errseq_t slots in shared memory to local processes.\n"
"Runs in the foreground and logs to stderr.\n"
"\n"
"  --socket PATH      listening socket (default %s;\n"
"                     $ERRSEQD_SOCKET overrides the built-in default)\n"
"  --shm NAME         data segment name (default %s); the registry is\n"
"                     NAME%s\n"
"  --slots N          slots in a new segment, 1..%u (default %u); an\n"
"                     existing segment must have exactly N\n"
"  --group GROUP      group (name or gid) of the socket and data segment\n"
"                     (default: unchanged)\n"
"  --mode OCTAL       mode of the socket and data segment (default %04o)\n"
"  --recreate         discard existing segments (open handles turn stale)\n"
"                     and create new ones\n"
"  --log-level LEVEL  error, warn, info or debug (default info)\n"
"  --max-clients N    connections at once (default %u)\n"
"  --max-open N       slot handles held per connection (default %u)\n"
"  --version          print the version and exit\n"
"  --help             print this help and exit\n"
"\n"
"Exit status: 0 after SIGTERM/SIGINT/SIGHUP, 1 if startup failed, 2 on bad\n"
"usage.\n",
		sock, shm, ESD_REG_SUFFIX, ESD_MAX_SLOTS, ESD_DEFAULT_SLOTS,
		ESD_DEFAULT_MODE, ESD_DEFAULT_MAX_CLIENTS,
		ESD_DEFAULT_MAX_OPEN);
}
