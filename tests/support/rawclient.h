/*
 * rawclient.h - a tiny raw client of the errseqd control protocol, for tests.
 *
 * It speaks common/protocol.h directly, with no liberrseq-client in between,
 * so a test can send exactly the bytes it wants (valid requests, hostile
 * ones, garbage) and see exactly what the daemon answers.  Every call that
 * waits has a timeout, so a silent daemon fails a test instead of hanging it.
 *
 * Two layers:
 *
 *  - Packets on a bare fd: esrc_connect(), esrc_send(), esrc_recv().  They
 *    return -errno (or -ETIMEDOUT, -EMSGSIZE) and know nothing of the
 *    protocol's contents.  Use them for garbage, truncated and oversized
 *    packets, and for reading an unsolicited reply (-EUSERS at accept).
 *
 *  - Requests on a struct esrc: esrc_hello(), esrc_open(), ... each fills in
 *    the header (magic, version, op, a fresh seq, status 0), sends one packet,
 *    reads one reply and checks that it echoes magic, op and seq and has the
 *    exact size its op implies.  They return:
 *
 *        0                 success (the reply is copied out)
 *        -4095 .. -1       the daemon's error status (hdr.status of an
 *                          esp_err_rep); its message is in c->errmsg
 *        ESRC_E* (< -4095) a transport or framing failure, see below
 *
 *    so a test can assert the daemon's exact errno without confusing it
 *    with a local failure.
 *
 * Not thread-safe: one struct esrc per thread.  Nothing prints, nothing
 * exits, nothing reports through errno.
 */
#ifndef ERRSEQ_TESTS_RAWCLIENT_H
#define ERRSEQ_TESTS_RAWCLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/protocol.h"

/* Transport and framing failures of the request layer (all < -4095). */
#define ESRC_ECLOSED	(-10001)	/* the daemon closed the connection */
#define ESRC_ETIMEDOUT	(-10002)	/* no reply within the timeout */
#define ESRC_EBADREPLY	(-10003)	/* reply of wrong size/magic/op/seq; a
					 * HELLO or REATTACH reply with an fd; an
					 * OPEN reply whose fds disagree with
					 * ESP_OPEN_FD, or that passes a chunk
					 * this connection already has */
#define ESRC_ELOCAL	(-10004)	/* a local syscall failed (c->sys_errno) */

#define ESRC_DEFAULT_TIMEOUT_MS	10000

/* One connection.  All fields may be read; set timeout_ms freely. */
struct esrc {
	int fd;			/* the socket, or -1 */
	uint32_t seq;		/* seq of the next request */
	int timeout_ms;		/* per send and per receive */
	int *chunk_fd;		/* chunk_fd[c]: chunk c's fd passed by an
				 * OPEN reply on this connection, or -1 */
	uint32_t chunk_cap;	/* entries of chunk_fd */
	uint32_t fds_passed;	/* chunk fds received so far */
	struct esp_hello_rep hello;	/* the last HELLO reply */
	struct esp_hdr last_hdr;	/* header of the last reply received */
	int sys_errno;		/* positive errno behind ESRC_ELOCAL/ECLOSED */
	char errmsg[ESP_ERRMSG_MAX];	/* message of the last error reply */
};

/*
 * esrc_connect - connect a SOCK_SEQPACKET | SOCK_CLOEXEC socket to @path.
 * Returns the fd (blocking mode; the send/recv helpers poll with a
 * timeout), or -errno (-ENOENT, -ECONNREFUSED, -ENAMETOOLONG, ...).
 */
int esrc_connect(const char *path);

/*
 * esrc_send - send @len bytes of @buf as one packet on @fd, waiting up to
 * @timeout_ms for room.  Never raises SIGPIPE.  Returns 0, -ETIMEDOUT if
 * the socket stayed full, or -errno (-EPIPE, -ECONNRESET when the peer has
 * closed; -EMSGSIZE if @len exceeds the socket's limit).
 */
int esrc_send(int fd, const void *buf, size_t len, int timeout_ms);

/*
 * esrc_recv - receive one packet on @fd into @buf (@cap bytes), waiting up
 * to @timeout_ms.  If @fd_out is not NULL it receives the first fd passed
 * with SCM_RIGHTS (close-on-exec), or -1 if none; every other passed fd is
 * closed.  Returns the packet length (0: the peer closed the connection),
 * -ETIMEDOUT, -EMSGSIZE if the packet did not fit in @cap (it is
 * consumed), or -errno (-ECONNRESET, ...).
 */
ssize_t esrc_recv(int fd, void *buf, size_t cap, int *fd_out, int timeout_ms);

/*
 * esrc_wait_closed - wait up to @timeout_ms for the peer to close @fd,
 * discarding whatever packets arrive meanwhile.  Returns 0 if it closed
 * (EOF or ECONNRESET), -ETIMEDOUT if it is still open, or -errno.
 */
