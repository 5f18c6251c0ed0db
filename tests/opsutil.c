/*
 * opsutil.c - process, HTTP and /proc helpers for the operator-tool tests.
 * See opsutil.h.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "tests/opsutil.h"

#define OUT_MAX (64u << 20)

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *ops_bin(const char *env, const char *fallback)
{
	const char *b = getenv(env);

	return b && *b ? b : fallback;
}

const char *ops_which(const char *prog)
{
	static char path[4096];
	const char *p = getenv("PATH");

	if (!p || !*p)
		p = "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin";
	while (*p) {
		size_t len = strcspn(p, ":");

		snprintf(path, sizeof(path), "%.*s/%s", (int)len, p, prog);
		if (len && access(path, X_OK) == 0)
			return path;
		p += len;
		if (*p == ':')
			p++;
	}
	return NULL;
}

/* In the child: die with the parent, then exec. */
static void child_exec(const char *const *argv, pid_t parent)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(127);
	signal(SIGPIPE, SIG_DFL);
	execv(argv[0], (char *const *)argv);
	_exit(127);
}

int ops_run(const char *const *argv, const char *sock, const char *stdout_path,
	    int timeout_ms, struct ops_run *r)
{
	int out[2], err[2];
	pid_t parent = getpid(), pid;
	size_t err_len = 0, cap = 65536;
	long long deadline = mono_ms() + timeout_ms;
	int status;

	memset(r, 0, sizeof(*r));
	r->out = malloc(cap);
	if (!r->out)
		return -ENOMEM;
	if (pipe2(out, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(err, O_CLOEXEC) < 0) {
		close(out[0]);
		close(out[1]);
		return -errno;
	}
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int in = open("/dev/null", O_RDONLY);
		int o = stdout_path ? open(stdout_path, O_WRONLY | O_CREAT |
					   O_TRUNC, 0600) : out[1];

		if (in < 0 || o < 0)
			_exit(126);
		dup2(in, 0);
		dup2(o, 1);
		dup2(err[1], 2);
		if (sock)
			setenv("ERRSEQD_SOCKET", sock, 1);
		else
			unsetenv("ERRSEQD_SOCKET");
		child_exec(argv, parent);
	}
	close(out[1]);
	close(err[1]);
	int fds[2] = { out[0], err[0] };

	while (fds[0] >= 0 || fds[1] >= 0) {
		struct pollfd pf[2];
		int n = 0;
		long long left = deadline - mono_ms();

		if (left <= 0) {
			kill(pid, SIGKILL);
			left = 1000;
			deadline = mono_ms() + 5000;
		}
		for (int i = 0; i < 2; i++)
			if (fds[i] >= 0)
				pf[n++] = (struct pollfd){ .fd = fds[i],
							   .events = POLLIN };
		if (poll(pf, (nfds_t)n, (int)left) < 0 && errno != EINTR)
			break;
		for (int i = 0; i < n; i++) {
			ssize_t k;

			if (!pf[i].revents)
				continue;
			if (pf[i].fd == fds[0]) {
				if (cap - r->out_len < 4096 && cap < OUT_MAX) {
					char *p = realloc(r->out, cap * 2);

					if (p) {
						r->out = p;
						cap *= 2;
					}
				}
				k = read(fds[0], r->out + r->out_len,
					 cap - 1 - r->out_len);
				if (k > 0) {
					r->out_len += (size_t)k;
				} else {
					close(fds[0]);
					fds[0] = -1;
				}
			} else {
				char sink[4096];
				size_t room = sizeof(r->err) - 1 - err_len;

				k = read(fds[1], room ? r->err + err_len : sink,
					 room ? room : sizeof(sink));
				if (k > 0) {
					if (room)
						err_len += (size_t)k;
				} else {
					close(fds[1]);
					fds[1] = -1;
				}
			}
		}
	}
	r->out[r->out_len] = '\0';
	r->err[err_len] = '\0';
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	r->status = WIFEXITED(status) ? WEXITSTATUS(status)
				      : 128 + WTERMSIG(status);
	return 0;
}

