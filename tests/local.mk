# tests/local.mk - unit test suites (Check), one per module.

# The errseq core (client/errseq.c), through the public API only.
check_PROGRAMS += tests/test_errseq
TESTS += tests/test_errseq
tests_test_errseq_SOURCES = tests/test_errseq.c
tests_test_errseq_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_test_errseq_LDADD = client/liberrseq-client.la $(CHECK_LIBS)
