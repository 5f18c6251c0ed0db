/*
 * server.h - errseqd's protocol server: a libevent loop over the listening
 * socket and one SOCK_SEQPACKET connection per client.  It turns requests
 * (decoded by request.c) into registry operations and replies; the
 * behaviour per op is described at the top of server.c.
 */
#ifndef ERRSEQD_SERVER_H
#define ERRSEQD_SERVER_H

#include <stdint.h>

#include <event2/event.h>

#include "daemon/quota.h"
#include "daemon/registry.h"
#include "daemon/store.h"

struct esd_server_config {
	uint32_t max_clients;	/* connections at once; more get -EUSERS */
	uint32_t max_open;	/* holds per connection; more get -EMFILE */
	uint32_t hello_timeout_ms;	/* connections must HELLO by then */
	uint64_t start_ns;	/* CLOCK_REALTIME the daemon started */
	uint64_t start_mono_ns;	/* CLOCK_MONOTONIC the daemon started */
};

struct esd_server;

/*
 * esd_server_new - serve @listen_fd (listening, non-blocking) on @base,
 * with the store @st, its rebuilt registry @reg and the per-uid usage and
 * limits @quota (all must outlive the server).  Returns 0 and sets *@out, or -ENOMEM.  The server
 * does not own @listen_fd.
 */
int esd_server_new(struct event_base *base, int listen_fd,
		   struct esd_store *st, struct esd_registry *reg,
		   struct esd_quota *quota,
		   const struct esd_server_config *cfg,
		   struct esd_server **out);

/*
 * esd_server_free - stop accepting, close every connection (dropping its
 * holds) and free the server.  NULL is a no-op.
 */
void esd_server_free(struct esd_server *s);

/* The number of open connections. */
uint32_t esd_server_clients(const struct esd_server *s);

#endif /* ERRSEQD_SERVER_H */
