# tests/reliability/local.mk - the reliability suite (issue 5).
#
# Each program measures one family of figures against the real daemon and
# prints them as "FIGURE name value" lines (doc/reliability.md lists them).
#   make check            runs them at CI scale (in TESTS)
#   make stress           runs them at full scale (ESDR_SCALE=full) and
#                         collects the figures in reliability-stress.log
#   make check-valgrind   runs the daemon scenarios with errseqd under
#                         valgrind memcheck; each requires exit 0 at SIGTERM
# The fuzz targets are in fuzz/local.mk.

REL_PROGS = \
	tests/reliability/rel_concurrency \
	tests/reliability/rel_daemon_kill \
	tests/reliability/rel_client_kill \
	tests/reliability/rel_load

check_PROGRAMS += $(REL_PROGS)
TESTS += $(REL_PROGS)

noinst_LTLIBRARIES += tests/reliability/librel.la
tests_reliability_librel_la_SOURCES = tests/reliability/rel.c \
	tests/reliability/rel.h
tests_reliability_librel_la_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)

REL_LDADD = tests/reliability/librel.la tests/libharness.la \
	client/liberrseq-client.la $(CHECK_LIBS)
REL_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)


tests_reliability_rel_concurrency_SOURCES = tests/reliability/rel_concurrency.c
tests_reliability_rel_concurrency_CFLAGS = $(REL_CFLAGS)
tests_reliability_rel_concurrency_LDADD = $(REL_LDADD)

tests_reliability_rel_daemon_kill_SOURCES = tests/reliability/rel_daemon_kill.c
tests_reliability_rel_daemon_kill_CFLAGS = $(REL_CFLAGS)
tests_reliability_rel_daemon_kill_LDADD = $(REL_LDADD)

tests_reliability_rel_client_kill_SOURCES = tests/reliability/rel_client_kill.c
tests_reliability_rel_client_kill_CFLAGS = $(REL_CFLAGS)
tests_reliability_rel_client_kill_LDADD = $(REL_LDADD)

tests_reliability_rel_load_SOURCES = tests/reliability/rel_load.c
tests_reliability_rel_load_CFLAGS = $(REL_CFLAGS)
tests_reliability_rel_load_LDADD = $(REL_LDADD)
