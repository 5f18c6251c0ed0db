/*
 * bench_ctl.c - the control path: errseq_slot_open + errseq_slot_close
 * through the daemon, with 1, 16 and 100 concurrent clients; open latency
 * with 1k, 100k and 1M slots in use; `errseqctl --json list` wall time at
 * 64k and 1M slots; segment size and daemon memory per slot.
 *
 *   bench_ctl [--out DIR] [--reps N] [--quick] [clients|scale|list]
 *
 * clients: only the 1/16/100-client part; scale: only the slot-count part;
 * list: only the list-against-capacity part (the same live slots listed
 * from a daemon with --slots N and one with --slots 1M).
 * $BENCH_CTL_PIN=none|split|same sets where the servers and the client
 * threads run (see pin_mode below for the defaults).
 *
 * The baseline of every latency here is a bare echo over a SOCK_SEQPACKET
 * Unix socket (the daemon's transport), served by a one-thread epoll loop
 * in a child process and measured in the same run with the same number of
 * client threads: open + close is two round trips, so its baseline is two
 * echoes of the same sizes (152 and 24 bytes); a lone open is one echo.
 * Each client thread has a client (or echo socket) of its own.
 *
 * errseqctl is $ERRSEQCTL_BIN (else ctl/errseqctl); if it is missing the
 * list rows say so.  The slot-count scale part starts a second daemon with
 * --slots 1048576 and fills it with four client threads.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <signal.h>
#include <unistd.h>

#include "errseq/client.h"
#include "common/shm_layout.h"
#include "bench/bench.h"

extern char **environ;

#define MAX_THREADS 128
#define SCALE_SLOTS 1048576u
#define FILL_THREADS 4

/*
 * Placement of the server (errseqd or the echo server) and of the client
 * threads: "split" (servers on the second CPU, clients on the first: every
 * round trip crosses CPUs), "same" (all on the first CPU) or "none" (the
 * scheduler decides).  On these VMs a round trip that wakes an idle CPU
 * costs several times one that stays on a CPU, and the scheduler picks
 * either from run to run (and not always the same for the daemon and the
 * echo server), so a latency measured unpinned is bimodal.  Defaults:
 * "same" for one client and for the slot-count part (latencies compared
 * with a baseline or with each other need the same placement on both
 * sides), "none" for 16 and 100 clients (they need both CPUs).
 * $BENCH_CTL_PIN=none|split|same sets all of them.
 */
enum { PIN_NONE = 0, PIN_SPLIT = 1, PIN_SAME = 2 };
static int pin_mode;		/* the placement in force */
static int pin_env = -1;	/* from $BENCH_CTL_PIN, -1: defaults */

/* Place every thread of server process @pid as pin_mode says. */
static void place_server(pid_t pid)
{
	char path[64];
	struct dirent *de;
	DIR *dp;

	if (bench_ncpus() < 2)
		return;
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	dp = opendir(path);
	if (!dp)
		return;
	while ((de = readdir(dp)) != NULL) {
		pid_t tid = (pid_t)atoi(de->d_name);

		if (de->d_name[0] == '.')
			continue;
		if (pin_mode == PIN_NONE)
			bench_unpin_tid(tid);
		else
			bench_pin_tid(tid, pin_mode == PIN_SPLIT ? 1 : 0);
	}
	closedir(dp);
}

static const char *pin_name(void)
{
	return pin_mode == PIN_SPLIT ? "split (servers on CPU 1, clients on "
	       "CPU 0)" : pin_mode == PIN_SAME ? "server and clients all on "
	       "CPU 0" : "unpinned (the scheduler's choice)";
}

static void pin_client_thread(void)
{
	if (pin_mode != PIN_NONE && bench_ncpus() >= 2)
		bench_pin_cpu(0);
}

static char echo_dir[64];
static char echo_path[108];
static pid_t echo_pid;

/* ---- the echo server ---- */

static void echo_serve(int lfd)
{
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = lfd };
	char buf[4096];

	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) < 0)
		_exit(3);
	for (;;) {
		struct epoll_event evs[64];
		int n = epoll_wait(ep, evs, 64, -1);

		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			ssize_t len;

			if (fd == lfd) {
				int cfd = accept4(lfd, NULL, NULL,
						  SOCK_CLOEXEC | SOCK_NONBLOCK);
				struct epoll_event cev = { .events = EPOLLIN };

				if (cfd < 0)
					continue;
				cev.data.fd = cfd;
				epoll_ctl(ep, EPOLL_CTL_ADD, cfd, &cev);
				continue;
			}
			len = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
			if (len > 0) {
				send(fd, buf, (size_t)len, MSG_DONTWAIT);
			} else if (len == 0 || (errno != EAGAIN &&
						errno != EINTR)) {
				epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
				close(fd);
			}
		}
	}
}

/* Start the echo server in a child, its socket in a directory of its own
 * named like the harness's (so esdt_sweep() removes it if we die); fills
 * echo_path.  0 or -errno. */
