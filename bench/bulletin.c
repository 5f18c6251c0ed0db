/*
 * bulletin.c - the socket-only errseq bulletin errseqd is benchmarked
 * against: a one-socket datagram server and its client calls.  See
 * bulletin.h for the design and the contracts.
 */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "bench/bulletin.h"

enum bulletin_op {
	BULLETIN_OP_SET = 1,	/* producer: no reply */
	BULLETIN_OP_CHECK = 2,	/* watcher: one reply */
	BULLETIN_OP_QUIT = 3,	/* stop the server: no reply */
};

struct bulletin_msg {
	uint32_t op;
	uint32_t slot;
	int32_t err;		/* SET */
	uint32_t since;		/* CHECK: the watcher's cursor */
};

struct bulletin_rep {
	int32_t ret;		/* errseq_check_and_advance's result */
	uint32_t since;		/* the cursor moved on */
};

/* Transport errors, kept apart from recorded errnos (see bulletin.h). */
#define TRANSPORT_ERR(e) (-(10000 + (e)))

static int fill_addr(struct sockaddr_un *sa, const char *path)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (snprintf(sa->sun_path, sizeof(sa->sun_path), "%s", path) >=
	    (int)sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	return 0;
}

int bulletin_serve(const char *path, int ready_fd)
{
	static errseq_t words[BULLETIN_SLOTS];
	struct sockaddr_un sa;
	int fd, r;

	r = fill_addr(&sa, path);
	if (r < 0)
		return r;
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	if (write(ready_fd, "r", 1) != 1) {
		r = -errno;
		close(fd);
		return r;
	}
	close(ready_fd);

	for (;;) {
		struct sockaddr_un from;
		socklen_t flen = sizeof(from);
		struct bulletin_msg m;
		struct bulletin_rep rep;
		ssize_t n;

		n = recvfrom(fd, &m, sizeof(m), 0, (struct sockaddr *)&from,
			     &flen);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			break;
		}
		if (n != (ssize_t)sizeof(m) || m.slot >= BULLETIN_SLOTS)
			continue;	/* ignore garbage */
		if (m.op == BULLETIN_OP_QUIT) {
			r = 0;
			break;
		}
		if (m.op == BULLETIN_OP_SET) {
			errseq_set(&words[m.slot], m.err);
			continue;
		}
		if (m.op != BULLETIN_OP_CHECK)
			continue;
		rep.since = m.since;
		rep.ret = errseq_check_and_advance(&words[m.slot], &rep.since);
		sendto(fd, &rep, sizeof(rep), 0, (struct sockaddr *)&from,
		       flen);
	}
	close(fd);
	unlink(path);
	return r;
}

int bulletin_client_open(struct bulletin_client *bc, const char *path)
{
	struct sockaddr_un sa;
	sa_family_t fam = AF_UNIX;
	int r;

	bc->fd = -1;
	r = fill_addr(&sa, path);
	if (r < 0)
		return r;
	bc->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (bc->fd < 0)
		return -errno;
	/* autobind: an abstract address of the kernel's choosing, so the
	 * server can send replies back */
	if (bind(bc->fd, (struct sockaddr *)&fam, sizeof(fam)) < 0 ||
	    connect(bc->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		close(bc->fd);
		bc->fd = -1;
		return r;
	}
	return 0;
}

void bulletin_client_close(struct bulletin_client *bc)
{
	if (bc->fd >= 0)
		close(bc->fd);
	bc->fd = -1;
}

int bulletin_set(struct bulletin_client *bc, uint32_t slot, int err)
{
	struct bulletin_msg m = { .op = BULLETIN_OP_SET, .slot = slot,
				  .err = err };

	if (send(bc->fd, &m, sizeof(m), 0) != (ssize_t)sizeof(m))
		return -errno;
	return 0;
}

int bulletin_check(struct bulletin_client *bc, uint32_t slot,
		   errseq_t *since)
{
	struct bulletin_msg m = { .op = BULLETIN_OP_CHECK, .slot = slot,
				  .since = *since };
	struct bulletin_rep rep;

	if (send(bc->fd, &m, sizeof(m), 0) != (ssize_t)sizeof(m))
		return TRANSPORT_ERR(errno);
	for (;;) {
		ssize_t n = recv(bc->fd, &rep, sizeof(rep), 0);

		if (n == (ssize_t)sizeof(rep))
			break;
		if (n < 0 && errno == EINTR)
			continue;
		return TRANSPORT_ERR(n < 0 ? errno : EPROTO);
	}
	*since = rep.since;
	return rep.ret;
}

int bulletin_quit(struct bulletin_client *bc)
{
	struct bulletin_msg m = { .op = BULLETIN_OP_QUIT };

	if (send(bc->fd, &m, sizeof(m), 0) != (ssize_t)sizeof(m))
		return -errno;
	return 0;
}
