# tests/daemon.mk - the integration-test harness and the daemon's tests.
noinst_LTLIBRARIES += tests/libharness.la
tests_libharness_la_SOURCES = tests/harness.c tests/harness.h

# A raw protocol client for tests (also used by the fuzz and reliability
# suites): link tests/librawclient.la.
noinst_LTLIBRARIES += tests/librawclient.la
tests_librawclient_la_SOURCES = tests/rawclient.c tests/rawclient.h

# The daemon's integration suite: starts the real errseqd ($ERRSEQD_BIN).
check_PROGRAMS += tests/test_daemon
TESTS += tests/test_daemon
tests_test_daemon_SOURCES = tests/test_daemon.c
tests_test_daemon_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_test_daemon_LDADD = tests/libharness.la tests/librawclient.la \
	common/libcommon.la $(CHECK_LIBS)
