/*
 * server.c - the protocol server (see server.h and common/protocol.h).
 *
 * One libevent loop, single-threaded.  The listening socket and every
 * connection are level-triggered read events; replies are sent at once
 * with MSG_DONTWAIT, so the daemon never waits for a peer.
 *
 * Connection behaviour, in the order things are checked:
 *   accept     accept4(SOCK_NONBLOCK | SOCK_CLOEXEC); SO_PEERCRED (pid,
 *              uid, gid) is read once.  Beyond --max-clients connections
 *              the newcomer gets one esp_err_rep (op HELLO, seq 0, -EUSERS,
 *              "too many clients") and is closed.  When accept fails for
 *              lack of fds, accepting pauses for 250 ms.
 *   receive    recvmsg into ESP_MAX_MSG + 1 bytes, at most 32 packets per
 *              wake-up (fairness).  A zero-length read is the peer's close.
 *              Any fds a peer passes are closed at once.
 *   close      on a truncated or oversize packet, a packet shorter than
 *              esp_hdr or with a bad magic, a socket error, or a reply that
 *              cannot be sent without blocking (the peer does not read).
 *   errors     everything else gets an esp_err_rep (status -errno, short
 *              NUL-terminated msg) echoing the request's op and seq, and
 *              the connection lives on: the decoder's codes (request.h),
 *              then -EPROTO for any op before HELLO.
 *
 * Ops (after HELLO):
 *   HELLO      min_version <= 1 <= max_version; replies esp_hello_rep and
 *              passes the data segment fd (SCM_RIGHTS).  May be repeated:
 *              every HELLO sends the fd again.
 *   OPEN       name exists: -EEXIST with EXCL, else a hold on it.  Missing:
 *              -ENOENT without CREATE, else create it (-ENOSPC when no free
 *              index is left: held zombies do not count as free).  A
 *              connection with --max-open holds gets -EMFILE (checked
 *              before any create).  Replies esp_open_rep (index, gen,
 *              created = 1 iff this call created it).
 *   CLOSE      drops one hold this connection has on index (whatever the
 *              gen: a deleted slot's handle closes with its old gen), else
 *              -EBADF.  A deleted slot whose last hold goes is freed.
 *              Replies a bare esp_hdr.
 *   UNLINK     -ENOENT if missing; allowed to the creator's uid, uid 0 and
 *              the daemon's euid, else -EPERM.  Invalidates every handle
 *              and wakes every waiter at once.  Replies a bare esp_hdr.
 *   STAT       esp_stat_rep, or -ENOENT.  No side effect on the slot.
 *   LIST       esp_list_rep: live slots with index >= start, in index
 *              order, at most min(max or ESP_LIST_MAX, ESP_LIST_MAX);
 *              next is the index after the last returned, or ESP_LIST_END
 *              once the scan reached the end.
 *   STATUS     esp_status_rep (clients counts the asking connection).
 *   REATTACH   index < slot_count, LIVE, same gen and same name: a hold,
 *              replies esp_open_rep with created = 0; -EMFILE as OPEN;
 *              anything else -ESTALE.
 * When a connection closes for any reason, all its holds are dropped.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "common/common.h"
#include "common/protocol.h"
#include "daemon/holds.h"
#include "daemon/log.h"
#include "daemon/request.h"
#include "daemon/server.h"

#define ESD_PACKETS_PER_WAKE	32	/* then let other peers run */
#define ESD_ACCEPTS_PER_WAKE	64
#define ESD_ACCEPT_PAUSE_MS	250	/* after EMFILE / ENFILE */
#define ESD_RX_FDS_MAX		16	/* fds a peer may pass (all closed) */

struct esd_conn {
	LIST_ENTRY(esd_conn) link;
	struct esd_server *srv;
	struct event *ev;
	int fd;
	uint32_t id;		/* for the log */
	pid_t pid;		/* SO_PEERCRED at accept */
	uid_t uid;
	gid_t gid;
	bool hello;		/* HELLO done: other ops allowed */
	struct esd_holds holds;	/* index -> handles this connection has */
};

