/*
 * common.h - small helpers shared by errseqd, liberrseq-client and errseqctl
 * (internal, never installed): default paths, slot-name validation, clocks.
 */
#ifndef ERRSEQ_COMMON_COMMON_H
#define ERRSEQ_COMMON_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/*
 * esd_default_socket - the socket path used when none is given:
 * $ERRSEQD_SOCKET if set and non-empty; else as root
 * /run/errseqd/errseqd.sock; else $XDG_RUNTIME_DIR/errseqd/errseqd.sock,
 * falling back to /tmp/errseqd-$UID/errseqd.sock.  The one place that rule
 * lives.  Returns the length written to @buf, or -ENAMETOOLONG.
 */
int esd_default_socket(char *buf, size_t len);

/* The default data segment name: "/errseqd" as root, else "/errseqd-$UID".
 * Returns the length, or -ENAMETOOLONG. */
int esd_default_shm(char *buf, size_t len);

/* Is @name (@len bytes, not necessarily NUL-terminated) a valid slot name:
 * 1..ESD_NAME_MAX bytes of [A-Za-z0-9._:/@-]?  0 if so, else -EINVAL. */
int esd_name_check(const char *name, size_t len);

/* Is @name a valid POSIX shm name for errseqd: "/" then 1..200 bytes of
 * [A-Za-z0-9._-], other than "." and ".." (room is left for
 * ESD_REG_SUFFIX)?  0 or -EINVAL. */
int esd_shm_name_check(const char *name);

struct msghdr;

/*
 * esd_take_passed_fd - the one scan of a received message's SCM_RIGHTS:
 * returns the first fd passed in @msg (or -1) and closes every other one,
 * so a peer can never leave fds behind in us.
 */
int esd_take_passed_fd(struct msghdr *msg);

struct sockaddr;

/*
 * esd_send_fd - the one sender of a packet with at most one fd: sendmsg()
 * of @len bytes at @buf to @sock (to @to, @tolen if @to is not NULL), with
 * @fd passed by SCM_RIGHTS if @fd >= 0, with @flags (MSG_NOSIGNAL is
 * added), retried on EINTR.  Returns the bytes sent, or -errno.
 */
long esd_send_fd(int sock, const void *buf, size_t len, int fd, int flags,
		 const struct sockaddr *to, unsigned tolen);

/* Clock @clk in nanoseconds. */
static inline uint64_t esd_now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#endif /* ERRSEQ_COMMON_COMMON_H */
