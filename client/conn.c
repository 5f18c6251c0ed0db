/*
 * conn.c - liberrseq-client's transport: the connection to errseqd, the
 * HELLO handshake and segment mapping, request/reply exchanges, and the
 * background thread that reconnects when the daemon goes away.
 *
 * Exchanges.  One request, one reply, in order (common/protocol.h).  Every
 * exchange runs with c->mutex held and carries a fresh seq; the reply must
 * echo seq and op and have the exact size of its struct, else the daemon
 * broke the protocol: ERRSEQ_EPROTO, and the connection is dropped (a
 * stray late reply would otherwise answer the next request).  SO_RCVTIMEO
 * and SO_SNDTIMEO (ESQ_IO_TIMEOUT_MS) bound every exchange, so a wedged
 * daemon costs a caller at most that long (-ETIMEDOUT, connection dropped).
 *
 * The reconnect thread.  One per client.  It poll()s the socket with
 * events = 0, which reports only POLLHUP/POLLERR: it never reads, so it
 * never steals a reply from a caller.  An eventfd wakes it when the
 * connection changes under it or the client closes.  When the daemon hangs
 * up it takes c->mutex and tries to reconnect (errseq__connect_locked),
 * releasing the mutex between attempts, which back off from 10 ms doubling
 * to 500 ms, forever until the client is closed.  Meanwhile control calls
 * make one attempt of their own and fail with -ENOTCONN; the data path
 * never notices, as it does not use the daemon.
 *
 * A successful (re)connect compares the segment's incarnation with the one
 * mapped: the same daemon state (a restart that adopted the segments) ->
 * REATTACH every open slot so the daemon counts our holds again (a -ESTALE
 * answer leaves the handle alone: its data calls already report stale via
 * the generation check); a new incarnation (the segment was re-created) ->
 * map the new segment and turn every old handle stale (gen 0), keeping the
 * old mapping until those handles are closed, as they point into it.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "client/internal.h"

#define ESQ_IO_TIMEOUT_MS	5000
#define ESQ_BACKOFF_MIN_MS	10
#define ESQ_BACKOFF_MAX_MS	500

void errseq__kick(struct errseq_client *c)
{
	uint64_t one = 1;

	if (c->evfd >= 0)
		(void)!write(c->evfd, &one, sizeof(one));
}

void errseq__drop_locked(struct errseq_client *c)
{
	if (c->fd < 0)
		return;
	/* shutdown first: it makes a poll() already sleeping on this socket
	 * in the thread report POLLHUP, which close() alone would not */
	shutdown(c->fd, SHUT_RDWR);
	close(c->fd);
	c->fd = -1;
	errseq__kick(c);
}

/* A new SEQPACKET socket connected to c->path, with I/O timeouts.
 * Returns the fd or a negative errno. */
static int dial(const struct errseq_client *c)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { ESQ_IO_TIMEOUT_MS / 1000,
			      (ESQ_IO_TIMEOUT_MS % 1000) * 1000 };
	int fd, r;

	memcpy(sa.sun_path, c->path, sizeof(sa.sun_path));
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* SO_SNDTIMEO also bounds connect() on a full listen queue */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	do {
		r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	} while (r < 0 && errno == EINTR);
	if (r < 0) {
		r = errno == EAGAIN ? -ETIMEDOUT : -errno;
		close(fd);
		return r;
	}
	return fd;
}

/* Send one packet; 0 or a negative errno (EAGAIN -> -ETIMEDOUT). */
static int send_all(int fd, const void *buf, size_t len)
{
	ssize_t n;

	do {
		n = send(fd, buf, len, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EAGAIN ? -ETIMEDOUT : -errno;
	return (size_t)n == len ? 0 : -EPROTO;
}

/*
 * Receive one packet into @buf (@flags: 0 or MSG_DONTWAIT); *@len gets its
 * size; a passed fd goes to *@fd_out (or is closed).  0, -ETIMEDOUT, -ECONNRESET (EOF), ERRSEQ_EPROTO
 * (truncated), or another negative errno.
 */
static int recv_one(int fd, void *buf, size_t cap, size_t *len, int *fd_out,
		    int flags)
{
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int) * 4)];
	} cbuf;
	struct iovec iov = { buf, cap };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf.b, .msg_controllen = sizeof(cbuf.b),
	};
	struct cmsghdr *cm;
	ssize_t n;
	int got = -1;

	do {
		n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC | flags);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EAGAIN ? -ETIMEDOUT : -errno;

	for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		size_t nfd = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < nfd; i++) {
			int pfd;

			memcpy(&pfd, CMSG_DATA(cm) + i * sizeof(int),
			       sizeof(int));
			if (got < 0)
				got = pfd;
			else
				close(pfd);
		}
	}
	if (fd_out)
		*fd_out = got;
	else if (got >= 0)
		close(got);

	if (n == 0)
		return -ECONNRESET;	/* the daemon hung up */
	if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
		if (fd_out && *fd_out >= 0) {
			close(*fd_out);
			*fd_out = -1;
		}
		return ERRSEQ_EPROTO;
	}
	*len = (size_t)n;
	return 0;
}

