/*
 * helper.c - the programs the liberrseq-preload tests run, with and
 * without the library.  None of them knows about errseqd: they are the
 * "unmodified programs".  Each mode prints what its calls returned, one
 * "NAME RET ERRNAME" line per call, so that a test can compare a run with
 * the library against a run without it.
 *
 *   helper ignore FILE        write 40 MiB, fsync and ignore the result,
 *                             exit 0
 *   helper hold FILE          open FILE, print "ready", then per stdin line
 *                             "fsync" print the fsync's result; "quit" ends
 *   helper calls DIR [FAILDIR]  every interposed call, succeeding and
 *                             failing (EBADF, EINVAL, EPIPE, EFBIG; with
 *                             FAILDIR on a failing file system, real
 *                             write-back errors)
 *   helper efbig FILE         one pwrite past RLIMIT_FSIZE (EFBIG), prints
 *                             "pid PID" and the result
 *   helper closeall FILE OUT  close every fd, meet EFBIG on FILE, then write
 *                             to OUT the fd counts before and after
 *   helper forkexec FILE      a child that execs "helper efbig FILE", and
 *                             a child that meets EFBIG without exec
 *   helper threads DIR N M    N threads, each M EFBIGs on a file of its own
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#define MIB (1024 * 1024)
#define FSIZE_LIMIT (1024 * 1024)	/* RLIMIT_FSIZE for the EFBIG cases */

static void report(const char *name, long r, int e)
{
	printf("%s %ld %s\n", name, r, r < 0 ? strerrorname_np(e) : "-");
	fflush(stdout);
}

/* Call, then report with the errno the call left. */
#define CHECK(name, expr) do {				\
		long r_ = (long)(expr);			\
		report(name, r_, errno);		\
	} while (0)

static void die(const char *what)
{
	fprintf(stderr, "helper: %s: %s\n", what, strerror(errno));
	exit(99);
}

static void limit_fsize(void)
{
	struct rlimit rl = { FSIZE_LIMIT, FSIZE_LIMIT };

	signal(SIGXFSZ, SIG_IGN);
	if (setrlimit(RLIMIT_FSIZE, &rl) < 0)
		die("setrlimit");
}

static int open_file(const char *dir, const char *name)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		die(path);
	return fd;
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;	/* not the directory's own fd */
}

static int mode_ignore(const char *file)
{
	static char buf[MIB];
	int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd < 0)
		die(file);
	for (int i = 0; i < 40; i++)
		if (write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf))
			die("write");
	(void)!fsync(fd);	/* the bug under test: the result is dropped */
	close(fd);
	return 0;
}

static int mode_hold(const char *file)
{
	char line[64];
	int fd = open(file, O_WRONLY | O_CREAT, 0600);

	if (fd < 0)
		die(file);
	printf("ready\n");
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin) != NULL) {
		if (strcmp(line, "fsync\n") == 0)
			CHECK("fsync", fsync(fd));
		else if (strcmp(line, "quit\n") == 0)
			break;
	}
	close(fd);
	return 0;
}

