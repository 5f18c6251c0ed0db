/*
 * client.c - the control path of liberrseq-client: open and close clients
 * and slots, unlink, stat, list, status.  Each of these is one request to
 * errseqd (common/protocol.h) made under the client's mutex; the data path
 * (slot.c, cursor.c) never comes here.
 *
 * Rules every control call follows:
 *  - arguments are checked first (a bad name is -EINVAL with no round trip);
 *  - a client inherited across fork() answers ERRSEQ_EFORKED without
 *    touching its socket or its mutex (a parent thread may have held the
 *    mutex at fork time, and the socket is the parent's connection);
 *  - if the daemon is away the call makes one reconnect attempt of its own
 *    (which also re-registers the open slots) and fails with -ENOTCONN if
 *    that fails; a request whose send failed (the daemon died since the
 *    last call) is sent again once on the new connection;
 *  - an error reply is returned as its negative errno; a malformed reply is
 *    ERRSEQ_EPROTO and drops the connection (the thread reconnects).
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/common.h"
#include "common/visibility.h"
#include "client/internal.h"

/* The public limits and flags are the wire protocol's and the layout's. */
_Static_assert(ERRSEQ_NAME_MAX == ESD_NAME_MAX, "name length");
_Static_assert(ERRSEQ_CREATE == ESP_OPEN_CREATE, "CREATE flag");
_Static_assert(ERRSEQ_EXCL == ESP_OPEN_EXCL, "EXCL flag");
_Static_assert(ERRSEQ_LIST_END == ESP_LIST_END, "list end");
_Static_assert(ERRSEQ_NO_GROUP == ESD_NO_GID, "no group");
_Static_assert(ERRSEQ_MAX_ERRNO == 4095 && ERRSEQ_SEEN == 0x1000u &&
	       ERRSEQ_CTR_INC == 0x2000u, "the kernel's errseq_t bits");

/*
 * One control exchange with the reconnect rules above; c->mutex held.
 * Returns as errseq__call_locked, with every transport failure reported
 * as -ENOTCONN.
 */
static int control_call_fd_locked(struct errseq_client *c, void *req,
				  size_t req_len, size_t *rep_len, int *fd)
{
	bool retried = false;
	int r;

	for (;;) {
		if (c->fd < 0) {
			if (retried)
				return -ENOTCONN;
			r = errseq__connect_locked(c);
			if (r == ERRSEQ_EUNSAFE)
				return r;
			if (r < 0)
				return -ENOTCONN;
			retried = true;
		}
		r = errseq__call_locked(c, req, req_len, rep_len, fd);
		if (r != -EPIPE)
			return r;
		/* The send failed, so the daemon never saw the request: it
		 * is safe to send it again once, on a new connection. */
		if (retried)
			return -ENOTCONN;
	}
}

/*
 * The common front of OPEN, UNLINK and STAT: validate @name (no round trip
 * for a bad one), refuse an inherited client, and fill @req's name.
 * Returns 0, -EINVAL or ERRSEQ_EFORKED.
 */
static int name_req(struct errseq_client *c, const char *name,
		    struct esp_name_req *req)
{
	size_t len;
	int r;

	if (!name)
		return -EINVAL;
	len = strnlen(name, ESD_NAME_MAX + 1);
	r = esd_name_check(name, len);
	if (r < 0)
		return r;
	if (errseq__forked(c))
		return ERRSEQ_EFORKED;
	req->name_len = (uint32_t)len;
	memcpy(req->name, name, len);
	return 0;
}

static int control_call_locked(struct errseq_client *c, void *req,
			       size_t req_len, size_t *rep_len)
{
	return control_call_fd_locked(c, req, req_len, rep_len, NULL);
}

