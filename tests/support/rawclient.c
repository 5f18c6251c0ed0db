/*
 * rawclient.c - a tiny raw client of the errseqd control protocol, for tests.
 * See rawclient.h for the contracts.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "tests/support/rawclient.h"

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for @events on @fd until @deadline (ms, CLOCK_MONOTONIC; timeout
 * < 0 means forever).  Returns 0 when ready, -ETIMEDOUT, or -errno. */
static int wait_fd(int fd, short events, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;

	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = events };
		int left = timeout_ms < 0 ? -1 : (int)(deadline - now_ms());
		int r;

		if (timeout_ms >= 0 && left < 0)
			left = 0;
		r = poll(&pfd, 1, left);
		if (r > 0)
			return 0;	/* ready, or HUP/ERR: the call reports it */
		if (r == 0)
			return -ETIMEDOUT;
		if (errno != EINTR)
			return -errno;
	}
}

int esrc_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	return fd;
}

int esrc_send(int fd, const void *buf, size_t len, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;

	for (;;) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		int left, r;

		if (n >= 0)
			return 0;	/* SEQPACKET: all or nothing */
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -errno;
		left = (int)(deadline - now_ms());
		if (left <= 0)
			return -ETIMEDOUT;
		r = wait_fd(fd, POLLOUT, left);
		if (r < 0)
			return r;
	}
}

/* Close every fd in @cmsg's SCM_RIGHTS payloads, keeping the first in
 * *@keep when @keep is not NULL and still -1. */
static void take_fds(struct msghdr *msg, int *keep)
{
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(msg); cm;
	     cm = CMSG_NXTHDR(msg, cm)) {
		size_t n;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(fd));
			if (keep && *keep < 0)
				*keep = fd;
			else
				close(fd);
		}
	}
}

ssize_t esrc_recv(int fd, void *buf, size_t cap, int *fd_out, int timeout_ms)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(8 * sizeof(int))];
	} ctl;
	int64_t deadline = now_ms() + timeout_ms;

	if (fd_out)
		*fd_out = -1;
	for (;;) {
		struct iovec iov = { .iov_base = buf, .iov_len = cap };
		struct msghdr msg = {
			.msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf),
		};
		ssize_t n = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		int left, r;

		if (n >= 0) {
			take_fds(&msg, fd_out);
			if (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
				if (fd_out && *fd_out >= 0) {
					close(*fd_out);
					*fd_out = -1;
				}
				return -EMSGSIZE;
			}
			return n;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -errno;
		left = (int)(deadline - now_ms());
		if (left <= 0)
			return -ETIMEDOUT;
		r = wait_fd(fd, POLLIN, left);
		if (r < 0)
			return r;
	}
}

int esrc_wait_closed(int fd, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	char buf[ESP_MAX_MSG];

	for (;;) {
		int left = (int)(deadline - now_ms());
		ssize_t n;

		if (left < 0)
			left = 0;
		n = esrc_recv(fd, buf, sizeof(buf), NULL, left);
		if (n == 0 || n == -ECONNRESET)
			return 0;
		if (n == -ETIMEDOUT)
			return -ETIMEDOUT;
		if (n < 0 && n != -EMSGSIZE)
			return (int)n;
		/* a packet: discard it and keep waiting */
	}
}

void esrc_hdr(struct esp_hdr *h, uint16_t op, uint32_t seq)
{
	h->magic = ESP_MAGIC;
	h->version = ESP_VERSION;
	h->op = op;
	h->seq = seq;
	h->status = 0;
}

int esrc_init(struct esrc *c, const char *path)
{
	memset(c, 0, sizeof(*c));
	c->fd = -1;
	c->seq = 1;
	c->timeout_ms = ESRC_DEFAULT_TIMEOUT_MS;
	c->fd = esrc_connect(path);
	if (c->fd < 0) {
		int e = c->fd;

		c->fd = -1;
		return e;
	}
	return 0;
}

void esrc_fini(struct esrc *c)
{
	if (c->fd >= 0)
		close(c->fd);
	for (uint32_t i = 0; i < c->chunk_cap; i++)
		if (c->chunk_fd[i] >= 0)
			close(c->chunk_fd[i]);
	free(c->chunk_fd);
	c->chunk_fd = NULL;
	c->chunk_cap = 0;
	c->fd = -1;
}

int esrc_chunk_fd(const struct esrc *c, uint32_t index)
{
	uint32_t k = ESD_INDEX_CHUNK(index);

	return k < c->chunk_cap ? c->chunk_fd[k] : -1;
}

/* Keep @fd as chunk @k's fd.  Returns 0, ESRC_EBADREPLY if the chunk was
 * already passed on this connection, ESRC_ELOCAL without memory; @fd is
 * closed on failure. */