int esrc_wait_closed(int fd, int timeout_ms);

/* esrc_hdr - fill @h as a request header: ESP_MAGIC, ESP_VERSION, @op,
 * @seq, status 0.  Cannot fail. */
void esrc_hdr(struct esp_hdr *h, uint16_t op, uint32_t seq);

/*
 * esrc_init - connect @c to @path (no HELLO yet) with the default timeout.
 * Returns 0 or -errno from esrc_connect; on failure c->fd is -1.  Call
 * esrc_fini() in either case.
 */
int esrc_init(struct esrc *c, const char *path);

/* esrc_fini - close the socket and every chunk fd kept.  Idempotent. */
void esrc_fini(struct esrc *c);

/*
 * esrc_request - the generic request: sets @req's header (op @op, the next
 * seq, magic, version, status 0), sends @req_len bytes, and receives one
 * reply into @rep (@rep_cap bytes, at least sizeof(struct esp_err_rep) is
 * advised).  *@rep_len (may be NULL) gets the reply's length; *@fd_out (may
 * be NULL) the passed fd or -1.  The reply must echo magic, op and seq;
 * an error reply (status < 0) must be exactly an esp_err_rep.
 * Returns 0 (the reply is in @rep, of any length), the daemon's negative
 * status, or an ESRC_E* code.
 */
int esrc_request(struct esrc *c, uint16_t op, void *req, size_t req_len,
		 void *rep, size_t rep_cap, size_t *rep_len, int *fd_out);

/*
 * esrc_hello_versions - HELLO offering protocol versions @min..@max.  On
 * success stores the reply in c->hello.  Protocol 2 passes no fd at HELLO.
 * Returns as esrc_request; ESRC_EBADREPLY if the reply is not exactly an
 * esp_hello_rep, or carries an fd.
 */
int esrc_hello_versions(struct esrc *c, uint32_t min, uint32_t max);

/* esrc_hello - esrc_hello_versions(c, ESP_VERSION, ESP_VERSION). */
int esrc_hello(struct esrc *c);

/* esrc_connect_hello - esrc_init then esrc_hello.  Returns 0, -errno from
 * connect, or as esrc_hello.  Call esrc_fini() in either case. */
int esrc_connect_hello(struct esrc *c, const char *path);

/*
 * The operations.  Each takes a name as (@name, @len) so that tests can
 * send names of any length and content (@len up to ESD_NAME_MAX bytes are
 * copied; larger @len is sent as the name_len field with ESD_NAME_MAX bytes
 * of @name).  Each copies its reply out on success (@out may be NULL) and
 * returns as esrc_request, with ESRC_EBADREPLY for a success reply of the
 * wrong size.
 */
int esrc_open(struct esrc *c, const char *name, size_t len, uint32_t flags,
	      struct esp_open_rep *out);
/* esrc_open_gid - OPEN with the gid field set (for ESP_OPEN_GROUP). */
int esrc_open_gid(struct esrc *c, const char *name, size_t len,
		  uint32_t flags, uint32_t gid, struct esp_open_rep *out);
int esrc_close_slot(struct esrc *c, uint32_t index, uint32_t gen);
int esrc_unlink(struct esrc *c, const char *name, size_t len);
int esrc_stat(struct esrc *c, const char *name, size_t len,
	      struct esp_slot_info *out);
int esrc_status(struct esrc *c, struct esp_status_rep *out);
int esrc_reattach(struct esrc *c, uint32_t index, uint32_t gen,
		  const char *name, size_t len, struct esp_open_rep *out);
int esrc_seen(struct esrc *c, uint32_t index, uint32_t gen, uint32_t value);
int esrc_arm(struct esrc *c, uint32_t index, uint32_t gen, uint32_t on);

/*
 * An OPEN reply with ESP_OPEN_FD carries the fd of the chunk that holds
 * the slot; esrc_open keeps it in c->chunk_fd[ESD_INDEX_CHUNK(index)]
 * (closed by esrc_fini).  esrc_chunk_fd returns the fd kept for the chunk
 * of global slot @index, or -1 if this connection was given none.
 */
int esrc_chunk_fd(const struct esrc *c, uint32_t index);

/*
 * esrc_list - one LIST page from @start, at most @max entries.  @out must
 * hold @cap bytes (ESP_MAX_MSG always suffices).  Returns 0 with the reply
 * in @out (ESRC_EBADREPLY unless its length is exactly
 * sizeof(esp_list_rep) + count * sizeof(esp_slot_info)), or as
 * esrc_request.
 */
int esrc_list(struct esrc *c, uint32_t start, uint32_t max,
	      struct esp_list_rep *out, size_t cap);

/* esrc_strerror - a name for a daemon status or an ESRC_E* code ("EINVAL",
 * "ESRC_ECLOSED", ...) for test messages.  Never NULL; static string. */
const char *esrc_strerror(int code);

#endif /* ERRSEQ_TESTS_RAWCLIENT_H */