/* Fill the public info from the wire form.  0 or ERRSEQ_EPROTO. */
static int info_from_wire(const struct esp_slot_info *w,
			  struct errseq_slot_info *out)
{
	if (w->name_len < 1 || w->name_len > ESD_NAME_MAX)
		return ERRSEQ_EPROTO;
	memset(out, 0, sizeof(*out));
	memcpy(out->name, w->name, w->name_len);
	out->name[w->name_len] = '\0';
	out->index = w->index;
	out->generation = w->gen;
	out->value = ESD_WORD_VAL(w->word);
	out->sets_total = w->sets_total;
	out->last_set_ns = w->last_set_ns;
	out->last_pid = w->last_pid;
	out->creator_uid = w->creator_uid;
	out->holders = w->holders;
	out->created_ns = w->created_ns;
	out->writers_gid = w->writer_gid;
	out->writable = (w->flags & ESP_INFO_WRITABLE) ? 1 : 0;
	return 0;
}

/* Free everything @c owns except its socket, eventfd and mutex. */
static void client_free_slots(struct errseq_client *c)
{
	pthread_mutex_lock(&errseq__registry_lock);
	while (c->slots.next != &c->slots) {
		struct errseq__handle *h = errseq__container(
			c->slots.next, struct errseq__handle, link);

		errseq__list_del(&h->link);
		errseq__cursors_free_locked(h);
		errseq__space_put_locked(h->space);
		errseq__slot_free_locked(h->hot);
		free(h);
	}
	errseq__space_put_locked(c->space);
	c->space = NULL;
	if (c->all.next != &c->all)
		errseq__list_del(&c->all);
	pthread_mutex_unlock(&errseq__registry_lock);
}

ERRSEQ_EXPORT int errseq_client_open(const char *socket_path,
				     struct errseq_client **out)
{
	struct errseq_client *c;
	sigset_t all, old;
	int r;

	if (!out)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->fd = -1;
	c->evfd = -1;
	errseq__list_init(&c->slots);
	errseq__list_init(&c->all);
	pthread_mutex_init(&c->mutex, NULL);
	pthread_cond_init(&c->ready, NULL);
	/* relaxed: as in errseq__forked (internal.h) */
	c->fork_gen = __atomic_load_n(&errseq__fork_gen, __ATOMIC_RELAXED);

	if (socket_path) {
		if (!*socket_path)
			r = -EINVAL;
		else if (strlen(socket_path) >= sizeof(c->path))
			r = -ENAMETOOLONG;
		else
			r = (int)strlen(strcpy(c->path, socket_path));
	} else {
		r = esd_default_socket(c->path, sizeof(c->path));
	}
	if (r < 0)
		goto fail;

	c->rxbuf = malloc(ESP_MAX_MSG);
	if (!c->rxbuf) {
		r = -ENOMEM;
		goto fail;
	}
	c->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (c->evfd < 0) {
		r = -errno;
		goto fail;
	}

	pthread_mutex_lock(&c->mutex);
	r = errseq__connect_locked(c);
	pthread_mutex_unlock(&c->mutex);
	if (r < 0)
		goto fail;

	/* The thread takes no signal: they belong to the application. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = -pthread_create(&c->thread, NULL, errseq__thread_main, c);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r < 0)
		goto fail;
	c->thread_started = true;
	/*
	 * Wait until the thread runs.  A thread that is still starting may
	 * hold its allocator's or its runtime's locks (ASan's, for one);
	 * a fork() right after we return would leave them locked forever in
	 * the child.  Once it runs, it only sleeps in poll().
	 */
	pthread_mutex_lock(&c->mutex);
	while (!c->thread_ready)
		pthread_cond_wait(&c->ready, &c->mutex);
	pthread_mutex_unlock(&c->mutex);

	pthread_mutex_lock(&errseq__registry_lock);
	errseq__list_add(&errseq__clients, &c->all);
	pthread_mutex_unlock(&errseq__registry_lock);
	*out = c;
	return 0;

fail:
	client_free_slots(c);
	if (c->fd >= 0)
		close(c->fd);
	if (c->evfd >= 0)
		close(c->evfd);
	pthread_cond_destroy(&c->ready);
	pthread_mutex_destroy(&c->mutex);
	free(c->rxbuf);
	free(c);
	return r;
}

