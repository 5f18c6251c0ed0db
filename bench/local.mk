# bench/local.mk - errseqd's benchmarks (issue 6).
#
# Built by `make check` (check_PROGRAMS) but never run there: they measure,
# they do not test, and they take minutes.  `make bench` builds and runs
# them all through bench/run.sh, prints one table per program and writes
# bench/results/<program>.json and .txt in the build directory.
# BENCHMARKS.md at the top of the tree holds the figures and how to
# reproduce them.  Packages beyond the build's: redis-server (bench_alt's
# Redis row, which says SKIP without it): apt-get install -y redis-server.

BENCH_BINS = bench/bench_data bench/bench_xproc bench/bench_ctl \
	bench/bench_alt bench/bench_watch bench/bench_exporter bench/bench_preload
check_PROGRAMS += $(BENCH_BINS)

noinst_LTLIBRARIES += bench/libbench.la
bench_libbench_la_SOURCES = bench/bench.c bench/bench.h bench/rawops.h \
	bench/bulletin.c bench/bulletin.h
bench_libbench_la_LIBADD = -lm

BENCH_LDADD = bench/libbench.la client/liberrseq-client.la \
	tests/support/libharness.la common/libcommon.la -lm -lpthread

bench_bench_data_SOURCES = bench/bench_data.c
bench_bench_data_LDADD = $(BENCH_LDADD) -ldl

# The raw baselines in a shared object of their own, dlopen()ed by
# bench_data to tell the cost of crossing into a library from its work.
noinst_LTLIBRARIES += bench/rawso.la
bench_rawso_la_SOURCES = bench/rawso.c
bench_rawso_la_LDFLAGS = -module -avoid-version -shared -rpath /nowhere

bench_bench_xproc_SOURCES = bench/bench_xproc.c
bench_bench_xproc_LDADD = $(BENCH_LDADD)

bench_bench_ctl_SOURCES = bench/bench_ctl.c
bench_bench_ctl_CFLAGS = $(AM_CFLAGS) -pthread
bench_bench_ctl_LDADD = $(BENCH_LDADD)

bench_bench_watch_SOURCES = bench/bench_watch.c
bench_bench_watch_CFLAGS = $(AM_CFLAGS) -pthread
bench_bench_watch_LDADD = $(BENCH_LDADD)

# errseq-exporter's scrape at 1k, 64k and 1M slots (issue 10)
bench_bench_exporter_SOURCES = bench/bench_exporter.c
bench_bench_exporter_CFLAGS = $(AM_CFLAGS) -pthread
bench_bench_exporter_LDADD = tests/libopsutil.la $(BENCH_LDADD)

bench_bench_alt_SOURCES = bench/bench_alt.c
bench_bench_alt_LDADD = $(BENCH_LDADD)

# liberrseq-preload.so's cost on the calls it interposes (issue 13).
bench_bench_preload_SOURCES = bench/bench_preload.c
bench_bench_preload_CPPFLAGS = $(AM_CPPFLAGS) \
	-DBENCH_PRELOAD_LIB='"$(abs_top_builddir)/preload/.libs/liberrseq-preload.so"'
bench_bench_preload_LDADD = $(BENCH_LDADD) -ldl

EXTRA_DIST += bench/run.sh
CLEANFILES += bench/results/*.json bench/results/*.txt \
	bench/results/summary.md

# make bench: build the daemon, the CLI and the benchmarks, then run them.
# BENCH_FLAGS is passed to every program (e.g. BENCH_FLAGS=--quick).
bench: $(BENCH_BINS) bench/rawso.la daemon/errseqd$(EXEEXT) ctl/errseqctl$(EXEEXT) \
		exporter/errseq-exporter$(EXEEXT) preload/liberrseq-preload.la
	ERRSEQD_BIN='$(abs_top_builddir)/daemon/errseqd' \
	ERRSEQ_EXPORTER_BIN='$(abs_top_builddir)/exporter/errseq-exporter' \
	ERRSEQCTL_BIN='$(abs_top_builddir)/ctl/errseqctl' \
	BENCH_OUT='$(abs_top_builddir)/bench/results' CC='$(CC)' \
	$(SHELL) '$(srcdir)/bench/run.sh' '$(abs_top_builddir)' $(BENCH_FLAGS)
PHONY_TARGETS += bench