static int echo_start(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	pid_t parent = getpid();
	int lfd;

	snprintf(echo_dir, sizeof(echo_dir), "/tmp/esdt-%d-echo",
		 (int)getpid());
	if (mkdir(echo_dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	snprintf(echo_path, sizeof(echo_path), "%s/echo.sock", echo_dir);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", echo_path);
	lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		return -errno;
	unlink(echo_path);
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(lfd, 256) < 0) {
		int e = -errno;

		close(lfd);
		return e;
	}
	echo_pid = fork();
	if (echo_pid < 0) {
		close(lfd);
		return -errno;
	}
	if (echo_pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(0);
		echo_serve(lfd);
	}
	close(lfd);
	return 0;
}

static void echo_stop(void)
{
	if (echo_pid > 0) {
		kill(echo_pid, SIGKILL);
		waitpid(echo_pid, NULL, 0);
		echo_pid = 0;
	}
	unlink(echo_path);
	rmdir(echo_dir);
}

static int echo_connect(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", echo_path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	return fd;
}

/* One echo round trip of @len bytes.  0 or -errno. */
static int echo_rt(int fd, size_t len)
{
	char buf[256] = { 1 };

	if (send(fd, buf, len, 0) != (ssize_t)len)
		return -errno;
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);

		if (n == (ssize_t)len)
			return 0;
		if (n < 0 && errno == EINTR)
			continue;
		return n < 0 ? -errno : -EPROTO;
	}
}

/* ---- concurrent open + close ---- */

enum op_kind {
	OP_OPENCLOSE,		/* errseq_slot_open + errseq_slot_close */
	OP_ECHO2,		/* two echoes: 152 and 24 bytes */
	OP_OPEN_EXISTING,	/* open a filled slot (close untimed) */
	OP_ECHO1,		/* one 152-byte echo */
	OP_CREATE,		/* open a new name with CREATE (close untimed) */
};

struct worker {
	pthread_t th;
	int id;
	enum op_kind kind;
	const char *sock;	/* daemon socket (lib kinds) */
	long iters;
	long warm;
	uint32_t fill_level;	/* OP_OPEN_EXISTING: names below it exist */
	uint32_t seed;
	double *samples;	/* ns, iters of them */
	uint64_t t_start, t_end;
	int err;
	pthread_barrier_t *bar;
};

static uint32_t xorshift(uint32_t *s)
{
	uint32_t x = *s;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *s = x;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct errseq_client *c = NULL;
	int fd = -1;
	char name[64];
	int r = 0;

	pin_client_thread();
	if (w->kind == OP_ECHO2 || w->kind == OP_ECHO1) {
		fd = echo_connect();
		if (fd < 0)
			r = fd;
	} else {
		r = errseq_client_open(w->sock, &c);
	}
	w->err = r;
	pthread_barrier_wait(w->bar);	/* connected (or failed) */
	pthread_barrier_wait(w->bar);	/* main has read the errors: go */
	if (r < 0)
		return NULL;
	w->t_start = bench_now_ns();
	for (long k = -w->warm; k < w->iters && r == 0; k++) {
		struct errseq_slot *s = NULL;
		uint64_t t0, t1;

		switch (w->kind) {
		case OP_OPENCLOSE:
			snprintf(name, sizeof(name), "oc.%d", w->id);
			t0 = bench_now_ns();
			r = errseq_slot_open(c, name, ERRSEQ_CREATE, &s);
			if (r == 0)
				errseq_slot_close(s);
			t1 = bench_now_ns();
			break;
		case OP_ECHO2:
			t0 = bench_now_ns();
			r = echo_rt(fd, 152);
			if (r == 0)
				r = echo_rt(fd, 24);
			t1 = bench_now_ns();
			break;
		case OP_ECHO1:
			t0 = bench_now_ns();
			r = echo_rt(fd, 152);
			t1 = bench_now_ns();
			break;
		case OP_OPEN_EXISTING:
			snprintf(name, sizeof(name), "s%07u",
				 xorshift(&w->seed) % w->fill_level);
			t0 = bench_now_ns();
			r = errseq_slot_open(c, name, 0, &s);
			t1 = bench_now_ns();
			if (r == 0)
				errseq_slot_close(s);
			break;
		case OP_CREATE:
		default:
			snprintf(name, sizeof(name), "n.%d.%ld", w->id,
				 k + w->warm);
			t0 = bench_now_ns();
			r = errseq_slot_open(c, name, ERRSEQ_CREATE |
					     ERRSEQ_EXCL, &s);
			t1 = bench_now_ns();
			if (r == 0)
				errseq_slot_close(s);
			break;
		}
		if (k >= 0)
			w->samples[k] = (double)(t1 - t0);
	}
	w->t_end = bench_now_ns();
	w->err = r;
	if (w->kind == OP_CREATE && r == 0) {
		/* untimed: put the slot count back where it was */
		for (long k = 0; k < w->iters + w->warm; k++) {
			snprintf(name, sizeof(name), "n.%d.%ld", w->id, k);
			errseq_slot_unlink(c, name);
		}
	}
	if (fd >= 0)
		close(fd);
	errseq_client_close(c);
	return NULL;
}

struct run_result {
	double p50, p99, mean;	/* ns */
	double ops_per_s;	/* all threads together */
};

/* Run @nthreads workers of @kind, @per_thread timed ops each. */
static int run_workers(int nthreads, enum op_kind kind, const char *sock,
		       long per_thread, uint32_t fill_level,
		       struct run_result *out)
{
	static struct worker ws[MAX_THREADS];
	pthread_barrier_t bar;
	double *all;
	size_t n = 0;
	uint64_t start = UINT64_MAX, end = 0;
	int err = 0;