ERRSEQ_EXPORT void errseq_client_close(struct errseq_client *c)
{
	bool forked;

	if (!c)
		return;
	forked = errseq__forked(c);
	if (!forked && c->thread_started) {
		pthread_mutex_lock(&c->mutex);
		c->stopping = true;
		pthread_mutex_unlock(&c->mutex);
		errseq__kick(c);
		pthread_join(c->thread, NULL);
	}
	/* No CLOSE messages: closing the socket makes the daemon drop every
	 * hold of this connection at once. */
	client_free_slots(c);
	/* In a fork child these are the child's copies: closing them leaves
	 * the parent's connection alone (no shutdown() here). */
	if (c->fd >= 0)
		close(c->fd);
	if (c->evfd >= 0)
		close(c->evfd);
	/* A child must not destroy a mutex some parent thread may have
	 * held at fork time; freeing the memory is enough. */
	if (!forked) {
		pthread_cond_destroy(&c->ready);
		pthread_mutex_destroy(&c->mutex);
	}
	free(c->rxbuf);
	free(c);
}

ERRSEQ_EXPORT int errseq_slot_open_attr(struct errseq_client *c,
					const char *name, unsigned flags,
					const struct errseq_slot_attr *attr,
					struct errseq_slot **out)
{
	struct esp_name_req req = { .hdr.op = ESP_OP_OPEN };
	const struct esp_open_rep *rep;
	struct errseq__handle *h;
	struct errseq_slot *s;
	uint32_t chunk;
	size_t rlen;
	int r, fd = -1;

	if (!c || !out)
		return -EINVAL;
	if (flags != 0 && flags != ERRSEQ_CREATE &&
	    flags != (ERRSEQ_CREATE | ERRSEQ_EXCL))
		return -EINVAL;
	if (attr && ((attr->flags & ~ERRSEQ_ATTR_WRITERS_GROUP) ||
		     !(flags & ERRSEQ_CREATE)))
		return -EINVAL;
	r = name_req(c, name, &req);
	if (r < 0)
		return r;
	req.flags = flags;	/* ERRSEQ_* == ESP_OPEN_* */
	if (attr && (attr->flags & ERRSEQ_ATTR_WRITERS_GROUP)) {
		if (attr->writers_gid == ERRSEQ_NO_GROUP)
			return -EINVAL;
		req.flags |= ESP_OPEN_GROUP;
		req.gid = attr->writers_gid;
	}

	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	errseq__list_init(&h->link);
	errseq__list_init(&h->cursors);
	memcpy(h->name, req.name, req.name_len);
	h->name_len = req.name_len;
	h->client = c;
	pthread_mutex_lock(&errseq__registry_lock);
	s = errseq__slot_alloc_locked(h);
	pthread_mutex_unlock(&errseq__registry_lock);
	if (!s) {
		free(h);
		return -ENOMEM;
	}

	pthread_mutex_lock(&c->mutex);
	r = control_call_fd_locked(c, &req, sizeof(req), &rlen, &fd);
	if (r < 0)
		goto out;
	rep = (const struct esp_open_rep *)c->rxbuf;
	if (rlen != sizeof(*rep) || rep->index >= c->space->max_slots ||
	    !ESD_GEN_LIVE(rep->gen) ||
	    ((rep->flags & ESP_OPEN_FD) != 0) != (fd >= 0)) {
		/* dropping the connection also drops the hold we got */
		if (fd >= 0)
			close(fd);
		errseq__drop_locked(c);
		r = ERRSEQ_EPROTO;
		goto out;
	}
	chunk = ESD_INDEX_CHUNK(rep->index);
	r = errseq__chunk_attach_locked(c, chunk, fd,
					(rep->flags & ESP_RIGHT_WRITE) != 0);
	if (r < 0) {
		errseq__drop_locked(c);
		goto out;
	}
	h->index = rep->index;
	h->gen = rep->gen;
	s->shm = (struct esd_slot *)c->space->base[chunk] +
		 ESD_INDEX_SLOT(rep->index);
	/* relaxed: nobody else has the handle yet */
	__atomic_store_n(&s->gen_hi, ((uint64_t)rep->gen << ESD_GEN_SHIFT) |
			 (c->space->writable[chunk] &&
			  (rep->flags & ESP_RIGHT_WRITE) ?
			  ERRSEQ__HOT_WRITABLE : 0), __ATOMIC_RELAXED);
	h->held = true;
	pthread_mutex_lock(&errseq__registry_lock);
	h->space = c->space;
	h->space->refs++;
	errseq__list_add(&c->slots, &h->link);
	pthread_mutex_unlock(&errseq__registry_lock);
	*out = s;
	h = NULL;
out:
	pthread_mutex_unlock(&c->mutex);
	if (h) {
		pthread_mutex_lock(&errseq__registry_lock);
		errseq__slot_free_locked(s);
		pthread_mutex_unlock(&errseq__registry_lock);
		free(h);
	}
	return r;
}

