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
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <errseq/client.h>

/* A few names for the command line; any errno also works as a number. */
static const struct {
	const char *name;
	int err;
} known[] = {
	{ "EIO", EIO }, { "ENOSPC", ENOSPC }, { "EROFS", EROFS },
	{ "EDQUOT", EDQUOT }, { "ETIMEDOUT", ETIMEDOUT },
};

/* "EIO", "eio" or "5" -> 5; 0 if not understood. */
static int parse_error(const char *s)
{
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strcasecmp(s, known[i].name) == 0)
			return known[i].err;
	return abs(atoi(s));
}

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
	err = parse_error(argv[2]);
	if (err < 1 || err > ERRSEQ_MAX_ERRNO) {
		fprintf(stderr, "%s: not an error name or number 1..4095\n",
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
	else
		printf("recorded %s in %s\n", errseq_strerror(-err), argv[1]);

	errseq_slot_close(slot);
	errseq_client_close(client);
	return r < 0 ? 1 : 0;
}
