/*
 * listener.h - errseqd's listening socket: SOCK_SEQPACKET on a path, or the
 * socket systemd passed (socket activation, LISTEN_FDS).
 */
#ifndef ERRSEQD_LISTENER_H
#define ERRSEQD_LISTENER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/un.h>

struct esd_listener {
	int fd;			/* listening, non-blocking, close-on-exec */
	bool activated;		/* passed by systemd: never unlinked by us */
	bool bound;		/* we bound path: unlink it at close */
	dev_t dev;		/* the socket file we bound (to unlink only */
	ino_t ino;		/*   our own, never a successor's) */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

/*
 * esd_listener_open - take the socket-activated fd 3 if LISTEN_PID is our
 * pid and LISTEN_FDS >= 1 (it must be an AF_UNIX SOCK_SEQPACKET socket),
 * else bind @path: its parent directory is created (0755) if missing, and
 * /tmp/errseqd-UID is refused if it is not a directory of ours; an existing
 * socket file is probed with connect(): if something answers, the start is
 * refused ("another errseqd is listening on ..."), if nothing does it is
 * unlinked.  The new socket is chmod'ed to @mode, given group @gid if
 * @have_group, and listens with backlog SOMAXCONN.
 * Returns 0, or a negative errno with a one-line reason in @err.
 */
int esd_listener_open(struct esd_listener *l, const char *path, mode_t mode,
		      bool have_group, gid_t gid, char *err, size_t errlen);

/* esd_listener_close - close the socket; unlink its path if we bound it
 * (and it is still our socket file).  Safe to call twice. */
void esd_listener_close(struct esd_listener *l);

#endif /* ERRSEQD_LISTENER_H */
