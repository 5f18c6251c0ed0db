/*
 * libevent-watcher.c - watch many errseqd slots from a libevent loop.
 *
 *     libevent-watcher SLOT...
 *
 * The watch's fd is one more persistent read event in the server's
 * event_base; its callback drains errseq_watch_next until 0.  Stops after
 * SIGINT.  Build: cc libevent-watcher.c $(pkg-config --cflags --libs
 * liberrseq-client libevent)
 */
#include <signal.h>
#include <stdio.h>

#include <event2/event.h>

#include <errseq/client.h>

static void on_watch(evutil_socket_t fd, short what, void *arg)
{
	struct errseq_watch *watch = arg;
	struct errseq_cursor *cursor;
	int r;

	(void)fd;
	(void)what;
	while ((r = errseq_watch_next(watch, &cursor)) != 0) {
		if (r == ERRSEQ_ESTALE) {
			printf("a slot was deleted\n");
			errseq_watch_remove(watch, cursor);
			continue;
		}
		printf("%s: %s\n", errseq_slot_name(errseq_cursor_slot(cursor)),
		       errseq_strerror(r));
	}
	fflush(stdout);
}

static void on_sigint(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	event_base_loopbreak(arg);
}

int main(int argc, char **argv)
{
	struct errseq_client *client;
	struct errseq_watch *watch;
	struct event_base *base;
	struct event *ev, *sig;
	int r;

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
	base = event_base_new();
	ev = event_new(base, errseq_watch_fd(watch), EV_READ | EV_PERSIST,
		       on_watch, watch);
	sig = evsignal_new(base, SIGINT, on_sigint, base);
	event_add(ev, NULL);
	event_add(sig, NULL);
	printf("watching %d slot%s\n", argc - 1, argc == 2 ? "" : "s");
	fflush(stdout);
	event_base_dispatch(base);
	event_free(ev);
	event_free(sig);
	event_base_free(base);
	errseq_watch_free(watch);
	errseq_client_close(client);
	return 0;
}
