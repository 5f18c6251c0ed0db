/*
 * sdnotify.c - sd_notify(3) without libsystemd (see sdnotify.h).
 *
 * The protocol is one AF_UNIX datagram of newline-separated VAR=value
 * assignments to the socket named by $NOTIFY_SOCKET.  A name starting with
 * '@' is in the abstract namespace: the '@' becomes a NUL byte and the
 * address length counts only the bytes used.  Sends never block: a service
 * manager (or test harness) that does not read its socket must not stall
 * the event loop; a message that would block is dropped (-EAGAIN).
 */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/common.h"
#include "daemon/sdnotify.h"

int esd_sd_notify(const char *state)
{
	return esd_sd_notify_fd(state, -1);
}

int esd_sd_notify_fd(const char *state, int pass_fd)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	socklen_t alen;
	size_t plen;
	long n;
	int fd;

	if (!path || !*path)
		return 0;
	plen = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || plen >= sizeof(sun.sun_path))
		return -EINVAL;
	memcpy(sun.sun_path, path, plen);
	if (path[0] == '@')
		sun.sun_path[0] = '\0';
	alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen +
			   (path[0] == '/' ? 1 : 0));

	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	n = esd_send_fd(fd, state, strlen(state), pass_fd, MSG_DONTWAIT,
			(const struct sockaddr *)&sun, alen);
	close(fd);
	return n < 0 ? (int)n : 1;
}
