# tests/local.mk - unit test suites (Check), one per module.

# The errseq core (client/errseq.c), through the public API only.
check_PROGRAMS += tests/test_errseq
TESTS += tests/test_errseq
tests_test_errseq_SOURCES = tests/test_errseq.c
tests_test_errseq_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_test_errseq_LDADD = client/liberrseq-client.la $(CHECK_LIBS)

# Least privilege (issue 9): hostile clients of other uids against the
# real daemon (tests/harness.h).  Needs root; skips (77) otherwise.
check_PROGRAMS += tests/test_security
TESTS += tests/test_security
tests_test_security_SOURCES = tests/test_security.c
tests_test_security_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_test_security_LDADD = tests/libharness.la client/liberrseq-client.la \
	$(CHECK_LIBS) -lpthread