	all = calloc((size_t)nthreads * (size_t)per_thread, sizeof(double));
	if (!all)
		return -ENOMEM;
	pthread_barrier_init(&bar, NULL, (unsigned)nthreads + 1);
	for (int i = 0; i < nthreads; i++) {
		struct worker *w = &ws[i];

		memset(w, 0, sizeof(*w));
		w->id = i;
		w->kind = kind;
		w->sock = sock;
		w->iters = per_thread;
		w->warm = per_thread / 10 + 2;
		w->fill_level = fill_level;
		w->seed = 0x9e3779b9u * (uint32_t)(i + 1);
		w->samples = all + (size_t)i * (size_t)per_thread;
		w->bar = &bar;
		if (pthread_create(&w->th, NULL, worker_main, w) != 0)
			bench_die("pthread_create");
	}
	pthread_barrier_wait(&bar);
	for (int i = 0; i < nthreads; i++)
		if (ws[i].err < 0)
			err = ws[i].err;
	/* every worker waits here once more, failed or not */
	pthread_barrier_wait(&bar);
	for (int i = 0; i < nthreads; i++) {
		pthread_join(ws[i].th, NULL);
		if (ws[i].err < 0)
			err = ws[i].err;
	}
	pthread_barrier_destroy(&bar);
	if (err < 0) {
		free(all);
		return err;
	}
	for (int i = 0; i < nthreads; i++) {
		if (ws[i].t_start < start)
			start = ws[i].t_start;
		if (ws[i].t_end > end)
			end = ws[i].t_end;
		n += (size_t)ws[i].iters;
	}
	out->mean = 0;
	for (size_t i = 0; i < n; i++)
		out->mean += all[i] / (double)n;
	bench_sort(all, n);
	out->p50 = bench_pct_sorted(all, n, 0.50);
	out->p99 = bench_pct_sorted(all, n, 0.99);
	/* the warm-up is inside [start, end]: count it too */
	out->ops_per_s = (double)(n + (size_t)nthreads *
				  (size_t)(per_thread / 10 + 2)) /
			 ((double)(end - start) / 1e9);
	free(all);
	return 0;
}

/*
 * The goals of the control path (issue 11), each a ratio to the bare echo
 * pair measured in the same run with as many client threads: open + close
 * is two round trips through errseqd, the baseline two echoes.  At one
 * client the ratio is the daemon's own work per request; at 100 it is also
 * how fairly the daemon serves its connections (an unfair server has a
 * low p50 and a long p99 tail against the echo server's round robin).
 */
#define GOAL_1_P50	1.25	/* one client, p50 */
#define GOAL_1_P99	1.5	/* one client, p99 */
#define GOAL_N_P50	1.5	/* 100 clients, p50 */
#define GOAL_N_P99	1.5	/* 100 clients, p99 */

static double proc_cpu_ms(pid_t pid);

static void bench_concurrency(const struct esdt_daemon *d)
{
	const char *sock = d->sock;

	static const int counts[] = { 1, 16, 100 };
	long total = bench_opts.quick ? 400 : 3000;

	for (size_t ci = 0; ci < sizeof(counts) / sizeof(counts[0]); ci++) {
		int nt = counts[ci];
		/*
		 * At least 200 timed ops per thread (20 with --quick).  With
		 * many clients the tail is made of stalls of the whole machine
		 * (a server descheduled for a few ms delays every request in
		 * flight at once): the p99 must span several of them, not be
		 * the length of the one that happened to strike a short run.
		 */
		long min_per = bench_opts.quick ? 20 : 200;
		long per = total / nt < min_per ? min_per : total / nt;
		struct bench_row *r50, *r99, *rmean, *rtp, *rcpu;

		pin_mode = pin_env >= 0 ? pin_env : nt == 1 ? PIN_SAME :
			   PIN_NONE;
		place_server(d->pid);
		place_server(echo_pid);

		r50 = bench_row_add("us", "open+close, %d client%s, p50", nt,
				    nt > 1 ? "s" : "");
		r99 = bench_row_add("us", "open+close, %d client%s, p99", nt,
				    nt > 1 ? "s" : "");
		rmean = bench_row_add("us", "open+close, %d client%s, mean",
				      nt, nt > 1 ? "s" : "");
		snprintf(rmean->base_name, sizeof(rmean->base_name),
			 "2 SEQPACKET echoes");
		rtp = bench_row_add("kops/s", "open+close, %d client%s, "
				    "throughput", nt, nt > 1 ? "s" : "");
		snprintf(r50->base_name, sizeof(r50->base_name),
			 "2 SEQPACKET echoes");
		snprintf(r99->base_name, sizeof(r99->base_name),
			 "2 SEQPACKET echoes");
		snprintf(rtp->base_name, sizeof(rtp->base_name),
			 "2 SEQPACKET echoes");
		rcpu = bench_row_add("us", "open+close, %d client%s, server CPU "
				     "per op", nt, nt > 1 ? "s" : "");
		snprintf(rcpu->base_name, sizeof(rcpu->base_name),
			 "echo server, 2 echoes");
		for (int rep = 0; rep < bench_opts.reps; rep++) {
			struct run_result lib, echo;
			double e0 = proc_cpu_ms(echo_pid), e1, d0, d1;
			double ops = (double)per * nt;
			int r;

			r = run_workers(nt, OP_ECHO2, NULL, per, 0, &echo);
			e1 = proc_cpu_ms(echo_pid);
			d0 = proc_cpu_ms(d->pid);
			if (r == 0)
				r = run_workers(nt, OP_OPENCLOSE, sock, per, 0,
						&lib);
			d1 = proc_cpu_ms(d->pid);
			if (r < 0)
				bench_die("open+close with %d clients: %s", nt,
					  errseq_strerror(r));
			bench_row_run(r50, lib.p50 / 1e3, echo.p50 / 1e3);
			bench_row_run(r99, lib.p99 / 1e3, echo.p99 / 1e3);
			bench_row_run(rmean, lib.mean / 1e3, echo.mean / 1e3);
			bench_row_run(rtp, lib.ops_per_s / 1e3,
				      echo.ops_per_s / 1e3);
			if (e0 >= 0 && e1 >= 0 && d0 >= 0 && d1 >= 0)
				bench_row_run(rcpu, (d1 - d0) * 1e3 / ops,
					      (e1 - e0) * 1e3 / ops);
		}
		bench_row_reduce(r50);
		bench_row_reduce(r99);
		bench_row_reduce(rmean);
		bench_row_reduce(rtp);
		bench_row_reduce(rcpu);
		bench_note(rcpu, "errseqd's and the echo server's CPU time "
			   "(user + system, /proc/PID/stat in clock ticks of "
			   "%ld ms) over the timed and warm-up ops of a run, "
			   "per timed op. A server that needs more CPU per "
			   "request is descheduled more often on a busy "
			   "machine, and such stalls make the p99.",
			   1000 / sysconf(_SC_CLK_TCK));
		bench_note(r50, "Placement: %s.", pin_name());
		if (nt == 1) {
			bench_goal_le(r50, r50->ratio, GOAL_1_P50,
				      "ratio <= %.2f", GOAL_1_P50);
			bench_goal_le(r99, r99->ratio, GOAL_1_P99,
				      "ratio <= %.2f", GOAL_1_P99);
		} else if (nt == 100) {
			bench_goal_le(r50, r50->ratio, GOAL_N_P50,
				      "ratio <= %.2f", GOAL_N_P50);
			bench_goal_le(r99, r99->ratio, GOAL_N_P99,
				      "ratio <= %.2f", GOAL_N_P99);
			bench_note(r99, "Fairness: the p99 of 100 concurrent "
				   "clients over the echo server's (a one-"
				   "thread epoll loop serving every ready "
				   "socket in turn) in the same run.");
		}
		bench_note(r50, "%ld timed open+close per thread per run; "
			   "goals are the median over runs of each run's "
			   "ratio to its echo pair.", per);
	}
}

