/*
 * watcher.c - print each new error recorded in a named errseqd slot.
 *
 *     watcher SLOT               e.g.  watcher disk0
 *
 * Opens the slot, takes a cursor and waits.  Each error recorded after the
 * cursor was made (or recorded before and not yet consumed by anyone) is
 * reported exactly once to this cursor; other watchers have cursors of
 * their own and are told too.  Stops when the slot is deleted, or with
 * Ctrl-C.  Build: cc watcher.c $(pkg-config --cflags --libs
 * liberrseq-client).
 */
#include <stdio.h>

#include <errseq/client.h>

int main(int argc, char **argv)
{
	struct errseq_client *client;
	struct errseq_slot *slot;
	struct errseq_cursor *cursor;
	int r;

	if (argc != 2) {
		fprintf(stderr, "usage: %s SLOT\n", argv[0]);
		return 2;
	}

	r = errseq_client_open(NULL, &client);
	if (r < 0) {
		fprintf(stderr, "cannot connect to errseqd: %s\n",
			errseq_strerror(r));
		return 1;
	}
	r = errseq_slot_open(client, argv[1], 0, &slot);   /* must exist */
	if (r < 0) {
		fprintf(stderr, "cannot open slot %s: %s\n", argv[1],
			errseq_strerror(r));
		errseq_client_close(client);
		return 1;
	}
	r = errseq_cursor_new(slot, &cursor);
	if (r < 0) {
		fprintf(stderr, "cannot make a cursor: %s\n",
			errseq_strerror(r));
		errseq_client_close(client);
		return 1;
	}

	printf("watching %s\n", argv[1]);
	fflush(stdout);
	for (;;) {
		/* Sleep until something new, then consume it for this cursor:
		 * r is 0 (nothing new), -errno (a new error) or a failure. */
		r = errseq_cursor_wait(cursor, -1);
		if (r == 0)
			continue;
		if (r < 0 && r >= -ERRSEQ_MAX_ERRNO) {
			printf("%s: %s\n", argv[1], errseq_strerror(r));
			fflush(stdout);
			continue;
		}
		fprintf(stderr, "stopped watching %s: %s\n", argv[1],
			errseq_strerror(r));	/* ERRSEQ_ESTALE: deleted */
		break;
	}

	errseq_cursor_free(cursor);
	errseq_slot_close(slot);
	errseq_client_close(client);
	return 1;
}
