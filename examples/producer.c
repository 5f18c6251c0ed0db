/*
 * producer.c - record an error in a named errseqd slot.
 *
 *     producer SLOT ERROR        e.g.  producer disk0 EIO
 *
 * Opens the slot (creating it if needed) and records the error in it, as a
 * program would after a failed write.  Every watcher of the slot will be
 * told about it once.  Build: cc producer.c $(pkg-config --cflags --libs
 * liberrseq-client).  The daemon's socket is $ERRSEQD_SOCKET or the
 * default one.
 */
#include <errno.h>
#include <stdio.h>

#include <errseq/client.h>

int main(int argc, char **argv)
{
	struct errseq_client *client;
	struct errseq_slot *slot;
	int err, r;

	if (argc != 3) {
		fprintf(stderr, "usage: %s SLOT ERROR (e.g. %s disk0 EIO)\n",
			argv[0], argv[0]);
		return 2;
	}
	/* "EIO", "eio", "5" or "-5"; anything else (such as "5abc") is refused */
	err = errseq_errno_parse(argv[2]);
	if (err < 0) {
		fprintf(stderr, "%s: not an errno name (EIO) or number 1..4095\n",
			argv[2]);
		return 2;
	}

	r = errseq_client_open(NULL, &client);	/* NULL: the default socket */
	if (r < 0) {
		fprintf(stderr, "cannot connect to errseqd: %s\n",
			errseq_strerror(r));
		return 1;
	}

	r = errseq_slot_open(client, argv[1], ERRSEQ_CREATE, &slot);
	if (r < 0) {
		fprintf(stderr, "cannot open slot %s: %s\n", argv[1],
			errseq_strerror(r));
		errseq_client_close(client);
		return 1;
	}

	/* The data path: a CAS in shared memory, no daemon round trip. */
	r = errseq_slot_set(slot, -err);
	if (r < 0)
		fprintf(stderr, "cannot record error %d: %s\n", err,
			errseq_strerror(r));
	else if (errseq_errno_name(err))
		printf("recorded %s (%s) in %s\n", errseq_errno_name(err),
		       errseq_strerror(-err), argv[1]);
	else
		printf("recorded errno %d in %s\n", err, argv[1]);

	errseq_slot_close(slot);
	errseq_client_close(client);
	return r < 0 ? 1 : 0;
}