struct esd_server {
	struct event_base *base;
	struct event *listen_ev;
	struct event *pause_ev;	/* re-enables accepting after EMFILE */
	int listen_fd;
	struct esd_segment *seg;
	struct esd_registry *reg;
	struct esd_server_config cfg;
	LIST_HEAD(, esd_conn) conns;
	uint32_t nconns;
	uint32_t next_id;
	pid_t pid;
	uid_t euid;
	uint64_t last_fd_warn_ns;
	void *rx;		/* ESP_MAX_MSG + 1 bytes */
	void *tx;		/* ESP_MAX_MSG bytes, reply being built */
};

/* A reply to send: @len bytes at @buf, plus @fd by SCM_RIGHTS if >= 0. */
struct reply {
	const void *buf;
	size_t len;
	int fd;
	const char *why;	/* for an error reply */
};

static void release_holds(void *ctx, uint32_t index, uint32_t count)
{
	esd_registry_release(ctx, index, count);
}

static void conn_close(struct esd_conn *c, const char *reason)
{
	struct esd_server *s = c->srv;

	if (reason)
		esd_debug("client %u (pid %d uid %u): closed: %s", c->id,
			  (int)c->pid, (unsigned)c->uid, reason);
	esd_holds_each(&c->holds, release_holds, s->reg);
	esd_holds_fini(&c->holds);
	event_free(c->ev);
	close(c->fd);
	LIST_REMOVE(c, link);
	s->nconns--;
	free(c);
}

/* Send one packet without blocking.  Returns 0, or -1 after closing @c
 * (the peer is gone or does not read its replies). */
static int conn_send(struct esd_conn *c, const void *buf, size_t len, int fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (fd >= 0) {
		struct cmsghdr *cm;

		memset(&ctl, 0, sizeof(ctl));
		msg.msg_control = ctl.buf;
		msg.msg_controllen = sizeof(ctl.buf);
		cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	}
	do
		n = sendmsg(c->fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n == (ssize_t)len)
		return 0;
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
		esd_info("client %u (pid %d uid %u) does not read its "
			 "replies; closing it", c->id, (int)c->pid,
			 (unsigned)c->uid);
		conn_close(c, NULL);
	} else {
		conn_close(c, n < 0 ? strerror(errno) : "short send");
	}
	return -1;
}

static void fill_hdr(struct esp_hdr *h, uint16_t op, uint32_t seq,
		     int32_t status)
{
	h->magic = ESP_MAGIC;
	h->version = ESP_VERSION;
	h->op = op;
	h->seq = seq;
	h->status = status;
}

static int send_error(struct esd_conn *c, uint16_t op, uint32_t seq,
		      int code, const char *why)
{
	struct esp_err_rep rep;
	size_t n = why ? strlen(why) : 0;

	memset(&rep, 0, sizeof(rep));
	fill_hdr(&rep.hdr, op, seq, code);
	if (n > ESP_ERRMSG_MAX - 1)
		n = ESP_ERRMSG_MAX - 1;
	memcpy(rep.msg, why ? why : "", n);
	rep.msg_len = (uint32_t)n;
	return conn_send(c, &rep, sizeof(rep), -1);
}

/* ---- the ops: each fills @rp from s->tx and returns 0, or returns a
 * negative errno with rp->why set ---- */

static int refuse(struct reply *rp, int code, const char *why)
{
	rp->why = why;
	return code;
}

static int op_hello(struct esd_conn *c, const struct esd_request *q,
		    struct reply *rp)
{
	struct esd_server *s = c->srv;
	struct esp_hello_rep *rep = s->tx;

	memset(rep, 0, sizeof(*rep));
	fill_hdr(&rep->hdr, q->op, q->seq, 0);
	rep->version = ESP_VERSION;
	rep->layout_version = ESD_LAYOUT_VERSION;
	rep->slot_count = s->seg->slot_count;
	rep->slot_stride = sizeof(struct esd_slot);
	rep->header_size = ESD_PAGE;
	rep->daemon_pid = (uint32_t)s->pid;
	rep->incarnation = s->seg->incarnation;
	rep->seg_size = s->seg->size;
	rp->buf = rep;
	rp->len = sizeof(*rep);
	rp->fd = s->seg->fd;
	c->hello = true;
	return 0;
}