ERRSEQ_EXPORT int errseq_slot_open(struct errseq_client *c, const char *name,
				   unsigned flags, struct errseq_slot **out)
{
	return errseq_slot_open_attr(c, name, flags, NULL, out);
}

ERRSEQ_EXPORT int errseq_slot_writable(const struct errseq_slot *s)
{
	return s && errseq__slot_writable(s) ? 1 : 0;
}

/* Unlink and free @h and its hot record (registry lock taken here). */
static void slot_free(struct errseq__handle *h)
{
	pthread_mutex_lock(&errseq__registry_lock);
	errseq__list_del(&h->link);
	errseq__cursors_free_locked(h);
	errseq__space_put_locked(h->space);
	errseq__slot_free_locked(h->hot);
	pthread_mutex_unlock(&errseq__registry_lock);
	free(h);
}

ERRSEQ_EXPORT void errseq_slot_close(struct errseq_slot *s)
{
	struct errseq__handle *h;
	struct errseq_client *c;

	if (!s)
		return;
	h = errseq__cold(s);
	c = h->client;
	if (errseq__forked(c)) {
		slot_free(h);	/* the hold is the parent's: no message */
		return;
	}
	pthread_mutex_lock(&c->mutex);
	if (c->fd >= 0 && h->held) {
		struct esp_slot_req req = {
			.hdr.op = ESP_OP_CLOSE,
			.index = h->index,
			.gen = h->gen,
		};
		size_t len;

		/* Best effort: if the daemon is away it dropped our holds
		 * with the connection, and a reconnect will not REATTACH a
		 * handle that is no longer on the list. */
		(void)errseq__call_locked(c, &req, sizeof(req), &len, NULL);
	}
	slot_free(h);
	pthread_mutex_unlock(&c->mutex);
}

ERRSEQ_EXPORT int errseq_slot_unlink(struct errseq_client *c,
				     const char *name)
{
	struct esp_name_req req = { .hdr.op = ESP_OP_UNLINK };
	size_t rlen;
	int r;

	if (!c)
		return -EINVAL;
	r = name_req(c, name, &req);
	if (r < 0)
		return r;

	pthread_mutex_lock(&c->mutex);
	r = control_call_locked(c, &req, sizeof(req), &rlen);
	if (r == 0 && rlen != sizeof(struct esp_hdr)) {
		errseq__drop_locked(c);
		r = ERRSEQ_EPROTO;
	}
	pthread_mutex_unlock(&c->mutex);
	return r;
}

ERRSEQ_EXPORT int errseq_stat(struct errseq_client *c, const char *name,
			      struct errseq_slot_info *out)
{
	struct esp_name_req req = { .hdr.op = ESP_OP_STAT };
	const struct esp_stat_rep *rep;
	size_t rlen;
	int r;

	if (!c || !out)
		return -EINVAL;
	r = name_req(c, name, &req);
	if (r < 0)
		return r;