/* Every interposed call on a healthy file system, then failing. */
static void calls_healthy(const char *dir)
{
	static char buf[8192];
	struct iovec iov[2] = { { buf, 100 }, { buf, 200 } };
	int fd = open_file(dir, "calls"), p[2];
	char *m;

	CHECK("write", write(fd, buf, 4096));
	CHECK("pwrite", pwrite(fd, buf, 4096, 4096));
	CHECK("pwrite64", pwrite64(fd, buf, 4096, 8192));
	CHECK("writev", writev(fd, iov, 2));
	CHECK("pwritev", pwritev(fd, iov, 2, 100));
	CHECK("pwritev64", pwritev64(fd, iov, 2, 200));
	CHECK("pwritev2", pwritev2(fd, iov, 2, 300, 0));
	CHECK("pwritev64v2", pwritev64v2(fd, iov, 2, 400, 0));
	CHECK("fsync", fsync(fd));
	CHECK("fdatasync", fdatasync(fd));
	CHECK("sync_file_range", sync_file_range(fd, 0, 0,
						 SYNC_FILE_RANGE_WRITE));
	CHECK("syncfs", syncfs(fd));
	m = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		die("mmap");
	m[0] = 1;
	CHECK("msync", msync(m, 8192, MS_SYNC));
	CHECK("msync-unaligned", msync(m + 1, 100, MS_SYNC));
	CHECK("msync-badflags", msync(m, 8192, MS_SYNC | MS_ASYNC));
	munmap(m, 8192);

	/* The caller's mistakes: not recorded, returned as they are. */
	CHECK("write-ebadf", write(-1, buf, 1));
	CHECK("pwrite-ebadf", pwrite(-1, buf, 1, 0));
	CHECK("pwrite64-ebadf", pwrite64(-1, buf, 1, 0));
	CHECK("writev-ebadf", writev(-1, iov, 2));
	CHECK("pwritev-ebadf", pwritev(-1, iov, 2, 0));
	CHECK("pwritev64-ebadf", pwritev64(-1, iov, 2, 0));
	CHECK("pwritev2-ebadf", pwritev2(-1, iov, 2, 0, 0));
	CHECK("pwritev64v2-ebadf", pwritev64v2(-1, iov, 2, 0, 0));
	CHECK("pwritev2-badflags", pwritev2(fd, iov, 2, 0, 0x7fff0000));
	CHECK("fsync-ebadf", fsync(-1));
	CHECK("fdatasync-ebadf", fdatasync(-1));
	CHECK("sync_file_range-einval", sync_file_range(fd, 0, 0, ~0u));
	CHECK("syncfs-ebadf", syncfs(-1));
	CHECK("close-ebadf", close(-1));
	CHECK("pwrite-negative", pwrite(fd, buf, 1, -1));
	if (pipe(p) < 0)
		die("pipe");
	CHECK("fsync-pipe", fsync(p[1]));
	close(p[0]);
	signal(SIGPIPE, SIG_IGN);
	CHECK("write-epipe", write(p[1], buf, 1));
	CHECK("close", close(p[1]));

	/* Storage refuses: EFBIG past RLIMIT_FSIZE (recorded). */
	limit_fsize();
	CHECK("lseek", lseek(fd, FSIZE_LIMIT, SEEK_SET));
	CHECK("write-efbig", write(fd, buf, 10));
	CHECK("writev-efbig", writev(fd, iov, 2));
	CHECK("pwrite-efbig", pwrite(fd, buf, 10, FSIZE_LIMIT + 1));
	CHECK("pwrite64-efbig", pwrite64(fd, buf, 10, FSIZE_LIMIT + 2));
	CHECK("pwritev-efbig", pwritev(fd, iov, 2, FSIZE_LIMIT));
	CHECK("pwritev64-efbig", pwritev64(fd, iov, 2, FSIZE_LIMIT));
	CHECK("pwritev2-efbig", pwritev2(fd, iov, 2, FSIZE_LIMIT, 0));
	CHECK("pwritev64v2-efbig", pwritev64v2(fd, iov, 2, FSIZE_LIMIT, 0));
	CHECK("write-short", pwrite(fd, buf, 8192, FSIZE_LIMIT - 100));
	CHECK("close", close(fd));
}

/* Real write-back errors: 40 MiB on a file system that cannot hold them. */
static void calls_failing(const char *dir)
{
	static char buf[MIB];
	int fd = open_file(dir, "a"), fd2 = open_file(dir, "b"), bad = 0;
	char *m;

	/* Both files dirty before anything is written back: after the
	 * first failure ext4 may refuse to open files at all. */
	if (ftruncate(fd2, 32 * MIB) < 0)
		die("ftruncate");
	m = mmap(NULL, 32 * MIB, PROT_READ | PROT_WRITE, MAP_SHARED, fd2, 0);
	if (m == MAP_FAILED)
		die("mmap");
	memset(m, 1, 32 * MIB);
	for (int i = 0; i < 40; i++)
		if (write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf))
			bad++;
	report("writes-failed", bad, 0);
	CHECK("msync", msync(m, 32 * MIB, MS_SYNC));
	CHECK("msync-again", msync(m, 32 * MIB, MS_SYNC));
	CHECK("sync_file_range", sync_file_range(fd, 0, 0,
		SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
		SYNC_FILE_RANGE_WAIT_AFTER));
	CHECK("fsync", fsync(fd));
	CHECK("fsync-again", fsync(fd));
	CHECK("fdatasync", fdatasync(fd));
	CHECK("syncfs", syncfs(fd));
	CHECK("syncfs-again", syncfs(fd));
	CHECK("close", close(fd));

	munmap(m, 32 * MIB);
	CHECK("fdatasync-mapped", fdatasync(fd2));
	CHECK("close", close(fd2));
}