static int keep_chunk_fd(struct esrc *c, uint32_t k, int fd)
{
	if (k >= c->chunk_cap) {
		uint32_t cap = k + 16;
		int *n = realloc(c->chunk_fd, cap * sizeof(int));

		if (!n) {
			close(fd);
			c->sys_errno = ENOMEM;
			return ESRC_ELOCAL;
		}
		for (uint32_t i = c->chunk_cap; i < cap; i++)
			n[i] = -1;
		c->chunk_fd = n;
		c->chunk_cap = cap;
	}
	if (c->chunk_fd[k] >= 0) {
		close(fd);
		return ESRC_EBADREPLY;
	}
	c->chunk_fd[k] = fd;
	c->fds_passed++;
	return 0;
}

/* Map a transport errno to the request layer's codes. */
static int transport_err(struct esrc *c, int e)
{
	c->sys_errno = -e;
	if (e == -ETIMEDOUT)
		return ESRC_ETIMEDOUT;
	if (e == -EPIPE || e == -ECONNRESET || e == -ENOTCONN)
		return ESRC_ECLOSED;
	return ESRC_ELOCAL;
}

int esrc_request(struct esrc *c, uint16_t op, void *req, size_t req_len,
		 void *rep, size_t rep_cap, size_t *rep_len, int *fd_out)
{
	struct esp_hdr *h = req;
	struct esp_hdr rh;
	uint32_t seq = c->seq++;
	int passed = -1;
	ssize_t n;
	int r;

	if (rep_len)
		*rep_len = 0;
	if (fd_out)
		*fd_out = -1;
	c->errmsg[0] = '\0';
	if (c->fd < 0) {
		c->sys_errno = EBADF;
		return ESRC_ELOCAL;
	}
	esrc_hdr(h, op, seq);
	r = esrc_send(c->fd, req, req_len, c->timeout_ms);
	if (r < 0)
		return transport_err(c, r);
	n = esrc_recv(c->fd, rep, rep_cap, &passed, c->timeout_ms);
	if (n == 0) {
		c->sys_errno = 0;
		return ESRC_ECLOSED;
	}
	if (n < 0) {
		if (n == -EMSGSIZE)
			return ESRC_EBADREPLY;
		return transport_err(c, (int)n);
	}
	if ((size_t)n < sizeof(rh)) {
		if (passed >= 0)
			close(passed);
		return ESRC_EBADREPLY;
	}
	memcpy(&rh, rep, sizeof(rh));
	c->last_hdr = rh;
	if (rh.magic != ESP_MAGIC || rh.op != op || rh.seq != seq) {
		if (passed >= 0)
			close(passed);
		return ESRC_EBADREPLY;
	}
	if (rh.status != 0) {
		const struct esp_err_rep *er = rep;

		if (passed >= 0)
			close(passed);
		if (rh.status > 0 || rh.status < -4095 ||
		    (size_t)n != sizeof(struct esp_err_rep))
			return ESRC_EBADREPLY;
		snprintf(c->errmsg, sizeof(c->errmsg), "%.*s",
			 (int)(er->msg_len < ESP_ERRMSG_MAX ? er->msg_len
							    : ESP_ERRMSG_MAX - 1),
			 er->msg);
		return rh.status;
	}
	if (rep_len)
		*rep_len = (size_t)n;
	if (fd_out)
		*fd_out = passed;
	else if (passed >= 0)
		close(passed);
	return 0;
}

int esrc_hello_versions(struct esrc *c, uint32_t min, uint32_t max)
{
	struct esp_hello_req req = { .min_version = min, .max_version = max };
	union {
		struct esp_hello_rep rep;
		char buf[ESP_MAX_MSG];
	} u;
	size_t len;
	int fd, r;

	r = esrc_request(c, ESP_OP_HELLO, &req, sizeof(req), &u, sizeof(u),
			 &len, &fd);
	if (r < 0)
		return r;
	if (len != sizeof(u.rep) || fd >= 0) {
		if (fd >= 0)
			close(fd);
		return ESRC_EBADREPLY;
	}
	c->hello = u.rep;
	return 0;
}

int esrc_hello(struct esrc *c)
{
	return esrc_hello_versions(c, ESP_VERSION, ESP_VERSION);
}

int esrc_connect_hello(struct esrc *c, const char *path)
{
	int r = esrc_init(c, path);

	return r < 0 ? r : esrc_hello(c);
}

/* Put (@name, @len) into a name field of ESD_NAME_MAX bytes. */
static void put_name(char *dst, uint32_t *len_field, const char *name,
		     size_t len)
{
	*len_field = (uint32_t)len;
	memcpy(dst, name, len < ESD_NAME_MAX ? len : ESD_NAME_MAX);
}

/* A request whose success reply has exactly @want bytes, copied to @out.
 * A reply that passes an fd is ESRC_EBADREPLY (only OPEN passes fds). */
static int fixed_request(struct esrc *c, uint16_t op, void *req,
			 size_t req_len, void *out, size_t want)
{
	union {
		struct esp_hdr hdr;
		char buf[ESP_MAX_MSG];
	} u;
	size_t len;
	int fd, r;

	r = esrc_request(c, op, req, req_len, &u, sizeof(u), &len, &fd);
	if (r < 0)
		return r;
	if (fd >= 0) {
		close(fd);
		return ESRC_EBADREPLY;
	}
	if (len != want)
		return ESRC_EBADREPLY;
	if (out)
		memcpy(out, &u, want);
	return 0;
}