static int reply_open(struct esd_conn *c, const struct esd_request *q,
		      uint32_t index, uint32_t created, struct reply *rp)
{
	struct esd_server *s = c->srv;
	struct esp_open_rep *rep = s->tx;

	memset(rep, 0, sizeof(*rep));
	fill_hdr(&rep->hdr, q->op, q->seq, 0);
	rep->index = index;
	rep->gen = esd_registry_entry(s->reg, index)->gen;
	rep->created = created;
	rp->buf = rep;
	rp->len = sizeof(*rep);
	return 0;
}

/* Add one hold of @c on @index (registry and connection), or refuse. */
static int take_hold(struct esd_conn *c, uint32_t index, struct reply *rp)
{
	int r = esd_registry_hold(c->srv->reg, index);

	if (r < 0)
		return refuse(rp, r, "too many handles open on this slot");
	r = esd_holds_add(&c->holds, index);
	if (r < 0) {
		esd_registry_release(c->srv->reg, index, 1);
		return refuse(rp, r, "out of memory");
	}
	return 0;
}

static int op_open(struct esd_conn *c, const struct esd_request *q,
		   struct reply *rp)
{
	struct esd_server *s = c->srv;
	const char *name = q->u.name.name;
	size_t len = q->u.name.name_len;
	uint32_t flags = q->u.name.flags, created = 0;
	int index = esd_registry_lookup(s->reg, name, len), r;

	if (index >= 0 && (flags & ESP_OPEN_EXCL))
		return refuse(rp, -EEXIST, "slot exists");
	if (index < 0 && !(flags & ESP_OPEN_CREATE))
		return refuse(rp, -ENOENT, "no such slot");
	if (c->holds.total >= s->cfg.max_open)
		return refuse(rp, -EMFILE, "too many handles open on this "
			      "connection");
	if (index < 0) {
		index = esd_registry_create(s->reg, name, len, c->uid);
		if (index < 0)
			return refuse(rp, -ENOSPC, "no free slot in the "
				      "segment");
		created = 1;
		esd_debug("client %u (pid %d uid %u): created slot %d '%s'",
			  c->id, (int)c->pid, (unsigned)c->uid, index, name);
	}
	r = take_hold(c, (uint32_t)index, rp);
	if (r < 0)
		return r;
	return reply_open(c, q, (uint32_t)index, created, rp);
}

static int op_close(struct esd_conn *c, const struct esd_request *q,
		    struct reply *rp)
{
	struct esd_server *s = c->srv;
	struct esp_hdr *rep = s->tx;

	if (esd_holds_drop(&c->holds, q->u.slot.index) < 0)
		return refuse(rp, -EBADF, "slot not open on this connection");
	esd_registry_release(s->reg, q->u.slot.index, 1);
	fill_hdr(rep, q->op, q->seq, 0);
	rp->buf = rep;
	rp->len = sizeof(*rep);
	return 0;
}

static int op_unlink(struct esd_conn *c, const struct esd_request *q,
		     struct reply *rp)
{
	struct esd_server *s = c->srv;
	struct esp_hdr *rep = s->tx;
	int index = esd_registry_lookup(s->reg, q->u.name.name,
					q->u.name.name_len);
	uid_t creator;

	if (index < 0)
		return refuse(rp, -ENOENT, "no such slot");
	creator = esd_registry_entry(s->reg, (uint32_t)index)->creator_uid;
	if (c->uid != creator && c->uid != 0 && c->uid != s->euid)
		return refuse(rp, -EPERM, "only the creator, root or the "
			      "daemon's user may delete a slot");
	esd_registry_delete(s->reg, (uint32_t)index);
	esd_debug("client %u (pid %d uid %u): deleted slot %d '%s'", c->id,
		  (int)c->pid, (unsigned)c->uid, index, q->u.name.name);
	fill_hdr(rep, q->op, q->seq, 0);
	rp->buf = rep;
	rp->len = sizeof(*rep);
	return 0;
}