/*
 * Is the packet in c->rxbuf (@len bytes) the daemon's refusal at accept?
 * Beyond --max-clients it sends one esp_err_rep with op HELLO and seq 0
 * (-EUSERS) before any request, then closes.  Its status, else 0.
 */
static int refusal(const struct errseq_client *c, size_t len)
{
	const struct esp_hdr *rh = (const struct esp_hdr *)c->rxbuf;

	if (len == sizeof(struct esp_err_rep) && rh->magic == ESP_MAGIC &&
	    rh->op == ESP_OP_HELLO && rh->seq == 0 && rh->status < 0 &&
	    rh->status >= -ERRSEQ_MAX_ERRNO)
		return rh->status;
	return 0;
}

/*
 * After a transport failure on HELLO: is the daemon's refusal still queued
 * for us?  A peer that closes with our HELLO unread makes the first recv
 * report ECONNRESET before the packets it sent, so look twice.  Its status,
 * else 0.
 */
static int pending_refusal(struct errseq_client *c)
{
	size_t len;

	for (int i = 0; i < 2; i++)
		if (recv_one(c->fd, c->rxbuf, ESP_MAX_MSG, &len, NULL,
			     MSG_DONTWAIT) == 0)
			return refusal(c, len);
	return 0;
}

int errseq__call_locked(struct errseq_client *c, void *req, size_t req_len,
			size_t *rep_len, int *fd_out)
{
	struct esp_hdr *h = req;
	const struct esp_hdr *rh = (const struct esp_hdr *)c->rxbuf;
	size_t len = 0;
	int r;

	if (fd_out)
		*fd_out = -1;
	if (c->fd < 0)
		return -ENOTCONN;

	h->magic = ESP_MAGIC;
	h->version = ESP_VERSION;
	h->seq = ++c->seq;
	h->status = 0;

	r = send_all(c->fd, req, req_len);
	if (r < 0 && r != -ETIMEDOUT) {
		/* A refused HELLO: the daemon may have closed before our send,
		 * leaving its refusal queued for us. */
		r = h->op == ESP_OP_HELLO ? pending_refusal(c) : 0;
		errseq__drop_locked(c);
		return r < 0 ? r : -EPIPE; /* not sent: the caller may resend */
	}
	if (r == 0)
		r = recv_one(c->fd, c->rxbuf, ESP_MAX_MSG, &len, fd_out, 0);
	if (r < 0 && r != -ETIMEDOUT && h->op == ESP_OP_HELLO) {
		int e = pending_refusal(c);

		if (e < 0) {
			if (fd_out && *fd_out >= 0) {
				close(*fd_out);
				*fd_out = -1;
			}
			errseq__drop_locked(c);
			return e;
		}
	}
	if (r == 0 && h->op == ESP_OP_HELLO && refusal(c, len) < 0) {
		errseq__drop_locked(c);	/* the daemon closes it too */
		return refusal(c, len);
	}
	if (r == 0 && (len < sizeof(*rh) || rh->magic != ESP_MAGIC ||
		       rh->seq != h->seq || rh->op != h->op))
		r = ERRSEQ_EPROTO;
	if (r == 0 && rh->status < 0) {
		/* an error reply: the exact esp_err_rep, else a broken peer */
		if (len != sizeof(struct esp_err_rep) ||
		    rh->status < -ERRSEQ_MAX_ERRNO)
			r = ERRSEQ_EPROTO;
		else
			r = rh->status;
		if (fd_out && *fd_out >= 0) {
			close(*fd_out);
			*fd_out = -1;
		}
		return r;
	}
	if (r == 0 && rh->status > 0)
		r = ERRSEQ_EPROTO;
	if (r < 0) {
		if (fd_out && *fd_out >= 0) {
			close(*fd_out);
			*fd_out = -1;
		}
		errseq__drop_locked(c);
		if (r != ERRSEQ_EPROTO && r != -ETIMEDOUT)
			r = -ENOTCONN;	/* EPIPE, ECONNRESET, EOF, ... */
		return r;
	}
	*rep_len = len;
	return 0;
}

