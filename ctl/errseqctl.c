/*
 * errseqctl.c - the command-line tool for errseqd: list, stat, create,
 * delete, set, watch, status and top.
 *
 * main() parses the command line (options may come before or after the
 * command), connects through liberrseq-client and runs one command.  The
 * commands that only print live in show.c, watch in watch.c, top (which
 * connects by itself) in top.c; create,
 * delete and set are small enough to live here.
 *
 * The parser is hand-written rather than getopt_long because set takes
 * negative numbers ("errseqctl set disk0 -5"): an argument of the form
 * -DIGITS is an operand, never an option.  "--" ends the options, for slot
 * names that begin with '-'.
 *
 * Exit status: 0 success, 1 an operation failed (message on stderr),
 * 2 a usage error (message and a hint to --help on stderr).
 */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <math.h>
#include <sys/stat.h>
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include <errseq/client.h>

#include "common/common.h"
#include "ctl/ctl.h"
#include "ctl/format.h"

static const char usage_text[] =
"Usage: errseqctl [OPTIONS] COMMAND [ARGS]\n"
"\n"
"Inspect and drive the errseq_t slots of errseqd.\n"
"\n"
"Commands:\n"
"  list [PATTERN]        list slots (PATTERN: a glob over names)\n"
"  stat NAME             show one slot\n"
"  create NAME           create a slot (fails if it exists); you, root and\n"
"                        errseqd's user may write it, and with\n"
"                        --writers GROUP the members of GROUP too\n"
"  delete NAME           delete a slot\n"
"  set NAME ERR          record an error (ERR: EIO, 5 or -5)\n"
"  watch NAME...         print each new error as it is recorded (a NAME\n"
"                        with * ? or [ is a glob: it also follows\n"
"                        matching slots created later)\n"
"  status                show the daemon's status\n"
"  top [PATTERN]         live view of the slots (q quits, / filters, s sorts,\n"
"                        p shows only pending); a plain snapshot when stdout\n"
"                        is not a terminal\n"
"\n"
"Options (before or after the command):\n"
"  -s, --socket PATH     errseqd's socket (default: $ERRSEQD_SOCKET, else\n"
"                        the system default, see errseqd(8))\n"
"  -j, --json            JSON output (list, stat, status, watch only)\n"
"      --prometheus      Prometheus text format (list only)\n"
"      --once            watch: exit after the first report\n"
"      --timeout SECONDS watch: stop after SECONDS (with --once, exit 1\n"
"                        if nothing was reported)\n"
"      --pending         list: only slots with an unseen error\n"
"      --errno NAME      list: only slots whose latest error is NAME (EIO, 5)\n"
"      --writers GROUP   create: members of GROUP (a name or gid) may write\n"
"                        the slot too; you must be a member\n"
"      --sort KEY        list: order by name, last (latest set first) or\n"
"                        sets (most first); default: slot index\n"
"      --interval SECONDS top: refresh every SECONDS (default 1, at least\n"
"                        0.1)\n"
"  -h, --help            show this help and exit\n"
"  -V, --version         show the version and exit\n"
"\n"
"Exit status: 0 success, 1 failure, 2 usage error.  See errseqctl(1).\n";