/* ---- scale: 1k, 64k, 100k, 1M slots in use ---- */

struct filler {
	pthread_t th;
	const char *sock;
	uint32_t from, to, step;	/* names s<from>, s<from+step>, ... */
	int err;
};

static void *fill_main(void *arg)
{
	struct filler *f = arg;
	struct errseq_client *c;
	char name[32];
	int r;

	r = errseq_client_open(f->sock, &c);
	for (uint32_t k = f->from; r == 0 && k < f->to; k += f->step) {
		struct errseq_slot *s;

		snprintf(name, sizeof(name), "s%07u", k);
		r = errseq_slot_open(c, name, ERRSEQ_CREATE, &s);
		if (r == 0)
			errseq_slot_close(s);
	}
	f->err = r;
	errseq_client_close(c);
	return NULL;
}

/* Create slots s<from> .. s<to - 1> with FILL_THREADS clients. */
static int fill(const char *sock, uint32_t from, uint32_t to)
{
	struct filler fs[FILL_THREADS];
	int err = 0;

	for (int i = 0; i < FILL_THREADS; i++) {
		fs[i] = (struct filler){ .sock = sock, .from = from + (uint32_t)i,
					 .to = to, .step = FILL_THREADS };
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

/*
 * errseqctl to time: $ERRSEQCTL_BIN, else ctl/errseqctl.  In a build tree
 * that is libtool's wrapper script, which would add a shell's start-up to
 * every figure: time the real binary beside it (.libs/errseqctl) instead;
 * it finds liberrseq-client through the LD_LIBRARY_PATH our own wrapper
 * set (we link the same library).
 */
static const char *ctl_bin(void)
{
	static char real[600];
	const char *bin = getenv("ERRSEQCTL_BIN");
	char head[256] = "";
	FILE *f;

	if (!bin || !*bin)
		bin = "ctl/errseqctl";
	if (access(bin, X_OK) < 0)
		return NULL;
	f = fopen(bin, "r");
	if (f) {
		size_t n = fread(head, 1, sizeof(head) - 1, f);

		head[n] = '\0';
		fclose(f);
	}
	if (!strncmp(head, "#!", 2) && strstr(head, "libtool")) {
		const char *slash = strrchr(bin, '/');
		int dirlen = slash ? (int)(slash - bin) : 0;

		snprintf(real, sizeof(real), "%.*s%s.libs/%s", dirlen, bin,
			 slash ? "/" : "", slash ? slash + 1 : bin);
		if (access(real, X_OK) == 0)
			return real;
	}
	return bin;
}

/*
 * Run errseqctl --socket @sock --json @cmd, reading its stdout through a
 * pipe as a user's script would.  Returns the wall time in ms (spawn to
 * exit), or a negative errno; *@bytes and *@names get the output size and
 * the number of "name" keys in it.
 */
static double run_ctl(const char *bin, const char *sock, const char *cmd,
		      size_t *bytes, long *names)
{
	static const char key[] = "\"name\"";
	const size_t klen = sizeof(key) - 1;
	char *argv[] = { (char *)bin, "--socket", (char *)sock, "--json",
			 (char *)cmd, NULL };
	posix_spawn_file_actions_t fa;
	char buf[65536 + 8];
	size_t carry = 0;
	uint64_t t0, t1;
	int p[2], status;
	pid_t pid;
	ssize_t n;

	*bytes = 0;
	*names = 0;
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, p[1], STDOUT_FILENO);
	t0 = bench_now_ns();
	if (posix_spawn(&pid, bin, &fa, NULL, argv, environ) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		close(p[0]);
		close(p[1]);
		return -ENOEXEC;
	}
	posix_spawn_file_actions_destroy(&fa);
	close(p[1]);
	while ((n = read(p[0], buf + carry, sizeof(buf) - 8 - carry)) > 0 ||
	       (n < 0 && errno == EINTR)) {
		size_t have;

		if (n < 0)
			continue;
		have = carry + (size_t)n;
		*bytes += (size_t)n;
		/* memmem, not a byte loop: the reader must not be what
		 * slows errseqctl down */
		for (const char *q = buf; (q = memmem(q, have - (size_t)(q -
		     buf), key, klen)) != NULL; q += klen)
			(*names)++;
		/* keep a tail that may start a key split across reads */
		carry = have < klen - 1 ? have : klen - 1;
		memmove(buf, buf + have - carry, carry);
	}
	close(p[0]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	t1 = bench_now_ns();
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return -ECHILD;
	return (double)(t1 - t0) / 1e6;
}

/* CPU time (user + system) of process @pid so far, in ms, from
 * /proc/PID/stat; -1 if unreadable. */
static double proc_cpu_ms(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long ut, st;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	/* after "pid (comm)": state is field 3, utime 14, stime 15 */
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
			 "%llu %llu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) * 1000.0 / (double)sysconf(_SC_CLK_TCK);
}

/* Run errseqctl --socket @sock --json @cmd with its stdout on /dev/null:
 * errseqctl's own cost.  Returns the wall time in ms or a negative errno;
 * *@cpu_ms gets errseqctl's CPU time (user + system) if not NULL. */
static double run_ctl_null(const char *bin, const char *sock, const char *cmd,
			   double *cpu_ms)
{
	struct rusage ru;
	char *argv[] = { (char *)bin, "--socket", (char *)sock, "--json",
			 (char *)cmd, NULL };
	posix_spawn_file_actions_t fa;
	uint64_t t0, t1;
	int status;
	pid_t pid;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null",
					 O_WRONLY, 0);
	t0 = bench_now_ns();
	if (posix_spawn(&pid, bin, &fa, NULL, argv, environ) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		return -ENOEXEC;
	}
	posix_spawn_file_actions_destroy(&fa);
	while (wait4(pid, &status, 0, &ru) < 0)
		if (errno != EINTR)
			return -errno;
	t1 = bench_now_ns();
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return -ECHILD;
	if (cpu_ms)
		*cpu_ms = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) *
			  1e3 + (double)(ru.ru_utime.tv_usec +
					 ru.ru_stime.tv_usec) / 1e3;
	return (double)(t1 - t0) / 1e6;
}