/* Map the segment @fd as announced by @rep, and check its header. */
static int map_segment(int fd, const struct esp_hello_rep *rep,
		       struct errseq__map **out)
{
	const struct esd_seg_header *sh;
	struct errseq__map *m;
	struct stat st;
	void *base;

	if (rep->slot_count == 0 || rep->slot_count > ESD_MAX_SLOTS ||
	    rep->slot_stride != sizeof(struct esd_slot) ||
	    rep->header_size != ESD_PAGE ||
	    rep->seg_size < esd_seg_size(rep->slot_count) ||
	    rep->seg_size > SIZE_MAX || rep->incarnation == 0)
		return ERRSEQ_EPROTO;
	/* A file shorter than announced would SIGBUS us on first touch. */
	if (fstat(fd, &st) < 0)
		return -errno;
	if ((uint64_t)st.st_size < rep->seg_size)
		return ERRSEQ_EPROTO;

	base = mmap(NULL, (size_t)rep->seg_size, PROT_READ | PROT_WRITE,
		    MAP_SHARED, fd, 0);
	if (base == MAP_FAILED)
		return -errno;
	sh = base;
	/* acquire on magic: the daemon stores it last at creation.
	 * relaxed on retired: a hint only; a segment retired after this
	 * look turns our handles stale through the slot words anyway. */
	if (__atomic_load_n(&sh->magic, __ATOMIC_ACQUIRE) != ESD_SEG_MAGIC ||
	    sh->layout_version != ESD_LAYOUT_VERSION ||
	    sh->header_size != rep->header_size ||
	    sh->slot_count != rep->slot_count ||
	    sh->slot_stride != rep->slot_stride ||
	    sh->incarnation != rep->incarnation ||
	    __atomic_load_n(&sh->retired, __ATOMIC_RELAXED) != 0) {
		munmap(base, (size_t)rep->seg_size);
		return ERRSEQ_EPROTO;
	}
	m = calloc(1, sizeof(*m));
	if (!m) {
		munmap(base, (size_t)rep->seg_size);
		return -ENOMEM;
	}
	m->base = base;
	m->size = (size_t)rep->seg_size;
	m->incarnation = rep->incarnation;
	m->slot_count = rep->slot_count;
	m->refs = 1;
	*out = m;
	return 0;
}

void errseq__map_put_locked(struct errseq__map *m)
{
	if (!m || --m->refs > 0)
		return;
	munmap(m->base, m->size);
	free(m);
}

/* HELLO on c->fd: fills *@rep, passes the segment fd in *@seg_fd. */
static int hello_locked(struct errseq_client *c, struct esp_hello_rep *rep,
			int *seg_fd)
{
	struct esp_hello_req req = {
		.hdr.op = ESP_OP_HELLO,
		.min_version = ESP_VERSION,
		.max_version = ESP_VERSION,
	};
	size_t len;
	int r;

	r = errseq__call_locked(c, &req, sizeof(req), &len, seg_fd);
	if (r < 0) {
		errseq__drop_locked(c);	/* refused: no use staying */
		return r;
	}
	if (len != sizeof(*rep)) {
		r = ERRSEQ_EPROTO;
		goto fail;
	}
	memcpy(rep, c->rxbuf, sizeof(*rep));
	if (rep->version != ESP_VERSION) {
		r = -EPROTONOSUPPORT;
		goto fail;
	}
	if (rep->layout_version != ESD_LAYOUT_VERSION || *seg_fd < 0) {
		r = ERRSEQ_EPROTO;
		goto fail;
	}
	return 0;
fail:
	if (*seg_fd >= 0)
		close(*seg_fd);
	*seg_fd = -1;
	errseq__drop_locked(c);
	return r;
}

/* REATTACH every slot of the current map.  0, or a transport failure
 * (then the connection is dropped and the whole attempt is redone). */