void ctl_err(const char *fmt, ...)
{
	va_list ap;

	fputs("errseqctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

bool ctl_output_error_reported;

int ctl_finish_output(int status)
{
	int e;

	errno = 0;
	if (fflush(stdout) != 0 || ferror(stdout)) {
		e = errno;
		if (!ctl_output_error_reported) {
			if (e)
				ctl_err("error writing output: %s", strerror(e));
			else
				ctl_err("error writing output");
			ctl_output_error_reported = true;
		}
		return CTL_EXIT_FAIL;
	}
	return status;
}

/* A usage error: the message, the hint, exit status 2. */
static int usage_error(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("errseqctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'errseqctl --help' for more information.\n", stderr);
	return CTL_EXIT_USAGE;
}

/* ---- commands run here ---------------------------------------------- */

/* A group name or a numeric gid.  0 and *@gid, or -1 after a message. */
static int parse_group(const char *arg, gid_t *gid)
{
	struct group *gr = getgrnam(arg);
	char *end;
	unsigned long v;

	if (gr) {
		*gid = gr->gr_gid;
		return 0;
	}
	errno = 0;
	v = strtoul(arg, &end, 10);
	if (*arg >= '0' && *arg <= '9' && !errno && !*end &&
	    v < ERRSEQ_NO_GROUP) {
		*gid = (gid_t)v;
		return 0;
	}
	ctl_err("create: no such group '%s'", arg);
	return -1;
}

static int cmd_create(struct errseq_client *c, const char *name,
		      const char *writers)
{
	struct errseq_slot_attr attr = { 0 };
	struct errseq_slot *s;
	gid_t gid;
	int r;

	if (writers) {
		if (parse_group(writers, &gid) < 0)
			return CTL_EXIT_FAIL;
		attr.flags = ERRSEQ_ATTR_WRITERS_GROUP;
		attr.writers_gid = (uint32_t)gid;
	}
	r = errseq_slot_open_attr(c, name, ERRSEQ_CREATE | ERRSEQ_EXCL,
				  writers ? &attr : NULL, &s);
	if (r == -EPERM && writers) {
		ctl_err("create: cannot give slot '%s' to group '%s': you are "
			"not a member of it", name, writers);
		return CTL_EXIT_FAIL;
	}

	if (r == -EEXIST) {
		ctl_err("create: slot '%s' already exists", name);
		return CTL_EXIT_FAIL;
	}
	if (r < 0) {
		ctl_err("create: cannot create slot '%s': %s", name,
			errseq_strerror(r));
		return CTL_EXIT_FAIL;
	}
	errseq_slot_close(s);
	return CTL_EXIT_OK;
}

static int cmd_delete(struct errseq_client *c, const char *name)
{
	int r = errseq_slot_unlink(c, name);

	if (r == -ENOENT) {
		ctl_err("delete: no such slot '%s'", name);
		return CTL_EXIT_FAIL;
	}
	if (r < 0) {
		ctl_err("delete: cannot delete slot '%s': %s", name,
			errseq_strerror(r));
		return CTL_EXIT_FAIL;
	}
	return CTL_EXIT_OK;
}

/* @err: an errno in [1, 4095], already checked by the parser. */
static int cmd_set(struct errseq_client *c, const char *name, int err)
{
	struct errseq_slot *s;
	int r = errseq_slot_open(c, name, 0, &s);

	if (r == -ENOENT) {
		ctl_err("set: no such slot '%s'", name);
		return CTL_EXIT_FAIL;
	}
	if (r < 0) {
		ctl_err("set: cannot open slot '%s': %s", name,
			errseq_strerror(r));
		return CTL_EXIT_FAIL;
	}
	r = errseq_slot_set(s, -err);
	errseq_slot_close(s);
	if (r < 0) {
		ctl_err("set: slot '%s': %s", name, errseq_strerror(r));
		return CTL_EXIT_FAIL;
	}
	return CTL_EXIT_OK;
}

/* ---- command line --------------------------------------------------- */

enum cmd_id { CMD_LIST, CMD_STAT, CMD_CREATE, CMD_DELETE, CMD_SET,
	      CMD_WATCH, CMD_STATUS, CMD_TOP };

static const struct command {
	const char *name;
	enum cmd_id id;
	int min_args;
	int max_args;		/* -1: no limit */
	const char *synopsis;
} commands[] = {
	{ "list",   CMD_LIST,   0, 1,  "list [PATTERN]" },
	{ "stat",   CMD_STAT,   1, 1,  "stat NAME" },
	{ "create", CMD_CREATE, 1, 1,  "create NAME" },
	{ "delete", CMD_DELETE, 1, 1,  "delete NAME" },
	{ "set",    CMD_SET,    2, 2,  "set NAME ERR" },
	{ "watch",  CMD_WATCH,  1, -1, "watch NAME... [--once] [--timeout SECONDS]" },
	{ "status", CMD_STATUS, 0, 0,  "status" },
	{ "top",    CMD_TOP,    0, 1,  "top [PATTERN] [--interval SECONDS]" },
};

struct cmdline {
	struct ctl_opts opts;
	bool json, prometheus;	/* as given, checked against the command */
	bool help, version;
	bool list_filter;	/* --pending, --errno or --sort given */
	bool has_interval;	/* top --interval given */
	int64_t interval_ms;	/* top --interval, in milliseconds */
	int nargs;		/* positional arguments: command first */
	char **args;
};

/* Is @a "-DIGITS", a negative number rather than an option? */
static bool is_negative_number(const char *a)
{
	if (a[0] != '-' || a[1] == '\0')
		return false;
	for (const char *p = a + 1; *p; p++)
		if (*p < '0' || *p > '9')
			return false;
	return true;
}

/* A plain decimal number of seconds for option @opt, in milliseconds. */
static int parse_seconds(const char *opt, const char *arg, int64_t *ms)
{
	char *end = NULL;
	double t;

	/* a plain decimal number: strtod alone would also take " 1", hex
	 * ("0x10") and exponents */
	errno = 0;
	t = strspn(arg, "0123456789.") == strlen(arg) ? strtod(arg, &end) : -1;
	if (t < 0 || errno || end == arg || *end || !isfinite(t) || t > 1e9)
		return usage_error("invalid %s '%s' (seconds, e.g. 1.5)", opt,
				   arg);
	*ms = (int64_t)(t * 1000.0 + 0.5);
	return 0;
}

/* One long option @name (without "--"), value @val if given with '=';
 * *@i is moved past a value taken from the next argument. */
static int parse_long(struct cmdline *cl, const char *name, const char *val,
		      int argc, char **argv, int *i)
{
	static const char *const with_arg[] = {
		"socket", "timeout", "errno", "sort", "writers", "interval" };
	static const char *const no_arg[] = {
		"json", "prometheus", "once", "help", "version", "pending" };
	bool takes = false, known = false;

	for (size_t k = 0; k < sizeof(with_arg) / sizeof(with_arg[0]); k++)
		if (!strcmp(name, with_arg[k]))
			known = takes = true;
	for (size_t k = 0; k < sizeof(no_arg) / sizeof(no_arg[0]); k++)
		if (!strcmp(name, no_arg[k]))
			known = true;
	if (!known)
		return usage_error("unknown option '--%s'", name);
	if (!takes && val)
		return usage_error("option '--%s' takes no argument", name);
	if (takes && !val) {
		if (*i + 1 >= argc)
			return usage_error("option '--%s' needs an argument",
					   name);
		val = argv[++*i];
	}
	if (!strcmp(name, "socket")) {
		if (!*val)
			return usage_error("--socket needs a path");
		cl->opts.socket = val;
	} else if (!strcmp(name, "timeout")) {
		if (parse_seconds("--timeout", val, &cl->opts.timeout_ms))
			return CTL_EXIT_USAGE;
		cl->opts.has_timeout = true;
	} else if (!strcmp(name, "errno")) {
		int e = ctl_errno_parse(val);

		if (e < 0)
			return usage_error("invalid --errno '%s' (an errno name "
					   "such as EIO, or a number)", val);
		cl->opts.errno_only = e;
		cl->list_filter = true;
	} else if (!strcmp(name, "sort")) {
		if (!strcmp(val, "name"))
			cl->opts.sort = CTL_SORT_NAME;
		else if (!strcmp(val, "last"))
			cl->opts.sort = CTL_SORT_LAST;
		else if (!strcmp(val, "sets"))
			cl->opts.sort = CTL_SORT_SETS;
		else
			return usage_error("invalid --sort '%s' (name, last or "
					   "sets)", val);
		cl->list_filter = true;
	} else if (!strcmp(name, "writers")) {
		if (!*val)
			return usage_error("--writers needs a group");
		cl->opts.writers = val;
	} else if (!strcmp(name, "pending")) {
		cl->opts.pending = true;
		cl->list_filter = true;
	} else if (!strcmp(name, "interval")) {
		if (parse_seconds("--interval", val, &cl->interval_ms))
			return CTL_EXIT_USAGE;
		if (cl->interval_ms < 100 || cl->interval_ms > 86400000)
			return usage_error("invalid --interval '%s' (0.1 to "
					   "86400 seconds)", val);
		cl->has_interval = true;
	} else if (!strcmp(name, "json")) {
		cl->json = true;
	} else if (!strcmp(name, "prometheus")) {
		cl->prometheus = true;
	} else if (!strcmp(name, "once")) {
		cl->opts.once = true;
	} else if (!strcmp(name, "help")) {
		cl->help = true;
	} else {
		cl->version = true;
	}
	return 0;
}

/* A cluster of short options such as "-jh" or "-sPATH". */
static int parse_short(struct cmdline *cl, const char *a, int argc,
		       char **argv, int *i)
{
	for (const char *p = a + 1; *p; p++) {
		switch (*p) {
		case 'h': cl->help = true; break;
		case 'V': cl->version = true; break;
		case 'j': cl->json = true; break;
		case 's':
			if (p[1])
				return parse_long(cl, "socket", p + 1, argc,
						  argv, i);
			return parse_long(cl, "socket", NULL, argc, argv, i);
		default:
			return usage_error("unknown option '-%c'", *p);
		}
	}
	return 0;
}

/* Split argv into options (anywhere) and positional arguments. */
static int parse_cmdline(struct cmdline *cl, int argc, char **argv)
{
	bool opts_done = false;

	cl->args = calloc((size_t)argc + 1, sizeof(*cl->args));
	if (!cl->args) {
		ctl_err("out of memory");
		return CTL_EXIT_FAIL;
	}
	for (int i = 1; i < argc; i++) {
		char *a = argv[i];
		int r = 0;

		if (opts_done || a[0] != '-' || a[1] == '\0' ||
		    is_negative_number(a)) {
			cl->args[cl->nargs++] = a;
		} else if (!strcmp(a, "--")) {
			opts_done = true;
		} else if (a[1] == '-') {
			char name[32];
			const char *eq = strchr(a + 2, '=');
			size_t len = eq ? (size_t)(eq - (a + 2)) : strlen(a + 2);

			if (len >= sizeof(name))
				return usage_error("unknown option '%s'", a);
			memcpy(name, a + 2, len);
			name[len] = '\0';
			r = parse_long(cl, name, eq ? eq + 1 : NULL, argc, argv,
				       &i);
		} else {
			r = parse_short(cl, a, argc, argv, &i);
		}
		if (r)
			return r;
		/* --help and --version win over whatever follows */
		if (cl->help || cl->version)
			return 0;
	}
	return 0;
}

/* Check the options against the command; fill cl->opts.format. */
static int check_cmdline(struct cmdline *cl, const struct command *cmd)
{
	int nargs = cl->nargs - 1;

	if (nargs < cmd->min_args)
		return usage_error("%s: missing argument (usage: errseqctl %s)",
				   cmd->name, cmd->synopsis);
	if (cmd->max_args >= 0 && nargs > cmd->max_args)
		return usage_error("%s: unexpected argument '%s' (usage: "
				   "errseqctl %s)", cmd->name,
				   cl->args[1 + cmd->max_args], cmd->synopsis);
	if (cl->json && cl->prometheus)
		return usage_error("--json and --prometheus exclude each other");
	if (cl->prometheus && cmd->id != CMD_LIST)
		return usage_error("--prometheus applies to list only");
	if (cl->json && (cmd->id == CMD_CREATE || cmd->id == CMD_DELETE ||
			 cmd->id == CMD_SET))
		return usage_error("--json applies to list, stat, status and "
				   "watch (%s prints nothing)", cmd->name);
	if ((cl->opts.once || cl->opts.has_timeout) && cmd->id != CMD_WATCH)
		return usage_error("--once and --timeout apply to watch only");
	if (cl->list_filter && cmd->id != CMD_LIST)
		return usage_error("--pending, --errno and --sort apply to list "
				   "only");
	if (cl->has_interval && cmd->id != CMD_TOP)
		return usage_error("--interval applies to top only");
	if ((cl->json || cl->prometheus) && cmd->id == CMD_TOP)
		return usage_error("top has no --json or --prometheus output");
	cl->opts.format = cl->json ? CTL_FMT_JSON :
			  cl->prometheus ? CTL_FMT_PROMETHEUS : CTL_FMT_TABLE;

	/* slot names: a malformed one is a usage error, not a failure */
	if (cmd->id == CMD_STAT || cmd->id == CMD_CREATE ||
	    cmd->id == CMD_DELETE || cmd->id == CMD_SET ||
	    cmd->id == CMD_WATCH) {
		int last = cmd->id == CMD_SET ? 1 : nargs;

		for (int k = 1; k <= last; k++)
			if (!(cmd->id == CMD_WATCH &&
			      strpbrk(cl->args[k], "*?[")) &&
			    esd_name_check(cl->args[k], strlen(cl->args[k])))
				return usage_error(
					"%s: invalid slot name '%s' (1..%d "
					"bytes of A-Z a-z 0-9 . _ : / @ -)",
					cmd->name, cl->args[k],
					ERRSEQ_NAME_MAX);
	}
	return 0;
}

static int connect_daemon(const struct ctl_opts *o, struct errseq_client **c)
{
	char path[4096];
	const char *hint = "";
	int r = errseq_client_open(o->socket, c);

	if (r == 0)
		return CTL_EXIT_OK;
	if (o->socket)
		snprintf(path, sizeof(path), "%s", o->socket);
	else if (errseq_default_socket(path, sizeof(path)) < 0)
		snprintf(path, sizeof(path), "(the default socket)");
	if (r == -ENOENT || r == -ECONNREFUSED || r == -ENOTSOCK) {
		struct stat sb;

		/* say what is wrong with the path itself, if anything */
		if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
			hint = " (that is a directory; give the socket's path,"
			       " such as DIR/errseqd.sock)";
		else if (stat(path, &sb) == 0 && !S_ISSOCK(sb.st_mode))
			hint = " (that is not a socket)";
		else
			hint = " (is errseqd running?)";
	}
	else if (r == -EACCES)
		hint = " (check the socket's owner, group and mode)";
	ctl_err("cannot connect to errseqd at %s: %s%s", path,
		errseq_strerror(r), hint);
	return CTL_EXIT_FAIL;
}

static int run(const struct command *cmd, struct cmdline *cl)
{
	struct errseq_client *c;
	char **a = cl->args + 1;
	int err = 0;
	int r;

	if (cmd->id == CMD_SET) {
		err = ctl_errno_parse(a[1]);
		if (err < 0)
			return usage_error("set: invalid error '%s' (an errno "
					   "name such as EIO, or a number "
					   "1..4095 or -4095..-1)", a[1]);
	}
	if (cmd->id == CMD_TOP)	/* connects (and reconnects) by itself */
		return ctl_finish_output(ctl_cmd_top(&cl->opts,
				cl->nargs > 1 ? a[0] : NULL,
				cl->has_interval ? cl->interval_ms : 1000));
	r = connect_daemon(&cl->opts, &c);
	if (r)
		return r;
	switch (cmd->id) {
	case CMD_LIST:
		r = ctl_cmd_list(c, &cl->opts, cl->nargs > 1 ? a[0] : NULL);
		break;
	case CMD_STAT:
		r = ctl_cmd_stat(c, &cl->opts, a[0]);
		break;
	case CMD_CREATE:
		r = cmd_create(c, a[0], cl->opts.writers);
		break;
	case CMD_DELETE:
		r = cmd_delete(c, a[0]);
		break;
	case CMD_SET:
		r = cmd_set(c, a[0], err);
		break;
	case CMD_WATCH:
		r = ctl_cmd_watch(c, &cl->opts, a, cl->nargs - 1);
		break;
	case CMD_STATUS:
		r = ctl_cmd_status(c, &cl->opts);
		break;
	case CMD_TOP:	/* handled above */
		break;
	}
	/* flush before closing: closing may change errno */
	r = ctl_finish_output(r);
	errseq_client_close(c);
	return r;
}

int main(int argc, char **argv)
{
	struct cmdline cl = { .nargs = 0 };
	const struct command *cmd = NULL;
	int r;

	/* list --json of a million slots writes hundreds of MB: a large
	 * buffer when the output is not a terminal (watch flushes each line) */
	if (!isatty(STDOUT_FILENO))
		setvbuf(stdout, NULL, _IOFBF, 256 << 10);

	r = parse_cmdline(&cl, argc, argv);
	if (r)
		goto out;
	if (cl.help) {
		fputs(usage_text, stdout);
		r = ctl_finish_output(CTL_EXIT_OK);
		goto out;
	}
	if (cl.version) {
		printf("errseqctl (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION);
		r = ctl_finish_output(CTL_EXIT_OK);
		goto out;
	}
	if (cl.nargs == 0) {
		r = usage_error("missing command");
		goto out;
	}
	for (size_t k = 0; k < sizeof(commands) / sizeof(commands[0]); k++)
		if (!strcmp(cl.args[0], commands[k].name))
			cmd = &commands[k];
	if (!cmd) {
		r = usage_error("unknown command '%s'", cl.args[0]);
		goto out;
	}
	r = check_cmdline(&cl, cmd);
	if (r)
		goto out;
	r = run(cmd, &cl);
out:
	free(cl.args);
	return r;
}
