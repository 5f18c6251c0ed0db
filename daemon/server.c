/*
 * server.c - the protocol server (see server.h and common/protocol.h).
 *
 * One libevent loop, single-threaded.  The listening socket and every
 * connection are level-triggered read events; replies are sent at once
 * with MSG_DONTWAIT, so the daemon never waits for a peer.
 *
 * Connection behaviour, in the order things are checked:
 *   accept     accept4(SOCK_NONBLOCK | SOCK_CLOEXEC); SO_PEERCRED (pid,
 *              uid, gid) and SO_PEERGROUPS are read once.  Beyond
 *              --max-clients connections, or --max-clients-per-uid for the
 *              peer's uid (root and the daemon's user exempt), the newcomer
 *              gets one esp_err_rep (op HELLO, seq 0, -EUSERS) and is
 *              closed.  A connection that has not said HELLO within
 *              --hello-timeout is closed.  When accept fails for lack of
 *              fds, accepting pauses for 250 ms.
 *   receive    recvmsg into ESP_MAX_MSG + 1 bytes, one packet per
 *              connection per wake-up (libevent then serves the others:
 *              fairness).  A zero-length read is the peer's close.  Any fds
 *              a peer passes are closed at once.
 *   close      on a truncated or oversize packet, a packet shorter than
 *              esp_hdr or with a bad magic, a socket error, or a reply that
 *              cannot be sent without blocking (the peer does not read).
 *   errors     everything else gets an esp_err_rep (status -errno, short
 *              NUL-terminated msg) echoing the request's op and seq, and
 *              the connection lives on.  Refusals a user should hear of
 *              (permission, quota, capacity) are logged at info with the
 *              peer's uid and pid, rate-limited.
 *
 * Ops (after HELLO): see doc/protocol.md, which is the contract; in short
 *   HELLO      once per connection (a second one is -EPROTO); no fd.
 *   OPEN       an existing slot: a hold (-EEXIST with EXCL).  A missing
 *              one: -ENOENT without CREATE, else created in the writer
 *              domain (peer uid, and ESP_OPEN_GROUP's gid, of which the
 *              peer must be a member: else -EPERM).  -EMFILE beyond
 *              --max-open holds per connection or --max-open-per-uid;
 *              -EDQUOT beyond --max-slots-per-uid live slots created;
 *              -ENOSPC at the global maximum.  The reply says whether the
 *              peer may write, and carries the slot's chunk (O_RDWR or
 *              O_RDONLY) the first time this connection meets that chunk.
 *   CLOSE      drops one hold (else -EBADF); the last one also disarms.
 *   UNLINK     the creator, root and the daemon's user only (-EPERM).
 *   STAT/LIST  slot info as the asking peer sees it (writable flag).
 *   STATUS     esp_status_rep, with the asking uid's usage and limits.
 *   REATTACH   a hold again on (index, gen, name) after a reconnect, else
 *              -ESTALE; never passes a chunk.
 *   SEEN       a held slot: the daemon's SEEN CAS for a read-only watcher.
 *   ARM        a held slot: count this connection among its waiters.
 * When a connection closes for any reason, its holds and arms are dropped.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
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
#include "daemon/sdnotify.h"
#include "daemon/server.h"

#define ESD_ACCEPTS_PER_WAKE	64
#define ESD_ACCEPT_PAUSE_MS	250	/* after EMFILE / ENFILE */
#define ESD_RX_FDS_MAX		16	/* fds a peer may pass (all closed) */
#define ESD_GROUPS_MAX		256	/* supplementary groups read */

struct esd_conn {
	LIST_ENTRY(esd_conn) link;
	struct esd_server *srv;
	struct event *ev;
	struct event *hello_ev;	/* closes a connection that never HELLOs */
	int fd;
	uint32_t id;		/* for the log */
	struct esd_cred cred;	/* SO_PEERCRED + SO_PEERGROUPS at accept */
	struct esd_usage *usage;	/* the peer uid's */
	bool hello;		/* HELLO done: other ops allowed */
	struct esd_holds holds;	/* index -> handles this connection has */
	struct esd_holds armed;	/* index -> 1 if this connection armed it */
	uint8_t *passed;	/* bitmap of chunks passed, or NULL */
};