static int mode_efbig(const char *file)
{
	int fd = open(file, O_WRONLY | O_CREAT, 0600);

	if (fd < 0)
		die(file);
	limit_fsize();
	printf("pid %ld\n", (long)getpid());
	CHECK("pwrite", pwrite(fd, "x", 1, FSIZE_LIMIT + 4096));
	close(fd);
	return 0;
}

static int mode_closeall(const char *file, const char *out)
{
	int before = count_fds(), after, fd, e;
	long r;
	FILE *f;

	for (int i = 0; i < 4096; i++)
		close(i);
	fd = open(file, O_WRONLY | O_CREAT, 0600);	/* reuses fd 0 */
	if (fd < 0)
		return 98;
	limit_fsize();
	r = pwrite(fd, "x", 1, FSIZE_LIMIT + 4096);
	e = errno;
	after = count_fds();
	f = fopen(out, "w");
	if (f == NULL)
		return 97;
	fprintf(f, "fd %d\nbefore %d\nafter %d\npwrite %ld %s\n", fd, before,
		after, r, r < 0 ? strerrorname_np(e) : "-");
	return fclose(f) == 0 ? 0 : 96;
}

static int mode_forkexec(const char *self, const char *file)
{
	pid_t pid;
	int st;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		execl("/proc/self/exe", self, "efbig", file, (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) ||
	    WEXITSTATUS(st) != 0)
		return 1;
	printf("exec-child %ld\n", (long)pid);
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		char other[4096];

		snprintf(other, sizeof(other), "%s.fork", file);
		_exit(mode_efbig(other));
	}
	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) ||
	    WEXITSTATUS(st) != 0)
		return 1;
	printf("fork-child %ld\n", (long)pid);
	return 0;
}

struct worker {
	pthread_t t;
	int fd, n, wrong;
};

static void *work(void *arg)
{
	struct worker *w = arg;

	for (int i = 0; i < w->n; i++) {
		errno = 0;
		if (pwrite(w->fd, "x", 1, FSIZE_LIMIT + i) != -1 ||
		    errno != EFBIG)
			w->wrong++;
		if (write(w->fd, "", 0) != 0)	/* a success in between */
			w->wrong++;
	}
	return NULL;
}

static int mode_threads(const char *dir, int n, int m)
{
	struct worker *w = calloc((size_t)n, sizeof(*w));
	int wrong = 0;

	if (w == NULL)
		die("calloc");
	limit_fsize();
	for (int i = 0; i < n; i++) {
		char name[32];

		snprintf(name, sizeof(name), "t%d", i);
		w[i].fd = open_file(dir, name);
		w[i].n = m;
		if (pthread_create(&w[i].t, NULL, work, &w[i]) != 0)
			die("pthread_create");
	}
	for (int i = 0; i < n; i++) {
		pthread_join(w[i].t, NULL);
		wrong += w[i].wrong;
		close(w[i].fd);
	}
	printf("wrong %d\n", wrong);
	free(w);
	return wrong == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "ignore") == 0)
		return mode_ignore(argv[2]);
	if (argc == 3 && strcmp(argv[1], "hold") == 0)
		return mode_hold(argv[2]);
	if ((argc == 3 || argc == 4) && strcmp(argv[1], "calls") == 0) {
		if (argc == 4)
			calls_failing(argv[3]);
		calls_healthy(argv[2]);
		return 0;
	}
	if (argc == 3 && strcmp(argv[1], "efbig") == 0)
		return mode_efbig(argv[2]);
	if (argc == 4 && strcmp(argv[1], "closeall") == 0)
		return mode_closeall(argv[2], argv[3]);
	if (argc == 3 && strcmp(argv[1], "forkexec") == 0)
		return mode_forkexec(argv[0], argv[2]);
	if (argc == 5 && strcmp(argv[1], "threads") == 0)
		return mode_threads(argv[2], atoi(argv[3]), atoi(argv[4]));
	fprintf(stderr, "usage: see the comment at the top of helper.c\n");
	return 2;
}