struct level_result {
	uint32_t level;
	struct bench_row *open50, *open99, *create50, *list;
};

static void measure_level(const char *sock, pid_t daemon_pid,
			  struct level_result *lr, int do_list,
			  struct bench_row *status_row)
{
	double ctl_cpu[BENCH_MAX_RUNS], daemon_cpu[BENCH_MAX_RUNS];
	int nrep = 0;
	long per = bench_opts.quick ? 200 : 2000;
	const char *bin = ctl_bin();

	lr->open50 = bench_row_add("us", "open (existing name), %u slots in "
				   "use, p50", lr->level);
	lr->open99 = bench_row_add("us", "open (existing name), %u slots in "
				   "use, p99", lr->level);
	lr->create50 = bench_row_add("us", "open+create (new name), %u slots "
				     "in use, p50", lr->level);
	snprintf(lr->open50->base_name, sizeof(lr->open50->base_name),
		 "SEQPACKET echo");
	snprintf(lr->open99->base_name, sizeof(lr->open99->base_name),
		 "SEQPACKET echo");
	snprintf(lr->create50->base_name, sizeof(lr->create50->base_name),
		 "SEQPACKET echo");
	for (int rep = 0; rep < bench_opts.reps; rep++) {
		struct run_result echo, open, create;

		if (run_workers(1, OP_ECHO1, NULL, per, 0, &echo) < 0 ||
		    run_workers(1, OP_OPEN_EXISTING, sock, per, lr->level,
				&open) < 0 ||
		    run_workers(1, OP_CREATE, sock, per / 4, 0, &create) < 0)
			bench_die("measuring %u slots failed", lr->level);
		bench_row_run(lr->open50, open.p50 / 1e3, echo.p50 / 1e3);
		bench_row_run(lr->open99, open.p99 / 1e3, echo.p99 / 1e3);
		bench_row_run(lr->create50, create.p50 / 1e3, echo.p50 / 1e3);
	}
	bench_row_reduce(lr->open50);
	bench_row_reduce(lr->open99);
	bench_row_reduce(lr->create50);