static int op_stat(struct esd_conn *c, const struct esd_request *q,
		   struct reply *rp)
{
	struct esd_server *s = c->srv;
	struct esp_stat_rep *rep = s->tx;
	int index = esd_registry_lookup(s->reg, q->u.name.name,
					q->u.name.name_len);

	if (index < 0)
		return refuse(rp, -ENOENT, "no such slot");
	memset(rep, 0, sizeof(*rep));
	fill_hdr(&rep->hdr, q->op, q->seq, 0);
	esd_registry_info(s->reg, (uint32_t)index, &rep->info);
	rp->buf = rep;
	rp->len = sizeof(*rep);
	return 0;
}

static int op_list(struct esd_conn *c, const struct esd_request *q,
		   struct reply *rp)
{
	struct esd_server *s = c->srv;
	struct esp_list_rep *rep = s->tx;

	memset(rep, 0, sizeof(*rep));
	fill_hdr(&rep->hdr, q->op, q->seq, 0);
	rep->count = esd_registry_list(s->reg, q->u.list.start,
				       q->u.list.max, rep->entries,
				       &rep->next);
	rp->buf = rep;
	rp->len = sizeof(*rep) +
		  (size_t)rep->count * sizeof(struct esp_slot_info);
	return 0;
}

static int op_status(struct esd_conn *c, const struct esd_request *q,
		     struct reply *rp)
{
	struct esd_server *s = c->srv;
	struct esp_status_rep *rep = s->tx;

	memset(rep, 0, sizeof(*rep));
	fill_hdr(&rep->hdr, q->op, q->seq, 0);
	rep->pid = (uint32_t)s->pid;
	rep->slot_count = s->seg->slot_count;
	rep->slots_used = s->reg->live;
	rep->slots_held = s->reg->zombies;
	rep->clients = s->nconns;
	rep->max_clients = s->cfg.max_clients;
	rep->start_ns = s->cfg.start_ns;
	rep->uptime_ns = esd_now_ns(CLOCK_MONOTONIC) - s->cfg.start_mono_ns;
	rep->incarnation = s->seg->incarnation;
	rep->seg_size = s->seg->size;
	strncpy(rep->version, PACKAGE_VERSION, sizeof(rep->version) - 1);
	rp->buf = rep;
	rp->len = sizeof(*rep);
	return 0;
}

static int op_reattach(struct esd_conn *c, const struct esd_request *q,
		       struct reply *rp)
{
	struct esd_server *s = c->srv;
	uint32_t index = q->u.reattach.index;
	const struct esd_reg_entry *e;
	int r;

	if (!esd_registry_is_live(s->reg, index))
		return refuse(rp, -ESTALE, "slot no longer exists");
	e = esd_registry_entry(s->reg, index);
	if (e->gen != q->u.reattach.gen ||
	    e->name_len != q->u.reattach.name_len ||
	    memcmp(e->name, q->u.reattach.name, e->name_len) != 0)
		return refuse(rp, -ESTALE, "slot no longer exists");
	if (c->holds.total >= s->cfg.max_open)
		return refuse(rp, -EMFILE, "too many handles open on this "
			      "connection");
	r = take_hold(c, index, rp);
	if (r < 0)
		return r;
	return reply_open(c, q, index, 0, rp);
}