struct esd_server {
	struct event_base *base;
	struct event *listen_ev;
	struct event *pause_ev;	/* re-enables accepting after EMFILE */
	struct event *tick_ev;	/* sd_notify STATUS= and WATCHDOG=1 */
	int listen_fd;
	struct esd_store *st;
	struct esd_registry *reg;
	struct esd_quota *quota;
	struct esd_server_config cfg;
	LIST_HEAD(, esd_conn) conns;
	uint32_t nconns;
	uint32_t next_id;
	pid_t pid;
	uid_t euid;
	uint64_t last_fd_warn_ns;
	uint64_t watchdog_ns;	/* WATCHDOG_USEC, or 0 */
	char last_status[160];
	struct esd_ratelimit refusals;	/* refusals' log lines */
	struct esd_ratelimit lifecycle;	/* creates' and deletes' log lines */
	void *rx;		/* ESP_MAX_MSG + 1 bytes */
	void *tx;		/* ESP_MAX_MSG bytes, reply being built */
};

/* A reply to send: @len bytes at @buf, plus @fd by SCM_RIGHTS if >= 0. */
struct reply {
	const void *buf;
	size_t len;
	int fd;
	const char *why;	/* for an error reply */
	bool notable;		/* log the refusal at info (rate-limited) */
};

/* ---- logging what peers do, rate-limited ---- */