	lr->list = NULL;
	if (!do_list)
		return;
	lr->list = bench_row_add("ms", "errseqctl --json list, %u slots",
				 lr->level);
	snprintf(lr->list->base_name, sizeof(lr->list->base_name),
		 "errseqctl --json status");
	if (!bin) {
		bench_skip(lr->list, "errseqctl not found ($ERRSEQCTL_BIN or "
			   "ctl/errseqctl): not ready.");
		return;
	}
	/* errseqctl inherits the main thread's placement: a client's */
	pin_client_thread();
	/* once through a pipe we read, as a script would: checks that every
	 * slot was listed */
	{
		size_t bytes;
		long names;
		double ms = run_ctl(bin, sock, "list", &bytes, &names);

		if (ms < 0) {
			bench_skip(lr->list, "errseqctl list failed (%s).",
				   strerror((int)-ms));
			bench_unpin();
			return;
		}
		bench_note(lr->list, "Timed with stdout on /dev/null. Read "
			   "through a pipe: %.0f ms for %zu bytes of JSON with "
			   "%ld \"name\" keys (%u slots live). Binary: %s.",
			   ms, bytes, names, lr->level, bin);
	}
	/* a 1M-slot listing is hundreds of MB of JSON: three runs do */
	for (int rep = 0; rep < bench_opts.reps &&
			  (lr->level < 500000 || rep < 3); rep++) {
		double st = run_ctl_null(bin, sock, "status", NULL);
		double d0 = proc_cpu_ms(daemon_pid);
		double ms = run_ctl_null(bin, sock, "list", &ctl_cpu[nrep]);

		daemon_cpu[nrep] = proc_cpu_ms(daemon_pid) - d0;
		if (ms < 0 || st < 0) {
			bench_skip(lr->list, "errseqctl failed (%s).",
				   strerror((int)-(ms < 0 ? ms : st)));
			bench_unpin();
			return;
		}
		nrep++;
		bench_row_run(lr->list, ms, st);
		if (status_row)
			bench_row_run(status_row, st, NAN);
	}
	bench_unpin();
	bench_note(lr->list, "Where the time goes (medians): errseqctl CPU "
		   "%.0f ms, daemon CPU %.0f ms (clock ticks of %ld ms).",
		   bench_median(ctl_cpu, (size_t)nrep),
		   bench_median(daemon_cpu, (size_t)nrep),
		   1000 / sysconf(_SC_CLK_TCK));
	bench_row_reduce(lr->list);
}

/* Daemon memory in kB: VmRSS, RssAnon, RssShmem. */
struct mem {
	long rss, anon, shmem;
};

static void read_mem(pid_t pid, struct mem *m)
{
	m->rss = bench_proc_status_kb(pid, "VmRSS");
	m->anon = bench_proc_status_kb(pid, "RssAnon");
	m->shmem = bench_proc_status_kb(pid, "RssShmem");
}

static long shm_size(const char *name)
{
	char path[128];
	struct stat st;

	snprintf(path, sizeof(path), "/dev/shm%s", name);
	if (stat(path, &st) < 0)
		return -1;
	return (long)st.st_size;
}

static void bench_scale(void)
{
	static const char *const extra[] = { "--max-clients", "256", NULL };
	uint32_t levels[] = { 1000, 65536, 100000, 1000000 };
	int lists[] = { 0, 1, 0, 1 };
	struct level_result lr[4];
	struct esdt_daemon d;
	struct mem m0, m[4];
	struct bench_row *r, *status_row;
	uint32_t have = 0;
	uint64_t fill_ns = 0;
	char reg[96];
	long seg, regsz;
	int nlev = 4;

	if (bench_opts.quick) {
		levels[1] = 10000;	/* --quick: a smaller ladder */
		levels[2] = 20000;
		levels[3] = 50000;
	}
	if (bench_daemon_start(&d, SCALE_SLOTS, extra) < 0) {
		bench_skip(bench_row_add("", "slot-count scale"),
			   "the daemon did not start with --slots %u.",
			   SCALE_SLOTS);
		return;
	}
	pin_mode = pin_env >= 0 ? pin_env : PIN_SAME;	/* see pin_mode */
	place_server(d.pid);
	place_server(echo_pid);
	read_mem(d.pid, &m0);
	status_row = bench_row_add("ms", "errseqctl --json status (reference "
				   "for list: spawn + connect + 1 request)");
	bench_note(status_row, "Slot-count part placement: %s.", pin_name());
	for (int i = 0; i < nlev; i++) {
		uint64_t t0 = bench_now_ns();
		int rc = fill(d.sock, have, levels[i]);

		fill_ns += bench_now_ns() - t0;
		if (rc < 0)
			bench_die("filling to %u slots: %s", levels[i],
				  errseq_strerror(rc));
		have = levels[i];
		read_mem(d.pid, &m[i]);
		lr[i].level = levels[i];
		measure_level(d.sock, d.pid, &lr[i], lists[i], status_row);
	}
	bench_row_reduce(status_row);

	/* 1M versus 1k: normalised by the echo of each level, and raw */
	r = bench_row_add("x", "open p50: %u slots / %u slots, each over its "
			  "echo", levels[3], levels[0]);
	r->value = lr[3].open50->ratio / lr[0].open50->ratio;
	bench_goal_le(r, r->value, 1.5, "<= 1.5");
	bench_note(r, "Each level's open p50 is divided by the SEQPACKET echo "
		   "p50 measured next to it (same run), so that machine drift "
		   "between the levels cancels; the raw ratio is the next row.");
	r = bench_row_add("x", "open p50: %u slots / %u slots, raw", levels[3],
			  levels[0]);
	r->value = lr[3].open50->value / lr[0].open50->value;
	r = bench_row_add("x", "open p99: %u slots / %u slots, each over its "
			  "echo", levels[3], levels[0]);
	r->value = lr[3].open99->ratio / lr[0].open99->ratio;

	if (lr[1].list && lr[1].list->verdict != BENCH_SKIP) {
		bench_goal_le(lr[1].list, lr[1].list->value, 50.0, "< 50 ms");
		if (bench_opts.quick)
			bench_note(lr[1].list, "--quick: only %u slots, not "
				   "64k.", levels[1]);
	}

	seg = shm_size(d.shm);
	snprintf(reg, sizeof(reg), "%s.reg", d.shm);
	regsz = shm_size(reg);
	r = bench_row_add("bytes", "data segment size, %u slots", SCALE_SLOTS);
	r->value = (double)seg;
	bench_note(r, "%.1f bytes per slot (64 per slot + a 4096-byte header)."
		   " Registry segment: %ld bytes (%.1f per slot).",
		   (double)seg / SCALE_SLOTS, regsz,
		   (double)regsz / SCALE_SLOTS);
	r = bench_row_add("bytes", "daemon VmRSS growth per slot in use "
			  "(0 -> %u)", levels[3]);
	r->value = (double)(m[3].rss - m0.rss) * 1024.0 / levels[3];
	bench_note(r, "VmRSS %ld -> %ld kB (RssAnon %ld -> %ld, RssShmem "
		   "%ld -> %ld); at %u slots: %ld kB.", m0.rss, m[3].rss,
		   m0.anon, m[3].anon, m0.shmem, m[3].shmem, levels[0],
		   m[0].rss);
	r = bench_row_add("bytes", "daemon VmRSS per slot in use, at %u",
			  levels[3]);
	r->value = (double)m[3].rss * 1024.0 / levels[3];
	bench_note(r, "Includes both segments, which the daemon holds "
		   "resident from the start for the full %u-slot capacity "
		   "(RssShmem above).", SCALE_SLOTS);
	r = bench_row_add("s", "time to create %u slots (%d clients)",
			  levels[3], FILL_THREADS);
	r->value = (double)fill_ns / 1e9;
	esdt_daemon_cleanup(&d);
}