int ops_exporter_start(struct ops_exporter *x, const char *sock,
		       const char *const *extra)
{
	const char *argv[64];
	int n = 0, err[2];
	pid_t parent = getpid();
	char buf[4096];
	size_t len = 0;
	long long deadline = mono_ms() + 30000;

	memset(x, 0, sizeof(*x));
	x->err_fd = -1;
	argv[n++] = ops_bin("ERRSEQ_EXPORTER_BIN", "exporter/errseq-exporter");
	argv[n++] = "--socket";
	argv[n++] = sock;
	argv[n++] = "--listen";
	argv[n++] = "127.0.0.1:0";
	for (int i = 0; extra && extra[i] && n < 62; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	if (pipe2(err, O_CLOEXEC) < 0)
		return -errno;
	x->pid = fork();
	if (x->pid < 0)
		return -errno;
	if (x->pid == 0) {
		int in = open("/dev/null", O_RDWR);
		const char *asan = getenv("ASAN_OPTIONS");
		char opts[1024];

		/* under AddressSanitizer: no quarantine, so that freed memory
		 * is reused at once and RSS measures leaks, not the
		 * quarantine filling up (no effect on a normal build) */
		snprintf(opts, sizeof(opts), "%s%squarantine_size_mb=0",
			 asan ? asan : "", asan && *asan ? ":" : "");
		setenv("ASAN_OPTIONS", opts, 1);
		dup2(in, 0);
		dup2(in, 1);
		dup2(err[1], 2);
		child_exec(argv, parent);
	}
	close(err[1]);
	x->err_fd = err[0];
	while (len < sizeof(buf) - 1) {
		struct pollfd pf = { .fd = x->err_fd, .events = POLLIN };
		long long left = deadline - mono_ms();
		ssize_t k;
		char *p;

		if (left <= 0) {
			ops_exporter_stop(x);
			return -ETIMEDOUT;
		}
		if (poll(&pf, 1, (int)left) <= 0)
			continue;
		k = read(x->err_fd, buf + len, sizeof(buf) - 1 - len);
		if (k <= 0) {
			ops_exporter_stop(x);
			return -ECHILD;
		}
		len += (size_t)k;
		buf[len] = '\0';
		p = strstr(buf, "listening on 127.0.0.1:");
		if (p && strchr(p, '\n')) {
			x->port = atoi(p + strlen("listening on 127.0.0.1:"));
			return x->port > 0 ? 0 : -EPROTO;
		}
	}
	ops_exporter_stop(x);
	return -EPROTO;
}

int ops_exporter_stop(struct ops_exporter *x)
{
	int status = 0;

	if (x->pid > 0) {
		kill(x->pid, SIGTERM);
		while (waitpid(x->pid, &status, 0) < 0)
			if (errno != EINTR) {
				status = -errno;
				break;
			}
		x->pid = 0;
	}
	if (x->err_fd >= 0) {
		close(x->err_fd);
		x->err_fd = -1;
	}
	return status;
}

int ops_connect(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	return fd;
}

int ops_http_get(int port, const char *path, int timeout_ms, char **body,
		 char **hdr)
{
	long long deadline = mono_ms() + timeout_ms;
	size_t len = 0, cap = 65536;
	char *buf, *sep, req[2048];
	int fd, n, code;

	*body = NULL;
	if (hdr)
		*hdr = NULL;
	fd = ops_connect(port);
	if (fd < 0)
		return fd;
	n = snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n"
		     "\r\n", path);
	if (n < 0 || (size_t)n >= sizeof(req) || write(fd, req, (size_t)n) != n) {
		close(fd);
		return -EIO;
	}
	buf = malloc(cap);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	for (;;) {
		struct pollfd pf = { .fd = fd, .events = POLLIN };
		long long left = deadline - mono_ms();
		ssize_t k;

		if (left <= 0 || poll(&pf, 1, (int)left) == 0) {
			free(buf);
			close(fd);
			return -ETIMEDOUT;
		}
		if (cap - len < 65536) {
			char *p = realloc(buf, cap * 2);

			if (!p) {
				free(buf);
				close(fd);
				return -ENOMEM;
			}
			buf = p;
			cap *= 2;
		}
		k = read(fd, buf + len, cap - 1 - len);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		len += (size_t)k;
	}
	close(fd);
	buf[len] = '\0';
	if (sscanf(buf, "HTTP/1.%*d %d", &code) != 1) {
		free(buf);
		return -EPROTO;
	}
	sep = strstr(buf, "\r\n\r\n");
	*body = strdup(sep ? sep + 4 : "");
	if (hdr && sep) {
		*sep = '\0';
		*hdr = strdup(buf);
	}
	free(buf);
	return *body ? code : -ENOMEM;
}

long ops_rss_kb(pid_t pid)
{
	char path[64], line[256];
	long kb = -ENOENT;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

size_t ops_count(const char *hay, const char *needle)
{
	size_t n = 0, len = strlen(needle);

	for (const char *p = hay; (p = strstr(p, needle)); p += len)
		n++;
	return n;
}
