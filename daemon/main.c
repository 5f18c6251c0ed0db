/*
 * main.c - errseqd: parse the command line, set up (listening socket,
 * store, registry, server), run the libevent loop, tear down.
 * Everything else lives in libesd (the other files of daemon/).
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/common.h"
#include "daemon/listener.h"
#include "daemon/log.h"
#include "daemon/options.h"
#include "daemon/registry.h"
#include "daemon/sdnotify.h"
#include "daemon/store.h"
#include "daemon/server.h"

/* Raise the soft fd limit to the hard one: every client is an fd. */
static void raise_nofile(uint32_t max_clients)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			esd_warn("cannot raise the fd limit to %llu: %s",
				 (unsigned long long)rl.rlim_max,
				 strerror(errno));
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
	    rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur < (rlim_t)max_clients + 16)
		esd_warn("the fd limit (%llu) is below --max-clients (%u); "
			 "clients beyond it will wait", 
			 (unsigned long long)rl.rlim_cur, max_clients);
}

/* The signals that stop the daemon cleanly.  SIGHUP too: errseqd has no
 * configuration to reload, and a hang-up of the terminal it runs in should
 * not leave the socket behind. */
static const int stop_signals[] = { SIGTERM, SIGINT, SIGHUP };

/* Signals that would kill the daemon by default but mean nothing to it:
 * ignored, so a stray kill -USR1 never leaves the socket behind. */
static const int ignored_signals[] = { SIGPIPE, SIGUSR1, SIGUSR2, SIGALRM,
				       SIGVTALRM, SIGPROF, SIGPOLL };
#define N_STOP_SIGNALS (sizeof(stop_signals) / sizeof(stop_signals[0]))

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct event_base *base = arg;

	esd_info("%s received; stopping (the state keeper keeps the slots "
		 "for the next start)", sig == SIGTERM ? "SIGTERM" :
		 sig == SIGINT ? "SIGINT" : "SIGHUP");
	esd_sd_notify("STOPPING=1");
	event_base_loopbreak(base);
}

