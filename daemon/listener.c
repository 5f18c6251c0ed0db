/*
 * listener.c - bind or adopt errseqd's listening socket (see listener.h).
 *
 * Refusing a live socket matters: two daemons on one socket path would
 * each hand out their own segment, and clients would silently split.  So
 * an existing socket file is only replaced after a connect() to it was
 * refused (its daemon is gone).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/listener.h"
#include "daemon/log.h"

#define LISTEN_FDS_START 3	/* sd_listen_fds(3): passed fds begin here */

#define fail esd_errf

/* Is this process socket-activated?  Returns LISTEN_FDS, or 0. */
static int listen_fds(void)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	char *end;
	long p, n;

	if (!pid || !fds)
		return 0;
	p = strtol(pid, &end, 10);
	if (*end || p != (long)getpid())
		return 0;
	n = strtol(fds, &end, 10);
	if (*end || n < 1 || n > 1024)
		return 0;
	return (int)n;
}

/* The first of the @n passed fds that is a socket, or -1. */
static int first_socket(int n)
{
	struct stat sb;

	for (int i = 0; i < n; i++)
		if (fstat(LISTEN_FDS_START + i, &sb) == 0 &&
		    S_ISSOCK(sb.st_mode))
			return LISTEN_FDS_START + i;
	return -1;
}

static int adopt_activated(struct esd_listener *l, int n, char *err,
			   size_t errlen)
{
	/* With --persist fdstore, systemd passes the stored memfds too
	 * (daemon/store.c takes them by name): the socket is the first fd
	 * that is a socket.  The environment stays for the store to read. */
	int fd = first_socket(n), domain = 0, type = 0, acc = 0, fl;
	socklen_t len = sizeof(int);
	struct sockaddr_un sun;
	socklen_t slen = sizeof(sun);
	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0 ||
	    (len = sizeof(int),
	     getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len)) < 0 ||
	    domain != AF_UNIX || type != SOCK_SEQPACKET)
		return fail(err, errlen, -ENOTSOCK, "socket-activated fd 3 "
			    "is not an AF_UNIX SOCK_SEQPACKET socket (set "
			    "ListenSequentialPacket= in the .socket unit)");
	len = sizeof(int);
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &len) == 0 &&
	    !acc && listen(fd, SOMAXCONN) < 0)
		return fail(err, errlen, -errno, "cannot listen on the "
			    "socket-activated fd 3: %s", strerror(errno));
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
		return fail(err, errlen, -errno, "cannot set up the "
			    "socket-activated fd 3: %s", strerror(errno));

	l->fd = fd;
	l->activated = true;
	memset(&sun, 0, sizeof(sun));
	if (getsockname(fd, (struct sockaddr *)&sun, &slen) == 0 &&
	    slen > offsetof(struct sockaddr_un, sun_path) && sun.sun_path[0])
		snprintf(l->path, sizeof(l->path), "%.*s",
			 (int)(slen - offsetof(struct sockaddr_un, sun_path)),
			 sun.sun_path);
	else
		snprintf(l->path, sizeof(l->path), "(fd 3)");
	return 0;
}

/* Create the directories of @dir that are missing, mode 0755. */
static int make_dirs(const char *dir, char *err, size_t errlen)
{
	char buf[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct stat st;

	snprintf(buf, sizeof(buf), "%s", dir);
	for (char *p = buf + 1;; p++) {
		bool last = *p == '\0';

		if (*p != '/' && !last)
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) == 0) {
			/* chmod: the umask must not decide the mode. */
			if (chmod(buf, 0755) < 0)
				esd_warn("cannot chmod %s to 0755: %s", buf,
					 strerror(errno));
		} else if (errno != EEXIST) {
			return fail(err, errlen, -errno, "cannot create "
				    "directory %s: %s", buf, strerror(errno));
		}
		if (last)
			break;
		*p = '/';
	}
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
		return fail(err, errlen, -ENOTDIR, "%s is not a directory",
			    dir);
	return 0;
}

/* /tmp/errseqd-UID lives in a world-writable directory: someone else may
 * have made it first to catch our clients.  Only a real directory owned by
 * us will do. */
