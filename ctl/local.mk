# ctl/local.mk - errseqctl, its man page and its integration test.

bin_PROGRAMS += ctl/errseqctl
ctl_errseqctl_SOURCES = \
	ctl/errseqctl.c ctl/ctl.h \
	ctl/show.c ctl/watch.c \
	ctl/format.c ctl/format.h
ctl_errseqctl_LDADD = client/liberrseq-client.la common/libcommon.la

man_MANS += man/errseqctl.1
EXTRA_DIST += man/errseqctl.1

# tests/test_ctl: runs the built errseqctl ($ERRSEQCTL_BIN) against a real
# errseqd started by tests/harness.c, and unit-tests ctl/format.c.
check_PROGRAMS += tests/test_ctl
TESTS += tests/test_ctl
tests_test_ctl_SOURCES = tests/test_ctl.c ctl/format.c ctl/format.h
tests_test_ctl_CPPFLAGS = $(AM_CPPFLAGS) \
	-DCTL_TEST_TOP_SRCDIR='"$(abs_top_srcdir)"'
tests_test_ctl_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_test_ctl_LDADD = tests/libharness.la client/liberrseq-client.la \
	common/libcommon.la $(CHECK_LIBS)
EXTRA_DIST += tests/json_check.py

# errseqctl top (ctl/top.c): ncurses, kept in a convenience library so that
# only top.c is built with ncurses' flags.  Pure helpers in ctl/topfmt.c.
noinst_LTLIBRARIES += ctl/libtop.la
ctl_libtop_la_SOURCES = ctl/top.c ctl/topfmt.c ctl/topfmt.h
ctl_libtop_la_CPPFLAGS = $(AM_CPPFLAGS) $(NCURSES_CFLAGS)
ctl_errseqctl_LDADD += ctl/libtop.la $(NCURSES_LIBS)

# tests/test_top: errseqctl top in tmux (send-keys, capture-pane) against a
# real errseqd, its plain snapshot, and ctl/topfmt.c on its own.  Skips
# (77) without tmux.
check_PROGRAMS += tests/test_top
TESTS += tests/test_top
tests_test_top_SOURCES = tests/test_top.c ctl/topfmt.c ctl/topfmt.h \
	ctl/format.c ctl/format.h
tests_test_top_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_test_top_LDADD = tests/libharness.la client/liberrseq-client.la \
	common/libcommon.la $(CHECK_LIBS)