	pthread_mutex_lock(&c->mutex);
	r = control_call_locked(c, &req, sizeof(req), &rlen);
	if (r == 0) {
		rep = (const struct esp_stat_rep *)c->rxbuf;
		if (rlen != sizeof(*rep) ||
		    info_from_wire(&rep->info, out) < 0) {
			errseq__drop_locked(c);
			r = ERRSEQ_EPROTO;
		}
	}
	pthread_mutex_unlock(&c->mutex);
	return r;
}

ERRSEQ_EXPORT int errseq_list(struct errseq_client *c, uint32_t *pos,
			      struct errseq_slot_info *out, size_t max)
{
	struct esp_list_req req = { .hdr.op = ESP_OP_LIST };
	const struct esp_list_rep *rep;
	size_t rlen;
	int r;

	if (!c || !pos || !out || max == 0)
		return -EINVAL;
	if (*pos == ERRSEQ_LIST_END)
		return 0;
	if (errseq__forked(c))
		return ERRSEQ_EFORKED;
	req.start = *pos;
	req.max = max < ESP_LIST_MAX ? (uint32_t)max : (uint32_t)ESP_LIST_MAX;

	pthread_mutex_lock(&c->mutex);
	r = control_call_locked(c, &req, sizeof(req), &rlen);
	if (r < 0)
		goto out;
	rep = (const struct esp_list_rep *)c->rxbuf;
	/* exact size, no more than asked, and a next page past this one */
	if (rlen < sizeof(*rep) || rep->count > req.max ||
	    rlen != sizeof(*rep) + rep->count * sizeof(rep->entries[0]) ||
	    (rep->next != ESP_LIST_END && rep->next <= req.start))
		r = ERRSEQ_EPROTO;
	for (uint32_t i = 0; r == 0 && i < rep->count; i++)
		r = info_from_wire(&rep->entries[i], &out[i]);
	if (r < 0) {
		errseq__drop_locked(c);
		goto out;
	}
	*pos = rep->next;
	r = (int)rep->count;
out:
	pthread_mutex_unlock(&c->mutex);
	return r;
}

ERRSEQ_EXPORT int errseq_status(struct errseq_client *c,
				struct errseq_daemon_status *out)
{
	struct esp_hdr req = { .op = ESP_OP_STATUS };
	const struct esp_status_rep *rep;
	size_t rlen;
	int r;

	if (!c || !out)
		return -EINVAL;
	if (errseq__forked(c))
		return ERRSEQ_EFORKED;

	pthread_mutex_lock(&c->mutex);
	r = control_call_locked(c, &req, sizeof(req), &rlen);
	if (r == 0 && rlen != sizeof(*rep)) {
		errseq__drop_locked(c);
		r = ERRSEQ_EPROTO;
	}
	if (r == 0) {
		rep = (const struct esp_status_rep *)c->rxbuf;
		memset(out, 0, sizeof(*out));
		out->pid = (pid_t)rep->pid;
		memcpy(out->version, rep->version, sizeof(out->version));
		out->version[sizeof(out->version) - 1] = '\0';
		out->start_ns = rep->start_ns;
		out->uptime_ns = rep->uptime_ns;
		out->capacity = rep->slot_count;
		out->slots_used = rep->slots_used;
		out->slots_held = rep->slots_held;
		out->clients = rep->clients;
		out->max_clients = rep->max_clients;
		out->incarnation = rep->incarnation;
		out->segment_bytes = rep->seg_size;
		out->chunks = rep->chunks;
		out->chunk_slots = rep->chunk_slots;
		out->uid_slots = rep->uid_slots;
		out->max_uid_slots = rep->max_uid_slots;
		out->uid_clients = rep->uid_clients;
		out->max_uid_clients = rep->max_uid_clients;
		out->uid_holds = rep->uid_holds;
		out->max_uid_holds = rep->max_uid_holds;
	}
	pthread_mutex_unlock(&c->mutex);
	return r;
}

ERRSEQ_EXPORT int errseq_default_socket(char *buf, size_t len)
{
	if (!buf)
		return -EINVAL;
	return esd_default_socket(buf, len);
}
