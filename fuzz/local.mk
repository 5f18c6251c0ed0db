# fuzz/local.mk - hostile-input tests of the daemon's decoder (issue 5).
#
# make check   builds fuzz/replay_request with the ordinary compiler and runs
#              it: every committed seed (fuzz/corpus/) and every past crash
#              (fuzz/regressions/), each plus deterministic mutations,
#              through the same target and reference model as the fuzzer.
# make fuzz    builds fuzz/fuzz_request.c with $(CLANG) -fsanitize=fuzzer,
#              address,undefined (directly, not through libtool, compiling
#              the daemon and common sources it needs, because libFuzzer
#              needs them built with its coverage instrumentation; the
#              replay links libesd like every other test) and runs a libFuzzer
#              campaign of $(FUZZ_SECONDS) seconds on a scratch copy of the
#              corpus.  A crash leaves fuzz/crash-* in the build tree and
#              fails; copy it into fuzz/regressions/ to keep it as a test.

FUZZ_SECONDS = 60
FUZZ_FLAGS = -g -O1 -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_SRCS = fuzz/fuzz_request.c daemon/request.c common/common.c

check_PROGRAMS += fuzz/replay_request
TESTS += fuzz/replay_request
fuzz_replay_request_SOURCES = fuzz/replay.c fuzz/fuzz_request.c \
	fuzz/fuzz_request.h
fuzz_replay_request_CFLAGS = $(AM_CFLAGS)
fuzz_replay_request_LDADD = daemon/libesd.la common/libcommon.la \
	$(LIBEVENT_LIBS)

EXTRA_DIST += fuzz/corpus fuzz/regressions
CLEANFILES += fuzz/fuzz_request-libfuzzer
PHONY_TARGETS += fuzz

fuzz:
	@if test -z "$(CLANG)"; then \
		echo "fuzz: clang not found at configure time (apt-get install clang libclang-rt-dev): skipped"; \
		exit 0; \
	fi; \
	$(MKDIR_P) fuzz && \
	echo "fuzz: building fuzz/fuzz_request-libfuzzer with $(CLANG)" && \
	$(CLANG) $(FUZZ_FLAGS) $(DEFS) -I$(top_builddir) -I$(top_srcdir) \
		-I$(top_srcdir)/include \
		$(addprefix $(top_srcdir)/,$(FUZZ_SRCS)) \
		-o fuzz/fuzz_request-libfuzzer || exit 1; \
	work=`mktemp -d "$${TMPDIR:-/tmp}/errseq-fuzz.XXXXXX"` || exit 1; \
	cp $(top_srcdir)/fuzz/corpus/* "$$work"/; \
	echo "fuzz: running for $(FUZZ_SECONDS) s on a copy of fuzz/corpus ($$work)"; \
	./fuzz/fuzz_request-libfuzzer -max_total_time=$(FUZZ_SECONDS) \
		-timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix=fuzz/ "$$work" \
		$(top_srcdir)/fuzz/regressions > fuzz/fuzz_request.log 2>&1; \
	rc=$$?; \
	tail -n 25 fuzz/fuzz_request.log; \
	rm -rf "$$work"; \
	if test $$rc -ne 0; then \
		echo "fuzz: FAILED (exit $$rc): see fuzz/fuzz_request.log and fuzz/crash-*;"; \
		echo "fuzz: copy the crash file into fuzz/regressions/ so make check replays it"; \
		exit 1; \
	fi; \
	echo "fuzz: no crash, no disagreement with the reference model"
CLEANFILES += fuzz/fuzz_request.log