/* Handle one packet.  Returns 0, or -1 if @c was closed (and freed). */
static int conn_packet(struct esd_conn *c, const void *buf, size_t len)
{
	struct esd_request q;
	struct reply rp = { .fd = -1, .why = "" };
	const char *why;
	int r;

	r = esd_request_decode(buf, len, &q, &why);
	if (r == ESD_REQUEST_CLOSE) {
		esd_info("client %u (pid %d uid %u): %s; closing it", c->id,
			 (int)c->pid, (unsigned)c->uid, why);
		conn_close(c, NULL);
		return -1;
	}
	if (r < 0) {
		esd_debug("client %u: op %u seq %u: %s", c->id, q.op, q.seq,
			  why);
		return send_error(c, q.op, q.seq, r, why);
	}
	if (!c->hello && q.op != ESP_OP_HELLO)
		return send_error(c, q.op, q.seq, -EPROTO,
				  "HELLO must come first");

	switch (q.op) {
	case ESP_OP_HELLO:
		r = op_hello(c, &q, &rp);
		break;
	case ESP_OP_OPEN:
		r = op_open(c, &q, &rp);
		break;
	case ESP_OP_CLOSE:
		r = op_close(c, &q, &rp);
		break;
	case ESP_OP_UNLINK:
		r = op_unlink(c, &q, &rp);
		break;
	case ESP_OP_STAT:
		r = op_stat(c, &q, &rp);
		break;
	case ESP_OP_LIST:
		r = op_list(c, &q, &rp);
		break;
	case ESP_OP_STATUS:
		r = op_status(c, &q, &rp);
		break;
	case ESP_OP_REATTACH:
		r = op_reattach(c, &q, &rp);
		break;
	default:	/* not reached: the decoder refuses unknown ops */
		r = refuse(&rp, -EOPNOTSUPP, "unknown op");
		break;
	}
	if (r < 0) {
		esd_debug("client %u: op %u seq %u: %s", c->id, q.op, q.seq,
			  rp.why);
		return send_error(c, q.op, q.seq, r, rp.why);
	}
	return conn_send(c, rp.buf, rp.len, rp.fd);
}

/* Close any fds a peer passed us: we never want them. */
static void drop_passed_fds(struct msghdr *msg)
{
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(msg); cm;
	     cm = CMSG_NXTHDR(msg, cm)) {
		size_t n;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int),
			       sizeof(int));
			close(fd);
		}
	}
}

static void conn_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct esd_conn *c = arg;
	struct esd_server *s = c->srv;

	for (int k = 0; k < ESD_PACKETS_PER_WAKE; k++) {
		union {
			char buf[CMSG_SPACE(ESD_RX_FDS_MAX * sizeof(int))];
			struct cmsghdr align;
		} ctl;
		struct iovec iov = { .iov_base = s->rx,
				     .iov_len = ESP_MAX_MSG + 1 };
		struct msghdr msg = {
			.msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = ctl.buf,
			.msg_controllen = sizeof(ctl.buf),
		};
		ssize_t n = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			if (errno == EINTR)
				continue;
			conn_close(c, strerror(errno));
			return;
		}
		if (msg.msg_controllen > 0)
			drop_passed_fds(&msg);
		if (n == 0) {
			conn_close(c, "peer closed");
			return;
		}
		if ((msg.msg_flags & MSG_TRUNC) || (size_t)n > ESP_MAX_MSG) {
			esd_info("client %u (pid %d uid %u): packet larger "
				 "than %u bytes; closing it", c->id,
				 (int)c->pid, (unsigned)c->uid, ESP_MAX_MSG);
			conn_close(c, NULL);
			return;
		}
		if (conn_packet(c, s->rx, (size_t)n) < 0)
			return;
	}
}

/* Refuse a connection beyond --max-clients, with one error reply. */
static void refuse_client(int fd)
{
	struct esp_err_rep rep;
	static const char why[] = "too many clients";

	memset(&rep, 0, sizeof(rep));
	fill_hdr(&rep.hdr, ESP_OP_HELLO, 0, -EUSERS);
	memcpy(rep.msg, why, sizeof(why));
	rep.msg_len = sizeof(why) - 1;
	(void)send(fd, &rep, sizeof(rep), MSG_DONTWAIT | MSG_NOSIGNAL);
	close(fd);
}