static int check_tmp_dir(const char *dir, char *err, size_t errlen)
{
	char mine[64];
	struct stat st;

	snprintf(mine, sizeof(mine), "/tmp/errseqd-%u", (unsigned)geteuid());
	if (strcmp(dir, mine) != 0)
		return 0;
	if (lstat(dir, &st) < 0)
		return errno == ENOENT ? 0 : fail(err, errlen, -errno,
			"cannot stat %s: %s", dir, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return fail(err, errlen, -ENOTDIR, "refusing %s: not a "
			    "directory (remove it)", dir);
	if (st.st_uid != geteuid())
		return fail(err, errlen, -EPERM, "refusing %s: owned by uid "
			    "%u, not by us (uid %u), so it may be a trap for "
			    "our clients; set XDG_RUNTIME_DIR or pass --socket "
			    "elsewhere (ask root to remove it)", dir,
			    (unsigned)st.st_uid, (unsigned)geteuid());
	if (st.st_mode & 022)
		return fail(err, errlen, -EPERM, "refusing %s: writable by "
			    "group or others (mode %04o); chmod go-w it, or "
			    "set XDG_RUNTIME_DIR", dir,
			    (unsigned)(st.st_mode & 07777));
	return 0;
}

/* An existing socket file: refuse if a daemon answers, else unlink it. */
static int clear_stale(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, r, e;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : fail(err, errlen, -errno,
			"cannot stat %s: %s", path, strerror(errno));
	if (!S_ISSOCK(st.st_mode))
		return fail(err, errlen, -EEXIST, "%s exists and is not a "
			    "socket; remove it or pass another --socket",
			    path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0)
		return fail(err, errlen, -errno, "socket: %s",
			    strerror(errno));
	memcpy(sun.sun_path, path, strlen(path));
	r = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	e = errno;
	close(fd);
	if (r == 0 || e == EAGAIN || e == EINPROGRESS)
		return fail(err, errlen, -EADDRINUSE, "another errseqd is "
			    "listening on %s", path);
	if (e == ENOENT)
		return 0;
	if (e != ECONNREFUSED)
		return fail(err, errlen, -e, "%s is in use (connect: %s); "
			    "stop its owner or pass another --socket", path,
			    strerror(e));
	esd_info("removing stale socket %s", path);
	if (unlink(path) < 0 && errno != ENOENT)
		return fail(err, errlen, -errno, "cannot remove stale socket "
			    "%s: %s", path, strerror(errno));
	return 0;
}

static int bind_path(struct esd_listener *l, const char *path, mode_t mode,
		     bool have_group, gid_t gid, char *err, size_t errlen)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char dir[sizeof(sun.sun_path)];
	struct stat st;
	mode_t old;
	char *slash;
	int r;

	if (path[0] == '\0' || strlen(path) >= sizeof(sun.sun_path))
		return fail(err, errlen, -ENAMETOOLONG, "socket path '%s' is "
			    "empty or longer than %zu bytes", path,
			    sizeof(sun.sun_path) - 1);
	snprintf(l->path, sizeof(l->path), "%s", path);
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		r = check_tmp_dir(dir, err, errlen);
		if (r == 0)
			r = make_dirs(dir, err, errlen);
		if (r < 0)
			return r;
	}
	r = clear_stale(path, err, errlen);
	if (r < 0)
		return r;

	l->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC,
		       0);
	if (l->fd < 0)
		return fail(err, errlen, -errno, "socket: %s",
			    strerror(errno));
	memcpy(sun.sun_path, path, strlen(path));
	/* Nobody may connect before the chmod below narrows the mode. */
	old = umask(0177);
	r = bind(l->fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (r < 0)
		return fail(err, errlen, -errno, "cannot bind %s: %s", path,
			    strerror(errno));
	l->bound = true;
	if (lstat(path, &st) == 0) {
		l->dev = st.st_dev;
		l->ino = st.st_ino;
	}
	if (chmod(path, mode) < 0)
		return fail(err, errlen, -errno, "cannot chmod %s to %04o: %s",
			    path, (unsigned)mode, strerror(errno));
	if (have_group && chown(path, (uid_t)-1, gid) < 0)
		return fail(err, errlen, -errno, "cannot give %s to group %u: "
			    "%s", path, (unsigned)gid, strerror(errno));
	if (listen(l->fd, SOMAXCONN) < 0)
		return fail(err, errlen, -errno, "cannot listen on %s: %s",
			    path, strerror(errno));
	return 0;
}

int esd_listener_open(struct esd_listener *l, const char *path, mode_t mode,
		      bool have_group, gid_t gid, char *err, size_t errlen)
{
	int n = listen_fds(), r;

	memset(l, 0, sizeof(*l));
	l->fd = -1;
	/* Passed fds may be only the memfds of systemd's fd store (no
	 * .socket unit): then we bind the path ourselves. */
	if (n > 0 && first_socket(n) >= 0)
		r = adopt_activated(l, n, err, errlen);
	else
		r = bind_path(l, path, mode, have_group, gid, err, errlen);
	if (r < 0)
		esd_listener_close(l);
	return r;
}

void esd_listener_close(struct esd_listener *l)
{
	struct stat st;

	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
	if (l->bound && !l->activated && lstat(l->path, &st) == 0 &&
	    st.st_dev == l->dev && st.st_ino == l->ino)
		unlink(l->path);
	l->bound = false;
}
