/*
 * epoll-watcher.c - watch many errseqd slots from one epoll loop.
 *
 *     epoll-watcher SLOT...      e.g.  epoll-watcher disk0 disk1 net0
 *
 * One errseq_watch holds a cursor per slot and gives one fd; the loop
 * waits on it (next to whatever else a server polls: here, standard input,
 * where end-of-file stops the program).  When the fd is readable,
 * errseq_watch_next hands out each slot's news once until it returns 0.
 * Build: cc epoll-watcher.c $(pkg-config --cflags --libs liberrseq-client)
 */
#include <stdio.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <errseq/client.h>

int main(int argc, char **argv)
{
	struct errseq_client *client;
	struct errseq_watch *watch;
	struct epoll_event ev = { .events = EPOLLIN };
	int ep, r;

	if (argc < 2) {
		fprintf(stderr, "usage: %s SLOT...\n", argv[0]);
		return 2;
	}
	r = errseq_client_open(NULL, &client);
	if (r < 0) {
		fprintf(stderr, "cannot connect to errseqd: %s\n",
			errseq_strerror(r));
		return 1;
	}
	r = errseq_watch_new(client, &watch);
	for (int i = 1; r == 0 && i < argc; i++) {
		struct errseq_slot *slot;
		struct errseq_cursor *cursor;

		r = errseq_slot_open(client, argv[i], 0, &slot);
		if (r == 0)
			r = errseq_cursor_new(slot, &cursor);
		if (r == 0)
			r = errseq_watch_add(watch, cursor);
		if (r < 0)
			fprintf(stderr, "cannot watch %s: %s\n", argv[i],
				errseq_strerror(r));
	}
	if (r < 0) {
		errseq_client_close(client);
		return 1;
	}

	ep = epoll_create1(EPOLL_CLOEXEC);
	ev.data.fd = errseq_watch_fd(watch);
	epoll_ctl(ep, EPOLL_CTL_ADD, ev.data.fd, &ev);
	ev.data.fd = STDIN_FILENO;
	epoll_ctl(ep, EPOLL_CTL_ADD, STDIN_FILENO, &ev);
	printf("watching %d slot%s\n", argc - 1, argc == 2 ? "" : "s");
	fflush(stdout);

	for (;;) {
		struct epoll_event got;
		struct errseq_cursor *cursor;
		char buf[256];

		if (epoll_wait(ep, &got, 1, -1) != 1)
			continue;
		if (got.data.fd == STDIN_FILENO) {
			if (read(STDIN_FILENO, buf, sizeof(buf)) <= 0)
				break;	/* end of input: stop */
			continue;
		}
		/* Drain: each report once, until 0 re-arms the fd. */
		while ((r = errseq_watch_next(watch, &cursor)) != 0) {
			if (r == ERRSEQ_ESTALE) {
				printf("a slot was deleted\n");
				errseq_watch_remove(watch, cursor);
				continue;
			}
			printf("%s: %s\n", errseq_slot_name(
				       errseq_cursor_slot(cursor)),
			       errseq_strerror(r));
		}
		fflush(stdout);
	}
	close(ep);
	errseq_watch_free(watch);
	errseq_client_close(client);
	return 0;
}
