/*
 * errseq-run.c - run a command with liberrseq-preload.so preloaded, so that
 * the write-back errors it meets are recorded in errseqd slots.
 *
 *     errseq-run [--slot NAME] [--map PREFIX=SLOT]... [--socket PATH]
 *                [--verbose] -- COMMAND [ARG]...
 *
 * Sets the environment (LD_PRELOAD, ERRSEQ_PRELOAD_*, ERRSEQD_SOCKET) and
 * executes COMMAND in place: its pid and exit status are the command's.
 * The library is the installed one, or $ERRSEQ_PRELOAD_LIB.  See
 * errseq-run(1).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <errseq/client.h>

#include "config.h"
#include "preload/preload.h"

#ifndef ERRSEQ_PRELOAD_PATH
#error "ERRSEQ_PRELOAD_PATH (the installed liberrseq-preload.so) is not set"
#endif

/* errseq-run's own failures, as env(1) and nohup(1) report theirs. */
#define EXIT_USAGE	125
#define EXIT_CANNOT	126
#define EXIT_NOTFOUND	127

static void usage(FILE *f)
{
	fprintf(f,
"Usage: errseq-run [OPTION]... [--] COMMAND [ARG]...\n"
"Run COMMAND with liberrseq-preload.so preloaded: each write-back or storage\n"
"error (EIO, ENOSPC, EDQUOT, EROFS, ...) that an fsync, fdatasync,\n"
"sync_file_range, syncfs, msync, close or write call of it (or of its\n"
"children) meets is recorded in an errseqd slot, while the command sees\n"
"exactly what it would without errseq-run.\n"
"\n"
"  --slot NAME          record every error in slot NAME (default: one slot\n"
"                       per file system, dev/MAJOR:MINOR)\n"
"  --map PREFIX=SLOT    errors on files under PREFIX go to SLOT (repeatable;\n"
"                       the longest matching prefix wins)\n"
"  --socket PATH        errseqd's socket (sets ERRSEQD_SOCKET)\n"
"  --verbose            say on standard error, once, why errors could not be\n"
"                       recorded (sets ERRSEQ_PRELOAD_VERBOSE=1)\n"
"  --help               show this help and exit\n"
"  --version            show the version and exit\n"
"\n"
"The exit status is COMMAND's; 125 if errseq-run itself failed, 126 if\n"
"COMMAND could not be executed, 127 if it was not found.\n"
"Library: %s ($ERRSEQ_PRELOAD_LIB overrides).  See errseq-run(1).\n",
		ERRSEQ_PRELOAD_PATH);
}

/* Append " @lib" to LD_PRELOAD unless it is there already. */
static int add_preload(const char *lib)
{
	const char *cur = getenv("LD_PRELOAD");
	char *v;
	int r;

	if (cur == NULL || cur[0] == '\0')
		return setenv("LD_PRELOAD", lib, 1);
	/* Already there (a child of errseq-run runs errseq-run)? */
	for (const char *p = cur; (p = strstr(p, lib)) != NULL; p++) {
		size_t n = strlen(lib);

		if ((p == cur || p[-1] == ' ' || p[-1] == ':') &&
		    (p[n] == '\0' || p[n] == ' ' || p[n] == ':'))
			return 0;
	}
	/* After what is there: a sanitizer runtime must stay first. */
	if (asprintf(&v, "%s %s", cur, lib) < 0)
		return -1;
	r = setenv("LD_PRELOAD", v, 1);
	free(v);
	return r;
}

/* Append an entry to ERRSEQ_PRELOAD_MAP. */
static int add_map(const char *entry)
{
	const char *cur = getenv("ERRSEQ_PRELOAD_MAP");
	char *v;
	int r;

	if (cur == NULL || cur[0] == '\0')
		return setenv("ERRSEQ_PRELOAD_MAP", entry, 1);
	if (asprintf(&v, "%s;%s", cur, entry) < 0)
		return -1;
	r = setenv("ERRSEQ_PRELOAD_MAP", v, 1);
	free(v);
	return r;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "slot", required_argument, NULL, 's' },
		{ "map", required_argument, NULL, 'm' },
		{ "socket", required_argument, NULL, 'S' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	const char *lib;
	int c;

	/* '+': options end at the command's name. */
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		const char *eq;

		switch (c) {
		case 's':
			if (!esp_valid_slot_name(optarg)) {
				fprintf(stderr, "errseq-run: invalid slot name "
					"'%s' (1 to %d bytes of "
					"A-Z a-z 0-9 . _ : / @ -)\n",
					optarg, ERRSEQ_NAME_MAX);
				return EXIT_USAGE;
			}
			if (setenv("ERRSEQ_PRELOAD_SLOT", optarg, 1) < 0)
				goto fail;
			break;
		case 'm':
			eq = strrchr(optarg, '=');
			if (optarg[0] != '/' || eq == NULL ||
			    !esp_valid_slot_name(eq + 1) ||
			    strchr(optarg, ';') != NULL) {
				fprintf(stderr, "errseq-run: --map takes "
					"/PREFIX=SLOT (no ';'), not '%s'\n",
					optarg);
				return EXIT_USAGE;
			}
			if (add_map(optarg) < 0)
				goto fail;
			break;
		case 'S':
			if (optarg[0] == '\0') {
				fprintf(stderr, "errseq-run: empty --socket\n");
				return EXIT_USAGE;
			}
			if (setenv("ERRSEQD_SOCKET", optarg, 1) < 0)
				goto fail;
			break;
		case 'v':
			if (setenv("ERRSEQ_PRELOAD_VERBOSE", "1", 1) < 0)
				goto fail;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("errseq-run %s\n", PACKAGE_VERSION);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "errseq-run: no command given\n");
		usage(stderr);
		return EXIT_USAGE;
	}

	lib = secure_getenv("ERRSEQ_PRELOAD_LIB");
	if (lib == NULL || lib[0] == '\0')
		lib = ERRSEQ_PRELOAD_PATH;
	if (lib[0] != '/' || strpbrk(lib, " :") != NULL) {
		fprintf(stderr, "errseq-run: the library path must be absolute "
			"and hold no space or colon: %s\n", lib);
		return EXIT_USAGE;
	}
	if (access(lib, R_OK) < 0) {
		fprintf(stderr, "errseq-run: %s: %s\n", lib, strerror(errno));
		return EXIT_USAGE;
	}
	if (add_preload(lib) < 0)
		goto fail;

	execvp(argv[optind], argv + optind);
	c = errno;
	fprintf(stderr, "errseq-run: %s: %s\n", argv[optind], strerror(c));
	return c == ENOENT ? EXIT_NOTFOUND : EXIT_CANNOT;
fail:
	fprintf(stderr, "errseq-run: %s\n", strerror(errno));
	return EXIT_USAGE;
}