static int reattach_all_locked(struct errseq_client *c)
{
	struct errseq__link *l;

	for (l = c->slots.next; l != &c->slots; l = l->next) {
		struct errseq_slot *s =
			errseq__container(l, struct errseq_slot, link);
		struct esp_reattach_req req = {
			.hdr.op = ESP_OP_REATTACH,
			.index = s->index,
			.gen = s->gen,
			.name_len = s->name_len,
		};
		const struct esp_open_rep *rep =
			(const struct esp_open_rep *)c->rxbuf;
		size_t len;
		int r;

		s->held = false;
		if (s->map != c->map)
			continue;
		memcpy(req.name, s->name, s->name_len);
		r = errseq__call_locked(c, &req, sizeof(req), &len, NULL);
		if (r == 0 && len != sizeof(*rep)) {
			errseq__drop_locked(c);
			return ERRSEQ_EPROTO;
		}
		if (r == 0 && rep->index == s->index && rep->gen == s->gen)
			s->held = true;
		else if (r == -ENOTCONN || r == -EPIPE ||
			 r == -ETIMEDOUT || r == ERRSEQ_EPROTO)
			return r;
		/* else -ESTALE and friends: the slot is gone; its handle's
		 * data calls report stale through the generation check */
	}
	return 0;
}

int errseq__connect_locked(struct errseq_client *c)
{
	struct esp_hello_rep rep;
	struct errseq__map *m = NULL;
	struct errseq__link *l;
	int seg_fd = -1, r;

	if (c->fd >= 0)
		return 0;
	r = dial(c);
	if (r < 0)
		return r;
	c->fd = r;
	c->conn_id++;
	errseq__kick(c);	/* the thread must poll the new socket */

	r = hello_locked(c, &rep, &seg_fd);
	if (r < 0)
		return r;

	if (c->map && c->map->incarnation == rep.incarnation) {
		/* Same segment: keep our mapping, take our holds again. */
		close(seg_fd);
		return reattach_all_locked(c);
	}

	r = map_segment(seg_fd, &rep, &m);
	close(seg_fd);
	if (r < 0) {
		errseq__drop_locked(c);
		return r;
	}
	if (c->map) {
		/* A new incarnation: every handle we have is from the old
		 * segment.  Turn them stale; each keeps its map reference. */
		for (l = c->slots.next; l != &c->slots; l = l->next) {
			struct errseq_slot *s =
				errseq__container(l, struct errseq_slot, link);

			s->held = false;
			errseq__slot_mark_stale(s);
		}
	}
	pthread_mutex_lock(&errseq__registry_lock);
	errseq__map_put_locked(c->map);
	c->map = m;
	pthread_mutex_unlock(&errseq__registry_lock);
	return 0;
}

/* Sleep @ms or until kicked.  Returns true if the client is closing. */
static bool nap(struct errseq_client *c, int ms)
{
	struct pollfd p = { c->evfd, POLLIN, 0 };
	uint64_t v;
	bool stop;

	if (poll(&p, 1, ms) > 0)
		(void)!read(c->evfd, &v, sizeof(v));
	pthread_mutex_lock(&c->mutex);
	stop = c->stopping;
	pthread_mutex_unlock(&c->mutex);
	return stop;
}

void *errseq__thread_main(void *arg)
{
	struct errseq_client *c = arg;
	int backoff = ESQ_BACKOFF_MIN_MS;

	/* Tell errseq_client_open we run: see the comment there. */
	pthread_mutex_lock(&c->mutex);
	c->thread_ready = true;
	pthread_cond_signal(&c->ready);
	pthread_mutex_unlock(&c->mutex);

	for (;;) {
		struct pollfd p[2];
		uint64_t id, v;
		int r;

		pthread_mutex_lock(&c->mutex);
		if (c->stopping) {
			pthread_mutex_unlock(&c->mutex);
			break;
		}
		if (c->fd < 0) {
			r = errseq__connect_locked(c);
			pthread_mutex_unlock(&c->mutex);
			if (r < 0) {
				if (nap(c, backoff))
					break;
				backoff = backoff * 2 > ESQ_BACKOFF_MAX_MS ?
					  ESQ_BACKOFF_MAX_MS : backoff * 2;
			} else {
				backoff = ESQ_BACKOFF_MIN_MS;
			}
			continue;
		}
		p[0] = (struct pollfd){ c->fd, 0, 0 };
		id = c->conn_id;
		pthread_mutex_unlock(&c->mutex);

		/* events = 0: only POLLHUP/POLLERR/POLLNVAL come back, so we
		 * never consume a reply meant for a caller */
		p[1] = (struct pollfd){ c->evfd, POLLIN, 0 };
		r = poll(p, 2, -1);
		if (r < 0)
			continue;	/* EINTR: signals are blocked, but... */
		if (p[1].revents & POLLIN)
			(void)!read(c->evfd, &v, sizeof(v));
		if (p[0].revents & (POLLHUP | POLLERR | POLLNVAL)) {
			pthread_mutex_lock(&c->mutex);
			if (c->conn_id == id)
				errseq__drop_locked(c);
			pthread_mutex_unlock(&c->mutex);
		}
	}
	return NULL;
}
