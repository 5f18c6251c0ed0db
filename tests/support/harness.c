/*
 * harness.c - start and stop the real errseqd for integration tests.
 * See harness.h for the contracts.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/support/harness.h"

#define MAX_REGISTERED 64

static struct esdt_daemon *registered[MAX_REGISTERED];
static int atexit_done;
static pid_t atexit_pid;	/* the process that registered cleanup_all */
static unsigned name_counter;

static void cleanup_all(void)
{
	/* A child forked by a test inherits the handler and the list: its
	 * exit() must not kill the parent's daemons or unlink their files. */
	if (getpid() != atexit_pid)
		return;
	for (int i = 0; i < MAX_REGISTERED; i++)
		if (registered[i])
			esdt_daemon_cleanup(registered[i]);
}

static void register_daemon(struct esdt_daemon *d)
{
	if (d->registered)
		return;
	if (atexit_pid != getpid()) {
		/* The first daemon of this process: a forked child forgets
		 * its parent's list (the atexit handler itself is inherited). */
		memset(registered, 0, sizeof(registered));
		atexit_pid = getpid();
		if (!atexit_done) {
			atexit(cleanup_all);
			atexit_done = 1;
		}
	}
	for (int i = 0; i < MAX_REGISTERED; i++)
		if (!registered[i]) {
			registered[i] = d;
			d->registered = 1;
			return;
		}
}

static void unregister_daemon(struct esdt_daemon *d)
{
	for (int i = 0; i < MAX_REGISTERED; i++)
		if (registered[i] == d)
			registered[i] = NULL;
	d->registered = 0;
}

static const char *daemon_bin(void)
{
	const char *bin = getenv("ERRSEQD_BIN");

	return bin && *bin ? bin : "daemon/errseqd";
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int open_notify(struct esdt_daemon *d)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (d->notify_fd > 0)
		close(d->notify_fd);
	unlink(d->notify);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", d->notify);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	d->notify_fd = fd;
	return 0;
}

/*
 * argv for errseqd: $ERRSEQD_WRAPPER's words (e.g. "valgrind --leak-check=full
 * --error-exitcode=99"; split on spaces into @wrap_buf), then the daemon with
 * our names and @extra.
 */