/* ---- list cost against capacity: the same live slots at two --slots ---- */

/* List every slot through the library, pages of ESP_LIST_MAX: the
 * daemon's LIST without errseqctl's JSON.  Wall ms, or -errno. */
static double list_lib_ms(const char *sock, long *count)
{
	static struct errseq_slot_info page[341];
	struct errseq_client *c;
	uint32_t pos = 0;
	uint64_t t0;
	double ms;
	int r;

	*count = 0;
	r = errseq_client_open(sock, &c);
	if (r < 0)
		return r;
	t0 = bench_now_ns();
	do {
		r = errseq_list(c, &pos, page, sizeof(page) / sizeof(page[0]));
		if (r > 0)
			*count += r;
	} while (r >= 0 && pos != ERRSEQ_LIST_END);
	ms = (double)(bench_now_ns() - t0) / 1e6;
	errseq_client_close(c);
	return r < 0 ? r : ms;
}

/* Best of three library listings of @small and of @large, alternating;
 * 0, or -errno.  *@ns and *@nl get the counts listed. */
static int list_pair(const char *small, const char *large, double *ms_s,
		     double *ms_l, long *ns, long *nl)
{
	*ms_s = *ms_l = INFINITY;
	for (int k = 0; k < 3; k++) {
		double a = list_lib_ms(small, ns);
		double b = list_lib_ms(large, nl);

		if (a < 0 || b < 0)
			return (int)(a < 0 ? a : b);
		*ms_s = a < *ms_s ? a : *ms_s;
		*ms_l = b < *ms_l ? b : *ms_l;
	}
	return 0;
}

/*
 * Sparse chunks: @extra more slots in @large (which has the same @n live
 * slots as @small, in few chunks), each in a writer domain of its own (a
 * writer group of its own: root may name any), so each takes a chunk of
 * its own: the chunks in use grow about 1 + extra * 1024 / n fold while
 * the live slots grow by extra.  The row: @large's list time over
 * @small's, per run.  Needs root (any group); skipped otherwise or if a
 * create fails.
 */
static void list_sparse(const struct esdt_daemon *small,
			const struct esdt_daemon *large, uint32_t n)
{
	uint32_t extra = bench_opts.quick ? 100 : 800;
	struct bench_row *r = bench_row_add("ms", "errseq_list, %u live + %u "
					    "alone in a chunk each, --slots %u",
					    n, extra, SCALE_SLOTS);
	long cs, cl;

	snprintf(r->base_name, sizeof(r->base_name), "%u live, --slots %u",
		 n, n);
	if (geteuid() != 0) {
		bench_skip(r, "needs root (a writer group per slot).");
		return;
	}
	for (uint32_t k = 0; k < extra; k += 100) {
		struct errseq_client *c = NULL;
		int rc = errseq_client_open(large->sock, &c);

		for (uint32_t j = k; rc == 0 && j < k + 100 && j < extra; j++) {
			struct errseq_slot_attr a = {
				.flags = ERRSEQ_ATTR_WRITERS_GROUP,
				.writers_gid = 200000 + j,
			};
			struct errseq_slot *s;
			char name[32];

			snprintf(name, sizeof(name), "sparse.%u", j);
			rc = errseq_slot_open_attr(c, name, ERRSEQ_CREATE, &a,
						   &s);
			if (rc == 0)
				errseq_slot_close(s);
		}
		if (c)
			errseq_client_close(c);
		if (rc < 0) {
			bench_skip(r, "creating a slot in a new writer domain "
				   "failed: %s.", errseq_strerror(rc));
			return;
		}
	}
	for (int rep = 0; rep < bench_opts.reps; rep++) {
		double a, b;

		if (list_pair(small->sock, large->sock, &a, &b, &cs, &cl) < 0 ||
		    cs != (long)n || cl != (long)(n + extra)) {
			bench_skip(r, "errseq_list failed or listed %ld and %ld "
				   "slots.", cs, cl);
			return;
		}
		bench_row_run(r, b, a);
	}
	bench_row_reduce(r);
	bench_goal_le(r, r->ratio, 1.2, "ratio <= 1.2");
	bench_note(r, "Live slots %.1f %% more, chunks in use about %ux: a "
		   "list that scanned the chunks in use would grow with them. "
		   "Each run: the best of three listings of each.",
		   100.0 * extra / n, (unsigned)(1 + (uint64_t)extra *
						 ESD_CHUNK_SLOTS / n));
}

