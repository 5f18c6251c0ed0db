# examples/local.mk - the example programs, built (never installed) so that
# they keep compiling against the library.
noinst_PROGRAMS += examples/producer examples/watcher examples/epoll-watcher \
	examples/libevent-watcher
examples_producer_SOURCES = examples/producer.c
examples_producer_LDADD = client/liberrseq-client.la
examples_watcher_SOURCES = examples/watcher.c
examples_watcher_LDADD = client/liberrseq-client.la
EXTRA_DIST += examples/README.md
examples_epoll_watcher_SOURCES = examples/epoll-watcher.c
examples_epoll_watcher_LDADD = client/liberrseq-client.la
examples_libevent_watcher_SOURCES = examples/libevent-watcher.c
examples_libevent_watcher_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS)
examples_libevent_watcher_LDADD = client/liberrseq-client.la $(LIBEVENT_LIBS)
# The supervisor for programs run under errseq-run (issue 13).
noinst_PROGRAMS += examples/supervisor
examples_supervisor_SOURCES = examples/supervisor.c
examples_supervisor_LDADD = client/liberrseq-client.la