int esrc_open_gid(struct esrc *c, const char *name, size_t len,
		  uint32_t flags, uint32_t gid, struct esp_open_rep *out)
{
	struct esp_name_req req = { .flags = flags, .gid = gid };
	union {
		struct esp_open_rep rep;
		char buf[ESP_MAX_MSG];
	} u;
	size_t rlen;
	int fd, r;

	put_name(req.name, &req.name_len, name, len);
	r = esrc_request(c, ESP_OP_OPEN, &req, sizeof(req), &u, sizeof(u),
			 &rlen, &fd);
	if (r < 0)
		return r;
	if (rlen != sizeof(u.rep) ||
	    !(u.rep.flags & ESP_OPEN_FD) != (fd < 0)) {
		if (fd >= 0)
			close(fd);
		return ESRC_EBADREPLY;
	}
	if (fd >= 0) {
		r = keep_chunk_fd(c, ESD_INDEX_CHUNK(u.rep.index), fd);
		if (r < 0)
			return r;
	}
	if (out)
		*out = u.rep;
	return 0;
}

int esrc_open(struct esrc *c, const char *name, size_t len, uint32_t flags,
	      struct esp_open_rep *out)
{
	return esrc_open_gid(c, name, len, flags, 0, out);
}

int esrc_close_slot(struct esrc *c, uint32_t index, uint32_t gen)
{
	struct esp_slot_req req = { .index = index, .gen = gen };

	return fixed_request(c, ESP_OP_CLOSE, &req, sizeof(req), NULL,
			     sizeof(struct esp_hdr));
}

int esrc_unlink(struct esrc *c, const char *name, size_t len)
{
	struct esp_name_req req = { .flags = 0 };

	put_name(req.name, &req.name_len, name, len);
	return fixed_request(c, ESP_OP_UNLINK, &req, sizeof(req), NULL,
			     sizeof(struct esp_hdr));
}

int esrc_stat(struct esrc *c, const char *name, size_t len,
	      struct esp_slot_info *out)
{
	struct esp_name_req req = { .flags = 0 };
	struct esp_stat_rep rep;
	int r;

	put_name(req.name, &req.name_len, name, len);
	r = fixed_request(c, ESP_OP_STAT, &req, sizeof(req), &rep,
			  sizeof(rep));
	if (r == 0 && out)
		*out = rep.info;
	return r;
}

int esrc_status(struct esrc *c, struct esp_status_rep *out)
{
	struct esp_hdr req;

	return fixed_request(c, ESP_OP_STATUS, &req, sizeof(req), out,
			     sizeof(*out));
}

int esrc_reattach(struct esrc *c, uint32_t index, uint32_t gen,
		  const char *name, size_t len, struct esp_open_rep *out)
{
	struct esp_reattach_req req = { .index = index, .gen = gen };

	put_name(req.name, &req.name_len, name, len);
	return fixed_request(c, ESP_OP_REATTACH, &req, sizeof(req), out,
			     sizeof(*out));
}

int esrc_seen(struct esrc *c, uint32_t index, uint32_t gen, uint32_t value)
{
	struct esp_seen_req req = { .index = index, .gen = gen,
				    .value = value };

	return fixed_request(c, ESP_OP_SEEN, &req, sizeof(req), NULL,
			     sizeof(struct esp_hdr));
}

int esrc_arm(struct esrc *c, uint32_t index, uint32_t gen, uint32_t on)
{
	struct esp_arm_req req = { .index = index, .gen = gen, .on = on };

	return fixed_request(c, ESP_OP_ARM, &req, sizeof(req), NULL,
			     sizeof(struct esp_hdr));
}

int esrc_list(struct esrc *c, uint32_t start, uint32_t max,
	      struct esp_list_rep *out, size_t cap)
{
	struct esp_list_req req = { .start = start, .max = max };
	size_t len;
	int r;

	if (cap < sizeof(*out)) {
		c->sys_errno = EINVAL;
		return ESRC_ELOCAL;
	}
	r = esrc_request(c, ESP_OP_LIST, &req, sizeof(req), out, cap, &len,
			 NULL);
	if (r < 0)
		return r;
	if (len < sizeof(*out) ||
	    len != sizeof(*out) + (size_t)out->count *
					  sizeof(struct esp_slot_info))
		return ESRC_EBADREPLY;
	return 0;
}

const char *esrc_strerror(int code)
{
	const char *s;

	switch (code) {
	case 0:
		return "OK";
	case ESRC_ECLOSED:
		return "ESRC_ECLOSED";
	case ESRC_ETIMEDOUT:
		return "ESRC_ETIMEDOUT";
	case ESRC_EBADREPLY:
		return "ESRC_EBADREPLY";
	case ESRC_ELOCAL:
		return "ESRC_ELOCAL";
	}
	if (code < 0 && code >= -4095) {
		s = strerrorname_np(-code);
		if (s)
			return s;
	}
	return "unknown";
}
