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
 * A successful (re)connect compares the daemon state's incarnation with the
 * one mapped: the same state (a restart that adopted it) -> REATTACH every
 * open slot so the daemon counts our holds again (a -ESTALE answer leaves
 * the handle alone: its data calls already report stale via the generation
 * check); a new incarnation (the state was re-created) -> a new, empty
 * space, and every old handle turns stale (gen 0), keeping the old chunks
 * mapped until those handles are closed, as they point into them.
 *
 * Trust.  Before HELLO the client checks who it talks to: the daemon's
 * SO_PEERCRED uid must be root, our own, or the configured daemon user
 * (ESQ_DAEMON_USER); and a socket under the /tmp fallback directory is
 * used only if that directory is ours (or root's) and not writable by
 * group or others.  Otherwise ERRSEQ_EUNSAFE, and nothing is sent.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/common.h"
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

/* Is the /tmp fallback directory of @path (if it is in one) safe: a real
 * directory owned by us or root, not writable by group or others? */
static bool tmp_dir_safe(const char *path)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct stat sb;
	char *slash;

	if (strncmp(path, "/tmp/errseqd-", 13) != 0)
		return true;
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return true;
	*slash = '\0';
	if (lstat(dir, &sb) < 0)
		return true;	/* connect fails on its own */
	return S_ISDIR(sb.st_mode) &&
	       (sb.st_uid == geteuid() || sb.st_uid == 0) &&
	       !(sb.st_mode & 022);
}

/* May a daemon running as @uid serve us? */
static bool daemon_uid_ok(uid_t uid)
{
	struct passwd pw, *res = NULL;
	char buf[1024];

	if (uid == 0 || uid == geteuid() || uid == getuid())
		return true;
	if (getpwnam_r(ESQ_DAEMON_USER, &pw, buf, sizeof(buf), &res) == 0 &&
	    res && res->pw_uid == uid)
		return true;
	return false;
}

/* A new SEQPACKET socket connected to c->path, with I/O timeouts.
 * Returns the fd or a negative errno. */