static void note(struct esd_ratelimit *rl, const struct esd_conn *c,
		 const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Log a line about @c at info, within @rl (refusals and lifecycle events
 * have a budget each, so that a flood of one cannot hide the other). */
static void note(struct esd_ratelimit *rl, const struct esd_conn *c,
		 const char *fmt, ...)
{
	char buf[400];
	uint32_t dropped;
	va_list ap;

	if (!esd_ratelimit(rl, &dropped))
		return;
	if (dropped)
		esd_info("%u more client messages were not logged "
			 "(rate limit)", dropped);
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	esd_info("client %u (pid %d uid %u): %s", c->id, (int)c->cred.pid,
		 (unsigned)c->cred.uid, buf);
}

/* ---- holds and arms: the one owner of the joint accounting of a
 * connection's holds, the registry's holder counts and the uid's usage ---- */

static void disarm(struct esd_conn *c, uint32_t index)
{
	if (esd_holds_drop(&c->armed, index) == 0)
		esd_registry_arm(c->srv->reg, index, false);
}

/* One hold of @c on @index, within every limit, or a refusal. */
static int hold_take(struct esd_conn *c, uint32_t index, struct reply *rp)
{
	struct esd_server *s = c->srv;
	int r;

	if (c->holds.total >= s->cfg.max_open) {
		rp->notable = true;
		return esd_refuse(&rp->why, -EMFILE, "too many handles open on "
				  "this connection (see errseqd --max-open)");
	}
	if (s->quota->max_holds && c->usage->holds >= s->quota->max_holds &&
	    !esd_quota_exempt(s->quota, c->cred.uid)) {
		rp->notable = true;
		return esd_refuse(&rp->why, -EMFILE, "too many handles open "
				  "by this user (see errseqd "
				  "--max-open-per-uid)");
	}
	r = esd_registry_hold(s->reg, index);
	if (r < 0)
		return esd_refuse(&rp->why, r, "too many handles open on "
				  "this slot");
	r = esd_holds_add(&c->holds, index);
	if (r < 0) {
		esd_registry_release(s->reg, index, 1);
		return esd_refuse(&rp->why, r, "out of memory");
	}
	c->usage->holds++;
	return 0;
}

/* Drop one hold of @c on @index; the last one also disarms. */
static int hold_drop(struct esd_conn *c, uint32_t index)
{
	if (esd_holds_drop(&c->holds, index) < 0)
		return -EBADF;
	esd_registry_release(c->srv->reg, index, 1);
	if (c->usage->holds)
		c->usage->holds--;
	if (esd_holds_count(&c->holds, index) == 0)
		disarm(c, index);
	return 0;
}

static void release_holds(void *ctx, uint32_t index, uint32_t count)
{
	struct esd_conn *c = ctx;

	esd_registry_release(c->srv->reg, index, count);
	c->usage->holds = c->usage->holds > count ? c->usage->holds - count : 0;
}

static void release_arms(void *ctx, uint32_t index, uint32_t count)
{
	struct esd_conn *c = ctx;

	esd_registry_arm(c->srv->reg, index, false);
}

static void conn_close(struct esd_conn *c, const char *reason)
{
	struct esd_server *s = c->srv;

	if (reason)
		esd_debug("client %u (pid %d uid %u): closed: %s", c->id,
			  (int)c->cred.pid, (unsigned)c->cred.uid, reason);
	esd_holds_each(&c->armed, release_arms, c);
	esd_holds_fini(&c->armed);
	esd_holds_each(&c->holds, release_holds, c);
	esd_holds_fini(&c->holds);
	if (c->usage->conns)
		c->usage->conns--;
	event_free(c->ev);
	if (c->hello_ev)
		event_free(c->hello_ev);
	close(c->fd);
	LIST_REMOVE(c, link);
	s->nconns--;
	free(c->cred.groups);
	free(c->passed);
	free(c);
}

/* Send one packet without blocking.  Returns 0, or -1 after closing @c
 * (the peer is gone or does not read its replies). */
static int conn_send(struct esd_conn *c, const void *buf, size_t len, int fd)
{
	long n = esd_send_fd(c->fd, buf, len, fd, MSG_DONTWAIT, NULL, 0);

	if (n == (long)len)
		return 0;
	if (n == -EAGAIN || n == -EWOULDBLOCK) {
		esd_info("client %u (pid %d uid %u) does not read its "
			 "replies; closing it", c->id, (int)c->cred.pid,
			 (unsigned)c->cred.uid);
		conn_close(c, NULL);
	} else {
		conn_close(c, n < 0 ? strerror((int)-n) : "short send");
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

/* A bare esp_hdr success reply. */
static int reply_ok(struct esd_conn *c, const struct esd_request *q,
		    struct reply *rp)
{
	struct esp_hdr *rep = c->srv->tx;

	fill_hdr(rep, q->op, q->seq, 0);
	rp->buf = rep;
	rp->len = sizeof(*rep);
	return 0;
}

/* ---- capacity ---- */

static void check_capacity(struct esd_server *s)
{
	uint32_t max = s->reg->max_live, used = s->reg->live;

	if (!s->reg->warned_full && (uint64_t)used * 10 >= (uint64_t)max * 9) {
		esd_warn("%u of %u slots are in use (90 %%): at the maximum, "
			 "creating a slot fails with ENOSPC; raise it with "
			 "--slots and --recreate, or delete unused slots",
			 used, max);
		s->reg->warned_full = true;
	} else if (s->reg->warned_full &&
		   (uint64_t)used * 10 < (uint64_t)max * 8) {
		s->reg->warned_full = false;
	}
}

/* ---- the ops: each fills @rp from s->tx and returns 0, or returns a
 * negative errno with rp->why set ---- */

static int op_hello(struct esd_conn *c, const struct esd_request *q,
		    struct reply *rp)
{
	struct esd_server *s = c->srv;
	struct esp_hello_rep *rep = s->tx;

	if (c->hello)
		return esd_refuse(&rp->why, -EPROTO, "HELLO was already done "
				  "on this connection");
	memset(rep, 0, sizeof(*rep));
	fill_hdr(&rep->hdr, q->op, q->seq, 0);
	rep->version = ESP_VERSION;
	rep->layout_version = ESD_LAYOUT_VERSION;
	rep->max_slots = s->st->max_slots;
	rep->chunk_slots = ESD_CHUNK_SLOTS;
	rep->slot_stride = sizeof(struct esd_slot);
	rep->daemon_pid = (uint32_t)s->pid;
	rep->daemon_uid = (uint32_t)s->euid;
	rep->incarnation = s->st->incarnation;
	rp->buf = rep;
	rp->len = sizeof(*rep);
	c->hello = true;
	if (c->hello_ev) {
		event_free(c->hello_ev);
		c->hello_ev = NULL;
	}
	return 0;
}

/* Fill an open reply for @index; pass its chunk if @c has not had it. */
static int reply_open(struct esd_conn *c, const struct esd_request *q,
		      uint32_t index, uint32_t created, bool pass,
		      struct reply *rp)
{
	struct esd_server *s = c->srv;
	struct esp_open_rep *rep = s->tx;
	uint32_t chunk = ESD_INDEX_CHUNK(index);
	bool w = esd_registry_may_write(s->reg, index, &c->cred);

	memset(rep, 0, sizeof(*rep));
	fill_hdr(&rep->hdr, q->op, q->seq, 0);
	rep->index = index;
	rep->gen = esd_registry_gen(s->reg, index);
	rep->created = created;
	rep->flags = w ? ESP_RIGHT_WRITE : 0;
	if (pass && !(c->passed[chunk / 8] & (1u << (chunk % 8)))) {
		c->passed[chunk / 8] |= (uint8_t)(1u << (chunk % 8));
		rep->flags |= ESP_OPEN_FD;
		rp->fd = w ? s->st->chunk_fd[chunk] : s->st->chunk_ro_fd[chunk];
	}
	rp->buf = rep;
	rp->len = sizeof(*rep);
	return 0;
}

static int op_open(struct esd_conn *c, const struct esd_request *q,
		   struct reply *rp)
{
	struct esd_server *s = c->srv;
	const char *name = q->u.name.name;
	size_t len = q->u.name.name_len;
	uint32_t flags = q->u.name.flags, created = 0, gid = ESD_NO_GID;
	int index = esd_registry_lookup(s->reg, name, len), r;

	if (index >= 0 && (flags & ESP_OPEN_EXCL))
		return esd_refuse(&rp->why, -EEXIST, "slot exists");
	if (index < 0 && !(flags & ESP_OPEN_CREATE))
		return esd_refuse(&rp->why, -ENOENT, "no such slot");
	if (!c->passed) {
		c->passed = calloc((s->st->max_chunks + 7) / 8, 1);
		if (!c->passed)
			return esd_refuse(&rp->why, -ENOMEM, "out of memory");
	}
	if (index < 0) {
		if (flags & ESP_OPEN_GROUP) {
			gid = q->u.name.gid;
			if (gid == ESD_NO_GID ||
			    !(c->cred.uid == 0 ||
			      esd_cred_in_group(&c->cred, gid))) {
				rp->notable = true;
				return esd_refuse(&rp->why, -EPERM, "only "
						  "members of a group may "
						  "make it a slot's writers");
			}
		}
		if (s->quota->max_slots &&
		    c->usage->slots >= s->quota->max_slots &&
		    !esd_quota_exempt(s->quota, c->cred.uid)) {
			rp->notable = true;
			return esd_refuse(&rp->why, -EDQUOT, "this user has "
					  "created its maximum of slots (see "
					  "errseqd --max-slots-per-uid); "
					  "delete some first");
		}
		if (c->holds.total >= s->cfg.max_open)
			return hold_take(c, 0, rp);	/* the -EMFILE */
		index = esd_registry_create(s->reg, name, len, c->cred.uid,
					    gid);
		if (index == -ENOSPC && s->reg->live >= s->reg->max_live) {
			rp->notable = true;
			return esd_refuse(&rp->why, -ENOSPC, "errseqd is at its "
					  "maximum of slots (see errseqd "
					  "--slots); delete unused slots");
		}
		if (index == -ENOSPC) {
			rp->notable = true;
			return esd_refuse(&rp->why, -ENOSPC, "no room for "
					  "another chunk of slots (too many "
					  "writer domains; see errseqd "
					  "--slots)");
		}
		if (index == -EDQUOT) {
			rp->notable = true;
			return esd_refuse(&rp->why, -EDQUOT, "this user's writer "
					  "domains use their maximum of "
					  "memory chunks; delete slots or use "
					  "fewer writer groups");
		}
		if (index < 0)
			return esd_refuse(&rp->why, index, "cannot create the "
					  "slot (out of memory)");
		created = 1;
		note(&s->lifecycle, c, "created slot '%s'%s", name,
		     gid != ESD_NO_GID ? " with a writer group" : "");
		check_capacity(s);
	}
	r = hold_take(c, (uint32_t)index, rp);
	if (r < 0)
		return r;
	return reply_open(c, q, (uint32_t)index, created, true, rp);
}

static int op_close(struct esd_conn *c, const struct esd_request *q,
		    struct reply *rp)
{
	if (hold_drop(c, q->u.slot.index) < 0)
		return esd_refuse(&rp->why, -EBADF, "slot not open on this "
				  "connection");
	return reply_ok(c, q, rp);
}

static int op_unlink(struct esd_conn *c, const struct esd_request *q,
		     struct reply *rp)
{
	struct esd_server *s = c->srv;
	int index = esd_registry_lookup(s->reg, q->u.name.name,
					q->u.name.name_len);

	if (index < 0)
		return esd_refuse(&rp->why, -ENOENT, "no such slot");
	if (!esd_registry_may_delete(s->reg, (uint32_t)index, &c->cred)) {
		rp->notable = true;
		return esd_refuse(&rp->why, -EPERM, "only the slot's creator, "
				  "root or the daemon's user may delete it");
	}
	esd_registry_delete(s->reg, (uint32_t)index);
	note(&s->lifecycle, c, "deleted slot '%s'", q->u.name.name);
	check_capacity(s);
	return reply_ok(c, q, rp);
}

static int op_stat(struct esd_conn *c, const struct esd_request *q,
		   struct reply *rp)
{
	struct esd_server *s = c->srv;
	struct esp_stat_rep *rep = s->tx;
	int index = esd_registry_lookup(s->reg, q->u.name.name,
					q->u.name.name_len);

	if (index < 0)
		return esd_refuse(&rp->why, -ENOENT, "no such slot");
	memset(rep, 0, sizeof(*rep));
	fill_hdr(&rep->hdr, q->op, q->seq, 0);
	esd_registry_info(s->reg, (uint32_t)index, &c->cred, &rep->info);
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
				       q->u.list.max, &c->cred, rep->entries,
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
	rep->slot_count = s->reg->max_live;
	rep->slots_used = s->reg->live;
	rep->slots_held = s->reg->zombies;
	rep->clients = s->nconns;
	rep->max_clients = s->cfg.max_clients;
	rep->start_ns = s->cfg.start_ns;
	rep->uptime_ns = esd_now_ns(CLOCK_MONOTONIC) - s->cfg.start_mono_ns;
	rep->incarnation = s->st->incarnation;
	rep->seg_size = (uint64_t)s->st->chunks * ESD_CHUNK_BYTES;
	strncpy(rep->version, PACKAGE_VERSION, sizeof(rep->version) - 1);
	rep->chunks = s->st->chunks;
	rep->chunk_slots = ESD_CHUNK_SLOTS;
	rep->uid_slots = c->usage->slots;
	rep->max_uid_slots = s->quota->max_slots;
	rep->uid_clients = c->usage->conns;
	rep->max_uid_clients = s->quota->max_conns;
	rep->uid_holds = c->usage->holds;
	rep->max_uid_holds = s->quota->max_holds;
	rp->buf = rep;
	rp->len = sizeof(*rep);
	return 0;
}

static int op_reattach(struct esd_conn *c, const struct esd_request *q,
		       struct reply *rp)
{
	struct esd_server *s = c->srv;
	uint32_t index = q->u.reattach.index;
	int r;

	if (!esd_registry_is_same(s->reg, index, q->u.reattach.gen,
				  q->u.reattach.name,
				  q->u.reattach.name_len))
		return esd_refuse(&rp->why, -ESTALE, "slot no longer exists");
	r = hold_take(c, index, rp);
	if (r < 0)
		return r;
	return reply_open(c, q, index, 0, false, rp);
}

/* SEEN and ARM need a hold on a live slot of the same generation. */
static int held_live(struct esd_conn *c, uint32_t index, uint32_t gen,
		     struct reply *rp)
{
	if (esd_holds_count(&c->holds, index) == 0)
		return esd_refuse(&rp->why, -EBADF, "slot not open on this "
				  "connection");
	if (!esd_registry_is_live(c->srv->reg, index) ||
	    esd_registry_gen(c->srv->reg, index) != gen)
		return esd_refuse(&rp->why, -ESTALE, "slot no longer exists");
	return 0;
}

static int op_seen(struct esd_conn *c, const struct esd_request *q,
		   struct reply *rp)
{
	int r = held_live(c, q->u.seen.index, q->u.seen.gen, rp);

	if (r < 0)
		return r;
	esd_registry_mark_seen(c->srv->reg, q->u.seen.index, q->u.seen.gen,
			       q->u.seen.value);
	return reply_ok(c, q, rp);
}

static int op_arm(struct esd_conn *c, const struct esd_request *q,
		  struct reply *rp)
{
	uint32_t index = q->u.arm.index;
	int r = held_live(c, index, q->u.arm.gen, rp);

	if (r < 0)
		return r;
	if (!q->u.arm.on) {
		disarm(c, index);
	} else if (esd_holds_count(&c->armed, index) == 0) {
		r = esd_holds_add(&c->armed, index);
		if (r < 0)
			return esd_refuse(&rp->why, r, "out of memory");
		esd_registry_arm(c->srv->reg, index, true);
	}
	return reply_ok(c, q, rp);
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
			 (int)c->cred.pid, (unsigned)c->cred.uid, why);
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
	case ESP_OP_SEEN:
		r = op_seen(c, &q, &rp);
		break;
	case ESP_OP_ARM:
		r = op_arm(c, &q, &rp);
		break;
	default:	/* not reached: the decoder refuses unknown ops */
		r = esd_refuse(&rp.why, -EOPNOTSUPP, "unknown op");
		break;
	}
	if (r < 0) {
		if (rp.notable)
			note(&c->srv->refusals, c, "refused (%s): %s",
			     strerror(-r),
			     rp.why);
		else
			esd_debug("client %u: op %u seq %u: %s", c->id, q.op,
				  q.seq, rp.why);
		return send_error(c, q.op, q.seq, r, rp.why);
	}
	return conn_send(c, rp.buf, rp.len, rp.fd);
}

static void conn_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct esd_conn *c = arg;
	struct esd_server *s = c->srv;
	union {
		char buf[CMSG_SPACE(ESD_RX_FDS_MAX * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = s->rx, .iov_len = ESP_MAX_MSG + 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = ctl.buf,
		.msg_controllen = sizeof(ctl.buf),
	};
	ssize_t n;
	int passed;

	/* One packet per wake-up: a busy peer cannot starve the others (the
	 * socket stays readable, so libevent comes back to it). */
	do
		n = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			conn_close(c, strerror(errno));
		return;
	}
	passed = esd_take_passed_fd(&msg);
	if (passed >= 0)
		close(passed);	/* we never want them */
	if (n == 0) {
		conn_close(c, "peer closed");
		return;
	}
	if ((msg.msg_flags & MSG_TRUNC) || (size_t)n > ESP_MAX_MSG) {
		esd_info("client %u (pid %d uid %u): packet larger than %u "
			 "bytes; closing it", c->id, (int)c->cred.pid,
			 (unsigned)c->cred.uid, ESP_MAX_MSG);
		conn_close(c, NULL);
		return;
	}
	(void)conn_packet(c, s->rx, (size_t)n);
}

static void hello_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct esd_conn *c = arg;

	note(&c->srv->refusals, c, "no HELLO within %u ms; closing it",
	     c->srv->cfg.hello_timeout_ms);
	conn_close(c, NULL);
}

