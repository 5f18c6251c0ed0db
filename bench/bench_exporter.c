/*
 * bench_exporter.c - how long a scrape of errseq-exporter takes at 1k,
 * 64k and 1M slots in use (issue 10), next to a baseline measured in the
 * same run on the same daemon: `errseqctl --json list` with its output on
 * /dev/null, the plain listing every scrape starts from.
 *
 * Rows per size: GET /metrics (default --max-slot-series 2000: daemon and
 * aggregate series over every slot, per-slot series for 2000), GET
 * /api/v1/slots (the whole listing as JSON; not at 1M slots, where it is
 * some 400 MB), each as the median over the repetitions, with the ratio to
 * the baseline; and the exporter's peak RSS.  --quick stops at 64k.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "errseq/client.h"
#include "bench/bench.h"
#include "tests/opsutil.h"

extern char **environ;

#define FILL_THREADS 4

struct filler {
	pthread_t th;
	const char *sock;
	uint32_t from, to, step;
	int err;
};

static void *fill_main(void *arg)
{
	struct filler *f = arg;
	struct errseq_client *c;
	char name[32];
	int r = errseq_client_open(f->sock, &c);

	for (uint32_t k = f->from; r == 0 && k < f->to; k += f->step) {
		struct errseq_slot *s;

		snprintf(name, sizeof(name), "s%07u", k);
		r = errseq_slot_open(c, name, ERRSEQ_CREATE, &s);
		if (r == 0) {
			/* one slot in 64 holds an error, as in real use */
			if (k % 64 == 0)
				errseq_slot_set(s, -EIO);
			errseq_slot_close(s);
		}
	}
	f->err = r;
	if (c)
		errseq_client_close(c);
	return NULL;
}

static int fill(const char *sock, uint32_t n)
{
	struct filler fs[FILL_THREADS];
	int err = 0;

	for (int i = 0; i < FILL_THREADS; i++) {
		fs[i] = (struct filler){ .sock = sock, .from = (uint32_t)i,
					 .to = n, .step = FILL_THREADS };
		if (pthread_create(&fs[i].th, NULL, fill_main, &fs[i]) != 0)
			bench_die("pthread_create");
	}
	for (int i = 0; i < FILL_THREADS; i++) {
		pthread_join(fs[i].th, NULL);
		if (fs[i].err < 0)
			err = fs[i].err;
	}
	return err;
}

/* The real errseqctl binary, not libtool's wrapper script (whose shell
 * start-up would be timed too). */
static const char *ctl_bin(void)
{
	static char real[600];
	const char *bin = getenv("ERRSEQCTL_BIN");
	const char *slash;

	if (!bin || !*bin)
		bin = "ctl/errseqctl";
	slash = strrchr(bin, '/');
	snprintf(real, sizeof(real), "%.*s%s.libs/%s",
		 slash ? (int)(slash - bin) : 0, bin, slash ? "/" : "",
		 slash ? slash + 1 : bin);
	return access(real, X_OK) == 0 ? real : bin;
}

/* errseqctl --socket @sock --json list > /dev/null: wall ms, or -1. */
static double time_list(const char *sock)
{
	char *argv[] = { (char *)ctl_bin(), "--socket", (char *)sock,
			 "--json", "list", NULL };
	posix_spawn_file_actions_t fa;
	uint64_t t0, t1;
	int status;
	pid_t pid;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null",
					 O_WRONLY, 0);
	t0 = bench_now_ns();
	if (posix_spawn(&pid, argv[0], &fa, NULL, argv, environ) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		return -1;
	}
	posix_spawn_file_actions_destroy(&fa);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	t1 = bench_now_ns();
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "bench_exporter: errseqctl --json list: "
			"status 0x%x\n", (unsigned)status);
		return -1;
	}
	return (double)(t1 - t0) / 1e6;
}

/* GET @path from the exporter: wall ms (request to last byte), or -1. */
static double time_get(int port, const char *path, size_t *bytes)
{
	uint64_t t0 = bench_now_ns(), t1;
	char *body;
	int code = ops_http_get(port, path, 600000, &body, NULL);

	t1 = bench_now_ns();
	if (code != 200) {
		fprintf(stderr, "bench_exporter: GET %s: %d%s%.200s\n", path,
			code, code > 0 ? " " : "", code > 0 ? body : "");
		if (code > 0)
			free(body);
		return -1;
	}
	*bytes = strlen(body);
	free(body);
	return (double)(t1 - t0) / 1e6;
}

static long peak_rss_kb(pid_t pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmHWM: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

static void one_size(uint32_t n, const char *label)
{
	struct esdt_daemon d;
	struct ops_exporter x;
	struct bench_row *rm, *rj = NULL, *rr;
	size_t mbytes = 0, jbytes = 0;
	int r;

	r = esdt_daemon_start(&d, n + 64, NULL);
	if (r < 0)
		bench_die("errseqd --slots %u: %s", n + 64, strerror(-r));
	r = fill(d.sock, n);
	if (r < 0)
		bench_die("filling %u slots: %s", n, errseq_strerror(r));
	r = ops_exporter_start(&x, d.sock, NULL);
	if (r < 0)
		bench_die("errseq-exporter: %s", strerror(-r));

	rm = bench_row_add("ms", "GET /metrics, %s slots", label);
	snprintf(rm->base_name, sizeof(rm->base_name), "errseqctl --json list");
	if (n <= 65536) {
		rj = bench_row_add("ms", "GET /api/v1/slots, %s slots", label);
		snprintf(rj->base_name, sizeof(rj->base_name),
			 "errseqctl --json list");
	}
	/* one of each first: page the segment and the allocators in */
	time_list(d.sock);
	time_get(x.port, "/metrics", &mbytes);
	for (int i = 0; i < bench_opts.reps; i++) {
		double base = time_list(d.sock);
		double m = time_get(x.port, "/metrics", &mbytes);

		if (base < 0 || m < 0)
			bench_die("a scrape or a listing failed at %s slots",
				  label);
		bench_row_run(rm, m, base);
		if (rj) {
			double j = time_get(x.port, "/api/v1/slots", &jbytes);

			if (j < 0)
				bench_die("GET /api/v1/slots failed");
			bench_row_run(rj, j, base);
		}
	}
	bench_row_reduce(rm);
	bench_note(rm, "%zu bytes of metrics (per-slot series for 2000 "
		   "slots, aggregates over all %s)", mbytes, label);
	if (rj) {
		bench_row_reduce(rj);
		bench_note(rj, "%zu bytes of JSON, the bytes errseqctl writes",
			   jbytes);
	}
	rr = bench_row_add("MB", "exporter peak RSS, %s slots", label);
	bench_row_run(rr, (double)peak_rss_kb(x.pid) / 1024.0, NAN);
	bench_row_reduce(rr);
	bench_note(rr, "VmHWM after the scrapes: the listing is held in "
		   "memory during a scrape (about 200 bytes a slot)");
	ops_exporter_stop(&x);
	esdt_daemon_cleanup(&d);
}

int main(int argc, char **argv)
{
	const char *only;

	bench_init(argc, argv, "bench_exporter", 5);
	signal(SIGPIPE, SIG_IGN);
	/* BENCH_EXPORTER_ONLY=1M (or 1k, 64k): one size, for a re-run */
	only = getenv("BENCH_EXPORTER_ONLY");
	if (!only || !strcmp(only, "1k"))
		one_size(1000, "1k");
	if (!only || !strcmp(only, "64k"))
		one_size(65536, "64k");
	if ((!only && !bench_opts.quick) || (only && !strcmp(only, "1M")))
		one_size(1048576, "1M");
	return bench_finish();
}
