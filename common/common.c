/*
 * common.c - default paths and name validation shared by the daemon, the
 * library and the CLI.  See common.h for the contracts.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/common.h"
#include "common/shm_layout.h"

static int put(char *buf, size_t len, int n)
{
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	return n;
}

int esd_default_socket(char *buf, size_t len)
{
	const char *env = secure_getenv("ERRSEQD_SOCKET");
	const char *xdg;

	if (env && *env)
		return put(buf, len, snprintf(buf, len, "%s", env));
	if (geteuid() == 0)
		return put(buf, len,
			   snprintf(buf, len, "/run/errseqd/errseqd.sock"));
	xdg = secure_getenv("XDG_RUNTIME_DIR");
	if (xdg && *xdg == '/')
		return put(buf, len, snprintf(buf, len,
					      "%s/errseqd/errseqd.sock", xdg));
	return put(buf, len, snprintf(buf, len, "/tmp/errseqd-%u/errseqd.sock",
				      (unsigned)geteuid()));
}

int esd_default_shm(char *buf, size_t len)
{
	if (geteuid() == 0)
		return put(buf, len, snprintf(buf, len, "/errseqd"));
	return put(buf, len, snprintf(buf, len, "/errseqd-%u",
				      (unsigned)geteuid()));
}

static int name_char_ok(unsigned char ch, const char *extra)
{
	if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	    (ch >= '0' && ch <= '9'))
		return 1;
	return ch != '\0' && strchr(extra, ch) != NULL;
}

int esd_name_check(const char *name, size_t len)
{
	if (!name || len < 1 || len > ESD_NAME_MAX)
		return -EINVAL;
	for (size_t i = 0; i < len; i++)
		if (!name_char_ok((unsigned char)name[i], "._:/@-"))
			return -EINVAL;
	return 0;
}

int esd_shm_name_check(const char *name)
{
	size_t len;

	if (!name || name[0] != '/')
		return -EINVAL;
	len = strlen(name + 1);
	if (len < 1 || len > 200)
		return -EINVAL;
	/* "/." and "/.." pass the character test but name no file */
	if (!strcmp(name, "/.") || !strcmp(name, "/.."))
		return -EINVAL;
	for (size_t i = 1; name[i]; i++)
		if (!name_char_ok((unsigned char)name[i], "._-"))
			return -EINVAL;
	return 0;
}

long esd_send_fd(int sock, const void *buf, size_t len, int fd, int flags,
		 const struct sockaddr *to, unsigned tolen)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr msg = {
		.msg_name = (void *)to, .msg_namelen = to ? tolen : 0,
		.msg_iov = &iov, .msg_iovlen = 1,
	};
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
		n = sendmsg(sock, &msg, flags | MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : (long)n;
}

int esd_take_passed_fd(struct msghdr *msg)
{
	int got = -1;

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
			if (got < 0)
				got = fd;
			else
				close(fd);
		}
	}
	return got;
}
