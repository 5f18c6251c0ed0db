# daemon/local.mk - errseqd, and libesd: everything but main(), so that
# tests and the libFuzzer harness (fuzz/) can link the daemon's modules.
# Link libesd.la together with common/libcommon.la and $(LIBEVENT_LIBS).
noinst_LTLIBRARIES += daemon/libesd.la
daemon_libesd_la_SOURCES = \
	daemon/log.c daemon/log.h \
	daemon/options.c daemon/options.h \
	daemon/sdnotify.c daemon/sdnotify.h \
	daemon/slotword.c daemon/slotword.h \
	daemon/store.c daemon/store.h \
	daemon/quota.c daemon/quota.h \
	daemon/registry.c daemon/registry.h \
	daemon/holds.c daemon/holds.h \
	daemon/request.c daemon/request.h \
	daemon/listener.c daemon/listener.h \
	daemon/server.c daemon/server.h
daemon_libesd_la_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS)

sbin_PROGRAMS += daemon/errseqd
daemon_errseqd_SOURCES = daemon/main.c
daemon_errseqd_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS)
daemon_errseqd_LDADD = daemon/libesd.la common/libcommon.la $(LIBEVENT_LIBS)
