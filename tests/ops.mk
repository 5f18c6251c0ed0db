# tests/ops.mk - tests of the operator tools (issue 10): errseqctl's
# listing, watch and filters, errseq-exporter, and the exporter against
# real Prometheus and Chromium (those skip, exit 77, without the package).

noinst_LTLIBRARIES += tests/libopsutil.la
tests_libopsutil_la_SOURCES = tests/opsutil.c tests/opsutil.h

OPS_TEST_LDADD = tests/libopsutil.la tests/support/libharness.la \
	client/liberrseq-client.la common/libcommon.la $(CHECK_LIBS)

check_PROGRAMS += tests/test_ops_ctl
TESTS += tests/test_ops_ctl
tests_test_ops_ctl_SOURCES = tests/test_ops_ctl.c ctl/format.c ctl/format.h
tests_test_ops_ctl_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_test_ops_ctl_LDADD = $(OPS_TEST_LDADD)

check_PROGRAMS += tests/test_exporter
TESTS += tests/test_exporter
tests_test_exporter_SOURCES = tests/test_exporter.c
tests_test_exporter_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_test_exporter_LDADD = $(OPS_TEST_LDADD)

# promtool and a real Prometheus (Debian package prometheus; skips without)
check_PROGRAMS += tests/test_prometheus
TESTS += tests/test_prometheus
tests_test_prometheus_SOURCES = tests/test_prometheus.c
tests_test_prometheus_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_test_prometheus_LDADD = $(OPS_TEST_LDADD)

# the status page in headless Chromium (Debian package chromium; skips
# without); writes tests/status-page.png in the build directory
check_PROGRAMS += tests/test_status_page
TESTS += tests/test_status_page
tests_test_status_page_SOURCES = tests/test_status_page.c
tests_test_status_page_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_test_status_page_LDADD = $(OPS_TEST_LDADD)
CLEANFILES += tests/status-page.png

# errseq-exporter.service through systemd-analyze verify (skips without)
TESTS += tests/exporter-unit-verify.sh
EXTRA_DIST += tests/exporter-unit-verify.sh