/*
 * Issue 11: listing costs the live slots, not the capacity.  Two daemons,
 * --slots N and --slots 1M, each with the same N live slots; each run
 * lists both (in alternating order), and the row's ratio is the median of
 * the per-run ratios large / small.
 */
static void bench_list_capacity(void)
{
	static const char *const extra[] = { "--max-clients", "256", NULL };
	uint32_t n = bench_opts.quick ? 10000 : 65536;
	struct bench_row *rctl, *rlib;
	struct esdt_daemon small, large;
	const char *bin = ctl_bin();
	long cs = 0, cl = 0;

	rctl = bench_row_add("ms", "errseqctl --json list, %u live, --slots "
			     "%u / --slots %u", n, SCALE_SLOTS, n);
	rlib = bench_row_add("ms", "errseq_list (library, all pages), %u "
			     "live, --slots %u / --slots %u", n, SCALE_SLOTS,
			     n);
	snprintf(rctl->base_name, sizeof(rctl->base_name), "--slots %u", n);
	snprintf(rlib->base_name, sizeof(rlib->base_name), "--slots %u", n);
	if (bench_daemon_start(&small, n, extra) < 0) {
		bench_skip(rctl, "the daemon did not start.");
		bench_skip(rlib, "the daemon did not start.");
		return;
	}
	if (bench_daemon_start(&large, SCALE_SLOTS, extra) < 0) {
		bench_skip(rctl, "the daemon did not start.");
		bench_skip(rlib, "the daemon did not start.");
		esdt_daemon_cleanup(&small);
		return;
	}
	if (fill(small.sock, 0, n) < 0 || fill(large.sock, 0, n) < 0)
		bench_die("filling %u slots failed", n);
	pin_mode = pin_env >= 0 ? pin_env : PIN_SAME;	/* see pin_mode */
	place_server(small.pid);
	place_server(large.pid);
	pin_client_thread();
	for (int rep = 0; rep < bench_opts.reps; rep++) {
		double a, b, la, lb;
		int rc = list_pair(small.sock, large.sock, &a, &b, &cs, &cl);

		if (rc < 0)
			bench_die("errseq_list: %s", errseq_strerror(rc));
		if (cs != (long)n || cl != (long)n)
			bench_die("errseq_list listed %ld and %ld slots, not %u",
				  cs, cl, n);
		bench_row_run(rlib, b, a);
		if (!bin)
			continue;
		la = lb = INFINITY;
		for (int k = 0; k < 3 && la >= 0 && lb >= 0; k++) {
			double x = run_ctl_null(bin, small.sock, "list", NULL);
			double y = run_ctl_null(bin, large.sock, "list", NULL);

			la = x < 0 ? x : x < la ? x : la;
			lb = y < 0 ? y : y < lb ? y : lb;
		}
		if (la < 0 || lb < 0) {
			bench_skip(rctl, "errseqctl list failed (%s).",
				   strerror((int)-(la < 0 ? la : lb)));
			bin = NULL;
			continue;
		}
		bench_row_run(rctl, lb, la);
	}
	list_sparse(&small, &large, n);	/* still pinned as above */
	bench_unpin();
	bench_row_reduce(rlib);
	bench_goal_le(rlib, rlib->ratio, 1.2, "ratio <= 1.2");
	bench_note(rlib, "Same %u live slots (s0000000...) in both daemons; "
		   "the daemons and the lister on one CPU (%s). Each run: the "
		   "best of three listings of each.", n, pin_name());
	if (!bin && rctl->verdict != BENCH_SKIP) {
		bench_skip(rctl, "errseqctl not found ($ERRSEQCTL_BIN or "
			   "ctl/errseqctl).");
	} else if (rctl->verdict != BENCH_SKIP) {
		bench_row_reduce(rctl);
		bench_goal_le(rctl, rctl->ratio, 1.2, "ratio <= 1.2");
		bench_note(rctl, "stdout on /dev/null; spawn to exit; each "
			   "run: the best of three of each.");
	}
	esdt_daemon_cleanup(&large);
	esdt_daemon_cleanup(&small);
}

int main(int argc, char **argv)
{
	struct esdt_daemon d;
	static const char *const extra[] = { "--max-clients", "256", NULL };
	int r;

	argc = bench_init(argc, argv, "bench_ctl", 7);
	{
		const char *pin = getenv("BENCH_CTL_PIN");

		if (pin && !strcmp(pin, "split"))
			pin_env = PIN_SPLIT;
		else if (pin && !strcmp(pin, "same"))
			pin_env = PIN_SAME;
		else if (pin && !strcmp(pin, "none"))
			pin_env = PIN_NONE;
	}
	if (argc > 2 || (argc == 2 && strcmp(argv[1], "clients") &&
			 strcmp(argv[1], "scale") && strcmp(argv[1], "list"))) {
		fprintf(stderr, "usage: bench_ctl [--out DIR] [--reps N] "
			"[--quick] [clients|scale|list]\n");
		return 2;
	}
	/* the daemon and the echo server first: no thread exists yet */
	if (bench_daemon_start(&d, 0, extra) < 0) {
		bench_skip(bench_row_add("", "control path"),
			   "the daemon did not start.");
		bench_finish();
		return 1;
	}
	r = echo_start();
	if (r < 0)
		bench_die("echo server: %s", strerror(-r));

	if (argc == 1 || !strcmp(argv[1], "clients"))
		bench_concurrency(&d);
	esdt_daemon_cleanup(&d);
	if (argc == 1 || !strcmp(argv[1], "list"))
		bench_list_capacity();
	if (argc == 1 || !strcmp(argv[1], "scale"))
		bench_scale();

	echo_stop();
	return bench_finish() < 0 ? 1 : 0;
}
