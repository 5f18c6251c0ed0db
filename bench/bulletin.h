/*
 * bulletin.h - the "socket-only" design errseqd is compared with: a tiny
 * bulletin server holding errseq_t words, and its client calls.
 *
 * What a user without errseqd might write: one server process owns the
 * words; a producer records an error by sending one datagram (no reply);
 * a watcher asks with a request/reply round trip, passing its cursor and
 * getting back the check_and_advance result and its new cursor.  One
 * SOCK_DGRAM Unix socket carries both, so a watcher's request sent after a
 * producer's datagram is served after it.  The server uses the library's
 * core errseq functions, so both designs report exactly the same things.
 */
#ifndef ERRSEQ_BENCH_BULLETIN_H
#define ERRSEQ_BENCH_BULLETIN_H

#include <stdint.h>

#include "errseq/errseq.h"

#define BULLETIN_SLOTS 1024u

/*
 * bulletin_serve - bind a SOCK_DGRAM socket at @path and serve until a
 * quit message; write one byte to @ready_fd once bound (then close it).
 * Returns 0 after quit, or a negative errno if the socket could not be set
 * up.  Meant to run in a child process of its own.
 */
int bulletin_serve(const char *path, int ready_fd);

/* A connected client socket (autobound, so replies can reach it). */
struct bulletin_client {
	int fd;
};

/* bulletin_client_open - connect @bc to the server at @path.
 * Returns 0 or a negative errno. */
int bulletin_client_open(struct bulletin_client *bc, const char *path);

/* bulletin_client_close - close @bc's socket. */
void bulletin_client_close(struct bulletin_client *bc);

/* bulletin_set - a producer records @err in @slot: one datagram, no reply.
 * Returns 0 or a negative errno. */
int bulletin_set(struct bulletin_client *bc, uint32_t slot, int err);

/*
 * bulletin_check - a watcher's check_and_advance of @slot from *@since,
 * through a round trip.  Returns what errseq_check_and_advance returns (0
 * or the recorded negative errno) and moves *@since.  A transport failure
 * returns -(10000 + errno), below any recordable errno, and leaves *@since.
 */
int bulletin_check(struct bulletin_client *bc, uint32_t slot,
		   errseq_t *since);

/* bulletin_quit - ask the server to exit.  Returns 0 or a negative errno. */
int bulletin_quit(struct bulletin_client *bc);

#endif /* ERRSEQ_BENCH_BULLETIN_H */
