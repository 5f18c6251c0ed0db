# preload/local.mk - liberrseq-preload.so (an LD_PRELOAD library that
# records the write-back errors of unmodified programs) and errseq-run,
# which runs a command with it (issue 13).

# Installed out of the linker's path: it is loaded by LD_PRELOAD only.
preloaddir = $(libdir)/errseq
preload_LTLIBRARIES = preload/liberrseq-preload.la
preload_liberrseq_preload_la_SOURCES = preload/preload.c preload/policy.c \
	preload/preload.h
preload_liberrseq_preload_la_CFLAGS = $(AM_CFLAGS) -pthread \
	-fvisibility=hidden
preload_liberrseq_preload_la_LDFLAGS = $(AM_LDFLAGS) -pthread -module \
	-avoid-version -shared -no-undefined
preload_liberrseq_preload_la_LIBADD = client/liberrseq-client.la -ldl

bin_PROGRAMS += preload/errseq-run
preload_errseq_run_SOURCES = preload/errseq-run.c preload/policy.c \
	preload/preload.h
preload_errseq_run_CPPFLAGS = $(AM_CPPFLAGS) \
	-DERRSEQ_PRELOAD_PATH='"$(preloaddir)/liberrseq-preload.so"'

man_MANS += man/errseq-run.1 man/errseq-preload.7
EXTRA_DIST += man/errseq-run.1 man/errseq-preload.7

# Tests: the programs they run (tests/preload/helper.c knows nothing of
# errseqd) and the shell scripts that run them with and without the
# library, against a real errseqd and, as root, a real failing ext4.
check_PROGRAMS += tests/preload/helper tests/preload/test_policy
TESTS += tests/preload/test_policy
tests_preload_test_policy_SOURCES = tests/preload/test_policy.c \
	preload/policy.c preload/preload.h
tests_preload_test_policy_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_preload_test_policy_LDADD = $(CHECK_LIBS)
tests_preload_helper_SOURCES = tests/preload/helper.c
tests_preload_helper_CFLAGS = $(AM_CFLAGS) -pthread
tests_preload_helper_LDADD = -lpthread

PRELOAD_TESTS = tests/preload/dd.sh tests/preload/sqlite.sh tests/preload/run.sh \
	tests/preload/supervisor.sh tests/preload/ignore.sh \
	tests/preload/calls.sh tests/preload/nodaemon.sh tests/preload/two.sh \
	tests/preload/closeall.sh tests/preload/forkexec.sh \
	tests/preload/threads.sh
TESTS += $(PRELOAD_TESTS)
EXTRA_DIST += $(PRELOAD_TESTS) tests/preload/common.sh
AM_TESTS_ENVIRONMENT += \
	ERRSEQ_RUN_BIN='$(abs_top_builddir)/preload/errseq-run'; \
	export ERRSEQ_RUN_BIN; \
	ERRSEQ_PRELOAD_LIB='$(abs_top_builddir)/preload/.libs/liberrseq-preload.so'; \
	export ERRSEQ_PRELOAD_LIB; \
	ERRSEQ_PRELOAD_HELPER='$(abs_top_builddir)/tests/preload/helper'; \
	export ERRSEQ_PRELOAD_HELPER;
if SANITIZERS
AM_TESTS_ENVIRONMENT += \
	ERRSEQ_TEST_SAN_PRELOAD=`$(CC) -print-file-name=libasan.so`; \
	export ERRSEQ_TEST_SAN_PRELOAD;
endif