/* Refuse a connection at accept, with one error reply. */
static void refuse_client(int fd, int code, const char *why)
{
	struct esp_err_rep rep;
	size_t n = strlen(why);

	memset(&rep, 0, sizeof(rep));
	fill_hdr(&rep.hdr, ESP_OP_HELLO, 0, code);
	memcpy(rep.msg, why, n + 1);
	rep.msg_len = (uint32_t)n;
	(void)send(fd, &rep, sizeof(rep), MSG_DONTWAIT | MSG_NOSIGNAL);
	close(fd);
}

/* Read the peer's supplementary groups (SO_PEERGROUPS). */
static void read_groups(int fd, struct esd_cred *cr)
{
	gid_t g[ESD_GROUPS_MAX];
	socklen_t len = sizeof(g);

	cr->ngroups = 0;
	cr->groups = NULL;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, g, &len) < 0 ||
	    len == 0)
		return;
	cr->groups = malloc(len);
	if (!cr->groups)
		return;
	memcpy(cr->groups, g, len);
	cr->ngroups = len / sizeof(gid_t);
}

static void conn_new(struct esd_server *s, int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct esd_usage *u;
	struct esd_conn *c;
	struct timeval tv = { s->cfg.hello_timeout_ms / 1000,
			      (s->cfg.hello_timeout_ms % 1000) * 1000 };
	uint32_t dropped;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		esd_warn("SO_PEERCRED failed: %s; dropping the client",
			 strerror(errno));
		close(fd);
		return;
	}
	if (s->nconns >= s->cfg.max_clients) {
		if (esd_ratelimit(&s->refusals, &dropped))
			esd_info("refusing a client (pid %d uid %u): %u "
				 "clients already (see --max-clients)",
				 (int)cred.pid, (unsigned)cred.uid, s->nconns);
		refuse_client(fd, -EUSERS, "too many clients");
		return;
	}
	u = esd_quota_get(s->quota, cred.uid);
	if (!u) {
		refuse_client(fd, -ENOMEM, "out of memory");
		return;
	}
	if (s->quota->max_conns && u->conns >= s->quota->max_conns &&
	    !esd_quota_exempt(s->quota, cred.uid)) {
		if (esd_ratelimit(&s->refusals, &dropped))
			esd_info("refusing a client (pid %d uid %u): that "
				 "user has %u connections (see "
				 "--max-clients-per-uid)", (int)cred.pid,
				 (unsigned)cred.uid, u->conns);
		refuse_client(fd, -EUSERS, "too many connections for this "
			      "user");
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
	c->cred.pid = cred.pid;
	c->cred.uid = cred.uid;
	c->cred.gid = cred.gid;
	read_groups(fd, &c->cred);
	c->usage = u;
	c->ev = event_new(s->base, fd, EV_READ | EV_PERSIST, conn_read_cb, c);
	c->hello_ev = evtimer_new(s->base, hello_timeout_cb, c);
	if (!c->ev || !c->hello_ev || event_add(c->ev, NULL) < 0 ||
	    evtimer_add(c->hello_ev, &tv) < 0) {
		esd_warn("cannot watch a client socket; dropping it");
		if (c->ev)
			event_free(c->ev);
		if (c->hello_ev)
			event_free(c->hello_ev);
		close(fd);
		free(c->cred.groups);
		free(c);
		return;
	}
	u->conns++;
	LIST_INSERT_HEAD(&s->conns, c, link);
	s->nconns++;
	esd_debug("client %u connected: pid %d uid %u gid %u", c->id,
		  (int)c->cred.pid, (unsigned)c->cred.uid,
		  (unsigned)c->cred.gid);
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

/* Every second: STATUS= when it changed, WATCHDOG=1 when asked for. */
static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct esd_server *s = arg;
	char buf[sizeof(s->last_status) + 16];
	char now[sizeof(s->last_status)];

	snprintf(now, sizeof(now), "Serving %u of %u slots, %u client%s",
		 s->reg->live, s->reg->max_live, s->nconns,
		 s->nconns == 1 ? "" : "s");
	if (strcmp(now, s->last_status) != 0) {
		snprintf(buf, sizeof(buf), "STATUS=%s", now);
		esd_sd_notify(buf);
		memcpy(s->last_status, now, sizeof(now));
	}
	if (s->watchdog_ns)
		esd_sd_notify("WATCHDOG=1");
}