static void conn_new(struct esd_server *s, int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct esd_conn *c;

	if (s->nconns >= s->cfg.max_clients) {
		esd_info("refusing a client: %u clients already (see "
			 "--max-clients)", s->nconns);
		refuse_client(fd);
		return;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		esd_warn("SO_PEERCRED failed: %s; dropping the client",
			 strerror(errno));
		close(fd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		esd_warn("out of memory; dropping a client");
		close(fd);
		return;
	}
	c->srv = s;
	c->fd = fd;
	c->id = ++s->next_id;
	c->pid = cred.pid;
	c->uid = cred.uid;
	c->gid = cred.gid;
	c->ev = event_new(s->base, fd, EV_READ | EV_PERSIST, conn_read_cb, c);
	if (!c->ev || event_add(c->ev, NULL) < 0) {
		esd_warn("cannot watch a client socket; dropping it");
		if (c->ev)
			event_free(c->ev);
		close(fd);
		free(c);
		return;
	}
	LIST_INSERT_HEAD(&s->conns, c, link);
	s->nconns++;
	esd_debug("client %u connected: pid %d uid %u gid %u", c->id,
		  (int)c->pid, (unsigned)c->uid, (unsigned)c->gid);
}

static void pause_cb(evutil_socket_t fd, short what, void *arg)
{
	struct esd_server *s = arg;

	if (event_add(s->listen_ev, NULL) < 0)
		esd_error("cannot resume accepting connections");
}

static void accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	struct esd_server *s = arg;

	for (int k = 0; k < ESD_ACCEPTS_PER_WAKE; k++) {
		int fd = accept4(lfd, NULL, NULL,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd >= 0) {
			conn_new(s, fd);
			continue;
		}
		switch (errno) {
		case EAGAIN:
#if EWOULDBLOCK != EAGAIN
		case EWOULDBLOCK:
#endif
			return;
		case EINTR:
		case ECONNABORTED:
		case EPROTO:
			continue;
		case EMFILE:
		case ENFILE:
		case ENOBUFS:
		case ENOMEM: {
			/* The pending connection stays readable: pause
			 * rather than spin, and warn at most every 10 s. */
			struct timeval tv = { 0, ESD_ACCEPT_PAUSE_MS * 1000 };
			uint64_t now = esd_now_ns(CLOCK_MONOTONIC);

			if (now - s->last_fd_warn_ns > 10000000000ull) {
				esd_warn("cannot accept: %s (%u clients); "
					 "pausing", strerror(errno),
					 s->nconns);
				s->last_fd_warn_ns = now;
			}
			event_del(s->listen_ev);
			evtimer_add(s->pause_ev, &tv);
			return;
		}
		default:
			esd_warn("accept: %s", strerror(errno));
			return;
		}
	}
}

int esd_server_new(struct event_base *base, int listen_fd,
		   struct esd_segment *seg, struct esd_registry *reg,
		   const struct esd_server_config *cfg,
		   struct esd_server **out)
{
	struct esd_server *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->base = base;
	s->listen_fd = listen_fd;
	s->seg = seg;
	s->reg = reg;
	s->cfg = *cfg;
	s->pid = getpid();
	s->euid = geteuid();
	LIST_INIT(&s->conns);
	s->rx = malloc(ESP_MAX_MSG + 1);
	s->tx = calloc(1, ESP_MAX_MSG);
	s->listen_ev = event_new(base, listen_fd, EV_READ | EV_PERSIST,
				 accept_cb, s);
	s->pause_ev = evtimer_new(base, pause_cb, s);
	if (!s->rx || !s->tx || !s->listen_ev || !s->pause_ev ||
	    event_add(s->listen_ev, NULL) < 0) {
		esd_server_free(s);
		return -ENOMEM;
	}
	*out = s;
	return 0;
}

void esd_server_free(struct esd_server *s)
{
	if (!s)
		return;
	while (!LIST_EMPTY(&s->conns))
		conn_close(LIST_FIRST(&s->conns), "daemon stopping");
	if (s->listen_ev)
		event_free(s->listen_ev);
	if (s->pause_ev)
		event_free(s->pause_ev);
	free(s->rx);
	free(s->tx);
	free(s);
}

uint32_t esd_server_clients(const struct esd_server *s)
{
	return s->nconns;
}