static int dial(const struct errseq_client *c)
{
	struct ucred cr;
	socklen_t crlen = sizeof(cr);
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
	if (!tmp_dir_safe(c->path) ||
	    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &crlen) < 0 ||
	    !daemon_uid_ok(cr.uid)) {
		close(fd);
		return ERRSEQ_EUNSAFE;
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
	ssize_t n;
	int got;

	do {
		n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC | flags);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EAGAIN ? -ETIMEDOUT : -errno;

	got = esd_take_passed_fd(&mh);
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

/* A new, empty space for the state HELLO announced in @rep. */
static int space_new(const struct esp_hello_rep *rep,
		     struct errseq__space **out)
{
	struct errseq__space *sp;

	if (rep->max_slots < ESD_CHUNK_SLOTS || rep->max_slots > ESD_MAX_SLOTS ||
	    rep->max_slots % ESD_CHUNK_SLOTS ||
	    rep->chunk_slots != ESD_CHUNK_SLOTS ||
	    rep->slot_stride != sizeof(struct esd_slot) ||
	    rep->incarnation == 0)
		return ERRSEQ_EPROTO;
	sp = calloc(1, sizeof(*sp));
	if (!sp)
		return -ENOMEM;
	sp->incarnation = rep->incarnation;
	sp->max_slots = rep->max_slots;
	sp->max_chunks = esd_max_chunks(rep->max_slots);
	sp->base = calloc(sp->max_chunks, sizeof(*sp->base));
	sp->writable = calloc(sp->max_chunks, 1);
	if (!sp->base || !sp->writable) {
		free(sp->base);
		free(sp->writable);
		free(sp);
		return -ENOMEM;
	}
	sp->refs = 1;
	*out = sp;
	return 0;
}

void errseq__space_put_locked(struct errseq__space *sp)
{
	if (!sp || --sp->refs > 0)
		return;
	for (uint32_t c = 0; c < sp->max_chunks; c++)
		if (sp->base[c])
			munmap(sp->base[c], ESD_CHUNK_BYTES);
	free(sp->base);
	free(sp->writable);
	free(sp);
}

int errseq__chunk_attach_locked(struct errseq_client *c, uint32_t chunk,
				int fd, bool writable)
{
	struct errseq__space *sp = c->space;
	struct stat sb;
	void *base;
	int acc;

	if (chunk >= sp->max_chunks) {
		if (fd >= 0)
			close(fd);
		return ERRSEQ_EPROTO;
	}
	if (sp->base[chunk]) {
		if (fd >= 0)
			close(fd);	/* mapped on an earlier connection */
		return 0;
	}
	if (fd < 0)
		return ERRSEQ_EPROTO;
	/* A file shorter than a chunk would SIGBUS us on first touch; the
	 * daemon seals its chunks so that nobody can shrink them later. */
	acc = fcntl(fd, F_GETFL);
	if (fstat(fd, &sb) < 0 || (uint64_t)sb.st_size < ESD_CHUNK_BYTES ||
	    acc < 0 || (writable && (acc & O_ACCMODE) != O_RDWR)) {
		close(fd);
		return ERRSEQ_EPROTO;
	}
	base = mmap(NULL, ESD_CHUNK_BYTES,
		    PROT_READ | (writable ? PROT_WRITE : 0), MAP_SHARED, fd, 0);
	close(fd);
	if (base == MAP_FAILED)
		return -errno;
	sp->base[chunk] = base;
	sp->writable[chunk] = writable;
	return 0;
}

/* HELLO on c->fd: fills *@rep. */
static int hello_locked(struct errseq_client *c, struct esp_hello_rep *rep)
{
	struct esp_hello_req req = {
		.hdr.op = ESP_OP_HELLO,
		.min_version = ESP_VERSION,
		.max_version = ESP_VERSION,
	};
	size_t len;
	int r;

	r = errseq__call_locked(c, &req, sizeof(req), &len, NULL);
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
	if (rep->layout_version != ESD_LAYOUT_VERSION) {
		r = ERRSEQ_EPROTO;
		goto fail;
	}
	return 0;
fail:
	errseq__drop_locked(c);
	return r;
}

/* REATTACH every slot of the current space.  0, or a transport failure
 * (then the connection is dropped and the whole attempt is redone). */
static int reattach_all_locked(struct errseq_client *c)
{
	struct errseq__link *l;

	for (l = c->slots.next; l != &c->slots; l = l->next) {
		struct errseq__handle *s =
			errseq__container(l, struct errseq__handle, link);
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
		if (s->space != c->space)
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
	struct errseq__space *sp = NULL;
	struct errseq__link *l;
	int r;

	if (c->fd >= 0)
		return 0;
	r = dial(c);
	if (r < 0)
		return r;
	c->fd = r;
	c->conn_id++;
	errseq__kick(c);	/* the thread must poll the new socket */

	r = hello_locked(c, &rep);
	if (r < 0)
		return r;
	c->daemon_uid = rep.daemon_uid;

	if (c->space && c->space->incarnation == rep.incarnation)
		/* Same state: keep our chunks, take our holds again. */
		return reattach_all_locked(c);

	r = space_new(&rep, &sp);
	if (r < 0) {
		errseq__drop_locked(c);
		return r;
	}
	if (c->space) {
		/* A new incarnation: every handle we have is from the old
		 * state.  Turn them stale; each keeps its space reference. */
		for (l = c->slots.next; l != &c->slots; l = l->next) {
			struct errseq__handle *h =
				errseq__container(l, struct errseq__handle,
						  link);

			h->held = false;
			errseq__slot_mark_stale(h->hot);
		}
	}
	pthread_mutex_lock(&errseq__registry_lock);
	errseq__space_put_locked(c->space);
	c->space = sp;
	pthread_mutex_unlock(&errseq__registry_lock);
	return 0;
}

/* One SEEN or ARM exchange for @s on the current connection; mutex held. */
static int slot_request_locked(struct errseq__handle *s, uint16_t op,
			       uint32_t value)
{
	struct errseq_client *c = s->client;
	struct esp_seen_req req = {
		.hdr.op = op,
		.index = s->index,
		.gen = s->gen,
		.value = value,	/* SEEN: the value; ARM: on = 1 */
	};
	size_t len;
	int r;

	_Static_assert(sizeof(struct esp_seen_req) ==
		       sizeof(struct esp_arm_req), "same shape");
	if (c->fd < 0 || !s->held || s->space != c->space)
		return -ENOTCONN;
	r = errseq__call_locked(c, &req, sizeof(req), &len, NULL);
	if (r == 0 && len != sizeof(struct esp_hdr)) {
		errseq__drop_locked(c);
		r = ERRSEQ_EPROTO;
	}
	return r;
}

int errseq__request_seen(struct errseq_slot *hot, uint32_t value, bool block)
{
	struct errseq__handle *s = errseq__cold(hot);
	struct errseq_client *c = s->client;
	int r;

	if (errseq__forked(c))
		return ERRSEQ_EFORKED;
	if (block)
		pthread_mutex_lock(&c->mutex);
	else if (pthread_mutex_trylock(&c->mutex) != 0)
		return -EBUSY;
	r = slot_request_locked(s, ESP_OP_SEEN, value);
	pthread_mutex_unlock(&c->mutex);
	return r;
}

int errseq__request_arm(struct errseq_slot *hot)
{
	struct errseq__handle *s = errseq__cold(hot);
	struct errseq_client *c = s->client;
	int r = 0;

	if (errseq__forked(c))
		return ERRSEQ_EFORKED;
	pthread_mutex_lock(&c->mutex);
	if (s->armed_conn != c->conn_id || c->fd < 0) {
		r = slot_request_locked(s, ESP_OP_ARM, 1);
		if (r == 0)
			s->armed_conn = c->conn_id;
	}
	pthread_mutex_unlock(&c->mutex);
	return r;
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