/* WATCHDOG_USEC for us (WATCHDOG_PID absent or ours), else 0. */
static uint64_t watchdog_usec(void)
{
	const char *us = getenv("WATCHDOG_USEC"), *pid = getenv("WATCHDOG_PID");

	if (!us || (pid && strtol(pid, NULL, 10) != (long)getpid()))
		return 0;
	return strtoull(us, NULL, 10);
}

int esd_server_new(struct event_base *base, int listen_fd,
		   struct esd_store *st, struct esd_registry *reg,
		   struct esd_quota *quota,
		   const struct esd_server_config *cfg,
		   struct esd_server **out)
{
	struct esd_server *s = calloc(1, sizeof(*s));
	struct timeval tick = { 1, 0 };
	uint64_t wd = watchdog_usec();

	if (!s)
		return -ENOMEM;
	s->base = base;
	s->listen_fd = listen_fd;
	s->st = st;
	s->reg = reg;
	s->quota = quota;
	s->cfg = *cfg;
	s->pid = getpid();
	s->euid = geteuid();
	s->refusals.interval_ns = 10000000000ull;
	s->refusals.burst = 20;
	s->lifecycle.interval_ns = 10000000000ull;
	s->lifecycle.burst = 20;
	LIST_INIT(&s->conns);
	s->rx = malloc(ESP_MAX_MSG + 1);
	s->tx = calloc(1, ESP_MAX_MSG);
	s->listen_ev = event_new(base, listen_fd, EV_READ | EV_PERSIST,
				 accept_cb, s);
	s->pause_ev = evtimer_new(base, pause_cb, s);
	if (wd) {
		/* Twice per WatchdogSec=, as sd_watchdog_enabled(3) advises;
		 * at most once a second otherwise. */
		s->watchdog_ns = wd * 1000;
		if (wd / 2 < 1000000) {
			tick.tv_sec = 0;
			tick.tv_usec = (suseconds_t)(wd / 2);
		}
	}
	s->tick_ev = event_new(base, -1, EV_PERSIST, tick_cb, s);
	if (!s->rx || !s->tx || !s->listen_ev || !s->pause_ev ||
	    !s->tick_ev || event_add(s->listen_ev, NULL) < 0 ||
	    event_add(s->tick_ev, &tick) < 0) {
		esd_server_free(s);
		return -ENOMEM;
	}
	check_capacity(s);
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
	if (s->tick_ev)
		event_free(s->tick_ev);
	free(s->rx);
	free(s->tx);
	free(s);
}

uint32_t esd_server_clients(const struct esd_server *s)
{
	return s->nconns;
}
