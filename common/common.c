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
