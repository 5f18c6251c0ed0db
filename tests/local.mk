# tests/local.mk - unit test suites (Check), one per module.

# The errseq core (client/errseq.c), through the public API only.
check_PROGRAMS += tests/test_errseq
TESTS += tests/test_errseq
tests_test_errseq_SOURCES = tests/test_errseq.c
tests_test_errseq_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_test_errseq_LDADD = client/liberrseq-client.la $(CHECK_LIBS)

# The daemon's state (registry, free lists, repair, holds, quota), linked
# against libesd directly: no daemon, no socket.
check_PROGRAMS += tests/test_registry
TESTS += tests/test_registry
tests_test_registry_SOURCES = tests/test_registry.c
tests_test_registry_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(LIBEVENT_CFLAGS)
tests_test_registry_LDADD = daemon/libesd.la common/libcommon.la \
	$(LIBEVENT_LIBS) $(CHECK_LIBS)

# --persist fdstore across kill -9, with this test playing systemd's part.
TESTS += tests/fdstore.py
EXTRA_DIST += tests/fdstore.py