int main(int argc, char **argv)
{
	struct esd_options o;
	struct esd_listener lis = { .fd = -1 };
	struct esd_store st = { .reg_fd = -1, .keeper_fd = -1 };
	struct esd_registry reg;
	struct esd_quota quota = { 0 };
	struct esd_rebuild_stats rs;
	struct esd_store_params sp;
	struct esd_server_config cfg;
	struct esd_server *srv = NULL;
	struct event_base *base = NULL;
	struct event *sigev[N_STOP_SIGNALS] = { NULL };
	char err[512], state[512];
	int r, status = 1;

	esd_log_init(ESD_LOG_INFO);
	r = esd_options_parse(argc, argv, &o, err, sizeof(err));
	if (r < 0) {
		esd_error("%s", err);
		return 2;
	}
	if (r == ESD_OPTIONS_HELP) {
		esd_options_usage(stdout);
		return 0;
	}
	if (r == ESD_OPTIONS_VERSION) {
		printf("errseqd %s\n", PACKAGE_VERSION);
		return 0;
	}
	esd_log_init(o.log_level);
	for (size_t i = 0; i < sizeof(ignored_signals) / sizeof(int); i++)
		signal(ignored_signals[i], SIG_IGN);
	if (o.shm_given)
		esd_info("--shm is obsolete and ignored: slots live in memfds "
			 "that no other user can name");
	raise_nofile(o.max_clients);
	cfg.max_clients = o.max_clients;
	cfg.max_open = o.max_open;
	cfg.hello_timeout_ms = o.hello_timeout_ms;
	quota.max_conns = o.max_uid_clients;
	quota.max_slots = o.max_uid_slots;
	quota.max_holds = o.max_uid_holds;
	quota.exempt_uid = (uint32_t)geteuid();
	cfg.start_ns = esd_now_ns(CLOCK_REALTIME);
	cfg.start_mono_ns = esd_now_ns(CLOCK_MONOTONIC);

	/* The loop and its signal events first: a SIGTERM during a long
	 * start (1M slots) is then queued, and handled by the clean exit. */
	base = event_base_new();
	if (!base) {
		esd_error("cannot create the event loop");
		return 1;
	}
	for (size_t i = 0; i < N_STOP_SIGNALS; i++) {
		sigev[i] = evsignal_new(base, stop_signals[i], on_signal, base);
		if (!sigev[i] || evsignal_add(sigev[i], NULL) < 0) {
			esd_error("cannot watch SIGTERM/SIGINT/SIGHUP");
			goto out_loop;
		}
	}

	/* The socket first: if another daemon answers on it, we must not
	 * touch (let alone --recreate) the segments it serves. */
	r = esd_listener_open(&lis, o.socket_path, o.mode, o.have_group,
			      o.gid, err, sizeof(err));
	if (r < 0) {
		esd_error("%s", err);
		goto out_loop;
	}

	sp = (struct esd_store_params){
		.slots = o.slots, .recreate = o.recreate,
		.persist = (enum esd_persist)o.persist,
		.socket_path = lis.path, .keep_state_s = o.keep_state_s,
	};
	r = esd_store_open(&st, &sp, err, sizeof(err));
	if (r < 0) {
		esd_error("%s", err);
		goto out_lis;
	}
	esd_info("%s state: %u chunks of %u slots, index space %u slots, "
		 "incarnation %016llx%s", st.created ? "new" : "adopted",
		 st.chunks, ESD_CHUNK_SLOTS, st.max_slots,
		 (unsigned long long)st.incarnation,
		 st.persist == ESD_PERSIST_KEEPER ? " (kept by errseqd-keeper)" :
		 st.persist == ESD_PERSIST_FDSTORE ? " (kept in systemd's fd "
		 "store)" : " (not kept across restarts)");

	r = esd_registry_init(&reg, &st, &quota, geteuid(), &rs);
	if (r < 0) {
		esd_error("cannot index %u slots: %s", st.max_slots,
			  strerror(-r));
		goto out_seg;
	}
	esd_registry_set_limits(&reg, o.slots,
				o.max_uid_slots ? o.max_uid_slots /
				ESD_CHUNK_SLOTS + 8 : 0);
	if (reg.max_live < o.slots)
		esd_warn("--slots %u: the kept state indexes at most %u; "
			 "serving %u (--recreate to grow it)", o.slots,
			 st.max_slots, reg.max_live);
	if (!st.created)
		esd_info("registry: %u live slot%s, %u free; repaired: %u "
			 "delete%s finished, %u create%s rolled back, %u "
			 "word%s restored, %u entr%s dropped", rs.live,
			 rs.live == 1 ? "" : "s", rs.free,
			 rs.finished_deletes,
			 rs.finished_deletes == 1 ? "" : "s", rs.rolled_back,
			 rs.rolled_back == 1 ? "" : "s", rs.repaired_words,
			 rs.repaired_words == 1 ? "" : "s", rs.dropped,
			 rs.dropped == 1 ? "y" : "ies");

	r = esd_server_new(base, lis.fd, &st, &reg, &quota, &cfg, &srv);
	if (r < 0) {
		esd_error("cannot start the server: %s", strerror(-r));
		goto out_reg;
	}

	snprintf(state, sizeof(state), "READY=1\nSTATUS=Serving %u of %u "
		 "slots on %s\nMAINPID=%d", reg.live, reg.max_live, lis.path,
		 (int)getpid());
	r = esd_sd_notify(state);
	if (r < 0)
		esd_warn("sd_notify: %s", strerror(-r));
	esd_info("ready: %u of %u slots in use, listening on %s%s (pid %d)",
		 reg.live, reg.max_live, lis.path,
		 lis.activated ? " (socket-activated)" : "", (int)getpid());

	if (event_base_dispatch(base) < 0)
		esd_error("the event loop failed");
	else
		status = 0;
	esd_info("stopped (%u client%s disconnected)",
		 esd_server_clients(srv),
		 esd_server_clients(srv) == 1 ? "" : "s");
	esd_server_free(srv);

out_reg:
	esd_registry_fini(&reg);
out_seg:
	esd_store_close(&st);
	esd_quota_fini(&quota);
out_lis:
	esd_listener_close(&lis);
out_loop:
	for (size_t i = 0; i < N_STOP_SIGNALS; i++)
		if (sigev[i])
			event_free(sigev[i]);
	event_base_free(base);
	libevent_global_shutdown();
	return status;
}