static void build_argv(const struct esdt_daemon *d, const char *const *extra,
		       const char **argv, char *slots_buf, size_t slots_len,
		       char *wrap_buf, size_t wrap_len)
{
	const char *wrap = getenv("ERRSEQD_WRAPPER");
	int n = 0;

	if (wrap && *wrap && snprintf(wrap_buf, wrap_len, "%s", wrap) <
				     (int)wrap_len) {
		char *save = NULL;

		for (char *w = strtok_r(wrap_buf, " ", &save); w && n < 16;
		     w = strtok_r(NULL, " ", &save))
			argv[n++] = w;
	}
	argv[n++] = daemon_bin();
	argv[n++] = "--socket";
	argv[n++] = d->sock;
	argv[n++] = "--shm";
	argv[n++] = d->shm;
	if (d->slots) {
		snprintf(slots_buf, slots_len, "%u", d->slots);
		argv[n++] = "--slots";
		argv[n++] = slots_buf;
	}
	for (int i = 0; extra && extra[i] && n < 62; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
}

static pid_t spawn(const struct esdt_daemon *d, const char *const *extra,
		   int err_fd, int with_notify)
{
	const char *argv[64];
	char slots_buf[16];
	char wrap_buf[512];
	pid_t parent = getpid();
	pid_t pid;

	build_argv(d, extra, argv, slots_buf, sizeof(slots_buf), wrap_buf,
		   sizeof(wrap_buf));
	pid = fork();
	if (pid != 0)
		return pid;
	/* child */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(127);
	if (err_fd >= 0) {
		dup2(err_fd, STDERR_FILENO);
		close(err_fd);
	}
	if (with_notify)
		setenv("NOTIFY_SOCKET", d->notify, 1);
	else
		unsetenv("NOTIFY_SOCKET");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_PID");
	execv(argv[0], (char *const *)argv);
	_exit(127);
}

static int wait_ready(struct esdt_daemon *d, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	char buf[512];

	for (;;) {
		struct pollfd pfd = { .fd = d->notify_fd, .events = POLLIN };
		int status;
		int left = (int)(deadline - now_ms());

		if (waitpid(d->pid, &status, WNOHANG) == d->pid) {
			d->pid = 0;
			return -ECHILD;
		}
		if (left <= 0)
			return -ETIMEDOUT;
		if (poll(&pfd, 1, left < 100 ? left : 100) > 0) {
			ssize_t n = recv(d->notify_fd, buf, sizeof(buf) - 1, 0);

			if (n > 0) {
				buf[n] = '\0';
				if (strstr(buf, "READY=1"))
					return 0;
			}
		}
	}
}

static int launch(struct esdt_daemon *d, const char *const *extra)
{
	int err_fd, r;

	r = open_notify(d);
	if (r < 0)
		return r;
	err_fd = open(d->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (err_fd < 0)
		return -errno;
	d->pid = spawn(d, extra, err_fd, 1);
	close(err_fd);
	if (d->pid < 0) {
		d->pid = 0;
		return -errno;
	}
	r = wait_ready(d, getenv("ERRSEQD_WRAPPER") ? 180000 : 60000);
	if (r == -ETIMEDOUT)
		esdt_daemon_stop(d, SIGKILL);
	return r;
}

int esdt_daemon_start(struct esdt_daemon *d, unsigned slots,
		      const char *const *extra)
{
	unsigned n = name_counter++;

	memset(d, 0, sizeof(*d));
	d->notify_fd = -1;
	d->slots = slots;
	snprintf(d->dir, sizeof(d->dir), "/tmp/esdt-%d-%u", (int)getpid(), n);
	snprintf(d->shm, sizeof(d->shm), "/esdt-%d-%u", (int)getpid(), n);
	snprintf(d->sock, sizeof(d->sock), "%s/errseqd.sock", d->dir);
	snprintf(d->log, sizeof(d->log), "%s/errseqd.log", d->dir);
	snprintf(d->notify, sizeof(d->notify), "%s/notify", d->dir);
	if (mkdir(d->dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	register_daemon(d);
	return launch(d, extra);
}

int esdt_daemon_restart(struct esdt_daemon *d, const char *const *extra)
{
	if (d->pid > 0)
		return -EBUSY;
	return launch(d, extra);
}

int esdt_daemon_stop(struct esdt_daemon *d, int sig)
{
	int status;

	if (d->pid <= 0)
		return -ESRCH;
	kill(d->pid, sig);
	while (waitpid(d->pid, &status, 0) < 0)
		if (errno != EINTR) {
			status = -errno;
			break;
		}
	d->pid = 0;
	return status;
}

int esdt_daemon_run_to_exit(struct esdt_daemon *d, const char *const *extra,
			    char *err, size_t errlen, int timeout_ms)
{
	int pipefd[2];
	int64_t deadline = now_ms() + timeout_ms;
	size_t used = 0;
	int status = 0;
	pid_t pid;

	if (errlen)
		err[0] = '\0';
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -errno;
	pid = spawn(d, extra, pipefd[1], 0);
	close(pipefd[1]);
	if (pid < 0) {
		close(pipefd[0]);
		return -errno;
	}
	for (;;) {
		struct pollfd pfd = { .fd = pipefd[0], .events = POLLIN };
		int left = (int)(deadline - now_ms());
		char buf[256];
		ssize_t n;

		if (left <= 0) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			close(pipefd[0]);
			return -ETIMEDOUT;
		}
		if (poll(&pfd, 1, left) <= 0)
			continue;
		n = read(pipefd[0], buf, sizeof(buf));
		if (n <= 0)
			break;	/* EOF: the daemon exited (or closed stderr) */
		for (ssize_t i = 0; i < n && used + 1 < errlen; i++)
			err[used++] = buf[i];
		if (errlen)
			err[used] = '\0';
	}
	close(pipefd[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}

void esdt_daemon_cleanup(struct esdt_daemon *d)
{
	char reg[128];

	if (!d->dir[0])
		return;
	if (d->pid > 0)
		esdt_daemon_stop(d, SIGKILL);
	if (d->notify_fd > 0)
		close(d->notify_fd);
	d->notify_fd = -1;
	shm_unlink(d->shm);
	snprintf(reg, sizeof(reg), "%s.reg", d->shm);
	shm_unlink(reg);
	unlink(d->sock);
	/* The state keeper (errseqd-keeper) listens on the socket path +
	 * ".keeper" and exits once that file is gone. */
	snprintf(reg, sizeof(reg), "%s.keeper", d->sock);
	unlink(reg);
	unlink(d->log);
	unlink(d->notify);
	rmdir(d->dir);
	unregister_daemon(d);
	d->dir[0] = '\0';
}

size_t esdt_read_log(const struct esdt_daemon *d, char *buf, size_t len)
{
	int fd = open(d->log, O_RDONLY | O_CLOEXEC);
	size_t used = 0;

	if (len == 0)
		return 0;
	if (fd >= 0) {
		ssize_t n;

		while (used + 1 < len &&
		       (n = read(fd, buf + used, len - 1 - used)) > 0)
			used += (size_t)n;
		close(fd);
	}
	buf[used] = '\0';
	return used;
}

/* Is the test process that owns "esdt-P-N" gone? */
static int owner_dead(const char *name)
{
	long pid = strtol(name + strlen("esdt-"), NULL, 10);

	return pid > 0 && kill((pid_t)pid, 0) < 0 && errno == ESRCH;
}

static void remove_tree(const char *dir)
{
	DIR *dp = opendir(dir);
	struct dirent *de;
	char path[1024];

	if (!dp)
		return;
	while ((de = readdir(dp)) != NULL) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) <
		    (int)sizeof(path))
			unlink(path);
	}
	closedir(dp);
	rmdir(dir);
}

void esdt_sweep(void)
{
	static const char *const dirs[] = { "/dev/shm", "/tmp" };

	for (size_t i = 0; i < 2; i++) {
		DIR *dp = opendir(dirs[i]);
		struct dirent *de;
		char path[1024];

		if (!dp)
			continue;
		while ((de = readdir(dp)) != NULL) {
			if (strncmp(de->d_name, "esdt-", 5) || !owner_dead(de->d_name))
				continue;
			if (snprintf(path, sizeof(path), "%s/%s", dirs[i],
				     de->d_name) >= (int)sizeof(path))
				continue;
			if (i == 0)
				unlink(path);
			else
				remove_tree(path);
		}
		closedir(dp);
	}
}

int esdt_count_fds(pid_t pid)
{
	char path[64];
	DIR *dp;
	struct dirent *de;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	dp = opendir(path);
	if (!dp)
		return -errno;
	while ((de = readdir(dp)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(dp);
	return n;
}
