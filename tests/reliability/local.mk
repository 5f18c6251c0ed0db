# tests/reliability/local.mk - the reliability suite (issue 5).
#
# Each program measures one family of figures against the real daemon and
# prints them as "FIGURE name value" lines; doc/reliability.md records them.
#   make check            runs them at CI scale (they are in TESTS)
#   make stress           runs them at full scale (ESDR_SCALE=full) and
#                         collects the figures in reliability-stress.log
#   make check-valgrind   runs the daemon scenarios with errseqd under
#                         valgrind memcheck ($ERRSEQD_WRAPPER); each one
#                         requires the daemon to exit 0 at SIGTERM, which
#                         valgrind turns into 99 on any error or leak
# The decoder fuzzing (make fuzz, fuzz/replay_request) is in fuzz/local.mk.

REL_PROGS = \
	tests/reliability/rel_concurrency \
	tests/reliability/rel_daemon_kill \
	tests/reliability/rel_client_kill \
	tests/reliability/rel_load \
	tests/reliability/rel_sockfuzz \
	tests/reliability/rel_segment \
	tests/reliability/rel_security

check_PROGRAMS += $(REL_PROGS)
TESTS += $(REL_PROGS)
dist_doc_DATA += doc/reliability.md

noinst_LTLIBRARIES += tests/reliability/librel.la
tests_reliability_librel_la_SOURCES = tests/reliability/rel.c \
	tests/reliability/rel.h
tests_reliability_librel_la_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)

REL_LDADD = tests/reliability/librel.la tests/support/libharness.la \
	client/liberrseq-client.la $(CHECK_LIBS)
REL_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)

tests_reliability_rel_concurrency_SOURCES = \
	tests/reliability/rel_concurrency.c
tests_reliability_rel_concurrency_CFLAGS = $(REL_CFLAGS)
tests_reliability_rel_concurrency_LDADD = $(REL_LDADD)

tests_reliability_rel_daemon_kill_SOURCES = \
	tests/reliability/rel_daemon_kill.c
tests_reliability_rel_daemon_kill_CFLAGS = $(REL_CFLAGS)
tests_reliability_rel_daemon_kill_LDADD = $(REL_LDADD)

tests_reliability_rel_client_kill_SOURCES = \
	tests/reliability/rel_client_kill.c
tests_reliability_rel_client_kill_CFLAGS = $(REL_CFLAGS)
tests_reliability_rel_client_kill_LDADD = $(REL_LDADD)

tests_reliability_rel_load_SOURCES = tests/reliability/rel_load.c
tests_reliability_rel_load_CFLAGS = $(REL_CFLAGS)
tests_reliability_rel_load_LDADD = $(REL_LDADD)

tests_reliability_rel_sockfuzz_SOURCES = tests/reliability/rel_sockfuzz.c
tests_reliability_rel_sockfuzz_CFLAGS = $(REL_CFLAGS)
tests_reliability_rel_sockfuzz_LDADD = tests/support/librawclient.la \
	$(REL_LDADD)

tests_reliability_rel_segment_SOURCES = tests/reliability/rel_segment.c
tests_reliability_rel_segment_CFLAGS = $(REL_CFLAGS)
tests_reliability_rel_segment_LDADD = $(REL_LDADD)

tests_reliability_rel_security_SOURCES = tests/reliability/rel_security.c
tests_reliability_rel_security_CFLAGS = $(REL_CFLAGS)
tests_reliability_rel_security_LDADD = $(REL_LDADD)

# ---- make stress: the same programs at full scale ----
PHONY_TARGETS += stress check-valgrind
CLEANFILES += reliability-stress.log tests/reliability/*.valgrind.log

stress: $(REL_PROGS) fuzz/replay_request daemon/errseqd
	@$(AM_TESTS_ENVIRONMENT) ESDR_SCALE=full; export ESDR_SCALE; \
	log=reliability-stress.log; fail=0; \
	echo "stress: `date -u +%Y-%m-%dT%H:%M:%SZ`, `nproc` cpus" > $$log; \
	for t in $(REL_PROGS); do \
		echo "== $$t (ESDR_SCALE=full)" | tee -a $$log; \
		start=`date +%s`; \
		./$$t >> $$log 2>&1; rc=$$?; \
		echo "== $$t: exit $$rc, `expr \`date +%s\` - $$start` s" \
			| tee -a $$log; \
		if test $$rc -ne 0 && test $$rc -ne 77; then fail=1; fi; \
	done; \
	echo "== fuzz/replay_request (ESDR_MUTATIONS=20000)" | tee -a $$log; \
	ESDR_MUTATIONS=20000 ./fuzz/replay_request >> $$log 2>&1 || fail=1; \
	grep -E '^(FIGURE|replay:|[0-9]+%: Checks)' $$log; \
	if test $$fail -ne 0; then echo "stress: FAILED, see $$log"; exit 1; fi; \
	echo "stress: all passed; figures in $$log"

# ---- make check-valgrind: the daemon under memcheck ----
REL_VALGRIND = $(VALGRIND) --leak-check=full \
	--show-leak-kinds=definite,indirect \
	--errors-for-leak-kinds=definite,indirect --error-exitcode=99
REL_VALGRIND_PROGS = \
	tests/reliability/rel_segment \
	tests/reliability/rel_client_kill \
	tests/reliability/rel_sockfuzz \
	tests/reliability/rel_concurrency \
	tests/reliability/rel_daemon_kill \
	tests/reliability/rel_security \
	tests/reliability/rel_load

check-valgrind: $(REL_VALGRIND_PROGS) daemon/errseqd
	@if test -z "$(VALGRIND)"; then \
		echo "check-valgrind: valgrind not found at configure time (apt-get install valgrind): skipped"; \
		exit 0; \
	fi; \
	$(AM_TESTS_ENVIRONMENT) \
	ERRSEQD_WRAPPER="$(REL_VALGRIND)"; export ERRSEQD_WRAPPER; \
	fail=0; pass=0; skip=0; \
	for t in $(REL_VALGRIND_PROGS); do \
		log=$$t.valgrind.log; \
		./$$t > $$log 2>&1; rc=$$?; \
		if test $$rc -eq 0; then pass=`expr $$pass + 1`; r=PASS; \
		elif test $$rc -eq 77; then skip=`expr $$skip + 1`; r=SKIP; \
		else fail=`expr $$fail + 1`; r=FAIL; fi; \
		echo "$$r: $$t (errseqd under valgrind; log $$log)"; \
		if test $$r = FAIL; then cat $$log; fi; \
	done; \
	echo "check-valgrind: $$pass passed, $$fail failed, $$skip skipped"; \
	test $$fail -eq 0
